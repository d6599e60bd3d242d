"""The audit log: append-only, each record chained to the previous one by SHA-256."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..classification import Classification
from ..db import UTCDateTime, enum_type

GENESIS_HASH = "0" * 64


class AuditRecord(SQLModel, table=True):
    """Who did what to which object, when, with the values before and after.

    ``seq`` is unique, so two writers can never both append after the same record (the
    second fails and its transaction rolls back rather than forking the chain).
    ``before``/``after`` are canonical JSON text, hashed exactly as stored.
    ``classification`` is the object's; ``field_classes`` names fields whose values are
    classified more strictly (an item's source notes, a photo's GPS), so the audit view
    can mask them for viewers who may not see them.
    """

    __tablename__ = "audit_record"

    id: Optional[int] = Field(default=None, primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, unique=True, nullable=False, index=True))
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    panel_id: Optional[int] = Field(default=None, foreign_key="panel.id", index=True)
    actor_id: Optional[int] = Field(default=None, foreign_key="user_account.id", index=True)
    actor: str = Field(default="system", sa_type=sa.String(254))
    action: str = Field(sa_type=sa.String(64), index=True)
    object_type: str = Field(default="", sa_type=sa.String(64), index=True)
    object_id: Optional[int] = Field(default=None, index=True)
    object_label: str = Field(default="", sa_type=sa.String(255))
    classification: Classification = Field(
        default=Classification.PUBLIC, sa_type=enum_type(Classification), nullable=False
    )
    field_classes: str = Field(default="{}", sa_type=sa.Text)
    before: str = Field(default="{}", sa_type=sa.Text)
    after: str = Field(default="{}", sa_type=sa.Text)
    prev_hash: str = Field(sa_type=sa.String(64))
    hash: str = Field(sa_type=sa.String(64), unique=True)
