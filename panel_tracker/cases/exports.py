"""Exports of a case or of a filtered item list.

Three formats:

* ``csv`` and ``xlsx``: exactly the 26 columns of the import format, so that an export
  re-imports to the same items (CSV through ``import_format.write_csv``: CRLF, RFC 4180,
  UTF-8 without BOM; XLSX one header row, every text cell stored as text);
* ``zip``: full fidelity — ``items/<item_ref>.json`` per item with every field, its
  markings (with their photos and boxes) and its photos' metadata and receipts; the photo
  files (``photos/<sha256>-large.jpg`` derivatives, and ``photos/<sha256>.<ext>``
  originals only on request at panel level); ``export.json``; and ``manifest.sha256``
  (``sha256sum -c`` format) listing every other file.

Classification (domain.md §8): an export holds at most ``max_level``, which the caller
has already capped at the user's clearance (:func:`export_options`). Items above it are
left out; an item's source fields (``Item.SOURCE_FIELDS``) are emptied when its
``source_classification`` is above it; photos above it are left out; photo GPS appears
only for expert+ at panel level, and never in a derivative. Soft-deleted objects are
left out. Every export is recorded in the audit log by :func:`create_export`.

Files are written to a temporary file, never held in memory, and items are read in
batches, so a case of thousands of items and photos streams.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlmodel import Session, select

from .. import audit
from ..auth.models import Role, User
from ..classification import Classification, clearance_for, coerce, may_see, where_visible
from ..evidence.images import EXTENSIONS, MIME_TYPES
from ..evidence.models import Photo, PhotoReceipt
from ..validation import Invalid
from . import import_format, queries
from .models import Case, Inspection, Item, Marking, MarkingPhoto

FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}
#: The item-list filters an export accepts: those of the item list (``queries.ITEM_FILTERS``).
FILTERS: tuple[str, ...] = queries.ITEM_FILTERS
#: Items are read and written this many at a time.
BATCH = 500
_CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_EXT_BY_MIME = {mime: EXTENSIONS[fmt][0] for fmt, mime in MIME_TYPES.items()} | {"image/heif": ".heif"}


class ExportForbidden(Exception):
    """The user's role does not allow this export (the view answers 403)."""


@dataclass(frozen=True)
class ExportOptions:
    """What one export may contain, decided once from the user's role and the form."""

    fmt: str
    max_level: Classification
    originals: bool = False
    show_gps: bool = False  # photo GPS in the JSON: expert+ and a panel-level export only
    show_people: bool = False  # who created or received what: panel-level exports only


def export_options(role: Role | str, *, fmt: str | None, max_classification: str | None,
                   originals: bool = False) -> ExportOptions:
    """Check the export form against the user's role.

    Raises Invalid for a value that is not one of the choices, ExportForbidden for a level
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
            raise ExportForbidden(f"Your role may export up to {clearance.value} material, not {level.value}.")
    else:
        level = clearance
    if originals:
        if role.rank < Role.EXPERT.rank:
            raise ExportForbidden("Original photo files are for experts.")
        if fmt != "zip":
            raise Invalid({"originals": "Original photo files come in a ZIP export only."})
        if level != Classification.PANEL:
            # Originals keep their EXIF, GPS included: they may locate a source.
            raise Invalid({"originals": "Original photo files keep their EXIF and GPS; export them "
                                        "at panel level only (max_classification=panel)."})
    panel_level = level == Classification.PANEL
    return ExportOptions(fmt=fmt, max_level=level, originals=originals,
                         show_gps=panel_level and role.rank >= Role.EXPERT.rank, show_people=panel_level)


def item_filters(args: Mapping[str, str]) -> dict[str, str]:
    """The item-list filters present in ``args`` (query-string values), for the export and its audit."""
    return {name: args[name] for name in FILTERS if args.get(name)}


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
class ExportFile:
    """A finished export: an open temporary file (deleted when closed), positioned at 0."""

    file: IO[bytes]
    filename: str
    mimetype: str
    counts: ExportCounts
    original_photos: list[Photo] = field(default_factory=list)


# ------------------------------------------------------------------ selecting items


def item_ids(db: Session, panel_id: int, max_level: Classification, *, case: Case | None = None,
             filters: Mapping[str, str] | None = None) -> list[int]:
    """Ids of the items to export, in export order: by case, then by item number.

    Only the panel's items, not deleted, in a case that is not deleted, at most
    ``max_level``, and matching the item-list filters.
    """
    filters = dict(filters or {})
    has_photos = filters.pop("has_photos", None)
    # Case stays out of the outer FROM: filter_items' own subquery on Case must not correlate to it.
    live_cases = select(Case.id).where(Case.panel_id == panel_id, Case.deleted_at.is_(None),
                                       where_visible(Case.classification, max_level))
    case_ref = select(Case.ref).where(Case.id == Item.case_id).scalar_subquery()
    stmt = (select(Item.id)
            .where(Item.panel_id == panel_id, Item.deleted_at.is_(None), Item.case_id.in_(live_cases),
                   where_visible(Item.classification, max_level)))
    if case is not None:
        stmt = stmt.where(Item.case_id == case.id)
    stmt = queries.filter_items(stmt, filters)
    if has_photos in ("yes", "no", "true", "false", "1", "0"):
        # Only photos the export may hold count: a withheld photo must not show through a filter.
        has = sa.exists().where(Photo.item_id == Item.id, Photo.deleted_at.is_(None),
                                where_visible(Photo.classification, max_level))
        stmt = stmt.where(has if has_photos in ("yes", "true", "1") else ~has)
    # Natural order within a case (/99 before /100), as the import format numbers items.
    stmt = stmt.order_by(case_ref, sa.func.length(Item.item_ref), Item.item_ref)
    return list(db.exec(stmt).all())


def iter_items(db: Session, ids: list[int]) -> Iterator[list[tuple[Item, str]]]:
    """``(item, case_ref)`` in batches of :data:`BATCH`, in the order of ``ids``."""
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        rows = db.exec(select(Item, Case.ref).join(Case, Case.id == Item.case_id).where(Item.id.in_(chunk))).all()
        by_id = {item.id: (item, ref) for item, ref in rows}
        yield [by_id[i] for i in chunk if i in by_id]


def sources_withheld(item: Item, max_level: Classification) -> bool:
    return not may_see(max_level, item.source_classification)


def _value(value):
    return value.value if isinstance(value, Enum) else value


def item_record(item: Item, case_ref: str, max_level: Classification) -> dict:
    """The item as the 26 columns of the import format, its sources emptied when above ``max_level``.

    ``source_confidential`` is ``yes`` unless the sources are public, so a re-import never
    makes a source more public than it was.
    """
    withheld = sources_withheld(item, max_level)
    record = {
        "case_ref": case_ref,
        "item_ref": item.item_ref,
        "category": _value(item.category),
        "type": item.type,
        "make_marked": item.make_marked,
        "make_attributed": item.make_attributed,
        "model": item.model,
        "calibre": item.calibre_marked or item.calibre,
        "country_marked": item.country_marked,
        "country_attributed": item.country_attributed,
        "year_marked": item.year_marked,
        "serial": item.serial,
        "serial_legibility": _value(item.serial_legibility),
        "lot": item.lot,
        "factory_code": item.factory_code,
        "headstamp": item.headstamp,
        "import_mark": item.import_mark,
        "other_marks": item.other_marks,
        "quantity": item.quantity,
        "condition": _value(item.condition),
        "recovered_on": item.recovered_on,
        "recovered_place": item.recovered_place,
        "lat": item.lat,
        "lon": item.lon,
        "source_confidential": "no" if coerce(item.source_classification) == Classification.PUBLIC else "yes",
        "notes": item.notes,
    }
    if withheld:
        for name in Item.SOURCE_FIELDS:
            record[name] = None
    return {name: import_format.format_value(value) for name, value in record.items()}


def _records(db: Session, ids: list[int], options: ExportOptions, counts: ExportCounts) -> Iterator[dict]:
    for batch in iter_items(db, ids):
        for item, case_ref in batch:
            counts.items += 1
            counts.items_with_sources_withheld += sources_withheld(item, options.max_level)
            yield item_record(item, case_ref, options.max_level)


# ------------------------------------------------------------------ CSV and XLSX


def write_items_csv(db: Session, ids: list[int], options: ExportOptions, file: IO[bytes]) -> ExportCounts:
    counts = ExportCounts()
    import_format.write_csv(_records(db, ids, options, counts), file)
    return counts


def write_items_xlsx(db: Session, ids: list[int], options: ExportOptions, file: IO[bytes]) -> ExportCounts:
    """One sheet, one header row, the 26 columns. Text is stored as text (a value such as
    ``=1+1`` or ``0123`` stays what it is); quantity as a number."""
    counts = ExportCounts()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("items")
    sheet.append([_text_cell(sheet, name) for name in import_format.COLUMNS])
    for record in _records(db, ids, options, counts):
        sheet.append([int(value) if name == "quantity" else _text_cell(sheet, value)
                      for name, value in record.items()])
    workbook.save(file)
    return counts


def _text_cell(sheet, value: str) -> WriteOnlyCell | None:
    if value == "":
        return None
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


# ------------------------------------------------------------------ ZIP


def safe_ref(ref: str) -> str:
    """An item or case reference as a file name: ``/`` becomes ``_``, anything unusual ``-``."""
    return _SAFE_NAME.sub("-", ref.replace("/", "_")).strip(".-") or "item"


def _iso(value):
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _value(value)


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


_ITEM_JSON_SKIP = {"panel_id", "case_id", "inspection_id", "sighting_of_id", "created_by_id", "deleted_at",
                   "deleted_by_id", "deleted_reason", "serial_folded"}
_PHOTO_JSON_SKIP = {"panel_id", "case_id", "item_id", "created_by_id", "deleted_at", "deleted_by_id",
                    "deleted_reason", "purged_at", "exif", "gps_lat", "gps_lon"}


@dataclass
class _ZipContext:
    db: Session
    panel_code: str
    options: ExportOptions
    store: object  # evidence.storage.PhotoStore
    writer: _ZipWriter
    counts: ExportCounts
    written: set = field(default_factory=set)  # sha256 of photos whose files are in the ZIP
    originals: dict = field(default_factory=dict)  # photo id -> Photo, for the audit
    gps_shown: list = field(default_factory=list)  # photos whose GPS position is in the JSON, for the audit
    users: dict = field(default_factory=dict)

    def user_name(self, user_id: int | None) -> str | None:
        if user_id is None or not self.options.show_people:
            return None
        if user_id not in self.users:
            user = self.db.get(User, user_id)
            self.users[user_id] = user.name if user else None
        return self.users[user_id]


def write_items_zip(db: Session, ids: list[int], options: ExportOptions, file: IO[bytes], *, panel_code: str,
                    store, case: Case | None = None, filters: Mapping[str, str] | None = None,
                    exported_by: str = "") -> tuple[ExportCounts, list[Photo]]:
    """Write the full-fidelity ZIP; return the counts, the photos whose originals it holds and
    the photos whose GPS position it shows."""
    ctx = _ZipContext(db, panel_code, options, store, _ZipWriter(file), ExportCounts())
    try:
        for batch in iter_items(db, ids):
            _write_batch(ctx, batch)
        if case is not None:
            _write_case(ctx, case)
        ctx.writer.add_json("export.json", {
            "panel": panel_code,
            "case": case.ref if case is not None else None,
            "filters": dict(filters or {}),
            "max_classification": options.max_level.value,
            "originals": options.originals,
            "exported_at": datetime.now(timezone.utc),
            "exported_by": exported_by if options.show_people else None,
            "counts": ctx.counts.as_dict(),
            "format": "panel-tracker export 1: items/*.json, photos/, manifest.sha256 (sha256sum -c)",
        })
    finally:
        ctx.writer.close()
    return ctx.counts, list(ctx.originals.values()), list({p.id: p for p in ctx.gps_shown}.values())


def _write_batch(ctx: _ZipContext, batch: list[tuple[Item, str]]) -> None:
    db, level = ctx.db, ctx.options.max_level
    ids = [item.id for item, _ in batch]
    panel_id = batch[0][0].panel_id if batch else None
    markings: dict[int, list[Marking]] = {i: [] for i in ids}
    for marking in db.exec(select(Marking).where(Marking.item_id.in_(ids), Marking.deleted_at.is_(None))
                           .order_by(Marking.item_id, Marking.id)).all():
        markings[marking.item_id].append(marking)
    marking_ids = [m.id for ms in markings.values() for m in ms]
    links: dict[int, list[MarkingPhoto]] = {}
    if marking_ids:
        for link in db.exec(select(MarkingPhoto).where(MarkingPhoto.marking_id.in_(marking_ids))
                            .order_by(MarkingPhoto.id)).all():
            links.setdefault(link.marking_id, []).append(link)
    linked_photo_ids = {link.photo_id for ls in links.values() for link in ls}
    photo_filter = Photo.item_id.in_(ids)
    if linked_photo_ids:
        photo_filter = sa.or_(photo_filter, Photo.id.in_(linked_photo_ids))
    photos = {p.id: p for p in db.exec(
        select(Photo).where(Photo.panel_id == panel_id, photo_filter, Photo.deleted_at.is_(None),
                            Photo.purged_at.is_(None), where_visible(Photo.classification, level))
        .order_by(Photo.taken_at, Photo.id)).all()}
    receipts = _receipts(db, list(photos))
    inspections = _inspections(db, {item.inspection_id for item, _ in batch if item.inspection_id}, level)
    roots = _visible_refs(db, {item.sighting_of_id for item, _ in batch if item.sighting_of_id}, level)
    case_refs = _case_refs(db, {p.case_id for p in photos.values() if p.case_id}, level)
    item_refs = {item.id: item.item_ref for item, _ in batch}
    item_refs |= _visible_refs(db, {p.item_id for p in photos.values() if p.item_id} - set(item_refs), level)

    for item, case_ref in batch:
        ctx.counts.items += 1
        withheld = sources_withheld(item, level)
        ctx.counts.items_with_sources_withheld += withheld
        data = {name: getattr(item, name) for name in Item.model_fields if name not in _ITEM_JSON_SKIP}
        if withheld:
            for name in Item.SOURCE_FIELDS:
                data[name] = None if name in ("lat", "lon") else ""
        data.update(case_ref=case_ref, sources_withheld=withheld,
                    sighting_of=roots.get(item.sighting_of_id), inspection=inspections.get(item.inspection_id),
                    created_by=ctx.user_name(item.created_by_id))
        own_photo_ids = [p.id for p in photos.values() if p.item_id == item.id]
        data["markings"] = []
        for marking in markings[item.id]:
            shown = [link for link in links.get(marking.id, []) if link.photo_id in photos]
            data["markings"].append({
                **{name: getattr(marking, name) for name in ("id", "text", "kind", "location", "script",
                                                              "legibility", "symbol_shape", "notes", "created_at")},
                "created_by": ctx.user_name(marking.created_by_id),
                "photos": [{"photo_id": link.photo_id, "sha256": photos[link.photo_id].sha256,
                            "box": dict(zip(("x", "y", "w", "h"), link.box)) if link.box else None}
                           for link in shown],
            })
            ctx.counts.markings += 1
        shown_ids = own_photo_ids + [pid for m in data["markings"] for pid in (p["photo_id"] for p in m["photos"])
                                     if pid not in own_photo_ids]
        data["photos"] = [_photo_json(ctx, photos[pid], receipts.get(pid, []), case_refs, item_refs)
                          for pid in dict.fromkeys(shown_ids)]
        ctx.writer.add_json(f"items/{safe_ref(item.item_ref)}.json", data)


_EXIF_SHOWN_BELOW_PANEL = frozenset({"Make", "Model", "DateTimeOriginal", "OffsetTimeOriginal", "Orientation"})


def _photo_json(ctx: _ZipContext, photo: Photo, receipts: list[PhotoReceipt], case_refs: dict,
                item_refs: dict) -> dict:
    data = {name: getattr(photo, name) for name in Photo.model_fields if name not in _PHOTO_JSON_SKIP}
    data["created_by"] = ctx.user_name(photo.created_by_id)
    data["case_ref"] = case_refs.get(photo.case_id)
    data["item_ref"] = item_refs.get(photo.item_id)
    exif = dict(photo.exif or {})
    if not ctx.options.show_people:
        # EXIF can name people (Artist, CameraOwnerName) and identify a camera (BodySerialNumber):
        # below panel level only what says when and with what kind of camera.
        exif = {key: value for key, value in exif.items() if key in _EXIF_SHOWN_BELOW_PANEL}
    if ctx.options.show_gps:
        data["gps_lat"], data["gps_lon"] = photo.gps_lat, photo.gps_lon
        if photo.gps_lat is not None:
            ctx.gps_shown.append(photo)
    else:
        exif = {key: value for key, value in exif.items() if not key.upper().startswith("GPS")}
    data["exif"] = exif
    data["files"] = _photo_files(ctx, photo)
    data["receipts"] = [_receipt_json(ctx, receipt) for receipt in receipts]
    return data


def _photo_files(ctx: _ZipContext, photo: Photo) -> dict:
    large = f"photos/{photo.sha256}-large.jpg"
    original = f"photos/{photo.sha256}{_EXT_BY_MIME.get(photo.mime, '.bin')}"
    if photo.sha256 not in ctx.written:
        ctx.written.add(photo.sha256)
        ctx.counts.photos += 1
        if ctx.writer.add_file(large, ctx.store.derivative_path(ctx.panel_code, photo.sha256, "large")):
            ctx.counts.derivatives += 1
        else:
            ctx.counts.missing_files += 1
        if ctx.options.originals:
            if ctx.writer.add_file(original, ctx.store.original_path(ctx.panel_code, photo.sha256)):
                ctx.counts.originals += 1
                ctx.originals[photo.id] = photo
            else:
                ctx.counts.missing_files += 1
    present = ctx.writer.paths
    files = {"large": large if large in present else None}
    if ctx.options.originals:
        files["original"] = original if original in present else None
    return files


def _receipt_json(ctx: _ZipContext, receipt: PhotoReceipt) -> dict:
    data = {"id": receipt.id, "received_at": receipt.received_at, "channel": receipt.channel,
            "is_original": receipt.is_original, "duplicate_of_id": receipt.duplicate_of_id}
    if ctx.options.show_people:
        # Where a file came from and what its sender called it can point at a source.
        data.update(source=receipt.source, filename=receipt.filename, note=receipt.note,
                    received_by=ctx.user_name(receipt.received_by_id))
    return data


def _receipts(db: Session, photo_ids: list[int]) -> dict[int, list[PhotoReceipt]]:
    result: dict[int, list[PhotoReceipt]] = {}
    if photo_ids:
        for receipt in db.exec(select(PhotoReceipt).where(PhotoReceipt.photo_id.in_(photo_ids))
                               .order_by(PhotoReceipt.received_at, PhotoReceipt.id)).all():
            result.setdefault(receipt.photo_id, []).append(receipt)
    return result


def _inspections(db: Session, ids: set[int], level: Classification) -> dict[int, dict]:
    if not ids:
        return {}
    rows = db.exec(select(Inspection).where(Inspection.id.in_(ids), Inspection.deleted_at.is_(None),
                                            where_visible(Inspection.classification, level))).all()
    fields = ("id", "inspected_on", "place", "custodian", "access_mode", "inspectors", "notes", "classification")
    return {row.id: {name: getattr(row, name) for name in fields} for row in rows}


def _visible_refs(db: Session, ids: set[int], level: Classification) -> dict[int, str]:
    """item_refs of other items, only of those the export may name."""
    if not ids:
        return {}
    rows = db.exec(select(Item.id, Item.item_ref).where(Item.id.in_(ids), Item.deleted_at.is_(None),
                                                       where_visible(Item.classification, level))).all()
    return dict(rows)


def _case_refs(db: Session, ids: set[int], level: Classification) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.exec(select(Case.id, Case.ref).where(Case.id.in_(ids), Case.deleted_at.is_(None),
                                                       where_visible(Case.classification, level))).all())


def _write_case(ctx: _ZipContext, case: Case) -> None:
    """``case.json``: the case's own fields when the export may hold them, and its photos
    that belong to no item."""
    level = ctx.options.max_level
    data: dict = {"ref": case.ref}
    if may_see(level, case.classification):
        data.update({name: getattr(case, name) for name in ("id", "title", "summary", "status",
                                                            "country_of_seizure", "classification",
                                                            "created_at")})
        data["created_by"] = ctx.user_name(case.created_by_id)
    else:
        data["withheld"] = True
    photos = ctx.db.exec(select(Photo).where(Photo.case_id == case.id, Photo.item_id.is_(None),
                                             Photo.deleted_at.is_(None), Photo.purged_at.is_(None),
                                             where_visible(Photo.classification, level))
                         .order_by(Photo.taken_at, Photo.id)).all()
    receipts = _receipts(ctx.db, [p.id for p in photos])
    data["photos"] = [_photo_json(ctx, p, receipts.get(p.id, []), {case.id: case.ref}, {}) for p in photos]
    ctx.writer.add_json("case.json", data)


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
    ids = item_ids(db, panel.id, options.max_level, case=case, filters=filters)
    if tmp_dir is not None:
        Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    file = tempfile.TemporaryFile(dir=tmp_dir, prefix="export-")
    originals: list[Photo] = []
    gps_shown: list[Photo] = []
    try:
        if options.fmt == "csv":
            counts = write_items_csv(db, ids, options, file)
        elif options.fmt == "xlsx":
            counts = write_items_xlsx(db, ids, options, file)
        else:
            counts, originals, gps_shown = write_items_zip(db, ids, options, file, panel_code=panel.code, store=store,
                                                case=case, filters=filters,
                                                exported_by=getattr(actor, "email", "") or "")
        file.seek(0)
    except BaseException:
        file.close()
        raise
    filename = export_filename(panel.code, case, options.fmt)
    record_export(db, panel, options, counts, actor=actor, case=case, filters=filters, filename=filename)
    if originals:
        audit.record_many(db, [{
            "action": "photo.download_original", "panel_id": photo.panel_id, "object_type": photo.__tablename__,
            "object_id": photo.id, "label": f"photo {photo.sha256[:12]}", "classification": photo.classification,
            "after": {"via": "export", "export": filename},
        } for photo in originals], actor=actor)
    if gps_shown:  # as when an expert looks at one photo's position
        audit.record_many(db, [{
            "action": "photo.view_gps", "panel_id": photo.panel_id, "object_type": photo.__tablename__,
            "object_id": photo.id, "label": f"photo {photo.sha256[:12]}", "classification": photo.classification,
            "after": {"via": "export", "export": filename},
        } for photo in gps_shown], actor=actor)
    db.flush()
    return ExportFile(file, filename, FORMATS[options.fmt], counts, originals)


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


def copy_to(export: ExportFile, target: IO[bytes]) -> None:
    """Copy a finished export to another file (the CLI writes it to disk)."""
    export.file.seek(0)
    shutil.copyfileobj(export.file, target, _CHUNK)


__all__ = [
    "BATCH", "ExportCounts", "ExportFile", "ExportForbidden", "ExportOptions", "FILTERS", "FORMATS",
    "create_export", "export_filename", "export_options", "item_filters", "item_ids", "item_record",
    "iter_items", "record_export", "safe_ref", "sources_withheld", "write_items_csv",
    "write_items_xlsx", "write_items_zip",
]
