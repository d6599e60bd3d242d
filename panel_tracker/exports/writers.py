"""The export files, written from the records of ``selection.py``.

* ``csv`` and ``xlsx``: exactly the 26 columns of the import format, so that an export
  re-imports to the same items (CSV through ``import_format.write_csv``: CRLF, RFC 4180,
  UTF-8 without BOM, every text cell through ``import_format.csv_safe`` so a spreadsheet
  never runs it as a formula; XLSX one header row, every text cell stored as text);
* ``zip``: full fidelity — ``items/<item_ref>.json`` per item with every field, its
  markings (with their photos and boxes) and its photos' metadata and receipts; the photo
  files (``photos/<sha256>-large.jpg`` derivatives, and ``photos/<sha256>.<ext>``
  originals only on request); ``case.json`` for a case; ``export.json``; and
  ``manifest.sha256`` (``sha256sum -c`` format) listing every other file.

Files are written to the file given, never held in memory, and items are read in batches.
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlmodel import Session

from .. import visibility
from ..cases import import_format
from ..cases.models import Case
from ..evidence.images import EXTENSIONS, MIME_TYPES
from . import selection

_CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_EXT_BY_MIME = {mime: EXTENSIONS[fmt][0] for fmt, mime in MIME_TYPES.items()} | {"image/heif": ".heif"}


@dataclass
class ExportCounts:
    items: int = 0
    items_with_sources_withheld: int = 0
    markings: int = 0
    photos: int = 0
    derivatives: int = 0
    originals: int = 0
    missing_files: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Written:
    """What a writer wrote: counts, and the photos (records) whose original files or GPS
    positions the file holds, for the audit."""

    counts: ExportCounts = field(default_factory=ExportCounts)
    originals: list[dict] = field(default_factory=list)
    gps_shown: list[dict] = field(default_factory=list)


def safe_ref(ref: str) -> str:
    """An item or case reference as a file name: ``/`` becomes ``_``, anything unusual ``-``."""
    return _SAFE_NAME.sub("-", ref.replace("/", "_")).strip(".-") or "item"


# ------------------------------------------------------------------ CSV and XLSX


def _rows(db: Session, ids: list[int], reader: visibility.Reader, counts: ExportCounts) -> Iterator[dict]:
    """The 26 columns of each item as text of the import format."""
    for batch in selection.iter_items(db, ids):
        for item, case_ref in batch:
            counts.items += 1
            counts.items_with_sources_withheld += selection.sources_withheld(item, reader)
            row = selection.item_row(item, case_ref, reader)
            yield {name: import_format.format_value(value) for name, value in row.items()}


def write_csv(db: Session, ids: list[int], reader: visibility.Reader, file: IO[bytes]) -> Written:
    written = Written()
    import_format.write_csv(map(import_format.csv_safe_record, _rows(db, ids, reader, written.counts)), file)
    return written


def write_xlsx(db: Session, ids: list[int], reader: visibility.Reader, file: IO[bytes]) -> Written:
    """One sheet, one header row, the 26 columns. Text is stored as text (a value such as
    ``=1+1`` or ``0123`` stays what it is); quantity as a number."""
    written = Written()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("items")
    sheet.append([_text_cell(sheet, name) for name in import_format.COLUMNS])
    for row in _rows(db, ids, reader, written.counts):
        sheet.append([int(value) if name == "quantity" else _text_cell(sheet, value) for name, value in row.items()])
    workbook.save(file)
    return written


def _text_cell(sheet, value: str) -> WriteOnlyCell | None:
    if value == "":
        return None
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


# ------------------------------------------------------------------ ZIP


def _iso(value):
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value.value if isinstance(value, Enum) else value


class _ZipWriter:
    """Adds files to a ZIP, hashing each as it goes, for the manifest."""

    def __init__(self, file: IO[bytes]):
        self.zip = zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.hashes: list[tuple[str, str]] = []
        self.paths: set[str] = set()
        self.stamp = datetime.now(timezone.utc).timetuple()[:6]

    def _info(self, path: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(path, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def add_bytes(self, path: str, data: bytes, *, listed: bool = True) -> None:
        self.zip.writestr(self._info(path, True), data)
        if listed:
            self.hashes.append((hashlib.sha256(data).hexdigest(), path))
            self.paths.add(path)

    def add_json(self, path: str, value) -> None:
        self.add_bytes(path, (json.dumps(value, ensure_ascii=False, indent=2, default=_iso) + "\n").encode("utf-8"))

    def add_file(self, path: str, source: Path) -> bool:
        """Copy a file from disk (images are stored, not deflated again); False if it is missing."""
        digest = hashlib.sha256()
        try:
            handle = open(source, "rb")
        except FileNotFoundError:
            return False
        with handle, self.zip.open(self._info(path, False), "w", force_zip64=True) as out:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        self.hashes.append((digest.hexdigest(), path))
        self.paths.add(path)
        return True

    def close(self) -> None:
        manifest = "".join(f"{sha}  {path}\n" for sha, path in self.hashes)
        self.add_bytes("manifest.sha256", manifest.encode("utf-8"), listed=False)
        self.zip.close()


@dataclass
class _Zip:
    writer: _ZipWriter
    panel_code: str
    store: object  # evidence.storage.PhotoStore
    originals: bool
    written: Written = field(default_factory=Written)
    files: set = field(default_factory=set)  # sha256 of photos whose files are in the ZIP
    gps_ids: set = field(default_factory=set)

    def photo(self, record: dict) -> dict:
        """The photo's files (added once per SHA-256) named in its record."""
        counts, sha = self.written.counts, record["sha256"]
        large = f"photos/{sha}-large.jpg"
        original = f"photos/{sha}{_EXT_BY_MIME.get(record['mime'], '.bin')}"
        if sha not in self.files:
            self.files.add(sha)
            counts.photos += 1
            if self.writer.add_file(large, self.store.derivative_path(self.panel_code, sha, "large")):
                counts.derivatives += 1
            else:
                counts.missing_files += 1
            if self.originals:
                if self.writer.add_file(original, self.store.original_path(self.panel_code, sha)):
                    counts.originals += 1
                    self.written.originals.append(record)
                else:
                    counts.missing_files += 1
        if record.get("gps_lat") is not None and record["id"] not in self.gps_ids:
            self.gps_ids.add(record["id"])
            self.written.gps_shown.append(record)
        files = {"large": large if large in self.writer.paths else None}
        if self.originals:
            files["original"] = original if original in self.writer.paths else None
        return {**record, "files": files}


def write_zip(db: Session, ids: list[int], reader: visibility.Reader, file: IO[bytes], *, panel_code: str,
              store, originals: bool = False, case: Case | None = None, filters: Mapping[str, str] | None = None,
              exported_by: str = "") -> Written:
    """Write the full-fidelity ZIP of what ``reader`` may see of the items ``ids``."""
    out = _Zip(_ZipWriter(file), panel_code, store, originals)
    people = selection.People(db)
    counts = out.written.counts
    try:
        for batch in selection.iter_items(db, ids):
            for record in selection.item_records(db, batch, reader, people):
                counts.items += 1
                counts.items_with_sources_withheld += record["sources_withheld"]
                counts.markings += len(record["markings"])
                record["photos"] = [out.photo(p) for p in record["photos"]]
                out.writer.add_json(f"items/{safe_ref(record['item_ref'])}.json", record)
        if case is not None:
            record = selection.case_record(db, case, reader, people)
            record["photos"] = [out.photo(p) for p in record["photos"]]
            out.writer.add_json("case.json", record)
        out.writer.add_json("export.json", {
            "panel": panel_code,
            "case": case.ref if case is not None else None,
            "filters": dict(filters or {}),
            "max_classification": reader.clearance.value,
            "originals": originals,
            "exported_at": datetime.now(timezone.utc),
            "exported_by": exported_by if reader.panel_level else None,
            "counts": counts.as_dict(),
            "format": "panel-tracker export 1: items/*.json, photos/, manifest.sha256 (sha256sum -c)",
        })
    finally:
        out.writer.close()
    return out.written
