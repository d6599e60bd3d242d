"""JSON API, authenticated by personal tokens (``Authorization: Bearer pt_…``).

Bearer tokens are not sent by browsers on their own, so the API is exempt from CSRF;
it never accepts the session cookie. A token works in one panel with at most its
owner's role; reads need viewer, writes expert. The reference is docs/api.md.

What a token may see is decided by :mod:`panel_tracker.visibility` (through
``cases.queries``), as for the pages: an object is visible when it belongs to the token's
panel, is not deleted, is classified at or below the token's clearance, and so are the
objects it belongs to (an item's case, a marking's item, a photo's item and case).
Anything else is a 404 or absent from lists; ids of hidden objects are null, and withheld
fields are null or left out. Writes go through the services
(which validate and audit) and commit once.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, g, jsonify, request, send_file, url_for
from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import select

from .. import visibility
from ..auth.access import clearance, current_panel, current_role, has_role, requires
from ..auth.models import Role
from ..cases import queries, services
from ..cases.models import Case, Inspection, Item, Marking, MarkingPhoto
from ..cases.queries import load_or_404, visible
from ..db import get_session
from ..evidence import services as evidence
from ..evidence.models import Channel, Photo, PhotoReceipt
from ..evidence.storage import DERIVATIVE_SIZES
from ..extensions import csrf
from ..validation import Invalid
from . import serializers as s

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.route("/me")
@requires(Role.VIEWER)
def me():
    panel = current_panel()
    return jsonify(user={"id": g.api_user.id, "email": g.api_user.email, "name": g.api_user.name},
                   panel={"code": panel.code, "name": panel.name}, role=current_role().value)


# ------------------------------------------------------------------ errors


@bp.errorhandler(ValidationError)
def _invalid_input(exc: ValidationError):
    get_session().rollback()
    return jsonify(errors=s.errors_of(exc)), 422


@bp.errorhandler(Invalid)
def _refused(exc: Invalid):
    """The one refusal type: a service's (422), an unreadable request's (400), a photo the
    store will not take (its own status: 413, 415, 409)."""
    get_session().rollback()
    return jsonify(errors=exc.errors), exc.status


# ------------------------------------------------------------------ request and response helpers


def _body(model):
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid({"": "Send a JSON object with Content-Type: application/json."}, status=400)
    return model.model_validate(data)


def _query(model):
    return model.model_validate(request.args.to_dict())


def _actor():
    return g.api_user


def _classify(obj, data) -> None:
    """Apply a classification the client asked for, through the audited service."""
    for field in ("classification", "source_classification"):
        level = getattr(data, field, None)
        if level is not None:
            services.reclassify(get_session(), obj, level, _actor(), field=field,
                                confirm_public=data.confirm_public)


def _page(stmt, order_by, page: s.Page, to_public) -> dict:
    db = get_session()
    total = db.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    size = page.size(current_app.config["ITEMS_PER_PAGE"])
    rows = db.exec(stmt.order_by(*order_by).offset((page.number - 1) * size).limit(size)).all()
    return {"items": to_public(rows), "page": page.number, "per_page": size, "total": total}


def _created(body: dict, endpoint: str, **values):
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = url_for(endpoint, **values)
    return response


def _deletion_reason() -> str:
    data = request.get_json(silent=True)
    if data is None:  # no JSON body: ?reason= in the query string
        data = {"reason": request.args.get("reason", "")}
    if not isinstance(data, dict):
        raise Invalid({"": "Send a JSON object with Content-Type: application/json."}, status=400)
    return s.Deletion.model_validate(data).reason


def _soft_delete(obj):
    services.soft_delete(get_session(), obj, _actor(), _deletion_reason())
    get_session().commit()
    return "", 204


# ------------------------------------------------------------------ cases


def _cases_public(cases):
    return [s.CasePublic.model_validate(c, from_attributes=True).model_dump(mode="json") for c in cases]


@bp.get("/cases")
@requires(Role.VIEWER)
def list_cases():
    filters = _query(s.CaseFilters)
    stmt = visible(Case)
    if filters.status:
        stmt = stmt.where(Case.status == filters.status)
    if filters.q and filters.q.strip():  # marking search: the case's own fields or any of its items
        from ..search.query import case_ids

        stmt = stmt.where(Case.id.in_(case_ids(current_panel(), filters.q, clearance=clearance())))
    return jsonify(_page(stmt, (Case.ref, Case.id), filters, _cases_public))


@bp.post("/cases")
@requires(Role.EXPERT)
def create_case():
    data = _body(s.CaseCreate)
    case = services.create_case(get_session(), current_panel(), data.service_values(), _actor())
    _classify(case, data)
    get_session().commit()
    return _created(_cases_public([case])[0], "api.get_case", case_id=case.id)


@bp.get("/cases/<int:case_id>")
@requires(Role.VIEWER)
def get_case(case_id: int):
    return jsonify(_cases_public([load_or_404(Case, case_id)])[0])


@bp.patch("/cases/<int:case_id>")
@requires(Role.EXPERT)
def update_case(case_id: int):
    case = load_or_404(Case, case_id)
    data = _body(s.CaseUpdate)
    services.update_case(get_session(), case, data.service_values(only_given=True), _actor())
    _classify(case, data)
    get_session().commit()
    return jsonify(_cases_public([case])[0])


@bp.delete("/cases/<int:case_id>")
@requires(Role.EXPERT)
def delete_case(case_id: int):
    return _soft_delete(load_or_404(Case, case_id))


# ------------------------------------------------------------------ inspections


def _inspections_public(inspections):
    return [s.InspectionPublic.model_validate(i, from_attributes=True).model_dump(mode="json") for i in inspections]


@bp.get("/cases/<int:case_id>/inspections")
@requires(Role.VIEWER)
def list_inspections(case_id: int):
    case = load_or_404(Case, case_id)
    stmt = visible(Inspection).where(Inspection.case_id == case.id)
    return jsonify(_page(stmt, (Inspection.inspected_on, Inspection.id), _query(s.Page), _inspections_public))


@bp.post("/cases/<int:case_id>/inspections")
@requires(Role.EXPERT)
def create_inspection(case_id: int):
    case = load_or_404(Case, case_id)
    data = _body(s.InspectionCreate)
    inspection = services.create_inspection(get_session(), case, data.service_values(), _actor())
    _classify(inspection, data)
    get_session().commit()
    return _created(_inspections_public([inspection])[0], "api.get_inspection", inspection_id=inspection.id)


@bp.get("/inspections/<int:inspection_id>")
@requires(Role.VIEWER)
def get_inspection(inspection_id: int):
    return jsonify(_inspections_public([load_or_404(Inspection, inspection_id)])[0])


@bp.patch("/inspections/<int:inspection_id>")
@requires(Role.EXPERT)
def update_inspection(inspection_id: int):
    inspection = load_or_404(Inspection, inspection_id)
    data = _body(s.InspectionUpdate)
    services.update_inspection(get_session(), inspection, data.service_values(only_given=True), _actor())
    _classify(inspection, data)
    get_session().commit()
    return jsonify(_inspections_public([inspection])[0])


# ------------------------------------------------------------------ items


def _items_public(items):
    case_ids = {item.case_id for item in items}
    case_refs = dict(get_session().exec(select(Case.id, Case.ref).where(Case.id.in_(case_ids))).all()) if items else {}
    reader = queries.reader()
    refs = visibility.references(get_session(), items, reader)
    return [s.item_public(item, case_refs[item.case_id], reader, refs[item.id]) for item in items]


def _check_inspection(case: Case, inspection_id: int | None) -> None:
    """An item may only point at a (visible) inspection of its own case."""
    if inspection_id is None:
        return
    found = get_session().exec(visible(Inspection).where(Inspection.id == inspection_id,
                                                           Inspection.case_id == case.id)).first()
    if found is None:
        raise Invalid({"inspection_id": f"Case {case.ref} has no inspection {inspection_id}."})


def _filter_arg(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value.isoformat() if hasattr(value, "isoformat") else str(getattr(value, "value", value))


@bp.get("/items")
@requires(Role.VIEWER)
def list_items():
    filters = _query(s.ItemFilters)
    # The item list's own filters, fed with the validated values.
    args = {name: _filter_arg(getattr(filters, name)) for name in queries.ITEM_FILTERS
            if getattr(filters, name, None) is not None}
    stmt = queries.filter_items(visible(Item), args)
    return jsonify(_page(stmt, (Item.item_ref, Item.id), filters, _items_public))


@bp.post("/cases/<int:case_id>/items")
@requires(Role.EXPERT)
def create_item(case_id: int):
    case = load_or_404(Case, case_id)
    data = _body(s.ItemCreate)
    _check_inspection(case, data.inspection_id)
    item = services.create_item(get_session(), case, data.service_values(), _actor())
    _classify(item, data)
    get_session().commit()
    return _created(_items_public([item])[0], "api.get_item", item_id=item.id)


@bp.get("/items/<int:item_id>")
@requires(Role.VIEWER)
def get_item(item_id: int):
    return jsonify(_items_public([load_or_404(Item, item_id)])[0])


@bp.patch("/items/<int:item_id>")
@requires(Role.EXPERT)
def update_item(item_id: int):
    item = load_or_404(Item, item_id)
    data = _body(s.ItemUpdate)
    values = data.service_values(only_given=True)
    if "inspection_id" in values:
        _check_inspection(get_session().get(Case, item.case_id), values["inspection_id"])
    services.update_item(get_session(), item, values, _actor())
    _classify(item, data)
    get_session().commit()
    return jsonify(_items_public([item])[0])


@bp.delete("/items/<int:item_id>")
@requires(Role.EXPERT)
def delete_item(item_id: int):
    return _soft_delete(load_or_404(Item, item_id))


# ------------------------------------------------------------------ markings


def _markings_public(markings):
    links: dict[int, list] = {}
    if markings:
        rows = get_session().exec(
            select(MarkingPhoto)
            .where(MarkingPhoto.marking_id.in_([m.id for m in markings]),
                   MarkingPhoto.id.in_(visibility.visible_ids(MarkingPhoto, queries.reader())))
            .order_by(MarkingPhoto.id)).all()
        for link in rows:
            links.setdefault(link.marking_id, []).append({"photo_id": link.photo_id, "box": link.box})
    return [s.MarkingPublic.model_validate({**m.model_dump(), "photos": links.get(m.id, [])}).model_dump(mode="json")
            for m in markings]


@bp.get("/items/<int:item_id>/markings")
@requires(Role.VIEWER)
def list_markings(item_id: int):
    item = load_or_404(Item, item_id)
    stmt = visible(Marking).where(Marking.item_id == item.id)
    return jsonify(_page(stmt, (Marking.id,), _query(s.Page), _markings_public))


@bp.post("/items/<int:item_id>/markings")
@requires(Role.EXPERT)
def create_marking(item_id: int):
    item = load_or_404(Item, item_id)
    data = _body(s.MarkingCreate)
    marking = services.add_marking(get_session(), item, data.service_values(), _actor())
    get_session().commit()
    return _created(_markings_public([marking])[0], "api.get_marking", marking_id=marking.id)


@bp.get("/markings/<int:marking_id>")
@requires(Role.VIEWER)
def get_marking(marking_id: int):
    return jsonify(_markings_public([load_or_404(Marking, marking_id)])[0])


@bp.patch("/markings/<int:marking_id>")
@requires(Role.EXPERT)
def update_marking(marking_id: int):
    marking = load_or_404(Marking, marking_id)
    data = _body(s.MarkingUpdate)
    services.update_marking(get_session(), marking, load_or_404(Item, marking.item_id),
                            data.service_values(only_given=True), _actor())
    get_session().commit()
    return jsonify(_markings_public([marking])[0])


@bp.delete("/markings/<int:marking_id>")
@requires(Role.EXPERT)
def delete_marking(marking_id: int):
    return _soft_delete(load_or_404(Marking, marking_id))


@bp.post("/markings/<int:marking_id>/photos")
@requires(Role.EXPERT)
def link_marking_photo(marking_id: int):
    marking = load_or_404(Marking, marking_id)
    data = _body(s.MarkingPhotoLink)
    photo = get_session().exec(visible(Photo).where(Photo.id == data.photo_id)).first()
    if photo is None:
        raise Invalid({"photo_id": f"This panel has no photo {data.photo_id}."})
    link = services.link_marking_photo(get_session(), marking, photo, data.box, _actor())
    get_session().commit()
    response = jsonify(marking_id=marking.id, photo_id=photo.id, box=link.box)
    response.status_code = 201
    return response


# ------------------------------------------------------------------ photos


def _photos_public(photos, *, gps: bool = False):
    reader = queries.reader()
    receipts: dict[int, list] = {}
    if photos:
        rows = get_session().exec(visibility.visible(PhotoReceipt, reader)
                                  .where(PhotoReceipt.photo_id.in_([p.id for p in photos]))
                                  .order_by(PhotoReceipt.id)).all()
        for receipt in rows:
            receipts.setdefault(receipt.photo_id, []).append(receipt)
    return [
        s.photo_public(photo, reader, gps=gps, receipts=receipts.get(photo.id, ()),
                       images={size: url_for("api.photo_image", photo_id=photo.id, size=size)
                               for size in DERIVATIVE_SIZES})
        for photo in photos
    ]


@bp.get("/items/<int:item_id>/photos")
@requires(Role.VIEWER)
def list_item_photos(item_id: int):
    item = load_or_404(Item, item_id)
    stmt = visible(Photo).where(Photo.item_id == item.id)
    return jsonify(_page(stmt, (Photo.id,), _query(s.Page), _photos_public))


@bp.post("/cases/<int:case_id>/photos")
@requires(Role.EXPERT)
def upload_photo(case_id: int):
    case = load_or_404(Case, case_id)
    upload = request.files.get("file")
    if upload is None:
        raise Invalid({"file": "Send the photo as multipart/form-data in the field 'file'."}, status=400)
    form = s.PhotoUpload.model_validate({k: v for k, v in request.form.items()})
    if form.item_id is not None:
        item = get_session().exec(visible(Item).where(Item.id == form.item_id)).first()
        if item is None or item.case_id != case.id:
            raise Invalid({"item_id": f"Case {case.ref} has no item {form.item_id}."})
    db = get_session()
    received = evidence.receive_photo(
        db, current_panel(), upload.stream, filename=upload.filename or "", actor=_actor(), case_id=case.id,
        item_id=form.item_id, source=form.source, channel=Channel.API, is_original=form.is_original,
        caption=form.caption)
    if not received.duplicate:
        _classify(received.photo, form)
    db.commit()
    body = {"photo": _photos_public([received.photo])[0], "receipt_id": received.receipt.id,
            "duplicate": received.duplicate}
    return _created(body, "api.get_photo", photo_id=received.photo.id)


@bp.get("/photos/<int:photo_id>")
@requires(Role.VIEWER)
def get_photo(photo_id: int):
    photo = load_or_404(Photo, photo_id)
    gps = request.args.get("include") == "gps"
    if gps:
        if not has_role(Role.EXPERT):
            abort(403)
        evidence.record_gps_view(get_session(), photo, _actor())
        get_session().commit()
    return jsonify(_photos_public([photo], gps=gps)[0])


@bp.get("/photos/<int:photo_id>/image/<size>")
@requires(Role.VIEWER)
def photo_image(photo_id: int, size: str):
    """A derivative (EXIF stripped); the original is never served by the API."""
    if size not in DERIVATIVE_SIZES:
        abort(404)
    photo = load_or_404(Photo, photo_id)
    path = evidence.photo_store().derivative_path(current_panel().code, photo.sha256, size)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", etag=f"{photo.sha256}-{size}", conditional=True)
    response.cache_control.private = True
    return response
