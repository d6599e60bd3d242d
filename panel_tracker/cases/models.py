"""Cases, inspections, items and their markings (domain.md §1–3)."""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import ClassVar, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .. import visibility
from ..classification import Classification
from ..db import UTCDateTime, classification_field, created_at_field, enum_type


class CaseStatus(str, Enum):
    OPEN = "open"
    DORMANT = "dormant"
    CLOSED = "closed"


class AccessMode(str, Enum):
    PHYSICAL = "physical"
    PHOTOS_FROM_STATE = "photos_from_state"
    SAMPLE = "sample"


class Category(str, Enum):
    SMALL_ARM = "small_arm"
    LIGHT_WEAPON = "light_weapon"
    AMMUNITION = "ammunition"
    COMPONENT = "component"
    UAV = "uav"
    IED_COMPONENT = "ied_component"
    PACKAGING = "packaging"
    DOCUMENT = "document"
    OTHER = "other"


class Legibility(str, Enum):
    INTACT = "intact"
    PARTIAL = "partial"
    OBLITERATED = "obliterated"
    RESTORED = "restored"


class Condition(str, Enum):
    NEW = "new"
    USED = "used"
    DAMAGED = "damaged"
    FRAGMENT = "fragment"
    UNKNOWN = "unknown"


class YearCalendar(str, Enum):
    """Stays empty until an expert confirms it: "1398" alone is ambiguous."""

    GREGORIAN = "gregorian"
    SOLAR_HIJRI = "solar_hijri"
    LUNAR_HIJRI = "lunar_hijri"


class Confidence(str, Enum):
    """How an attribution is worded in a report."""

    CONFIRMED = "confirmed"  # e.g. the manufacturer or State confirmed it
    CONSISTENT_WITH = "consistent_with"
    POSSIBLE = "possible"


class MarkingKind(str, Enum):
    SERIAL = "serial"
    FACTORY_CODE = "factory_code"
    LOT = "lot"
    HEADSTAMP = "headstamp"
    IMPORT_MARK = "import_mark"
    PROOF_MARK = "proof_mark"
    STATE_OWNERSHIP = "state_ownership"
    MODEL_MARK = "model_mark"
    YEAR = "year"
    CONTRACT = "contract"
    PACKAGING = "packaging"
    OTHER = "other"


class Script(str, Enum):
    LATIN = "latin"
    CYRILLIC = "cyrillic"
    ARABIC = "arabic"
    PERSIAN = "persian"
    CHINESE = "chinese"
    MIXED = "mixed"
    OTHER = "other"


class SymbolShape(str, Enum):
    NONE = "none"
    CIRCLE = "circle"
    OVAL = "oval"
    TRIANGLE = "triangle"
    DOUBLE_CIRCLE = "double_circle"
    SQUARE = "square"
    DIAMOND = "diamond"
    STAR = "star"
    OTHER = "other"


#: The longest text a long-text field (notes, summaries, other marks) takes, in form, API
#: and import alike; the database column itself is unbounded.
LONG_TEXT_MAX = 20_000


def text_field(max_length: int | None = None, *, default="", **kwargs):
    """A text field: ``VARCHAR(max_length)``, or ``TEXT`` up to :data:`LONG_TEXT_MAX` when no
    length is given. The limit is also the field's ``max_length``, which the API checks and
    the form and the import read (:func:`max_lengths`)."""
    return Field(default=default, sa_type=sa.String(max_length) if max_length else sa.Text,
                 max_length=max_length or LONG_TEXT_MAX, **kwargs)


def max_lengths(model: type[SQLModel]) -> dict[str, int]:
    """``{field: longest text it takes}`` for every text field of a model."""
    limits = {}
    for name, info in model.model_fields.items():
        for constraint in info.metadata:
            if getattr(constraint, "max_length", None) is not None:
                limits[name] = constraint.max_length
    return limits


class SoftDeletable(SQLModel):
    """Nothing is deleted outright: a deletion is a recorded, reversible event."""

    deleted_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    deleted_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    deleted_reason: str = Field(default="", sa_type=sa.Text)


class Case(SoftDeletable, table=True):
    __tablename__ = "case_file"
    __table_args__ = (sa.UniqueConstraint("panel_id", "ref"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    ref: str = text_field(32, default=..., index=True)
    title: str = text_field(300)
    summary: str = text_field()
    status: CaseStatus = Field(default=CaseStatus.OPEN, sa_type=enum_type(CaseStatus))
    country_of_seizure: Optional[str] = Field(default=None, sa_type=sa.String(3))
    classification: Classification = classification_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class Inspection(SoftDeletable, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    inspected_on: date
    place: str = text_field(300)
    custodian: str = text_field(300)
    access_mode: AccessMode = Field(default=AccessMode.PHYSICAL, sa_type=enum_type(AccessMode))
    inspectors: str = text_field(500)
    notes: str = text_field()
    classification: Classification = classification_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class ItemBase(SQLModel):
    """An item's own fields, declared once: type, length limit, enum and label.

    The table model (:class:`Item`) and the API's input models (``api.serializers``) are
    built on it; from it come the fields the services save and audit
    (``services.ITEM_FIELDS``), the import format's enums and length limits, and the item
    form's labels and length limits. A field added here reaches them all;
    ``tests/test_item_fields.py`` fails when one is added in one place only.
    """

    item_ref: str = text_field(40, title="Item reference", index=True)
    inspection_id: Optional[int] = Field(default=None, foreign_key="inspection.id", index=True, title="Inspection")
    category: Category = Field(sa_type=enum_type(Category), index=True, title="Category")
    type: str = text_field(300, default=..., title="Type")
    make_marked: str = text_field(200, title="Make as marked")
    make_attributed: str = text_field(200, title="Make as attributed")
    attribution_basis: str = text_field(title="Basis of the attribution")
    attribution_confidence: Optional[Confidence] = Field(default=None, sa_type=enum_type(Confidence),
                                                         title="Confidence")
    model: str = text_field(120, title="Model")
    calibre_marked: str = text_field(60, title="Calibre as marked")
    calibre: str = text_field(60, title="Calibre (normalised)")  # e.g. 7.62x39mm
    country_marked: Optional[str] = Field(default=None, sa_type=sa.String(3), max_length=3, index=True,
                                          title="Country of manufacture as marked")
    country_attributed: Optional[str] = Field(default=None, sa_type=sa.String(3), max_length=3, index=True,
                                              title="Country of manufacture as attributed")
    year_marked: str = text_field(40, title="Year as marked")
    year_calendar: Optional[YearCalendar] = Field(default=None, sa_type=enum_type(YearCalendar),
                                                  title="Calendar of that year")
    year_gregorian: Optional[int] = Field(default=None, title="Gregorian year")
    serial: str = text_field(120, title="Serial as read")
    serial_legibility: Optional[Legibility] = Field(default=None, sa_type=enum_type(Legibility), index=True,
                                                    title="Serial legibility")
    lot: str = text_field(120, title="Lot")
    factory_code: str = text_field(60, title="Factory code")
    headstamp: str = text_field(120, title="Headstamp")
    import_mark: str = text_field(200, title="Import mark")
    other_marks: str = text_field(title="Other marks")
    quantity: int = Field(default=1, title="Quantity")
    condition: Optional[Condition] = Field(default=None, sa_type=enum_type(Condition), title="Condition")
    recovered_on: str = text_field(10, title="Recovered on")  # YYYY, YYYY-MM or YYYY-MM-DD
    recovered_place: str = text_field(300, title="Recovered at")
    lat: Optional[float] = Field(default=None, title="Latitude")
    lon: Optional[float] = Field(default=None, title="Longitude")
    suspected_imitation: bool = Field(default=False, title="Suspected imitation markings")
    state_ownership_mark: bool = Field(default=False, title="Carries a State-ownership mark")
    notes: str = text_field(title="Notes (source details)")


class Item(SoftDeletable, ItemBase, table=True):
    """One weapon, one ammunition lot, one component (domain.md §2).

    Two classifications: ``classification`` for the item itself, ``source_classification``
    for its source details (notes, recovery place and coordinates), which are often more
    sensitive than the item.
    """

    __table_args__ = (sa.UniqueConstraint("panel_id", "item_ref"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    serial_folded: str = Field(default="", sa_type=sa.String(120), index=True)  # search.analysis.fold
    serial_key: str = Field(default="", sa_type=sa.String(120), index=True)  # confusables folded too
    recovered_date: Optional[date] = Field(default=None, index=True)  # first day of recovered_on's period
    sighting_of_id: Optional[int] = Field(default=None, foreign_key="item.id", index=True)
    classification: Classification = classification_field()
    source_classification: Classification = classification_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    updated_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)

    SOURCE_FIELDS: ClassVar[tuple[str, ...]] = ("notes", "recovered_place", "lat", "lon")


class Marking(SoftDeletable, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    text: str = text_field(300, default=...)  # exactly as read, any script
    text_folded: str = Field(default="", sa_type=sa.String(300), index=True)
    kind: MarkingKind = Field(sa_type=enum_type(MarkingKind), index=True)
    location: str = text_field(120)  # receiver, barrel, bolt, slide, packaging
    script: Optional[Script] = Field(default=None, sa_type=enum_type(Script))
    legibility: Legibility = Field(default=Legibility.INTACT, sa_type=enum_type(Legibility))
    symbol_shape: SymbolShape = Field(default=SymbolShape.NONE, sa_type=enum_type(SymbolShape))
    notes: str = text_field()
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class MarkingPhoto(SQLModel, table=True):
    """A photo that shows a marking, optionally with a box around it.

    The box is in the upright original's coordinates, normalised to 0–1 (x, y of the
    top-left corner, width, height), so it lands in the same place on any derivative.
    """

    __tablename__ = "marking_photo"
    __table_args__ = (sa.UniqueConstraint("marking_id", "photo_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    marking_id: int = Field(foreign_key="marking.id", index=True)
    photo_id: int = Field(foreign_key="photo.id", index=True)
    box_x: Optional[float] = None
    box_y: Optional[float] = None
    box_w: Optional[float] = None
    box_h: Optional[float] = None

    @property
    def box(self) -> tuple[float, float, float, float] | None:
        if None in (self.box_x, self.box_y, self.box_w, self.box_h):
            return None
        return self.box_x, self.box_y, self.box_w, self.box_h


class ImportMapping(SQLModel, table=True):
    """A user's own spreadsheet column names mapped onto the import format, saved for reuse."""

    __tablename__ = "import_mapping"
    __table_args__ = (sa.UniqueConstraint("panel_id", "name"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="panel.id", index=True)
    name: str = Field(sa_type=sa.String(100))
    mapping: dict = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = created_at_field()
    created_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


# Who may see what (panel_tracker.visibility): an item is seen inside its case, a marking with
# its item; an item's source details carry their own classification; who made a record is for
# panel-level readers.
_PEOPLE = visibility.Withheld("people", ("created_by_id", "deleted_by_id"), Classification.PANEL)
visibility.register(Case, withheld=[_PEOPLE])
visibility.register(Inspection, parents={"case_id": Case}, withheld=[_PEOPLE])
visibility.register(Item, parents={"case_id": Case}, references={"inspection_id": Inspection, "sighting_of_id": Item},
                    withheld=[visibility.Withheld("source", Item.SOURCE_FIELDS, lambda item: item.source_classification),
                              _PEOPLE])
visibility.register(Marking, parents={"item_id": Item}, withheld=[_PEOPLE])
