"""The index writer: :func:`apply_changes` takes the changes committed to the database
(each with ``kind``, ``object_id``, ``action``, ``panel_id``) and reindexes what they
touch, re-reading it from the database after the commit.

A change to a case reindexes the case's items here (whether or not the change names
them); one to a marking or a photo reindexes its item (and, for a photo, the items whose
documents still hold its caption); a bulk import re-syncs the whole panel.
"""
from __future__ import annotations

import logging
from collections import defaultdict

from flask import Flask, current_app
from sqlmodel import Session, select

from .. import changes
from ..auth.models import Panel
from ..cases.models import Item, Marking
from ..evidence.models import Photo
from . import documents, index

log = logging.getLogger("panel_tracker.search")

SEARCHED_KINDS = {"item", "case", "case_file", "marking", "photo"}


def apply_changes(changes, app: Flask | None = None) -> None:
    """Reindex what ``changes`` touch. Safe to call from several workers at once: each
    panel's writer lock is taken in turn; a change that cannot wait is queued for the
    writer holding the lock."""
    app = app or current_app._get_current_object()
    by_panel: dict[int, list[dict]] = defaultdict(list)
    for change in changes:
        change = _as_dict(change)
        if change["panel_id"] is not None and _relevant(change):
            by_panel[change["panel_id"]].append(change)
    if not by_panel:
        return
    with Session(index._engine(app)) as db:
        panels = {p.id: p for p in db.exec(select(Panel).where(Panel.id.in_(list(by_panel))))}
    for panel_id, panel_changes in by_panel.items():
        panel = panels.get(panel_id)
        if panel is None:
            continue
        index.enqueue(panel.code, panel_changes, app)
        try:
            with index.panel_lock(panel.code, timeout=index.LOCK_WAIT_SECONDS, app=app):
                _apply_queue(panel, app)
        except index.IndexBusy:
            log.info("search index of panel %s busy: %d changes queued for its writer",
                     panel.code, len(panel_changes))


def _as_dict(change) -> dict:
    if isinstance(change, dict):
        return change
    return {name: getattr(change, name, None) for name in ("kind", "object_id", "action", "panel_id")}


def _relevant(change: dict) -> bool:
    action = change.get("action") or ""
    return change.get("kind") in SEARCHED_KINDS or action.endswith(".import")


def _apply_queue(panel: Panel, app) -> None:
    """With the panel's lock held: apply every queued change (ours and others')."""
    while True:
        queued = index.drain(panel.code, app)
        if not queued:
            return
        if any((c.get("action") or "").endswith(".import") for c in queued):
            sync_panel(panel, app=app)
            continue
        with Session(index._engine(app)) as db:
            item_ids, case_ids = _touched(db, panel, queued)
            docs, removed = _documents(db, panel, item_ids, case_ids)
        index.write_documents(panel, docs, removed, app=app)


def _touched(db: Session, panel: Panel, changes: list[dict]) -> tuple[set[int], set[int]]:
    item_ids: set[int] = set()
    case_ids: set[int] = set()
    photo_ids: set[int] = set()
    for change in changes:
        kind, object_id = change["kind"], change["object_id"]
        if object_id is None:
            continue
        if kind == "item":
            item_ids.add(object_id)
        elif kind in ("case", "case_file"):
            case_ids.add(object_id)
        elif kind == "marking":
            marking = db.get(Marking, object_id)
            if marking is not None:
                item_ids.add(marking.item_id)
        elif kind == "photo":
            photo_ids.add(object_id)
    if case_ids:
        item_ids.update(db.exec(select(Item.id).where(Item.case_id.in_(case_ids))))
    if photo_ids:
        item_ids.update(i for i in db.exec(select(Photo.item_id).where(Photo.id.in_(photo_ids))) if i)
        cached = index.searcher_for(panel)
        reader = cached.searcher.reader()
        for photo_id in photo_ids:
            if ("photo", str(photo_id)) in reader:
                for docnum in reader.postings("photo", str(photo_id)).all_ids():
                    item_ids.add(cached.column("item_no")[docnum])
    return item_ids, case_ids


def _documents(db: Session, panel: Panel, item_ids: set[int], case_ids: set[int]):
    items = documents.item_rows(db, panel.id, item_ids) if item_ids else []
    found = {item.id for item in items}
    needed_cases = {item.case_id for item in items} | case_ids
    cases = documents.case_rows(db, panel.id, needed_cases) if needed_cases else {}
    docs = list(documents.documents_for_items(db, items, cases))
    docs += [documents.case_document(cases[i]) for i in case_ids if i in cases]
    removed = [f"item:{i}" for i in item_ids - found] + [f"case:{i}" for i in case_ids - set(cases)]
    return docs, removed


def sync_panel(panel: Panel, *, app=None) -> int:
    """Bring the panel's index up to date with the database by writing only the documents
    that are missing or stale (after a bulk import); returns how many were written."""
    app = app or current_app._get_current_object()
    if index.index_state(panel.code, app) != "ok":
        return index.rebuild(panel, app=app)
    cached = index.searcher_for(panel, app)
    indexed = index.signatures(cached.searcher)
    docs, seen = [], set()
    with Session(index._engine(app)) as db:
        for doc in documents.panel_documents(db, panel.id):
            seen.add(doc["id"])
            if indexed.get(doc["id"]) != doc["data"]["sig"]:
                docs.append(doc)
    removed = sorted(set(indexed) - seen)
    if len(docs) > 20000:
        return index.rebuild(panel, app=app)
    if docs or removed:
        index.write_documents(panel, docs, removed, app=app)
    return len(docs)


# ------------------------------------------------------------------ the change feed's subscriber


def subscribe(app: Flask) -> None:
    """Reindex after every commit: the change feed (panel_tracker.changes) hands over what
    the transaction recorded, once it has committed; a rollback hands over nothing."""

    def reindex(committed: list[changes.Change]) -> None:
        if app.config.get("SEARCH_INDEX_ON_COMMIT", True):
            with app.app_context():
                apply_changes(_from_feed(committed), app=app)

    changes.subscribe(app, reindex)


def _from_feed(committed: list[changes.Change]) -> list[dict]:
    """The feed's changes as apply_changes reads them (the kind is the action's noun: the
    audit log names a case's table ``case_file``). A panel's bulk import re-syncs the whole
    panel, so its thousands of item records are not queued one by one."""
    found = [{"kind": c.action.split(".", 1)[0], "object_id": c.id, "action": c.action, "panel_id": c.panel_id}
             for c in committed]
    imported = {c["panel_id"] for c in found if c["action"].endswith(".import")}
    return [c for c in found if c["panel_id"] not in imported or c["action"].endswith(".import")]
