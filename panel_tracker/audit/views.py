"""Browse and filter the audit log (admins and coordinators), values masked by classification
(:func:`panel_tracker.audit.masked`: by today's classification of the object and its
parents when that is stricter than when the change was recorded)."""
from __future__ import annotations

from datetime import datetime, time, timezone

from flask import Blueprint, render_template, request
from sqlalchemy import false
from sqlmodel import select

from .. import audit, visibility
from ..auth.access import panel_id, requires
from ..auth.models import Role
from ..cases.queries import reader
from ..classification import may_see, most_restrictive
from ..db import get_session
from ..inputs import page_number, whole_number
from .models import AuditRecord

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE = 100


def _parse_date(value: str | None):
    try:
        return datetime.strptime(value, "%Y-%m-%d").date() if value else None
    except ValueError:
        return None


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
    if since:
        stmt = stmt.where(AuditRecord.at >= datetime.combine(since, time.min, timezone.utc))
    if until:
        stmt = stmt.where(AuditRecord.at <= datetime.combine(until, time.max, timezone.utc))
    page = page_number()
    rows = get_session().exec(stmt.order_by(AuditRecord.seq.desc()).offset((page - 1) * PAGE).limit(PAGE + 1)).all()
    db, who = get_session(), reader()
    entries = [
        {"rec": r, "values": audit.masked(db, r, who),
         "visible": may_see(who.clearance, most_restrictive(
             r.classification, visibility.current_levels(db, r.object_type, r.object_id)[0]))}
        for r in rows[:PAGE]
    ]
    types = get_session().exec(
        select(AuditRecord.object_type).where(AuditRecord.panel_id == panel_id()).distinct()
        .order_by(AuditRecord.object_type)).all()
    return render_template("audit/index.html", entries=entries, page=page, more=len(rows) > PAGE,
                           types=types, args=args)


