"""Import an existing correspondence log (CSV or XLSX), all or nothing.

Columns, in this order: ``request_ref, kind, addressee, country, sent_on, acknowledged_on,
answered_on, status, outcome, item_refs, follow_up_of, notes``. ``addressee`` empty means
the State ``country`` itself; ``item_refs`` are separated by ``;``; dates are ISO.
Errors are reported as the item import reports them (``line L, column C: CODE: message``),
with the item import's reader and error type.

Each date given becomes a dated event, so overdue and "as at" tables replay the log. A
status whose own date column is empty (``closed``, ``withdrawn``, ``partially_answered``)
is dated on the latest date the row gives; a ``draft`` has no events (a ``sent_on`` given
for it is kept in its notes as a planned date): a letter imported as withdrawn with only
``sent_on`` is ended from its ``sent_on`` and never listed as overdue.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from .. import audit, countries
from ..cases.import_format import (RowError, _csv_rows, _quote, _UnreadableFile, _wrong_field_count, _xlsx_rows)
from ..cases.models import Item
from . import services
from .models import EventKind, Letter, LetterEvent, LetterItem, LetterKind, LetterStatus, Outcome

COLUMNS = ("request_ref", "kind", "addressee", "country", "sent_on", "acknowledged_on", "answered_on", "status",
           "outcome", "item_refs", "follow_up_of", "notes")
MAX_REF = 40


@dataclass
class LetterRow:
    line: int
    request_ref: str
    kind: LetterKind
    addressee: str
    country: str | None
    sent_on: dt.date | None
    acknowledged_on: dt.date | None
    answered_on: dt.date | None
    status: LetterStatus
    outcome: Outcome | None
    item_refs: list[str]
    follow_up_of: str
    notes: str

    def events(self) -> list[tuple[EventKind, dt.date]]:
        """The dated events this row stands for, in order. A draft has none, even with a
        ``sent_on`` (a planned date): a draft is never overdue."""
        if self.sent_on is None or self.status == LetterStatus.DRAFT:
            return []
        out = [(EventKind.SENT, self.sent_on)]
        if self.acknowledged_on:
            out.append((EventKind.ACKNOWLEDGED, self.acknowledged_on))
        latest = max(d for d in (self.sent_on, self.acknowledged_on, self.answered_on) if d)
        if self.answered_on:
            kind = EventKind.PARTIALLY_ANSWERED if self.status == LetterStatus.PARTIALLY_ANSWERED else EventKind.ANSWERED
            out.append((kind, self.answered_on))
        elif self.status == LetterStatus.PARTIALLY_ANSWERED:
            out.append((EventKind.PARTIALLY_ANSWERED, latest))
        if self.status in (LetterStatus.CLOSED, LetterStatus.WITHDRAWN):
            out.append((EventKind(self.status.value), latest))
        return out


@dataclass
class ImportReport:
    errors: list[RowError] = field(default_factory=list)
    letters: int = 0
    addressees: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_count(self) -> int:
        return len(self.errors)

    @property
    def summary(self) -> str:
        return f"imported {self.letters} letters"


def read_rows(source: Path) -> tuple[list[tuple[int, dict]], list[RowError]]:
    raw = _xlsx_rows(source) if str(source).lower().endswith(".xlsx") else _csv_rows(source)
    records, errors = [], []
    try:
        rows = [(line, fields) for line, fields in raw if any(fields)]
    except _UnreadableFile as problem:
        return [], [RowError(problem.line, "", "unreadable_file", problem.message, "")]
    if not rows:
        return [], [RowError(1, "", "bad_header", "the file is empty; the first line must be the header", "")]
    header_line, header = rows[0]
    if tuple(h.strip() for h in header) != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        message = (f"column {missing[0]} is missing" if missing else "columns are out of order")
        return [], [RowError(header_line, missing[0] if missing else "", "bad_header",
                             f"{message}; the header must be exactly: {', '.join(COLUMNS)}", "")]
    for line, fields in rows[1:]:
        if len(fields) < len(COLUMNS) and str(source).lower().endswith(".xlsx"):
            fields = fields + [""] * (len(COLUMNS) - len(fields))
        if len(fields) != len(COLUMNS):
            errors.append(_wrong_field_count(line, len(fields), len(COLUMNS)))
            continue
        records.append((line, dict(zip(COLUMNS, fields))))
    return records, errors


def _date(text: str):
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def validate(records, *, existing_refs: set[str], item_refs: set[str]) -> tuple[list[LetterRow], list[RowError]]:
    errors: list[RowError] = []
    rows: list[LetterRow] = []
    all_refs = {values["request_ref"].strip() for _, values in records}
    seen: dict[str, int] = {}
    for line, values in records:
        v = {k: (values[k] or "").strip() for k in COLUMNS}
        v["notes"] = values["notes"] or ""
        bad = len(errors)

        def fail(column, code, message):
            errors.append(RowError(line, column, code, message, v.get(column, "")))

        ref = v["request_ref"]
        if not ref:
            fail("request_ref", "missing_value", "request_ref is required")
        elif len(ref) > MAX_REF:
            fail("request_ref", "bad_request_ref", f"at most {MAX_REF} characters")
        elif ref in seen:
            fail("request_ref", "duplicate_request_ref", f"{_quote(ref)} is already used on line {seen[ref]}")
        elif ref in existing_refs:
            fail("request_ref", "duplicate_request_ref", f"{_quote(ref)} is already a letter of this panel")
        seen.setdefault(ref, line)
        def one_of(column, enum):
            """The column's value as a member of ``enum``, or None after an ``unknown_<column>``."""
            member = next((m for m in enum if m.value == v[column]), None)
            if member is None:
                fail(column, f"unknown_{column}", f"{_quote(v[column])} is not one of "
                                                  f"{', '.join(m.value for m in enum)}")
            return member

        kind = None
        if not v["kind"]:
            fail("kind", "missing_value", "kind is required")
        else:
            kind = one_of("kind", LetterKind)
        country = v["country"] or None
        if country and not countries.is_known(country):
            fail("country", "unknown_country", f"{_quote(country)} is not an ISO 3166-1 alpha-3 code (e.g. CHN, ARE)")
        elif not country and not v["addressee"]:
            fail("country", "missing_value", "country is required when addressee is empty (the State itself)")
        dates = {}
        for column in ("sent_on", "acknowledged_on", "answered_on"):
            if v[column]:
                dates[column] = _date(v[column])
                if dates[column] is None:
                    fail(column, "bad_date", f"{_quote(v[column])} is not a date YYYY-MM-DD")
        status = None
        if not v["status"]:
            fail("status", "missing_value", "status is required")
        else:
            status = one_of("status", LetterStatus)
        if status == LetterStatus.DRAFT:
            for column in ("acknowledged_on", "answered_on"):
                if v[column]:
                    fail(column, "date_for_draft", "a draft has not been sent, so it has no answer yet")
        elif status is not None and not v["sent_on"]:
            fail("sent_on", "missing_value", f"a {status.value} letter needs its sent_on date")
        if status == LetterStatus.ANSWERED and not v["answered_on"]:
            fail("answered_on", "missing_value", "an answered letter needs its answered_on date")
        if status == LetterStatus.ACKNOWLEDGED and not v["acknowledged_on"]:
            fail("acknowledged_on", "missing_value", "an acknowledged letter needs its acknowledged_on date")
        if status in (LetterStatus.SENT, LetterStatus.ACKNOWLEDGED) and v["answered_on"]:
            fail("answered_on", "status_mismatch", f"a {status.value} letter has no answer yet; "
                                                   "set status to answered (or partially_answered)")
        if status == LetterStatus.SENT and v["acknowledged_on"]:
            fail("acknowledged_on", "status_mismatch", "a letter acknowledged is at least acknowledged")
        sent = dates.get("sent_on")
        for column in ("acknowledged_on", "answered_on"):
            if sent and dates.get(column) and dates[column] < sent:
                fail(column, "date_order", f"{v[column]} is before sent_on {v['sent_on']}")
        outcome = None
        if v["outcome"]:
            member = one_of("outcome", Outcome)
            if member is not None and status != LetterStatus.CLOSED:
                fail("outcome", "outcome_without_close", "only a closed letter has an outcome")
            elif member is not None:
                outcome = member
        elif status == LetterStatus.CLOSED:
            fail("outcome", "missing_value", "a closed letter needs its outcome "
                                             f"({', '.join(o.value for o in Outcome)})")
        refs = [r.strip() for r in v["item_refs"].split(";") if r.strip()]
        unknown = [r for r in refs if r not in item_refs]
        if unknown:
            fail("item_refs", "unknown_item", f"no item {', '.join(_quote(r) for r in unknown)} in this panel")
        if kind == LetterKind.TRACE_REQUEST and not refs:
            fail("item_refs", "missing_value", "a trace request names at least one item")
        follow = v["follow_up_of"]
        if follow and follow not in all_refs and follow not in existing_refs:
            fail("follow_up_of", "unknown_request", f"no letter {_quote(follow)} in this file or this panel")
        elif follow and follow == ref:
            fail("follow_up_of", "unknown_request", "a letter cannot follow up itself")
        if len(errors) == bad:
            rows.append(LetterRow(line, ref, kind, v["addressee"], country, sent, dates.get("acknowledged_on"),
                                  dates.get("answered_on"), status, outcome, refs, follow, v["notes"]))
    return rows, errors


def import_letters(db: Session, panel, source: Path, *, actor="cli") -> ImportReport:
    report = ImportReport()
    records, report.errors = read_rows(source)
    if report.errors and not records:
        return report
    existing = set(db.exec(select(Letter.ref).where(Letter.panel_id == panel.id)))
    items = {ref: item_id for item_id, ref in db.exec(
        select(Item.id, Item.item_ref).where(Item.panel_id == panel.id, Item.deleted_at.is_(None)))}
    rows, errors = validate(records, existing_refs=existing, item_refs=set(items))
    report.errors = sorted(report.errors + errors, key=lambda e: e.line)
    if not report.ok:
        return report
    letters: dict[str, Letter] = {}
    for row in rows:
        if row.addressee:
            addressee = services.named_addressee(db, panel, row.addressee, row.country, actor)
        else:
            addressee = services.state_addressee(db, panel, row.country, actor)
        letter = Letter(panel_id=panel.id, ref=row.request_ref, kind=row.kind, addressee_id=addressee.id,
                        status=row.status, outcome=row.outcome, notes=row.notes,
                        sent_on=row.sent_on if row.status != LetterStatus.DRAFT else None)
        if row.status == LetterStatus.DRAFT and row.sent_on:
            letter.notes = f"{row.notes}\n(planned sending date in the imported log: {row.sent_on})".strip()
        db.add(letter)
        db.flush()
        letters[row.request_ref] = letter
        for position, ref in enumerate(row.item_refs):
            db.add(LetterItem(panel_id=panel.id, letter_id=letter.id, item_id=items[ref], position=position))
        for kind, on in row.events():
            db.add(LetterEvent(panel_id=panel.id, letter_id=letter.id, kind=kind, happened_on=on,
                               note=f"imported from {source.name}, line {row.line}"))
    for row in rows:
        if row.follow_up_of:
            parent = letters.get(row.follow_up_of) or db.exec(select(Letter).where(
                Letter.panel_id == panel.id, Letter.ref == row.follow_up_of)).one()
            letters[row.request_ref].follow_up_of_id = parent.id
    db.flush()
    for row in rows:
        letter = letters[row.request_ref]
        audit.record(db, "letter.import", actor=actor, obj=letter, label=letter.ref,
                     after={"kind": row.kind, "status": row.status, "sent_on": row.sent_on,
                            "events": [(k.value, d) for k, d in row.events()], "items": row.item_refs,
                            "follow_up_of": row.follow_up_of, "file": source.name, "line": row.line},
                     classification=letter.classification)
    report.letters = len(rows)
    return report
