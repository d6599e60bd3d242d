"""The panel's dashboard."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from ..auth.access import current_panel, public, requires
from ..auth.models import Role
from ..registry import dashboard_figures

bp = Blueprint("main", __name__)


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return redirect(url_for("auth.login"))


@bp.route("/dashboard")
@requires(Role.VIEWER)
def dashboard():
    return render_template("main/dashboard.html", panel=current_panel(), summary=dashboard_figures())
