"""auth: panels, users, memberships, API tokens, login throttling; ``access`` holds every access rule."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from .. import registry
from ..db import get_session
from .access import panel_id
from .models import Membership


def member_count() -> dict:
    db = get_session()
    return {"members": db.exec(select(sa.func.count()).select_from(Membership)
                               .where(Membership.panel_id == panel_id())).one()}


def init_app(app) -> None:
    from . import views  # the web layer loads when an app is built, not when the package is imported

    app.register_blueprint(views.bp)
    registry.add_dashboard_figures(app, member_count)
