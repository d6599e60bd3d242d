"""Log in and out, choose a panel, accept an invite, manage one's own API tokens."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlmodel import select

from ..db import get_session, utcnow
from ..formutil import options
from ..requestctx import today
from . import services
from .access import current_membership, login_only, public, requires
from .forms import ConfirmForm, LoginForm, SetPasswordForm, SwitchPanelForm, TokenForm
from .models import ApiToken, Panel, Role

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        db = get_session()
        result = services.attempt_login(db, form.email.data, form.password.data, request.remote_addr or "")
        db.commit()
        if result.user:
            session.clear()
            login_user(result.user)
            session.permanent = True
            first = services.memberships_in_force(db, result.user, today())
            session["panel_id"] = first[0].panel_id if first else None
            return redirect(_safe_next(form.next.data) or url_for("main.dashboard"))
        form.password.errors.append(result.error)
        status = 429 if result.throttled else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_only
def logout():
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/panels")
@login_only
def choose_panel():
    return render_template("auth/choose_panel.html", form=SwitchPanelForm())


@bp.route("/panels/switch", methods=["POST"])
@login_only
def switch_panel():
    form = SwitchPanelForm()
    if form.validate_on_submit():
        db = get_session()
        allowed = {m.panel_id for m in services.memberships_in_force(db, current_user, today())}
        if form.panel_id.data in allowed:
            session["panel_id"] = form.panel_id.data
            panel = db.get(Panel, form.panel_id.data)
            flash(f"You are now working in {panel.name}.", "info")
            return redirect(url_for("main.dashboard"))
    flash("You are not a member of that panel (or your mandate there has ended).", "error")
    return redirect(url_for("auth.choose_panel"))


@bp.route("/invite/<secret>", methods=["GET", "POST"])
@public
def accept_invite(secret: str):
    db = get_session()
    invite = services.find_invite(db, secret)
    if invite is None:
        abort(404)
    form = SetPasswordForm()
    if form.validate_on_submit():
        services.accept_invite(db, invite, form.password.data)
        db.commit()
        flash("Your password is set. Log in with your email and the new password.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", form=form)


@bp.route("/account/tokens", methods=["GET", "POST"])
@requires(Role.VIEWER)
def tokens():
    db = get_session()
    membership = current_membership()
    form = TokenForm()
    form.role.choices = options((r.value, r.value) for r in Role if r.rank <= membership.role.rank)
    if request.method == "GET":
        form.role.data = Role.VIEWER.value
    new_secret = None
    if form.validate_on_submit():
        try:
            _, new_secret = services.create_token(
                db, current_user, membership, name=form.name.data, role=form.role.data, days=form.days.data)
            db.commit()
            form = TokenForm(formdata=None)
            form.role.choices = options((r.value, r.value) for r in Role if r.rank <= membership.role.rank)
        except services.ServiceError as exc:
            form.role.errors.append(str(exc))
    rows = db.exec(
        select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.panel_id == membership.panel_id)
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("auth/tokens.html", form=form, tokens=rows, new_secret=new_secret,
                           revoke_form=ConfirmForm(), now=utcnow())


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@requires(Role.VIEWER)
def revoke_token(token_id: int):
    db = get_session()
    token = db.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id or token.panel_id != current_membership().panel_id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        services.revoke_token(db, token)
        db.commit()
        flash(f"Token {token.prefix}… revoked.", "info")
    return redirect(url_for("auth.tokens"))


