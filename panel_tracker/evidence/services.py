"""Photos as evidence: ingest (hash, check, EXIF, derivatives), receipts, edits, purge.

The original is stored byte-for-byte under its SHA-256 and never changed; pages and
annexes show derivatives only. Every receipt of a file is kept, and the same bytes
received again are linked to the first receipt and flagged, not silently merged.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from .. import audit
from ..auth.models import Panel
from ..classification import coerce
from ..db import utcnow
from ..validation import Invalid
from . import images
from .models import Channel, Photo, PhotoReceipt
from .storage import PhotoStore, TooLarge

PHOTO_FIELDS = ("caption", "source_line", "photographer", "photo_date", "item_id", "case_id", "is_label_card")


def photo_store(app=None) -> PhotoStore:
    app = app or current_app
    store = app.extensions.get("panel_tracker.photos")
    if store is None:
        store = app.extensions["panel_tracker.photos"] = PhotoStore(app.config.get("PHOTO_STORE")
                                                                     or f"{app.instance_path}/photos")
    return store


class PhotoRefused(Invalid):
    """A file the store will not take; ``status`` is the HTTP answer (413 too large, 415 not an accepted image)."""

    def __init__(self, message: str, status: int):
        super().__init__({"file": message})
        self.status = status


@dataclass
class Received:
    photo: Photo
    receipt: PhotoReceipt
    duplicate: bool  # the same bytes had already reached the panel


def _safe_filename(name: str) -> str:
    """Kept as a record of what the sender called it; never used to build a path."""
    return "".join(ch for ch in (name or "").replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable())[:255]


def _lock_photo_key(db: Session, panel_id: int, sha: str) -> None:
    """Serialise receivers of the same bytes until this transaction ends, so the second sees
    the first's committed photo instead of failing on the unique (panel, SHA-256) key: a
    transaction-scoped advisory lock on PostgreSQL; on SQLite a no-op write, which takes the
    database's write lock (waiting for the other writer)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(sa.text("SELECT pg_advisory_xact_lock(:panel, :sha)"),
                   {"panel": panel_id, "sha": int(sha[:8], 16) - (1 << 31)})
    else:
        db.execute(sa.text("UPDATE photo SET id = id WHERE 0"))


def _purged(filename: str) -> PhotoRefused:
    return PhotoRefused(f"{_safe_filename(filename)}: this file was purged from the panel's store by an admin "
                        f"and cannot be received again.", 409)


def receive_photo(db: Session, panel, stream, *, filename: str, actor, case_id: int | None = None,
                  item_id: int | None = None, source: str = "", channel: Channel = Channel.UPLOAD,
                  is_original: bool = True, caption: str = "", source_line: str = "", photographer: str = "",
                  photo_date: date | None = None, note: str = "", clock_offset_seconds: int = 0) -> Received:
    """Store an upload and record its receipt; raise Invalid with a clear message if refused.

    Nothing is half-saved: a refused file never enters the store, and the database rows
    are written in the caller's transaction.
    """
    store = photo_store()
    cfg = current_app.config
    found: dict = {}

    def check(tmp_path, sha):
        existing = db.exec(select(Photo).where(Photo.panel_id == panel.id, Photo.sha256 == sha)).first()
        if existing is not None:
            if existing.purged_at is not None:
                raise _purged(filename)
            found["existing"] = existing
            return
        try:
            found["info"] = images.ingest(tmp_path, store.derivative_outputs(panel.code, sha),
                                          max_pixels=cfg["PHOTO_MAX_PIXELS"])
        except images.UnsupportedImage as exc:
            status = 413 if isinstance(exc, images.ImageTooLarge) else 415
            raise PhotoRefused(f"{_safe_filename(filename) or 'the file'}: {exc.message}", status) from None

    try:
        stored = store.put_original(panel.code, stream, max_bytes=cfg["PHOTO_MAX_BYTES"], check=check)
    except TooLarge:
        raise PhotoRefused(f"{_safe_filename(filename)}: larger than {cfg['PHOTO_MAX_BYTES'] // (1024 * 1024)} MB, "
                           f"the limit for one photo.", 413) from None

    actor_id = getattr(actor, "id", None)
    photo = found.get("existing")
    if photo is None:  # unless another upload of the same bytes has just committed it
        _lock_photo_key(db, panel.id, stored.sha256)
        photo = db.exec(select(Photo).where(Photo.panel_id == panel.id, Photo.sha256 == stored.sha256)
                        .execution_options(populate_existing=True)).first()
        if photo is not None and photo.purged_at is not None:
            raise _purged(filename)
    first_receipt = None
    if photo is None:
        info: images.ImageInfo = found["info"]
        width, height = info.display_size
        corrected = None
        if info.taken_at is not None:
            corrected = info.taken_at + timedelta(seconds=clock_offset_seconds)
        photo = Photo(panel_id=panel.id, case_id=case_id, item_id=item_id, sha256=stored.sha256,
                      size_bytes=stored.size, mime=info.mime, width=width, height=height, exif=info.exif,
                      camera_make=info.camera_make or "", camera_model=info.camera_model or "",
                      taken_at=info.taken_at, taken_at_corrected=corrected, gps_lat=info.gps_lat,
                      gps_lon=info.gps_lon, caption=caption, source_line=source_line, photographer=photographer,
                      photo_date=photo_date or (info.taken_at.date() if info.taken_at else None),
                      created_by_id=actor_id)
        db.add(photo)
        db.flush()
        audit.record(db, "photo.create", actor=actor, obj=photo, label=f"photo {stored.sha256[:12]}",
                     after={"sha256": stored.sha256, "size_bytes": stored.size, "mime": info.mime,
                            "case_id": case_id, "item_id": item_id, "caption": caption},
                     classification=photo.classification)
    else:
        first_receipt = db.exec(select(PhotoReceipt).where(PhotoReceipt.photo_id == photo.id)
                                .order_by(PhotoReceipt.id).limit(1)).first()
    receipt = PhotoReceipt(panel_id=panel.id, photo_id=photo.id, received_by_id=actor_id, source=source.strip(),
                           channel=channel, is_original=is_original, filename=_safe_filename(filename),
                           duplicate_of_id=first_receipt.id if first_receipt else None, note=note)
    db.add(receipt)
    db.flush()
    audit.record(db, "photo.receive", actor=actor, obj=photo, label=f"photo {photo.sha256[:12]}",
                 after={"receipt_id": receipt.id, "source": receipt.source, "channel": channel,
                        "is_original": is_original, "filename": receipt.filename,
                        "duplicate_of_receipt": receipt.duplicate_of_id},
                 classification=photo.classification)
    return Received(photo, receipt, duplicate=first_receipt is not None)


def update_photo(db: Session, photo: Photo, values: dict, actor) -> None:
    before = {k: getattr(photo, k) for k in PHOTO_FIELDS}
    for name in PHOTO_FIELDS:
        if name in values:
            setattr(photo, name, values[name])
    db.add(photo)
    b, a = audit.changes(before, {k: getattr(photo, k) for k in PHOTO_FIELDS})
    if b or a:
        audit.record(db, "photo.update", actor=actor, obj=photo, label=f"photo {photo.sha256[:12]}",
                     before=b, after=a, classification=photo.classification)
    db.flush()


def record_original_download(db: Session, photo: Photo, actor) -> None:
    audit.record(db, "photo.download_original", actor=actor, obj=photo, label=f"photo {photo.sha256[:12]}",
                 classification=photo.classification)


def record_gps_view(db: Session, photo: Photo, actor) -> None:
    audit.record(db, "photo.view_gps", actor=actor, obj=photo, label=f"photo {photo.sha256[:12]}",
                 classification=photo.classification)


def purge_photo(db: Session, photo: Photo, panel, actor, reason: str) -> None:
    """Destroy the bytes of a file uploaded by mistake (e.g. personal data).

    The tombstone — who, when, why, SHA-256 — stays in the audit chain; EXIF (which may
    hold GPS) and the caption are wiped from the row. The original and its derivatives are
    destroyed after the transaction commits, by the change feed's subscriber.
    """
    if not reason.strip():
        raise Invalid({"reason": "Say why the file is purged; the reason stays in the audit log."})
    if photo.purged_at is not None:
        raise Invalid({"reason": "This file has already been purged."})
    audit.record(db, "photo.purge", actor=actor, obj=photo, label=f"photo {photo.sha256[:12]}",
                 after={"sha256": photo.sha256, "reason": reason.strip()}, classification=coerce("public"))
    photo.purged_at = photo.deleted_at = utcnow()
    photo.deleted_by_id, photo.deleted_reason = getattr(actor, "id", None), f"purged: {reason.strip()}"
    photo.exif, photo.gps_lat, photo.gps_lon, photo.caption = {}, None, None, ""
    db.add(photo)
    db.flush()
    # The bytes go once this commits (evidence.feed.destroy_purged_bytes): a purge rolled back keeps them.


def _stored_originals(db: Session) -> list[tuple[str, str]]:
    """(sha256, panel code) of every original the database says is in the store."""
    return db.exec(select(Photo.sha256, Panel.code).join(Panel, Panel.id == Photo.panel_id)
                   .where(Photo.purged_at.is_(None)).distinct()).all()


def verify_store(db: Session) -> list[tuple[str, str, str]]:
    """Re-hash every original the database knows; return (panel, sha, problem) for each bad one."""
    store = photo_store()
    problems = []
    for sha, code in _stored_originals(db):
        status = store.verify(code, sha)
        if status is None:
            problems.append((code, sha, "missing"))
        elif status is False:
            problems.append((code, sha, "altered (SHA-256 differs)"))
    return problems


def rebuild_derivatives(db: Session) -> tuple[int, list[str]]:
    store, done, failed = photo_store(), 0, []
    for sha, code in _stored_originals(db):
        try:
            images.make_derivatives(store.original_path(code, sha), store.derivative_outputs(code, sha),
                                    max_pixels=current_app.config["PHOTO_MAX_PIXELS"])
            done += 1
        except (OSError, images.UnsupportedImage) as exc:
            failed.append(f"{code} {sha}: {exc}")
    return done, failed
