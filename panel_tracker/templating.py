"""What every template can use: the panel in force, the user's panels, role checks, UN date format."""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import g
from flask_login import current_user
from sqlmodel import select

from . import countries
from .auth.access import clearance, has_role
from .auth.models import Membership, Panel
from .classification import Classification
from .db import get_session
from .registry import nav_entries, sections
from .requestctx import today


def day(value) -> str:
    """Dates and times as every page shows them: ``12 Sep 2023``, ``12 Sep 2023, 14:05 UTC``
    (times are kept and shown in UTC, and say so)."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return f"{value.day} {value:%b %Y, %H:%M} UTC"
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    return str(value)


def un_date(value) -> str:
    """Dates as UN documents write them: "12 March 2024" (day month year, no comma): the
    letters and the status report; pages use :func:`day`."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return f"{value.day} {value:%B %Y, %H:%M} UTC"
    if isinstance(value, date):
        return f"{value.day} {value:%B %Y}"
    return str(value)


def partial_date(text: str | None) -> str:
    """A recovery date as precise as it is known: ``12 Sep 2023``, ``May 2024``, ``2024``."""
    if not text:
        return ""
    try:
        if len(text) == 10:
            found = date.fromisoformat(text)
            return f"{found.day} {found:%b %Y}"
        if len(text) == 7:
            return f"{date.fromisoformat(text + '-01'):%b %Y}"
    except ValueError:
        pass
    return text


def counted(number: int, name: str) -> str:
    """``1 photo``, ``2 photos``: ``name`` is the plural, its first word loses its s for one."""
    words = name.replace("_", " ").split(" ")
    if number == 1 and words[0].endswith("s"):
        words[0] = words[0][:-1]
    return f"{number:,} {' '.join(words)}"


def init_app(app) -> None:
    app.jinja_env.filters["un_date"] = un_date
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["counted"] = counted
    app.jinja_env.filters["partial_date"] = partial_date
    app.jinja_env.globals["country_name"] = countries.name
    app.jinja_env.globals["Classification"] = Classification
    app.jinja_env.globals["nav_entries"] = nav_entries
    app.jinja_env.globals["sections"] = sections

    @app.context_processor
    def panel_context():
        panels = []
        if current_user.is_authenticated and g.get("api_user") is None:
            rows = get_session().exec(
                select(Membership, Panel).join(Panel, Panel.id == Membership.panel_id)
                .where(Membership.user_id == current_user.id).order_by(Panel.code)
            ).all()
            panels = [p for m, p in rows if m.in_force(today())]
        return {
            "current_panel": g.get("panel"),
            "current_role": g.get("role"),
            "my_panels": panels,
            "has_role": has_role,
            "clearance": clearance,
        }
