"""Two-factor login: TOTP (RFC 6238, any authenticator app) and single-use recovery codes.

The QR code is drawn here (segno, SVG as a data: URI), so nothing is fetched from
elsewhere and the secret never leaves the server except to the user's own page.
Recovery codes have 80 random bits each, are shown once and stored as SHA-256.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
import sqlalchemy as sa
from sqlmodel import Session, select

from .. import audit
from ..db import utcnow
from ..validation import Invalid
from .models import Membership, Panel, RecoveryCode, User

ISSUER = "Panel Tracker"
RECOVERY_CODES = 10
_STEP = 30


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def _matching_step(secret: str, code: str, after_step: int | None) -> int | None:
    """The time step (now ±1, for clock drift) whose code this is, if not used before."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // _STEP
    for step in (now - 1, now, now + 1):
        if (after_step is None or step > after_step) and hmac.compare_digest(totp.at(step * _STEP), code):
            return step
    return None


def _normal_recovery(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(_normal_recovery(code).encode()).hexdigest()


def _delete_recovery_codes(session: Session, user: User) -> None:
    for old in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(old)


def _clear(session: Session, user: User) -> None:
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    session.add(user)
    _delete_recovery_codes(session, user)


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    _delete_recovery_codes(session, user)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 16 characters, 80 bits
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
        session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(raw)))
    return codes


def enable_two_factor(session: Session, user: User, secret: str, code: str) -> list[str]:
    """Turn TOTP on once the user proves their app has the secret; returns the recovery codes."""
    if user.has_two_factor:
        raise Invalid({"code": "Two-factor login is already on."})
    step = _matching_step(secret, code, None)
    if step is None:
        raise Invalid({"code": "That code is not right. Check the time on your phone and try the current code."})
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, utcnow(), step
    session.add(user)
    codes = _new_recovery_codes(session, user)
    audit.record(session, "user.two_factor_enable", actor=user, obj=user, label=user.email)
    session.flush()
    return codes


def panels_requiring_two_factor(session: Session, user: User, today) -> list[Panel]:
    rows = session.exec(select(Membership, Panel).join(Panel, Panel.id == Membership.panel_id)
                        .where(Membership.user_id == user.id)).all()
    return [p for m, p in rows if m.in_force(today) and p.setting("require_two_factor")]


def disable_two_factor(session: Session, user: User, today) -> None:
    required = panels_requiring_two_factor(session, user, today)
    if required:
        raise Invalid({"password": f"{', '.join(p.code for p in required)} requires two-factor login: "
                                   f"it cannot be turned off while you are a member."})
    _clear(session, user)
    audit.record(session, "user.two_factor_disable", actor=user, obj=user, label=user.email)
    session.flush()


def check_second_factor(session: Session, user: User, code: str) -> bool:
    """A TOTP code (each usable once) or an unused recovery code (then used up, audited)."""
    if not user.has_two_factor:
        return False
    # Each code is marked used by one conditional UPDATE: of two logins sending the same
    # code at the same moment, both may find it unused, but only one marks it used.
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is not None:
        table = User.__table__
        won = session.execute(sa.update(table).where(
            table.c.id == user.id, sa.or_(table.c.totp_last_step.is_(None), table.c.totp_last_step < step))
            .values(totp_last_step=step)).rowcount == 1
        session.expire(user, ["totp_last_step"])
        return won
    normal = _normal_recovery(code)
    if len(normal) != 16:
        return False
    row = session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                  RecoveryCode.code_hash == _recovery_hash(normal),
                                                  RecoveryCode.used_at.is_(None))).first()
    codes = RecoveryCode.__table__
    if row is None or session.execute(sa.update(codes).where(
            codes.c.id == row.id, codes.c.used_at.is_(None)).values(used_at=utcnow())).rowcount != 1:
        return False
    audit.record(session, "user.recovery_code_use", actor=user, obj=user, label=user.email,
                 after={"recovery_codes_left": recovery_codes_left(session, user)})
    session.flush()
    return True


def recovery_codes_left(session: Session, user: User) -> int:
    return len(session.exec(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                          RecoveryCode.used_at.is_(None))).all())


def reset_two_factor(session: Session, user: User, actor=None) -> None:
    """The operator's reset (CLI) for a user who lost both phone and recovery codes."""
    _clear(session, user)
    audit.record(session, "user.two_factor_reset", actor=actor, obj=user, label=user.email)
    session.flush()
