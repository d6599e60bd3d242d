"""The panel's dashboard: the expert's start page."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlmodel import select

from ..auth.access import clearance, current_panel, has_role, panel_id, public, requires
from ..auth.models import Role
from ..cases.models import Case, Item
from ..cases.queries import visible
from ..db import get_session
from ..registry import dashboard_figures
from ..traces.models import Letter, LetterStatus
from ..traces.queries import visible_letters

bp = Blueprint("main", __name__)

RECENT = 8


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return redirect(url_for("auth.login"))


def _figure_links() -> dict[str, str]:
    """Each dashboard figure links to the list it counts."""
    links = {"cases": url_for("cases.index"), "items": url_for("cases.items"), "photos": url_for("evidence.index"),
             "letters_overdue": url_for("traces.index", show="overdue"),
             "letters_due_soon": url_for("traces.index", show="due_soon")}
    if has_role(Role.ADMIN):
        links["members"] = url_for("admin.members")
    return links


def _recent_items() -> list[tuple[Item, str]]:
    """The items last logged or changed that the reader may see, with their case's reference."""
    changed = sa.func.coalesce(Item.updated_at, Item.created_at)
    rows = get_session().exec(visible(Item).order_by(changed.desc(), Item.id.desc()).limit(RECENT)).all()
    refs = dict(get_session().exec(select(Case.id, Case.ref).where(Case.id.in_({i.case_id for i in rows}))).all())
    return [(item, refs.get(item.case_id, "")) for item in rows]


def _drafts_to_send() -> int:
    """Letters drafted and not yet sent: they wait for a coordinator."""
    if not has_role(Role.COORDINATOR):
        return 0
    stmt = visible_letters(panel_id(), clearance()).where(Letter.status == LetterStatus.DRAFT)
    return get_session().exec(select(sa.func.count()).select_from(stmt.order_by(None).subquery())).one()


@bp.route("/dashboard")
@requires(Role.VIEWER)
def dashboard():
    return render_template("main/dashboard.html", panel=current_panel(), summary=dashboard_figures(),
                           links=_figure_links(), recent=_recent_items(), drafts=_drafts_to_send())
