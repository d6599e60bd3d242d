"""Camera clocks: the corrections an expert gives per camera, and the import's photos in
the order they were really taken.

A correction is what to add to a camera's time to get the true time (a clock two minutes
slow is ``+00:02:00``). Photos are sorted by the corrected EXIF time, those without a time
last, by name.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

from sqlmodel import Session, select

from ... import audit
from ...cases.models import Case
from ...validation import Invalid
from ..bulk_models import BulkImport
from ..models import Photo

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


# ------------------------------------------------------------------ the import's photos in order


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

