"""What an export holds for a reader: the items, their markings, photos and receipts, as
plain records (dicts), by the rule of :mod:`panel_tracker.visibility`.

Nothing here writes a file or reads the request: give it a session, a
:class:`~panel_tracker.visibility.Reader` (an export at a chosen classification is a reader
at that level, never above the user's clearance) and the item-list filters. The writers
(``writers.py``) and, later, report annexes turn these records into files.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import Enum

import sqlalchemy as sa
from sqlmodel import Session, select

from .. import visibility
from ..auth.models import User
from ..classification import Classification, coerce
from ..cases import queries
from ..cases.models import Case, Inspection, Item, Marking, MarkingPhoto
from ..evidence.models import Photo, PhotoReceipt

#: Items are read this many at a time.
BATCH = 500

_ITEM_SKIP = {"panel_id", "case_id", "inspection_id", "sighting_of_id", "created_by_id", "deleted_at",
              "deleted_by_id", "deleted_reason", "serial_folded", "serial_key"}
_PHOTO_SKIP = {"panel_id", "case_id", "item_id", "created_by_id", "deleted_at", "deleted_by_id",
               "deleted_reason", "purged_at", "exif", "gps_lat", "gps_lon"}
_MARKING_FIELDS = ("id", "text", "kind", "location", "script", "legibility", "symbol_shape", "notes", "created_at")
_INSPECTION_FIELDS = ("id", "inspected_on", "place", "custodian", "access_mode", "inspectors", "notes",
                      "classification")
_CASE_FIELDS = ("id", "title", "summary", "status", "country_of_seizure", "classification", "created_at")


def _value(value):
    return value.value if isinstance(value, Enum) else value


# ------------------------------------------------------------------ which items


def item_ids(db: Session, reader: visibility.Reader, *, case: Case | None = None,
             filters: Mapping[str, str] | None = None) -> list[int]:
    """Ids of the items ``reader`` may see (in ``case``, matching the item-list filters), in
    export order: by case, then by item number (``/99`` before ``/100``)."""
    case_ref = select(Case.ref).where(Case.id == Item.case_id).scalar_subquery()
    stmt = visibility.visible_ids(Item, reader)
    if case is not None:
        stmt = stmt.where(Item.case_id == case.id)
    stmt = queries.filter_items(stmt, dict(filters or {}), reader)
    return list(db.exec(stmt.order_by(case_ref, sa.func.length(Item.item_ref), Item.item_ref)).all())


def iter_items(db: Session, ids: list[int]) -> Iterator[list[tuple[Item, str]]]:
    """``(item, case_ref)`` in batches of :data:`BATCH`, in the order of ``ids``."""
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        rows = db.exec(select(Item, Case.ref).join(Case, Case.id == Item.case_id).where(Item.id.in_(chunk))).all()
        by_id = {item.id: (item, ref) for item, ref in rows}
        yield [by_id[i] for i in chunk if i in by_id]


def sources_withheld(item: Item, reader: visibility.Reader) -> bool:
    return "source" in visibility.withheld_groups(item, reader)


# ------------------------------------------------------------------ the 26 columns


def item_row(item: Item, case_ref: str, reader: visibility.Reader) -> dict:
    """The item as the 26 columns of the import format (typed values), its source details
    empty when withheld from ``reader``.

    ``source_confidential`` is ``yes`` unless the sources are public, so a re-import never
    makes a source more public than it was.
    """
    shown = visibility.shown(item, reader)
    return {
        "case_ref": case_ref,
        "item_ref": item.item_ref,
        "category": _value(item.category),
        "type": item.type,
        "make_marked": item.make_marked,
        "make_attributed": item.make_attributed,
        "model": item.model,
        "calibre": item.calibre_marked or item.calibre,
        "country_marked": item.country_marked,
        "country_attributed": item.country_attributed,
        "year_marked": item.year_marked,
        "serial": item.serial,
        "serial_legibility": _value(item.serial_legibility),
        "lot": item.lot,
        "factory_code": item.factory_code,
        "headstamp": item.headstamp,
        "import_mark": item.import_mark,
        "other_marks": item.other_marks,
        "quantity": item.quantity,
        "condition": _value(item.condition),
        "recovered_on": item.recovered_on,
        "recovered_place": shown["recovered_place"],
        "lat": shown["lat"],
        "lon": shown["lon"],
        "source_confidential": "no" if coerce(item.source_classification) == Classification.PUBLIC else "yes",
        "notes": shown["notes"],
    }


# ------------------------------------------------------------------ the full records (ZIP)


class People:
    """Names of the users who made records, looked up once each; None where withheld."""

    def __init__(self, db: Session):
        self.db, self.names = db, {}

    def name(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self.names:
            user = self.db.get(User, user_id)
            self.names[user_id] = user.name if user else None
        return self.names[user_id]


def item_records(db: Session, batch: list[tuple[Item, str]], reader: visibility.Reader,
                 people: People) -> list[dict]:
    """Every field of each item of ``batch`` that ``reader`` may see, with its markings (and
    the visible photos linked to them, with boxes) and its photos (metadata and receipts).

    A photo is included only when ``reader`` may see it by the whole rule (its item and case
    too): a photo linked to a marking here but belonging to a hidden item stays out.
    """
    if not batch:
        return []
    items = [item for item, _ in batch]
    ids = [item.id for item in items]
    markings: dict[int, list[Marking]] = {i: [] for i in ids}
    for marking in db.exec(visibility.visible(Marking, reader).where(Marking.item_id.in_(ids))
                           .order_by(Marking.item_id, Marking.id)).all():
        markings[marking.item_id].append(marking)
    links: dict[int, list[MarkingPhoto]] = {}
    marking_ids = [m.id for ms in markings.values() for m in ms]
    if marking_ids:
        for link in db.exec(visibility.visible(MarkingPhoto, reader).where(MarkingPhoto.marking_id.in_(marking_ids))
                            .order_by(MarkingPhoto.id)).all():
            links.setdefault(link.marking_id, []).append(link)
    linked = {link.photo_id for ls in links.values() for link in ls}
    mine = Photo.item_id.in_(ids)
    photos = {p.id: p for p in db.exec(
        visibility.visible(Photo, reader).where(sa.or_(mine, Photo.id.in_(linked)) if linked else mine)
        .order_by(Photo.taken_at, Photo.id)).all()}
    photo_records = _photo_records(db, list(photos.values()), reader, people)
    refs = visibility.references(db, items, reader)
    inspections = {i.id: {name: getattr(i, name) for name in _INSPECTION_FIELDS} for i in db.exec(
        visibility.visible(Inspection, reader).where(
            Inspection.id.in_({r["inspection_id"] for r in refs.values()} - {None}))).all()}
    roots = dict(db.exec(select(Item.id, Item.item_ref).where(
        Item.id.in_({r["sighting_of_id"] for r in refs.values()} - {None}))).all())

    records = []
    for item, case_ref in batch:
        withheld = visibility.withheld_groups(item, reader)
        data = {name: value for name, value in visibility.shown(item, reader).items() if name not in _ITEM_SKIP}
        if "source" in withheld:
            for name in Item.SOURCE_FIELDS:
                data[name] = None if name in ("lat", "lon") else ""
        data.update(case_ref=case_ref, sources_withheld="source" in withheld,
                    sighting_of=roots.get(refs[item.id]["sighting_of_id"]),
                    inspection=inspections.get(refs[item.id]["inspection_id"]),
                    created_by=_person(item, reader, people))
        data["markings"] = [{
            **{name: getattr(marking, name) for name in _MARKING_FIELDS},
            "created_by": _person(marking, reader, people),
            "photos": [{"photo_id": link.photo_id, "sha256": photos[link.photo_id].sha256,
                        "box": dict(zip(("x", "y", "w", "h"), link.box)) if link.box else None}
                       for link in links.get(marking.id, []) if link.photo_id in photos],
        } for marking in markings[item.id]]
        shown_ids = [p.id for p in photos.values() if p.item_id == item.id]
        shown_ids += [p["photo_id"] for m in data["markings"] for p in m["photos"]]
        data["photos"] = [photo_records[pid] for pid in dict.fromkeys(shown_ids)]
        records.append(data)
    return records


def case_record(db: Session, case: Case, reader: visibility.Reader, people: People) -> dict:
    """The case's own fields when ``reader`` may see it (else its reference and
    ``withheld``), and its visible photos that belong to no item."""
    data: dict = {"ref": case.ref}
    if visibility.load(db, Case, case.id, reader) is not None:
        data.update({name: getattr(case, name) for name in _CASE_FIELDS})
        data["created_by"] = _person(case, reader, people)
    else:
        data["withheld"] = True
    photos = db.exec(visibility.visible(Photo, reader).where(Photo.case_id == case.id, Photo.item_id.is_(None))
                     .order_by(Photo.taken_at, Photo.id)).all()
    data["photos"] = list(_photo_records(db, photos, reader, people).values())
    return data


def _person(obj, reader: visibility.Reader, people: People) -> str | None:
    return people.name(visibility.shown(obj, reader, ("created_by_id",))["created_by_id"])


def _photo_records(db: Session, photos: list[Photo], reader: visibility.Reader, people: People) -> dict[int, dict]:
    """Each photo's metadata as ``reader`` may see it: EXIF beyond camera and time, GPS,
    receipts' sources and people only when not withheld (a withheld key is left out)."""
    receipts: dict[int, list[PhotoReceipt]] = {}
    if photos:
        for receipt in db.exec(visibility.visible(PhotoReceipt, reader).where(
                PhotoReceipt.photo_id.in_([p.id for p in photos]))
                .order_by(PhotoReceipt.received_at, PhotoReceipt.id)).all():
            receipts.setdefault(receipt.photo_id, []).append(receipt)
    case_refs = dict(db.exec(select(Case.id, Case.ref).where(Case.id.in_({p.case_id for p in photos} - {None}))).all())
    item_refs = dict(db.exec(select(Item.id, Item.item_ref).where(Item.id.in_({p.item_id for p in photos} - {None}))).all())
    records = {}
    for photo in photos:
        withheld = visibility.withheld_groups(photo, reader)
        shown = visibility.shown(photo, reader)
        data = {name: value for name, value in shown.items() if name not in _PHOTO_SKIP}
        data.update(created_by=_person(photo, reader, people), case_ref=case_refs.get(photo.case_id),
                    item_ref=item_refs.get(photo.item_id))
        exif = dict(shown["exif"] or {})
        if "gps" in withheld:
            exif = {key: value for key, value in exif.items() if not key.upper().startswith("GPS")}
        else:
            data["gps_lat"], data["gps_lon"] = photo.gps_lat, photo.gps_lon
        data["exif"] = exif
        data["receipts"] = [_receipt_record(r, reader, people) for r in receipts.get(photo.id, [])]
        records[photo.id] = data
    return records


def _receipt_record(receipt: PhotoReceipt, reader: visibility.Reader, people: People) -> dict:
    data = {"id": receipt.id, "received_at": receipt.received_at, "channel": receipt.channel,
            "is_original": receipt.is_original, "duplicate_of_id": receipt.duplicate_of_id}
    if "source" not in visibility.withheld_groups(receipt, reader):
        # Where a file came from and what its sender called it can point at a source.
        data.update(source=receipt.source, filename=receipt.filename, note=receipt.note,
                    received_by=people.name(receipt.received_by_id))
    return data
