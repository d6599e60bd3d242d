"""Before each request: the real client address, the live server-side session, the
second factor a panel demands, and which panel, membership and role are in force
(session or API token)."""
from __future__ import annotations

from datetime import date

from flask import flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user
from sqlmodel import select
from werkzeug.middleware.proxy_fix import ProxyFix

from .auth.models import Membership, Panel
from .auth.services import authenticate_token
from .auth.sessions import COOKIE_KEY, find_live
from .auth.twofactor import panels_requiring_two_factor
from .db import get_session


def today() -> date:
    return date.today()


# What a user who must enrol in two-factor login may still reach.
ENROLMENT_ENDPOINTS = {"auth.two_factor", "auth.logout", "static"}


def trust_proxies(app) -> None:
    """Behind N reverse proxies, take the client address and scheme from the N-th
    X-Forwarded-For / X-Forwarded-Proto entry from the right (werkzeug's ProxyFix).
    X-Forwarded-Host is not trusted: invite links are built from the Host header."""
    from .config import ConfigError

    count = app.config.get("TRUSTED_PROXIES") or 0
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ConfigError(f"PANEL_TRACKER_TRUSTED_PROXIES must be a whole number of proxies (0 or more), not {count!r}")
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0, x_port=0, x_prefix=0)


def init_app(app) -> None:
    trust_proxies(app)

    @app.before_request
    def load_panel_context():
        # A request normally has an app context of its own; when one is already pushed
        # (tests, CLI), nothing learnt about the previous request's user may carry over.
        g.pop("_login_user", None)
        g.panel = g.membership = g.role = g.api_user = g.user_session = None
        if request.path.startswith("/api/"):
            _load_from_token()
            return
        if not current_user.is_authenticated:
            return
        db = get_session()
        if not _session_is_live(db):
            return
        if _must_enrol(db):
            return redirect(url_for("auth.two_factor"))
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


def _session_is_live(db) -> bool:
    """The cookie's session must be live on the server: a copy of a logged-out, revoked,
    idle or too old session's cookie is logged out here."""
    live = find_live(db, session.get(COOKIE_KEY), current_user.id)
    if live is None:
        logout_user()
        session.clear()
        flash("Your session has ended. Please log in again.", "info")
        return False
    g.user_session = live
    return True


def _must_enrol(db) -> bool:
    """A member of a panel that demands two-factor login, without it, reaches only enrolment."""
    if current_user.has_two_factor or request.endpoint in ENROLMENT_ENDPOINTS:
        return False
    return bool(panels_requiring_two_factor(db, current_user, today()))


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
