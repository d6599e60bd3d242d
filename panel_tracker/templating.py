"""What every template can use: the panel in force, the user's panels, role checks, UN date
format, and times in the user's own time zone."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g, has_request_context
from flask_login import current_user
from sqlmodel import select

from . import countries
from .auth.access import clearance, has_role
from .auth.models import Membership, Panel
from .classification import Classification
from .db import get_session
from .registry import nav_entries, sections
from .requestctx import today


UTC = ZoneInfo("UTC")


def viewer_zone() -> ZoneInfo:
    """The zone the logged-in user reads times in (their account's choice); UTC outside a
    page request, for the API and for anyone not logged in. Stored times are always UTC."""
    if not has_request_context() or g.get("api_user") is not None or not current_user.is_authenticated:
        return UTC
    try:
        return ZoneInfo(getattr(current_user, "time_zone", None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_name(moment: datetime) -> str:
    """The zone of an aware time as a reader knows it: its abbreviation (``CEST``, ``UTC``) or,
    where the zone has none (``Asia/Aden`` says ``+03``), its offset from UTC (``UTC+3``)."""
    abbreviation = moment.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    offset = moment.utcoffset() or timedelta(0)
    sign, minutes = ("-" if offset < timedelta(0) else "+"), abs(int(offset.total_seconds())) // 60
    hours, minutes = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def _local(value: datetime) -> datetime:
    """An aware time in the reader's zone (a naive one is taken as UTC, as the database keeps it)."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)).astimezone(viewer_zone())


def day(value) -> str:
    """Dates and times as every page shows them: ``12 Sep 2023``, ``12 Sep 2023, 15:05 UTC+3``.
    Times are stored in UTC and shown in the user's zone (:func:`viewer_zone`), which they
    name; a date is a date in any zone and stays as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = _local(value)
        return f"{value.day} {value:%b %Y, %H:%M} {zone_name(value)}"
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    return str(value)


def un_date(value) -> str:
    """Dates as UN documents write them: "12 March 2024" (day month year, no comma): the
    letters and the status report; pages use :func:`day`."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = _local(value)
        return f"{value.day} {value:%B %Y, %H:%M} {zone_name(value)}"
    if isinstance(value, date):
        return f"{value.day} {value:%B %Y}"
    return str(value)


def partial_date(text: str | None, *, month: str = "%b") -> str:
    """A recovery date as precise as it is known: ``12 Sep 2023``, ``May 2024``, ``2024``;
    ``month="%B"`` writes months in full, as UN documents do (:func:`un_partial_date`)."""
    if not text:
        return ""
    try:
        if len(text) == 10:
            found = date.fromisoformat(text)
            return f"{found.day} {found:{month} %Y}"
        if len(text) == 7:
            return f"{date.fromisoformat(text + '-01'):{month} %Y}"
    except ValueError:
        pass
    return text


def un_partial_date(text: str | None) -> str:
    """``14 February 2023``, ``May 2024``, ``2024``: report annexes."""
    return partial_date(text, month="%B")


def label(value) -> str:
    """A stored choice as a person reads it: the enum's own ``label`` when it has one
    (``LetterKind.TRACE_REQUEST`` → "Trace request"), else its value without underscores
    (``factory_code`` → "factory code"). Pages never show a raw value or ``Enum.MEMBER``."""
    if value is None or value == "":
        return ""
    if isinstance(value, Enum):
        own = getattr(value, "label", None)
        return own if isinstance(own, str) else str(value.value).replace("_", " ")
    return str(value).replace("_", " ")


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
    app.jinja_env.filters["label"] = label
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
