"""Figures for the dashboard; each domain adds its own counts here."""
from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from .auth.access import panel_id
from .auth.models import Membership
from .db import get_session


def summary() -> dict:
    db = get_session()
    figures = {
        "members": db.exec(select(sa.func.count()).select_from(Membership).where(Membership.panel_id == panel_id())).one()
    }
    try:
        from .cases.queries import dashboard_figures
    except ImportError:
        return figures
    figures.update(dashboard_figures())
    from flask import current_app

    for more in current_app.extensions.get("panel_tracker.dashboard", []):  # domains' own figures
        figures.update(more())
    return figures
