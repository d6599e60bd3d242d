"""Users, memberships, passwords, login throttling, invites and API tokens."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlmodel import Session, select

from .. import audit
from ..db import utcnow
from .models import ApiToken, Invite, LoginAttempt, Membership, Panel, Role, User

TOKEN_PREFIX = "pt_"


class ServiceError(ValueError):
    """A request that cannot be carried out; the message is shown to the user."""


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"])


def hash_password(password: str) -> str:
    if len(password) < 12:
        raise ServiceError("A password needs at least 12 characters.")
    return _hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# ---------------------------------------------------------------- panels and users


def create_panel(session: Session, code: str, name: str, regime: str = "", actor=None) -> Panel:
    code = code.strip().upper()
    if not (2 <= len(code) <= 6 and code.isascii() and code.isalpha()):
        raise ServiceError("A panel code is 2 to 6 capital letters, e.g. YEM.")
    if session.exec(select(Panel).where(Panel.code == code)).first():
        raise ServiceError(f"Panel {code} already exists.")
    panel = Panel(code=code, name=name.strip(), regime=regime.strip())
    session.add(panel)
    session.flush()
    audit.record(session, "panel.create", actor=actor, obj=panel, label=code,
                 after={"code": code, "name": panel.name, "regime": panel.regime})
    return panel


def update_panel_settings(session: Session, panel: Panel, *, name: str, regime: str, settings: dict, actor=None):
    before = {"name": panel.name, "regime": panel.regime, **(panel.settings or {})}
    panel.name, panel.regime = name.strip(), regime.strip()
    panel.settings = {**(panel.settings or {}), **settings}
    session.add(panel)
    b, a = audit.changes(before, {"name": panel.name, "regime": panel.regime, **panel.settings})
    audit.record(session, "panel.update", actor=actor, obj=panel, label=panel.code, before=b, after=a)
    session.flush()


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def membership_snapshot(m: Membership) -> dict:
    return {"role": m.role, "mandate_start": m.mandate_start, "mandate_end": m.mandate_end, "active": m.active}


def add_member(
    session: Session,
    panel: Panel,
    email: str,
    name: str,
    role: Role | str,
    *,
    password: str | None = None,
    mandate_start: date | None = None,
    mandate_end: date | None = None,
    actor=None,
) -> tuple[User, Membership]:
    """Create the user if new (an existing email just gets the membership)."""
    role = Role(role)
    if mandate_start and mandate_end and mandate_end < mandate_start:
        raise ServiceError("The mandate cannot end before it starts.")
    user = find_user(session, email)
    if user is None:
        user = User(email=email.strip().lower(), name=name.strip() or email.strip().lower())
        if password:
            user.password_hash = hash_password(password)
        session.add(user)
        session.flush()
        audit.record(session, "user.create", actor=actor, obj=user, label=user.email, panel_id=panel.id,
                     after={"email": user.email, "name": user.name})
    elif password:
        user.password_hash = hash_password(password)
        session.add(user)
        audit.record(session, "user.set_password", actor=actor, obj=user, label=user.email, panel_id=panel.id)
    existing = session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.panel_id == panel.id)
    ).first()
    if existing:
        raise ServiceError(f"{user.email} is already a member of {panel.code}.")
    membership = Membership(user_id=user.id, panel_id=panel.id, role=role,
                            mandate_start=mandate_start, mandate_end=mandate_end)
    session.add(membership)
    session.flush()
    audit.record(session, "membership.create", actor=actor, obj=membership, label=user.email,
                 after=membership_snapshot(membership))
    return user, membership


def update_membership(session: Session, membership: Membership, *, role, mandate_start, mandate_end,
                      active: bool, actor=None) -> None:
    if mandate_start and mandate_end and mandate_end < mandate_start:
        raise ServiceError("The mandate cannot end before it starts.")
    if actor is not None and membership.user_id == getattr(actor, "id", None):
        if Role(role) != Role.ADMIN or not active:
            raise ServiceError("You cannot remove your own admin role or deactivate yourself; ask another admin.")
    before = membership_snapshot(membership)
    membership.role, membership.mandate_start, membership.mandate_end, membership.active = (
        Role(role), mandate_start, mandate_end, active)
    session.add(membership)
    b, a = audit.changes(before, membership_snapshot(membership))
    user = session.get(User, membership.user_id)
    audit.record(session, "membership.update", actor=actor, obj=membership, label=user.email, before=b, after=a)
    session.flush()


def memberships_in_force(session: Session, user: User, today: date) -> list[Membership]:
    rows = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    return [m for m in rows if m.in_force(today)]


# ---------------------------------------------------------------- login and throttling


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    throttled: bool = False


def attempt_login(session: Session, email: str, password: str, ip: str) -> LoginResult:
    """Check a password, refusing while too many recent failures stand against the email or IP."""
    email = email.strip().lower()
    cfg = current_app.config
    since = utcnow() - timedelta(minutes=cfg["LOGIN_FAILURE_WINDOW_MINUTES"])
    failures_email = _recent_failures(session, LoginAttempt.email == email, since)
    failures_ip = _recent_failures(session, LoginAttempt.ip == ip, since)
    if failures_email >= cfg["LOGIN_MAX_FAILURES"] or failures_ip >= cfg["LOGIN_MAX_FAILURES_PER_IP"]:
        return LoginResult(None, (f"Too many failed attempts. Try again in "
                                  f"{cfg['LOGIN_FAILURE_WINDOW_MINUTES']} minutes."), throttled=True)
    user = find_user(session, email)
    ok = user is not None and user.active and check_password(user, password)
    if user is None:
        _hasher().hash("timing-equaliser")  # do the same work as for a real user
    session.add(LoginAttempt(email=email, ip=ip, success=ok))
    if ok:
        audit.record(session, "user.login", actor=user, obj=user, label=user.email)
        return LoginResult(user)
    return LoginResult(None, "Wrong email or password, or the account is deactivated.")


def _recent_failures(session: Session, who, since: datetime) -> int:
    """Failures since the last success for the same email or IP, within the window."""
    last_ok = session.exec(
        select(sa.func.max(LoginAttempt.at)).where(who, LoginAttempt.success.is_(True), LoginAttempt.at >= since)
    ).one()
    floor = last_ok or since
    return session.exec(
        select(sa.func.count()).select_from(LoginAttempt).where(
            who, LoginAttempt.success.is_(False), LoginAttempt.at >= floor)
    ).one()


# ---------------------------------------------------------------- invites


def create_invite(session: Session, user: User, actor=None, panel_id: int | None = None) -> str:
    secret = secrets.token_urlsafe(32)
    days = current_app.config["INVITE_VALID_DAYS"]
    session.add(Invite(user_id=user.id, token_hash=_sha256(secret), expires_at=utcnow() + timedelta(days=days)))
    audit.record(session, "user.invite", actor=actor, obj=user, label=user.email, panel_id=panel_id)
    session.flush()
    return secret


def find_invite(session: Session, secret: str) -> Invite | None:
    invite = session.exec(select(Invite).where(Invite.token_hash == _sha256(secret))).first()
    if invite is None or invite.used_at is not None or invite.expires_at < utcnow():
        return None
    return invite


def accept_invite(session: Session, invite: Invite, password: str) -> User:
    user = session.get(User, invite.user_id)
    user.password_hash = hash_password(password)
    invite.used_at = utcnow()
    session.add_all([user, invite])
    audit.record(session, "user.accept_invite", actor=user, obj=user, label=user.email)
    session.flush()
    return user


# ---------------------------------------------------------------- API tokens


def create_token(session: Session, user: User, membership: Membership, *, name: str, role, days: int,
                 actor=None) -> tuple[ApiToken, str]:
    """Return the token and its secret; the secret is never stored and cannot be shown again."""
    role = Role(role)
    if role.rank > membership.role.rank:
        raise ServiceError(f"A token cannot have more rights than your role ({membership.role.value}).")
    max_days = current_app.config["API_TOKEN_MAX_DAYS"]
    if not 1 <= days <= max_days:
        raise ServiceError(f"A token lasts between 1 and {max_days} days.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, panel_id=membership.panel_id, name=name.strip() or "token",
                     prefix=secret[:10], token_hash=_sha256(secret), role=role,
                     expires_at=utcnow() + timedelta(days=days))
    session.add(token)
    session.flush()
    audit.record(session, "api_token.create", actor=actor or user, obj=token, label=f"{token.prefix}… {token.name}",
                 after={"name": token.name, "role": role, "expires_at": token.expires_at})
    return token, secret


def revoke_token(session: Session, token: ApiToken, actor=None) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        audit.record(session, "api_token.revoke", actor=actor, obj=token, label=f"{token.prefix}… {token.name}",
                     after={"revoked_at": token.revoked_at})
        session.flush()


def authenticate_token(session: Session, secret: str, today: date):
    """(user, membership, role) for a valid bearer token, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _sha256(secret))).first()
    if token is None or token.revoked_at is not None or token.expires_at < utcnow():
        return None
    user = session.get(User, token.user_id)
    membership = session.exec(
        select(Membership).where(Membership.user_id == token.user_id, Membership.panel_id == token.panel_id)
    ).first()
    if user is None or not user.active or membership is None or not membership.in_force(today):
        return None
    role = min(token.role, membership.role, key=lambda r: r.rank)
    token.last_used_at = utcnow()
    session.add(token)
    return user, membership, role
