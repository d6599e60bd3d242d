"""From the database to index documents: :func:`item_document` is the single mapping
from an item (with its case, markings and photos) to what the index holds, and
:func:`item_visibility` the one rule of who may find it.

The visibility rule will move to the shared ``visibility`` module; until then it lives
here, in one function, and everything the index needs of it is stored in each document
so it is applied at query time.
"""
from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from sqlmodel import Session, select

from .. import visibility as visibility_rule
from ..classification import Classification, coerce, most_restrictive
from ..cases.models import Case, Item, Marking, MarkingKind
from ..evidence.models import Photo
from . import analysis
from .schema import SCHEMA_VERSION

# Item columns (names of the import format) searched as codes: every typed variant
# of them meets (folded, confusable, fragment, "?", typo).
CODE_COLUMNS = ("serial", "lot", "factory_code", "headstamp", "import_mark", "year_marked")
# Item columns searched by their words, and as whole values (folded and confusable).
TEXT_COLUMNS = ("type", "make_marked", "make_attributed", "model", "calibre", "country_marked",
                "country_attributed")
# Source details: governed by the item's source_classification as well.
SOURCE_COLUMNS = ("notes", "recovered_place")
# A marking recorded on the item page is searched as the import column of its kind.
MARKING_COLUMN = {
    MarkingKind.SERIAL: "serial", MarkingKind.LOT: "lot", MarkingKind.FACTORY_CODE: "factory_code",
    MarkingKind.HEADSTAMP: "headstamp", MarkingKind.IMPORT_MARK: "import_mark", MarkingKind.YEAR: "year_marked",
}
# Codes also found by a fragment, "?" or a typo (other marks and free text by their words
# and whole readings: substrings of long stencils would bloat the index for little gain).
FRAGMENT_COLUMNS = frozenset(CODE_COLUMNS)
# Which column ranks first when an item matches in several.
FIELD_BONUS = {"serial": 5, "lot": 4, "headstamp": 4, "import_mark": 4, "factory_code": 3, "other_marks": 3,
               "year_marked": 2, "item_ref": 2, "case_ref": 1}


@dataclass(frozen=True)
class Visibility:
    """What a reader needs to find an item: its effective classification (the stricter of
    its case's and its own), whether it or its case is deleted, and the classification of
    its source details (notes, recovery place, coordinates)."""

    level: Classification
    deleted: bool
    source_level: Classification

    def caption_level(self, photo: Photo) -> Classification:
        """A photo's caption is as visible as the photo and its item."""
        return most_restrictive(self.level, photo.classification)


def item_visibility(item: Item, case: Case) -> Visibility:
    """What the index stores of the visibility module's rule for an item (panel_tracker.
    visibility: an item is seen inside its case, a marking with its item): its effective
    level (the stricter of case and item), whether it or its case is gone (deleted), and the
    level of its withheld source details. Photo captions add the photo's own level.
    ``item`` and ``case`` are model instances or database rows of their tables."""
    level = most_restrictive(case.classification, item.classification)
    gone = any(_column(obj, column) is not None for obj in (item, case) for column in visibility_rule.GONE_COLUMNS)
    source = visibility_rule.field_levels(item, Item).get("notes", level)
    return Visibility(level=level, deleted=gone, source_level=most_restrictive(level, source))


def _column(obj, name: str):
    """A column's value, None where the table has no such column (a row lists its columns;
    asking it for a missing one costs an exception)."""
    if isinstance(obj, sa.Row):
        return getattr(obj, name) if name in obj._fields else None
    return getattr(obj, name, None)


def exact_form(text: str) -> str:
    """The reading as typed, with only surrounding and repeated spaces removed."""
    text = text or ""
    if text.isascii():  # NFC leaves ASCII as it is
        return " ".join(text.split())
    return " ".join(unicodedata.normalize("NFC", text).split())


def other_marks(text: str) -> list[str]:
    """``other_marks`` holds several markings separated by ``; ``: each is searched alone."""
    return [part.strip() for part in (text or "").split(";") if part.strip()]


@dataclass
class Related:
    markings: dict[int, list[Marking]]
    photos: dict[int, list[Photo]]


def item_values(item: Item, case: Case, markings: list[Marking], photos: list[Photo],
                visibility: Visibility) -> tuple[list[list], list[list]]:
    """The item's searchable readings as ``[column, text, level or None, is_code]`` (level
    None: as visible as the item; a marking adds its id) and its photos as ``[photo_id, level]``."""
    values: list[list] = []
    for name in CODE_COLUMNS:
        if getattr(item, name):
            values.append([name, getattr(item, name), None, True])
    for mark in other_marks(item.other_marks):
        values.append(["other_marks", mark, None, True])
    for marking in markings:  # the fifth element: the marking, for a link to it on the item page
        values.append([MARKING_COLUMN.get(marking.kind, "other_marks"), marking.text, None, True, marking.id])
    values.append(["item_ref", item.item_ref, None, False])
    values.append(["case_ref", case.ref, None, False])
    for name in TEXT_COLUMNS:
        value = getattr(item, name)
        if value:
            values.append(["calibre" if name == "calibre" else name, value, None, False])
    if item.calibre_marked and item.calibre_marked != item.calibre:
        values.append(["calibre", item.calibre_marked, None, False])
    for name in SOURCE_COLUMNS:
        if getattr(item, name):
            values.append([name, getattr(item, name), visibility.source_level.value, False])
    photo_rows = []
    for photo in photos:
        level = visibility.caption_level(photo).value
        photo_rows.append([photo.id, level])
        if photo.caption:
            values.append(["caption", photo.caption, level, False])
    # the same reading recorded twice (item column and marking) is searched once
    seen, unique = set(), []
    for value in values:
        key = (value[0], value[1], value[2])
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique, photo_rows


def value_terms(column: str, text: str, is_code: bool) -> dict[str, frozenset[str]]:
    """The index terms of one reading, field by field (see schema.get_schema)."""
    return dict(_value_terms(text, is_code, is_code and column in FRAGMENT_COLUMNS))


def reading_terms(column: str, text: str, is_code: bool, field: str) -> frozenset[str]:
    """The terms of one field a reading is indexed under (a reading stricter than its item
    has only its ``words``, in ``words_<level>``): the query side checks a document's
    readings by the terms the index holds, not by its own copy of the rules."""
    for name, found in _value_terms(text, is_code, is_code and column in FRAGMENT_COLUMNS):
        if name == field:
            return found
    return frozenset()


@lru_cache(maxsize=16384)  # most readings repeat (types, calibres, makes, places, factory codes)
def _value_terms(text: str, is_code: bool, fragments: bool) -> tuple[tuple[str, frozenset[str]], ...]:
    folded = analysis.fold(text)
    key = analysis.key_of_folded(folded)
    terms: dict[str, set[str]] = defaultdict(set)
    words = analysis.words(text)
    # whole readings of codes, and of free text of several words (one word: its word term)
    # a reading under its folded form and its key, even when they are the same: a query
    # looks its equal readings up by its key alone
    if folded and len(folded) <= 60 and (is_code or len(words) > 1):
        terms["codes"].update((f"f:{folded}", f"k:{key}"))
    if fragments:
        if "?" in folded:
            pattern = analysis.unknown_pattern_term(key)
            if pattern:
                terms["unk"].add(pattern)
        else:
            terms["frag"].update(analysis.fragment_index_terms(folded, key))
            terms["dels"].update(analysis.stored_deletions(key))
            terms["dels"].update(analysis.end_terms(key))
    if not is_code or len(words) > 1:  # a one-word code is found by its whole reading
        terms["words"].update(words)
    return tuple((name, frozenset(found)) for name, found in terms.items())


def _recovered(item: Item) -> int | None:
    date = item.recovered_date
    return date.year * 10000 + date.month * 100 + date.day if date else None


def item_document(item: Item, case: Case, markings: list[Marking], photos: list[Photo]) -> dict:
    """The index document of an item: the single mapping from the database to the index."""
    visibility = item_visibility(item, case)
    values, photo_rows = item_values(item, case, markings, photos, visibility)
    fields: dict[str, set[str]] = defaultdict(set)
    for column, text, level, is_code, *_marking in values:
        for name, found in _value_terms(text, is_code, is_code and column in FRAGMENT_COLUMNS):
            if level is not None:  # stricter than the item: words only, in the field of its level
                if name == "words":
                    fields[f"words_{level}"].update(found)
                continue
            fields[name].update(found)
    data = {
        "item_id": item.id, "case_id": case.id, "item_ref": item.item_ref, "case_ref": case.ref,
        "values": values, "photos": photo_rows,
        "created": item.created_at.isoformat() if item.created_at else "",
    }
    doc = {
        "id": f"item:{item.id}", "doctype": "item", "item_ref": item.item_ref.encode("utf-8"),
        "item_no": item.id, "case_no": case.id,
        "case": analysis.fold(case.ref),
        "vis": visibility.level.value, "deleted": "1" if visibility.deleted else "0",
        "category": coerce_value(item.category),
        "country": sorted({c for c in (item.country_marked, item.country_attributed) if c}),
        "legibility": coerce_value(item.serial_legibility) or "none",
        "photo": sorted({str(p[0]) for p in photo_rows}),
        **{name: sorted(found) for name, found in fields.items()},
    }
    doc["code_text"] = "\n".join(sorted({f"{column}\t{analysis.fold(text)}\t{text}"
                                          for column, text, level, *_ in values
                                          if column in FRAGMENT_COLUMNS and level is None
                                          and "\n" not in text})).encode("utf-8")
    recovered = _recovered(item)
    if recovered:
        doc["recovered"] = recovered
    data["sig"] = signature(doc, data)
    doc["data"] = data
    return doc


def case_document(case: Case) -> dict:
    """A case's own document (reference, title, summary), for the cases list's filter."""
    values = [["case_ref", case.ref, None, False]]
    for name in ("title", "summary"):
        if getattr(case, name):
            values.append([name, getattr(case, name), None, False])
    fields: dict[str, set[str]] = defaultdict(set)
    for column, text, _level, is_code in values:
        for name, found in value_terms(column, text, is_code).items():
            fields[name].update(found)
    data = {"case_id": case.id, "case_ref": case.ref, "values": values}
    doc = {"id": f"case:{case.id}", "doctype": "case", "item_ref": b"", "code_text": b"",
           "item_no": 0, "case_no": case.id,
           "vis": coerce(case.classification).value, "deleted": "1" if case.deleted_at else "0",
           **{name: sorted(found) for name, found in fields.items()}}
    data["sig"] = signature(doc, data)
    doc["data"] = data
    return doc


def coerce_value(value) -> str:
    return getattr(value, "value", value) or ""


_SIGNED_FIELDS = ("id", "vis", "deleted", "category", "country", "legibility", "recovered", "case")


def signature(doc: dict, data: dict) -> str:
    """A digest of what a document is made of (its readings and the fields its terms and
    filters come from; the terms follow from them): ``search verify`` compares it with
    one built afresh from the database to find stale documents."""
    body = repr(([doc.get(k) for k in _SIGNED_FIELDS], SCHEMA_VERSION,
                 sorted((k, v) for k, v in data.items() if k != "sig")))
    return hashlib.sha1(body.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ loading from the database
#
# Rows of the tables (SQLAlchemy Core), not model instances: a document reads each column
# once, and building a hundred thousand ORM objects (identity map, instance state, attribute
# instrumentation) cost as much as computing their terms. A row reads like its instance
# (``row.serial``, enums and aware datetimes as the model types them).

_ITEMS, _CASES = Item.__table__, Case.__table__
_MARKINGS = sa.select(Marking.__table__.c.id, Marking.__table__.c.item_id, Marking.__table__.c.kind,
                      Marking.__table__.c.text)
_PHOTOS = sa.select(Photo.__table__.c.id, Photo.__table__.c.item_id, Photo.__table__.c.caption,
                    Photo.__table__.c.classification)


def _rows(db: Session, statement) -> list:
    return db.connection().execute(statement).all()


def related(db: Session, item_ids: list[int]) -> Related:
    markings: dict[int, list] = defaultdict(list)
    photos: dict[int, list] = defaultdict(list)
    marking, photo = Marking.__table__.c, Photo.__table__.c
    for chunk in _chunks(item_ids, 5000):
        for row in _rows(db, _MARKINGS.where(marking.item_id.in_(chunk), marking.deleted_at.is_(None))
                         .order_by(marking.id)):
            markings[row.item_id].append(row)
        for row in _rows(db, _PHOTOS.where(photo.item_id.in_(chunk), photo.deleted_at.is_(None),
                                           photo.purged_at.is_(None)).order_by(photo.id)):
            photos[row.item_id].append(row)
    return Related(markings, photos)


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def documents_for_items(db: Session, items: list, cases: dict):
    """Documents of these items (rows or instances; their cases given by id), loading
    markings and photos in bulk."""
    rel = related(db, [item.id for item in items])
    for item in items:
        yield item_document(item, cases[item.case_id], rel.markings.get(item.id, []), rel.photos.get(item.id, []))


def item_rows(db: Session, panel_id: int, item_ids) -> list:
    """The rows of these items of the panel (any that are gone or of another panel left out)."""
    found = []
    for chunk in _chunks(sorted(item_ids), 5000):
        found += _rows(db, sa.select(_ITEMS).where(_ITEMS.c.id.in_(chunk), _ITEMS.c.panel_id == panel_id))
    return found


def case_rows(db: Session, panel_id: int, case_ids=None) -> dict:
    """The panel's cases by id (all, or these)."""
    statement = sa.select(_CASES).where(_CASES.c.panel_id == panel_id).order_by(_CASES.c.id)
    if case_ids is not None:
        statement = statement.where(_CASES.c.id.in_(sorted(case_ids)))
    return {row.id: row for row in _rows(db, statement)}


def panel_documents(db: Session, panel_id: int, batch: int = 5000, *, cases: bool = True,
                    from_id: int = 0, to_id: int | None = None):
    """Every document of a panel in batches: its cases' (unless ``cases`` is false), then
    its items', in order of id (only ids above ``from_id`` and up to ``to_id`` when given:
    one part of a rebuild)."""
    case_by_id = case_rows(db, panel_id)
    if cases:
        for case in case_by_id.values():
            yield case_document(case)
    last_id = from_id
    while True:
        statement = sa.select(_ITEMS).where(_ITEMS.c.panel_id == panel_id, _ITEMS.c.id > last_id)
        if to_id is not None:
            statement = statement.where(_ITEMS.c.id <= to_id)
        items = _rows(db, statement.order_by(_ITEMS.c.id).limit(batch))
        if not items:
            return
        last_id = items[-1].id
        yield from documents_for_items(db, items, case_by_id)


def item_ids(db: Session, panel_id: int) -> list[int]:
    """The ids of the panel's items, in order (to cut a rebuild into parts)."""
    return list(db.connection().execute(sa.select(_ITEMS.c.id).where(_ITEMS.c.panel_id == panel_id)
                                        .order_by(_ITEMS.c.id)).scalars())


def count_panel_documents(db: Session, panel_id: int) -> int:
    items = db.exec(select(sa.func.count()).select_from(Item).where(Item.panel_id == panel_id)).one()
    cases = db.exec(select(sa.func.count()).select_from(Case).where(Case.panel_id == panel_id)).one()
    return items + cases
