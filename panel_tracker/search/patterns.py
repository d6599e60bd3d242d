"""The pattern finder: groups of items spanning two or more cases that share a lot, an
import mark, the same serial (same model and factory: a second sighting or a
duplicate), or near-consecutive serials of one model and factory (evidence of one
diverted shipment). Headstamp-only groups are ranked last: millions of cartridges share
a headstamp.

Computed from the database (not the index), over the items the caller may see.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, select

from ..cases.models import Case, Item, Legibility, Marking, MarkingKind
from ..classification import Classification, most_restrictive, visible_levels
from . import analysis

KINDS = ("same_serial", "near_consecutive_serials", "shared_lot", "shared_import_mark", "shared_headstamp")


@dataclass
class Row:
    item_id: int
    item_ref: str
    case_id: int
    case_ref: str
    model: str = ""
    factory_code: str = ""
    serials: list[str] = field(default_factory=list)
    lots: list[str] = field(default_factory=list)
    import_marks: list[str] = field(default_factory=list)
    headstamps: list[str] = field(default_factory=list)


@dataclass
class Group:
    kind: str
    key: str
    rows: list[Row]

    @property
    def item_refs(self) -> list[str]:
        return sorted({r.item_ref for r in self.rows})

    @property
    def case_refs(self) -> list[str]:
        return sorted({r.case_ref for r in self.rows})

    @property
    def item_ids(self) -> list[int]:
        return [r.item_id for r in sorted(self.rows, key=lambda r: r.item_ref)]

    def public(self) -> dict:
        """The group as the CLI and the API give it (a contract)."""
        return {"kind": self.kind, "key": self.key, "item_refs": self.item_refs}


def panel_rows(db: Session, panel_id: int, clearance: Classification = Classification.PANEL) -> list[Row]:
    """The items of a panel a reader of ``clearance`` may see, with the readings the
    finder compares (item columns and markings recorded on the item page)."""
    levels = set(visible_levels(clearance))
    cases = {c.id: c for c in db.exec(select(Case).where(Case.panel_id == panel_id, Case.deleted_at.is_(None)))}
    rows: dict[int, Row] = {}
    for item in db.exec(select(Item).where(Item.panel_id == panel_id, Item.deleted_at.is_(None))):
        case = cases.get(item.case_id)
        if case is None or most_restrictive(case.classification, item.classification).value not in levels:
            continue
        row = Row(item.id, item.item_ref, case.id, case.ref, item.model, item.factory_code)
        if item.serial and item.serial_legibility not in (Legibility.OBLITERATED,):
            row.serials.append(item.serial)
        for name, target in (("lot", row.lots), ("import_mark", row.import_marks), ("headstamp", row.headstamps)):
            if getattr(item, name):
                target.append(getattr(item, name))
        rows[item.id] = row
    kinds = {MarkingKind.SERIAL: "serials", MarkingKind.LOT: "lots", MarkingKind.IMPORT_MARK: "import_marks",
             MarkingKind.HEADSTAMP: "headstamps"}
    for marking in db.exec(select(Marking).where(Marking.panel_id == panel_id, Marking.deleted_at.is_(None),
                                                 Marking.kind.in_(list(kinds)))):
        row = rows.get(marking.item_id)
        if row is not None and marking.legibility != Legibility.OBLITERATED:
            target = getattr(row, kinds[marking.kind])
            if marking.text not in target:
                target.append(marking.text)
    return list(rows.values())


def _identity(row: Row) -> tuple[str, str]:
    return analysis.fold(row.model), analysis.fold(row.factory_code)


def find_patterns(rows: list[Row], *, gap: int = 10, min_cases: int = 2) -> list[Group]:
    groups: list[Group] = []

    def keep(kind: str, key: str, members: list[Row]) -> None:
        unique = list({r.item_id: r for r in members}.values())
        if len(unique) >= 2 and len({r.case_id for r in unique}) >= min_cases:
            groups.append(Group(kind, key, unique))

    by_lot, by_mark, by_headstamp = defaultdict(list), defaultdict(list), defaultdict(list)
    by_serial, runs = defaultdict(list), defaultdict(list)
    for row in rows:
        for lot in row.lots:
            if analysis.lot_key(lot):
                by_lot[analysis.lot_key(lot)].append(row)
        for mark in row.import_marks:
            if analysis.fold(mark):
                by_mark[analysis.fold(mark)].append(row)
        for headstamp in row.headstamps:
            if analysis.fold(headstamp):
                by_headstamp[analysis.fold(headstamp)].append(row)
        model, factory = _identity(row)
        if not (model or factory):
            continue
        for serial in row.serials:
            run = analysis.serial_run(serial)
            if run is None:
                continue
            prefix, number, width = run
            by_serial[(model, factory, f"{prefix}{number:0{width}d}")].append(row)
            runs[(model, factory, prefix)].append((number, row))

    for (model, factory, serial), members in by_serial.items():
        keep("same_serial", "/".join(p for p in (model, factory, serial) if p), members)
    for (model, factory, prefix), numbered in runs.items():
        numbered.sort(key=lambda pair: (pair[0], pair[1].item_ref))
        chain = [numbered[0]]
        for pair in numbered[1:] + [None]:
            if pair is not None and pair[0] - chain[-1][0] <= gap:
                chain.append(pair)
                continue
            if chain[0][0] != chain[-1][0]:
                key = "/".join(p for p in (model, factory) if p) + f"/{prefix}{chain[0][0]}-{prefix}{chain[-1][0]}"
                keep("near_consecutive_serials", key, [r for _n, r in chain])
            if pair is not None:
                chain = [pair]
    for key, members in by_lot.items():
        keep("shared_lot", key, members)
    for key, members in by_mark.items():
        keep("shared_import_mark", key, members)
    for key, members in by_headstamp.items():
        keep("shared_headstamp", key, members)
    rank = {kind: i for i, kind in enumerate(KINDS)}
    groups.sort(key=lambda g: (rank[g.kind], -len(g.case_refs), -len(g.rows), g.key))
    return groups
