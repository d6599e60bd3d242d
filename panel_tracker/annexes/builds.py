"""Building annexes into files: the documents to print, the hash of a build's inputs, the
background job, and where the files are kept.

A build's inputs are its document (the data, as the edition may show it), the format, the
print template and stylesheet, the fonts installed and the code's version; their SHA-256 is
``inputs_hash``. A build whose inputs match an earlier finished build of the panel reuses
that build's file (``reused_from_id``) instead of rendering again.

Files are kept under ``<instance>/annex-builds/<panel>/`` by their own SHA-256, readable
only through the download route (which checks the reader may see the build's edition).
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import timedelta
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from flask import current_app
from sqlmodel import Session, select

from .. import audit, visibility
from ..auth.models import Panel
from ..cases.models import Case, Item
from ..classification import Classification, may_see, most_restrictive
from ..db import get_session, utcnow
from ..evidence.models import Photo
from ..evidence.services import photo_store
from ..evidence.storage import atomic_write, destroy_file
from ..validation import Invalid
from . import compose
from .models import Annex, AnnexBuild, AnnexBuildPhoto, Block, BuildFormat, BuildState, Edition, Report, ReportSnapshot

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE.parent.parent / "templates" / "annexes"


# ------------------------------------------------------------------ documents


def report_document(db: Session, panel: Panel, report: Report, edition: Edition, annex_id: int | None = None) -> dict:
    """The document of a report's annexes (or one) for ``edition``: from the frozen copy of a
    submitted report, else compiled now from the records."""
    if report.frozen:
        snapshots = {s.annex_id: s.document for s in db.exec(select(ReportSnapshot).where(
            ReportSnapshot.report_id == report.id, ReportSnapshot.edition == edition)).all()}
        annexes = compose.report_annexes(db, report, annex_id)
        parts = [snapshots[a.id]["annexes"][0] for _, a, _ in annexes if a.id in snapshots]
        head = next(iter(snapshots.values()))
        return {**head, "annexes": parts}
    reader = compose.edition_reader(panel.id, edition)
    return compose.document(db, panel, report, compose.report_annexes(db, report, annex_id), edition, reader)


def quick_document(db: Session, panel: Panel, case: Case, edition: Edition) -> dict:
    """One annex of the item sheets of every item of ``case`` the edition may show, titled
    with the case's title (no saved report)."""
    reader = compose.edition_reader(panel.id, edition)
    item_ids = db.exec(select(Item.id).where(Item.case_id == case.id, Item.panel_id == panel.id,
                                             Item.deleted_at.is_(None))
                       .order_by(Item.item_ref)).all()
    case_visible = visibility.load(db, Case, case.id, reader) is not None
    title = case.title if case_visible else case.ref
    sheets = sheet_blocks(panel.id, item_ids) if case_visible else []
    return compose.document(db, panel, None, [(1, unsaved_annex(panel.id, title), sheets)], edition, reader,
                            title=title)


def sheet_blocks(panel_id: int, item_ids: list[int]) -> list[Block]:
    """Unsaved item sheets of ``item_ids``, in that order: every photo, marking boxes drawn."""
    return [Block(id=None, panel_id=panel_id, annex_id=0, position=n, kind="item_sheet",
                  settings={"item_id": item_id, "photo_ids": [], "boxes": True},
                  classification=Classification.PUBLIC)
            for n, item_id in enumerate(item_ids, start=1)]


def unsaved_annex(panel_id: int, title: str) -> Annex:
    return Annex(id=None, panel_id=panel_id, report_id=0, position=1, title=title,
                 classification=Classification.PUBLIC)


# ------------------------------------------------------------------ inputs and files


@lru_cache(maxsize=1)
def fonts_fingerprint() -> str:
    """The installed fonts WeasyPrint may use (fontconfig's list), hashed."""
    try:
        listing = subprocess.run(["fc-list", "--format", "%{file}|%{family}\n"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        listing = ""
    return hashlib.sha256("\n".join(sorted(listing.splitlines())).encode()).hexdigest()


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("panel-tracker", "weasyprint", "python-docx", "Pillow", "pypdf", "reportlab"):
        try:
            digest.update(f"{name}={metadata.version(name)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=?\n".encode())
    for path in sorted(HERE.glob("*.py")) + [HERE.parent / "static" / "print" / "annex.css"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_hash(document: dict, fmt: BuildFormat) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(document, sort_keys=True, default=str).encode())
    digest.update(fmt.value.encode())
    for template in sorted(_templates_dir().glob("print*.html")):
        digest.update(template.read_bytes())
    digest.update(fonts_fingerprint().encode())
    digest.update(code_fingerprint().encode())
    return digest.hexdigest()


def _templates_dir() -> Path:
    return Path(current_app.jinja_loader.searchpath[0]) / "annexes"


def builds_dir(panel_code: str) -> Path:
    path = Path(current_app.instance_path) / "annex-builds" / panel_code
    path.mkdir(parents=True, exist_ok=True, mode=0o750)
    return path


def file_path(panel_code: str, build: AnnexBuild) -> Path:
    return builds_dir(panel_code) / f"{build.sha256}.{build.format.value}"


def render(document: dict, panel: Panel, fmt: BuildFormat, progress=None) -> tuple[bytes, int]:
    """The file of ``document`` in ``fmt``, and its number of pages (0 for DOCX: Word
    paginates)."""
    store = photo_store()
    if fmt == BuildFormat.PDF:
        from . import pdf

        return pdf.render(document, store, panel.code, progress)
    from . import docx_writer

    return docx_writer.render(document, store, panel.code, progress)


def download_name(report: Report | None, build: AnnexBuild, number: int | None, case: Case | None = None) -> str:
    """``S-2025-123_annex-12_public.pdf`` (the symbol, or report number), or
    ``YEM-2024-001_item-sheets_public.pdf`` for a quick annex of a case: never a title."""
    if case is not None:
        return f"{case.ref}_item-sheets_{build.edition.value}.{build.format.value}"
    stem = (report.symbol.replace("/", "-").rstrip("*") if report and report.symbol
            else f"report-{build.report_id}")
    part = f"annex-{number}" if number else "annexes"
    return f"{stem}_{part}_{build.edition.value}.{build.format.value}"


# ------------------------------------------------------------------ requesting and running builds


def request_build(db: Session, panel: Panel, report: Report, annex_id: int | None, edition: Edition,
                  fmt: BuildFormat, actor, clearance: Classification) -> AnnexBuild:
    """Record a build of a report's annexes (or one) to run (queued); the caller commits, then
    starts :func:`run_build`."""
    return _record(db, AnnexBuild(panel_id=panel.id, report_id=report.id, annex_id=annex_id, edition=edition,
                                  format=fmt), actor, clearance, report.title,
                   {"report_id": report.id, "annex_id": annex_id})


def request_quick_build(db: Session, panel: Panel, case: Case, edition: Edition, fmt: BuildFormat, actor,
                        clearance: Classification) -> AnnexBuild:
    """Record a quick annex of ``case`` (:func:`quick_document`) to run, as :func:`request_build`."""
    return _record(db, AnnexBuild(panel_id=panel.id, case_id=case.id, edition=edition, format=fmt), actor,
                   clearance, f"Quick annex of case {case.ref}", {"case_id": case.id})


def _record(db: Session, build: AnnexBuild, actor, clearance: Classification, what: str, target: dict) -> AnnexBuild:
    if not may_see(clearance, build.edition.level):
        raise Invalid({"edition": f"The {build.edition.value} edition is above your clearance."}, status=403)
    build.created_by_id = getattr(actor, "id", None)
    db.add(build)
    db.flush()
    # Classified as the edition and as what the build names (a quick annex's case, say): a
    # reader of the audit log who may not see the case does not learn its reference here.
    audit.record(db, "annex.build", actor=actor, obj=build, label=f"{what}: {build.edition.label}, {build.format.value}",
                 after={**target, "edition": build.edition.value, "format": build.format.value},
                 classification=most_restrictive(build.edition.level, visibility.effective_level(db, build)))
    return build


def start(build: AnnexBuild, *, sync: bool = False) -> None:
    from .. import jobs

    jobs.enqueue("panel_tracker.annexes.builds.run_build", build.id, sync=sync, timeout=3600)


def _progress_setter(build_id: int):
    """Progress is written in its own short transactions, so a page can poll it."""
    from ..db import get_engine

    engine = get_engine(current_app)
    last = [-1]
    weights = {"compose": (0, 25), "images": (25, 35), "layout": (60, 35), "write": (95, 5)}

    def set_progress(stage: str, done: int, total: int) -> None:
        start_at, span = weights.get(stage, (0, 0))
        percent = min(99, start_at + int(span * done / max(total, 1)))
        if percent <= last[0]:  # never backwards: a long annex's photos and layout overlap
            return
        last[0] = percent
        with Session(engine) as s:
            row = s.get(AnnexBuild, build_id)
            if row is not None:
                row.progress = percent
                row.state = BuildState.RUNNING
                s.add(row)
                s.commit()

    return set_progress


def run_build(build_id: int) -> None:
    """The job: compile (or take the frozen copy), reuse a matching file or render one."""
    db = get_session()
    build = db.get(AnnexBuild, build_id)
    if build is None or build.state == BuildState.DONE:
        return
    panel = db.get(Panel, build.panel_id)
    progress = _progress_setter(build.id)
    try:
        progress("compose", 0, 1)
        if build.case_id is not None:
            document = quick_document(db, panel, db.get(Case, build.case_id), build.edition)
        else:
            document = report_document(db, panel, db.get(Report, build.report_id), build.edition, build.annex_id)
        progress("compose", 1, 1)
        build.inputs_hash = inputs_hash(document, build.format)
        db.add(build)
        shas = photos_of(document)
        db.add_all(AnnexBuildPhoto(panel_id=panel.id, build_id=build.id, sha256=sha) for sha in shas)
        db.commit()  # before rendering: progress is written from other sessions meanwhile
        earlier = db.exec(select(AnnexBuild).where(
            AnnexBuild.panel_id == panel.id, AnnexBuild.inputs_hash == build.inputs_hash,
            AnnexBuild.format == build.format, AnnexBuild.state == BuildState.DONE, AnnexBuild.id != build.id)
            .order_by(AnnexBuild.id)).first()
        if earlier is not None and file_path(panel.code, earlier).exists():
            build.sha256, build.size_bytes, build.pages = earlier.sha256, earlier.size_bytes, earlier.pages
            build.reused_from_id = earlier.reused_from_id or earlier.id
        else:
            data, pages = render(document, panel, build.format, progress)
            progress("write", 0, 1)
            build.sha256 = hashlib.sha256(data).hexdigest()
            build.size_bytes = len(data)
            build.pages = pages
            path = file_path(panel.code, build)
            if not path.exists():
                with atomic_write(path, fsync=True) as f:
                    f.write(data)
        build.state, build.progress, build.finished_at = BuildState.DONE, 100, utcnow()
        db.add(build)
        db.commit()
        # A photo purged while this build ran (after its document was composed, before its
        # file was written) was not there for the purge to withdraw: withdraw it now.
        purged = purged_among(db, panel.id, shas)
        if purged:
            withdraw(db, panel, [build], purged[0])
            db.commit()
    except Exception as exc:  # the user sees the build failed and why; the log has the trace
        db.rollback()
        current_app.logger.exception("annex build %s failed", build_id)
        build = db.get(AnnexBuild, build_id)
        build.state, build.error, build.finished_at = BuildState.FAILED, _reason(exc), utcnow()
        db.add(build)
        db.commit()


def photos_of(document: dict) -> list[str]:
    """The SHA-256 of every photo ``document`` prints."""
    from .pdf import iter_images

    return sorted({image["sha256"] for image in iter_images(document)})


def purged_among(db: Session, panel_id: int, shas) -> list[str]:
    """Which of the photos ``shas`` (SHA-256) of the panel have been purged."""
    if not shas:
        return []
    return list(db.exec(select(Photo.sha256).where(Photo.panel_id == panel_id, Photo.sha256.in_(sorted(shas)),
                                                   Photo.purged_at.is_not(None))).all())


WITHDRAWN = "Withdrawn: photo {sha} in it was purged from the panel. Build it again (without it)."


def withdraw(db: Session, panel: Panel, builds: list[AnnexBuild], sha: str) -> None:
    """Withdraw ``builds``, whose files print the purged photo ``sha``: their files are
    destroyed (overwritten, then removed; a reused build shares its file) and each is marked
    failed with the reason, in the panel's audit log."""
    for path in {file_path(panel.code, b) for b in builds if b.sha256}:
        destroy_file(path)
    for build in builds:
        build.state, build.error, build.finished_at = BuildState.FAILED, WITHDRAWN.format(sha=sha[:12]), utcnow()
        db.add(build)
        audit.record(db, "annex.withdraw", actor=None, obj=build, label=f"build {build.id}: {build.edition.label}, "
                     f"{build.format.value}", after={"purged_photo": sha},
                     classification=most_restrictive(build.edition.level, visibility.effective_level(db, build)))


def withdraw_builds_of_purged(changes) -> None:
    """Subscriber to ``photo.purge``: once a purge has committed, withdraw every build whose
    file prints the photo (a purged photo's bytes do not survive in an annex either)."""
    from ..db import get_engine

    with Session(get_engine()) as db:
        for change in changes:
            photo = db.get(Photo, change.id)
            if photo is None or photo.purged_at is None:
                continue
            found = db.exec(select(AnnexBuild).join(AnnexBuildPhoto, AnnexBuildPhoto.build_id == AnnexBuild.id)
                            .where(AnnexBuildPhoto.panel_id == photo.panel_id, AnnexBuildPhoto.sha256 == photo.sha256,
                                   AnnexBuild.state == BuildState.DONE)).all()
            if found:
                withdraw(db, db.get(Panel, photo.panel_id), list(found), photo.sha256)
        db.commit()


#: A build still queued or running this long after it was asked for was interrupted (the
#: process that ran it stopped): it is marked failed so that it can be asked for again.
STALE_AFTER = timedelta(hours=2)


def mark_interrupted(db: Session, panel_id: int) -> int:
    """Mark the panel's builds left unfinished by a stopped process as failed; how many."""
    cutoff = utcnow() - STALE_AFTER
    stale = db.exec(select(AnnexBuild).where(AnnexBuild.panel_id == panel_id,
                                             AnnexBuild.state.in_([BuildState.QUEUED, BuildState.RUNNING]),
                                             AnnexBuild.created_at < cutoff)).all()
    for build in stale:
        build.state, build.finished_at = BuildState.FAILED, utcnow()
        build.error = "Interrupted: the process building it stopped. Build it again."
        db.add(build)
    return len(stale)


def _reason(exc: Exception) -> str:
    if isinstance(exc, Invalid):
        return str(exc)
    return f"The build failed ({type(exc).__name__}); the server log has the details."
