"""What the cases domain tells the after-commit change feed (``panel_tracker.changes``): the
children whose visibility follows a case's or an item's."""
from __future__ import annotations

from sqlmodel import select

from .models import Inspection, Item, Marking


def children_of_cases(db, case_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Inspections and items of each case, and the markings of those items."""
    found: dict[int, list[tuple[str, int]]] = {}
    for case_id, inspection_id in db.exec(select(Inspection.case_id, Inspection.id)
                                          .where(Inspection.case_id.in_(case_ids))).all():
        found.setdefault(case_id, []).append(("inspection", inspection_id))
    for case_id, item_id in db.exec(select(Item.case_id, Item.id).where(Item.case_id.in_(case_ids))).all():
        found.setdefault(case_id, []).append(("item", item_id))
    for case_id, marking_id in db.exec(select(Item.case_id, Marking.id).join(Item, Item.id == Marking.item_id)
                                       .where(Item.case_id.in_(case_ids))).all():
        found.setdefault(case_id, []).append(("marking", marking_id))
    return found


def children_of_items(db, item_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """The markings of each item."""
    found: dict[int, list[tuple[str, int]]] = {}
    for item_id, marking_id in db.exec(select(Marking.item_id, Marking.id).where(Marking.item_id.in_(item_ids))).all():
        found.setdefault(item_id, []).append(("marking", marking_id))
    return found
