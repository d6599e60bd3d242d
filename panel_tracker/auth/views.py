"""Log in (password, then a second factor when enrolled) and out, choose a panel, accept an
invitation, and the user's own security page: sessions, password, two-factor, API tokens."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlparse

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlmodel import select

from ..db import get_session, utcnow
from ..formutil import options, show_errors
from ..requestctx import today
from ..validation import Invalid
from . import services, sessions, twofactor
from .access import current_membership, login_only, public, requires
from .forms import (ChangePasswordForm, CodeForm, ConfirmForm, EnrolForm, LoginForm, PasswordCheckForm,
                    SetPasswordForm, SwitchPanelForm, TimeZoneForm, TokenForm)
from .models import ApiToken, Membership, Panel, Role, User

bp = Blueprint("auth", __name__)

# Between the password and the second factor: who, since when, where to go after.
PENDING_LOGIN = "login_pending"
PENDING_LOGIN_SECONDS = 300
# A nonce naming the TOTP secret shown on the enrolment page, not yet confirmed with a code.
PENDING_TOTP = "totp_pending"


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _pending_totp_secret(user: User) -> str:
    """The secret offered for enrolment. The session cookie is signed, not encrypted: a
    copy of it (a shared machine, a proxy's log) would give the second factor for good.
    So the cookie holds a random nonce and the secret is derived from it with the key."""
    nonce = session.get(PENDING_TOTP)
    if not isinstance(nonce, str) or len(nonce) < 16:
        nonce = session[PENDING_TOTP] = secrets.token_urlsafe(16)
    key = current_app.secret_key
    digest = hmac.new(key.encode() if isinstance(key, str) else key, f"totp-enrol|{user.id}|{nonce}".encode(),
                      hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode()


def _me() -> User:
    """The logged-in user as the row of this request's session (to change it)."""
    return current_user._get_current_object()


def _client_address() -> str:
    return request.remote_addr or ""


def _complete_login(db, user: User, next_url: str | None):
    """Both factors are done: a server-side session, and the cookie that names it."""
    secret = sessions.start_session(db, user, user_agent=request.user_agent.string, ip=_client_address())
    first = services.memberships_in_force(db, user, today())
    db.commit()
    session.clear()
    login_user(user)
    session.permanent = True
    session[sessions.COOKIE_KEY] = secret
    session["panel_id"] = first[0].panel_id if first else None
    return redirect(_safe_next(next_url) or url_for("main.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        db = get_session()
        result = services.attempt_login(db, form.email.data, form.password.data, _client_address())
        if result.user and result.user.has_two_factor:
            session.clear()
            session[PENDING_LOGIN] = {"user_id": result.user.id, "at": utcnow().timestamp(),
                                      "next": _safe_next(form.next.data)}
            return redirect(url_for("auth.login_code"))
        if result.user:
            return _complete_login(db, result.user, form.next.data)
        form.password.errors.append(result.error)
        status = 429 if result.throttled else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code():
    """The second step: a TOTP code or a recovery code, within five minutes of the password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    pending = session.get(PENDING_LOGIN)
    db = get_session()
    user = db.get(User, pending["user_id"]) if pending else None
    if (user is None or not user.active or not user.has_two_factor
            or utcnow().timestamp() - pending["at"] > PENDING_LOGIN_SECONDS):
        session.pop(PENDING_LOGIN, None)
        flash("Log in with your email and password first.", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        result = services.attempt_second_factor(db, user, form.code.data, _client_address())
        if result.user:
            session.pop(PENDING_LOGIN, None)
            return _complete_login(db, user, pending.get("next"))
        db.commit()  # the failure counts
        form.code.errors.append(result.error)
        status = 429 if result.throttled else 200
    return render_template("auth/login_code.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_only
def logout():
    db = get_session()
    sessions.end_session(db, session.get(sessions.COOKIE_KEY))
    db.commit()
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
    """An invitation to one membership. It sets a password only for the account it created;
    any other account accepts it logged in with its own password (``services.invite_member``)."""
    db = get_session()
    invite = services.find_invite(db, secret)
    if invite is None:
        abort(404)
    membership = db.get(Membership, invite.membership_id)
    panel = db.get(Panel, membership.panel_id)
    if services.invite_claims_account(db, invite):
        if current_user.is_authenticated:
            return render_template("auth/invite.html", state="other_account", panel=panel, membership=membership)
        form = SetPasswordForm()
        if form.validate_on_submit():
            try:
                services.accept_invite(db, invite, form.password.data)
            except Invalid as exc:
                db.rollback()
                show_errors(form, exc.errors)
            else:
                db.commit()
                flash("Your password is set. Log in with your email and the new password.", "info")
                return redirect(url_for("auth.login"))
        return render_template("auth/set_password.html", form=form, panel=panel, membership=membership)
    if not current_user.is_authenticated:
        return render_template("auth/invite.html", state="log_in", panel=panel, membership=membership,
                               login_url=url_for("auth.login", next=request.path))
    if current_user.id != invite.user_id:
        return render_template("auth/invite.html", state="other_account", panel=panel, membership=membership)
    form = ConfirmForm()
    if form.validate_on_submit():
        services.accept_membership(db, invite, _me())
        db.commit()
        session["panel_id"] = membership.panel_id
        flash(f"You are now a member of {panel.name}.", "info")
        return redirect(url_for("main.dashboard"))
    return render_template("auth/invite.html", state="accept", panel=panel, membership=membership, form=form)


# ------------------------------------------------------------------ the user's own security page


def _security_page(password_form=None, status: int = 200, zone_form=None):
    db = get_session()
    user = current_user
    token_rows = db.exec(
        select(ApiToken, Panel).join(Panel, Panel.id == ApiToken.panel_id)
        .where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template(
        "auth/security.html", live_sessions=sessions.live_sessions(db, user), this_session=g.get("user_session"),
        tokens=token_rows, now=utcnow(), password_form=password_form or ChangePasswordForm(formdata=None),
        codes_left=twofactor.recovery_codes_left(db, user) if user.has_two_factor else 0,
        required_by=twofactor.panels_requiring_two_factor(db, user, today()),
        zone_form=zone_form or TimeZoneForm(formdata=None, time_zone=user.time_zone), zones=services.time_zones(),
    ), status


@bp.route("/account/security")
@login_only
def security():
    return _security_page()


@bp.route("/account/password", methods=["POST"])
@login_only
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            services.change_password(db, _me(), form.current_password.data, form.password.data, _client_address())
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors, fallback="password")
        else:
            sessions.end_other_sessions(db, _me(), g.user_session, reason="password change")
            db.commit()
            flash("Your password is changed. Every other session of yours is logged out.", "info")
            return redirect(url_for("auth.security"))
    return _security_page(form)


@bp.route("/account/time-zone", methods=["POST"])
@login_only
def set_time_zone():
    form = TimeZoneForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            services.set_time_zone(db, _me(), form.time_zone.data)
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors, fallback="time_zone")
        else:
            db.commit()
            flash(f"Times are now shown in {form.time_zone.data.strip()}.", "info")
            return redirect(url_for("auth.security", _anchor="time-zone"))
    return _security_page(zone_form=form, status=422)


@bp.route("/account/sessions/end-all", methods=["POST"])
@login_only
def end_all_sessions():
    if ConfirmForm().validate_on_submit():
        db = get_session()
        sessions.end_other_sessions(db, _me(), None, reason="log out everywhere")
        db.commit()
        logout_user()
        session.clear()
        flash("You are logged out everywhere: every session of yours has ended.", "info")
        return redirect(url_for("auth.login"))
    return redirect(url_for("auth.security"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_only
def two_factor():
    """Enrolment (QR code, then a code to confirm; recovery codes shown once) or, when on, its state."""
    db = get_session()
    user = _me()
    required_by = twofactor.panels_requiring_two_factor(db, user, today())
    if user.has_two_factor:
        return render_template("auth/two_factor.html", enabled=True, required_by=required_by,
                               codes_left=twofactor.recovery_codes_left(db, user),
                               disable_form=PasswordCheckForm(formdata=None))
    secret = _pending_totp_secret(user)
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.enable_two_factor(db, user, secret, form.code.data)
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors, fallback="code")
        else:
            sessions.end_other_sessions(db, user, g.user_session, reason="two-factor login turned on")
            db.commit()
            session.pop(PENDING_TOTP, None)
            return render_template("auth/two_factor.html", enabled=True, recovery_codes=codes,
                                   required_by=required_by, codes_left=len(codes),
                                   disable_form=PasswordCheckForm(formdata=None))
    uri = twofactor.provisioning_uri(user, secret)
    return render_template("auth/two_factor.html", enabled=False, form=form, secret=secret,
                           qr=twofactor.qr_data_uri(uri), required_by=required_by)


@bp.route("/account/two-factor/disable", methods=["POST"])
@login_only
def disable_two_factor():
    form = PasswordCheckForm()
    db = get_session()
    checked = services.recheck_password(db, _me(), form.password.data or "", _client_address()) \
        if form.validate_on_submit() else None
    if checked is None or checked.user is None:
        flash(checked.error if checked and checked.throttled
              else "Two-factor login is still on: that is not your password.", "error")
        return redirect(url_for("auth.two_factor"))
    try:
        twofactor.disable_two_factor(db, _me(), today())
    except Invalid as exc:
        db.rollback()
        flash(str(exc.errors.get("password", exc)), "error")
        return redirect(url_for("auth.two_factor"))
    sessions.end_other_sessions(db, _me(), g.user_session, reason="two-factor login turned off")
    db.commit()
    flash("Two-factor login is off. Every other session of yours is logged out.", "info")
    return redirect(url_for("auth.security"))


# ------------------------------------------------------------------ API tokens (of the panel in force)


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
        except Invalid as exc:
            db.rollback()
            show_errors(form, exc.errors, fallback="role")
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
