"""What the cases domain tells the after-commit change feed (``panel_tracker.changes``): the
children whose visibility follows a case's or an item's."""
from __future__ import annotations

from sqlmodel import select

from ..changes import by_parent
from .models import Inspection, Item, Marking


def children_of_cases(db, case_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Inspections and items of each case, and the markings of those items."""
    found = by_parent("inspection", db.exec(select(Inspection.case_id, Inspection.id)
                                            .where(Inspection.case_id.in_(case_ids))).all())
    for kind, pairs in (
        ("item", db.exec(select(Item.case_id, Item.id).where(Item.case_id.in_(case_ids))).all()),
        ("marking", db.exec(select(Item.case_id, Marking.id).join(Item, Item.id == Marking.item_id)
                            .where(Item.case_id.in_(case_ids))).all()),
    ):
        for case_id, children in by_parent(kind, pairs).items():
            found.setdefault(case_id, []).extend(children)
    return found


def children_of_items(db, item_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """The markings of each item."""
    return by_parent("marking", db.exec(select(Marking.item_id, Marking.id).where(Marking.item_id.in_(item_ids))).all())
