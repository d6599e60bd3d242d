"""Pages for reports, their annexes and blocks, and their builds. Thin: load-or-404 with
the reader's panel and clearance, validate a form, call one service, commit once, redirect.

Viewers read reports and the annexes and blocks their clearance allows, and download the
builds of the editions it allows; experts write reports, annexes and blocks, and build;
coordinators submit. Reordering posts the new order of ids (drag-and-drop, in
``static/reorder.js``) or moves one row up or down (the plain-form fallback).
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, jsonify, make_response, redirect, render_template, \
    request, send_file, url_for
from flask_login import current_user
from sqlmodel import select

from .. import visibility
from ..auth.access import clearance, current_panel, requires
from ..auth.models import Role, User
from ..cases.models import Case, Item, Marking, MarkingPhoto
from ..cases.queries import load_or_404, reader
from ..classification import may_see
from ..db import get_session
from ..evidence.models import Photo
from ..formutil import commit_or_flash, flash_errors, show_errors
from ..inputs import whole_number
from ..security_headers import protect_file_response
from ..validation import Invalid
from . import blocks, builds, services, text
from .forms import AnnexForm, BuildForm, ConfirmForm, ItemSheetForm, QuickBuildForm, ReportForm, SymbolForm, \
    block_form_class
from .models import Annex, AnnexBuild, Block, BuildFormat, BuildState, Edition, Publication, Report

bp = Blueprint("annexes", __name__, url_prefix="/reports")


def _actor():
    return current_user._get_current_object()


def _numbered(report: Report) -> tuple[list[tuple[int, Annex]], int]:
    """The report's annexes the reader may see, with their numbers (numbers count every
    annex, as every edition does), and how many are not shown."""
    db = get_session()
    every = services.annexes_of(db, report)
    shown = visibility.visible_among(db, Annex, [a.id for a in every], reader())
    return [(n, a) for n, a in enumerate(every, start=1) if a.id in shown], len(every) - len(shown)


def _number_of(annex: Annex) -> int:
    report = get_session().get(Report, annex.report_id)
    return [a.id for a in services.annexes_of(get_session(), report)].index(annex.id) + 1


def _editions() -> list[Edition]:
    """The editions the reader's clearance allows, most public first."""
    return [e for e in Edition if may_see(clearance(), e.level)]


# ------------------------------------------------------------------ reports


@bp.route("/")
@requires(Role.VIEWER)
def index():
    db = get_session()
    reports = db.exec(visibility.visible(Report, reader()).order_by(Report.cut_off.desc(), Report.id.desc())).all()
    return render_template("annexes/index.html", reports=reports)


def _report_form_page(form, report: Report | None = None, *, status: int = 200):
    return render_template("annexes/report_form.html", form=form, report=report,
                           title=f"Edit {report.title}" if report else "New report"), status


@bp.route("/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_report():
    form = ReportForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            report = services.create_report(db, current_panel(), form.values(), _actor())
            db.commit()
            flash("Report created. Add its annexes in the order the report cites them.", "info")
            return redirect(url_for("annexes.show", report_id=report.id))
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors)
    return _report_form_page(form, status=422 if request.method == "POST" else 200)


@bp.route("/<int:report_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_report(report_id: int):
    """A draft's every field; a submitted report's document symbol only."""
    report = load_or_404(Report, report_id)
    form = SymbolForm(obj=report) if report.frozen else ReportForm(obj=report)
    if request.method == "GET" and not report.frozen:
        form.kind.data = report.kind.value
    if form.validate_on_submit():
        db = get_session()
        values = {"symbol": form.symbol.data or ""} if report.frozen else form.values()
        try:
            services.update_report(db, report, values, _actor())
            db.commit()
            flash("Report saved.", "info")
            return redirect(url_for("annexes.show", report_id=report.id))
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors)
            return _report_form_page(form, report, status=exc.status)
    return _report_form_page(form, report, status=422 if request.method == "POST" else 200)


def _report_page(report: Report, build_form: BuildForm | None = None, *, status: int = 200):
    db = get_session()
    annexes, hidden = _numbered(report)
    counts = {}
    if annexes:
        for annex_id in db.exec(visibility.visible(Block, reader()).where(
                Block.annex_id.in_([a.id for _, a in annexes])).with_only_columns(Block.annex_id)).all():
            counts[annex_id] = counts.get(annex_id, 0) + 1
    if build_form is None:
        build_form = BuildForm(formdata=None)
    build_form.fill(annexes, _editions(), preselect=True)
    rows = _listed_builds(db, report.panel_id, AnnexBuild.report_id == report.id, 100)
    people_ids = ({r.created_by_id for r in rows} | {report.submitted_by_id}) - {None}
    people = {u.id: u.name for u in db.exec(select(User).where(User.id.in_(people_ids))).all()} if people_ids else {}
    numbers = {a.id: n for n, a in annexes}
    return render_template("annexes/report.html", report=report, annexes=annexes, hidden=hidden, counts=counts,
                           build_form=build_form, builds=rows, people=people, numbers=numbers,
                           confirm_form=ConfirmForm(), running=any(not _finished(b) for b in rows)), status


def _finished(build: AnnexBuild) -> bool:
    return build.state in (BuildState.DONE, BuildState.FAILED)


def _listed_builds(db, panel_id: int, condition, limit: int) -> list[AnnexBuild]:
    """The newest builds the reader may see under ``condition``; one still queued or running
    long after it was asked for was left by a process that stopped, and is shown failed."""
    query = (visibility.visible(AnnexBuild, reader()).where(condition).order_by(AnnexBuild.id.desc()).limit(limit))
    rows = db.exec(query).all()
    if any(not _finished(b) for b in rows) and builds.mark_interrupted(db, panel_id):
        db.commit()
        rows = db.exec(query).all()
    return rows


@bp.route("/<int:report_id>")
@requires(Role.VIEWER)
def show(report_id: int):
    return _report_page(load_or_404(Report, report_id))


@bp.route("/<int:report_id>/order", methods=["POST"])
@requires(Role.EXPERT)
def order_annexes(report_id: int):
    report = load_or_404(Report, report_id)
    return _reorder(lambda db, order: services.order_annexes(db, report, order, _actor()),
                    url_for("annexes.show", report_id=report.id), "Annexes renumbered.")


def _posted_order() -> list[int] | None:
    """The ids posted as the new order: JSON ``{"order": [3, 1, 2]}`` (the script) or a form
    field ``order=3,1,2``; None when anything in it is not an id."""
    if request.is_json:
        data = request.get_json(silent=True)
        raw = data.get("order") if isinstance(data, dict) else None
    else:
        raw = (request.form.get("order") or "").replace(",", " ").split()
    if not isinstance(raw, list) or not raw:
        return None
    order = [whole_number(str(v)) if not isinstance(v, bool) else None for v in raw]
    return None if None in order else order


def _reorder(action, back: str, done: str):
    order = _posted_order()
    db = get_session()
    try:
        if order is None:
            raise Invalid({"order": "The new order is a list of the rows' numbers; reload the page."}, status=400)
        action(db, order)
        db.commit()
    except Invalid as exc:
        db.rollback()
        if request.is_json:
            return jsonify(error=next(iter(exc.errors.values()))), exc.status
        flash_errors(exc.errors)
        return redirect(back)
    if request.is_json:
        return jsonify(order=order, numbers={str(i): n for n, i in enumerate(order, start=1)})
    flash(done, "info")
    return redirect(back)


def _step() -> int | None:
    return {"up": -1, "down": 1}.get(request.form.get("direction", ""))


def _move(action, back: str):
    step = _step()
    if step is None:
        flash("Move up or down.", "error")
    else:
        commit_or_flash(lambda db: action(db, step))
    return redirect(back)


@bp.route("/<int:report_id>/submit", methods=["GET", "POST"])
@requires(Role.COORDINATOR)
def submit(report_id: int):
    """A confirmation page that says what freezing means, then the submission."""
    report = load_or_404(Report, report_id)
    form = ConfirmForm()
    if report.frozen:
        flash("This report was already submitted.", "info")
        return redirect(url_for("annexes.show", report_id=report.id))
    if request.method == "POST" and form.validate_on_submit():
        commit_or_flash(lambda db: services.submit(db, current_panel(), report, _actor()),
                        "Report submitted: its annexes and the data they show are frozen.")
        return redirect(url_for("annexes.show", report_id=report.id))
    annexes, hidden = _numbered(report)
    return render_template("annexes/submit.html", report=report, annexes=annexes, hidden=hidden, form=form)


# ------------------------------------------------------------------ builds


@bp.route("/<int:report_id>/builds", methods=["POST"])
@requires(Role.EXPERT)
def request_build(report_id: int):
    report = load_or_404(Report, report_id)
    form = BuildForm()
    annexes, _ = _numbered(report)
    form.fill(annexes, _editions())
    errors = {}
    annex_id = None
    if form.annex.data:
        annex_id = whole_number(form.annex.data)
        if annex_id not in {a.id for _, a in annexes}:
            errors["annex"] = "Choose one of this report's annexes, or all of them."
    edition, fmt = _edition_and_format(form, errors)
    if not annexes:
        errors["annex"] = "This report has no annex to build yet."
    if not form.validate_on_submit() and not errors:
        errors.update({name: messages[0] for name, messages in form.errors.items()})
    if errors:
        show_errors(form, errors)
        return _report_page(report, form, status=422)
    db = get_session()
    try:
        build = builds.request_build(db, current_panel(), report, annex_id, edition, fmt, _actor(), clearance())
        db.commit()
    except Invalid as exc:
        db.rollback()
        show_errors(form, exc.errors)
        return _report_page(report, form, status=exc.status)
    return _start(build, url_for("annexes.show", report_id=report.id) + "#builds")


def _edition_and_format(form, errors: dict) -> tuple[Edition | None, BuildFormat | None]:
    """The edition (one the reader's clearance allows) and format a build form asks for;
    what is wrong goes into ``errors``."""
    edition = next((e for e in _editions() if e.value == form.edition.data), None)
    if edition is None:
        errors["edition"] = "Choose an edition your role may read: " + ", ".join(e.value for e in _editions()) + "."
    fmt = next((f for f in BuildFormat if f.value == form.format.data), None)
    if fmt is None:
        errors["format"] = "Choose PDF or Word (DOCX)."
    return edition, fmt


def _start(build: AnnexBuild, back: str):
    """Start a committed build (in the background) and go ``back`` to the page listing it."""
    try:
        builds.start(build, sync=bool(current_app.config.get("ANNEX_BUILD_SYNC")))
    except Exception as exc:  # noqa: BLE001 - a queue that cannot be reached: say so, keep the request
        current_app.logger.exception("annex build %s could not be started", build.id)
        flash(f"The build could not be started ({type(exc).__name__}): is the job queue running? "
              "It is kept as queued.", "error")
        return redirect(back)
    flash(f"Build {build.id} started: {build.edition.label}, {build.format.value.upper()}.", "info")
    return redirect(back)


@bp.route("/<int:report_id>/builds.json")
@requires(Role.VIEWER)
def build_states(report_id: int):
    """The state and progress of the report's builds the reader may see (the page polls it)."""
    report = load_or_404(Report, report_id)
    return _states(AnnexBuild.report_id == report.id)


def _states(condition):
    rows = get_session().exec(visibility.visible(AnnexBuild, reader()).where(condition)
                              .order_by(AnnexBuild.id.desc()).limit(100)).all()
    response = jsonify(builds=[{"id": b.id, "state": b.state.value, "progress": b.progress,
                                "finished": _finished(b)} for b in rows])
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------ quick annexes of a case


@bp.route("/cases/<int:case_id>/builds", methods=["POST"])
@requires(Role.EXPERT)
def request_quick_build(case_id: int):
    """A quick annex of the case's item sheets (``panel-tracker annex quick`` from the case
    page), built in the background like a report's."""
    case = load_or_404(Case, case_id)
    form = QuickBuildForm()
    form.fill_editions(_editions())
    errors: dict = {}
    edition, fmt = _edition_and_format(form, errors)
    if not form.validate_on_submit() and not errors:
        errors.update({name: messages[0] for name, messages in form.errors.items()})
    back = url_for("cases.show", case_id=case.id) + "#quick-annex"
    if errors:
        return _case_page_with(form, errors, case, status=422)
    db = get_session()
    try:
        build = builds.request_quick_build(db, current_panel(), case, edition, fmt, _actor(), clearance())
        db.commit()
    except Invalid as exc:
        db.rollback()
        return _case_page_with(form, exc.errors, case, status=exc.status)
    return _start(build, back)


def _case_page_with(form: QuickBuildForm, errors: dict, case: Case, *, status: int):
    """The case page again, its quick-annex form showing ``errors`` (the case page is the
    cases domain's; its section asks :func:`case_quick_annex` for this form)."""
    show_errors(form, errors)
    g.quick_build_form = form
    response = make_response(current_app.view_functions["cases.show"](case_id=case.id))
    response.status_code = status
    return response


@bp.route("/cases/<int:case_id>/builds.json")
@requires(Role.VIEWER)
def quick_build_states(case_id: int):
    """The state and progress of the case's quick annexes the reader may see (polled)."""
    case = load_or_404(Case, case_id)
    return _states(AnnexBuild.case_id == case.id)


def case_quick_annex(case, **_) -> dict:
    """The case page's "Annex of this case" section: its form and the case's quick annexes
    the reader may see."""
    db = get_session()
    form = g.get("quick_build_form") or QuickBuildForm(formdata=None)
    form.fill_editions(_editions(), preselect=True)
    rows = _listed_builds(db, case.panel_id, AnnexBuild.case_id == case.id, 20)
    people_ids = {r.created_by_id for r in rows} - {None}
    people = {u.id: u.name for u in db.exec(select(User).where(User.id.in_(people_ids))).all()} if people_ids else {}
    return {"quick_build_form": form, "quick_builds": rows, "quick_build_people": people,
            "quick_builds_running": any(not _finished(b) for b in rows)}


@bp.route("/builds/<int:build_id>/download")
@requires(Role.VIEWER)
def download(build_id: int):
    """A build's file, if the reader may read its edition (else 404, as for another panel's)."""
    build = load_or_404(AnnexBuild, build_id)
    report = load_or_404(Report, build.report_id) if build.report_id else None
    case = load_or_404(Case, build.case_id) if build.case_id else None
    if build.state != BuildState.DONE:
        flash(f"That build failed: {build.error}" if build.state == BuildState.FAILED
              else "That build has not finished yet.", "error" if build.state == BuildState.FAILED else "info")
        return redirect(url_for("annexes.show", report_id=build.report_id) + "#builds" if report
                        else url_for("cases.show", case_id=case.id) + "#quick-annex" if case
                        else url_for("annexes.index"))
    path = builds.file_path(current_panel().code, build)
    if not path.is_file():
        abort(404)
    number = _number_of(get_session().get(Annex, build.annex_id)) if build.annex_id else None
    response = send_file(path, mimetype=build.format.mime, as_attachment=True,
                         download_name=builds.download_name(report, build, number, case), etag=False, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return protect_file_response(response)


# ------------------------------------------------------------------ annexes


def _annex_form_page(form, report: Report, annex: Annex | None = None, *, status: int = 200):
    title = f"Edit annex {_number_of(annex)}" if annex else "New annex"
    return render_template("annexes/annex_form.html", form=form, report=report, annex=annex, title=title), status


def _refuse_frozen_page(report: Report, back: str):
    flash("This report was submitted: its annexes are frozen.", "error")
    return redirect(back)


@bp.route("/<int:report_id>/annexes/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_annex(report_id: int):
    report = load_or_404(Report, report_id)
    if report.frozen and request.method == "GET":
        return _refuse_frozen_page(report, url_for("annexes.show", report_id=report.id))
    form = AnnexForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            annex = services.add_annex(db, report, form.values(), _actor())
            db.commit()
            flash(f"Annex {annex.position} added. Add its blocks: item sheets, photos, tables, text.", "info")
            return redirect(url_for("annexes.show_annex", annex_id=annex.id))
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors)
            return _annex_form_page(form, report, status=exc.status)
    return _annex_form_page(form, report, status=422 if request.method == "POST" else 200)


@bp.route("/annexes/<int:annex_id>")
@requires(Role.VIEWER)
def show_annex(annex_id: int):
    db = get_session()
    annex = load_or_404(Annex, annex_id)
    report = load_or_404(Report, annex.report_id)
    who = reader()
    rows = db.exec(visibility.visible(Block, who).where(Block.annex_id == annex.id)
                   .order_by(Block.position, Block.id)).all()
    hidden = len(services.blocks_of(db, annex)) - len(rows)
    item_ids = {i for b in rows for i in _block_item_ids(b)}
    items = {i.id: i for i in db.exec(visibility.visible(Item, who).where(Item.id.in_(item_ids))).all()} \
        if item_ids else {}
    return render_template("annexes/annex.html", annex=annex, report=report, number=_number_of(annex), blocks=rows,
                           hidden=hidden, items=items, kinds={k.name: k for k in blocks.kinds()},
                           intro=text.paragraphs(annex.intro), confirm_form=ConfirmForm())


def _block_item_ids(block: Block) -> list[int]:
    settings = block.settings or {}
    ids = ([settings["item_id"]] if settings.get("item_id") else []) + list(settings.get("item_ids") or [])
    return [i for i in ids if isinstance(i, int)]


@bp.route("/annexes/<int:annex_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_annex(annex_id: int):
    annex = load_or_404(Annex, annex_id)
    report = load_or_404(Report, annex.report_id)
    if report.frozen and request.method == "GET":
        return _refuse_frozen_page(report, url_for("annexes.show_annex", annex_id=annex.id))
    form = AnnexForm(obj=annex)
    if request.method == "GET":
        form.classification.data = annex.classification.value
    if form.validate_on_submit():
        db = get_session()
        try:
            services.update_annex(db, report, annex, form.values(), _actor())
            db.commit()
            flash("Annex saved.", "info")
            return redirect(url_for("annexes.show_annex", annex_id=annex.id))
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors)
            return _annex_form_page(form, report, annex, status=exc.status)
    return _annex_form_page(form, report, annex, status=422 if request.method == "POST" else 200)


@bp.route("/annexes/<int:annex_id>/delete", methods=["POST"])
@requires(Role.EXPERT)
def delete_annex(annex_id: int):
    annex = load_or_404(Annex, annex_id)
    report = load_or_404(Report, annex.report_id)
    if commit_or_flash(lambda db: services.delete_annex(db, report, annex, _actor()),
                       "Annex deleted; the annexes after it are renumbered."):
        return redirect(url_for("annexes.show", report_id=report.id))
    return redirect(url_for("annexes.show_annex", annex_id=annex.id))


@bp.route("/annexes/<int:annex_id>/move", methods=["POST"])
@requires(Role.EXPERT)
def move_annex(annex_id: int):
    annex = load_or_404(Annex, annex_id)
    report = load_or_404(Report, annex.report_id)
    return _move(lambda db, step: services.move_annex(db, report, annex, step, _actor()),
                 url_for("annexes.show", report_id=report.id) + f"#annex-{annex.id}")


@bp.route("/annexes/<int:annex_id>/order", methods=["POST"])
@requires(Role.EXPERT)
def order_blocks(annex_id: int):
    annex = load_or_404(Annex, annex_id)
    report = load_or_404(Report, annex.report_id)
    return _reorder(lambda db, order: services.order_blocks(db, report, annex, order, _actor()),
                    url_for("annexes.show_annex", annex_id=annex.id), "Blocks reordered.")


# ------------------------------------------------------------------ blocks


def _item_refs(item_ids) -> dict[int, str]:
    ids = {i for i in item_ids if isinstance(i, int)}
    if not ids:
        return {}
    return {i.id: i.item_ref for i in get_session().exec(
        visibility.visible(Item, reader()).where(Item.id.in_(ids))).all()}


def _picker(form) -> tuple[Item | None, list[Photo]]:
    """For an item sheet: the item its reference names and its photos the reader may see
    (its own and those showing one of its markings), as ticks with thumbnails."""
    if not isinstance(form, ItemSheetForm):
        return None, []
    ref = (form.item.data or "").strip()
    if not ref:
        return None, []
    db = get_session()
    who = reader()
    item = db.exec(visibility.visible(Item, who).where(Item.item_ref == ref[:60])).first()
    if item is None:
        return None, []
    linked = select(MarkingPhoto.photo_id).join(Marking, Marking.id == MarkingPhoto.marking_id).where(
        Marking.item_id == item.id)
    photos = list(db.exec(visibility.visible(Photo, who).where(
        (Photo.item_id == item.id) | Photo.id.in_(linked)).order_by(Photo.taken_at, Photo.id)).all())
    form.photo_ids.choices = [(str(p.id), f"Photo {p.id}") for p in photos]
    return item, photos


def _item_choices() -> list[str]:
    return list(get_session().exec(visibility.visible(Item, reader()).with_only_columns(Item.item_ref)
                                   .order_by(Item.item_ref).limit(2000)).all())


def _block_form_page(form, report: Report, annex: Annex, kind, block: Block | None = None, *, status: int = 200):
    item, photos = _picker(form)
    return render_template("annexes/block_form.html", form=form, report=report, annex=annex, kind=kind, block=block,
                           number=_number_of(annex), picked_item=item, photos=photos, item_refs=_item_choices(),
                           title=f"{'Edit the' if block else 'Add a'} block: {kind.label}"), status


def _save_block(form, save):
    """Validate and save; None when saved, else the status to re-render with."""
    if request.form.get("action") == "photos":  # "Show its photos": re-render, nothing saved
        return 200
    if not form.validate_on_submit():
        return 422
    db = get_session()
    try:
        save(db, form.values())
        db.commit()
        return None
    except Invalid as exc:
        db.rollback()
        # A kind's settings error goes by its first field; a frozen report's, at the top.
        show_errors(form, {(form.settings_field if name == "settings" else name): message
                           for name, message in exc.errors.items()})
        return exc.status


@bp.route("/annexes/<int:annex_id>/blocks/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_block(annex_id: int):
    annex = load_or_404(Annex, annex_id)
    report = load_or_404(Report, annex.report_id)
    if report.frozen and request.method == "GET":
        return _refuse_frozen_page(report, url_for("annexes.show_annex", annex_id=annex.id))
    try:
        kind = blocks.kind(request.args.get("kind", ""))
    except LookupError:
        status = 422 if request.method == "POST" or request.args.get("kind") else 200
        return render_template("annexes/block_kinds.html", report=report, annex=annex, number=_number_of(annex),
                               kinds=blocks.kinds(), unknown=bool(request.args.get("kind"))), status
    form = block_form_class(kind.name)()
    if request.method == "GET" and request.args.get("item") and isinstance(form, ItemSheetForm):
        form.item.data = request.args["item"][:60]
    status = 200
    if request.method == "POST":

        def save(db, values):
            services.add_block(db, report, annex, {**values, "kind": kind.name}, _actor())

        status = _save_block(form, save)
        if status is None:
            flash(f"{kind.label} added.", "info")
            return redirect(url_for("annexes.show_annex", annex_id=annex.id) + "#blocks")
    return _block_form_page(form, report, annex, kind, status=status)


def _block_parents(block_id: int) -> tuple[Block, Annex, Report]:
    block = load_or_404(Block, block_id)
    annex = load_or_404(Annex, block.annex_id)
    return block, annex, load_or_404(Report, annex.report_id)


@bp.route("/blocks/<int:block_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_block(block_id: int):
    block, annex, report = _block_parents(block_id)
    if report.frozen and request.method == "GET":
        return _refuse_frozen_page(report, url_for("annexes.show_annex", annex_id=annex.id))
    try:
        kind = blocks.kind(block.kind)
    except LookupError:
        abort(404)  # a kind no longer registered: nothing here can edit it
    form_class = block_form_class(kind.name)
    status = 200
    if request.method == "GET":
        form = form_class(obj=block)
        form.classification.data = block.classification.value
        settings = block.settings or {}
        form.load(settings, _item_refs(_block_item_ids(block)))
    else:
        form = form_class()
        status = _save_block(form, lambda db, values: services.update_block(db, report, annex, block, values,
                                                                            _actor()))
        if status is None:
            flash("Block saved.", "info")
            return redirect(url_for("annexes.show_annex", annex_id=annex.id) + f"#block-{block.id}")
    return _block_form_page(form, report, annex, kind, block, status=status)


@bp.route("/blocks/<int:block_id>/delete", methods=["POST"])
@requires(Role.EXPERT)
def delete_block(block_id: int):
    block, annex, report = _block_parents(block_id)
    commit_or_flash(lambda db: services.delete_block(db, report, annex, block, _actor()), "Block deleted.")
    return redirect(url_for("annexes.show_annex", annex_id=annex.id) + "#blocks")


@bp.route("/blocks/<int:block_id>/move", methods=["POST"])
@requires(Role.EXPERT)
def move_block(block_id: int):
    block, annex, report = _block_parents(block_id)
    return _move(lambda db, step: services.move_block(db, report, annex, block, step, _actor()),
                 url_for("annexes.show_annex", annex_id=annex.id) + f"#block-{block.id}")


# ------------------------------------------------------------------ on the item page


def item_publications(item, **_) -> dict:
    """Where the item was published, as the reader may see it (the item page's section)."""
    rows = get_session().exec(visibility.visible(Publication, reader()).where(Publication.item_id == item.id)
                              .order_by(Publication.created_at, Publication.id)).all()
    return {"publications": rows}
