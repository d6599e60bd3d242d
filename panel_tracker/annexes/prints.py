"""Print derivatives made ahead of a build, from the after-commit change feed.

After WeasyPrint's layout, the costliest part of building an annex is making each photo's
print derivative: a decode, a resize and an encode, about 15 ms a photo, so half a minute of
CPU for an annex of 500 item sheets with two photos each. What a derivative is depends only
on the photo, the size it prints at and the marking boxes drawn on it, and all three are
known long before anyone builds: when a photo is put on an item, a marking is linked to (and
boxed on) a photo, or a block is added to an annex. Those commits make them, so a build
finds its photos ready and only lays out.

- A photo or marking change makes the **item sheets** of the items it touches, as each of the
  three editions would print them (sizes follow how many photos the sheet shows; boxes
  follow what the edition may see: the same file where they agree).
- A block added to or changed in an annex makes **that block's** photos, per edition.

It is a cache, never a dependency: a build makes whatever is missing (a photo uploaded
before this existed, or a job that did not run), and ``panel-tracker annex prepare-prints``
fills it for a whole panel. Nothing is made for a photo that is deleted or purged, and a
purge that lands while a derivative is being made removes it again (:func:`_drop_purged`).

Where it runs: in a web request the work is a background job (:mod:`panel_tracker.jobs`:
RQ when configured, else a thread), so an upload does not wait for it; elsewhere (a bulk
import already running as a job, a CLI command, the demo) it runs after the commit, in
place, so a command that exits leaves no half-made file. ``ANNEX_PRINTS_AHEAD = False``
turns it off (the test suite does, but for the tests of this module).
"""
from __future__ import annotations

import logging

from flask import current_app, has_request_context
from sqlmodel import Session, select

from .. import jobs
from ..auth.models import Panel
from ..cases.models import Item, Marking, MarkingPhoto
from ..db import get_engine, get_session
from ..evidence.models import Photo
from ..evidence.services import photo_store
from . import builds, compose, images, pdf
from .models import Annex, Block, Edition

log = logging.getLogger(__name__)

JOB = "panel_tracker.annexes.prints.make_prints"
PHOTO_ACTIONS = frozenset({"photo.create", "photo.update", "marking.link_photo", "marking.unlink_photo"})
BLOCK_ACTIONS = frozenset({"block.create", "block.update"})
ACTIONS = PHOTO_ACTIONS | BLOCK_ACTIONS
PHOTO_BLOCKS = ("item_sheet", "photo_figure")
#: Items whose sheets one job makes at most; a bulk change is split into several jobs.
ITEMS_PER_JOB = 200


def prepare_ahead(changes) -> None:
    """Subscriber to :data:`ACTIONS`: make the print derivatives the changes call for."""
    if not current_app.config.get("ANNEX_PRINTS_AHEAD", True):
        return
    wanted: dict[int, dict[str, set[int]]] = {}
    for change in changes:
        if change.panel_id is None or change.id is None:
            continue
        per_panel = wanted.setdefault(change.panel_id, {"photo": set(), "marking": set(), "block": set()})
        if change.action in BLOCK_ACTIONS:
            per_panel["block"].add(change.id)
        elif change.kind in ("photo", "marking"):
            per_panel[change.kind].add(change.id)
    with Session(get_engine()) as db:
        for panel_id, ids in wanted.items():
            item_ids = sorted(_items_touched(db, panel_id, ids["photo"], ids["marking"]))
            if not item_ids and not ids["block"]:
                continue
            for batch, blocks in batches(item_ids, sorted(ids["block"])):
                try:
                    jobs.enqueue(JOB, panel_id, batch, blocks, sync=not has_request_context())
                except Exception:  # a cache: a build makes what is missing, the commit stands
                    log.exception("print derivatives of panel %s were not made ahead", panel_id)


def batches(item_ids: list[int], block_ids: list[int]) -> list[tuple[list[int], list[int]]]:
    """The arguments of the jobs (:func:`make_prints`) for these items and blocks:
    :data:`ITEMS_PER_JOB` items a job, the blocks with the first."""
    chunks = [item_ids[n:n + ITEMS_PER_JOB] for n in range(0, len(item_ids), ITEMS_PER_JOB)] or [[]]
    return [(chunk, block_ids if n == 0 else []) for n, chunk in enumerate(chunks)]


def _items_touched(db: Session, panel_id: int, photo_ids: set[int], marking_ids: set[int]) -> set[int]:
    """The items whose sheets show these photos (their own, or through a marking) or these markings' items."""
    found: set[int] = set()
    if photo_ids:
        found |= {i for i in db.exec(select(Photo.item_id).where(
            Photo.panel_id == panel_id, Photo.id.in_(photo_ids), Photo.item_id.is_not(None))).all()}
        found |= set(db.exec(select(Marking.item_id).join(MarkingPhoto, MarkingPhoto.marking_id == Marking.id)
                             .where(Marking.panel_id == panel_id, MarkingPhoto.photo_id.in_(photo_ids))).all())
    if marking_ids:
        found |= set(db.exec(select(Marking.item_id).where(Marking.panel_id == panel_id,
                                                           Marking.id.in_(marking_ids))).all())
        # A marking boxed on a photo of another item changes that item's sheet too.
        found |= {i for i in db.exec(select(Photo.item_id).join(MarkingPhoto, MarkingPhoto.photo_id == Photo.id).where(
            MarkingPhoto.panel_id == panel_id, MarkingPhoto.marking_id.in_(marking_ids))).all() if i is not None}
    return found


def make_prints(panel_id: int, item_ids: list[int], block_ids: list[int]) -> int:
    """The job: make the print derivatives of these items' sheets and these blocks' photos, as
    each edition prints them; return how many files were made (those already there are not)."""
    db = get_session()
    panel = db.get(Panel, panel_id)
    if panel is None:
        return 0
    items = list(db.exec(select(Item.id).where(Item.panel_id == panel_id, Item.id.in_(item_ids or [0]),
                                               Item.deleted_at.is_(None)).order_by(Item.id)).all())
    # Blocks that show photos; a block of a submitted report cannot change, so none is here.
    rows = db.exec(select(Block, Annex).join(Annex, Annex.id == Block.annex_id).where(
        Block.panel_id == panel_id, Block.id.in_(block_ids or [0]), Block.kind.in_(PHOTO_BLOCKS))).all()
    parts = [(1, builds.unsaved_annex(panel_id, ""), builds.sheet_blocks(panel_id, items))] if items else []
    parts += [(annex.position, annex, [block]) for block, annex in rows]
    if not parts:
        return 0
    store = photo_store()
    made, shas = 0, set()
    for edition in Edition:
        document = compose.document(db, panel, None, parts, edition, compose.edition_reader(panel_id, edition))
        wanted = list(pdf.iter_images(document))
        missing = {path for image in wanted if not (path := images.image_path(store, panel.code, image)).exists()}
        pdf.prepare_images(document, store, panel.code)
        made += sum(1 for path in missing if path.exists())
        shas |= {image["sha256"] for image in wanted}
    _drop_purged(db, panel, store, shas)
    return made


def _drop_purged(db: Session, panel: Panel, store, shas: set[str]) -> None:
    """A photo purged while its derivatives were being made loses them again: the purge's own
    clean-up may have run before they were written."""
    if not shas:
        return
    db.expire_all()
    for sha in builds.purged_among(db, panel.id, shas):
        store.purge_original(panel.code, sha)
