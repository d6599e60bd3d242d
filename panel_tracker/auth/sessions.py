"""Server-side sessions: a login is a row, so logging out ends it for every copy of the cookie.

The signed cookie carries a random secret (``session["sid"]``); the row keeps its SHA-256,
the user, when it started and was last used, the browser's user agent and address. A
session ends when it is revoked (log out, log out everywhere, a password change or a
two-factor change), when it has been idle longer than ``SESSION_IDLE_MINUTES``, or when it
is older than ``SESSION_MAX_HOURS``, whatever the cookie says.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from .. import audit
from ..db import utcnow
from .models import User, UserSession

COOKIE_KEY = "sid"
# last_seen_at is written at most this often (not on every request).
_TOUCH_EVERY = timedelta(seconds=60)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _limits():
    cfg = current_app.config
    return timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]), timedelta(hours=cfg["SESSION_MAX_HOURS"])


def start_session(session: Session, user: User, *, user_agent: str, ip: str) -> str:
    """A new session for a completed login (password and, if enrolled, second factor)."""
    secret = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, secret_hash=_hash(secret), user_agent=(user_agent or "")[:300],
                      ip=(ip or "")[:64])
    session.add(row)
    session.flush()
    audit.record(session, "user.login", actor=user, obj=user, label=user.email)
    return secret


def is_live(row: UserSession, now=None) -> bool:
    now = now or utcnow()
    idle, longest = _limits()
    return row.revoked_at is None and now - row.last_seen_at <= idle and now - row.created_at <= longest


def find_live(session: Session, secret: str | None, user_id: int) -> UserSession | None:
    """The session this cookie names, if it is still live and the cookie's user's; it is
    marked as seen now."""
    if not secret:
        return None
    row = session.exec(select(UserSession).where(UserSession.secret_hash == _hash(secret))).first()
    now = utcnow()
    if row is None or row.user_id != user_id or not is_live(row, now):
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return row


def end_session(session: Session, secret: str | None) -> None:
    if not secret:
        return
    session.execute(sa.update(UserSession).where(UserSession.secret_hash == _hash(secret),
                                                 UserSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


_SELF = object()


def end_other_sessions(session: Session, user: User, keep: UserSession | None, *, reason: str,
                       actor=_SELF) -> int:
    """Revoke every session of the user but ``keep`` (None: all of them); audited, by
    default as the user's own act."""
    stmt = sa.update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    count = session.execute(stmt.values(revoked_at=utcnow())).rowcount
    audit.record(session, "user.sessions_revoke", actor=user if actor is _SELF else actor, obj=user, label=user.email,
                 after={"sessions": count, "reason": reason})
    return count


def live_sessions(session: Session, user: User) -> list[UserSession]:
    rows = session.exec(select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
                        .order_by(UserSession.last_seen_at.desc())).all()
    now = utcnow()
    return [r for r in rows if is_live(r, now)]
