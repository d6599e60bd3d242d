"""Downloads of a case or of the filtered item list as CSV, XLSX or a full-fidelity ZIP.

``?format=csv|xlsx|zip&max_classification=public|committee|panel&originals=1``, and for
the item list the item list's own filters. Thin: load-or-404 within the panel, check the
form against the role, write the export (which records it in the audit log), commit, send.
"""
from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, render_template, request, send_file
from flask_login import current_user

from ..auth.access import current_panel, current_role, refuse_cross_site, requires
from ..auth.models import Role
from ..db import get_session
from ..cases.models import Case
from ..cases.queries import load_or_404
from ..evidence.services import photo_store
from ..validation import Invalid
from . import services as exports
from .blueprint import bp



@bp.route("/cases/<int:case_id>/export")
@requires(Role.VIEWER)
def case_export(case_id: int):
    case = load_or_404(Case, case_id)
    return _export(case=case)


@bp.route("/items/export")
@requires(Role.VIEWER)
def items_export():
    return _export(case=None)


def _export(case: Case | None):
    refuse_cross_site()  # an export is audited: no other site may start one in the user's name
    try:
        options = exports.export_options(current_role(), fmt=request.args.get("format"),
                                         max_classification=request.args.get("max_classification"),
                                         originals=request.args.get("originals") in ("1", "yes", "true", "on"))
    except Invalid as exc:
        if exc.status == 403:  # above the role's clearance, or originals for a viewer
            abort(403)
        return _bad_request(exc)
    db = get_session()
    result = exports.create_export(db, current_panel(), options, actor=current_user._get_current_object(),
                                   store=photo_store(), case=case, filters=exports.item_filters(request.args),
                                   tmp_dir=Path(current_app.instance_path) / "tmp")
    try:
        db.commit()
    except BaseException:
        result.file.close()
        raise
    size = result.file.seek(0, 2)
    result.file.seek(0)
    response = send_file(result.file, mimetype=result.mimetype, as_attachment=True,
                         download_name=result.filename, max_age=0)
    response.content_length = size
    response.headers["Cache-Control"] = "no-store"
    return response


def _bad_request(exc: Invalid):
    message = " ".join(exc.errors.values())
    return render_template("errors/error.html", code=400, name="Bad Request", message=message), 400
