"""Pages for correspondence and trace requests. Thin: load-or-404 within the panel (and
the reader's clearance), validate, call one service, commit once, redirect.

Experts draft; coordinators send, record steps and replies; viewers read what their
clearance allows.
"""
from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlmodel import select

from .. import countries
from ..auth.access import clearance, current_panel, has_role, panel_id, requires
from ..auth.models import Role
from ..classification import Classification
from ..db import get_session, utcnow
from ..formutil import commit_or_flash, options, show_errors
from ..inputs import whole_number
from ..security_headers import protect_file_response
from ..validation import Invalid
from . import letters as letter_render
from . import policy, queries, services, stats
from .forms import (ITEM_OUTCOME_CHOICES, AddresseeForm, ClassifyLetterForm, CorrectForm, FollowUpForm, LetterForm,
                    MoveForm, ReminderForm, ReplyForm, SendForm, TemplateForm)
from .models import (Addressee, EventKind, ItemReply, Letter, LetterItem, LetterKind, LetterStatus, Reply,
                     ReplyDocument)

bp = Blueprint("traces", __name__, url_prefix="/traces")


def _actor():
    return current_user._get_current_object()


def _today() -> date:
    return utcnow().date()


def _rules() -> policy.Policy:
    return policy.Policy.of_panel(current_panel())


def _facts():
    return queries.letter_facts(get_session(), queries.visible_letters(panel_id(), clearance()))


def _date_arg(name: str, default: date | None = None) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


def _back(letter: Letter):
    return redirect(url_for("traces.show", letter_id=letter.id))


def _commit_or_flash(action, letter: Letter, done: str):
    commit_or_flash(action, done)
    return _back(letter)


def _form_errors_flashed(form) -> None:
    for name, errors in form.errors.items():
        for message in errors:
            flash(message if name in ("csrf_token", "") else f"{getattr(form, name).label.text}: {message}", "error")


# ------------------------------------------------------------------ lists


@bp.route("/")
@requires(Role.VIEWER)
def index():
    """Letters, filtered; every dashboard figure links here with its filter."""
    on = _date_arg("on", _today())
    rules = _rules()
    rows = _facts()
    args = request.args
    if args.get("addressee"):
        wanted = whole_number(args["addressee"])
        rows = [f for f in rows if f.addressee.id == wanted]
    if args.get("status") in {s.value for s in LetterStatus}:
        rows = [f for f in rows if f.status_on(on).value == args["status"]]
    if args.get("kind") in {k.value for k in LetterKind}:
        rows = [f for f in rows if f.letter.kind.value == args["kind"]]
    if args.get("show") == "sent":
        rows = [f for f in rows if policy.sent_on(f.events, on)]
    elif args.get("show") == "overdue":
        rows = [f for f, _ in queries.overdue_list(rows, on, rules)]
    elif args.get("show") == "due_soon":
        rows = [f for f, _ in queries.due_soon(rows, on, rules)]
    elif args.get("show") == "past_due":
        rows = [f for f in rows if policy.sent_on(f.events, on) and f.status_on(on) != LetterStatus.WITHDRAWN
                and on > policy.reply_due(policy.sent_on(f.events, on), rules, f.letter.reply_by)]
    elif args.get("show") == "replied":
        rows = [f for f in rows if f.first_reply_on and f.first_reply_on <= on]
    elif args.get("show") == "traced":
        pairs = stats.traced_pairs(get_session(), rows, on)
        shown = queries.visible_item_ids(panel_id(), {item_id for _, item_id in pairs}, clearance())
        traced = {letter_id for letter_id, item_id in pairs if item_id in shown}  # as the dashboard counts
        rows = [f for f in rows if f.letter.id in traced]
    for name, kind in (("sent_month", EventKind.SENT), ("answered_month", EventKind.ANSWERED)):
        if args.get(name):
            rows = [f for f in rows if any(d.strftime("%Y-%m") == args[name] for d in f.dates_of(kind, on)[:1])]
    overdue = {f.letter.id: o for f in rows if (o := f.overdue_on(on, rules))}
    return render_template("traces/index.html", rows=rows, overdue=overdue, on=on, today=_today(), args=args,
                           statuses=list(LetterStatus), kinds=list(LetterKind))


@bp.route("/dashboard")
@requires(Role.VIEWER)
def dashboard():
    on = _date_arg("on", _today())
    rules = _rules()
    facts = _facts()
    shown = queries.visible_item_ids(panel_id(), {i for f in facts for i in f.item_ids}, clearance())
    table, total = stats.by_addressee(get_session(), facts, on, rules, shown)
    months = stats.per_month(facts, on)[-36:]  # three years at most, so the chart fits a page
    return render_template("traces/dashboard.html", on=on, overdue=queries.overdue_list(facts, on, rules),
                           due_soon=queries.due_soon(facts, on, rules), table=table, total=total,
                           chart=_chart(months), rules=rules)


def _chart(months):
    """Geometry of the bar chart (letters sent vs answered per month), drawn as SVG."""
    if not months:
        return None
    top = max(max(s, a) for _, s, a in months) or 1
    width, height, bar = max(40 * len(months), 240), 160, 14
    bars = []
    for n, (month, sent, answered) in enumerate(months):
        x = 30 + n * 40
        bars.append({"month": month, "x": x, "sent": sent, "answered": answered,
                     "sent_h": round(sent / top * (height - 30)), "answered_h": round(answered / top * (height - 30)),
                     "label": month[:4] if month.endswith("-01") or n == 0 else month[5:]})
    return {"bars": bars, "width": width + 40, "height": height, "bar": bar, "top": top, "base": height - 10}


@bp.route("/status")
@requires(Role.VIEWER)
def status_table():
    """Every request's status on a date (a report's cut-off), from dated events."""
    on = _date_arg("as_at", _today())
    facts = _facts()
    rows, summary = stats.as_at_rows(get_session(), facts, on, clearance())
    return render_template("traces/status.html", on=on, rows=rows, summary=summary)


# ------------------------------------------------------------------ addressees


@bp.route("/addressees")
@requires(Role.VIEWER)
def addressees():
    stmt = select(Addressee).where(Addressee.panel_id == panel_id())
    if clearance() != Classification.PANEL:
        # Whom the panel writes to is as confidential as the letters: below panel clearance,
        # only the addressees of letters the reader may see.
        stmt = stmt.where(Addressee.id.in_(queries.visible_letters(panel_id(), clearance())
                                           .with_only_columns(Letter.addressee_id)))
    rows = get_session().exec(stmt.order_by(Addressee.kind, Addressee.name)).all()
    return render_template("traces/addressees.html", rows=rows, countries=countries)


def _addressee_form_page(form, addressee=None):
    db = get_session()
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in ("kind", "country", "name", "role", "channel", "notes")}
        try:
            if addressee is None:
                addressee = services.add_addressee(db, current_panel(), values, _actor())
            else:
                services.update_addressee(db, addressee, values, _actor())
            db.commit()
            flash(f"{addressee.name} saved in the directory.", "info")
            return redirect(url_for("traces.addressees"))
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors)
    title = f"Edit {addressee.name}" if addressee else "New addressee"
    status = 422 if request.method == "POST" else 200
    return render_template("traces/form.html", form=form, title=title), status


@bp.route("/addressees/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_addressee():
    return _addressee_form_page(AddresseeForm())


@bp.route("/addressees/<int:addressee_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_addressee(addressee_id: int):
    addressee = queries.load_addressee_or_404(addressee_id)
    form = AddresseeForm(obj=addressee)
    if request.method == "GET":
        form.kind.data, form.role.data = addressee.kind.value, addressee.role.value
    return _addressee_form_page(form, addressee)


# ------------------------------------------------------------------ drafting


def _letter_form_choices(form: LetterForm, letter: Letter | None = None):
    from ..cases.models import Item
    from ..cases.queries import visible

    db = get_session()
    form.addressee_id.choices = options([("", "— choose —")] + [
        (str(a.id), f"{a.name}" + (f" ({a.country})" if a.country and a.kind.value != "state" else ""))
        for a in db.exec(select(Addressee).where(Addressee.panel_id == panel_id())
                         .order_by(Addressee.kind, Addressee.name))])
    stmt = visible(Item)
    if request.args.get("case"):
        stmt = stmt.where(Item.case_id == whole_number(request.args["case"]))
    items = db.exec(stmt.order_by(Item.item_ref).limit(1000)).all()
    form.item_ids.choices = options((str(i.id), f"{i.item_ref} — {i.type}" + (f", {i.calibre}" if i.calibre else "")
                                     + (f", serial {i.serial}" if i.serial else "")) for i in items)
    return items


def _ids(values) -> list[int]:
    """Ids picked in a form; anything that is not one (hostile or stale input) is left out."""
    return [i for i in map(whole_number, map(str, values or [])) if i is not None]


def _letter_values(form: LetterForm) -> dict:
    return {"kind": form.kind.data, "addressee_id": whole_number(form.addressee_id.data), "subject": form.subject.data or "", "body": form.body.data or "",
            "reply_by": form.reply_by.data, "notes": form.notes.data or ""}


@bp.route("/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_letter():
    form = LetterForm()
    _letter_form_choices(form)
    if request.method == "GET":
        form.item_ids.data = request.args.getlist("item")
        if request.args.get("addressee"):
            form.addressee_id.data = request.args["addressee"]
    if form.validate_on_submit():
        db = get_session()
        try:
            letter = services.draft_letter(db, current_panel(), _letter_values(form), _actor(),
                                           item_ids=_ids(form.item_ids.data))
            db.commit()
            flash(f"Draft {letter.ref} saved. A coordinator approves and sends it.", "info")
            return _back(letter)
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors)
    status = 422 if request.method == "POST" else 200
    return render_template("traces/letter_form.html", form=form, title="Draft a letter"), status


@bp.route("/<int:letter_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_letter(letter_id: int):
    letter = queries.load_letter_or_404(letter_id)
    db = get_session()
    form = LetterForm(obj=letter)
    _letter_form_choices(form, letter)
    if request.method == "GET":
        form.kind.data, form.addressee_id.data = letter.kind.value, str(letter.addressee_id)
        form.item_ids.data = [str(i) for i in db.exec(select(LetterItem.item_id).where(LetterItem.letter_id == letter.id))]
    if form.validate_on_submit():
        try:
            services.update_letter(db, letter, _letter_values(form), _actor(),
                                   item_ids=_ids(form.item_ids.data))
            db.commit()
            flash("Draft saved.", "info")
            return _back(letter)
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors)
    status = 422 if request.method == "POST" else 200
    return render_template("traces/letter_form.html", form=form, title=f"Edit {letter.ref}", letter=letter), status


# ------------------------------------------------------------------ one letter


def _chain(db, letter: Letter) -> list[Letter]:
    """The letters before this one in its follow-up chain, first first."""
    chain, seen, current = [], {letter.id}, letter
    while current.follow_up_of_id and current.follow_up_of_id not in seen:
        current = db.get(Letter, current.follow_up_of_id)
        seen.add(current.id)
        chain.insert(0, current)
    return chain


@bp.route("/<int:letter_id>")
@requires(Role.VIEWER)
def show(letter_id: int):
    from ..cases.models import Item

    db = get_session()
    letter = queries.load_letter_or_404(letter_id)
    level = clearance()
    facts = queries.letter_facts(db, select(Letter).where(Letter.id == letter.id))[0]
    links = list(db.exec(select(LetterItem).where(LetterItem.letter_id == letter.id).order_by(LetterItem.position)))
    shown = queries.visible_item_ids(panel_id(), [link.item_id for link in links], level)
    items = {link.id: db.get(Item, link.item_id) for link in links if link.item_id in shown}
    replies = list(db.exec(queries.visible_replies(panel_id(), level).where(Reply.letter_id == letter.id)
                           .order_by(Reply.received_on, Reply.id)))
    reply_ids = [r.id for r in replies]
    outcomes = list(db.exec(select(ItemReply).where(ItemReply.reply_id.in_(reply_ids)).order_by(ItemReply.id))) \
        if reply_ids else []
    documents = list(db.exec(queries.visible_documents(panel_id(), level).where(ReplyDocument.reply_id.in_(reply_ids)))) \
        if reply_ids else []
    parties = {a.id: a for a in db.exec(select(Addressee).where(Addressee.panel_id == panel_id()))}
    visible_ids = set(db.exec(queries.visible_letters(panel_id(), level).with_only_columns(Letter.id)))
    follow_ups = [f for f in db.exec(select(Letter).where(Letter.follow_up_of_id == letter.id)) if f.id in visible_ids]
    chain = [c for c in _chain(db, letter) if c.id in visible_ids]
    on = _today()
    rules = _rules()
    send_form = SendForm(formdata=None, sent_on=on)
    return render_template(
        "traces/show.html", letter=letter, facts=facts, addressee=parties[letter.addressee_id], links=links,
        items=items, withheld=len(links) - len(items), replies=replies, outcomes=outcomes, documents=documents,
        parties=parties, follow_ups=follow_ups, chain=chain, visible_letter_ids=visible_ids, on=on, overdue=facts.overdue_on(on, rules),
        next_due=policy.next_due(facts.events, on, rules, letter.reply_by),
        next_reminder=policy.next_reminder(facts.events, on, rules) if letter.status in services.OPEN else None,
        timeline=services.events_of(db, letter, include_voided=True),
        send_form=send_form, move_form=MoveForm(formdata=None, on=on), reminder_form=ReminderForm(formdata=None, on=on),
        correct_form=CorrectForm(formdata=None), classify_form=ClassifyLetterForm(formdata=None,
                                                                                   level=letter.classification.value),
        follow_form=FollowUpForm(formdata=None), can_coordinate=has_role(Role.COORDINATOR),
        can_draft=has_role(Role.EXPERT))


@bp.route("/<int:letter_id>/send", methods=["POST"])
@requires(Role.COORDINATOR)
def send(letter_id: int):
    letter = queries.load_letter_or_404(letter_id)
    form = SendForm()
    if not form.validate_on_submit():
        _form_errors_flashed(form)
        return _back(letter)
    return _commit_or_flash(lambda db: services.send_letter(db, letter, _actor(), sent_on=form.sent_on.data,
                                                            reference=form.reference.data, channel=form.channel.data),
                            letter, f"{letter.ref} approved and recorded as sent.")


@bp.route("/<int:letter_id>/move", methods=["POST"])
@requires(Role.COORDINATOR)
def move(letter_id: int):
    letter = queries.load_letter_or_404(letter_id)
    form = MoveForm()
    if not form.validate_on_submit():
        _form_errors_flashed(form)
        return _back(letter)
    return _commit_or_flash(lambda db: services.move_letter(db, letter, form.to.data, form.on.data, _actor(),
                                                            outcome=form.outcome.data or None,
                                                            note=form.note.data or ""),
                            letter, f"{letter.ref}: {form.to.data.replace('_', ' ')} recorded.")


@bp.route("/<int:letter_id>/reminder", methods=["POST"])
@requires(Role.COORDINATOR)
def reminder(letter_id: int):
    letter = queries.load_letter_or_404(letter_id)
    form = ReminderForm()
    if not form.validate_on_submit():
        _form_errors_flashed(form)
        return _back(letter)
    return _commit_or_flash(lambda db: services.add_reminder(db, letter, form.on.data, _actor(),
                                                             note=form.note.data or ""),
                            letter, "Reminder recorded. Due dates do not move.")


@bp.route("/<int:letter_id>/correct", methods=["POST"])
@requires(Role.COORDINATOR)
def correct(letter_id: int):
    letter = queries.load_letter_or_404(letter_id)
    form = CorrectForm()
    if not form.validate_on_submit():
        _form_errors_flashed(form)
        return _back(letter)
    return _commit_or_flash(lambda db: services.correct_letter_status(db, letter, form.to.data, form.reason.data,
                                                                      _actor()),
                            letter, "Status corrected; the later events are kept, marked void, with your reason.")


@bp.route("/<int:letter_id>/classify", methods=["POST"])
@requires(Role.COORDINATOR)
def classify(letter_id: int):
    from ..cases.services import reclassify

    letter = queries.load_letter_or_404(letter_id)
    form = ClassifyLetterForm()
    if not form.validate_on_submit():
        _form_errors_flashed(form)
        return _back(letter)
    level = form.level.data
    return _commit_or_flash(lambda db: reclassify(db, letter, level, _actor(), confirm_public=form.confirm_public.data),
                            letter, f"Classification set to {level}.")


# ------------------------------------------------------------------ replies


def _item_entries(links) -> list[dict]:
    form = request.form
    return [{"letter_item_id": link.id, "outcome": form.get(f"outcome-{link.id}", ""),
             "party_id": whole_number(form.get(f"party-{link.id}")),
             "party_country": form.get(f"party_country-{link.id}", ""),
             "party_name": form.get(f"party_name-{link.id}", ""),
             "transferred_on": form.get(f"transferred_on-{link.id}", ""),
             "licence": form.get(f"licence-{link.id}", ""), "note": form.get(f"note-{link.id}", "")}
            for link in links]


@bp.route("/<int:letter_id>/reply", methods=["GET", "POST"])
@requires(Role.COORDINATOR)
def record_reply(letter_id: int):
    from ..cases.models import Item

    db = get_session()
    letter = queries.load_letter_or_404(letter_id)
    links = list(db.exec(select(LetterItem).where(LetterItem.letter_id == letter.id).order_by(LetterItem.position)))
    shown = queries.visible_item_ids(panel_id(), [link.item_id for link in links], clearance())
    links = [link for link in links if link.item_id in shown]
    items = {link.id: db.get(Item, link.item_id) for link in links}
    form = ReplyForm()
    status = 200
    if request.method == "GET":
        form.received_on.data = _today()
    elif form.validate_on_submit():
        files = [(f.stream, f.filename) for f in form.documents.data or [] if f and f.filename]
        try:
            services.record_reply(db, letter, _actor(), received_on=form.received_on.data, summary=form.summary.data,
                                  complete=form.complete.data, item_outcomes=_item_entries(links), documents=files)
            db.commit()
            flash("Reply recorded.", "info")
            return _back(letter)
        except services.DocumentRefused as exc:
            db.rollback()
            show_errors(form, exc.errors)
            status = exc.status
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors, fallback="summary")
            status = 422
    else:
        status = 422
    parties = db.exec(select(Addressee).where(Addressee.panel_id == panel_id()).order_by(Addressee.name)).all()
    return render_template("traces/reply_form.html", form=form, letter=letter, links=links, items=items,
                           parties=parties, outcome_choices=ITEM_OUTCOME_CHOICES, values=request.form,
                           country_choices=countries.choices()), status


@bp.route("/outcomes/<int:item_reply_id>/follow-up", methods=["POST"])
@requires(Role.EXPERT)
def follow_up(item_reply_id: int):
    item_reply = queries.load_item_reply_or_404(item_reply_id)
    db = get_session()
    link = db.get(LetterItem, item_reply.letter_item_id)
    first = queries.load_letter_or_404(link.letter_id)
    if not FollowUpForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return _back(first)
    try:
        letter = services.draft_follow_up(db, item_reply, _actor())
        db.commit()
    except Invalid as exc:
        db.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return _back(first)
    flash(f"Follow-up {letter.ref} drafted, linked to {first.ref}.", "info")
    return _back(letter)


@bp.route("/documents/<int:document_id>")
@requires(Role.VIEWER)
def document(document_id: int):
    from ..evidence.services import photo_store

    doc = queries.load_document_or_404(document_id)
    path = photo_store().original_path(current_panel().code, doc.sha256)
    if not path.exists():
        abort(404)
    extension = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "image/tiff": ".tif"}[doc.mime]
    response = send_file(path, mimetype=doc.mime, as_attachment=True,
                         download_name=f"{current_panel().code}-reply-document-{doc.id}{extension}")
    response.headers["Cache-Control"] = "no-store"
    return protect_file_response(response)  # like an original: never run as a page


# ------------------------------------------------------------------ the letter itself


@bp.route("/<int:letter_id>/letter.<any(pdf, docx):fmt>")
@requires(Role.VIEWER)
def letter_file(letter_id: int, fmt: str):
    letter = queries.load_letter_or_404(letter_id)
    db = get_session()
    context = letter_render.letter_context(db, current_panel(), letter, clearance())
    if fmt == "pdf":
        data, mime = letter_render.render_pdf(db, current_panel(), context), "application/pdf"
    else:
        data = letter_render.render_docx(db, current_panel(), context)
        mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    # send_file quotes the name and spells a non-ASCII one as filename*: an imported
    # reference may hold a quote or any script.
    response = send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=f"{letter.ref}.{fmt}",
                         etag=False, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return protect_file_response(response)


@bp.route("/template", methods=["GET", "POST"])
@requires(Role.COORDINATOR)
def template():
    db = get_session()
    form = TemplateForm()
    if request.method == "GET":
        form.body.data = letter_render.panel_template(db, current_panel())
    status = 200
    if form.validate_on_submit():
        try:
            services.save_letter_template(db, current_panel(), form.body.data, _actor())
            db.commit()
            flash("Letter template saved.", "info")
            return redirect(url_for("traces.template"))
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors)
            status = 422
    elif request.method == "POST":
        status = 422
    return render_template("traces/template.html", form=form, default=letter_render.DEFAULT_BODY), status
