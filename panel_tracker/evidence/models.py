"""Photos as evidence: the original kept byte-for-byte, every receipt recorded."""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .. import visibility
from ..cases.models import Case, Item, Marking, MarkingPhoto, SoftDeletable
from ..classification import Classification
from ..db import UTCDateTime, classification_field, created_at_field, enum_type


class Channel(str, Enum):
    UPLOAD = "upload"
    BULK_IMPORT = "bulk_import"
    API = "api"


class Photo(SoftDeletable, table=True):
    """One stored original (unique per panel by SHA-256) and what the panel says of it."""

    __table_args__ = (sa.UniqueConstraint("panel_id", "sha256"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    case_id: Optional[int] = Field(default=None, foreign_key="case_file.id", index=True)
    item_id: Optional[int] = Field(default=None, foreign_key="item.id", index=True)
    sha256: str = Field(sa_type=sa.String(64), index=True)
    size_bytes: int
    mime: str = Field(sa_type=sa.String(40))
    width: int  # upright, after the EXIF orientation is applied
    height: int
    exif: dict = Field(default_factory=dict, sa_type=sa.JSON)
    camera_make: str = Field(default="", sa_type=sa.String(100))
    camera_model: str = Field(default="", sa_type=sa.String(100))
    # The camera's clock has no time zone: kept as recorded, and as corrected on bulk import.
    taken_at: Optional[datetime] = Field(default=None, sa_type=sa.DateTime(timezone=False))
    taken_at_corrected: Optional[datetime] = Field(default=None, sa_type=sa.DateTime(timezone=False))
    gps_lat: Optional[float] = None
    gps_lon: Optional[float] = None
    caption: str = Field(default="", sa_type=sa.Text)
    source_line: str = Field(default="", sa_type=sa.String(300))  # "Source: Panel, 12 March 2024"
    photographer: str = Field(default="", sa_type=sa.String(200))
    photo_date: Optional[date] = None
    is_label_card: bool = Field(default=False)
    classification: Classification = classification_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    purged_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class PhotoReceipt(SQLModel, table=True):
    """Each time a file reached the panel: who, when, from where, original or copy.

    The same bytes arriving again are a new receipt linked to the first one and flagged:
    two "independent" sources sending identical files are not independent.
    """

    __tablename__ = "photo_receipt"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    photo_id: int = Field(foreign_key="photo.id", index=True)
    received_at: datetime = created_at_field()
    received_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    source: str = Field(default="", sa_type=sa.String(300))  # e.g. "Panel inspection", "Member State"
    channel: Channel = Field(default=Channel.UPLOAD, sa_type=enum_type(Channel))
    is_original: bool = Field(default=True)  # False: a copy (e.g. forwarded by WhatsApp)
    filename: str = Field(default="", sa_type=sa.String(255))  # as sent; never used as a path
    duplicate_of_id: Optional[int] = Field(default=None, foreign_key="photo_receipt.id")
    note: str = Field(default="", sa_type=sa.Text)


# Who may see what (panel_tracker.visibility): a photo is seen inside its case and with its
# item; receipt sources, file names, who did what and EXIF beyond camera and time are for
# panel-level readers; GPS too (and each look at it is audited where it is shown).
EXIF_SHOWN_BELOW_PANEL = frozenset({"Make", "Model", "DateTimeOriginal", "OffsetTimeOriginal", "Orientation"})


def _camera_and_time_only(name: str, exif: dict | None) -> dict:
    return {key: value for key, value in (exif or {}).items() if key in EXIF_SHOWN_BELOW_PANEL}


visibility.register(Photo, parents={"case_id": Case, "item_id": Item}, withheld=[
    visibility.Withheld("exif", ("exif",), Classification.PANEL, redact=_camera_and_time_only),
    visibility.Withheld("gps", ("gps_lat", "gps_lon"), Classification.PANEL),
    visibility.Withheld("people", ("created_by_id", "deleted_by_id"), Classification.PANEL),
])
# A receipt's duplicate_of_id names a receipt of the same photo (same bytes): seen with it.
visibility.register(PhotoReceipt, parents={"photo_id": Photo}, withheld=[
    visibility.Withheld("source", ("source", "filename", "note", "received_by_id"), Classification.PANEL),
])
visibility.register(MarkingPhoto, parents={"marking_id": Marking, "photo_id": Photo})
