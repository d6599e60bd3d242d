"""Bulk photo import: a day's photos from a folder or a ZIP, in the order they were taken.

An expert comes back from a depot with hundreds of photos from two or three cameras, a
label card photographed before each item. This module

1. stages the upload (:func:`create_bulk_import`): files are saved under
   ``instance/bulk_staging/<import id>/`` by number; a ZIP is kept whole and its members
   checked (no absolute paths, no ``..``, no links, no encrypted members, a cap on the
   number of files and on their total size). Names the sender gave are metadata only;
2. receives every file (:func:`run_bulk_import`, a background job): each goes through
   :func:`~panel_tracker.evidence.services.receive_photo` with the channel ``bulk_import``
   and its camera's clock correction. A file refused (not an image, too large, purged)
   is reported with the reason and the rest carry on; a file the panel already holds is
   counted as a duplicate receipt;
3. sorts the photos by corrected EXIF time (photos without a time last, by name), and
4. assigns photos to items, from a mapping CSV (``file,item_ref``) or afterwards by
   marking the label cards in the sequence (:func:`assign_by_label_cards`). Every change
   to a photo goes through the audited services.

Services flush; the job commits after each file (one photo, one transaction) so the
progress bar moves and a failure loses nothing already received.
"""
from __future__ import annotations

import csv
import io
import logging
import re
import shutil
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import IO

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from .. import audit
from ..auth.models import Membership, Panel, User
from ..cases.models import Case, Item
from ..classification import clearance_for, may_see
from ..db import utcnow
from ..validation import Invalid
from . import services
from .bulk_models import BulkImport, BulkImportStatus
from .models import Channel, Photo

log = logging.getLogger(__name__)

#: Limits, overridable in the config chain (``PANEL_TRACKER_BULK_IMPORT_MAX_FILES=...``).
DEFAULTS = {
    "BULK_IMPORT_MAX_FILES": 5000,  # files in one import (a ZIP bomb of empty members stops here)
    "BULK_IMPORT_MAX_BYTES": 8 * 1024**3,  # total size once unpacked (a ZIP bomb's ratio stops here)
    "BULK_IMPORT_STAGING": None,  # None: instance/bulk_staging
    "BULK_IMPORT_SYNC": False,  # True: run the import inside the request (tests, debugging)
}
MAPPING_MAX_BYTES = 5 * 1024 * 1024
CHUNK = 1024 * 1024
JOB = "panel_tracker.evidence.bulk.run_bulk_import"

#: Files computers leave in folders and ZIPs; reported, never offered to the photo store.
HOUSEKEEPING = {".ds_store", "thumbs.db", "desktop.ini", ".picasa.ini"}


def setting(name: str, app=None):
    value = (app or current_app).config.get(name)
    return DEFAULTS[name] if value is None else value


def _mb(size: int) -> str:
    if size < 1024**2:
        return f"{size / 1024:,.0f} kB"
    return f"{size / 1024**2:,.0f} MB" if size < 1024**3 else f"{size / 1024**3:,.1f} GB"


# ------------------------------------------------------------------ clock corrections

_OFFSET_CLOCK = re.compile(r"(?P<h>\d{1,4}):(?P<m>[0-5]\d):(?P<s>[0-5]\d)")
_OFFSET_UNITS = re.compile(r"(?:\d+\s*[dhms]\s*)+")
_UNIT = re.compile(r"(\d+)\s*([dhms])")
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_OFFSET = 100 * 366 * 86400  # a camera whose clock was never set is years out, not centuries


def parse_offset(text: str) -> int:
    """``+00:03:10`` -> 190, ``-45s`` -> -45, ``+1h2m`` -> 3720; ValueError if unreadable."""
    raw = text.strip()
    sign = -1 if raw.startswith("-") else 1
    body = raw.lstrip("+-").strip()
    if match := _OFFSET_CLOCK.fullmatch(body):
        seconds = int(match["h"]) * 3600 + int(match["m"]) * 60 + int(match["s"])
    elif _OFFSET_UNITS.fullmatch(body):
        seconds = sum(int(n) * _SECONDS[u] for n, u in _UNIT.findall(body))
    else:
        raise ValueError(raw)
    if seconds > MAX_OFFSET:
        raise ValueError(raw)
    return sign * seconds


def format_offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(int(seconds)), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def camera_key(name: str) -> str:
    return " ".join((name or "").split()).casefold()


def camera_label(make: str | None, model: str | None) -> str:
    """How a person names the camera: "Canon EOS 90D" (the make only when the model lacks it)."""
    make, model = " ".join((make or "").split()), " ".join((model or "").split())
    if model.casefold().startswith(make.casefold()):
        return model
    return f"{make} {model}".strip()


def parse_clock_corrections(text: str) -> dict[str, int]:
    """One camera a line: ``Canon EOS 90D = +00:02:00`` (or ``Nikon D750, -45s``).

    The offset is what to add to the camera's time to get the true time: a clock two
    minutes slow is ``+00:02:00``. Raises Invalid for the field, naming the line.
    """
    offsets: dict[str, int] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        separator = "=" if "=" in line else ","
        name, _, offset = line.rpartition(separator)
        name = " ".join(name.split())
        if not name or not offset.strip():
            raise Invalid({"clock_corrections": f"Line {number}: write the camera, then = and the offset, "
                                                f"e.g. Canon EOS 90D = +00:02:00."})
        try:
            seconds = parse_offset(offset)
        except ValueError:
            raise Invalid({"clock_corrections": f"Line {number}: {offset.strip()!r} is not an offset; "
                                                f"write +HH:MM:SS (e.g. +00:03:10) or seconds and minutes "
                                                f"(e.g. -45s, +2m30s)."}) from None
        if camera_key(name) in {camera_key(n) for n in offsets}:
            raise Invalid({"clock_corrections": f"Line {number}: {name} is given twice."})
        offsets[name] = seconds
    return offsets


def format_clock_corrections(offsets: dict[str, int]) -> str:
    return "\n".join(f"{name} = {format_offset(seconds)}" for name, seconds in offsets.items())


def offset_for(offsets: dict[str, int], make: str | None, model: str | None) -> int:
    """The correction for this camera: matched by "Make Model", the model alone, or the label."""
    wanted = {camera_key(camera_label(make, model)), camera_key(model or ""), camera_key(f"{make or ''} {model or ''}")}
    wanted.discard("")
    for name, seconds in offsets.items():
        if camera_key(name) in wanted:
            return int(seconds)
    return 0


# ------------------------------------------------------------------ mapping CSV


def parse_mapping(stream: IO[bytes]) -> list[dict]:
    """Rows of a ``file,item_ref`` CSV as ``[{"line", "file", "item_ref"}]``.

    A missing header or an unreadable file is an error for the form field; a bad row is
    reported by line number once the import has run (the other rows still apply).
    """
    data = stream.read(MAPPING_MAX_BYTES + 1)
    if len(data) > MAPPING_MAX_BYTES:
        raise Invalid({"mapping": f"The mapping CSV is larger than {_mb(MAPPING_MAX_BYTES)}; "
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


# ------------------------------------------------------------------ staging


def staging_root(app=None) -> Path:
    app = app or current_app
    return Path(setting("BULK_IMPORT_STAGING", app) or Path(app.instance_path) / "bulk_staging").resolve()


def staging_dir(bulk_id: int, app=None) -> Path:
    root = staging_root(app)
    path = (root / str(int(bulk_id))).resolve()
    if path.parent != root:  # cannot happen with an int; the check is the promise
        raise ValueError("staging path outside the staging root")
    return path


def display_name(name: str) -> str:
    """A sent file's name as shown and matched: forward slashes, printable, at most 255 characters."""
    cleaned = "".join(ch for ch in (name or "").replace("\\", "/") if ch.isprintable()).strip()
    return cleaned[-255:] or "(no name)"


def basename(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def unsafe_member(info: zipfile.ZipInfo) -> str | None:
    """Why a ZIP member must not be extracted, or None. Its name is never used as a path
    anyway; these members are refused because a folder of photos does not contain them."""
    raw = info.filename.replace("\\", "/")
    parts = PurePosixPath(raw).parts
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or ".." in parts or "\x00" in raw:
        return "unsafe name in the ZIP (an absolute path or ..); not extracted"
    mode = info.external_attr >> 16
    if (mode & 0o170000) == 0o120000:
        return "a symbolic link in the ZIP; links are not followed"
    if mode and (mode & 0o170000) not in (0, 0o100000):
        return "not a regular file in the ZIP; not extracted"
    if info.flag_bits & 0x1:
        return "encrypted in the ZIP; export the photos without a password"
    return None


def housekeeping(name: str) -> bool:
    parts = name.split("/")
    base = parts[-1].casefold()
    return "__MACOSX" in parts[:-1] or base.startswith("._") or base in HOUSEKEEPING


def _copy_limited(src: IO[bytes], dest: Path, limit: int) -> int | None:
    """Copy at most ``limit`` bytes; return the size, or None (and no file) if there was more."""
    size = 0
    with open(dest, "xb") as out:
        while chunk := src.read(CHUNK):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        dest.unlink()
        return None
    return size


@dataclass
class Upload:
    """A file of the request: the name the browser sent (metadata only) and its stream."""

    name: str
    stream: IO[bytes]


def create_bulk_import(db: Session, panel, case: Case, actor, uploads: list[Upload], *,
                       mapping: list[dict] | None = None, clock_offsets: dict[str, int] | None = None,
                       source: str = "", is_original: bool = True) -> BulkImport:
    """Record an import and stage its files; raise Invalid (for the ``files`` field) if refused.

    Nothing is left behind when refused: the staging folder is removed and the caller
    rolls back.
    """
    uploads = [u for u in uploads if u.name]
    if not uploads:
        raise Invalid({"files": "Choose a ZIP of the day's photos, a folder, or the photos themselves."})
    max_files, max_bytes = setting("BULK_IMPORT_MAX_FILES"), setting("BULK_IMPORT_MAX_BYTES")
    photo_max = current_app.config["PHOTO_MAX_BYTES"]
    bulk = BulkImport(panel_id=panel.id, case_id=case.id, created_by_id=getattr(actor, "id", None),
                      source=(source or "").strip()[:300], is_original=is_original, mapping=mapping or [],
                      clock_offsets=clock_offsets or {})
    db.add(bulk)
    db.flush()
    folder = staging_dir(bulk.id)
    folder.mkdir(parents=True, mode=0o750)
    entries: list[dict] = []
    declared = 0
    try:
        for number, upload in enumerate(uploads, start=1):
            name = display_name(upload.name)
            if name.casefold().endswith(".zip"):
                staged = f"upload-{number}.zip"
                if _copy_limited(upload.stream, folder / staged, max_bytes) is None:
                    raise Invalid({"files": f"{name} is larger than {_mb(max_bytes)}, the limit for one import."})
                members, size = _list_zip(folder / staged, name, staged, photo_max)
                entries += members
                declared += size
            else:
                staged = f"{len(entries) + 1:05d}"
                size = _copy_limited(upload.stream, folder / staged, photo_max)
                if size is None:
                    entries.append({"name": name, "skip": f"larger than {_mb(photo_max)}, the limit for one photo"})
                    continue
                declared += size
                entries.append({"name": name, "staged": staged})
            if len(entries) > max_files:
                raise Invalid({"files": f"More than {max_files:,} files in one import. Split the day's photos "
                                        f"into several ZIPs."})
            if declared > max_bytes:
                raise Invalid({"files": f"The files come to more than {_mb(max_bytes)} once unpacked, the limit "
                                        f"for one import. Split them into several ZIPs."})
        if not entries:
            raise Invalid({"files": "The ZIP holds no files."})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    bulk.files, bulk.total = entries, len(entries)
    bulk.updated_at = utcnow()
    db.add(bulk)
    audit.record(db, "bulk_import.create", actor=actor, obj=bulk, label=f"bulk import {bulk.id} into {case.ref}",
                 after={"case_id": case.id, "files": len(entries), "source": bulk.source,
                        "is_original": is_original, "mapping_rows": len(bulk.mapping),
                        "clock_offsets": bulk.clock_offsets}, classification=case.classification)
    db.flush()
    return bulk


def _list_zip(path: Path, name: str, staged: str, photo_max: int) -> tuple[list[dict], int]:
    """The members of an uploaded ZIP as staging entries, and their declared total size."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise Invalid({"files": f"{name} is not a ZIP file that can be read. Make it again (e.g. “Compress” "
                                f"or “Send to → Compressed folder”) and choose it again."}) from None
    entries, declared = [], 0
    for index, info in enumerate(infos):
        if info.is_dir():
            continue
        member = display_name(info.filename)
        problem = unsafe_member(info)
        if problem is None and housekeeping(member):
            problem = "a file the computer made (macOS or Windows housekeeping), not a photo"
        if problem is None and info.file_size > photo_max:
            problem = f"larger than {_mb(photo_max)}, the limit for one photo"
        if problem is None and member.casefold().endswith(".zip"):
            problem = "a ZIP inside the ZIP is not opened; send it on its own"
        if problem:
            entries.append({"name": member, "skip": problem})
            continue
        declared += info.file_size
        entries.append({"name": member, "zip": staged, "member": index})
    return entries, declared


# ------------------------------------------------------------------ the job


@dataclass
class _Run:
    bulk: BulkImport
    panel: Panel
    case: Case
    actor: User | None
    folder: Path
    skipped: list = field(default_factory=list)
    processed: int = 0
    accepted: int = 0
    duplicates: int = 0
    unpacked: int = 0
    over_budget: bool = False
    archives: dict = field(default_factory=dict)

    def save_progress(self, db: Session) -> None:
        bulk = self.bulk
        bulk.processed, bulk.accepted, bulk.duplicates = self.processed, self.accepted, self.duplicates
        bulk.skipped = list(self.skipped)
        bulk.updated_at = utcnow()
        db.add(bulk)
        db.commit()


def run_bulk_import(bulk_id: int) -> None:
    """The background job: receive every staged file, sort, apply the mapping; never raises."""
    from ..db import get_session

    db = get_session()
    bulk = db.get(BulkImport, bulk_id)
    if bulk is None or bulk.status != BulkImportStatus.QUEUED:
        log.warning("bulk import %s is not waiting to run (%s); nothing done", bulk_id,
                    bulk.status.value if bulk else "missing")
        return
    bulk.status, bulk.started_at = BulkImportStatus.RUNNING, utcnow()
    bulk.updated_at = bulk.started_at
    db.add(bulk)
    db.commit()
    run = _Run(bulk, db.get(Panel, bulk.panel_id), db.get(Case, bulk.case_id),
               db.get(User, bulk.created_by_id) if bulk.created_by_id else None, staging_dir(bulk.id))
    try:
        results = _receive_all(db, run)
        bulk.files = results
        apply_clock_offsets(db, bulk, run.actor)
        sort_sequence(db, bulk)
        _apply_mapping(db, run, results)
        bulk.status = BulkImportStatus.DONE
        db.add(bulk)
        db.commit()
    except Exception as exc:  # the import's record must say it stopped; the log has the trace
        log.exception("bulk import %s failed", bulk_id)
        db.rollback()
        bulk = db.get(BulkImport, bulk_id)
        bulk.status = BulkImportStatus.FAILED
        bulk.error = (f"The import stopped after {bulk.processed} of {bulk.total} files "
                      f"({type(exc).__name__}). Photos received so far are kept; import the rest again.")
    finally:
        for archive in run.archives.values():
            archive.close()
        shutil.rmtree(run.folder, ignore_errors=True)
    bulk.finished_at = bulk.updated_at = utcnow()
    db.add(bulk)
    db.commit()


def _receive_all(db: Session, run: _Run) -> list[dict]:
    bulk = run.bulk
    results = [dict(entry) for entry in bulk.files]
    offsets = dict(bulk.clock_offsets or {})
    for number, entry in enumerate(results, start=1):
        reason = entry.get("skip")
        path = None
        if reason is None:
            path, reason = _materialise(run, entry, number)
        if reason is None:
            try:
                make, model = _peek_camera(path)
                with open(path, "rb") as stream:
                    received = services.receive_photo(
                        db, run.panel, stream, filename=basename(entry["name"]), actor=run.actor,
                        case_id=run.case.id, source=bulk.source, channel=Channel.BULK_IMPORT,
                        is_original=bulk.is_original, note=f"bulk import {bulk.id}: {entry['name']}"[:2000],
                        clock_offset_seconds=offset_for(offsets, make, model))
            except Invalid as exc:
                db.rollback()
                reason = _without_name(next(iter(exc.errors.values())), basename(entry["name"]))
            except sa.exc.IntegrityError:  # the same bytes arrived at the same moment by another upload
                db.rollback()
                reason = "received at the same moment by another upload; check the case's photos"
            else:
                entry.update(photo_id=received.photo.id, receipt_id=received.receipt.id,
                             outcome="duplicate" if received.duplicate else "accepted")
                if received.duplicate:
                    entry["duplicate_of_receipt"] = received.receipt.duplicate_of_id
                    run.duplicates += 1
                else:
                    run.accepted += 1
            finally:
                path.unlink(missing_ok=True)
        if reason is not None:
            entry["outcome"] = "skipped"
            run.skipped.append({"file": entry["name"], "reason": reason})
        run.processed += 1
        run.save_progress(db)
    return results


def _without_name(message: str, name: str) -> str:
    return message[len(name) + 2:] if name and message.startswith(f"{name}: ") else message


def _materialise(run: _Run, entry: dict, number: int) -> tuple[Path | None, str | None]:
    """The staged file of an entry, unpacking a ZIP member under a numbered name."""
    if "staged" in entry:
        return run.folder / entry["staged"], None
    if run.over_budget:
        return None, (f"not unpacked: the ZIP came to more than {_mb(setting('BULK_IMPORT_MAX_BYTES'))} "
                      f"once unpacked (its sizes were false)")
    archive = run.archives.get(entry["zip"])
    if archive is None:
        archive = run.archives[entry["zip"]] = zipfile.ZipFile(run.folder / entry["zip"])
    info = archive.infolist()[entry["member"]]
    dest = run.folder / f"m{number:05d}"
    photo_max = current_app.config["PHOTO_MAX_BYTES"]
    budget = setting("BULK_IMPORT_MAX_BYTES") - run.unpacked
    try:
        with archive.open(info) as src:
            size = _copy_limited(src, dest, min(photo_max, budget))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        dest.unlink(missing_ok=True)
        log.info("bulk import %s: member %r unreadable: %s", run.bulk.id, entry["name"], exc)
        return None, "could not be read from the ZIP (damaged, or packed in a way we cannot read)"
    if size is None:
        if budget < photo_max:
            run.over_budget = True
            return None, (f"not unpacked: the ZIP came to more than {_mb(setting('BULK_IMPORT_MAX_BYTES'))} "
                          f"once unpacked (its sizes were false)")
        return None, f"larger than {_mb(photo_max)}, the limit for one photo"
    run.unpacked += size
    return dest, None


def _peek_camera(path: Path) -> tuple[str | None, str | None]:
    """The camera's make and model from EXIF, without decoding pixels (to pick its clock correction)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            exif = im.getexif()
            return _exif_text(exif.get(0x010F)), _exif_text(exif.get(0x0110))
    except Exception:  # not an image: receive_photo refuses it with the reason
        return None, None


def _exif_text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00").strip() or None


# ------------------------------------------------------------------ order and clocks


def photos_of(db: Session, bulk: BulkImport) -> dict[int, Photo]:
    ids = sorted({e["photo_id"] for e in bulk.files if e.get("photo_id")})
    if not ids:
        return {}
    rows = db.exec(select(Photo).where(Photo.panel_id == bulk.panel_id, Photo.id.in_(ids))).all()
    return {p.id: p for p in rows}


def names_by_photo(bulk: BulkImport) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for entry in bulk.files:
        if entry.get("photo_id"):
            names.setdefault(entry["photo_id"], []).append(entry["name"])
    return names


def apply_clock_offsets(db: Session, bulk: BulkImport, actor) -> int:
    """Set the corrected time of each photo this import created from its camera's offset; audited."""
    created = {e["photo_id"] for e in bulk.files if e.get("outcome") == "accepted"}
    changed = 0
    for photo in photos_of(db, bulk).values():
        if photo.id not in created or photo.taken_at is None:
            continue
        corrected = photo.taken_at + timedelta(seconds=offset_for(bulk.clock_offsets or {}, photo.camera_make,
                                                                  photo.camera_model))
        if photo.taken_at_corrected != corrected:
            audit.record(db, "photo.update", actor=actor, obj=photo, label=f"photo {photo.sha256[:12]}",
                         before={"taken_at_corrected": photo.taken_at_corrected},
                         after={"taken_at_corrected": corrected}, classification=photo.classification)
            photo.taken_at_corrected = corrected
            db.add(photo)
            changed += 1
    db.flush()
    return changed


def sort_sequence(db: Session, bulk: BulkImport) -> list[int]:
    """Photos in the order taken (corrected clock), then those without an EXIF time, by name."""
    photos, names = photos_of(db, bulk), names_by_photo(bulk)

    def key(photo: Photo):
        name = names[photo.id][0].casefold()
        when = photo.taken_at_corrected or photo.taken_at
        return (0, when, name, photo.id) if when else (1, name, photo.id)

    bulk.sequence = [p.id for p in sorted(photos.values(), key=key) if p.deleted_at is None]
    db.add(bulk)
    db.flush()
    return bulk.sequence


def correct_clocks(db: Session, bulk: BulkImport, offsets: dict[str, int], actor) -> int:
    """Apply new clock corrections to the import's photos and sort again; return photos changed."""
    before = dict(bulk.clock_offsets or {})
    bulk.clock_offsets = offsets
    changed = apply_clock_offsets(db, bulk, actor)
    sort_sequence(db, bulk)
    audit.record(db, "bulk_import.clocks", actor=actor, obj=bulk, label=f"bulk import {bulk.id}",
                 before={"clock_offsets": before}, after={"clock_offsets": offsets, "photos_changed": changed},
                 classification=db.get(Case, bulk.case_id).classification)
    return changed


def cameras(db: Session, bulk: BulkImport) -> list[dict]:
    """The cameras found in the import, with the number of photos and the correction in force."""
    counts: Counter = Counter()
    offsets: dict[str, int] = {}
    for photo in photos_of(db, bulk).values():
        label = camera_label(photo.camera_make, photo.camera_model)
        counts[label] += 1
        offsets[label] = offset_for(bulk.clock_offsets or {}, photo.camera_make, photo.camera_model)
    return [{"camera": label, "photos": n, "offset": offsets[label]} for label, n in sorted(counts.items())]


# ------------------------------------------------------------------ assignment


def _clearance_of(db: Session, actor, panel_id: int):
    role = db.exec(select(Membership.role).where(Membership.user_id == getattr(actor, "id", None),
                                                 Membership.panel_id == panel_id)).first()
    return clearance_for(role) if role else None


def items_of_case(db: Session, case: Case, actor) -> list[Item]:
    """The items of the case the actor may see, by reference."""
    clearance = _clearance_of(db, actor, case.panel_id)
    rows = db.exec(select(Item).where(Item.panel_id == case.panel_id, Item.case_id == case.id,
                                      Item.deleted_at.is_(None)).order_by(Item.item_ref)).all()
    return [i for i in rows if clearance is not None and may_see(clearance, i.classification)]


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


def _apply_mapping(db: Session, run: _Run, results: list[dict]) -> None:
    bulk, case = run.bulk, run.case
    if not bulk.mapping:
        return
    by_name: dict[str, list[dict]] = {}
    by_base: dict[str, list[dict]] = {}
    for entry in results:
        by_name.setdefault(entry["name"].casefold(), []).append(entry)
        by_base.setdefault(basename(entry["name"]).casefold(), []).append(entry)
    items = {i.item_ref.casefold(): i for i in items_of_case(db, case, run.actor)}
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
        _assign(db, bulk, photos[photo_id], item, case, run.actor, name=entry["name"], how="mapping",
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


def stalled(bulk: BulkImport, minutes: int = 15) -> bool:
    """An unfinished import that has not moved for a while: the process running it may have stopped."""
    last = bulk.updated_at or bulk.created_at
    return not bulk.status.finished and last is not None and utcnow() - last > timedelta(minutes=minutes)


def mark_failed(db: Session, bulk: BulkImport, message: str) -> None:
    bulk.status, bulk.error = BulkImportStatus.FAILED, message
    bulk.finished_at = bulk.updated_at = utcnow()
    db.add(bulk)
    db.flush()
    shutil.rmtree(staging_dir(bulk.id), ignore_errors=True)
