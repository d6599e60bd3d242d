"""Panels (tenants), users, their membership and role in a panel, API tokens, login attempts."""
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
    """A user's role in one panel, for the length of their mandate."""

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

    def in_force(self, today: date) -> bool:
        """Access ends by itself with the mandate; the records the expert made stay."""
        if not self.active:
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
    """A one-time link an admin hands to a new user to choose a password."""

    __tablename__ = "invite"

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(sa_type=sa.String(64), unique=True, index=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    """Kept in the database so throttling holds across gunicorn workers and hosts."""

    __tablename__ = "login_attempt"

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(sa_type=sa.String(254), index=True)
    ip: str = Field(default="", sa_type=sa.String(64), index=True)
    success: bool = Field(default=False)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
