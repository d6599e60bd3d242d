"""Login throttling, counted in the database so it holds across gunicorn workers and hosts.

Two limits, each over a sliding window (``LOGIN_FAILURE_WINDOW_MINUTES``):

* per (account, client address): ``LOGIN_MAX_FAILURES`` failures. It stops guessing one
  account's password, and it never locks the owner out from everywhere: from any other
  address they log in as usual. A success from that address clears it.
* per client address: ``LOGIN_MAX_FAILURES_PER_IP`` failures over all accounts. It stops
  spraying one password over many accounts; a success never clears it, so an attacker's
  own account does not buy more guesses.

The client address is ``request.remote_addr``, which is the real client's only behind
``PANEL_TRACKER_TRUSTED_PROXIES`` reverse proxies (``requestctx`` applies werkzeug's
ProxyFix); otherwise every user behind a proxy would share one count.

Race-free: an attempt is *reserved* before the password is checked, under a lock on its
keys (a PostgreSQL advisory lock; SQLite's write lock), and a pending reservation counts
as a failure. Twenty parallel guesses against a limit of five: five are checked, fifteen
refused. The reservation commits at once, in its own transaction, so the lock is held for
two small queries and never while argon2 runs.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..db import get_engine, utcnow
from .models import AttemptKind, AttemptOutcome, LoginAttempt

_T = LoginAttempt.__table__
_COUNTED = (AttemptOutcome.FAILED.value, AttemptOutcome.PENDING.value)


def _window():
    return timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])


def refusal_message() -> str:
    return (f"Too many failed attempts. Try again in {current_app.config['LOGIN_FAILURE_WINDOW_MINUTES']} "
            f"minutes, or from another network.")


def _lock(conn, keys: list[str]) -> None:
    if conn.dialect.name == "postgresql":
        for key in sorted(keys):  # one order everywhere: no deadlock between two attempts
            number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": number})
    else:
        # SQLite: a write as the transaction's first statement takes the database's write
        # lock (waiting up to the busy timeout for another writer) before anything is read.
        conn.execute(sa.text("UPDATE login_attempt SET id = id WHERE 0"))


def _failures(conn, *conditions, since) -> int:
    return conn.execute(
        sa.select(sa.func.count()).select_from(_T).where(
            *conditions, _T.c.at >= since, _T.c.outcome.in_(_COUNTED))
    ).scalar_one()


def reserve(kind: AttemptKind, email: str, ip: str) -> int | None:
    """The id of a pending attempt to check now, or None when it must be refused unchecked."""
    cfg = current_app.config
    now = utcnow()
    since = now - _window()
    pair = (_T.c.kind == kind.value, _T.c.email == email, _T.c.ip == ip)
    with get_engine().begin() as conn:
        _lock(conn, [f"{kind.value}|{email}|{ip}", f"{kind.value}|ip|{ip}"])
        last_ok = conn.execute(
            sa.select(sa.func.max(_T.c.at)).where(*pair, _T.c.outcome == AttemptOutcome.SUCCEEDED.value,
                                                  _T.c.at >= since)
        ).scalar_one()
        throttled = (
            _failures(conn, *pair, since=last_ok or since) >= cfg["LOGIN_MAX_FAILURES"]
            or _failures(conn, _T.c.kind == kind.value, _T.c.ip == ip, since=since) >= cfg["LOGIN_MAX_FAILURES_PER_IP"]
        )
        outcome = AttemptOutcome.THROTTLED if throttled else AttemptOutcome.PENDING
        result = conn.execute(_T.insert().values(kind=kind.value, email=email, ip=ip, outcome=outcome.value, at=now))
        return None if throttled else result.inserted_primary_key[0]


def finish(attempt_id: int, succeeded: bool, session=None) -> None:
    """Record the outcome: in its own transaction, or in ``session``'s when the check
    itself wrote there (a used recovery code), which then commits it."""
    outcome = AttemptOutcome.SUCCEEDED if succeeded else AttemptOutcome.FAILED
    stmt = _T.update().where(_T.c.id == attempt_id).values(outcome=outcome.value)
    if session is not None:
        session.execute(stmt)
        return
    with get_engine().begin() as conn:
        conn.execute(stmt)
