"""Saved searches: create, open (marks new items as seen), delete; each change audited."""
from __future__ import annotations

from sqlmodel import Session, select

from .. import audit
from ..cases.models import Item
from ..classification import Classification
from ..db import utcnow
from ..validation import Invalid
from .models import SavedSearch

FILTER_NAMES = ("case", "category", "country", "recovered_from", "recovered_to", "legibility")


def save_search(db: Session, panel, user, name: str, query: str, filters: dict, *, notify: bool) -> SavedSearch:
    name, query = (name or "").strip(), (query or "").strip()
    filters = {k: str(v) for k, v in (filters or {}).items() if k in FILTER_NAMES and v}
    if not name:
        raise Invalid({"name": "Give the search a name."})
    if not query and not filters:
        raise Invalid({"name": "There is nothing to save: type a search or choose a filter first."})
    saved = SavedSearch(panel_id=panel.id, user_id=user.id, name=name[:120], query=query[:500], filters=filters,
                        notify=notify)
    db.add(saved)
    db.flush()
    audit.record(db, "saved_search.create", actor=user, obj=saved, label=saved.name,
                 after={"query": saved.query, "filters": filters, "notify": notify},
                 classification=Classification.PANEL)
    return saved


def mark_seen(db: Session, saved: SavedSearch) -> None:
    saved.seen_at = utcnow()
    db.add(saved)
    db.flush()


def delete_saved_search(db: Session, saved: SavedSearch, user) -> None:
    audit.record(db, "saved_search.delete", actor=user, obj=saved, label=saved.name,
                 before={"query": saved.query}, classification=Classification.PANEL)
    db.delete(saved)
    db.flush()


def saved_searches(db: Session, panel_id: int, user_id: int) -> list[SavedSearch]:
    return list(db.exec(select(SavedSearch).where(SavedSearch.panel_id == panel_id, SavedSearch.user_id == user_id)
                        .order_by(SavedSearch.name)))


def new_matches(db: Session, saved: SavedSearch, item_ids: list[int]) -> int:
    """How many of these items were created since the user last opened the search."""
    import sqlalchemy as sa

    if not item_ids:
        return 0
    return db.exec(select(sa.func.count()).select_from(Item).where(
        Item.id.in_(item_ids), Item.created_at > saved.seen_at)).one()
