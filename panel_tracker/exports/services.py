"""Exports of a case or of a filtered item list, as CSV, XLSX or a full-fidelity ZIP.

``selection.py`` decides what an export holds for a reader (plain records, by the rule of
:mod:`panel_tracker.visibility`); ``writers.py`` writes the files; this module checks the
form against the role, writes the export and records it in the audit log (:func:`create_export`).

Classification (domain.md §8): an export holds at most ``max_level``, which the caller has
already capped at the user's clearance (:func:`export_options`); the export's reader is the
user at that level. What that reader may not see is left out (items, markings, photos,
inspections, references to other items) or withheld (an item's source details, receipts'
sources and file names, who made what, EXIF beyond camera and time, GPS). Soft-deleted and
purged objects are left out.

Files are written to a temporary file, never held in memory, and items are read in
batches, so a case of thousands of items and photos streams.
"""
from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

from sqlmodel import Session

from .. import audit, visibility
from ..auth.models import Role
from ..cases import queries
from ..cases.models import Case
from ..classification import Classification, clearance_for, coerce, may_see
from ..validation import Invalid
from . import selection, writers
from .writers import _SAFE_NAME, ExportCounts, safe_ref

FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}
#: The item-list filters an export accepts: those of the item list (``queries.ITEM_FILTERS``).
FILTERS: tuple[str, ...] = queries.ITEM_FILTERS


@dataclass(frozen=True)
class ExportOptions:
    """What one export may contain, decided once from the user's role and the form."""

    fmt: str
    max_level: Classification
    originals: bool = False

    @property
    def show_gps(self) -> bool:
        """Photo GPS in the JSON: panel-level exports only (which only experts and up may ask)."""
        return self.max_level == Classification.PANEL


def export_options(role: Role | str, *, fmt: str | None, max_classification: str | None,
                   originals: bool = False) -> ExportOptions:
    """Check the export form against the user's role.

    Raises Invalid for a value that is not one of the choices, Invalid with status 403 for a level
    above the user's clearance or originals asked by a viewer.
    """
    role = Role(role)
    fmt = (fmt or "csv").strip().lower()
    if fmt not in FORMATS:
        raise Invalid({"format": f"Choose the format: {', '.join(FORMATS)}."})
    clearance = clearance_for(role)
    if max_classification:
        try:
            level = coerce(max_classification.strip().lower())
        except ValueError:
            raise Invalid({"max_classification": "Choose the highest classification to include: "
                                                 + ", ".join(c.value for c in Classification) + "."}) from None
        if not may_see(clearance, level):
            raise Invalid({"max_classification": f"Your role may export up to {clearance.value} material, "
                                                 f"not {level.value}."}, status=403)
    else:
        level = clearance
    if originals:
        if role.rank < Role.EXPERT.rank:
            raise Invalid({"originals": "Original photo files are for experts."}, status=403)
        if fmt != "zip":
            raise Invalid({"originals": "Original photo files come in a ZIP export only."})
        if level != Classification.PANEL:
            # Originals keep their EXIF, GPS included: they may locate a source.
            raise Invalid({"originals": "Original photo files keep their EXIF and GPS; export them "
                                        "at panel level only (max_classification=panel)."})
    return ExportOptions(fmt=fmt, max_level=level, originals=originals)


def item_filters(args: Mapping[str, str]) -> dict[str, str]:
    """The item-list filters present in ``args`` (query-string values), for the export and its audit."""
    return {name: args[name] for name in FILTERS if args.get(name)}



@dataclass
class ExportFile:
    """A finished export: an open temporary file (deleted when closed), positioned at 0."""

    file: IO[bytes]
    filename: str
    mimetype: str
    counts: ExportCounts
    original_photos: list[dict] = field(default_factory=list)  # records of the photos whose originals it holds


# ------------------------------------------------------------------ the export as a whole


def export_filename(panel_code: str, case: Case | None, fmt: str, today: date | None = None) -> str:
    """``YEM-2024-017-items.csv`` for a case, ``YEM-items-2024-07-15.zip`` for an item list."""
    stem = f"{case.ref}-items" if case is not None else f"{panel_code}-items-{(today or date.today()).isoformat()}"
    return f"{_SAFE_NAME.sub('-', stem).strip('.-') or 'items'}.{fmt}"


def create_export(db: Session, panel, options: ExportOptions, *, actor, store, case: Case | None = None,
                  filters: Mapping[str, str] | None = None, tmp_dir: str | Path | None = None) -> ExportFile:
    """Write the export to a temporary file and record it in the audit log (``export.create``,
    and ``photo.download_original`` for each original it holds), in the caller's transaction.

    ``options.max_level`` must already be capped at the user's clearance (:func:`export_options`).
    The caller commits, then sends ``result.file`` (closing it deletes it).
    """
    filters = dict(filters or {})
    reader = visibility.Reader(panel.id, options.max_level, getattr(actor, "id", None))
    ids = selection.item_ids(db, reader, case=case, filters=filters)
    if tmp_dir is not None:
        Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    file = tempfile.TemporaryFile(dir=tmp_dir, prefix="export-")
    try:
        if options.fmt == "csv":
            written = writers.write_csv(db, ids, reader, file)
        elif options.fmt == "xlsx":
            written = writers.write_xlsx(db, ids, reader, file)
        else:
            written = writers.write_zip(db, ids, reader, file, panel_code=panel.code, store=store,
                                        originals=options.originals, case=case, filters=filters,
                                        exported_by=getattr(actor, "email", "") or "")
        file.seek(0)
    except BaseException:
        file.close()
        raise
    filename = export_filename(panel.code, case, options.fmt)
    record_export(db, panel, options, written.counts, actor=actor, case=case, filters=filters, filename=filename)
    for action, photos in (("photo.download_original", written.originals),
                           ("photo.view_gps", written.gps_shown)):  # as when an expert looks at one photo
        audit.record_many(db, [{
            "action": action, "panel_id": panel.id, "object_type": "photo", "object_id": photo["id"],
            "label": f"photo {photo['sha256'][:12]}", "classification": photo["classification"],
            "after": {"via": "export", "export": filename},
        } for photo in photos], actor=actor)
    db.flush()
    return ExportFile(file, filename, FORMATS[options.fmt], written.counts, written.originals)


def record_export(db: Session, panel, options: ExportOptions, counts: ExportCounts, *, actor,
                  case: Case | None, filters: Mapping[str, str], filename: str) -> None:
    after = {"format": options.fmt, "max_classification": options.max_level.value, "originals": options.originals,
             "filters": dict(filters), "case": case.ref if case is not None else None, "filename": filename,
             "counts": counts.as_dict()}
    if case is not None:
        audit.record(db, "export.create", actor=actor, obj=case, label=filename, after=after,
                     classification=options.max_level)
    else:
        audit.record(db, "export.create", actor=actor, panel_id=panel.id, object_type="panel", object_id=panel.id,
                     label=filename, after=after, classification=options.max_level)


__all__ = [
    "ExportCounts", "ExportFile", "ExportOptions", "FILTERS", "FORMATS", "create_export",
    "export_filename", "export_options", "item_filters", "record_export", "safe_ref", "selection", "writers",
]
