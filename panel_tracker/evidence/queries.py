"""What the evidence domain shows on the cases domain's pages and adds to its item list,
registered from :func:`panel_tracker.evidence.init_app` (see :mod:`panel_tracker.registry`):
cases never imports evidence. Read for the reader of the request, by the rule of
:mod:`panel_tracker.visibility`."""
from __future__ import annotations

import sqlalchemy as sa

from .. import visibility
from ..cases.models import Case, Item, Marking, MarkingPhoto
from ..cases.queries import count, visible
from ..db import get_session
from .models import Photo


def photos_by_item(case_id: int) -> dict[int | None, list[Photo]]:
    """A case's photos the reader may see, by item (``None``: not yet assigned to an item)."""
    rows = get_session().exec(visible(Photo).where(Photo.case_id == case_id).order_by(Photo.taken_at, Photo.id)).all()
    result: dict[int | None, list[Photo]] = {}
    for photo in rows:
        result.setdefault(photo.item_id, []).append(photo)
    return result


def case_page(case: Case, **_) -> dict:
    """The case page: each item's photos (its thumbnail) and the photos not yet assigned."""
    return {"photos": photos_by_item(case.id)}


def item_page(item: Item, markings: list[Marking], **_) -> dict:
    """The item page: its photos, and the photos shown with each marking."""
    db = get_session()
    photos = list(db.exec(visible(Photo).where(Photo.item_id == item.id).order_by(Photo.id)).all())
    links: dict[int, list[MarkingPhoto]] = {}
    if markings:
        for link in db.exec(visible(MarkingPhoto).where(
                MarkingPhoto.marking_id.in_([m.id for m in markings])).order_by(MarkingPhoto.id)).all():
            links.setdefault(link.marking_id, []).append(link)
    # A marking may be shown on a photo of another item (the same crate, a close-up): seen
    # here when the reader may see that photo, as in the API and the ZIP export.
    linked_ids = {link.photo_id for ls in links.values() for link in ls}
    photo_by_id = {p.id: p for p in photos} | {p.id: p for p in db.exec(visible(Photo).where(
        Photo.id.in_(linked_ids - {p.id for p in photos}))).all()}
    return {"photos": photos, "photo_by_id": photo_by_id, "links": links}


def filter_has_photos(stmt, value: str, reader: visibility.Reader):
    """The item list's ``has_photos`` filter (yes/no): counts only photos ``reader`` may see."""
    if value not in ("yes", "no", "true", "false", "1", "0"):
        return stmt
    has = sa.exists().where(Photo.item_id == Item.id, Photo.id.in_(visibility.visible_ids(Photo, reader)))
    return stmt.where(has if value in ("yes", "true", "1") else ~has)


def dashboard_figures() -> dict:
    return {"photos": count(visible(Photo))}
