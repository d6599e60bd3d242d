"""Panel admin: members (invite, role, mandate, deactivate) and panel settings.

An admin invites people to *this* panel's membership; nothing here sets, resets or shows
anything of an account (password, sessions, second factor), which may belong to other
panels too. See ``services.invite_member``.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from ..auth import services
from ..auth.forms import ConfirmForm
from ..auth.access import current_panel, get_or_404, panel_id, requires
from ..auth.models import Membership, Role, User
from ..db import get_session
from ..formutil import show_errors
from ..requestctx import today
from ..validation import Invalid
from .forms import SETTING_FIELDS, MemberForm, MembershipForm, PanelSettingsForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _invitation_message(email: str, secret: str) -> str:
    """The same words whatever the email's state, so adding an email tells nothing about it."""
    link = url_for("auth.accept_invite", secret=secret, _external=True)
    days = current_app.config["INVITE_VALID_DAYS"]
    return (f"{email} is invited to {current_panel().code}. Send them this one-time link (valid {days} days; "
            f"it is not shown again). Their access starts when they accept it: {link}")


@bp.route("/members")
@requires(Role.ADMIN)
def members():
    rows = get_session().exec(
        select(Membership, User).join(User, User.id == Membership.user_id)
        .where(Membership.panel_id == panel_id()).order_by(User.email)
    ).all()
    return render_template("admin/members.html", rows=rows, today=today())


@bp.route("/members/new", methods=["GET", "POST"])
@requires(Role.ADMIN)
def new_member():
    form = MemberForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            membership, secret = services.invite_member(
                db, current_panel(), form.email.data, form.name.data, form.role.data,
                mandate_start=form.mandate_start.data, mandate_end=form.mandate_end.data, actor=current_user)
            db.commit()
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors, fallback="email")
        else:
            flash(_invitation_message(form.email.data.strip().lower(), secret), "info")
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
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors, fallback="role")
        else:
            flash(f"Membership of {user.email} updated.", "info")
            return redirect(url_for("admin.members"))
    return render_template("admin/member_edit.html", form=form, member=user, membership=membership)


@bp.route("/members/<int:membership_id>/invite", methods=["POST"])
@requires(Role.ADMIN)
def reinvite_member(membership_id: int):
    """A new link for an invitation not yet accepted (the old one stops working)."""
    db = get_session()
    membership = get_or_404(Membership, membership_id)
    user = db.get(User, membership.user_id)
    if ConfirmForm().validate_on_submit():
        try:
            secret = services.create_invite(db, membership, actor=current_user)
            db.commit()
        except Invalid as exc:
            db.rollback()
            flash(str(exc), "error")
        else:
            flash(_invitation_message(user.email, secret), "info")
    return redirect(url_for("admin.edit_member", membership_id=membership.id))


@bp.route("/settings", methods=["GET", "POST"])
@requires(Role.ADMIN)
def settings():
    db = get_session()
    panel = current_panel()
    form = PanelSettingsForm(
        data={"name": panel.name, "regime": panel.regime, **{k: panel.setting(k) for k in SETTING_FIELDS}}
        if request.method == "GET" else None)
    if form.validate_on_submit():
        services.update_panel_settings(
            db, panel, name=form.name.data, regime=form.regime.data or "",
            settings={k: getattr(form, k).data for k in SETTING_FIELDS}, actor=current_user)
        db.commit()
        flash("Panel settings saved.", "info")
        return redirect(url_for("admin.settings"))
    return render_template("admin/settings.html", form=form)
