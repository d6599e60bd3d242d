"""Photo pages: upload, view, edit; originals and GPS only for experts and up, audited; the
photos that show a marking (posted from the item page)."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from ..auth.access import current_panel, panel_id, requires, scoped
from ..auth.models import Role
from ..cases import queries
from ..cases import services as cases_services
from ..cases.forms import ClassifyForm, DeleteForm
from ..cases.models import Case, Item, Marking, MarkingPhoto
from ..cases.page_actions import classify_and_redirect, delete_and_redirect
from ..db import get_session
from ..inputs import page_number
from ..security_headers import protect_file_response
from ..validation import Invalid
from . import images, services
from .blueprint import bp
from .forms import MarkingPhotoForm, PhotoForm, PurgeForm, UploadForm
from .models import Photo, PhotoReceipt


def _actor():
    return current_user._get_current_object()


def _item_choices(case: Case):
    rows = get_session().exec(queries.visible(Item).where(Item.case_id == case.id).order_by(Item.item_ref)).all()
    return [("", "— not yet assigned —")] + [(str(i.id), f"{i.item_ref} {i.type[:50]}") for i in rows]


@bp.route("/cases/<int:case_id>/photos/upload", methods=["GET", "POST"])
@requires(Role.EXPERT)
def upload(case_id: int):
    case = queries.load_or_404(Case, case_id)
    form = UploadForm()
    form.item_id.choices = _item_choices(case)
    if request.method == "GET" and request.args.get("item_id"):
        form.item_id.data = request.args["item_id"]
    results, status = [], 200
    if form.validate_on_submit():
        db = get_session()
        item_id = int(form.item_id.data) if form.item_id.data else None
        if item_id is not None:
            queries.load_or_404(Item, item_id)
        accepted = refused = 0
        statuses = set()
        for upload_file in request.files.getlist(form.files.name):
            if not upload_file or not upload_file.filename:
                continue
            try:
                received = services.receive_photo(
                    db, current_panel(), upload_file.stream, filename=upload_file.filename, actor=_actor(),
                    case_id=case.id, item_id=item_id, source=form.source.data or "",
                    is_original=form.is_original.data == "yes", caption=form.caption.data or "",
                    source_line=form.source_line.data or "", photographer=form.photographer.data or "")
                db.commit()
            except services.PhotoRefused as exc:
                db.rollback()
                refused += 1
                statuses.add(exc.status)
                results.append(("error", exc.errors["file"]))
                continue
            accepted += 1
            note = (f"{upload_file.filename}: the same file was already received (photo {received.photo.id}); "
                    f"recorded as another receipt and flagged"
                    if received.duplicate else f"{upload_file.filename}: stored, SHA-256 {received.photo.sha256[:16]}…")
            results.append(("warning" if received.duplicate else "info", note))
        if accepted and not refused:
            for category, message in results:
                flash(message, category)
            if item_id is not None:  # uploaded from the item's page: back to it
                return redirect(url_for("cases.show_item", item_id=item_id))
            return redirect(url_for("cases.show", case_id=case.id))
        if refused and not accepted:
            status = statuses.pop() if len(statuses) == 1 else 400
    elif request.method == "POST":
        status = 400
    return render_template("evidence/upload.html", form=form, case=case, results=results,
                           accept=",".join(sorted(images.ACCEPTED_MIME_TYPES))), status


@bp.route("/photos/<int:photo_id>")
@requires(Role.VIEWER)
def show(photo_id: int):
    db = get_session()
    photo = queries.load_or_404(Photo, photo_id)
    receipts = db.exec(scoped(PhotoReceipt).where(PhotoReceipt.photo_id == photo.id)
                       .order_by(PhotoReceipt.id)).all()
    case = db.get(Case, photo.case_id) if photo.case_id else None
    form = PhotoForm(obj=photo)
    form.item_id.choices = _item_choices(case) if case else [("", "—")]
    form.item_id.data = str(photo.item_id or "")
    return render_template("evidence/photo.html", photo=photo, receipts=receipts, case=case, form=form,
                           item=db.get(Item, photo.item_id) if photo.item_id else None,
                           classify_form=ClassifyForm(level=photo.classification.value), delete_form=DeleteForm(),
                           purge_form=PurgeForm())


@bp.route("/photos/<int:photo_id>/edit", methods=["POST"])
@requires(Role.EXPERT)
def edit(photo_id: int):
    db = get_session()
    photo = queries.load_or_404(Photo, photo_id)
    case = db.get(Case, photo.case_id) if photo.case_id else None
    form = PhotoForm()
    form.item_id.choices = _item_choices(case) if case else [("", "—")]
    if form.validate_on_submit():
        values = {k: form[k].data or "" for k in ("caption", "source_line", "photographer")}
        values["photo_date"] = form.photo_date.data
        values["item_id"] = int(form.item_id.data) if form.item_id.data else None
        if values["item_id"] is not None:
            queries.load_or_404(Item, values["item_id"])
        services.update_photo(db, photo, values, _actor())
        db.commit()
        flash("Photo saved.", "info")
    else:
        flash("; ".join(f"{form[k].label.text}: {', '.join(v)}" for k, v in form.errors.items()), "error")
    return redirect(url_for("evidence.show", photo_id=photo.id))


@bp.route("/photos/<int:photo_id>/<any(thumb, large):size>.jpg")
@requires(Role.VIEWER)
def image(photo_id: int, size: str):
    photo = queries.load_or_404(Photo, photo_id)
    store = services.photo_store()
    code = current_panel().code
    path = store.derivative_path(code, photo.sha256, size)
    if not path.exists():  # derivatives are rebuilt from the original on demand
        images.make_derivatives(store.original_path(code, photo.sha256), store.derivative_outputs(code, photo.sha256))
    # Derivatives are small: send the bytes, so no file handle outlives the request.
    response = Response(path.read_bytes(), mimetype="image/jpeg")
    response.set_etag(photo.sha256 + size)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return protect_file_response(response.make_conditional(request))


# Looking at an original or at GPS is recorded in the audit log, so it takes a POST with a
# CSRF token: a link on another site must not be able to write that record in a user's name.
@bp.route("/photos/<int:photo_id>/original", methods=["POST"])
@requires(Role.EXPERT)
def original(photo_id: int):
    db = get_session()
    photo = queries.load_or_404(Photo, photo_id)
    path = services.photo_store().original_path(current_panel().code, photo.sha256)
    if not path.exists():
        abort(404)
    services.record_original_download(db, photo, _actor())
    db.commit()
    extension = {"image/jpeg": ".jpg", "image/png": ".png", "image/heic": ".heic", "image/heif": ".heif",
                 "image/tiff": ".tif", "image/webp": ".webp"}.get(photo.mime, "")
    response = send_file(path, mimetype=photo.mime, as_attachment=True,
                         download_name=f"{current_panel().code}-photo-{photo.id}-{photo.sha256[:12]}{extension}")
    response.headers["Cache-Control"] = "no-store"
    return protect_file_response(response)  # send_file's as_attachment: Content-Disposition: attachment


@bp.route("/photos/<int:photo_id>/gps", methods=["POST"])
@requires(Role.EXPERT)
def gps(photo_id: int):
    db = get_session()
    photo = queries.load_or_404(Photo, photo_id)
    services.record_gps_view(db, photo, _actor())
    db.commit()
    return render_template("evidence/gps.html", photo=photo)


@bp.route("/photos/<int:photo_id>/classify", methods=["POST"])
@requires(Role.EXPERT)
def classify(photo_id: int):
    photo = queries.load_or_404(Photo, photo_id)
    return classify_and_redirect(photo, url_for("evidence.show", photo_id=photo.id))


@bp.route("/photos/<int:photo_id>/delete", methods=["POST"])
@requires(Role.EXPERT)
def delete(photo_id: int):
    photo = queries.load_or_404(Photo, photo_id)
    back = url_for("cases.show", case_id=photo.case_id) if photo.case_id else url_for("cases.index")
    return delete_and_redirect(photo, back, "Photo deleted (the original is kept; an admin can purge it).")


@bp.route("/photos/<int:photo_id>/purge", methods=["POST"])
@requires(Role.ADMIN)
def purge(photo_id: int):
    db = get_session()
    photo = db.get(Photo, photo_id)
    if photo is None or photo.panel_id != current_panel().id or photo.purged_at is not None:
        abort(404)
    form = PurgeForm()
    if form.validate_on_submit():
        services.purge_photo(db, photo, current_panel(), _actor(), form.reason.data)
        db.commit()
        flash(f"The file's bytes were destroyed. Its SHA-256 {photo.sha256} and your reason stay in the audit log.", "info")
        return redirect(url_for("cases.show", case_id=photo.case_id) if photo.case_id else url_for("cases.index"))
    flash("Say why the file is purged.", "error")
    return redirect(url_for("evidence.show", photo_id=photo.id))


# ------------------------------------------------------------------ photos showing a marking (item page)


@bp.route("/markings/<int:marking_id>/photos", methods=["POST"])
@requires(Role.EXPERT)
def link_marking_photo(marking_id: int):
    db = get_session()
    marking = queries.load_or_404(Marking, marking_id)
    item = queries.load_or_404(Item, marking.item_id)
    form = MarkingPhotoForm()
    form.photo_id.choices = [(p.id, str(p.id)) for p in db.exec(
        queries.visible(Photo).where(Photo.item_id == item.id)).all()]
    if not form.validate_on_submit():
        flash(_link_refusal(form), "error")
        return redirect(url_for("cases.show_item", item_id=item.id) + "#markings")
    photo = queries.load_or_404(Photo, form.photo_id.data)
    box = (form.box_x.data, form.box_y.data, form.box_w.data, form.box_h.data)
    if None in box and any(v is not None for v in box):
        flash("A box needs all four numbers (x, y, width, height), or none to link the photo without a box. "
              "Nothing was saved.", "error")
        return redirect(url_for("cases.show_item", item_id=item.id) + "#markings")
    try:
        cases_services.link_marking_photo(db, marking, photo, None if None in box else box, _actor())
        db.commit()
        flash("Photo linked to the marking." + (" Box saved." if None not in box else ""), "info")
    except Invalid as exc:
        db.rollback()
        flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("cases.show_item", item_id=item.id) + "#markings")


def _link_refusal(form: MarkingPhotoForm) -> str:
    """Why a photo could not be linked to a marking, in the words of the field at fault."""
    if form.photo_id.errors or not form.photo_id.data:
        return "Choose one of this item's photos."
    bad = [name for name in ("box_x", "box_y", "box_w", "box_h") if form[name].errors]
    if bad:
        return ("The box is wrong: x, y, width and height are numbers between 0 and 1 "
                f"({', '.join(form[name].label.text for name in bad)} is not). Nothing was saved.")
    return "The form expired; reload the page and try again."


@bp.route("/marking-photos/<int:link_id>/delete", methods=["POST"])
@requires(Role.EXPERT)
def unlink_marking_photo(link_id: int):
    db = get_session()
    link = db.get(MarkingPhoto, link_id)
    if link is None or link.panel_id != panel_id():
        abort(404)
    marking = queries.load_or_404(Marking, link.marking_id)
    photo = queries.load_or_404(Photo, link.photo_id)
    if DeleteForm(meta={"csrf": True}).is_submitted():
        cases_services.unlink_marking_photo(db, link, photo, _actor())
        db.commit()
        flash("Photo unlinked from the marking.", "info")
    return redirect(url_for("cases.show_item", item_id=marking.item_id) + "#markings")





PHOTOS_PER_PAGE = 48


@bp.route("/photos")
@requires(Role.VIEWER)
def index():
    """The panel's photos the reader may see (the dashboard's count links here), newest
    first, by case if asked (``?case=YEM-2024-017``; an unknown case shows none)."""
    db = get_session()
    stmt = queries.visible(Photo)
    case_ref = request.args.get("case", "").strip().upper()
    if case_ref:
        stmt = stmt.where(Photo.case_id.in_(queries.visible(Case).where(Case.ref == case_ref)
                                            .with_only_columns(Case.id)))
    page = page_number()
    rows = db.exec(stmt.order_by(Photo.created_at.desc(), Photo.id.desc())
                   .offset((page - 1) * PHOTOS_PER_PAGE).limit(PHOTOS_PER_PAGE + 1)).all()
    photos = rows[:PHOTOS_PER_PAGE]
    # A visible photo's case and item are visible (visibility.py): their references may be shown.
    case_refs = {c.id: c.ref for c in db.exec(
        queries.visible(Case).where(Case.id.in_({p.case_id for p in photos if p.case_id})))}
    item_refs = {i.id: i.item_ref for i in db.exec(
        queries.visible(Item).where(Item.id.in_({p.item_id for p in photos if p.item_id})))}
    cases = db.exec(queries.visible(Case).where(Case.id.in_(queries.visible(Photo).with_only_columns(Photo.case_id)))
                    .order_by(Case.ref).with_only_columns(Case.ref)).all()
    return render_template("evidence/photos.html", photos=photos, case_refs=case_refs, item_refs=item_refs,
                           cases=cases, case_ref=case_ref, page=page, more=len(rows) > PHOTOS_PER_PAGE,
                           total=queries.count(stmt), per_page=PHOTOS_PER_PAGE, args=request.args)
