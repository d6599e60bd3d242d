"""Browse and filter the audit log (admins and coordinators), values masked by classification
(:func:`panel_tracker.audit.masked`: by today's classification of the object and its
parents when that is stricter than when the change was recorded)."""
from __future__ import annotations

import re
from datetime import datetime, time, timezone

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import false
from sqlmodel import SQLModel, select

from .. import audit, visibility
from ..auth.access import panel_id, requires
from ..auth.models import Role
from ..cases.queries import reader
from ..classification import may_see, most_restrictive
from ..db import get_session
from ..inputs import page_number, whole_number
from ..templating import day, label, viewer_zone
from ..traces.models import EventKind
from .models import AuditRecord

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE = 100
SHOWN_CHARS = 300  # a longer value is cut on the page, with a link to the whole of it
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")


# Recorded fields that are no column but hold choices: a letter's imported events, [kind, day].
CHOICES_BEYOND_COLUMNS = {("trace_letter", "events"): EventKind}


def choices_of(object_type: str | None, name: str | None):
    """The Enum a recorded field holds (``marking``, ``kind`` → MarkingKind), from the column
    of the table the record names; None for any other field."""
    if (object_type, name) in CHOICES_BEYOND_COLUMNS:
        return CHOICES_BEYOND_COLUMNS[object_type, name]
    table = SQLModel.metadata.tables.get(object_type or "")
    column = table.c.get(name) if table is not None and name else None
    return getattr(column.type, "enum_class", None) if column is not None else None


def readable(value, choices=None) -> str:
    """A recorded value as a person reads it: yes/no, empty for none, times to the minute
    in the reader's time zone, a stored choice (``choices``: its Enum) by its label, lists
    and objects as ``key: value`` pairs (not Python's or JSON's notation)."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable(v)}" for k, v in value.items()) or "(empty)"
    if isinstance(value, list):
        return ", ".join(readable(v, choices) for v in value) or "(empty)"
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        return day(datetime.fromisoformat(value.replace("Z", "+00:00")))
    if isinstance(value, str) and choices is not None:
        member = next((m for m in choices if m.value == value), None)
        if member is not None:
            return label(member)
    return str(value)


@bp.app_template_filter("audit_text")
def audit_text(value, object_type: str | None = None, name: str | None = None) -> str:
    """The whole of a recorded value of field ``name`` of an ``object_type`` record, readable."""
    return readable(value, choices_of(object_type, name))


@bp.app_template_filter("audit_value")
def audit_value(value, object_type: str | None = None, name: str | None = None) -> dict:
    """``{"text": shown, "cut": True when longer than the page shows}``."""
    text = audit_text(value, object_type, name)
    return {"text": text[:SHOWN_CHARS] + "…" if len(text) > SHOWN_CHARS else text, "cut": len(text) > SHOWN_CHARS}


def _parse_date(value: str | None):
    try:
        return datetime.strptime(value, "%Y-%m-%d").date() if value else None
    except ValueError:
        return None


def _entry(db, rec: AuditRecord, who) -> dict:
    """A record as the log shows it: its values masked, and whether its object may be named,
    both by how the object is classified today (looked up once)."""
    levels = visibility.current_levels(db, rec.object_type, rec.object_id)
    return {"rec": rec, "values": audit.masked(db, rec, who, levels),
            "visible": may_see(who.clearance, most_restrictive(rec.classification, levels[0]))}


@bp.route("/")
@requires(Role.COORDINATOR)
def index():
    args = request.args
    stmt = select(AuditRecord).where(AuditRecord.panel_id == panel_id())
    if args.get("object_type"):
        stmt = stmt.where(AuditRecord.object_type == args["object_type"])
    if args.get("object_id", "").isdigit():  # "²" too: an id no record can have matches nothing
        object_id = whole_number(args["object_id"])
        stmt = stmt.where(AuditRecord.object_id == object_id if object_id is not None else false())
    if args.get("actor"):
        stmt = stmt.where(AuditRecord.actor.contains(args["actor"].strip().lower()))
    if args.get("action"):
        stmt = stmt.where(AuditRecord.action.startswith(args["action"].strip()))
    since, until = _parse_date(args.get("since")), _parse_date(args.get("until"))
    zone = viewer_zone()  # days as the reader's pages show them, from midnight to midnight there
    if since:
        stmt = stmt.where(AuditRecord.at >= datetime.combine(since, time.min, zone).astimezone(timezone.utc))
    if until:
        stmt = stmt.where(AuditRecord.at <= datetime.combine(until, time.max, zone).astimezone(timezone.utc))
    page = page_number()
    rows = get_session().exec(stmt.order_by(AuditRecord.seq.desc()).offset((page - 1) * PAGE).limit(PAGE + 1)).all()
    db, who = get_session(), reader()
    entries = [_entry(db, r, who) for r in rows[:PAGE]]
    types = get_session().exec(
        select(AuditRecord.object_type).where(AuditRecord.panel_id == panel_id()).distinct()
        .order_by(AuditRecord.object_type)).all()
    return render_template("audit/index.html", entries=entries, page=page, more=len(rows) > PAGE,
                           types=types, args=args)




@bp.route("/<int:seq>")
@requires(Role.COORDINATOR)
def record(seq: int):
    """One record with every value whole (the log page cuts long ones), masked as there."""
    rec = get_session().exec(select(AuditRecord).where(AuditRecord.panel_id == panel_id(),
                                                       AuditRecord.seq == seq)).first()
    if rec is None:
        abort(404)
    before, after = audit.masked(get_session(), rec, reader())
    lines = [f"#{rec.seq}  {day(rec.at)}  {rec.actor}  {rec.action}  {rec.object_type} {rec.object_id or ''}"]
    for name in dict.fromkeys([*after, *before]):
        lines.append(f"\n{name}")
        if name in before:
            lines.append(f"  before: {audit_text(before[name], rec.object_type, name)}")
        if name in after:
            lines.append(f"  after: {audit_text(after[name], rec.object_type, name)}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain")
