"""What the JSON API accepts and what it returns, apart from the table models.

The shape of the full-stack-fastapi-template: ``XCreate`` / ``XUpdate`` validate a request
body (types, enums, unknown fields, nulls) before a service sees it; the services keep the
domain rules (an item's serial and quantity, a case reference's shape) so the form, the
API and the import share them. ``XPublic`` is what a token may see, by the rule of
:mod:`panel_tracker.visibility`: ``item_public`` blanks the fields withheld from the reader
(an item's source details) and the ids of objects it may not see; ``photo_public`` leaves
out EXIF and receipts withheld from the reader, and GPS unless asked for.

Errors from pydantic and from the services reach the client in one shape,
``{"errors": {field: message}}`` (see :func:`errors_of`).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Optional

from pydantic import ConfigDict, ValidationError, create_model, field_validator
from sqlmodel import Field, SQLModel

from ..cases.import_format import FORMER_COUNTRY_CODES, is_known_country
from ..cases.models import (
    AccessMode, Case, CaseStatus, Category, Inspection, Item, ItemBase as ItemFields, Legibility, Marking,
    MarkingKind, Script, SymbolShape, max_lengths,
)
from .. import visibility
from ..classification import Classification
from ..validation import too_long
from ..inputs import MAX_ID, MAX_PAGE

MAX_PER_PAGE = 200


def errors_of(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as ``{field: message}``, the first message per field."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "Unknown field; see docs/api.md for the fields this endpoint takes."
        elif error["type"] == "string_too_long":  # the form's and the import's words
            message = too_long(len(error["input"]), error["ctx"]["max_length"])
        errors.setdefault(field, message)
    return errors


def _country(value: Optional[str]) -> Optional[str]:
    if value is not None and not is_known_country(value):
        if is_known_country(value.upper()):
            raise ValueError(f"Write country codes in upper case: {value.upper()}.")
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-3 code (e.g. CHN, BGR) nor a former "
                         f"code ({', '.join(sorted(FORMER_COUNTRY_CODES))}).")
    return value


# ------------------------------------------------------------------ input plumbing


class ApiInput(SQLModel):
    """Refuses unknown fields and ``null`` for fields that cannot be empty.

    ``NULLABLE`` names the fields that may be ``null``; for them an empty string means
    ``null`` too (a form or a spreadsheet sends "" for "nothing").
    """

    model_config = ConfigDict(extra="forbid")
    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    NOT_FOR_SERVICES: ClassVar[frozenset[str]] = frozenset(
        {"classification", "source_classification", "confirm_public"})

    @field_validator("*", mode="before")
    @classmethod
    def _nulls(cls, value, info):
        if info.field_name in cls.NULLABLE:
            return None if value == "" else value
        if value is None:
            raise ValueError("Cannot be null; leave the field out to keep its value.")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _storable_ints(cls, value):
        """An id or number no INTEGER column can hold is refused here, not by the database."""
        if isinstance(value, int) and not isinstance(value, bool) and not -MAX_ID - 1 <= value <= MAX_ID:
            raise ValueError(f"A whole number from {-MAX_ID - 1} to {MAX_ID}.")
        return value

    def service_values(self, *, only_given: bool = False) -> dict[str, Any]:
        """The values for the service; an update passes only the fields the client sent."""
        return self.model_dump(exclude_unset=only_given, exclude=set(self.NOT_FOR_SERVICES))


class Classified(ApiInput):
    """Optional classification on a write; making anything public needs ``confirm_public``."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"classification"})

    classification: Optional[Classification] = None
    confirm_public: bool = False


# ------------------------------------------------------------------ cases


_CASE = max_lengths(Case)


class CaseBase(Classified):
    NULLABLE: ClassVar[frozenset[str]] = Classified.NULLABLE | {"country_of_seizure"}

    title: str = Field(default="", max_length=_CASE["title"])
    summary: str = Field(default="", max_length=_CASE["summary"])
    status: CaseStatus = CaseStatus.OPEN
    country_of_seizure: Optional[str] = None

    @field_validator("country_of_seizure")
    @classmethod
    def _known_country(cls, value):
        return _country(value)


class CaseCreate(CaseBase):
    ref: str = Field(max_length=_CASE["ref"])


class CaseUpdate(CaseBase):
    ref: Optional[str] = Field(default=None, max_length=_CASE["ref"])


class CasePublic(SQLModel):
    id: int
    ref: str
    title: str
    summary: str
    status: CaseStatus
    country_of_seizure: Optional[str]
    classification: Classification
    created_at: datetime


# ------------------------------------------------------------------ inspections


_INSPECTION = max_lengths(Inspection)


class InspectionBase(Classified):
    place: str = Field(default="", max_length=_INSPECTION["place"])
    custodian: str = Field(default="", max_length=_INSPECTION["custodian"])
    access_mode: AccessMode = AccessMode.PHYSICAL
    inspectors: str = Field(default="", max_length=_INSPECTION["inspectors"])
    notes: str = Field(default="", max_length=_INSPECTION["notes"])


class InspectionCreate(InspectionBase):
    inspected_on: date


class InspectionUpdate(InspectionBase):
    inspected_on: Optional[date] = None


class InspectionPublic(SQLModel):
    id: int
    case_id: int
    inspected_on: date
    place: str
    custodian: str
    access_mode: AccessMode
    inspectors: str
    notes: str
    classification: Classification
    created_at: datetime


# ------------------------------------------------------------------ items


class ItemInput(Classified, ItemFields):
    """The item's fields, as declared once in ``cases.models.ItemBase`` (types, enums, length
    limits); the service checks them further with the import format's rules."""

    NULLABLE: ClassVar[frozenset[str]] = Classified.NULLABLE | {
        "source_classification", "inspection_id", "attribution_confidence", "country_marked",
        "country_attributed", "year_calendar", "year_gregorian", "serial_legibility", "condition", "lat", "lon",
    }

    source_classification: Optional[Classification] = None


class ItemCreate(ItemInput):
    pass


class ItemUpdate(ItemInput):
    category: Optional[Category] = None
    type: Optional[str] = Field(default=None, max_length=max_lengths(ItemFields)["type"])


def nullable_when_withheld(base: type[SQLModel], model: type) -> dict[str, Any]:
    """``base``'s fields that ``model``'s visibility rule may withhold, made nullable: a reader
    below their level gets null (``visibility.Withheld``), whatever their declared type."""
    withheld = {name for group in visibility.rule(model).withheld for name in group.fields}
    return {name: (Optional[info.annotation], None) for name, info in base.model_fields.items() if name in withheld}


class ItemRecord(SQLModel):
    """What the table adds to an item's own fields, as the API shows it."""

    id: int
    case_id: int
    case_ref: str
    recovered_date: Optional[date]
    source_withheld: bool
    sighting_of_id: Optional[int]
    classification: Classification
    source_classification: Classification
    created_at: datetime
    updated_at: Optional[datetime]


def item_public_model(fields: type[SQLModel] = ItemFields) -> type[SQLModel]:
    """The API's item, built on the field list: every field of ``fields`` (``ItemBase``) with
    its declared type, those ``Item``'s visibility rule may withhold (``Item.SOURCE_FIELDS``)
    nullable, plus :class:`ItemRecord`. A field added to ``ItemBase`` is in the output."""
    return create_model("ItemPublic", __base__=(ItemRecord, fields), __module__=__name__,
                        **nullable_when_withheld(fields, Item))


ItemPublic = item_public_model()


def item_public(item: Item, case_ref: str, reader: visibility.Reader, refs: dict[str, int | None]) -> dict:
    """``refs``: the item's references as ``visibility.references`` gives them (null when hidden)."""
    values = visibility.shown(item, reader, [name for name in ItemPublic.model_fields if hasattr(item, name)],
                              refs=refs)
    withheld = "source" in visibility.withheld_groups(item, reader)
    return ItemPublic(**values, case_ref=case_ref, source_withheld=withheld).model_dump(mode="json")


# ------------------------------------------------------------------ markings


_MARKING = max_lengths(Marking)


class MarkingBase(ApiInput):
    """A marking has no classification of its own: it is seen with its item."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"script"})

    location: str = Field(default="", max_length=_MARKING["location"])
    script: Optional[Script] = None
    legibility: Legibility = Legibility.INTACT
    symbol_shape: SymbolShape = SymbolShape.NONE
    notes: str = Field(default="", max_length=_MARKING["notes"])


class MarkingCreate(MarkingBase):
    text: str = Field(max_length=_MARKING["text"])
    kind: MarkingKind


class MarkingUpdate(MarkingBase):
    text: Optional[str] = Field(default=None, max_length=_MARKING["text"])
    kind: Optional[MarkingKind] = None


class MarkingPhotoLink(ApiInput):
    """Which photo shows a marking; ``box`` = [x, y, width, height] normalised 0–1, or null."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"box"})

    photo_id: int
    box: Optional[tuple[float, float, float, float]] = None


class MarkingPhotoPublic(SQLModel):
    photo_id: int
    box: Optional[tuple[float, float, float, float]]


class MarkingPublic(SQLModel):
    id: int
    item_id: int
    text: str
    kind: MarkingKind
    location: str
    script: Optional[Script]
    legibility: Legibility
    symbol_shape: SymbolShape
    notes: str
    created_at: datetime
    photos: list[MarkingPhotoPublic]


# ------------------------------------------------------------------ photos


class PhotoUpload(Classified):
    """The form fields that come with a multipart upload (the file itself is ``file``)."""

    NULLABLE: ClassVar[frozenset[str]] = Classified.NULLABLE | {"item_id"}

    item_id: Optional[int] = None
    source: str = Field(default="", max_length=300)
    is_original: bool = True
    caption: str = ""


class GpsPublic(SQLModel):
    lat: float
    lon: float


class ReceiptPublic(SQLModel):
    id: int
    received_at: datetime
    received_by_id: Optional[int]
    source: Optional[str]  # null when withheld from the reader
    channel: str
    is_original: bool
    filename: Optional[str]
    duplicate_of_id: Optional[int]


class PhotoPublic(SQLModel):
    """A photo's metadata. Never the original's path; GPS only on request by an expert."""

    id: int
    case_id: Optional[int]
    item_id: Optional[int]
    sha256: str
    size_bytes: int
    mime: str
    width: int
    height: int
    camera_make: str
    camera_model: str
    taken_at: Optional[datetime]
    taken_at_corrected: Optional[datetime]
    caption: str
    source_line: str
    photographer: str
    photo_date: Optional[date]
    is_label_card: bool
    classification: Classification
    created_at: datetime
    images: dict[str, str]
    # Expert and above only: the EXIF (GPS tags only with the GPS), receipts (their sources).
    exif: Optional[dict[str, Any]] = None
    receipts: Optional[list[ReceiptPublic]] = None
    gps: Optional[GpsPublic] = None


def photo_public(photo, reader: visibility.Reader, *, images: dict[str, str], receipts=(), gps: bool = False) -> dict:
    """``gps``: the caller asked for the position (and audited it); it is given only when the
    reader may see it. EXIF and receipts are left out when withheld from the reader."""
    withheld = visibility.withheld_groups(photo, reader)
    values = {name: getattr(photo, name) for name in PhotoPublic.model_fields if hasattr(photo, name)}
    values.update(exif=None, gps=None, images=images)
    gps = gps and "gps" not in withheld
    exclude = {"exif", "receipts"} if "exif" in withheld else set()
    if "exif" not in withheld:
        values["exif"] = {k: v for k, v in (photo.exif or {}).items() if gps or not k.startswith("GPS")}
        values["receipts"] = [ReceiptPublic.model_validate(visibility.shown(r, reader, ReceiptPublic.model_fields))
                              for r in receipts]
    if gps and photo.gps_lat is not None and photo.gps_lon is not None:
        values["gps"] = GpsPublic(lat=photo.gps_lat, lon=photo.gps_lon)
    if not gps:
        exclude.add("gps")
    return PhotoPublic(**values).model_dump(mode="json", exclude=exclude)


# ------------------------------------------------------------------ deletion and lists


class Deletion(ApiInput):
    reason: str = Field(max_length=2000)


class Page(ApiInput):
    """``?page=&per_page=``; every filter may be empty, which means "any"."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"page", "per_page"})

    page: Optional[int] = Field(default=None, ge=1, le=MAX_PAGE)
    per_page: Optional[int] = Field(default=None, ge=1, le=MAX_PER_PAGE)

    @property
    def number(self) -> int:
        return self.page or 1

    def size(self, default: int) -> int:
        return self.per_page or min(default, MAX_PER_PAGE)


class CaseFilters(Page):
    NULLABLE: ClassVar[frozenset[str]] = Page.NULLABLE | {"status", "q"}

    status: Optional[CaseStatus] = None
    q: Optional[str] = Field(default=None, max_length=200)


class ItemFilters(Page):
    NULLABLE: ClassVar[frozenset[str]] = Page.NULLABLE | {
        "category", "country", "recovered_from", "recovered_to", "legibility", "has_photos", "classification", "case",
        "q",
    }

    category: Optional[Category] = None
    country: Optional[str] = None
    recovered_from: Optional[date] = None
    recovered_to: Optional[date] = None
    legibility: Optional[Legibility] = None
    has_photos: Optional[bool] = None
    classification: Optional[Classification] = None
    case: Optional[str] = Field(default=None, max_length=32)
    q: Optional[str] = Field(default=None, max_length=200)  # marking search (search/query.py)

    @field_validator("country")
    @classmethod
    def _known_country(cls, value):
        return _country(value.upper() if value else value)

    @field_validator("recovered_to")
    @classmethod
    def _period(cls, value, info):
        start = info.data.get("recovered_from")
        if value and start and start > value:
            raise ValueError("recovered_to is before recovered_from.")
        return value
