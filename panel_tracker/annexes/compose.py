"""Compile annexes into a *document*: plain data (dicts, lists, strings) that the PDF and
DOCX writers print and that a submitted report keeps as its frozen copy.

Everything an edition may not show is left out here, before any writer sees it: each
annex is compiled for a :class:`~panel_tracker.visibility.Reader` at the edition's level
(never above the clearance of who builds it), so a writer cannot leak what it was never
given. Where something was withheld, the document carries a note saying so (when the
report's setting allows), never the thing itself.

The document's shape::

    {"title", "report": {"title", "kind", "symbol", "cut_off"}, "edition", "edition_label",
     "marking", "panel", "annexes": [annex]}
    annex  = {"number", "title", "withheld", "intro": [paragraph], "parts": [part], "item_ids"}
    part   = {"kind": "text", "paragraphs": [paragraph]}
           | {"kind": "figure", "label": "Figure 12.3", "title", "images": [image], "source", "notes"}
           | {"kind": "table", "label": "Table 12.1", "title", "columns", "rows", "source", "notes", "summary"}
           | {"kind": "item_sheet", "heading", "fields": [[label, value]], "markings": table part or None,
              "figure": figure part or None, "notes"}
           | {"kind": "withheld", "text"}
    image  = {"sha256", "width_mm", "height_mm", "boxes": [[x, y, w, h]], "caption", "alt"}
             (printed size; the print derivative is made at 200 dpi for it: ``images.py``)
    paragraph: see :mod:`panel_tracker.annexes.text`

Numbering: annexes by their position in the report (the order the body cites them), the
same in every edition; figures and tables within their annex over what the edition shows,
so an edition has no gaps from which a withheld figure could be inferred.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from .. import visibility
from ..auth.models import Panel
from ..classification import Classification, may_see
from . import blocks, text
from .models import Annex, Block, Edition, Report

#: Bump when the document's shape or wording changes: it is part of every build's input hash.
DOCUMENT_VERSION = 1


@dataclass
class AnnexContext:
    """What a block kind needs while its annex is compiled."""

    db: Session
    panel: Panel
    reader: visibility.Reader
    edition: Edition
    number: int
    cut_off: object  # date, or None for a quick annex (today's status)
    notes: bool  # print "withheld from this edition" notes
    figures: int = 0
    tables: int = 0
    labels: dict = field(default_factory=dict)  # (kind, key) -> "Figure 12.3"
    item_ids: set = field(default_factory=set)
    blocks: list = field(default_factory=list)  # the annex's blocks the reader may see
    prefetched: dict = field(default_factory=dict)  # block kind -> what it loaded for all its blocks

    def next_figure(self, key: str | None = None) -> str:
        self.figures += 1
        label = f"Figure {self.number}.{self.figures}"
        if key:
            self.labels[("fig", key)] = label
        return label

    def next_table(self, key: str | None = None) -> str:
        self.tables += 1
        label = f"Table {self.number}.{self.tables}"
        if key:
            self.labels[("table", key)] = label
        return label

    def withheld(self, noun: str) -> list[dict]:
        """The note for a block left out (none when the report's setting is off); ``noun``
        is singular ("item sheet"). Consecutive notes of one noun are merged by
        :func:`compile_annex` ("3 item sheets withheld from this edition.")."""
        return [{"kind": "withheld", "noun": noun, "count": 1, "text": withheld_text(noun, 1)}] if self.notes else []


def withheld_text(noun: str, count: int) -> str:
    if count == 1:
        return f"{'An' if noun[0] in 'aeiou' else 'A'} {noun} withheld from this edition."
    return f"{count} {noun}s withheld from this edition."


def _merge_withheld(parts: list[dict]) -> list[dict]:
    merged: list[dict] = []
    for part in parts:
        previous = merged[-1] if merged else None
        if (part["kind"] == "withheld" and previous is not None and previous["kind"] == "withheld"
                and previous.get("noun") == part.get("noun")):
            previous["count"] += part["count"]
            previous["text"] = withheld_text(previous["noun"], previous["count"])
        else:
            merged.append(part)
    return merged


def edition_reader(panel_id: int, edition: Edition, clearance: Classification | None = None,
                   user_id: int | None = None) -> visibility.Reader:
    """A reader at the edition's level, never above ``clearance`` (the builder's)."""
    level = edition.level
    if clearance is not None and not may_see(clearance, level):
        raise PermissionError(f"the {edition.value} edition is above your clearance")
    return visibility.Reader(panel_id, level, user_id)


def document(db: Session, panel: Panel, report: Report | None, annexes: list[tuple[int, Annex, list[Block]]],
             edition: Edition, reader: visibility.Reader, *, title: str | None = None) -> dict:
    """The document of ``annexes`` (``(number, annex, blocks)``) for ``edition``."""
    notes = report.show_withheld_notes if report is not None else True
    return {
        "version": DOCUMENT_VERSION,
        "title": title or (report.title if report else ""),
        "panel": panel.name,
        "report": _report_head(report),
        "edition": edition.value,
        "edition_label": edition.label,
        "marking": edition.marking,
        "annexes": [compile_annex(db, panel, report, number, annex, rows, edition, reader, notes=notes)
                    for number, annex, rows in annexes],
    }


def _report_head(report: Report | None) -> dict:
    if report is None:
        return {"title": "", "kind": "", "symbol": "", "cut_off": None}
    return {"title": report.title, "kind": report.kind.label, "symbol": report.symbol,
            "cut_off": report.cut_off.isoformat()}


def compile_annex(db: Session, panel: Panel, report: Report | None, number: int, annex: Annex, rows: list[Block],
                  edition: Edition, reader: visibility.Reader, *, notes: bool = True) -> dict:
    """One annex for ``edition``: an annex classified above it keeps its number and title
    slot only as a note (or nothing), never its title or content."""
    if not may_see(reader.clearance, annex.classification):
        return {"number": number, "title": "", "withheld": True, "intro": [], "parts": [], "item_ids": [],
                "note": f"Annex {number} is not included in this edition." if notes else ""}
    ctx = AnnexContext(db, panel, reader, edition, number, report.cut_off if report else None, notes)
    ctx.blocks = [block for block in rows if may_see(reader.clearance, block.classification)]
    parts: list[dict] = []
    for block in rows:
        kind = blocks.kind(block.kind)
        if not may_see(reader.clearance, block.classification):
            parts += ctx.withheld(kind.noun)
            continue
        parts += kind.compose(ctx, block)
    parts = _merge_withheld(parts)

    def label(kind: str, key: str) -> str:
        return ctx.labels.get((kind, key)) or "(not included in this edition)"

    intro = text.paragraphs(text.resolve(annex.intro, label))
    for part in parts:
        if part["kind"] == "text":
            part["paragraphs"] = text.paragraphs(text.resolve(part.pop("source_text"), label))
    return {"number": number, "title": annex.title, "withheld": False, "intro": intro, "parts": parts,
            "item_ids": sorted(ctx.item_ids), "note": ""}


def report_annexes(db: Session, report: Report, annex_id: int | None = None) -> list[tuple[int, Annex, list[Block]]]:
    """A report's annexes with their numbers and blocks, in order (all of them, whatever the
    reader: numbers are the same in every edition; ``compile_annex`` withholds)."""
    annexes = db.exec(select(Annex).where(Annex.report_id == report.id, Annex.panel_id == report.panel_id)
                      .order_by(Annex.position, Annex.id)).all()
    out = []
    for number, annex in enumerate(annexes, start=1):
        if annex_id is not None and annex.id != annex_id:
            continue
        rows = db.exec(select(Block).where(Block.annex_id == annex.id, Block.panel_id == report.panel_id)
                       .order_by(Block.position, Block.id)).all()
        out.append((number, annex, list(rows)))
    return out
