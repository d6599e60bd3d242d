"""Reading cases and items for the request: the panel and clearance in force, and the rule
of :mod:`panel_tracker.visibility` (which pages, the API, exports and imports share)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import sqlalchemy as sa
from flask import abort, g
from flask_login import current_user
from sqlmodel import select

from .. import registry, visibility
from ..auth.access import clearance, panel_id
from ..classification import Classification
from ..db import get_session
from ..inputs import known
from .models import Case, Category, Inspection, Item, Legibility, Marking

#: The item list's filters, by their query-string names. ``has_photos`` and ``q`` are applied
#: by the domains that register them (evidence, search: ``registry.add_list_filter``).
ITEM_FILTERS = ("category", "country", "recovered_from", "recovered_to", "legibility", "has_photos",
                "classification", "case", "q")


def reader() -> visibility.Reader:
    """The reader of this request: its panel (404 without one), clearance and user."""
    user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    return visibility.Reader(panel_id(), clearance(), getattr(user, "id", None))


def visible(model):
    """What the reader of this request may see of ``model`` (see :mod:`panel_tracker.visibility`)."""
    return visibility.visible(model, reader())


def load_or_404(model, object_id: int):
    """One object by id, by the same rules as the lists: another panel's, a deleted one, or
    one (or whose case or item) above the reader's clearance is a 404."""
    obj = visibility.load(get_session(), model, object_id, reader())
    if obj is None:
        abort(404)
    return obj


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filter_items(stmt, args: Mapping[str, str], who: visibility.Reader | None = None):
    """Apply the item-list filters given as query-string values; unknown values match nothing.
    Filters other domains register (``has_photos``, ``q``) see ``who`` (default: this request's reader)."""
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
    if args.get("classification"):
        stmt = stmt.where(Item.classification == known(Classification, args["classification"]))
    if args.get("case"):
        stmt = stmt.where(Item.case_id.in_(select(Case.id).where(Case.ref == args["case"].strip().upper(),
                                                                 Case.panel_id == Item.panel_id)
                                           .correlate_except(Case)))
    return filter_by_others(stmt, "items", args, who)


def filter_by_others(stmt, listing: str, args: Mapping[str, str], who: visibility.Reader | None = None):
    """Apply the filters other domains add to ``listing`` (``registry.add_list_filter``):
    evidence's ``has_photos``, search's ``q`` (the marking search), for ``who``."""
    for name, apply in registry.list_filters(listing).items():
        if args.get(name):
            stmt = apply(stmt, args[name], who or reader())
    return stmt


def items_for_case(case: Case) -> list[Item]:
    return list(get_session().exec(visible(Item).where(Item.case_id == case.id).order_by(Item.item_ref)).all())


def markings_by_item(item_ids: list[int]) -> dict[int, list[Marking]]:
    result: dict[int, list[Marking]] = {i: [] for i in item_ids}
    if not item_ids:
        return result
    rows = get_session().exec(visible(Marking).where(Marking.item_id.in_(item_ids))
                              .order_by(Marking.item_id, Marking.id)).all()
    for marking in rows:
        result[marking.item_id].append(marking)
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
    }
