"""All-or-nothing import of items from a spreadsheet (CSV or XLSX, the documented format).

Pass 1 validates every row (``import_format.validate_file``) and writes nothing if any
rule is broken. Pass 2 re-reads the file and writes in batches inside one transaction,
so memory stays bounded for 100,000 rows and a failure part-way rolls everything back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from .. import audit
from ..classification import Classification
from ..db import bulk_insert, utcnow
from ..search.analysis import confusable_key, fold
from . import import_format
from .models import Case, Item, max_lengths
from .services import ITEM_FIELDS, update_item

BATCH = 2000


@dataclass
class ImportReport:
    errors: list = field(default_factory=list)
    error_count: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # rows of existing items whose values were the item's already
    cases: set = field(default_factory=set)
    new_cases: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def summary(self) -> str:
        return f"imported {self.created + self.updated + self.unchanged} items in {len(self.cases)} cases"

    @property
    def counts(self) -> str:
        return (f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged; "
                f"{self.new_cases} new cases")


_CALIBRE_TIMES = re.compile(r"(?<=\d)\s*[xX×]\s*(?=\d)")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")


def normalise_calibre(text: str) -> str:
    """``7.62 × 39 mm`` → ``7.62x39mm``, ``7,62X54R`` → ``7.62x54R``: separators and spacing
    only. Letter case is kept, as it carries meaning (the R of a rimmed cartridge)."""
    value = _DECIMAL_COMMA.sub(".", _CALIBRE_TIMES.sub("x", text.strip()))
    return re.sub(r"\s+", "", value)


def case_title(ref: str, row: import_format.ItemRow | None) -> str:
    """A new case's title from its first row: what and where (``assault rifle (AK-pattern),
    Arabian Sea``). A confidential row gives nothing (the reference again): the case may be
    opened to the public with a later public item, and its title with it."""
    if row is None or row.source_confidential:
        return ref
    title = ", ".join(part for part in (row.type, row.recovered_place) if part)
    limit = max_lengths(Case)["title"]
    return title if len(title) <= limit else title[:limit - 1] + "…"


def row_values(row: import_format.ItemRow) -> dict:
    level = Classification.PANEL if row.source_confidential else Classification.PUBLIC
    return {
        "item_ref": row.item_ref, "category": row.category, "type": row.type,
        "make_marked": row.make_marked, "make_attributed": row.make_attributed, "model": row.model,
        "calibre_marked": row.calibre, "calibre": normalise_calibre(row.calibre),
        "country_marked": row.country_marked or None, "country_attributed": row.country_attributed or None,
        "year_marked": row.year_marked, "serial": row.serial, "serial_legibility": row.serial_legibility or None,
        "lot": row.lot, "factory_code": row.factory_code, "headstamp": row.headstamp,
        "import_mark": row.import_mark, "other_marks": row.other_marks, "quantity": row.quantity,
        "condition": row.condition or None, "recovered_on": row.recovered_on,
        "recovered_date": row.recovered_date, "recovered_place": row.recovered_place,
        "lat": row.lat, "lon": row.lon, "notes": row.notes,
        "classification": level, "source_classification": level,
    }


def existing_items(db: Session, panel_id: int) -> dict[str, int]:
    """The panel's item ids by item_ref."""
    return dict(db.exec(select(Item.item_ref, Item.id).where(Item.panel_id == panel_id)).all())


def validate_import(db: Session, panel, source, *, update: bool = False, fmt=None, mapping=None,
                    existing: dict[str, int] | None = None, max_bytes: int | None = None):
    """``max_bytes`` is the IMPORT_MAX_BYTES setting: the web and the CLI pass it."""
    existing = existing_items(db, panel.id) if existing is None else existing
    return import_format.validate_file(source, panel_code=panel.code, fmt=fmt, mapping=mapping,
                                       existing_refs=existing.keys(), update=update, max_bytes=max_bytes)


def import_items(db: Session, panel, source, *, actor, update: bool = False, fmt=None, mapping=None,
                 progress=None, max_bytes: int | None = None) -> ImportReport:
    """Validate, then write every row; the caller commits (or rolls back) once."""
    report = ImportReport()
    existing = existing_items(db, panel.id)
    result = validate_import(db, panel, source, update=update, fmt=fmt, mapping=mapping, existing=existing,
                             max_bytes=max_bytes)
    if not result.ok:
        report.errors, report.error_count = result.errors, result.error_count
        return report
    writer = _Writer(db, panel, actor)
    cases = dict(db.exec(select(Case.ref, Case.id).where(Case.panel_id == panel.id)).all())
    for row in result.rows():
        if row.case_ref not in cases:
            cases[row.case_ref] = writer.add_case(row.case_ref, row)
            report.new_cases += 1
        report.cases.add(row.case_ref)
        values = row_values(row)
        if row.item_ref in existing:
            writer.flush()  # keep the audit chain in the order things happened
            item = db.get(Item, existing[row.item_ref])
            # The fields only: a spreadsheet never changes what may be published (that is
            # an explicit, audited act on the item), whatever its source_confidential says.
            if update_item(db, item, {k: v for k, v in values.items() if k in ITEM_FIELDS}, actor):
                report.updated += 1
            else:
                report.unchanged += 1
            continue
        writer.add_item({**values, "panel_id": panel.id, "case_id": cases[row.case_ref],
                         "serial_folded": fold(row.serial), "serial_key": confusable_key(row.serial),
                         "created_by_id": getattr(actor, "id", None), "created_at": utcnow()})
        if len(writer.items) >= BATCH:
            report.created += writer.flush()
            if progress:
                progress(report.created + report.updated)
    report.created += writer.flush()
    _open_new_cases(db, panel, writer.new_case_ids, actor)
    audit.record(db, "items.import", actor=actor, panel_id=panel.id, object_type="panel", object_id=panel.id,
                 label=f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged",
                 after={"created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                        "cases": len(report.cases),
                        "new_cases": report.new_cases, "update_mode": update})
    db.flush()
    return report


_ITEM_DEFAULTS = {"deleted_reason": "", "attribution_basis": "", "suspected_imitation": False,
                  "state_ownership_mark": False, "attribution_confidence": None, "year_calendar": None,
                  "year_gregorian": None, "inspection_id": None, "sighting_of_id": None, "updated_at": None,
                  "deleted_at": None, "deleted_by_id": None}
def _open_new_cases(db: Session, panel, case_ids: list[int], actor) -> None:
    """A case the import created is as open as the least restricted of its items: a public
    item must not vanish from a viewer's lists because the case it came with is new (the
    case record holds nothing but its reference). Each change is an audited classification."""
    if not case_ids:
        return
    table = Item.__table__
    levels: dict[int, set] = {}
    for start in range(0, len(case_ids), 5000):
        for case_id, level in db.connection().execute(
                sa.select(table.c.case_id, table.c.classification).distinct()
                .where(table.c.case_id.in_(case_ids[start:start + 5000]))).all():
            levels.setdefault(case_id, set()).add(Classification(level))
    entries = []
    for case_id, found in levels.items():
        level = min(found, key=lambda c: c.rank)
        if level == Classification.PANEL:
            continue
        db.connection().execute(sa.update(Case.__table__).where(Case.__table__.c.id == case_id)
                                .values(classification=level))
        entries.append({"action": "case.classify", "panel_id": panel.id, "object_type": "case_file",
                        "object_id": case_id, "label": f"case {case_id}", "classification": level,
                        "before": {"classification": Classification.PANEL},
                        "after": {"classification": level, "via": "import: the least restricted of its items"}})
    audit.record_many(db, entries, actor=actor)


class _Writer:
    """Collects new cases and items and writes them in batches, with their audit records
    chained in the order the rows came."""

    def __init__(self, db: Session, panel, actor):
        self.db, self.panel, self.actor = db, panel, actor
        self.items: list[dict] = []
        self.audit: list[dict] = []
        self.new_case_ids: list[int] = []

    def add_case(self, ref: str, row: import_format.ItemRow | None = None) -> int:
        case = Case(panel_id=self.panel.id, ref=ref, title=case_title(ref, row),
                    created_by_id=getattr(self.actor, "id", None))
        values = case.model_dump(exclude={"id"})
        case_id = self.db.connection().execute(
            sa.insert(Case.__table__).values(**values).returning(Case.__table__.c.id)).scalar_one()
        self.audit.append({"action": "case.create", "panel_id": self.panel.id, "object_type": "case_file",
                           "object_id": case_id, "label": ref,
                           "after": {"ref": ref, "title": case.title, "via": "import"},
                           "classification": case.classification})
        self.new_case_ids.append(case_id)
        return case_id

    def add_item(self, values: dict) -> None:
        self.items.append({**_ITEM_DEFAULTS, **values})
        self.audit.append(None)  # the item's record, filled in once its id is known

    def flush(self) -> int:
        rows, self.items = self.items, []
        connection = self.db.connection()
        table = Item.__table__
        if rows and connection.dialect.name == "postgresql":
            # Take the ids from the sequence first: looking them up after the insert is
            # quadratic on PostgreSQL, whose planner has no statistics for rows written in
            # this same transaction and scans the whole table for each batch.
            allocated = connection.execute(sa.text(
                "SELECT nextval(pg_get_serial_sequence('item', 'id')) FROM generate_series(1, :n)"),
                {"n": len(rows)}).scalars().all()
            for row, item_id in zip(rows, allocated):
                row["id"] = item_id
        bulk_insert(connection, table, rows)
        ids = {row["item_ref"]: row["id"] for row in rows if "id" in row}
        missing = [row["item_ref"] for row in rows if "id" not in row]
        for start in range(0, len(missing), 5000):
            ids.update(connection.execute(sa.select(table.c.item_ref, table.c.id).where(
                table.c.panel_id == self.panel.id, table.c.item_ref.in_(missing[start:start + 5000]))).all())
        created = iter(rows)
        entries = []
        for entry in self.audit:
            if entry is None:
                row = next(created)
                level = row["source_classification"].value
                entry = {"action": "item.create", "panel_id": self.panel.id, "object_type": "item",
                         "object_id": ids[row["item_ref"]], "label": row["item_ref"],
                         "after": {**{name: row.get(name) for name in ITEM_FIELDS}, "via": "import"},
                         "classification": row["classification"],
                         "field_classes": dict.fromkeys(Item.SOURCE_FIELDS, level)}
            entries.append(entry)
        self.audit = []
        audit.record_many(self.db, entries, actor=self.actor)
        return len(rows)
