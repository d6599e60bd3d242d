"""What an interrupted upload or import leaves behind, found and removed.

A process killed in the middle of an upload leaves the full original (GPS included) in
the store's ``tmp/``, and derivatives (and sometimes the original) of a photo whose row
was never committed. A killed bulk import stays "running" with its staged files. This
module finds each kind of debris (``panel-tracker evidence verify`` reports it), removes
it (``panel-tracker evidence clean``), and does the cheap part at every start of the app
or of a worker (:func:`clean_on_start`): old temporary files, dead imports marked failed,
staging of finished imports.

Files younger than ``EVIDENCE_DEBRIS_MINUTES`` are left alone: another process may be
writing them right now. Originals are destroyed as a purge does (overwritten, then
removed): they may carry personal data nobody recorded.
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from ..auth.models import Panel
from ..db import utcnow
from .bulk.job import dead_imports, fail_dead_imports
from .bulk.staging import staging_root
from .bulk_models import BulkImport, BulkImportStatus
from .models import Photo
from .services import photo_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Debris:
    kind: str  # what it is, for a person
    path: Path | None = None  # the file or folder; None for a dead import
    panel_code: str = ""  # originals: destroyed with the store's purge
    sha256: str = ""
    bulk_id: int | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}" if self.path else self.kind


def _old(path: Path, minutes: float) -> bool:
    """Not touched (written, renamed or linked) for ``minutes``."""
    try:
        stat = path.lstat()
    except FileNotFoundError:
        return False
    return max(stat.st_mtime, stat.st_ctime) <= time.time() - minutes * 60


def _minutes(app=None) -> float:
    return float((app or current_app).config["EVIDENCE_DEBRIS_MINUTES"])


def tmp_debris(minutes: float) -> list[Debris]:
    return [Debris("upload left unfinished in the store's tmp", path)
            for path in photo_store().iter_tmp() if _old(path, minutes)]


def staging_debris(db: Session, minutes: float) -> list[Debris]:
    """Staging folders of imports that are done, unknown, or failed longer ago than the retry period."""
    root = staging_root()
    if not root.is_dir():
        return []
    folders = {int(p.name): p for p in root.iterdir() if p.is_dir() and p.name.isdigit()}
    stray = [Debris("stray file in the bulk import staging folder", p)
             for p in sorted(root.iterdir()) if not (p.is_dir() and p.name.isdigit()) and _old(p, minutes)]
    if not folders:
        return stray
    rows = {b.id: b for b in db.exec(select(BulkImport).where(BulkImport.id.in_(list(folders)))).all()}
    keep_failed = utcnow() - timedelta(hours=current_app.config["BULK_IMPORT_RETRY_HOURS"])
    found = []
    for bulk_id, path in sorted(folders.items()):
        bulk = rows.get(bulk_id)
        if bulk is None:
            if _old(path, minutes):  # a new import's row is committed just after its folder is made
                found.append(Debris("staged files of an import that does not exist", path, bulk_id=bulk_id))
        elif bulk.status == BulkImportStatus.DONE:
            found.append(Debris(f"staged files of bulk import {bulk_id}, which is done", path, bulk_id=bulk_id))
        elif bulk.status == BulkImportStatus.FAILED and (bulk.finished_at or bulk.created_at) < keep_failed:
            found.append(Debris(f"staged files of bulk import {bulk_id}, failed more than "
                                f"{current_app.config['BULK_IMPORT_RETRY_HOURS']} hours ago", path, bulk_id=bulk_id))
    return stray + found


def dead_import_debris(db: Session) -> list[Debris]:
    return [Debris(f"bulk import {b.id} is marked running but its process has died (no heartbeat since "
                   f"{(b.heartbeat_at or b.started_at or b.created_at):%Y-%m-%d %H:%M} UTC)", bulk_id=b.id)
            for b in dead_imports(db)]


def store_debris(db: Session, minutes: float) -> list[Debris]:
    """Originals and derivatives with no photo row (or of a purged photo): a walk of the whole store."""
    store = photo_store()
    rows = db.exec(select(Panel.code, Photo.sha256, Photo.purged_at).join(Panel, Panel.id == Photo.panel_id)).all()
    live = {(code, sha) for code, sha, purged in rows if purged is None}
    purged = {(code, sha) for code, sha, purged_at in rows if purged_at is not None} - live
    found = []
    for code, sha, path in store.iter_originals():
        if (code, sha) in live:
            continue
        if (code, sha) in purged:
            found.append(Debris("original of a purged photo (the purge did not finish)", path, code, sha))
        elif _old(path, minutes):
            found.append(Debris("original with no photo row (an upload that never finished)", path, code, sha))
    for code, sha, path in store.iter_derivatives():
        if sha is None:
            if _old(path, minutes):
                found.append(Debris("unfinished derivative", path))
        elif (code, sha) not in live and _old(path, minutes):
            found.append(Debris("derivative with no photo row", path))
    return found


def find_debris(db: Session) -> list[Debris]:
    """Everything an interrupted upload or import left behind (what ``evidence verify`` reports)."""
    minutes = _minutes()
    return tmp_debris(minutes) + store_debris(db, minutes) + staging_debris(db, minutes) + dead_import_debris(db)


def remove(debris: list[Debris]) -> None:
    store = photo_store()
    for item in debris:
        if item.path is None:
            continue
        if item.sha256:
            store.purge_original(item.panel_code, item.sha256)
        elif item.path.is_dir():
            shutil.rmtree(item.path, ignore_errors=True)
        else:
            item.path.unlink(missing_ok=True)


def clean_debris(db: Session, *, dry_run: bool = False) -> list[Debris]:
    """Remove the debris and mark dead imports failed (retryable); return what was (or would be) done.
    The caller commits."""
    found = find_debris(db)
    if not dry_run:
        remove(found)
        fail_dead_imports(db)
    return found


def clean_on_start(app) -> None:
    """The cheap part, at every start: old tmp files, dead imports, staging of finished imports.

    A database not set up yet (before ``db upgrade``) is not an error here.
    """
    if not app.config.get("EVIDENCE_CLEAN_ON_START", True):
        return
    from ..db import get_session

    with app.app_context():
        db = get_session()
        try:
            minutes = _minutes(app)
            found = tmp_debris(minutes) + staging_debris(db, minutes)
            remove(found)
            failed = fail_dead_imports(db)
            db.commit()
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
            db.rollback()
            log.info("start-up clean skipped: the database is not ready (%s)", exc.__class__.__name__)
            return
        except OSError as exc:
            db.rollback()
            log.warning("start-up clean skipped: %s", exc)
            return
        for item in found:
            log.info("removed %s", item)
        for bulk in failed:
            log.warning("bulk import %s had died; marked failed (retryable)", bulk.id)


__all__ = ["Debris", "clean_debris", "clean_on_start", "find_debris"]
