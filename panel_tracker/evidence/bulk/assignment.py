"""Assigning an import's photos to items: from a mapping CSV (``file,item_ref``), or by
splitting the time-ordered sequence at the label-card photos. Every change to a photo
goes through the audited services.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import IO

from sqlmodel import Session, select

from ... import audit, visibility
from ...auth.models import Membership
from ...cases.models import Case, Item
from ...classification import clearance_for
from ...validation import Invalid
from .. import services
from ..bulk_models import BulkImport
from ..models import Photo
from .clocks import names_by_photo, photos_of
from .staging import basename, display_name, human_size

MAPPING_MAX_BYTES = 5 * 1024 * 1024


# ------------------------------------------------------------------ mapping CSV


def parse_mapping(stream: IO[bytes]) -> list[dict]:
    """Rows of a ``file,item_ref`` CSV as ``[{"line", "file", "item_ref"}]``.

    A missing header or an unreadable file is an error for the form field; a bad row is
    reported by line number once the import has run (the other rows still apply).
    """
    data = stream.read(MAPPING_MAX_BYTES + 1)
    if len(data) > MAPPING_MAX_BYTES:
        raise Invalid({"mapping": f"The mapping CSV is larger than {human_size(MAPPING_MAX_BYTES)}; "
                                  f"it needs only two columns, file and item_ref."})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid({"mapping": "The mapping CSV is not UTF-8 text. Save it as “CSV UTF-8” and choose it again."}) \
            from None
    first_line = text.lstrip().split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    columns = [c.strip().casefold() for c in header or []]
    if "file" not in columns or "item_ref" not in columns:
        found = ", ".join(c for c in (header or []) if c.strip()) or "nothing"
        raise Invalid({"mapping": f"The first row must be the header file,item_ref (found: {found})."})
    file_col, ref_col = columns.index("file"), columns.index("item_ref")
    rows = []
    for values in reader:
        if any(v.strip() for v in values):
            rows.append({"line": reader.line_num, "file": _cell(values, file_col), "item_ref": _cell(values, ref_col)})
    if not rows:
        raise Invalid({"mapping": "The mapping CSV has a header but no rows."})
    return rows


def _cell(values: list[str], index: int) -> str:
    return values[index].strip() if index < len(values) else ""


# ------------------------------------------------------------------ assignment


def items_of_case(db: Session, case: Case, actor) -> list[Item]:
    """The items of the case the actor may see (by the visibility module), by reference.

    A background job has no request: the reader is built from the actor's membership, and
    one no longer in force sees nothing."""
    membership = db.exec(select(Membership).where(Membership.user_id == getattr(actor, "id", None),
                                                  Membership.panel_id == case.panel_id)).first()
    if membership is None or not membership.in_force(date.today()):
        return []
    reader = visibility.Reader(case.panel_id, clearance_for(membership.role), membership.user_id)
    return list(db.exec(visibility.visible(Item, reader).where(Item.case_id == case.id)
                        .order_by(Item.item_ref)).all())


def _filable(photo: Photo | None, case: Case) -> str | None:
    """Why a photo of the import may not be assigned to an item of this case, or None."""
    if photo is None or photo.deleted_at is not None:
        return "the photo has been deleted since"
    if photo.case_id not in (None, case.id):
        return "the panel already held this file under another case; it was not moved"
    return None


def _assign(db: Session, bulk: BulkImport, photo: Photo, item: Item, case: Case, actor, *, name: str,
            how: str, line: int | None = None, label_card: bool | None = None) -> bool:
    values = {"item_id": item.id, "case_id": case.id}
    if label_card is not None:
        values["is_label_card"] = label_card
    changed = photo.item_id != item.id
    services.update_photo(db, photo, values, actor)
    if changed:
        record = {"file": name, "photo_id": photo.id, "item_ref": item.item_ref, "how": how}
        if line is not None:
            record["line"] = line
        bulk.assignments = [*bulk.assignments, record]
    return changed


def apply_mapping(db: Session, bulk: BulkImport, case: Case, actor, results: list[dict]) -> None:
    """Assign the photos the mapping CSV names; a bad row is reported by its line number."""
    if not bulk.mapping:
        return
    by_name: dict[str, list[dict]] = {}
    by_base: dict[str, list[dict]] = {}
    for entry in results:
        by_name.setdefault(entry["name"].casefold(), []).append(entry)
        by_base.setdefault(basename(entry["name"]).casefold(), []).append(entry)
    items = {i.item_ref.casefold(): i for i in items_of_case(db, case, actor)}
    photos = photos_of(db, bulk)
    mapped: dict[int, int] = {}  # photo id -> line that mapped it
    skipped = list(bulk.skipped)

    def skip(row, reason):
        skipped.append({"file": row["file"] or "(empty)", "line": row["line"],
                        "reason": f"mapping line {row['line']}: {reason}"})

    for row in bulk.mapping:
        wanted = display_name(row["file"]).casefold()
        if not row["file"] or not row["item_ref"]:
            skip(row, "give both the file and the item_ref")
            continue
        matches = by_name.get(wanted) or by_base.get(basename(wanted), [])
        if not matches:
            skip(row, "no file of that name in this import")
            continue
        if len({e["name"] for e in matches}) > 1:
            skip(row, f"{len(matches)} files have that name; give the path inside the ZIP")
            continue
        entry = matches[0]
        if not entry.get("photo_id"):
            skip(row, "the file was not imported (see the reason given for it)")
            continue
        item = items.get(row["item_ref"].casefold())
        if item is None:
            skip(row, f"no item {row['item_ref']} in case {case.ref}")
            continue
        photo_id = entry["photo_id"]
        if photo_id in mapped:
            skip(row, f"the photo was already assigned by line {mapped[photo_id]}")
            continue
        problem = _filable(photos.get(photo_id), case)
        if problem:
            skip(row, problem)
            continue
        mapped[photo_id] = row["line"]
        _assign(db, bulk, photos[photo_id], item, case, actor, name=entry["name"], how="mapping",
                line=row["line"])
    bulk.skipped = skipped
    db.add(bulk)
    db.flush()


@dataclass
class SplitResult:
    groups: int
    assigned: int
    not_moved: list[str]


def assign_by_label_cards(db: Session, bulk: BulkImport, case: Case, actor, *, label_cards: list[int],
                          item_for: dict[int, int | None], item_before: int | None = None) -> SplitResult:
    """Split the sequence at the label-card photos and assign each group to its item.

    ``label_cards`` are photo ids of the sequence; ``item_for[label card id]`` is the item
    of the group the card starts (the card included); ``item_before`` the item of the
    photos before the first card. A group without an item is left as it is. Photos no
    longer ticked as label cards lose the flag.
    """
    sequence = list(bulk.sequence or [])
    unknown = set(label_cards) - set(sequence)
    if unknown:
        raise Invalid({"label_cards": "Some photos ticked as label cards are not in this import."})
    items = {i.id: i for i in items_of_case(db, case, actor)}
    wanted = [i for i in [item_before, *item_for.values()] if i is not None]
    if any(i not in items for i in wanted):
        raise Invalid({"items": f"Choose items of case {case.ref}."})
    photos, names = photos_of(db, bulk), names_by_photo(bulk)
    cards = set(label_cards)
    current = items.get(item_before) if item_before is not None else None
    groups = assigned = 0
    not_moved = []
    for photo_id in sequence:
        is_card = photo_id in cards
        if is_card:
            groups += 1
            current = items.get(item_for.get(photo_id)) if item_for.get(photo_id) is not None else None
        photo = photos.get(photo_id)
        problem = _filable(photo, case)
        if problem:
            if current is not None or is_card:
                not_moved.append(f"{names[photo_id][0]}: {problem}")
            continue
        if current is None:
            if photo.is_label_card != is_card:
                services.update_photo(db, photo, {"is_label_card": is_card}, actor)
            continue
        assigned += _assign(db, bulk, photo, current, case, actor, name=names[photo_id][0], how="label cards",
                            label_card=is_card)
    db.add(bulk)
    audit.record(db, "bulk_import.split", actor=actor, obj=bulk, label=f"bulk import {bulk.id}",
                 after={"label_cards": sorted(cards), "groups": groups, "assigned": assigned},
                 classification=case.classification)
    db.flush()
    return SplitResult(groups, assigned, not_moved)

