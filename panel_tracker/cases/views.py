"""Pages for cases, inspections, items and markings. Thin: load-or-404 within the panel,
validate, call one service, commit once, redirect."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from .. import audit, countries, registry, visibility
from ..audit.models import AuditRecord
from ..auth.access import clearance, current_panel, has_role, panel_id, requires, scoped
from ..auth.models import Role
from ..db import get_session
from ..evidence.models import Photo
from ..formutil import show_errors
from ..inputs import known, page_number
from ..validation import Invalid
from . import queries, services
from .blueprint import bp
from .forms import (CaseForm, ClassifyForm, DeleteForm, InspectionForm, ItemForm, MarkingForm, MarkingPhotoForm,
                    SightingForm, labelled)
from .models import Case, CaseStatus, Category, Inspection, Item, Legibility, Marking, MarkingPhoto
from .page_actions import classify_and_redirect, delete_and_redirect
from .queries import load_or_404



@bp.app_template_global("withheld")
def withheld(obj, group: str) -> bool:
    """In templates: is this group of ``obj``'s fields (``source``, ``gps``…) withheld from the
    reader of the request? (see :mod:`panel_tracker.visibility`)"""
    return group in visibility.withheld_groups(obj, queries.reader())


def _actor():
    return current_user._get_current_object()


def _show_errors(form, exc: Invalid) -> None:
    show_errors(form, exc.errors)


# ------------------------------------------------------------------ cases


@bp.route("/cases")
@requires(Role.VIEWER)
def index():
    stmt = queries.visible(Case)
    if request.args.get("status"):
        stmt = stmt.where(Case.status == known(CaseStatus, request.args["status"]))  # unknown: no match
    if request.args.get("q", "").strip():  # marking search: the case's own fields or any of its items
        from ..search.query import case_ids

        stmt = stmt.where(Case.id.in_(sorted(case_ids(current_panel(), request.args["q"], clearance=clearance()))))
    per_page, page = 50, page_number()
    rows = get_session().exec(stmt.order_by(Case.ref.desc()).offset((page - 1) * per_page).limit(per_page + 1)).all()
    return render_template("cases/index.html", cases=rows[:per_page], page=page, more=len(rows) > per_page,
                           args=request.args, total=queries.count(stmt), per_page=per_page)


@bp.route("/cases/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_case():
    form = CaseForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            case = services.create_case(db, current_panel(), form.values(), _actor())
            db.commit()
            flash(f"Case {case.ref} created. New things start as Panel only.", "info")
            return redirect(url_for("cases.show", case_id=case.id))
        except Invalid as exc:
            db.rollback()
            _show_errors(form, exc)
    return render_template("cases/form.html", form=form, title="New case"), 200 if request.method == "GET" or not form.errors else 422


@bp.route("/cases/<int:case_id>")
@requires(Role.VIEWER)
def show(case_id: int):
    case = load_or_404(Case, case_id)
    items = queries.items_for_case(case)
    return render_template(
        "cases/show.html", case=case, items=items, inspections=queries.inspections_for_case(case),
        markings=queries.markings_by_item([i.id for i in items]), photos=queries.photos_by_item(case.id),
        classify_form=ClassifyForm(level=case.classification.value), delete_form=DeleteForm())


@bp.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_case(case_id: int):
    case = load_or_404(Case, case_id)
    form = CaseForm(obj=case)
    if request.method == "GET":
        form.status.data = case.status.value
    if form.validate_on_submit():
        db = get_session()
        try:
            services.update_case(db, case, form.values(), _actor())
            db.commit()
            flash("Case saved.", "info")
            return redirect(url_for("cases.show", case_id=case.id))
        except Invalid as exc:
            db.rollback()
            _show_errors(form, exc)
    return render_template("cases/form.html", form=form, title=f"Edit case {case.ref}", case=case)


@bp.route("/cases/<int:case_id>/delete", methods=["POST"])
@requires(Role.EXPERT)
def delete_case(case_id: int):
    return delete_and_redirect(load_or_404(Case, case_id), url_for("cases.index"))


@bp.route("/cases/<int:case_id>/classify", methods=["POST"])
@requires(Role.EXPERT)
def classify_case(case_id: int):
    case = load_or_404(Case, case_id)
    return classify_and_redirect(case, url_for("cases.show", case_id=case.id))


# ------------------------------------------------------------------ inspections


@bp.route("/cases/<int:case_id>/inspections/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_inspection(case_id: int):
    case = load_or_404(Case, case_id)
    form = InspectionForm()
    if form.validate_on_submit():
        db = get_session()
        services.create_inspection(db, case, form.data, _actor())
        db.commit()
        flash("Inspection recorded.", "info")
        return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/form.html", form=form, title=f"New inspection — {case.ref}", case=case)


@bp.route("/inspections/<int:inspection_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_inspection(inspection_id: int):
    inspection = load_or_404(Inspection, inspection_id)
    case = load_or_404(Case, inspection.case_id)
    form = InspectionForm(obj=inspection)
    if request.method == "GET":
        form.access_mode.data = inspection.access_mode.value
    if form.validate_on_submit():
        db = get_session()
        services.update_inspection(db, inspection, form.data, _actor())
        db.commit()
        flash("Inspection saved.", "info")
        return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/form.html", form=form, title=f"Edit inspection — {case.ref}", case=case)


@bp.route("/inspections/<int:inspection_id>/delete", methods=["POST"])
@requires(Role.EXPERT)
def delete_inspection(inspection_id: int):
    inspection = load_or_404(Inspection, inspection_id)
    return delete_and_redirect(inspection, url_for("cases.show", case_id=inspection.case_id))


# ------------------------------------------------------------------ items


@bp.route("/items")
@requires(Role.VIEWER)
def items():
    stmt = queries.filter_items(queries.visible(Item), request.args)
    per_page, page = 100, page_number()
    rows = get_session().exec(stmt.order_by(Item.item_ref).offset((page - 1) * per_page).limit(per_page + 1)).all()
    return render_template("cases/items.html", items=rows[:per_page], page=page, more=len(rows) > per_page,
                           args=request.args, total=queries.count(stmt), per_page=per_page, categories=list(Category),
                           legibilities=list(Legibility), countries=countries.choices("any"))


def _item_form(case: Case, **kwargs) -> ItemForm:
    return ItemForm(inspections=queries.inspections_for_case(case), **kwargs)


def _item_problems(form: ItemForm, case: Case, item: Item | None = None) -> None:
    """The form refused some fields: also check the others with the item rules, so that every
    error shows in one round (an impossible date with a bad quantity)."""
    db = get_session()
    values = form.values()
    for name, field in form._fields.items():
        if field.errors and name in values:
            values[name] = "" if isinstance(values[name], str) else None
    if not values.get("item_ref"):
        values["item_ref"] = item.item_ref if item else services.next_item_ref(db, case)
    try:
        services.check_item(db, case, values, item_id=item.id if item else None)
    except Invalid as exc:
        show_errors(form, {name: message for name, message in labelled(exc.errors).items()
                           if name not in form._fields or not form._fields[name].errors})


@bp.route("/cases/<int:case_id>/items/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_item(case_id: int):
    case = load_or_404(Case, case_id)
    form = _item_form(case)
    if request.method == "GET" and request.args.get("inspection_id"):
        form.inspection_id.data = request.args["inspection_id"]
    status = 200
    if form.validate_on_submit():
        db = get_session()
        try:
            item = services.create_item(db, case, form.values(), _actor())
            db.commit()
        except Invalid as exc:
            db.rollback()
            show_errors(form, labelled(exc.errors))
            status = 422
        else:
            flash(f"Item {item.item_ref} saved. Add its markings and photos below.", "info")
            return redirect(url_for("cases.show_item", item_id=item.id))
    elif request.method == "POST":
        _item_problems(form, case)
        status = 422
    return render_template("cases/item_form.html", form=form, case=case, title=f"New item — {case.ref}"), status


@bp.route("/items/<int:item_id>")
@requires(Role.VIEWER)
def show_item(item_id: int):
    db = get_session()
    item = load_or_404(Item, item_id)
    case = load_or_404(Case, item.case_id)
    markings = queries.markings_by_item([item.id])[item.id]
    photos = list(db.exec(queries.visible(Photo).where(Photo.item_id == item.id).order_by(Photo.id)).all())
    links = {}
    if markings:
        for link in db.exec(queries.visible(MarkingPhoto).where(
                MarkingPhoto.marking_id.in_([m.id for m in markings])).order_by(MarkingPhoto.id)).all():
            links.setdefault(link.marking_id, []).append(link)
    # A marking may be shown on a photo of another item (the same crate, a close-up): seen
    # here when the reader may see that photo, as in the API and the ZIP export.
    linked_ids = {link.photo_id for ls in links.values() for link in ls}
    photo_by_id = {p.id: p for p in photos} | {p.id: p for p in db.exec(queries.visible(Photo).where(
        Photo.id.in_(linked_ids - {p.id for p in photos}))).all()}
    link_form = MarkingPhotoForm()
    link_form.photo_id.choices = [(p.id, f"Photo {p.id} {p.caption[:40]}") for p in photos]
    reader = queries.reader()
    candidates = services.sighting_candidates(db, item) if has_role(Role.EXPERT) and not item.sighting_of_id else []
    shown_ids = visibility.visible_among(db, Item, [c.id for c in candidates], reader)
    return render_template(
        "cases/item.html", item=item, case=case, markings=markings, photos=photos,
        photo_by_id=photo_by_id, links=links, link_form=link_form,
        refs=visibility.references(db, [item], reader)[item.id],
        sightings=services.sightings_of(db, item, queries.visible(Item)),
        candidates=[c for c in candidates if c.id in shown_ids],
        classify_form=ClassifyForm(level=item.classification.value),
        source_classify_form=ClassifyForm(field="source_classification", level=item.source_classification.value),
        delete_form=DeleteForm(), sighting_form=SightingForm(), marking_form=MarkingForm(),
        **registry.page_data("item", item=item, case=case, markings=markings))  # what other domains show


@bp.route("/items/<int:item_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_item(item_id: int):
    item = load_or_404(Item, item_id)
    case = load_or_404(Case, item.case_id)
    if withheld(item, "source"):  # saving the form would blank what the user may not see
        abort(403)
    form = _item_form(case, obj=item if request.method == "GET" else None)
    if request.method == "GET":
        for name in ("category", "attribution_confidence", "year_calendar", "serial_legibility", "condition"):
            value = getattr(item, name)
            form[name].data = value.value if value is not None else ""
        form.inspection_id.data = str(item.inspection_id or "")
        form.country_marked.data, form.country_attributed.data = item.country_marked or "", item.country_attributed or ""
    status = 200
    if form.validate_on_submit():
        db = get_session()
        try:
            services.update_item(db, item, form.values(), _actor())
            db.commit()
        except Invalid as exc:
            db.rollback()
            show_errors(form, labelled(exc.errors))
            status = 422
        else:
            flash("Item saved.", "info")
            return redirect(url_for("cases.show_item", item_id=item.id))
    elif request.method == "POST":
        _item_problems(form, case, item)
        status = 422
    return render_template("cases/item_form.html", form=form, case=case, item=item,
                           title=f"Edit item {item.item_ref}"), status


@bp.route("/items/<int:item_id>/delete", methods=["POST"])
@requires(Role.EXPERT)
def delete_item(item_id: int):
    item = load_or_404(Item, item_id)
    return delete_and_redirect(item, url_for("cases.show", case_id=item.case_id))


@bp.route("/items/<int:item_id>/classify", methods=["POST"])
@requires(Role.EXPERT)
def classify_item(item_id: int):
    item = load_or_404(Item, item_id)
    return classify_and_redirect(item, url_for("cases.show_item", item_id=item.id))


@bp.route("/items/<int:item_id>/sighting", methods=["POST"])
@requires(Role.EXPERT)
def link_sighting(item_id: int):
    db = get_session()
    item = load_or_404(Item, item_id)
    form = SightingForm()
    if form.validate_on_submit():
        ref = (form.sighting_of.data or "").strip()
        earlier = None
        if ref:
            earlier = db.exec(queries.visible(Item).where(Item.item_ref == ref)).first()
            if earlier is None:
                flash(f"No item {ref} in this panel.", "error")
                return redirect(url_for("cases.show_item", item_id=item.id))
        try:
            services.link_sighting(db, item, earlier, _actor())
            db.commit()
            flash(f"Linked as another sighting of {earlier.item_ref}." if earlier else "Sighting link removed.", "info")
        except Invalid as exc:
            db.rollback()
            flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("cases.show_item", item_id=item.id))


@bp.route("/items/<int:item_id>/history")
@requires(Role.VIEWER)
def item_history(item_id: int):
    item = load_or_404(Item, item_id)
    db = get_session()
    marking_ids = [m.id for m in db.exec(scoped(Marking).where(Marking.item_id == item.id)).all()]
    condition = (AuditRecord.object_type == "item") & (AuditRecord.object_id == item.id)
    if marking_ids:
        condition = condition | ((AuditRecord.object_type == "marking") & AuditRecord.object_id.in_(marking_ids))
    rows = db.exec(select(AuditRecord).where(AuditRecord.panel_id == panel_id(), condition)
                   .order_by(AuditRecord.seq)).all()
    who = queries.reader()
    entries = [{"rec": r, "values": audit.masked(db, r, who)} for r in rows]
    return render_template("cases/history.html", item=item, entries=entries)


# ------------------------------------------------------------------ markings


@bp.route("/items/<int:item_id>/markings/new", methods=["GET", "POST"])
@requires(Role.EXPERT)
def new_marking(item_id: int):
    item = load_or_404(Item, item_id)
    form = MarkingForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            services.add_marking(db, item, form.values(), _actor())
            db.commit()
            flash("Marking added.", "info")
            return redirect(url_for("cases.show_item", item_id=item.id) + "#markings")
        except Invalid as exc:
            db.rollback()
            _show_errors(form, exc)
    return render_template("cases/form.html", form=form, title=f"New marking — {item.item_ref}", item=item), \
        422 if request.method == "POST" else 200


@bp.route("/markings/<int:marking_id>/edit", methods=["GET", "POST"])
@requires(Role.EXPERT)
def edit_marking(marking_id: int):
    marking = load_or_404(Marking, marking_id)
    item = load_or_404(Item, marking.item_id)
    form = MarkingForm(obj=marking)
    if request.method == "GET":
        for name in ("kind", "script", "legibility", "symbol_shape"):
            value = getattr(marking, name)
            form[name].data = value.value if value is not None else ""
    if form.validate_on_submit():
        db = get_session()
        try:
            services.update_marking(db, marking, item, form.values(), _actor())
            db.commit()
            flash("Marking saved.", "info")
            return redirect(url_for("cases.show_item", item_id=item.id) + "#markings")
        except Invalid as exc:
            db.rollback()
            _show_errors(form, exc)
    return render_template("cases/form.html", form=form, title=f"Edit marking — {item.item_ref}", item=item)


@bp.route("/markings/<int:marking_id>/delete", methods=["POST"])
@requires(Role.EXPERT)
def delete_marking(marking_id: int):
    marking = load_or_404(Marking, marking_id)  # only if its item is visible too
    return delete_and_redirect(marking, url_for("cases.show_item", item_id=marking.item_id))


@bp.route("/markings/<int:marking_id>/photos", methods=["POST"])
@requires(Role.EXPERT)
def link_marking_photo(marking_id: int):
    db = get_session()
    marking = load_or_404(Marking, marking_id)
    item = load_or_404(Item, marking.item_id)
    form = MarkingPhotoForm()
    form.photo_id.choices = [(p.id, str(p.id)) for p in db.exec(
        queries.visible(Photo).where(Photo.item_id == item.id)).all()]
    if not form.validate_on_submit():
        flash(_link_refusal(form), "error")
        return redirect(url_for("cases.show_item", item_id=item.id) + "#markings")
    photo = load_or_404(Photo, form.photo_id.data)
    box = (form.box_x.data, form.box_y.data, form.box_w.data, form.box_h.data)
    if None in box and any(v is not None for v in box):
        flash("A box needs all four numbers (x, y, width, height), or none to link the photo without a box. "
              "Nothing was saved.", "error")
        return redirect(url_for("cases.show_item", item_id=item.id) + "#markings")
    try:
        services.link_marking_photo(db, marking, photo, None if None in box else box, _actor())
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
    marking = load_or_404(Marking, link.marking_id)
    photo = load_or_404(Photo, link.photo_id)
    if DeleteForm(meta={"csrf": True}).is_submitted():
        services.unlink_marking_photo(db, link, photo, _actor())
        db.commit()
        flash("Photo unlinked from the marking.", "info")
    return redirect(url_for("cases.show_item", item_id=marking.item_id) + "#markings")


