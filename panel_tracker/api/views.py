"""JSON API, authenticated by personal tokens (``Authorization: Bearer pt_…``).

Bearer tokens are not sent by browsers on their own, so the API is exempt from CSRF;
it never accepts the session cookie.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from ..auth.access import current_panel, current_role, requires
from ..auth.models import Role
from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.route("/me")
@requires(Role.VIEWER)
def me():
    panel = current_panel()
    return jsonify(user={"id": g.api_user.id, "email": g.api_user.email, "name": g.api_user.name},
                   panel={"code": panel.code, "name": panel.name}, role=current_role().value)
