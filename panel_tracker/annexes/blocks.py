"""Block kinds: what an annex can hold, and how each compiles for an edition.

A kind is registered once with :func:`register`; a block row stores only its kind's name
and settings (JSON), so a new kind (findings will add one) needs no migration. Each kind:

- ``check(db, panel_id, settings)`` returns the settings cleaned, or raises
  :class:`~panel_tracker.validation.Invalid` with a message for the form;
- ``compose(ctx, block)`` returns the document parts (see :mod:`.compose`) for the
  context's reader, leaving out what it may not see and saying so with ``ctx.withheld``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import select

from .. import countries, visibility
from ..cases.models import Case, Item, Marking, MarkingPhoto
from ..evidence.models import Photo
from ..inputs import whole_number
from ..templating import un_date, un_partial_date
from ..validation import Invalid
from . import images as images_mm


@dataclass(frozen=True)
class BlockKind:
    name: str
    label: str  # in the "add a block" menu
    noun: str  # in withheld notes, singular: "item sheet"
    check: Callable
    compose: Callable
    help: str = ""


_KINDS: dict[str, BlockKind] = {}


def register(kind: BlockKind) -> BlockKind:
    _KINDS[kind.name] = kind
    return kind


def kind(name: str) -> BlockKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"unknown block kind {name!r}") from None


def kinds() -> list[BlockKind]:
    return list(_KINDS.values())


# ------------------------------------------------------------------ shared


def image_box_mm(count: int, *, sheet: bool = False) -> tuple[int, int]:
    """The box (width, height in mm) each photo of a figure is fitted into, by how many the
    figure has: A4 with 20 mm margins leaves 170 mm; two side by side, three in a row beyond."""
    if count <= 1:
        return (110, 85) if sheet else (150, 120)
    if count == 2:
        return (82, 70)
    return (54, 48)


CATEGORY_LABELS = {"small_arm": "Small arm", "light_weapon": "Light weapon", "ammunition": "Ammunition",
                   "component": "Component", "uav": "UAV or UAV part", "ied_component": "IED component",
                   "packaging": "Packaging", "document": "Document", "other": "Other"}


def _label(value) -> str:
    if value is None:
        return ""
    raw = getattr(value, "value", value)
    return CATEGORY_LABELS.get(raw) or str(raw).replace("_", " ").capitalize()


def _ids(value, what: str) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, list | tuple):
        raise Invalid({"settings": f"{what}: a list of numbers."})
    out = []
    for v in value:
        number = v if isinstance(v, int) and not isinstance(v, bool) else whole_number(str(v))
        if number is None or number < 1:
            raise Invalid({"settings": f"{what}: {v!r} is not a record number."})
        out.append(number)
    return list(dict.fromkeys(out))


def _item_ids_by_ref(db, panel_id: int, refs) -> list[int]:
    """Item ids from references (``YEM-2024-009/04``) or ids, in the order given."""
    if isinstance(refs, str):
        refs = [r for r in refs.replace(",", " ").split() if r]
    out = []
    for ref in refs or []:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isascii() and ref.isdigit()):
            number = whole_number(str(ref))
            found = db.exec(select(Item.id).where(Item.panel_id == panel_id, Item.id == number)).first()
        else:
            found = db.exec(select(Item.id).where(Item.panel_id == panel_id, Item.item_ref == str(ref).strip())).first()
        if found is None:
            raise Invalid({"settings": f"No item {ref} in this panel."})
        out.append(found)
    return list(dict.fromkeys(out))


def _photos(ctx, ids: list[int]) -> list[Photo]:
    """The photos of ``ids`` the reader may see, in the order given."""
    if not ids:
        return []
    found = {p.id: p for p in ctx.db.exec(visibility.visible(Photo, ctx.reader).where(Photo.id.in_(ids))).all()}
    return [found[i] for i in ids if i in found]


def _boxes(ctx, photo_ids: list[int]) -> dict[int, list[list[float]]]:
    """Boxes of visible markings on each photo (normalised x, y, w, h)."""
    if not photo_ids:
        return {}
    out: dict[int, list[list[float]]] = {}
    links = ctx.db.exec(visibility.visible(MarkingPhoto, ctx.reader).where(MarkingPhoto.photo_id.in_(photo_ids))
                        .order_by(MarkingPhoto.id)).all()
    for link in links:
        if link.box:
            out.setdefault(link.photo_id, []).append([round(v, 5) for v in link.box])
    return out


def _figure(ctx, photos: list[Photo], title: str, source: str, key: str | None, *, boxes: bool,
            sheet: bool = False, withheld: int = 0, drawn: dict | None = None) -> dict:
    """A figure of ``photos``; ``drawn``: the boxes of each photo when already loaded."""
    drawn = (drawn if drawn is not None else _boxes(ctx, [p.id for p in photos])) if boxes else {}
    box = image_box_mm(len(photos), sheet=sheet)
    letters = "abcdefghijklmnopqrstuvwxyz"
    images = []
    for n, photo in enumerate(photos):
        caption = photo.caption.strip()
        if len(photos) > 1:
            caption = f"({letters[n % 26]}) {caption}".strip()
        width_mm, height_mm = images_mm.fit_mm(photo.width, photo.height, box)
        images.append({"sha256": photo.sha256, "width_mm": width_mm, "height_mm": height_mm,
                       "boxes": drawn.get(photo.id, []),
                       "caption": caption, "alt": caption or f"{title}, photograph {n + 1}"})
    sources = list(dict.fromkeys(p.source_line.strip() for p in photos if p.source_line.strip()))
    source = source.strip() or "; ".join(sources) or "Source: Panel"
    if not source.lower().startswith("source"):
        source = f"Source: {source}"
    notes = [f"{withheld} photograph{'s' if withheld > 1 else ''} withheld from this edition."] \
        if withheld and ctx.notes else []
    return {"kind": "figure", "label": ctx.next_figure(key), "title": title, "images": images,
            "source": source, "notes": notes}


# ------------------------------------------------------------------ item sheet


SHEET_FIELDS = (("category", "Category"), ("type", "Type"), ("make_marked", "Make as marked"),
                ("make_attributed", "Make as attributed"), ("model", "Model"), ("calibre", "Calibre"),
                ("country_marked", "Country of manufacture as marked"),
                ("country_attributed", "Country of manufacture as attributed"), ("year_marked", "Year as marked"),
                ("serial", "Serial number as read"), ("lot", "Lot"), ("factory_code", "Factory code"),
                ("headstamp", "Headstamp"), ("import_mark", "Import mark"), ("other_marks", "Other marks"),
                ("quantity", "Quantity"), ("condition", "Condition"), ("recovered_on", "Recovered on"),
                ("recovered_place", "Recovered at"), ("notes", "Notes"))


def describe(item: Item) -> str:
    """``YEM-2024-009/04: assault rifle (AK-pattern), Type 56-1`` (what the item is, not its secrets)."""
    what = ", ".join(part for part in (item.type, " ".join(p for p in (item.make_marked or item.make_attributed,
                                                                          item.model) if p)) if part)
    return f"{item.item_ref}: {what}" if what else item.item_ref


def _sheet_value(item: Item, name: str, shown: dict) -> str:
    value = shown.get(name) if name in Item.SOURCE_FIELDS else getattr(item, name)
    if name in ("country_marked", "country_attributed"):
        return countries.name(value) if value else ""
    if name in ("category", "condition"):
        return _label(value)
    if name == "calibre":
        return item.calibre_marked or item.calibre
    if name == "recovered_on":
        return un_partial_date(value)
    if name == "quantity":
        return f"{value:,}" if value is not None else ""
    return "" if value is None else str(value)


def check_item_sheet(db, panel_id: int, settings: dict) -> dict:
    refs = settings.get("item") or settings.get("item_id")
    ids = _item_ids_by_ref(db, panel_id, [refs] if isinstance(refs, int) else refs)
    if len(ids) != 1:
        raise Invalid({"settings": "An item sheet shows one item: give its reference (e.g. YEM-2024-009/04)."})
    photo_ids = _ids(settings.get("photo_ids"), "Photos")
    if photo_ids:
        own = set(db.exec(select(Photo.id).where(Photo.panel_id == panel_id, Photo.id.in_(photo_ids),
                                                 Photo.item_id == ids[0])).all())
        linked = set(db.exec(select(MarkingPhoto.photo_id).join(Marking, Marking.id == MarkingPhoto.marking_id)
                             .where(Marking.item_id == ids[0], MarkingPhoto.photo_id.in_(photo_ids))).all())
        stray = [p for p in photo_ids if p not in own | linked]
        if stray:
            raise Invalid({"settings": f"Photo {stray[0]} is not a photo of this item."})
    return {"item_id": ids[0], "photo_ids": photo_ids, "boxes": bool(settings.get("boxes", True))}


@dataclass
class SheetFacts:
    """What the item sheets of one annex need from the database, loaded for all of them at
    once (:func:`sheet_facts`): a few queries an annex, not several a sheet."""

    items: dict  # id -> Item the reader may see
    case_refs: dict  # case id -> ref
    markings: dict  # item id -> [Marking the reader may see], by id
    marking_counts: dict  # item id -> markings not deleted (seen or not)
    default_photos: dict  # item id -> [photo id]: its own and its markings' photos, by taken_at, id
    photos: dict  # photo id -> Photo the reader may see
    boxes: dict  # photo id -> [[x, y, w, h]] of the markings the reader may see


def _in(column, ids: list[int]):
    """``column IN ids`` in slices a database accepts, as one OR'ed condition."""
    ids = sorted(set(ids))
    return sa.or_(*(column.in_(ids[n:n + 500]) for n in range(0, len(ids), 500))) if ids else sa.false()


def sheet_facts(ctx, rows: list) -> SheetFacts:
    """The facts of the item sheets among ``rows`` (an annex's blocks), kept on ``ctx`` so each
    sheet of the annex finds them (a sheet composed on its own loads its own)."""
    cached = ctx.prefetched.get("item_sheet")
    if cached is not None and cached[0] is rows:
        return cached[1]
    wanted = [b for b in rows if b.kind == "item_sheet"]
    db, reader = ctx.db, ctx.reader
    item_ids = [i for b in wanted if isinstance(i := (b.settings or {}).get("item_id"), int)]
    items = {i.id: i for i in db.exec(visibility.visible(Item, reader).where(_in(Item.id, item_ids))).all()}
    seen = list(items)
    case_refs = dict(db.exec(select(Case.id, Case.ref).where(_in(Case.id, [i.case_id for i in items.values()])))
                     .all())
    markings: dict[int, list] = {}
    for marking in db.exec(visibility.visible(Marking, ctx.reader).where(_in(Marking.item_id, seen))
                           .order_by(Marking.id)).all():
        markings.setdefault(marking.item_id, []).append(marking)
    counts = dict(db.exec(select(Marking.item_id, sa.func.count()).where(
        _in(Marking.item_id, seen), Marking.deleted_at.is_(None)).group_by(Marking.item_id)).all())
    # Each item's own photos and its markings' photos, in one list ordered as one item's would be.
    linked: dict[int, set[int]] = {}
    for photo_id, item_id in db.exec(select(MarkingPhoto.photo_id, Marking.item_id)
                                     .join(Marking, Marking.id == MarkingPhoto.marking_id)
                                     .where(_in(Marking.item_id, seen), Marking.deleted_at.is_(None))).all():
        linked.setdefault(photo_id, set()).add(item_id)
    default_photos: dict[int, list[int]] = {}
    panel_id = ctx.panel.id
    for photo_id, item_id in db.exec(select(Photo.id, Photo.item_id).where(
            Photo.panel_id == panel_id, Photo.deleted_at.is_(None), Photo.purged_at.is_(None),
            sa.or_(_in(Photo.item_id, seen), _in(Photo.id, list(linked)))).order_by(Photo.taken_at, Photo.id)).all():
        for owner in sorted(({item_id} if item_id in items else set()) | linked.get(photo_id, set())):
            default_photos.setdefault(owner, []).append(photo_id)
    photo_ids = {p for b in wanted for p in (b.settings or {}).get("photo_ids") or []}
    photo_ids |= {p for ids in default_photos.values() for p in ids}
    photos = {p.id: p for p in db.exec(visibility.visible(Photo, reader).where(_in(Photo.id, list(photo_ids)))).all()}
    boxes: dict[int, list[list[float]]] = {}
    for link in db.exec(visibility.visible(MarkingPhoto, reader).where(_in(MarkingPhoto.photo_id, list(photos)))
                        .order_by(MarkingPhoto.id)).all():
        if link.box:
            boxes.setdefault(link.photo_id, []).append([round(v, 5) for v in link.box])
    facts = SheetFacts(items, case_refs, markings, counts, default_photos, photos, boxes)
    ctx.prefetched["item_sheet"] = (rows, facts)
    return facts


def compose_item_sheet(ctx, block) -> list[dict]:
    settings = block.settings or {}
    facts = sheet_facts(ctx, ctx.blocks if any(b is block for b in ctx.blocks) else [block])
    item = facts.items.get(settings.get("item_id"))
    if item is None:
        return ctx.withheld("item sheet")
    ctx.item_ids.add(item.id)
    shown = visibility.shown(item, ctx.reader, Item.SOURCE_FIELDS)
    fields = [["Reference", f"{item.item_ref} (case {facts.case_refs[item.case_id]})"]]
    fields += [[label, value] for name, label in SHEET_FIELDS if (value := _sheet_value(item, name, shown))]
    markings = facts.markings.get(item.id, [])
    hidden_markings = facts.marking_counts.get(item.id, 0) - len(markings)
    table = None
    if markings:
        table = {"kind": "table", "label": "", "title": "Markings", "columns": ["Marking as read", "Kind", "Location",
                                                                                  "Script"],
                 "rows": [[m.text, _label(m.kind), m.location, _label(m.script)] for m in markings],
                 "source": "", "notes": [], "summary": ""}
    # The chosen photos, or all of the item's; those the reader may see, and how many were withheld.
    wanted = settings.get("photo_ids") or facts.default_photos.get(item.id, [])
    photos = [facts.photos[i] for i in wanted if i in facts.photos]
    withheld_photos = len(wanted) - len(photos)
    figure = None
    if photos:
        figure = _figure(ctx, photos, describe(item), block.source_line, block.key, boxes=settings.get("boxes", True),
                         sheet=True, withheld=withheld_photos, drawn=facts.boxes)
    notes = []
    if ctx.notes and (hidden_markings or (withheld_photos and figure is None)):
        if hidden_markings:
            notes.append(f"{hidden_markings} marking{'s' if hidden_markings > 1 else ''} withheld from this edition.")
        if withheld_photos and figure is None:
            notes.append(f"{withheld_photos} photograph{'s' if withheld_photos > 1 else ''} "
                         "withheld from this edition.")
    return [{"kind": "item_sheet", "heading": describe(item), "caption": block.caption, "fields": fields,
             "markings": table, "figure": figure, "notes": notes}]


# ------------------------------------------------------------------ photo figure


def check_photo_figure(db, panel_id: int, settings: dict) -> dict:
    ids = _ids(settings.get("photo_ids"), "Photos")
    if not ids:
        raise Invalid({"settings": "A figure shows at least one photo: give the photo numbers."})
    found = set(db.exec(select(Photo.id).where(Photo.panel_id == panel_id, Photo.id.in_(ids),
                                               Photo.deleted_at.is_(None))).all())
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid({"settings": f"No photo {missing[0]} in this panel."})
    return {"photo_ids": ids, "boxes": bool(settings.get("boxes", False))}


def compose_photo_figure(ctx, block) -> list[dict]:
    ids = (block.settings or {}).get("photo_ids") or []
    photos = _photos(ctx, ids)
    if not photos:
        return ctx.withheld("figure")
    ctx.item_ids.update(p.item_id for p in photos if p.item_id)
    return [_figure(ctx, photos, block.caption, block.source_line, block.key,
                    boxes=(block.settings or {}).get("boxes", False), withheld=len(ids) - len(photos))]


# ------------------------------------------------------------------ table of items


ITEM_COLUMNS = {"item_ref": "Ref.", "category": "Category", "type": "Type", "make": "Make", "model": "Model",
                "calibre": "Calibre", "country": "Country of manufacture", "serial": "Serial number",
                "lot": "Lot", "year": "Year", "quantity": "Qty", "condition": "Condition",
                "recovered_on": "Recovered on"}
DEFAULT_ITEM_COLUMNS = ["item_ref", "type", "make", "model", "calibre", "serial", "lot", "year", "quantity"]


def check_item_table(db, panel_id: int, settings: dict) -> dict:
    ids = _item_ids_by_ref(db, panel_id, settings.get("items") or settings.get("item_ids"))
    if not ids:
        raise Invalid({"settings": "A table of items lists at least one item: give their references."})
    columns = settings.get("columns") or DEFAULT_ITEM_COLUMNS
    if isinstance(columns, str):
        columns = [c for c in columns.replace(",", " ").split() if c]
    unknown = [c for c in columns if c not in ITEM_COLUMNS]
    if unknown:
        raise Invalid({"settings": f"Unknown column {unknown[0]!r}; columns: {', '.join(ITEM_COLUMNS)}."})
    return {"item_ids": ids, "columns": list(dict.fromkeys(columns))}


def _item_cell(item: Item, column: str) -> str:
    if column == "make":
        return item.make_marked or item.make_attributed
    if column == "country":
        code = item.country_marked or item.country_attributed
        return countries.name(code) if code else ""
    if column == "calibre":
        return item.calibre_marked or item.calibre
    if column == "year":
        return item.year_marked
    if column in ("category", "condition"):
        return _label(getattr(item, column))
    if column == "recovered_on":
        return un_partial_date(item.recovered_on)
    if column == "quantity":
        return f"{item.quantity:,}"
    return str(getattr(item, column) or "")


def compose_item_table(ctx, block) -> list[dict]:
    settings = block.settings or {}
    ids = settings.get("item_ids") or []
    found = {i.id: i for i in ctx.db.exec(visibility.visible(Item, ctx.reader).where(Item.id.in_(ids))).all()} \
        if ids else {}
    items = [found[i] for i in ids if i in found]
    if not items:
        return ctx.withheld("table")
    ctx.item_ids.update(found)
    columns = settings.get("columns") or DEFAULT_ITEM_COLUMNS
    withheld = len(ids) - len(items)
    notes = [f"{withheld} item{'s' if withheld > 1 else ''} withheld from this edition."] if withheld and ctx.notes \
        else []
    return [{"kind": "table", "label": ctx.next_table(block.key), "title": block.caption or "Items",
             "columns": [ITEM_COLUMNS[c] for c in columns],
             "rows": [[_item_cell(item, c) for c in columns] for item in items],
             "source": block.source_line, "notes": notes, "summary": ""}]


# ------------------------------------------------------------------ trace requests as at the cut-off


def check_trace_status(db, panel_id: int, settings: dict) -> dict:
    on = settings.get("as_at") or ""
    if on:
        try:
            date.fromisoformat(str(on))
        except ValueError:
            raise Invalid({"settings": "As at: a date as YYYY-MM-DD, or empty for the report's cut-off."}) from None
    return {"as_at": str(on)}


def compose_trace_status(ctx, block) -> list[dict]:
    from ..traces import queries, stats
    from ..traces.models import LetterKind

    on = date.fromisoformat(block.settings["as_at"]) if (block.settings or {}).get("as_at") else ctx.cut_off
    on = on or date.today()
    facts = [f for f in queries.letter_facts(ctx.db, visibility.visible(_letter(), ctx.reader))
             if f.letter.kind == LetterKind.TRACE_REQUEST]
    rows, summary = stats.as_at_rows(ctx.db, facts, on, ctx.reader.clearance)
    when = un_date(on)
    table_rows = []
    for r in rows:
        letter = r.facts.letter
        ref = letter.ref + (f" (follow-up to Ref. {r.parent_ref})" if r.parent_ref else "")
        items = ", ".join(r.item_refs)
        if r.withheld and ctx.notes:
            items = (items + "; " if items else "") + f"{r.withheld} item{'s' if r.withheld > 1 else ''} withheld"
        addressee = r.facts.addressee.name
        table_rows.append([ref, items, addressee, un_date(r.sent_on),
                           "; ".join(un_date(d) for d in r.reminders), un_date(r.acknowledged_on),
                           un_date(r.replied_on), r.wording])
    return [{"kind": "table", "label": ctx.next_table(block.key),
             "title": block.caption or f"Status of trace requests as at {when}",
             "columns": ["Ref.", "Items", "Addressed to", "Sent", "Reminders", "Acknowledged", "Replied",
                         f"Status as at {when}"],
             "rows": table_rows, "source": block.source_line or "Source: Panel", "notes": [],
             "summary": (f"As at {when}: {summary['sent']} sent, {summary['acknowledged']} acknowledged, "
                         f"{summary['replied']} replied, {summary['traced']} item"
                         f"{'s' if summary['traced'] != 1 else ''} traced, {summary['no_response']} with no "
                         "response.")}]


def _letter():
    from ..traces.models import Letter

    return Letter


# ------------------------------------------------------------------ free text


def check_text(db, panel_id: int, settings: dict) -> dict:
    body = str(settings.get("text") or "").strip()
    if not body:
        raise Invalid({"settings": "A text block needs its text."})
    if len(body) > 100_000:
        raise Invalid({"settings": "A text block holds at most 100,000 characters."})
    return {"text": body}


def compose_text(ctx, block) -> list[dict]:
    return [{"kind": "text", "source_text": (block.settings or {}).get("text", "")}]


register(BlockKind("item_sheet", "Item sheet", "item sheet", check_item_sheet, compose_item_sheet,
                   "One item: its fields, its markings table and chosen photos, boxes drawn if asked."))
register(BlockKind("photo_figure", "Photo figure", "figure", check_photo_figure, compose_photo_figure,
                   "One or several photos with a caption and a source line."))
register(BlockKind("item_table", "Table of items", "table", check_item_table, compose_item_table,
                   "Chosen items as rows, with the columns you pick."))
register(BlockKind("trace_status", "Trace requests as at the cut-off", "table", check_trace_status,
                   compose_trace_status, "Every trace request's status as at the report's cut-off date."))
register(BlockKind("text", "Text", "text", check_text, compose_text, "Free text (Markdown)."))
