"""Panels, users, memberships, passwords, logins, invites and API tokens.

Refusals are ``panel_tracker.validation.Invalid`` (field by field), like every domain's.
"""
from __future__ import annotations

import functools
import hashlib
import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlmodel import Session, select

from .. import audit
from ..db import utcnow
from ..validation import Invalid
from . import throttle, twofactor
from .models import ApiToken, AttemptKind, Invite, Membership, Panel, Role, User

TOKEN_PREFIX = "pt_"


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"])


def hash_password(password: str) -> str:
    if len(password) < 12:
        raise Invalid({"password": "A password needs at least 12 characters."})
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
        raise Invalid({"code": "A panel code is 2 to 6 capital letters, e.g. YEM."})
    if session.exec(select(Panel).where(Panel.code == code)).first():
        raise Invalid({"code": f"Panel {code} already exists."})
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


def _normalised_email(email: str) -> str:
    return email.strip().lower()


def _check_mandate(mandate_start, mandate_end) -> None:
    if mandate_start and mandate_end and mandate_end < mandate_start:
        raise Invalid({"mandate_end": "The mandate cannot end before it starts."})


def _membership_of(session: Session, user: User, panel: Panel) -> Membership | None:
    return session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.panel_id == panel.id)
    ).first()


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
    """The operator's way (CLI, demo): a membership in force at once.

    A new email needs a password; an existing account keeps its own (it is never
    changed here). Panel admins use ``invite_member`` instead.
    """
    role = Role(role)
    _check_mandate(mandate_start, mandate_end)
    user = find_user(session, email)
    if user is None:
        if not password:
            raise Invalid({"password": "A new account needs a password."})
        user = User(email=_normalised_email(email), name=name.strip() or _normalised_email(email),
                    password_hash=hash_password(password))
        session.add(user)
        session.flush()
        audit.record(session, "user.create", actor=actor, obj=user, label=user.email, panel_id=panel.id,
                     after={"email": user.email, "name": user.name})
    elif password:
        raise Invalid({"password": f"{user.email} already has an account; its password is not changed here."})
    if _membership_of(session, user, panel) is not None:
        raise Invalid({"email": f"{user.email} is already a member of {panel.code}."})
    membership = Membership(user_id=user.id, panel_id=panel.id, role=role,
                            mandate_start=mandate_start, mandate_end=mandate_end, accepted_at=utcnow())
    session.add(membership)
    session.flush()
    audit.record(session, "membership.create", actor=actor, obj=membership, label=user.email,
                 after=membership_snapshot(membership))
    return user, membership


def update_membership(session: Session, membership: Membership, *, role, mandate_start, mandate_end,
                      active: bool, actor=None) -> None:
    _check_mandate(mandate_start, mandate_end)
    if actor is not None and membership.user_id == getattr(actor, "id", None):
        if Role(role) != Role.ADMIN or not active:
            raise Invalid({"role": "You cannot remove your own admin role or deactivate yourself; ask another admin."})
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


# ---------------------------------------------------------------- login


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    throttled: bool = False


def attempt_login(session: Session, email: str, password: str, ip: str) -> LoginResult:
    """Check a password; refused unchecked while too many failures stand against the
    (email, address) pair or the address (``throttle.reserve``)."""
    email = email.strip().lower()
    attempt = throttle.reserve(AttemptKind.PASSWORD, email, ip)
    if attempt is None:
        return LoginResult(None, throttle.refusal_message(), throttled=True)
    user = find_user(session, email)
    ok = user is not None and user.active and check_password(user, password)
    if user is None or not user.active or not user.password_hash:
        # Do the same work as for a real user, so the time taken does not tell an unknown
        # email, an invited account not yet accepted or a deactivated one from the rest.
        _hasher().hash("timing-equaliser")
    throttle.finish(attempt, ok)
    if ok:
        return LoginResult(user)
    return LoginResult(None, "Wrong email or password, or the account is deactivated.")


def attempt_second_factor(session: Session, user: User, code: str, ip: str) -> LoginResult:
    """The login's second step, throttled like the first (per user and address, per address)."""
    attempt = throttle.reserve(AttemptKind.TOTP, user.email, ip)
    if attempt is None:
        return LoginResult(None, throttle.refusal_message(), throttled=True)
    ok = twofactor.check_second_factor(session, user, code)
    throttle.finish(attempt, ok, session=session)
    if ok:
        return LoginResult(user)
    return LoginResult(None, "That code is not right (or was used already). Try the current code of your app.")


def recheck_password(session: Session, user: User, password: str, ip: str) -> LoginResult:
    """The logged-in user's password asked again (to change it, to turn two-factor off),
    counted like a login: a stolen session cookie is no unthrottled way to guess it."""
    return attempt_login(session, user.email, password, ip)


def change_password(session: Session, user: User, current: str, new: str, ip: str) -> None:
    """The user's own change; every other session of theirs ends (``sessions.end_all``)."""
    checked = recheck_password(session, user, current, ip)
    if checked.user is None:
        raise Invalid({"current_password": checked.error if checked.throttled
                       else "That is not your current password."})
    user.password_hash = hash_password(new)
    session.add(user)
    audit.record(session, "user.change_password", actor=user, obj=user, label=user.email)
    session.flush()


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones a user may choose (``Asia/Aden``, ``UTC``), as zoneinfo knows them."""
    return tuple(sorted(zoneinfo.available_timezones()))


def set_time_zone(session: Session, user: User, name: str, actor=None) -> None:
    """The zone the user's pages show times in; stored times stay UTC whatever it is."""
    name = (name or "").strip()
    if name not in time_zones():
        raise Invalid({"time_zone": f"“{name[:64]}” is not a time zone we know; give an IANA name such as "
                                    "Asia/Aden, America/New_York or UTC."})
    if name == user.time_zone:
        return
    before = user.time_zone
    user.time_zone = name
    session.add(user)
    audit.record(session, "user.time_zone", actor=actor or user, obj=user, label=user.email,
                 before={"time_zone": before}, after={"time_zone": name})
    session.flush()


# ---------------------------------------------------------------- invites


def invite_member(session: Session, panel: Panel, email: str, name: str, role: Role | str, *,
                  mandate_start: date | None = None, mandate_end: date | None = None,
                  actor=None) -> tuple[Membership, str]:
    """A panel admin's way in for a person: a *pending* membership and a one-time link.

    Whatever the email's state (new, invited elsewhere, a member elsewhere), the admin gets
    the same answer and a link that only accepts this membership. The link sets a password
    only for the account it created (see ``invite_claims_account``); otherwise the person
    accepts it logged in with their own password. So no admin ever holds a credential of an
    account that belongs, or is invited, to another panel.
    """
    role = Role(role)
    _check_mandate(mandate_start, mandate_end)
    email = _normalised_email(email)
    user = find_user(session, email)
    if user is None:
        user = User(email=email, name=name.strip() or email)
        session.add(user)
        session.flush()
        # An account's record, in no panel's log: the panel's audit page would otherwise
        # show its admin which emails were new.
        audit.record(session, "user.create", actor=actor, obj=user, label=user.email,
                     after={"email": user.email, "name": user.name})
    if _membership_of(session, user, panel) is not None:
        raise Invalid({"email": f"{user.email} is already a member of {panel.code}."})
    membership = Membership(user_id=user.id, panel_id=panel.id, role=role,
                            mandate_start=mandate_start, mandate_end=mandate_end)
    session.add(membership)
    session.flush()
    audit.record(session, "membership.invite", actor=actor, obj=membership, label=user.email,
                 after=membership_snapshot(membership))
    return membership, create_invite(session, membership, actor=actor)


def create_invite(session: Session, membership: Membership, actor=None) -> str:
    """A new link for a pending membership; earlier links for it stop working."""
    if not membership.pending:
        raise Invalid("This membership is already accepted: there is nothing to invite to.")
    now = utcnow()
    for old in session.exec(select(Invite).where(Invite.membership_id == membership.id,
                                                 Invite.used_at.is_(None))).all():
        old.expires_at = min(old.expires_at, now)
        session.add(old)
    secret = secrets.token_urlsafe(32)
    days = current_app.config["INVITE_VALID_DAYS"]
    session.add(Invite(user_id=membership.user_id, membership_id=membership.id, token_hash=_sha256(secret),
                       expires_at=now + timedelta(days=days)))
    user = session.get(User, membership.user_id)
    audit.record(session, "membership.invite_link", actor=actor, obj=membership, label=user.email)
    session.flush()
    return secret


def find_invite(session: Session, secret: str) -> Invite | None:
    invite = session.exec(select(Invite).where(Invite.token_hash == _sha256(secret))).first()
    if (invite is None or invite.membership_id is None or invite.used_at is not None
            or invite.expires_at <= utcnow()):
        return None
    membership = session.get(Membership, invite.membership_id)
    if membership is None or not membership.pending:
        return None
    return invite


def invite_claims_account(session: Session, invite: Invite) -> bool:
    """May this link set the account's password? Only when the account has none and this
    is its first membership: the one whose invitation created the account. Any later
    invitation (from any panel) is accepted with the password the person chose."""
    user = session.get(User, invite.user_id)
    if user.password_hash:
        return False
    first = session.exec(select(sa.func.min(Membership.id)).where(Membership.user_id == user.id)).one()
    return first == invite.membership_id


def accept_invite(session: Session, invite: Invite, password: str) -> User:
    """Set the password of the account this invitation created, and accept its membership."""
    if not invite_claims_account(session, invite):
        raise Invalid("This invitation is for an existing account: log in with your own password to accept it.")
    user = session.get(User, invite.user_id)
    user.password_hash = hash_password(password)
    session.add(user)
    audit.record(session, "user.accept_invite", actor=user, obj=user, label=user.email)
    _accept(session, invite, user)
    return user


def accept_membership(session: Session, invite: Invite, user: User) -> Membership:
    """The logged-in user accepts an invitation made out to them."""
    if invite.user_id != user.id:
        raise Invalid("This invitation is for another account.")
    return _accept(session, invite, user)


def _accept(session: Session, invite: Invite, user: User) -> Membership:
    membership = session.get(Membership, invite.membership_id)
    now = utcnow()
    membership.accepted_at = now
    invite.used_at = now
    session.add_all([membership, invite])
    audit.record(session, "membership.accept", actor=user, obj=membership, label=user.email,
                 after={"accepted_at": now})
    session.flush()
    return membership


# ---------------------------------------------------------------- API tokens


def create_token(session: Session, user: User, membership: Membership, *, name: str, role, days: int,
                 actor=None) -> tuple[ApiToken, str]:
    """Return the token and its secret; the secret is never stored and cannot be shown again."""
    role = Role(role)
    if role.rank > membership.role.rank:
        raise Invalid({"role": f"A token cannot have more rights than your role ({membership.role.value})."})
    max_days = current_app.config["API_TOKEN_MAX_DAYS"]
    if not 1 <= days <= max_days:
        raise Invalid({"days": f"A token lasts between 1 and {max_days} days."})
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
