"""Access rules, in one place.

Every view declares who may call it with one of the decorators below; the declaration is
kept on the view (``view.access``) so the route-walking test can check every rule in
``app.url_map`` without a list kept by hand.

A request is in one panel at a time (``g.panel``, chosen at login or by switching); every
query for panel data goes through ``scoped()`` or ``get_or_404()``, so an object of
another panel is a 404, never a 403 that would confirm it exists.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlparse

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user
from sqlmodel import select

from ..classification import Classification, clearance_for, may_see, where_visible
from ..db import get_session
from .models import Role

PUBLIC = "public"  # anyone, even not logged in (login page, error pages)
LOGIN = "login"  # logged in; no panel needed (choose panel, log out, own tokens)
ACCESS_LEVELS = (PUBLIC, LOGIN) + tuple(r.value for r in Role)


def current_membership():
    return g.get("membership")


def current_panel():
    return g.get("panel")


def current_role() -> Role | None:
    """The role in force: the membership's, or for an API token the lower of token and membership."""
    return g.get("role")


def clearance() -> Classification:
    role = current_role()
    return clearance_for(role) if role else Classification.PUBLIC


def has_role(minimum: Role | str) -> bool:
    role = current_role()
    return role is not None and role.rank >= Role(minimum).rank


def _declare(view, level: str):
    view.access = level
    return view


def public(view):
    return _declare(view, PUBLIC)


def login_only(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return _unauthenticated()
        return view(*args, **kwargs)

    return _declare(wrapped, LOGIN)


def requires(minimum: Role | str):
    """The view needs a panel in force and at least this role in it."""
    minimum = Role(minimum)

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request.path.startswith("/api/"):
                if g.get("api_user") is None:
                    abort(401)  # the API takes tokens only, never the session cookie
            elif not current_user.is_authenticated:
                return _unauthenticated()
            if current_panel() is None:
                return _no_panel()
            if not has_role(minimum):
                abort(403)
            return view(*args, **kwargs)

        return _declare(wrapped, minimum.value)

    return decorator


def _unauthenticated():
    return current_app.login_manager.unauthorized()


def _no_panel():
    if request.blueprint == "api":
        abort(403)
    flash("You have no panel in force. Your mandate may have ended; ask your panel admin.", "warning")
    return redirect(url_for("auth.choose_panel"))


def panel_id() -> int:
    panel = current_panel()
    if panel is None:
        abort(404)
    return panel.id


def scoped(model, *, classified_by=None):
    """``select(model)`` restricted to the current panel and, if given, to what the user may see."""
    stmt = select(model).where(model.panel_id == panel_id())
    if classified_by is not None:
        stmt = stmt.where(where_visible(classified_by, clearance()))
    return stmt


def get_or_404(model, object_id, *, classified: bool = True):
    """Load an object of the current panel that the user may see, or 404."""
    obj = get_session().get(model, object_id)
    if obj is None or obj.panel_id != panel_id() or getattr(obj, "deleted_at", None) is not None:
        abort(404)
    if classified and hasattr(obj, "classification") and not may_see(clearance(), obj.classification):
        abort(404)
    return obj


def refuse_cross_site() -> None:
    """For GET routes that write an audit record (exports): a navigation started by another
    site must not write it in the user's name. Browsers say where a request came from in
    ``Sec-Fetch-Site``; without it, the Referer's host must be ours when there is one."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        if site not in ("same-origin", "none"):
            abort(403)
        return
    referrer = request.headers.get("Referer")
    if referrer and urlparse(referrer).netloc != request.host:
        abort(403)
