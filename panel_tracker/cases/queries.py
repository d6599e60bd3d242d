"""Reading cases and items: always scoped to the panel, to what the user may see, and to
what is not deleted. Pages, exports and the API filter items with the same function."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import sqlalchemy as sa
from sqlmodel import select

from flask import abort

from ..auth.access import clearance, current_panel, panel_id
from ..classification import visible_levels, where_visible
from ..db import get_session
from ..evidence.models import Photo
from .models import Case, Category, Inspection, Item, Legibility, Marking

ITEM_FILTERS = ("category", "country", "recovered_from", "recovered_to", "legibility", "has_photos",
                "classification", "case", "q")


def visible(model, clearance_level=None):
    """What the user may see of ``model`` in the current panel: not deleted, within their
    clearance, and inside a parent (case, item) they may see too — an item in a hidden
    case is hidden, a marking is as visible as its item."""
    level = clearance_level or clearance()
    stmt = select(model).where(model.panel_id == panel_id(), model.deleted_at.is_(None))
    if hasattr(model, "classification"):
        stmt = stmt.where(where_visible(model.classification, level))
    return stmt.where(*parent_conditions(model, level))


def parent_conditions(model, level) -> list:
    def live_cases():
        return select(Case.id).where(Case.deleted_at.is_(None), where_visible(Case.classification, level))

    def live_items():
        return select(Item.id).where(Item.deleted_at.is_(None), where_visible(Item.classification, level),
                                     Item.case_id.in_(live_cases()))

    if model in (Item, Inspection):
        return [model.case_id.in_(live_cases())]
    if model is Marking:
        return [Marking.item_id.in_(live_items())]
    if model is Photo:
        return [Photo.purged_at.is_(None),
                sa.or_(Photo.case_id.is_(None), Photo.case_id.in_(live_cases())),
                sa.or_(Photo.item_id.is_(None), Photo.item_id.in_(live_items()))]
    return []


def load_or_404(model, object_id: int):
    """One object by id, by the same rules as the lists: another panel's, a deleted one, or
    one (or whose case or item) above the user's clearance is a 404."""
    obj = get_session().exec(visible(model).where(model.id == object_id)).first()
    if obj is None:
        abort(404)
    return obj


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filter_items(stmt, args: Mapping[str, str]):
    """Apply the item-list filters given as query-string values; unknown values match nothing."""
    if args.get("category"):
        stmt = stmt.where(Item.category == (args["category"] if args["category"] in {c.value for c in Category} else None))
    if args.get("country"):
        code = args["country"].strip().upper()
        stmt = stmt.where(sa.or_(Item.country_marked == code, Item.country_attributed == code))
    if _date(args.get("recovered_from")):
        stmt = stmt.where(Item.recovered_date >= _date(args["recovered_from"]))
    if _date(args.get("recovered_to")):
        stmt = stmt.where(Item.recovered_date <= _date(args["recovered_to"]))
    if args.get("legibility"):
        value = args["legibility"]
        if value == "none":
            stmt = stmt.where(Item.serial_legibility.is_(None))
        else:
            stmt = stmt.where(Item.serial_legibility == (value if value in {l.value for l in Legibility} else None))
    if args.get("has_photos") in ("yes", "no", "true", "false", "1", "0"):
        has = sa.exists().where(Photo.item_id == Item.id, Photo.deleted_at.is_(None),
                                Photo.classification.in_(visible_levels(clearance())))
        stmt = stmt.where(has if args["has_photos"] in ("yes", "true", "1") else ~has)
    if args.get("classification"):
        stmt = stmt.where(Item.classification == args["classification"])
    if args.get("case"):
        stmt = stmt.where(Item.case_id.in_(select(Case.id).where(Case.ref == args["case"].strip().upper(),
                                                                 Case.panel_id == Item.panel_id)
                                           .correlate_except(Case)))
    if args.get("q") and args["q"].strip():  # marking search (search/query.py), within the reader's clearance
        from ..search.query import item_ids

        ids = item_ids(current_panel(), args["q"], clearance=clearance())
        stmt = stmt.where(Item.id.in_(sa.bindparam("search_ids", ids, expanding=True, literal_execute=True)))
    return stmt


def items_for_case(case: Case) -> list[Item]:
    return list(get_session().exec(visible(Item).where(Item.case_id == case.id).order_by(Item.item_ref)).all())


def markings_by_item(item_ids: list[int]) -> dict[int, list[Marking]]:
    result: dict[int, list[Marking]] = {i: [] for i in item_ids}
    if not item_ids:
        return result
    rows = get_session().exec(select(Marking).where(Marking.item_id.in_(item_ids), Marking.deleted_at.is_(None))
                              .order_by(Marking.item_id, Marking.id)).all()
    for marking in rows:
        result[marking.item_id].append(marking)
    return result


def photos_by_item(case_id: int) -> dict[int | None, list[Photo]]:
    rows = get_session().exec(visible(Photo).where(Photo.case_id == case_id).order_by(Photo.taken_at, Photo.id)).all()
    result: dict[int | None, list[Photo]] = {}
    for photo in rows:
        result.setdefault(photo.item_id, []).append(photo)
    return result


def inspections_for_case(case: Case) -> list[Inspection]:
    return list(get_session().exec(visible(Inspection).where(Inspection.case_id == case.id)
                                   .order_by(Inspection.inspected_on)).all())


def count(stmt) -> int:
    return get_session().exec(select(sa.func.count()).select_from(stmt.order_by(None).subquery())).one()


def dashboard_figures() -> dict:
    return {
        "cases": count(visible(Case)),
        "items": count(visible(Item)),
        "photos": count(visible(Photo)),
    }
