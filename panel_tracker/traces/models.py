"""Correspondence and trace requests (domain.md §6): addressees, letters, their dated
events, replies with per-item outcomes, reply documents, the panel's letter template and
the record of digests sent.

A letter's ``status`` is what it is today; what it was on any other date is replayed
from its dated, non-voided events (``policy.py``), never from ``status``.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .. import visibility
from ..classification import Classification
from ..db import UTCDateTime, classification_field, created_at_field, enum_type


class AddresseeKind(str, Enum):
    STATE = "state"
    COMPANY = "company"
    ORGANISATION = "organisation"
    INDIVIDUAL = "individual"


class AddresseeRole(str, Enum):
    GOVERNMENT = "government"
    MANUFACTURER = "manufacturer"
    EXPORTER = "exporter"
    BROKER = "broker"
    FREIGHT_FORWARDER = "freight_forwarder"
    SUPPLIER = "supplier"
    OTHER = "other"


class LetterKind(str, Enum):
    TRACE_REQUEST = "trace_request"
    INFORMATION_REQUEST = "information_request"
    ACCESS_REQUEST = "access_request"
    RIGHT_OF_REPLY = "right_of_reply"

    @property
    def label(self) -> str:
        return {"trace_request": "Trace request", "information_request": "Request for information",
                "access_request": "Request for access", "right_of_reply": "Right-of-reply letter"}[self.value]


class LetterStatus(str, Enum):
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    PARTIALLY_ANSWERED = "partially_answered"
    ANSWERED = "answered"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"

    @property
    def rank(self) -> int:
        """Order along the lifecycle; ``withdrawn`` ends it from any open state."""
        return list(LetterStatus).index(self)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Outcome(str, Enum):
    TRACED = "traced"
    INCONCLUSIVE = "inconclusive"
    UNTRACEABLE = "untraceable"
    REFUSED = "refused"


class EventKind(str, Enum):
    """A dated event on a letter. All but ``reminder`` move the letter to the status of
    the same name; a reminder is only a date (it never moves a due date)."""

    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    PARTIALLY_ANSWERED = "partially_answered"
    ANSWERED = "answered"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    REMINDER = "reminder"


class ItemOutcome(str, Enum):
    """What a reply says about one item of a trace request."""

    TRANSFERRED = "transferred"  # exported/transferred to party X on date under licence Y
    NO_RECORDS = "no_records"
    DISPUTES_AUTHENTICITY = "disputes_authenticity"  # not ours: an imitation
    REFERS_TO = "refers_to"  # ask party X instead
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return {"transferred": "Exported or transferred", "no_records": "No records",
                "disputes_authenticity": "Disputes authenticity (imitation)",
                "refers_to": "Refers to another party", "refused": "Refused"}[self.value]

    @property
    def names_party(self) -> bool:
        return self in (ItemOutcome.TRANSFERRED, ItemOutcome.REFERS_TO)


class Addressee(SQLModel, table=True):
    """A State (through its Permanent Mission), a company, an organisation or a person."""

    __tablename__ = "trace_addressee"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    kind: AddresseeKind = Field(sa_type=enum_type(AddresseeKind), index=True)
    name: str = Field(sa_type=sa.String(300))  # a State's UN short name
    country: Optional[str] = Field(default=None, sa_type=sa.String(3), index=True)
    role: AddresseeRole = Field(default=AddresseeRole.OTHER, sa_type=enum_type(AddresseeRole))
    channel: str = Field(default="", sa_type=sa.String(300))  # e.g. "Permanent Mission in New York"
    notes: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class Letter(SQLModel, table=True):
    __tablename__ = "trace_letter"
    __table_args__ = (sa.UniqueConstraint("panel_id", "ref"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    ref: str = Field(sa_type=sa.String(40), index=True)
    kind: LetterKind = Field(sa_type=enum_type(LetterKind), index=True)
    addressee_id: int = Field(foreign_key="trace_addressee.id", index=True)
    status: LetterStatus = Field(default=LetterStatus.DRAFT, sa_type=enum_type(LetterStatus), index=True)
    outcome: Optional[Outcome] = Field(default=None, sa_type=enum_type(Outcome))
    subject: str = Field(default="", sa_type=sa.String(300))
    body: str = Field(default="", sa_type=sa.Text)
    reply_by: Optional[date] = None  # the letter's own reply-by date, instead of the panel's days
    sent_on: Optional[date] = Field(default=None, index=True)
    sent_reference: str = Field(default="", sa_type=sa.String(120))
    channel: str = Field(default="", sa_type=sa.String(120))
    follow_up_of_id: Optional[int] = Field(default=None, foreign_key="trace_letter.id", index=True)
    notes: str = Field(default="", sa_type=sa.Text)
    classification: Classification = classification_field()
    approved_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class LetterItem(SQLModel, table=True):
    """An item a letter asks about (trace requests)."""

    __tablename__ = "trace_letter_item"
    __table_args__ = (sa.UniqueConstraint("letter_id", "item_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    letter_id: int = Field(foreign_key="trace_letter.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    position: int = Field(default=0)


class LetterEvent(SQLModel, table=True):
    """A dated step of a letter. A correction voids events (with a reason) instead of
    deleting them, so the audit log and the timeline keep what was first recorded."""

    __tablename__ = "trace_event"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    letter_id: int = Field(foreign_key="trace_letter.id", index=True)
    kind: EventKind = Field(sa_type=enum_type(EventKind))
    happened_on: date = Field(index=True)
    note: str = Field(default="", sa_type=sa.Text)
    voided: bool = Field(default=False)
    void_reason: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class Reply(SQLModel, table=True):
    __tablename__ = "trace_reply"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    letter_id: int = Field(foreign_key="trace_letter.id", index=True)
    received_on: date
    summary: str = Field(default="", sa_type=sa.Text)
    complete: bool = Field(default=False)  # answers the letter in full (else a partial reply)
    classification: Classification = classification_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class ItemReply(SQLModel, table=True):
    """What one reply says about one item of the letter."""

    __tablename__ = "trace_item_reply"
    __table_args__ = (sa.UniqueConstraint("reply_id", "letter_item_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    reply_id: int = Field(foreign_key="trace_reply.id", index=True)
    letter_item_id: int = Field(foreign_key="trace_letter_item.id", index=True)
    outcome: ItemOutcome = Field(sa_type=enum_type(ItemOutcome))
    party_id: Optional[int] = Field(default=None, foreign_key="trace_addressee.id", index=True)
    transferred_on: str = Field(default="", sa_type=sa.String(10))  # YYYY, YYYY-MM or YYYY-MM-DD
    licence: str = Field(default="", sa_type=sa.String(200))  # licence or contract
    note: str = Field(default="", sa_type=sa.Text)  # e.g. the reasons given for a refusal
    follow_up_id: Optional[int] = Field(default=None, foreign_key="trace_letter.id")


class ReplyDocument(SQLModel, table=True):
    """A note verbale, a scan or a PDF received with a reply: stored byte-for-byte under
    its SHA-256 in the evidence store."""

    __tablename__ = "trace_document"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    reply_id: int = Field(foreign_key="trace_reply.id", index=True)
    sha256: str = Field(sa_type=sa.String(64), index=True)
    size_bytes: int
    mime: str = Field(sa_type=sa.String(60))
    filename: str = Field(default="", sa_type=sa.String(255))
    classification: Classification = classification_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class LetterTemplate(SQLModel, table=True):
    """The panel's body template for letters, edited in the browser (sandboxed Jinja)."""

    __tablename__ = "trace_template"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", unique=True)
    body: str = Field(default="", sa_type=sa.Text)
    updated_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    updated_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class DigestSent(SQLModel, table=True):
    """One coordinator's digest of one day: the digest sends each coordinator one a day."""

    __tablename__ = "trace_digest"
    __table_args__ = (sa.UniqueConstraint("panel_id", "user_id", "sent_on"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    sent_on: date
    created_at: datetime = created_at_field()


# Who may see what (panel_tracker.visibility): a letter by its own classification; a reply
# inside its letter, a document inside its reply, each by its own classification too. Items a
# letter names follow the items' own rule (traces.queries.visible_item_ids).
visibility.register(Letter)
visibility.register(Reply, parents={"letter_id": Letter})
visibility.register(ReplyDocument, parents={"reply_id": Reply})
