"""Panels (tenants), users, their membership and role in a panel, invites, API tokens,
login attempts, server-side sessions and two-factor recovery codes."""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, created_at_field, enum_type, utcnow


class Role(str, Enum):
    VIEWER = "viewer"
    EXPERT = "expert"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def __str__(self) -> str:
        return self.value


DEFAULT_PANEL_SETTINGS = {
    # Overdue is panel policy, not law (domain.md §6): days after the letter was sent.
    "acknowledgement_due_days": 30,
    "reply_due_days": 90,
    "reminder_interval_days": 30,
    # Corroboration the panel asks of a finding (domain.md §5).
    "min_independent_sources": 2,
    # Members must log in with a second factor (TOTP) to reach anything.
    "require_two_factor": False,
    # Report annexes say where something was withheld from an edition (the default of each
    # new report; a report can turn it off for itself).
    "annex_withheld_notes": True,
}


class Panel(SQLModel, table=True):
    __tablename__ = "panel"

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(sa_type=sa.String(6), unique=True, index=True)
    name: str = Field(sa_type=sa.String(200))
    regime: str = Field(default="", sa_type=sa.String(200))
    settings: dict = Field(default_factory=lambda: dict(DEFAULT_PANEL_SETTINGS), sa_type=sa.JSON)
    created_at: datetime = created_at_field()

    def setting(self, name: str):
        return (self.settings or {}).get(name, DEFAULT_PANEL_SETTINGS.get(name))


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(sa_type=sa.String(254), unique=True, index=True)
    name: str = Field(sa_type=sa.String(200))
    password_hash: Optional[str] = Field(default=None, sa_type=sa.String(255))
    active: bool = Field(default=True)
    created_at: datetime = created_at_field()
    # TOTP (RFC 6238): the shared secret (base32) is written when enrolment starts and is in
    # force once ``totp_enabled_at`` is set; ``totp_last_step`` stops a code being used twice.
    totp_secret: Optional[str] = Field(default=None, sa_type=sa.String(64))
    totp_enabled_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    totp_last_step: Optional[int] = Field(default=None, sa_type=sa.BigInteger)
    # The IANA zone the pages show times in (``Asia/Aden``); times are stored in UTC whatever it is.
    time_zone: str = Field(default="UTC", sa_type=sa.String(64))

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    # Flask-Login protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class Membership(SQLModel, table=True):
    """A user's role in one panel, for the length of their mandate.

    A membership an admin creates is an invitation until the user accepts it with the
    invite link *and* their own password (``accepted_at``): an admin never gets access to
    an account, and through it to another panel, by adding an email.
    """

    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "panel_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    role: Role = Field(sa_type=enum_type(Role))
    mandate_start: Optional[date] = None
    mandate_end: Optional[date] = None
    active: bool = Field(default=True)
    created_at: datetime = created_at_field()
    accepted_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)

    @property
    def pending(self) -> bool:
        return self.accepted_at is None

    def in_force(self, today: date) -> bool:
        """Access ends by itself with the mandate; the records the expert made stay."""
        if not self.active or self.accepted_at is None:
            return False
        if self.mandate_start and today < self.mandate_start:
            return False
        if self.mandate_end and today > self.mandate_end:
            return False
        return True


class ApiToken(SQLModel, table=True):
    """A personal token for the JSON API: one panel, at most the user's role, expiring.

    Only the SHA-256 of the secret is stored (the secret has 256 bits of entropy, so a
    fast hash is enough); the secret is shown once when the token is created.
    """

    __tablename__ = "api_token"

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    name: str = Field(sa_type=sa.String(100))
    prefix: str = Field(sa_type=sa.String(16))
    token_hash: str = Field(sa_type=sa.String(64), unique=True, index=True)
    role: Role = Field(sa_type=enum_type(Role))
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class Invite(SQLModel, table=True):
    """A one-time link to accept one membership (see ``services.accept_invite``)."""

    __tablename__ = "invite"

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    membership_id: Optional[int] = Field(default=None, foreign_key="membership.id", index=True)
    token_hash: str = Field(sa_type=sa.String(64), unique=True, index=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class AttemptKind(str, Enum):
    PASSWORD = "password"
    TOTP = "totp"  # the second step: a TOTP or recovery code


class AttemptOutcome(str, Enum):
    PENDING = "pending"  # reserved, being checked (counts as a failure until it is known)
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    THROTTLED = "throttled"  # refused without checking (does not count)


class LoginAttempt(SQLModel, table=True):
    """Kept in the database so throttling holds across gunicorn workers and hosts.

    An attempt is reserved (``pending``) under a lock before the password is checked, so
    parallel guesses cannot all pass the count (see ``services.reserve_attempt``).
    """

    __tablename__ = "login_attempt"

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: AttemptKind = Field(default=AttemptKind.PASSWORD, sa_type=enum_type(AttemptKind))
    email: str = Field(sa_type=sa.String(254), index=True)
    ip: str = Field(default="", sa_type=sa.String(64), index=True)
    outcome: AttemptOutcome = Field(default=AttemptOutcome.PENDING, sa_type=enum_type(AttemptOutcome))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class UserSession(SQLModel, table=True):
    """A browser's login, on the server: logging out revokes it, so a copied cookie dies too.

    The cookie carries a random secret; only its SHA-256 is stored.
    """

    __tablename__ = "user_session"

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    secret_hash: str = Field(sa_type=sa.String(64), unique=True, index=True)
    created_at: datetime = created_at_field()
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    user_agent: str = Field(default="", sa_type=sa.String(300))
    ip: str = Field(default="", sa_type=sa.String(64))


class RecoveryCode(SQLModel, table=True):
    """A single-use code for when the authenticator is lost; stored as a SHA-256 (80 random bits)."""

    __tablename__ = "recovery_code"

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    code_hash: str = Field(sa_type=sa.String(64), index=True)
    created_at: datetime = created_at_field()
    used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
