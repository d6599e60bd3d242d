"""Changes to cases, inspections, items and markings: each validates, writes the audit
record in the same transaction, and flushes; the caller (view, API, CLI) commits once."""
from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, select

from .. import audit, countries
from ..auth.models import Panel
from ..classification import Classification, coerce, most_restrictive
from ..db import utcnow
from ..search.analysis import confusable_key, fold
from ..validation import Invalid, too_long
from . import import_format
from .models import Case, Inspection, Item, ItemBase, Marking, MarkingPhoto, Script, max_lengths

CASE_REF = re.compile(r"^(?P<panel>[A-Z]{2,6})-(?P<year>[0-9]{4})-[0-9]{3,}$")

CASE_FIELDS = ("ref", "title", "summary", "status", "country_of_seizure")
INSPECTION_FIELDS = ("inspected_on", "place", "custodian", "access_mode", "inspectors", "notes")
ITEM_FIELDS = tuple(ItemBase.model_fields)  # the item's own fields: saved and audited
MARKING_FIELDS = ("text", "kind", "location", "script", "legibility", "symbol_shape", "notes")


def check_lengths(model, values: dict) -> None:
    """Refuse a text longer than its field takes (the limits of the model's field list)."""
    problems = {name: too_long(len(values[name]), limit) for name, limit in max_lengths(model).items()
                if isinstance(values.get(name), str) and len(values[name]) > limit}
    if problems:
        raise Invalid(problems)


def snapshot(obj, fields) -> dict:
    return {name: getattr(obj, name) for name in fields}


def _label(obj) -> str:
    return getattr(obj, "item_ref", None) or getattr(obj, "ref", None) or f"{type(obj).__name__} {obj.id}"


def _kind(obj) -> str:
    """The name audit actions use for an object: ``case.create``, ``item.update``…"""
    return "case" if isinstance(obj, Case) else obj.__tablename__


def _audit_context(db: Session, obj) -> tuple[str, Classification]:
    """Label and classification of an object as the audit log shows it; a marking is as
    visible as its item."""
    if isinstance(obj, Marking):
        item = db.get(Item, obj.item_id)
        return f"{item.item_ref}: {obj.text}", item.classification
    return _label(obj), getattr(obj, "classification", Classification.PUBLIC)


def _record_change(db: Session, action: str, obj, before: dict, after: dict, actor, **extra) -> None:
    b, a = audit.changes(before, after)
    if not (b or a) and action.endswith(".update"):
        return
    audit.record(db, action, actor=actor, obj=obj, label=_label(obj), before=b, after=a,
                 classification=getattr(obj, "classification", Classification.PUBLIC), **extra)


def item_field_classes(item: Item) -> dict:
    return {name: coerce(item.source_classification).value for name in Item.SOURCE_FIELDS}


# ------------------------------------------------------------------ cases


def _check_country(values: dict) -> None:
    code = values.get("country_of_seizure")
    if code and not countries.is_known(code):
        raise Invalid({"country_of_seizure": f"{code!r} is not an ISO 3166 alpha-3 code (e.g. YEM, SDN)."})


def create_case(db: Session, panel, values: dict, actor) -> Case:
    check_lengths(Case, values)
    ref = (values.get("ref") or "").strip().upper()
    _check_case_ref(db, panel, ref)
    _check_country(values)
    case = Case(panel_id=panel.id, created_by_id=getattr(actor, "id", None),
                **{k: v for k, v in values.items() if k in CASE_FIELDS and k != "ref"}, ref=ref)
    db.add(case)
    db.flush()
    _record_change(db, "case.create", case, {}, snapshot(case, CASE_FIELDS), actor)
    return case


def _check_case_ref(db: Session, panel, ref: str, exclude_id: int | None = None) -> None:
    match = CASE_REF.match(ref)
    if not match:
        raise Invalid({"ref": f"A case reference looks like {panel.code}-2024-017 (panel, year, number)."})
    if match["panel"] != panel.code:
        raise Invalid({"ref": f"A case of this panel starts with {panel.code}-."})
    clash = db.exec(select(Case.id).where(Case.panel_id == panel.id, Case.ref == ref)).first()
    if clash is not None and clash != exclude_id:
        raise Invalid({"ref": f"Case {ref} already exists."})


def update_case(db: Session, case: Case, values: dict, actor) -> None:
    check_lengths(Case, values)
    _check_country(values)
    before = snapshot(case, CASE_FIELDS)
    if "ref" in values:
        values["ref"] = values["ref"].strip().upper()
        if values["ref"] != case.ref:
            _check_case_ref(db, db.get(Panel, case.panel_id), values["ref"], exclude_id=case.id)
    for name in CASE_FIELDS:
        if name in values:
            setattr(case, name, values[name])
    db.add(case)
    _record_change(db, "case.update", case, before, snapshot(case, CASE_FIELDS), actor)
    db.flush()


def soft_delete(db: Session, obj, actor, reason: str) -> None:
    """Hide an object from every list and page; the row and its history stay."""
    if not reason.strip():
        raise Invalid({"reason": "Say why it is deleted; the reason goes into the audit log."})
    obj.deleted_at, obj.deleted_by_id, obj.deleted_reason = utcnow(), getattr(actor, "id", None), reason.strip()
    db.add(obj)
    label, classification = _audit_context(db, obj)
    audit.record(db, f"{_kind(obj)}.delete", actor=actor, obj=obj, label=label,
                 after={"deleted_reason": obj.deleted_reason}, classification=classification)
    db.flush()


def reclassify(db: Session, obj, level, actor, *, field: str = "classification", confirm_public: bool = False) -> None:
    """Change an object's classification. Making anything public is an explicit act."""
    level = coerce(level)
    current = coerce(getattr(obj, field))
    if level == current:
        return
    if level == Classification.PUBLIC and not confirm_public:
        raise Invalid({"confirm_public": "Tick the box to confirm this may be published."})
    setattr(obj, field, level)
    db.add(obj)
    audit.record(db, f"{_kind(obj)}.classify", actor=actor, obj=obj, label=_label(obj),
                 before={field: current}, after={field: level},
                 classification=Classification.PUBLIC if field == "classification" else obj.classification)
    db.flush()


# ------------------------------------------------------------------ inspections


def create_inspection(db: Session, case: Case, values: dict, actor) -> Inspection:
    check_lengths(Inspection, values)
    inspection = Inspection(panel_id=case.panel_id, case_id=case.id, created_by_id=getattr(actor, "id", None),
                            **{k: v for k, v in values.items() if k in INSPECTION_FIELDS})
    db.add(inspection)
    db.flush()
    _record_change(db, "inspection.create", inspection, {}, snapshot(inspection, INSPECTION_FIELDS), actor)
    return inspection


def update_inspection(db: Session, inspection: Inspection, values: dict, actor) -> None:
    check_lengths(Inspection, values)
    before = snapshot(inspection, INSPECTION_FIELDS)
    for name in INSPECTION_FIELDS:
        if name in values:
            setattr(inspection, name, values[name])
    db.add(inspection)
    _record_change(db, "inspection.update", inspection, before, snapshot(inspection, INSPECTION_FIELDS), actor)
    db.flush()


# ------------------------------------------------------------------ items


# Any fixed 32-bit number: with the case id, the advisory lock that serialises numbering
# within one case on PostgreSQL.
_PG_ITEM_NUMBER_LOCK = 0x4954_4E4F


def _lock_item_numbers(db: Session, case: Case) -> None:
    """Hold the case's item numbering until this transaction ends, so two creates never
    read the same highest number: a per-case advisory lock on PostgreSQL; on SQLite a
    no-op write, which takes the database's write lock (waiting for the other writer)
    before the read, as the audit log does."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(sa.text("SELECT pg_advisory_xact_lock(:k, :case_id)"),
                   {"k": _PG_ITEM_NUMBER_LOCK, "case_id": case.id})
    else:
        db.execute(sa.text("UPDATE case_file SET id = id WHERE 0"))


def next_item_ref(db: Session, case: Case) -> str:
    """The case's next free number; the caller's transaction holds the numbering until it
    ends (see :func:`_lock_item_numbers`)."""
    _lock_item_numbers(db, case)
    refs = db.exec(select(Item.item_ref).where(Item.case_id == case.id)).all()
    numbers = [int(r.rsplit("/", 1)[1]) for r in refs if r.rsplit("/", 1)[-1].isdigit()]
    return f"{case.ref}/{(max(numbers) + 1) if numbers else 1:02d}"


def _as_text(value) -> str:
    return import_format.format_value(getattr(value, "value", value))


def check_item(db: Session, case: Case, values: dict, *, item_id: int | None = None) -> dict:
    """Validate an item with the very rules of the import format (one set of rules for the
    form, the API and the spreadsheet import), plus the fields the format does not carry."""
    panel = db.get(Panel, case.panel_id)
    record = {name: "" for name in import_format.COLUMNS}
    for name in import_format.COLUMNS:
        source = "calibre_marked" if name == "calibre" and values.get("calibre_marked") else name
        if source in values:
            record[name] = _as_text(values[source])
    record["case_ref"] = case.ref
    record["source_confidential"] = "yes"
    existing = db.exec(select(Item.id).where(Item.panel_id == case.panel_id,
                                            Item.item_ref == record["item_ref"])).first()
    existing_refs = {record["item_ref"]} if existing is not None and existing != item_id else set()
    row, errors = import_format.validate_record(2, record, panel_code=panel.code, seen_refs={},
                                                existing_refs=existing_refs, update=False)
    problems = {}
    for error in errors:
        name = "calibre_marked" if error.column == "calibre" else error.column
        problems.setdefault(name, error.message.replace("use --update to update it", "choose another number"))
    calendar, gregorian = values.get("year_calendar"), values.get("year_gregorian")
    if calendar and not values.get("year_marked"):
        problems["year_calendar"] = "A calendar applies to a year as marked; fill that in first."
    inspection_id = values.get("inspection_id")
    if inspection_id is not None:
        inspection = db.get(Inspection, inspection_id)
        if inspection is None or inspection.case_id != case.id or inspection.deleted_at is not None:
            problems["inspection_id"] = "Choose an inspection of this case."
    if gregorian is not None and not 1800 <= int(gregorian) <= date.today().year + 1:
        problems["year_gregorian"] = "A Gregorian year between 1800 and next year."
    for name, limit in max_lengths(ItemBase).items():  # the fields the format does not carry
        value = values.get(name)
        if name not in problems and isinstance(value, str) and len(value) > limit:
            problems[name] = too_long(len(value), limit)
    if problems:
        raise Invalid(problems)
    return {"recovered_date": row.recovered_date}


def _apply_item(item: Item, values: dict, derived: dict) -> None:
    for name in ITEM_FIELDS:
        if name in values:
            setattr(item, name, values[name])
    item.recovered_date = derived["recovered_date"]
    item.serial_folded = fold(item.serial or "")
    item.serial_key = confusable_key(item.serial or "")


def create_item(db: Session, case: Case, values: dict, actor) -> Item:
    values = dict(values)
    values["item_ref"] = (values.get("item_ref") or "").strip() or next_item_ref(db, case)
    derived = check_item(db, case, values)
    item = Item(panel_id=case.panel_id, case_id=case.id, created_by_id=getattr(actor, "id", None),
                item_ref=values["item_ref"], category=values["category"], type=values["type"])
    _apply_item(item, values, derived)
    db.add(item)
    db.flush()
    audit.record(db, "item.create", actor=actor, obj=item, label=item.item_ref, after=snapshot(item, ITEM_FIELDS),
                 classification=item.classification, field_classes=item_field_classes(item))
    return item


def update_item(db: Session, item: Item, values: dict, actor) -> bool:
    """Apply ``values``; True when a field changed (then audited and ``updated_at`` set),
    False when they were the item's values already (nothing written)."""
    case = db.get(Case, item.case_id)
    merged = {**snapshot(item, ITEM_FIELDS), **values}
    derived = check_item(db, case, merged, item_id=item.id)
    before = snapshot(item, ITEM_FIELDS)
    _apply_item(item, merged, derived)
    b, a = audit.changes(before, snapshot(item, ITEM_FIELDS))
    if b or a:
        item.updated_at = utcnow()
        db.add(item)
        audit.record(db, "item.update", actor=actor, obj=item, label=item.item_ref, before=b, after=a,
                     classification=item.classification, field_classes=item_field_classes(item))
    db.flush()
    return bool(b or a)


def sighting_candidates(db: Session, item: Item, limit: int = 10) -> list[Item]:
    """Items that may be the same physical weapon: same serial (whichever look-alike
    characters were typed), same model and factory code."""
    if not item.serial_key or "?" in item.serial_key:
        return []
    stmt = select(Item).where(
        Item.panel_id == item.panel_id, Item.id != item.id, Item.serial_key == item.serial_key,
        Item.deleted_at.is_(None),
        sa.func.lower(Item.model) == (item.model or "").lower(),
        Item.factory_code == (item.factory_code or ""),
    ).order_by(Item.created_at).limit(limit)
    return [c for c in db.exec(stmt).all() if c.id != item.sighting_of_id]


def link_sighting(db: Session, item: Item, earlier: Item | None, actor) -> None:
    """Record that ``item`` is another sighting of ``earlier`` (None unlinks)."""
    if earlier is not None:
        if earlier.panel_id != item.panel_id or earlier.id == item.id:
            raise Invalid({"sighting_of": "Choose another item of this panel."})
        root = earlier
        while root.sighting_of_id is not None:  # always link to the first sighting
            root = db.get(Item, root.sighting_of_id)
        if root.id == item.id:
            raise Invalid({"sighting_of": "That item is already a sighting of this one."})
        earlier = root
    before_id = item.sighting_of_id
    before = {"sighting_of": _ref_of(db, before_id)}
    item.sighting_of_id = earlier.id if earlier else None
    db.add(item)
    previous = db.get(Item, before_id) if before_id else None
    audit.record(db, "item.link_sighting", actor=actor, obj=item, label=item.item_ref, before=before,
                 after={"sighting_of": earlier.item_ref if earlier else None},
                 classification=most_restrictive(item.classification, *(
                     other.classification for other in (earlier, previous) if other is not None)))
    db.flush()


def _ref_of(db: Session, item_id: int | None) -> str | None:
    return db.get(Item, item_id).item_ref if item_id else None


def sightings_of(db: Session, item: Item, visible_items) -> list[Item]:
    """The other sightings of the same physical item, among ``visible_items`` (a select of
    the items the user may see)."""
    root_id = item.sighting_of_id or item.id
    stmt = visible_items.where(sa.or_(Item.id == root_id, Item.sighting_of_id == root_id),
                               Item.id != item.id).order_by(Item.created_at)
    return list(db.exec(stmt).all())


# ------------------------------------------------------------------ markings

_SCRIPT_RANGES = (
    (Script.CYRILLIC, re.compile(r"[\u0400-\u04FF]")),
    (Script.PERSIAN, re.compile(r"[\u06F0-\u06F9\u067E\u0686\u0698\u06AF\u06A9\u06CC]")),
    (Script.ARABIC, re.compile(r"[\u0600-\u06FF]")),
    (Script.CHINESE, re.compile(r"[\u4E00-\u9FFF]")),
    (Script.LATIN, re.compile(r"[A-Za-z]")),
)


def guess_script(text: str) -> Script | None:
    """The script a marking is written in, as a default the expert can correct."""
    found = []
    for script, pattern in _SCRIPT_RANGES:
        if pattern.search(text) and not (script == Script.ARABIC and Script.PERSIAN in found):
            found.append(script)
    if not found:
        return None
    return found[0] if len(found) == 1 else Script.MIXED


def add_marking(db: Session, item: Item, values: dict, actor) -> Marking:
    text = (values.get("text") or "").strip()
    if not text:
        raise Invalid({"text": "Type the marking exactly as read; use ? for an unreadable character."})
    values = {**values, "text": text}
    check_lengths(Marking, values)
    if not values.get("script"):
        values["script"] = guess_script(text)
    marking = Marking(panel_id=item.panel_id, item_id=item.id, created_by_id=getattr(actor, "id", None),
                      text_folded=fold(text), **{k: v for k, v in values.items() if k in MARKING_FIELDS})
    db.add(marking)
    db.flush()
    audit.record(db, "marking.create", actor=actor, obj=marking, label=f"{item.item_ref}: {text}",
                 after=snapshot(marking, MARKING_FIELDS), classification=item.classification)
    return marking


def update_marking(db: Session, marking: Marking, item: Item, values: dict, actor) -> None:
    if "text" in values and not (values["text"] or "").strip():
        raise Invalid({"text": "A marking needs its text."})
    check_lengths(Marking, {**values, "text": values.get("text", marking.text).strip()})
    before = snapshot(marking, MARKING_FIELDS)
    for name in MARKING_FIELDS:
        if name in values:
            setattr(marking, name, values[name].strip() if name == "text" else values[name])
    marking.text_folded = fold(marking.text)
    db.add(marking)
    b, a = audit.changes(before, snapshot(marking, MARKING_FIELDS))
    if b or a:
        audit.record(db, "marking.update", actor=actor, obj=marking, label=f"{item.item_ref}: {marking.text}",
                     before=b, after=a, classification=item.classification)
    db.flush()


def link_marking_photo(db: Session, marking: Marking, photo, box: tuple | None, actor) -> MarkingPhoto:
    """Say which photo shows a marking, optionally boxing it (normalised 0–1, upright original)."""
    item = db.get(Item, marking.item_id)
    if photo.panel_id != marking.panel_id or photo.deleted_at is not None or photo.case_id != item.case_id:
        raise Invalid({"photo_id": "Choose a photo of this item's case that has not been deleted."})
    if box is not None:
        x, y, w, h = (float(v) for v in box)
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1 and x + w <= 1.000001 and y + h <= 1.000001):
            raise Invalid({"box": "The box must lie inside the photo (coordinates between 0 and 1)."})
        box = (x, y, w, h)
    link = db.exec(select(MarkingPhoto).where(MarkingPhoto.marking_id == marking.id,
                                              MarkingPhoto.photo_id == photo.id)).first()
    before = {"box": link.box} if link else {}
    if link is None:
        link = MarkingPhoto(panel_id=marking.panel_id, marking_id=marking.id, photo_id=photo.id)
    link.box_x, link.box_y, link.box_w, link.box_h = box if box else (None, None, None, None)
    db.add(link)
    db.flush()
    audit.record(db, "marking.link_photo", actor=actor, obj=marking, label=f"{marking.text} ↔ photo {photo.id}",
                 before=before, after={"photo_id": photo.id, "box": link.box},
                 classification=most_restrictive(photo.classification, item.classification))
    return link


def unlink_marking_photo(db: Session, link: MarkingPhoto, photo, actor) -> None:
    marking = db.get(Marking, link.marking_id)
    item = db.get(Item, marking.item_id)
    audit.record(db, "marking.unlink_photo", actor=actor, obj=marking, label=f"{marking.text} ↔ photo {link.photo_id}",
                 before={"photo_id": link.photo_id, "box": link.box},
                 classification=most_restrictive(photo.classification, item.classification))
    db.delete(link)
    db.flush()
