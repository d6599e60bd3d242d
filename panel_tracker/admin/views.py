"""Panel admin: members (create or invite, role, mandate, deactivate) and panel settings."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth import services
from sqlmodel import select

from ..auth.access import current_panel, get_or_404, panel_id, requires
from ..auth.models import Membership, Role, User
from ..db import get_session
from ..requestctx import today
from .forms import MemberForm, MembershipForm, PanelSettingsForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/members")
@requires(Role.ADMIN)
def members():
    rows = get_session().exec(
        select(Membership, User).join(User, User.id == Membership.user_id)
        .where(Membership.panel_id == panel_id()).order_by(User.name)
    ).all()
    return render_template("admin/members.html", rows=rows, today=today())


@bp.route("/members/new", methods=["GET", "POST"])
@requires(Role.ADMIN)
def new_member():
    form = MemberForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            user, _ = services.add_member(
                db, current_panel(), form.email.data, form.name.data, form.role.data,
                mandate_start=form.mandate_start.data, mandate_end=form.mandate_end.data, actor=current_user)
            link = None
            if not user.password_hash:
                secret = services.create_invite(db, user, actor=current_user, panel_id=current_panel().id)
                link = url_for("auth.accept_invite", secret=secret, _external=True)
            db.commit()
        except services.ServiceError as exc:
            db.rollback()
            form.email.errors.append(str(exc))
        else:
            if link:
                flash(f"{user.email} added. Send them this one-time link to set a password (valid "
                      f"7 days; it is not shown again): {link}", "info")
            else:
                flash(f"{user.email} already had an account; they now have access to this panel.", "info")
            return redirect(url_for("admin.members"))
    return render_template("admin/member_new.html", form=form)


@bp.route("/members/<int:membership_id>", methods=["GET", "POST"])
@requires(Role.ADMIN)
def edit_member(membership_id: int):
    db = get_session()
    membership = get_or_404(Membership, membership_id)
    user = db.get(User, membership.user_id)
    form = MembershipForm(obj=membership)
    if request.method == "GET":
        form.role.data = membership.role.value
    if form.validate_on_submit():
        try:
            services.update_membership(
                db, membership, role=form.role.data, mandate_start=form.mandate_start.data,
                mandate_end=form.mandate_end.data, active=form.active.data, actor=current_user)
            db.commit()
        except services.ServiceError as exc:
            db.rollback()
            form.role.errors.append(str(exc))
        else:
            flash(f"Membership of {user.email} updated.", "info")
            return redirect(url_for("admin.members"))
    return render_template("admin/member_edit.html", form=form, member=user, membership=membership)


@bp.route("/settings", methods=["GET", "POST"])
@requires(Role.ADMIN)
def settings():
    db = get_session()
    panel = current_panel()
    form = PanelSettingsForm(
        data={"name": panel.name, "regime": panel.regime,
              **{k: panel.setting(k) for k in ("acknowledgement_due_days", "reply_due_days", "reminder_interval_days", "min_independent_sources")}}
        if request.method == "GET" else None)
    if form.validate_on_submit():
        services.update_panel_settings(
            db, panel, name=form.name.data, regime=form.regime.data or "",
            settings={k: getattr(form, k).data for k in
                      ("acknowledgement_due_days", "reply_due_days", "reminder_interval_days", "min_independent_sources")},
            actor=current_user)
        db.commit()
        flash("Panel settings saved.", "info")
        return redirect(url_for("admin.settings"))
    return render_template("admin/settings.html", form=form)


