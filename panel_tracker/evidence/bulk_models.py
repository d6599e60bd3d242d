"""A bulk photo import: a day's work arriving as a folder or a ZIP, processed in the background.

The row is the import's progress bar and its report: what was received, what was skipped
and why, and which photos were assigned to which items. Uploaded names are kept here as
metadata only; the files themselves wait in a staging folder under ``instance/`` named by
number, removed once the import is done (kept a while after a failure, for Retry).
"""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, created_at_field, enum_type


class BulkImportStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (BulkImportStatus.DONE, BulkImportStatus.FAILED)


class BulkImport(SQLModel, table=True):
    __tablename__ = "bulk_import"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id", index=True)
    status: BulkImportStatus = Field(default=BulkImportStatus.QUEUED, sa_type=enum_type(BulkImportStatus))
    # What the expert said of the files, applied to every receipt.
    source: str = Field(default="", sa_type=sa.String(300))
    is_original: bool = Field(default=True)
    # Progress: ``processed`` of ``total`` files; ``accepted`` new photos, ``duplicates`` files already held.
    total: int = Field(default=0)
    processed: int = Field(default=0)
    accepted: int = Field(default=0)
    duplicates: int = Field(default=0)
    #: [{"file": name as sent, "reason": what a person can act on, "line": mapping CSV line or absent}]
    skipped: list = Field(default_factory=list, sa_type=sa.JSON)
    #: [{"file", "photo_id", "item_ref", "how": "mapping" | "label cards"}]
    assignments: list = Field(default_factory=list, sa_type=sa.JSON)
    #: One entry per file: {"name", "staged" or "zip"+"member", and after the run "photo_id", "outcome"}.
    files: list = Field(default_factory=list, sa_type=sa.JSON)
    #: The mapping CSV's rows: [{"line", "file", "item_ref"}].
    mapping: list = Field(default_factory=list, sa_type=sa.JSON)
    #: Clock corrections in force, seconds to add to each camera's time: {"Canon EOS 90D": 130}.
    clock_offsets: dict = Field(default_factory=dict, sa_type=sa.JSON)
    #: Photo ids in the order they were taken (corrected), photos without a time last.
    sequence: list = Field(default_factory=list, sa_type=sa.JSON)
    error: str = Field(default="", sa_type=sa.Text)  # why a failed import stopped
    created_at: datetime = created_at_field()
    started_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    updated_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    #: Set by the running job after each file; a running import whose heartbeat is old has died.
    heartbeat_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    finished_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)

    @property
    def percent(self) -> int:
        if self.total <= 0:
            return 100 if self.status == BulkImportStatus.DONE else 0
        return min(100, self.processed * 100 // self.total)
