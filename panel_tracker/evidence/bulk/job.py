"""The bulk import job: receive every staged file, sort, apply the mapping; its progress,
heartbeat, death and retry.

Each file goes through :func:`~panel_tracker.evidence.services.receive_photo` with the
channel ``bulk_import`` and its camera's clock correction. A file refused (not an image,
too large, purged) is reported with the reason and the rest carry on; a file the panel
already holds is counted as a duplicate receipt. The job commits after each file (one
photo, one transaction) and beats its heartbeat then, so the progress bar moves, a
failure loses nothing already received, and an import whose process was killed is seen
as dead once its heartbeat is older than ``BULK_IMPORT_DEAD_MINUTES``.

A failed import keeps its staged files (for ``BULK_IMPORT_RETRY_HOURS``): "Retry" queues
it again, and the files already received (found by their receipts) are not received twice.
"""
from __future__ import annotations

import logging
import shutil
import zipfile
import zlib
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from ... import audit
from ...auth.models import Panel, User
from ...cases.models import Case
from ...db import utcnow
from ...validation import Invalid
from .. import services
from ..bulk_models import BulkImport, BulkImportStatus
from ..models import Channel, PhotoReceipt
from .assignment import apply_mapping
from .clocks import apply_clock_offsets, offset_for, sort_sequence
from .staging import basename, copy_limited, human_size, staging_dir

log = logging.getLogger(__name__)

JOB = "panel_tracker.evidence.bulk.job.run_bulk_import"


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
        bulk.updated_at = bulk.heartbeat_at = utcnow()
        db.add(bulk)
        db.commit()


def receipt_note(bulk: BulkImport, name: str) -> str:
    """The note on each receipt of the import; it names the file, so a retry finds what was received."""
    return f"bulk import {bulk.id}: {name}"[:2000]


def run_bulk_import(bulk_id: int) -> None:
    """The background job: receive every staged file, sort, apply the mapping; never raises."""
    from ...db import get_session

    db = get_session()
    bulk = db.get(BulkImport, bulk_id)
    if bulk is None or bulk.status != BulkImportStatus.QUEUED:
        log.warning("bulk import %s is not waiting to run (%s); nothing done", bulk_id,
                    bulk.status.value if bulk else "missing")
        return
    bulk.status, bulk.started_at = BulkImportStatus.RUNNING, utcnow()
    bulk.updated_at = bulk.heartbeat_at = bulk.started_at
    db.add(bulk)
    db.commit()
    run = _Run(bulk, db.get(Panel, bulk.panel_id), db.get(Case, bulk.case_id),
               db.get(User, bulk.created_by_id) if bulk.created_by_id else None, staging_dir(bulk.id))
    try:
        results = _receive_all(db, run)
        bulk.files = results
        apply_clock_offsets(db, bulk, run.actor)
        sort_sequence(db, bulk)
        apply_mapping(db, bulk, run.case, run.actor, results)
        bulk.status = BulkImportStatus.DONE
        db.add(bulk)
        db.commit()
    except Exception as exc:  # the import's record must say it stopped; the log has the trace
        log.exception("bulk import %s failed", bulk_id)
        db.rollback()
        bulk = db.get(BulkImport, bulk_id)
        bulk.status = BulkImportStatus.FAILED
        bulk.error = (f"The import stopped after {bulk.processed} of {bulk.total} files "
                      f"({type(exc).__name__}). Photos received so far are kept; Retry imports the rest.")
    finally:
        for archive in run.archives.values():
            archive.close()
    if bulk.status == BulkImportStatus.DONE:
        shutil.rmtree(run.folder, ignore_errors=True)
    bulk.finished_at = bulk.updated_at = utcnow()
    db.add(bulk)
    db.commit()


def _received_before(db: Session, bulk: BulkImport) -> dict[str, deque]:
    """Receipts an earlier run of this import made, by their note, oldest first."""
    rows = db.exec(select(PhotoReceipt).where(PhotoReceipt.panel_id == bulk.panel_id,
                                              PhotoReceipt.channel == Channel.BULK_IMPORT,
                                              PhotoReceipt.note.like(f"bulk import {bulk.id}: %"))
                   .order_by(PhotoReceipt.id)).all()
    found: dict[str, deque] = defaultdict(deque)
    for receipt in rows:
        found[receipt.note].append(receipt)
    return found


def _receive_all(db: Session, run: _Run) -> list[dict]:
    bulk = run.bulk
    results = [dict(entry) for entry in bulk.files]
    offsets = dict(bulk.clock_offsets or {})
    earlier = _received_before(db, bulk)
    for number, entry in enumerate(results, start=1):
        reason = entry.get("skip")
        note = receipt_note(bulk, entry["name"])
        if reason is None and earlier.get(note):  # received by a run that died: not received twice
            receipt = earlier[note].popleft()
            _record_outcome(run, entry, receipt.photo_id, receipt.id, receipt.duplicate_of_id)
        elif reason is None:
            path, reason = _materialise(run, entry, number)
        if reason is None and "outcome" not in entry:
            try:
                make, model = _peek_camera(path)
                with open(path, "rb") as stream:
                    received = services.receive_photo(
                        db, run.panel, stream, filename=basename(entry["name"]), actor=run.actor,
                        case_id=run.case.id, source=bulk.source, channel=Channel.BULK_IMPORT,
                        is_original=bulk.is_original, note=note,
                        clock_offset_seconds=offset_for(offsets, make, model))
            except Invalid as exc:
                db.rollback()
                reason = _without_name(next(iter(exc.errors.values())), basename(entry["name"]))
            else:
                _record_outcome(run, entry, received.photo.id, received.receipt.id,
                                received.receipt.duplicate_of_id)
            finally:
                if "staged" not in entry:  # an unpacked copy; the staged files stay until the import is done
                    path.unlink(missing_ok=True)
        if reason is not None:
            entry["outcome"] = "skipped"
            run.skipped.append({"file": entry["name"], "reason": reason})
        run.processed += 1
        run.save_progress(db)
    return results


def _record_outcome(run: _Run, entry: dict, photo_id: int, receipt_id: int, duplicate_of: int | None) -> None:
    entry.update(photo_id=photo_id, receipt_id=receipt_id, outcome="duplicate" if duplicate_of else "accepted")
    if duplicate_of:
        entry["duplicate_of_receipt"] = duplicate_of
        run.duplicates += 1
    else:
        run.accepted += 1


def _without_name(message: str, name: str) -> str:
    return message[len(name) + 2:] if name and message.startswith(f"{name}: ") else message


def _over_budget() -> str:
    return (f"not unpacked: the ZIP came to more than {human_size(current_app.config['BULK_IMPORT_MAX_BYTES'])} "
            f"once unpacked (its sizes were false)")


def _materialise(run: _Run, entry: dict, number: int) -> tuple[Path | None, str | None]:
    """The staged file of an entry, unpacking a ZIP member under a numbered name."""
    if "staged" in entry:
        return run.folder / entry["staged"], None
    if run.over_budget:
        return None, _over_budget()
    archive = run.archives.get(entry["zip"])
    if archive is None:
        archive = run.archives[entry["zip"]] = zipfile.ZipFile(run.folder / entry["zip"])
    info = archive.infolist()[entry["member"]]
    dest = run.folder / f"m{number:05d}"
    dest.unlink(missing_ok=True)  # left by a run that died
    photo_max = current_app.config["PHOTO_MAX_BYTES"]
    budget = current_app.config["BULK_IMPORT_MAX_BYTES"] - run.unpacked
    try:
        with archive.open(info) as src:
            size = copy_limited(src, dest, min(photo_max, budget))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        dest.unlink(missing_ok=True)
        log.info("bulk import %s: member %r unreadable: %s", run.bulk.id, entry["name"], exc)
        return None, "could not be read from the ZIP (damaged, or packed in a way we cannot read)"
    if size is None:
        if budget < photo_max:
            run.over_budget = True
            return None, _over_budget()
        return None, f"larger than {human_size(photo_max)}, the limit for one photo"
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


# ------------------------------------------------------------------ death, failure and retry


def _dead_before(app=None) -> datetime:
    return utcnow() - timedelta(minutes=(app or current_app).config["BULK_IMPORT_DEAD_MINUTES"])


def is_dead(bulk: BulkImport) -> bool:
    """A running import whose heartbeat stopped: the process running it has ended."""
    beat = bulk.heartbeat_at or bulk.started_at or bulk.created_at
    return bulk.status == BulkImportStatus.RUNNING and beat is not None and beat < _dead_before()


def dead_imports(db: Session) -> list[BulkImport]:
    beat = sa.func.coalesce(BulkImport.heartbeat_at, BulkImport.started_at, BulkImport.created_at)
    return db.exec(select(BulkImport).where(BulkImport.status == BulkImportStatus.RUNNING,
                                            beat < _dead_before()).order_by(BulkImport.id)).all()


def fail_dead_imports(db: Session) -> list[BulkImport]:
    """Mark every dead import failed (retryable from its staged files); audited. Returns them.

    The update is conditional on the heartbeat read, so two processes starting at once
    mark (and audit) each import once.
    """
    failed = []
    for bulk in dead_imports(db):
        message = (f"The import stopped after {bulk.processed} of {bulk.total} files: the process running it "
                   f"ended (its last sign of life was at {bulk.heartbeat_at or bulk.started_at:%Y-%m-%d %H:%M} "
                   f"UTC). Photos received so far are kept; Retry imports the rest.")
        now = utcnow()
        changed = db.execute(sa.update(BulkImport).where(
            BulkImport.id == bulk.id, BulkImport.status == BulkImportStatus.RUNNING,
            BulkImport.heartbeat_at.is_(None) if bulk.heartbeat_at is None else BulkImport.heartbeat_at == bulk.heartbeat_at,
        ).values(status=BulkImportStatus.FAILED, error=message, finished_at=now, updated_at=now)).rowcount
        if changed:
            db.refresh(bulk)
            audit.record(db, "bulk_import.fail", actor="system", obj=bulk, label=f"bulk import {bulk.id}",
                         before={"status": "running"}, after={"status": "failed", "error": message},
                         classification=db.get(Case, bulk.case_id).classification)
            failed.append(bulk)
    db.flush()
    return failed


def retryable(bulk: BulkImport) -> bool:
    """A failed (or dead) import whose staged files are still there."""
    return ((bulk.status == BulkImportStatus.FAILED or is_dead(bulk)) and bool(bulk.files)
            and staging_dir(bulk.id).is_dir())


def retry_bulk_import(db: Session, bulk: BulkImport, actor) -> None:
    """Queue a failed import again from its staged files; the caller then starts the job."""
    if not retryable(bulk):
        raise Invalid({"retry": "This import cannot be retried: it has not failed, or its files are no longer "
                                "kept. Import the photos again."})
    if bulk.status != BulkImportStatus.FAILED:  # dead: say so in the history before queueing it again
        fail_dead_imports(db)
        db.refresh(bulk)
    before = {"status": bulk.status.value, "processed": bulk.processed, "error": bulk.error}
    bulk.status, bulk.error = BulkImportStatus.QUEUED, ""
    bulk.processed = bulk.accepted = bulk.duplicates = 0
    bulk.skipped, bulk.finished_at, bulk.updated_at = [], None, utcnow()
    db.add(bulk)
    audit.record(db, "bulk_import.retry", actor=actor, obj=bulk, label=f"bulk import {bulk.id}", before=before,
                 after={"status": "queued"}, classification=db.get(Case, bulk.case_id).classification)
    db.flush()


def mark_failed(db: Session, bulk: BulkImport, message: str) -> None:
    """The import could not start (the queue is down); its staged files stay for Retry."""
    bulk.status, bulk.error = BulkImportStatus.FAILED, message
    bulk.finished_at = bulk.updated_at = utcnow()
    db.add(bulk)
    db.flush()
