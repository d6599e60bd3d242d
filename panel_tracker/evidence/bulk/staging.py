"""Staging a bulk import: the uploaded folder or ZIP, checked and saved under
``<staging root>/<import id>/`` by number before the job receives it.

Names the sender gave are metadata only. A ZIP is kept whole; before anything in it is
read, its end record and central directory are checked against the limits (number of
files, total and per-file unpacked size, compression ratio), so a ZIP of millions of
empty members or a ZIP bomb is refused without building its member list in memory.
"""
from __future__ import annotations

import re
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from flask import current_app
from sqlmodel import Session

from ... import audit
from ...cases.models import Case
from ...db import utcnow
from ...validation import Invalid
from ..bulk_models import BulkImport

CHUNK = 1024 * 1024
#: Bytes of central directory allowed per file: a member's record is 46 bytes plus its
#: name and extra fields (about 150 for a camera's photo in a dated folder); 1 kB is
#: generous, and bounds what parsing the directory can cost when its count lies.
CENTRAL_DIRECTORY_BYTES_PER_FILE = 1024
#: Members smaller than this once unpacked are not checked for their compression ratio.
RATIO_MIN_BYTES = 1024 * 1024

#: Files computers leave in folders and ZIPs; reported, never offered to the photo store.
HOUSEKEEPING = {".ds_store", "thumbs.db", "desktop.ini", ".picasa.ini"}


def human_size(size: int) -> str:
    if size < 1024**2:
        return f"{size / 1024:,.0f} kB"
    return f"{size / 1024**2:,.0f} MB" if size < 1024**3 else f"{size / 1024**3:,.1f} GB"


def staging_root(app=None) -> Path:
    app = app or current_app
    return Path(app.config.get("BULK_IMPORT_STAGING") or Path(app.instance_path) / "bulk_staging").resolve()


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


def copy_limited(src: IO[bytes], dest: Path, limit: int) -> int | None:
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


# ------------------------------------------------------------------ a ZIP's end record

_EOCD = struct.Struct("<4s4H2LH")  # signature, disks, entries on this disk, entries, cd size, cd offset, comment
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # signature, disk, offset of the ZIP64 end record, disks
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # signature, size, versions, disks, entries (2), cd size, cd offset


def zip_directory_size(path: Path) -> tuple[int, int] | None:
    """``(number of entries, central directory bytes)`` as the ZIP's end record declares
    them (ZIP64 included), read from the last 64 kB only; None if there is no end record."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        tail_start = max(0, size - (_EOCD.size + 65535 + _ZIP64_LOCATOR.size))
        f.seek(tail_start)
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            return None
        _sig, _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment = _EOCD.unpack_from(tail, at)
        locator_at = at - _ZIP64_LOCATOR.size
        if locator_at >= 0 and tail[locator_at:locator_at + 4] == b"PK\x06\x07":
            _sig, _disk, zip64_offset, _disks = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
            f.seek(zip64_offset)
            record = f.read(_ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                fields = _ZIP64_EOCD.unpack(record)
                entries, cd_size = max(entries, fields[7]), max(cd_size, fields[8])
        return entries, cd_size


@dataclass
class Limits:
    max_files: int
    max_bytes: int
    max_ratio: int
    photo_max: int

    @classmethod
    def of(cls, app=None) -> Limits:
        config = (app or current_app).config
        return cls(config["BULK_IMPORT_MAX_FILES"], config["BULK_IMPORT_MAX_BYTES"],
                   config["BULK_IMPORT_MAX_RATIO"], config["PHOTO_MAX_BYTES"])

    def too_many(self, count: int) -> Invalid:
        return Invalid({"files": f"{count:,} files in one import; the limit is {self.max_files:,}. Split the "
                                 f"day's photos into several ZIPs."})

    def too_large(self, what: str) -> Invalid:
        return Invalid({"files": f"{what} more than {human_size(self.max_bytes)} once unpacked, the limit for "
                                 f"one import. Split them into several ZIPs."})


# ------------------------------------------------------------------ staging an upload


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
    limits = Limits.of()
    if len(uploads) > limits.max_files:  # a folder: refused before a byte is written
        raise limits.too_many(len(uploads))
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
                if copy_limited(upload.stream, folder / staged, limits.max_bytes) is None:
                    raise Invalid({"files": f"{name} is larger than {human_size(limits.max_bytes)}, the limit "
                                            f"for one import."})
                members, size = _list_zip(folder / staged, name, staged, limits, len(entries))
                entries += members
                declared += size
            else:
                staged = f"{len(entries) + 1:05d}"
                size = copy_limited(upload.stream, folder / staged, limits.photo_max)
                if size is None:
                    entries.append({"name": name, "skip": f"larger than {human_size(limits.photo_max)}, the "
                                                          f"limit for one photo"})
                    continue
                declared += size
                entries.append({"name": name, "staged": staged})
            if len(entries) > limits.max_files:
                raise limits.too_many(len(entries))
            if declared > limits.max_bytes:
                raise limits.too_large("The files come to")
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


def _unreadable_zip(name: str) -> Invalid:
    return Invalid({"files": f"{name} is not a ZIP file that can be read. Make it again (e.g. “Compress” "
                             f"or “Send to → Compressed folder”) and choose it again."})


def _list_zip(path: Path, name: str, staged: str, limits: Limits, already: int) -> tuple[list[dict], int]:
    """The members of an uploaded ZIP as staging entries, and their declared total size.

    The end record is read first: a ZIP declaring more files than the limit (with the
    ``already`` staged before it), or a central directory too large for that many, is
    refused before its directory is parsed. Then the directory's sizes are checked before
    any member is read.
    """
    try:
        declared_directory = zip_directory_size(path)
    except OSError:
        raise _unreadable_zip(name) from None
    if declared_directory is None:
        raise _unreadable_zip(name)
    count, directory_bytes = declared_directory
    if already + count > limits.max_files:
        raise limits.too_many(already + count)
    if directory_bytes > (limits.max_files + 1) * CENTRAL_DIRECTORY_BYTES_PER_FILE:
        raise Invalid({"files": f"{name} has a table of contents of {human_size(directory_bytes)}, too large "
                                f"for {limits.max_files:,} photos. Make the ZIP again from the photos alone."})
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _unreadable_zip(name) from None
    if already + len(infos) > limits.max_files:
        raise limits.too_many(already + len(infos))
    if sum(info.file_size for info in infos) > limits.max_bytes:
        raise limits.too_large(f"{name} comes to")
    for info in infos:
        if info.file_size >= RATIO_MIN_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise Invalid({"files": f"{name}: {display_name(info.filename)} would unpack from "
                                    f"{human_size(info.compress_size)} to {human_size(info.file_size)}, more than "
                                    f"{limits.max_ratio} times; photos do not shrink like that in a ZIP. Make the "
                                    f"ZIP again from the photos alone."})
    entries, declared = [], 0
    for index, info in enumerate(infos):
        if info.is_dir():
            continue
        member = display_name(info.filename)
        problem = unsafe_member(info)
        if problem is None and housekeeping(member):
            problem = "a file the computer made (macOS or Windows housekeeping), not a photo"
        if problem is None and info.file_size > limits.photo_max:
            problem = f"larger than {human_size(limits.photo_max)}, the limit for one photo"
        if problem is None and member.casefold().endswith(".zip"):
            problem = "a ZIP inside the ZIP is not opened; send it on its own"
        if problem:
            entries.append({"name": member, "skip": problem})
            continue
        declared += info.file_size
        entries.append({"name": member, "zip": staged, "member": index})
    return entries, declared
