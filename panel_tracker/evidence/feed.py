"""What the evidence domain does with the after-commit change feed (``panel_tracker.changes``)."""
from __future__ import annotations

from sqlmodel import Session, select

from ..auth.models import Panel
from ..changes import by_parent
from ..db import get_engine
from .models import Photo
from .services import photo_store


def destroy_purged_bytes(changes) -> None:
    """Subscriber to ``photo.purge``: once the purge has committed, overwrite and remove the
    original and delete its derivatives. Reads the committed rows, so only a purge that
    really happened destroys anything."""
    with Session(get_engine()) as db:
        rows = db.exec(select(Photo.sha256, Panel.code).join(Panel, Panel.id == Photo.panel_id)
                       .where(Photo.id.in_([c.id for c in changes]), Photo.purged_at.is_not(None))).all()
    store = photo_store()
    for sha, code in rows:
        store.purge_original(code, sha)


def photos_of_cases(db, case_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """A photo is as visible as its case: the photos under each case."""
    return by_parent("photo", db.exec(select(Photo.case_id, Photo.id).where(Photo.case_id.in_(case_ids))).all())


def photos_of_items(db, item_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """A photo is as visible as its item: the photos of each item."""
    return by_parent("photo", db.exec(select(Photo.item_id, Photo.id).where(Photo.item_id.in_(item_ids))).all())
