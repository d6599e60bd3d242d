"""Before each request: which panel, membership and role are in force (session or API token)."""
from __future__ import annotations

from datetime import date

from flask import g, request, session
from flask_login import current_user
from sqlmodel import select

from .auth.models import Membership, Panel
from .auth.services import authenticate_token
from .db import get_session


def today() -> date:
    return date.today()


def init_app(app) -> None:
    @app.before_request
    def load_panel_context():
        # A request normally has an app context of its own; when one is already pushed
        # (tests, CLI), nothing learnt about the previous request's user may carry over.
        g.pop("_login_user", None)
        g.panel = g.membership = g.role = g.api_user = None
        if request.path.startswith("/api/"):
            _load_from_token()
            return
        if not current_user.is_authenticated:
            return
        db = get_session()
        panel_id = session.get("panel_id")
        membership = None
        if panel_id is not None:
            membership = db.exec(
                _membership_query(current_user.id, panel_id)
            ).first()
        if membership is None or not membership.in_force(today()):
            membership = _first_membership_in_force(db, current_user.id)
            session["panel_id"] = membership.panel_id if membership else None
        if membership is not None:
            g.membership, g.role = membership, membership.role
            g.panel = db.get(Panel, membership.panel_id)


def _membership_query(user_id, panel_id):
    return select(Membership).where(Membership.user_id == user_id, Membership.panel_id == panel_id)


def _first_membership_in_force(db, user_id):
    rows = db.exec(select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)).all()
    return next((m for m in rows if m.in_force(today())), None)


def _load_from_token() -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return
    db = get_session()
    found = authenticate_token(db, header.removeprefix("Bearer ").strip(), today())
    if found is None:
        return
    user, membership, role = found
    db.commit()  # last_used_at
    g.api_user, g.membership, g.role = user, membership, role
    g.panel = db.get(Panel, membership.panel_id)
