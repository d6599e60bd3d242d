"""Reports and their annexes (domain.md §9, annex-reference.md §1): a report holds ordered
annexes, an annex holds ordered blocks; builds are kept as versions; a submitted report
is frozen with the compiled data of each annex and edition, and records where each item
was published.

Block kinds are open (``blocks.py`` registers them): a block stores its kind and its
settings as JSON, so findings can add their own kind without a migration.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .. import visibility
from ..cases.models import Case, Item
from ..classification import Classification
from ..db import UTCDateTime, classification_field, created_at_field, enum_type


class ReportKind(str, Enum):
    MIDTERM = "midterm"
    FINAL = "final"

    @property
    def label(self) -> str:
        return {"midterm": "Mid-term update", "final": "Final report"}[self.value]


class Edition(str, Enum):
    """Who a build is for: it holds only material classified at or below its level."""

    PUBLIC = "public"
    COMMITTEE = "committee"
    PANEL = "panel"

    @property
    def level(self) -> Classification:
        return Classification(self.value)

    @property
    def label(self) -> str:
        return {"public": "Public edition", "committee": "Committee edition", "panel": "Panel edition"}[self.value]

    @property
    def marking(self) -> str:
        """Printed on every page of the edition ('' for public)."""
        return {"public": "", "committee": "COMMITTEE ONLY — NOT FOR PUBLICATION",
                "panel": "PANEL ONLY — NOT FOR DISTRIBUTION"}[self.value]


class BuildFormat(str, Enum):
    PDF = "pdf"
    DOCX = "docx"

    @property
    def mime(self) -> str:
        return {"pdf": "application/pdf",
                "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}[self.value]


class BuildState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Report(SQLModel, table=True):
    """A mid-term update or final report: its annexes are compiled from the panel's records."""

    __tablename__ = "report"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    kind: ReportKind = Field(default=ReportKind.FINAL, sa_type=enum_type(ReportKind))
    title: str = Field(sa_type=sa.String(300))
    symbol: str = Field(default="", sa_type=sa.String(40))  # "S/2025/123" once known
    cut_off: date
    show_withheld_notes: bool = Field(default=True)  # "withheld from this edition" notes
    submitted_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    submitted_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")

    @property
    def frozen(self) -> bool:
        return self.submitted_at is not None


class Annex(SQLModel, table=True):
    """One annex: numbered by its ``position`` among the report's annexes (1, 2, …)."""

    __tablename__ = "report_annex"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    position: int = Field(default=0)
    title: str = Field(sa_type=sa.String(300))
    intro: str = Field(default="", sa_type=sa.Text)  # Markdown; [[fig:key]] cross-references
    classification: Classification = classification_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class Block(SQLModel, table=True):
    """One block of an annex, in ``position`` order. ``key`` names it for cross-references
    (``[[fig:serial-closeup]]``); ``settings`` holds what its kind needs (item ids, photo
    ids, columns, text…), checked by the kind (``blocks.py``)."""

    __tablename__ = "report_block"
    __table_args__ = (sa.UniqueConstraint("annex_id", "key"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    annex_id: int = Field(foreign_key="report_annex.id", index=True)
    position: int = Field(default=0)
    kind: str = Field(sa_type=sa.String(40))
    key: Optional[str] = Field(default=None, sa_type=sa.String(60))
    caption: str = Field(default="", sa_type=sa.Text)
    source_line: str = Field(default="", sa_type=sa.String(300))
    settings: dict = Field(default_factory=dict, sa_type=sa.JSON)
    classification: Classification = classification_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class ReportSnapshot(SQLModel, table=True):
    """What a submitted report's annex compiled to, per edition: builds of a submitted report
    are made from this, so later edits to items do not change them."""

    __tablename__ = "report_snapshot"
    __table_args__ = (sa.UniqueConstraint("annex_id", "edition"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    annex_id: int = Field(foreign_key="report_annex.id", index=True)
    edition: Edition = Field(sa_type=enum_type(Edition))
    document: dict = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = created_at_field()


class AnnexBuild(SQLModel, table=True):
    """One build (a version): who, when, which edition and format, the hash of its inputs,
    and the file's SHA-256. ``annex_id`` is empty for the whole set of a report's annexes;
    ``case_id`` is set for a quick annex of a case's item sheets (no report)."""

    __tablename__ = "annex_build"

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    report_id: Optional[int] = Field(default=None, foreign_key="report.id", index=True)
    annex_id: Optional[int] = Field(default=None, foreign_key="report_annex.id", index=True)
    case_id: Optional[int] = Field(default=None, foreign_key="case_file.id", index=True)
    edition: Edition = Field(sa_type=enum_type(Edition))
    format: BuildFormat = Field(sa_type=enum_type(BuildFormat))
    state: BuildState = Field(default=BuildState.QUEUED, sa_type=enum_type(BuildState))
    progress: int = Field(default=0)  # percent
    inputs_hash: str = Field(default="", sa_type=sa.String(64), index=True)
    sha256: str = Field(default="", sa_type=sa.String(64))
    size_bytes: int = Field(default=0)
    pages: int = Field(default=0)
    reused_from_id: Optional[int] = Field(default=None, foreign_key="annex_build.id")
    error: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    finished_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)

    @property
    def level(self) -> Classification:
        return self.edition.level


class AnnexBuildPhoto(SQLModel, table=True):
    """A photo a build's file may embed, by SHA-256: purging the photo withdraws the build
    (its file is destroyed; ``builds.withdraw_builds_of_purged``)."""

    __tablename__ = "annex_build_photo"
    __table_args__ = (sa.UniqueConstraint("build_id", "sha256"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    build_id: int = Field(foreign_key="annex_build.id", index=True)
    sha256: str = Field(sa_type=sa.String(64), index=True)


class Publication(SQLModel, table=True):
    """Where an item appeared: recorded for each item of a report when it is submitted
    ("S/2025/123, annex 12"), with the most public edition it appears in."""

    __tablename__ = "item_publication"
    __table_args__ = (sa.UniqueConstraint("report_id", "annex_id", "item_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    annex_id: int = Field(foreign_key="report_annex.id")
    annex_number: int
    edition: Edition = Field(sa_type=enum_type(Edition))  # the most public edition showing it
    symbol: str = Field(default="", sa_type=sa.String(40))
    created_at: datetime = created_at_field()

    @property
    def level(self) -> Classification:
        return self.edition.level

    @property
    def citation(self) -> str:
        return f"{self.symbol or 'report (no symbol yet)'}, annex {self.annex_number}"


# Who may see what (panel_tracker.visibility). A report is seen by every member (its title
# and symbol are the panel's working frame); an annex and a block by their classification;
# a build by its edition (a viewer never downloads the panel edition) and, for a quick annex,
# with its case; a publication record
# with its item, and only when its edition is within the reader's clearance.
visibility.register(Report)
visibility.register(Annex, parents={"report_id": Report})
visibility.register(Block, parents={"annex_id": Annex})
visibility.register(ReportSnapshot, parents={"annex_id": Annex},
                    extra_condition=lambda reader: ReportSnapshot.edition.in_(_editions_within(reader)))
visibility.register(AnnexBuild, parents={"report_id": Report, "annex_id": Annex, "case_id": Case},
                    extra_condition=lambda reader: AnnexBuild.edition.in_(_editions_within(reader)))
visibility.register(AnnexBuildPhoto, parents={"build_id": AnnexBuild})
visibility.register(Publication, parents={"item_id": Item, "report_id": Report},
                    extra_condition=lambda reader: Publication.edition.in_(_editions_within(reader)))


def _editions_within(reader: visibility.Reader) -> list[str]:
    from ..classification import may_see

    return [e.value for e in Edition if may_see(reader.clearance, e.level)]
