"""Changes to reports, annexes and blocks, and submission. Each validates, writes the audit
record in the same transaction and flushes; the caller (view, CLI) commits once.

A submitted report is frozen: its annexes and blocks refuse changes, and its builds are
made from the documents compiled at submission (:class:`~.models.ReportSnapshot`). Only
its document symbol may still be set (it is often known later); the items' publication
records follow it.
"""
from __future__ import annotations

import re
from datetime import date

from sqlmodel import Session, select

from .. import audit
from ..auth.models import Panel
from ..classification import Classification, coerce, most_restrictive
from ..db import utcnow
from ..validation import Invalid, too_long, unstorable_character
from . import blocks, compose
from .models import Annex, AnnexBuild, Block, Edition, Publication, Report, ReportKind, ReportSnapshot

SYMBOL = re.compile(r"^S/[0-9]{4}/[0-9]{1,5}(/(Rev|Corr|Add)\.[0-9]{1,2})?\*?$")
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
REPORT_FIELDS = ("kind", "title", "symbol", "cut_off", "show_withheld_notes")
ANNEX_FIELDS = ("title", "intro", "classification")
BLOCK_FIELDS = ("kind", "key", "caption", "source_line", "classification", "settings")


def _snapshot(obj, fields) -> dict:
    return {name: getattr(obj, name) for name in fields}


def _record(db: Session, action: str, obj, actor, *, label: str, before=None, after=None,
            classification=Classification.PUBLIC) -> None:
    b, a = audit.changes(before, after) if before is not None and after is not None else (before, after)
    audit.record(db, action, actor=actor, obj=obj, label=label, before=b, after=a, classification=classification)


def _text(values: dict, name: str, limit: int, errors: dict, *, required: str = "") -> str:
    value = str(values.get(name) or "").strip()
    if required and not value:
        errors[name] = required
    elif len(value) > limit:
        errors[name] = too_long(len(value), limit)
    elif (problem := unstorable_character(value)):
        errors[name] = problem
    return value


def _refuse_frozen(report: Report) -> None:
    if report.frozen:
        raise Invalid({"": "This report was submitted: its annexes are frozen."}, status=409)


def _level(value, errors: dict, default=Classification.PANEL) -> Classification:
    try:
        return coerce(value) if value else default
    except ValueError:
        errors["classification"] = "Choose public, committee or panel."
        return default


# ------------------------------------------------------------------ reports


def _report_values(values: dict, report: Report | None) -> dict:
    errors: dict = {}
    out = {"title": _text(values, "title", 300, errors, required="A report needs a title."),
           "symbol": _text(values, "symbol", 40, errors)}
    if out["symbol"] and not SYMBOL.match(out["symbol"]):
        errors["symbol"] = "A document symbol looks like S/2025/123 (empty until it is known)."
    kind = values.get("kind") or ReportKind.FINAL.value
    try:
        out["kind"] = ReportKind(getattr(kind, "value", kind))
    except ValueError:
        errors["kind"] = "Choose a mid-term update or a final report."
    cut_off = values.get("cut_off")
    if isinstance(cut_off, str):
        try:
            cut_off = date.fromisoformat(cut_off)
        except ValueError:
            cut_off = None
    if not isinstance(cut_off, date):
        errors["cut_off"] = "The cut-off date, as YYYY-MM-DD: trace statuses are given as at this date."
    out["cut_off"] = cut_off
    out["show_withheld_notes"] = bool(values.get("show_withheld_notes", True))
    if errors:
        raise Invalid(errors)
    return out


def create_report(db: Session, panel: Panel, values: dict, actor) -> Report:
    """A new report; whether its annexes print withheld notes starts as the panel's setting."""
    values = {"show_withheld_notes": bool(panel.setting("annex_withheld_notes")), **values}
    report = Report(panel_id=panel.id, created_by_id=getattr(actor, "id", None), **_report_values(values, None))
    db.add(report)
    db.flush()
    _record(db, "report.create", report, actor, label=report.title, after=_snapshot(report, REPORT_FIELDS))
    return report


def update_report(db: Session, report: Report, values: dict, actor) -> Report:
    """Change a report; once submitted, only its document symbol (publications follow it)."""
    new = _report_values({**_snapshot(report, REPORT_FIELDS), **values}, report)
    if report.frozen:
        changed = [name for name in REPORT_FIELDS if name != "symbol" and new[name] != getattr(report, name)]
        if changed:
            raise Invalid({changed[0]: "This report was submitted: only its document symbol can still be set."},
                          status=409)
    before = _snapshot(report, REPORT_FIELDS)
    for name, value in new.items():
        setattr(report, name, value)
    if report.frozen and before["symbol"] != report.symbol:
        for publication in db.exec(select(Publication).where(Publication.report_id == report.id)).all():
            publication.symbol = report.symbol
            db.add(publication)
    db.add(report)
    db.flush()
    _record(db, "report.update", report, actor, label=report.title, before=before,
            after=_snapshot(report, REPORT_FIELDS))
    return report


# ------------------------------------------------------------------ annexes


def annexes_of(db: Session, report: Report) -> list[Annex]:
    return list(db.exec(select(Annex).where(Annex.report_id == report.id, Annex.panel_id == report.panel_id)
                        .order_by(Annex.position, Annex.id)).all())


def _annex_values(values: dict) -> dict:
    errors: dict = {}
    out = {"title": _text(values, "title", 300, errors, required="An annex needs a title."),
           "intro": _text(values, "intro", 100_000, errors),
           "classification": _level(values.get("classification"), errors)}
    if errors:
        raise Invalid(errors)
    return out


def add_annex(db: Session, report: Report, values: dict, actor) -> Annex:
    _refuse_frozen(report)
    position = len(annexes_of(db, report)) + 1
    annex = Annex(panel_id=report.panel_id, report_id=report.id, position=position,
                  created_by_id=getattr(actor, "id", None), **_annex_values(values))
    db.add(annex)
    db.flush()
    _record(db, "annex.create", annex, actor, label=f"{report.title}: annex {position}",
            after=_snapshot(annex, ANNEX_FIELDS), classification=annex.classification)
    return annex


def update_annex(db: Session, report: Report, annex: Annex, values: dict, actor) -> Annex:
    _refuse_frozen(report)
    before = _snapshot(annex, ANNEX_FIELDS)
    for name, value in _annex_values({**before, **values}).items():
        setattr(annex, name, value)
    db.add(annex)
    db.flush()
    _record(db, "annex.update", annex, actor, label=f"{report.title}: annex {annex.position}", before=before,
            after=_snapshot(annex, ANNEX_FIELDS),
            classification=most_restrictive(before["classification"], annex.classification))
    return annex


def delete_annex(db: Session, report: Report, annex: Annex, actor) -> None:
    _refuse_frozen(report)
    if db.exec(select(AnnexBuild.id).where(AnnexBuild.annex_id == annex.id).limit(1)).first() is not None:
        raise Invalid({"": f"Annex {annex.position} has builds, kept as versions, so it cannot be deleted; "
                           "change its title and blocks instead."}, status=409)
    before = _snapshot(annex, ANNEX_FIELDS)
    for block in db.exec(select(Block).where(Block.annex_id == annex.id)).all():
        db.delete(block)
    db.flush()  # the blocks first: no relationship tells the unit of work they point at the annex
    db.delete(annex)
    db.flush()
    _renumber(db, annexes_of(db, report))
    _record(db, "annex.delete", annex, actor, label=f"{report.title}: annex {annex.position}", before=before,
            classification=annex.classification)


def _renumber(db: Session, rows: list) -> None:
    for position, row in enumerate(rows, start=1):
        if row.position != position:
            row.position = position
            db.add(row)
    db.flush()


def _reorder(rows: list, order: list[int], what: str) -> list:
    by_id = {row.id: row for row in rows}
    if sorted(order) != sorted(by_id):
        raise Invalid({"order": f"The new order must list each {what} of this report once; reload the page."})
    return [by_id[i] for i in order]


def order_annexes(db: Session, report: Report, order: list[int], actor) -> None:
    """Number the annexes in ``order`` (ids): the order the report body cites them."""
    _refuse_frozen(report)
    rows = annexes_of(db, report)
    before = [a.id for a in rows]
    _renumber(db, _reorder(rows, order, "annex"))
    _record(db, "report.reorder", report, actor, label=report.title, before={"annexes": before},
            after={"annexes": order})


def move_annex(db: Session, report: Report, annex: Annex, step: int, actor) -> None:
    """Move an annex up (-1) or down (+1): the plain-form fallback of drag-and-drop."""
    ids = [a.id for a in annexes_of(db, report)]
    i = ids.index(annex.id)
    j = min(max(i + step, 0), len(ids) - 1)
    ids.insert(j, ids.pop(i))
    order_annexes(db, report, ids, actor)


# ------------------------------------------------------------------ blocks


def blocks_of(db: Session, annex: Annex) -> list[Block]:
    return list(db.exec(select(Block).where(Block.annex_id == annex.id, Block.panel_id == annex.panel_id)
                        .order_by(Block.position, Block.id)).all())


def _block_values(db: Session, annex: Annex, values: dict, block: Block | None) -> dict:
    errors: dict = {}
    name = values.get("kind") or (block.kind if block else "")
    try:
        kind = blocks.kind(name)
    except LookupError:
        raise Invalid({"kind": "Choose what the block shows."}) from None
    key = _text(values, "key", 60, errors).lower() or None
    if key and not KEY.match(key):
        errors["key"] = "A key is lower-case letters, digits, - and _ (e.g. serial-closeup)."
    elif key:
        taken = db.exec(select(Block.id).where(Block.annex_id == annex.id, Block.key == key)).first()
        if taken is not None and (block is None or taken != block.id):
            errors["key"] = f"Another block of this annex is already [[fig:{key}]]."
    out = {"kind": kind.name, "key": key, "caption": _text(values, "caption", 2000, errors),
           "source_line": _text(values, "source_line", 300, errors),
           "classification": _level(values.get("classification"), errors)}
    try:
        out["settings"] = kind.check(db, annex.panel_id, dict(values.get("settings") or {}))
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    return out


def add_block(db: Session, report: Report, annex: Annex, values: dict, actor) -> Block:
    _refuse_frozen(report)
    clean = _block_values(db, annex, values, None)
    block = Block(panel_id=annex.panel_id, annex_id=annex.id, position=len(blocks_of(db, annex)) + 1,
                  created_by_id=getattr(actor, "id", None), **clean)
    db.add(block)
    db.flush()
    _record(db, "block.create", block, actor, label=f"{report.title}: annex {annex.position}, {block.kind}",
            after=_snapshot(block, BLOCK_FIELDS), classification=most_restrictive(annex.classification,
                                                                                  block.classification))
    return block


def update_block(db: Session, report: Report, annex: Annex, block: Block, values: dict, actor) -> Block:
    _refuse_frozen(report)
    before = _snapshot(block, BLOCK_FIELDS)
    merged = {**before, **values, "kind": block.kind}
    for name, value in _block_values(db, annex, merged, block).items():
        setattr(block, name, value)
    db.add(block)
    db.flush()
    _record(db, "block.update", block, actor, label=f"{report.title}: annex {annex.position}, {block.kind}",
            before=before, after=_snapshot(block, BLOCK_FIELDS),
            classification=most_restrictive(annex.classification, before["classification"], block.classification))
    return block


def delete_block(db: Session, report: Report, annex: Annex, block: Block, actor) -> None:
    _refuse_frozen(report)
    before = _snapshot(block, BLOCK_FIELDS)
    db.delete(block)
    db.flush()
    _renumber(db, blocks_of(db, annex))
    _record(db, "block.delete", block, actor, label=f"{report.title}: annex {annex.position}, {block.kind}",
            before=before, classification=most_restrictive(annex.classification, block.classification))


def order_blocks(db: Session, report: Report, annex: Annex, order: list[int], actor) -> None:
    _refuse_frozen(report)
    rows = blocks_of(db, annex)
    before = [b.id for b in rows]
    _renumber(db, _reorder(rows, order, "block"))
    _record(db, "annex.reorder", annex, actor, label=f"{report.title}: annex {annex.position}",
            before={"blocks": before}, after={"blocks": order}, classification=annex.classification)


def move_block(db: Session, report: Report, annex: Annex, block: Block, step: int, actor) -> None:
    ids = [b.id for b in blocks_of(db, annex)]
    i = ids.index(block.id)
    ids.insert(min(max(i + step, 0), len(ids) - 1), ids.pop(i))
    order_blocks(db, report, annex, ids, actor)


# ------------------------------------------------------------------ submission


def submit(db: Session, panel: Panel, report: Report, actor) -> list[ReportSnapshot]:
    """Freeze a report: compile every annex in every edition now and keep the documents
    (builds are made from them from now on), and record, for each item shown, where it
    was published and in which most public edition."""
    _refuse_frozen(report)
    annexes = compose.report_annexes(db, report)
    if not annexes:
        raise Invalid({"": "A report with no annex cannot be submitted."})
    snapshots = []
    shown_in: dict[tuple[int, int], Edition] = {}
    for edition in reversed(list(Edition)):  # panel, committee, public: the last one that shows an item wins
        reader = compose.edition_reader(panel.id, edition)
        for number, annex, rows in annexes:
            doc = compose.document(db, panel, report, [(number, annex, rows)], edition, reader)
            snapshot = ReportSnapshot(panel_id=panel.id, report_id=report.id, annex_id=annex.id, edition=edition,
                                      document=doc)
            db.add(snapshot)
            snapshots.append(snapshot)
            for item_id in doc["annexes"][0]["item_ids"]:
                shown_in[(annex.id, item_id)] = edition
    numbers = {annex.id: number for number, annex, _ in annexes}
    for (annex_id, item_id), edition in sorted(shown_in.items()):
        db.add(Publication(panel_id=panel.id, item_id=item_id, report_id=report.id, annex_id=annex_id,
                           annex_number=numbers[annex_id], edition=edition, symbol=report.symbol))
    report.submitted_at = utcnow()
    report.submitted_by_id = getattr(actor, "id", None)
    db.add(report)
    db.flush()
    _record(db, "report.submit", report, actor, label=report.title,
            after={"annexes": len(annexes), "items": len({item for _, item in shown_in})})
    return snapshots
