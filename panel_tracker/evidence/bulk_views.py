"""Bulk photo import pages: upload a day's photos, watch the progress, read the report,
split the sequence at the label cards. Routes of the ``evidence`` blueprint."""
from __future__ import annotations

import logging

import redis
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from sqlmodel import select
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from .. import jobs
from ..auth.access import current_panel, has_role, requires
from ..auth.models import Role
from ..cases.models import Case
from ..cases.queries import load_or_404
from ..db import get_session
from ..formutil import options, show_errors
from ..validation import Invalid
from . import bulk, images
from .bulk_models import BulkImport, BulkImportStatus
from .blueprint import bp

log = logging.getLogger(__name__)


class BulkImportForm(FlaskForm):
    files = MultipleFileField(
        "A ZIP of the day's photos, or the photos",
        validators=[DataRequired(message="Choose a ZIP of the day's photos, a folder, or the photos themselves.")],
        description="One ZIP, or many photos at once (JPEG, PNG, HEIC, TIFF, WebP).",
        render_kw={"accept": ",".join([".zip", "application/zip", *sorted(images.ACCEPTED_MIME_TYPES)])})
    mapping = FileField("Mapping CSV (optional)",
                        description="Header row file,item_ref, then one photo a line. Without it, assign the "
                                    "photos afterwards by ticking the label cards in the sequence.",
                        render_kw={"accept": ".csv,text/csv"})
    clock_corrections = TextAreaField(
        "Camera clock corrections (optional)",
        description="One camera a line: the name, =, and what to add to its clock, e.g. "
                    "“Nikon D750 = +00:02:00” for a clock two minutes slow, or “-45s”. "
                    "The report lists the cameras found; you can correct and sort again there.")
    source = StringField("Received from", validators=[Length(max=300)],
                         description="e.g. Panel inspection; Member State; open source")
    is_original = RadioField("The files are", choices=options([("yes", "originals (straight from the camera)"),
                                                               ("no", "copies (e.g. forwarded by a messaging app)")]),
                             default="yes")


class ClocksForm(FlaskForm):
    clock_corrections = TextAreaField("Camera clock corrections")


def _actor():
    return current_user._get_current_object()


# VISIBILITY: who may see a bulk import (its starter, or a coordinator of the panel); the
# visibility module replaces this one call.
def _may_see(job: BulkImport) -> bool:
    return job.created_by_id == current_user.id or has_role(Role.COORDINATOR)


def _load(bulk_id: int) -> tuple[BulkImport, Case]:
    """The import, if it is of this panel and the user started it (or coordinates the panel); else 404."""
    job = get_session().get(BulkImport, bulk_id)
    if job is None or job.panel_id != current_panel().id or not _may_see(job):
        abort(404)
    return job, load_or_404(Case, job.case_id)


def _field_errors(form, exc: Invalid) -> None:
    show_errors(form, exc.errors, fallback="files")


@bp.route("/cases/<int:case_id>/photos/bulk", methods=["GET", "POST"])
@requires(Role.EXPERT)
def bulk_import(case_id: int):
    db = get_session()
    case = load_or_404(Case, case_id)
    form = BulkImportForm()
    status = 200
    if form.validate_on_submit():
        try:
            offsets = bulk.parse_clock_corrections(form.clock_corrections.data)
            mapping = bulk.parse_mapping(form.mapping.data.stream) if form.mapping.data else []
            uploads = [bulk.Upload(f.filename, f.stream) for f in form.files.data if f and f.filename]
            job = bulk.create_bulk_import(db, current_panel(), case, _actor(), uploads, mapping=mapping,
                                          clock_offsets=offsets, source=form.source.data or "",
                                          is_original=form.is_original.data == "yes")
            db.commit()
        except Invalid as exc:
            db.rollback()
            _field_errors(form, exc)
            status = 422
        else:
            _start(db, job)
            return redirect(url_for("evidence.bulk_report", bulk_id=job.id), 303)
    elif request.method == "POST":
        status = 422
    earlier = select(BulkImport).where(BulkImport.panel_id == case.panel_id, BulkImport.case_id == case.id)
    if not has_role(Role.COORDINATOR):
        earlier = earlier.where(BulkImport.created_by_id == current_user.id)
    return render_template("evidence/bulk_import.html", form=form, case=case,
                           earlier=db.exec(earlier.order_by(BulkImport.id.desc()).limit(20)).all()), status


def _start(db, job: BulkImport) -> None:
    """Hand the import to the job runner; if the queue is down, the import's record says so."""
    try:
        jobs.enqueue(bulk.JOB, job.id, sync=bool(current_app.config["BULK_IMPORT_SYNC"]))
    except redis.exceptions.RedisError:
        log.exception("bulk import %s could not be queued", job.id)
        bulk.mark_failed(db, job, "The job queue could not be reached, so the import did not start. Nothing was "
                                  "received; try again in a few minutes, or tell your panel admin.")
        db.commit()


@bp.route("/bulk/<int:bulk_id>")
@requires(Role.EXPERT)
def bulk_report(bulk_id: int):
    db = get_session()
    job, case = _load(bulk_id)
    photos = bulk.photos_of(db, job)
    names = bulk.names_by_photo(job)
    sequence = [photos[i] for i in job.sequence if i in photos]
    items = bulk.items_of_case(db, case, _actor()) if job.status == BulkImportStatus.DONE else []
    item_refs = {i.id: i.item_ref for i in items}
    return render_template(
        "evidence/bulk_report.html", job=job, case=case, sequence=sequence, names=names, items=items,
        item_refs=item_refs, cameras=bulk.cameras(db, job) if job.status == BulkImportStatus.DONE else [],
        no_time=[p for p in sequence if not (p.taken_at_corrected or p.taken_at)],
        duplicates=[e for e in job.files if e.get("outcome") == "duplicate"],
        clocks_form=ClocksForm(clock_corrections=bulk.format_clock_corrections(job.clock_offsets or {})),
        dead=bulk.is_dead(job), retryable=bulk.retryable(job), retry_form=FlaskForm(),
        camera_label=bulk.camera_label, format_offset=bulk.format_offset)


@bp.route("/bulk/<int:bulk_id>/status.json")
@requires(Role.EXPERT)
def bulk_status(bulk_id: int):
    job, _case = _load(bulk_id)
    response = jsonify(id=job.id, status=job.status.value, finished=job.status.finished, total=job.total,
                       processed=job.processed, percent=job.percent, accepted=job.accepted,
                       duplicates=job.duplicates, skipped=len(job.skipped), error=job.error or None,
                       updated_at=job.updated_at.isoformat() if job.updated_at else None,
                       report_url=url_for("evidence.bulk_report", bulk_id=job.id))
    response.headers["Cache-Control"] = "no-store"
    return response


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        abort(400)


@bp.route("/bulk/<int:bulk_id>/split", methods=["POST"])
@requires(Role.EXPERT)
def bulk_split(bulk_id: int):
    db = get_session()
    job, case = _load(bulk_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    if job.status != BulkImportStatus.DONE:
        flash("The import has not finished; wait for it before assigning photos.", "error")
        return redirect(url_for("evidence.bulk_report", bulk_id=job.id))
    cards = [_int_or_none(v) for v in request.form.getlist("label_card")]
    item_for = {card: _int_or_none(request.form.get(f"item_for_{card}")) for card in cards}
    try:
        result = bulk.assign_by_label_cards(db, job, case, _actor(), label_cards=cards, item_for=item_for,
                                            item_before=_int_or_none(request.form.get("item_before")))
        db.commit()
    except Invalid as exc:
        db.rollback()
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for("evidence.bulk_report", bulk_id=job.id))
    flash(f"{result.assigned} photo(s) assigned, in {result.groups} group(s) starting at a label card.", "info")
    for note in result.not_moved:
        flash(note, "warning")
    return redirect(url_for("evidence.bulk_report", bulk_id=job.id) + "#sequence")


@bp.route("/bulk/<int:bulk_id>/clocks", methods=["POST"])
@requires(Role.EXPERT)
def bulk_clocks(bulk_id: int):
    db = get_session()
    job, _case = _load(bulk_id)
    form = ClocksForm()
    if not form.validate_on_submit():
        abort(400)
    if job.status != BulkImportStatus.DONE:
        flash("The import has not finished; correct the clocks once it has.", "error")
        return redirect(url_for("evidence.bulk_report", bulk_id=job.id))
    try:
        changed = bulk.correct_clocks(db, job, bulk.parse_clock_corrections(form.clock_corrections.data), _actor())
        db.commit()
    except Invalid as exc:
        db.rollback()
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for("evidence.bulk_report", bulk_id=job.id) + "#cameras")
    flash(f"Clock corrections applied to {changed} photo(s); the sequence is sorted again.", "info")
    return redirect(url_for("evidence.bulk_report", bulk_id=job.id) + "#sequence")


@bp.route("/bulk/<int:bulk_id>/retry", methods=["POST"])
@requires(Role.EXPERT)
def bulk_retry(bulk_id: int):
    """Queue a failed import again from its staged files; files already received are not received twice."""
    db = get_session()
    job, _case = _load(bulk_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        bulk.retry_bulk_import(db, job, _actor())
        db.commit()
    except Invalid as exc:
        db.rollback()
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for("evidence.bulk_report", bulk_id=job.id))
    _start(db, job)
    flash("The import was queued again; photos already received are not received twice.", "info")
    return redirect(url_for("evidence.bulk_report", bulk_id=job.id))
