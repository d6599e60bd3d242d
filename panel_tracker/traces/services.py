"""Changes to addressees and letters. Each one validates, writes the audit record in the
same transaction and flushes; the caller (view, CLI, importer) commits once.

The lifecycle (domain.md §6): ``draft → sent → acknowledged → partially_answered →
answered → closed`` (with an outcome), or ``withdrawn`` from any open state. Forward
skips are allowed (a reply implies acknowledgement); going back is only
:func:`correct_letter_status`, which voids the later events with a reason.
"""
from __future__ import annotations

import re
from datetime import date
from typing import IO

from sqlmodel import Session, select

from .. import audit, countries
from ..classification import Classification, coerce
from ..db import utcnow
from ..validation import Invalid
from .models import (Addressee, AddresseeKind, AddresseeRole, EventKind, ItemOutcome, ItemReply, Letter, LetterEvent,
                     LetterItem, LetterKind, LetterStatus, LetterTemplate, Outcome, Reply, ReplyDocument)

ADDRESSEE_FIELDS = ("kind", "name", "country", "role", "channel", "notes")
LETTER_FIELDS = ("kind", "addressee_id", "subject", "body", "reply_by", "notes")
OPEN = (LetterStatus.SENT, LetterStatus.ACKNOWLEDGED, LetterStatus.PARTIALLY_ANSWERED)
ENDED = (LetterStatus.CLOSED, LetterStatus.WITHDRAWN)
_PARTIAL_DATE = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")


def _actor_id(actor):
    return getattr(actor, "id", None)


def _snapshot(obj, fields) -> dict:
    return {name: getattr(obj, name) for name in fields}


def _record(db: Session, action: str, obj, actor, *, before=None, after=None, label: str = "", classification=None):
    audit.record(db, action, actor=actor, obj=obj, label=label or getattr(obj, "ref", "") or getattr(obj, "name", ""),
                 before=before, after=after,
                 classification=classification if classification is not None else getattr(
                     obj, "classification", Classification.PUBLIC))


# ------------------------------------------------------------------ addressees


def _check_addressee(values: dict) -> dict:
    errors = {}
    kind = values.get("kind") or AddresseeKind.COMPANY.value
    if kind not in {k.value for k in AddresseeKind}:
        errors["kind"] = "Choose a State, company, organisation or individual."
    code = (values.get("country") or "").strip().upper() or None
    if code and not countries.is_known(code):
        errors["country"] = f"{code!r} is not an ISO 3166 alpha-3 code (e.g. CHN, ARE)."
    if kind == AddresseeKind.STATE.value and not code:
        errors["country"] = "A State is given by its ISO 3166 alpha-3 code."
    name = (values.get("name") or "").strip()
    if kind == AddresseeKind.STATE.value and code and countries.is_known(code):
        name = countries.name(code)
    if not name:
        errors["name"] = "Give the name."
    role = values.get("role") or (AddresseeRole.GOVERNMENT.value if kind == "state" else AddresseeRole.OTHER.value)
    if role not in {r.value for r in AddresseeRole}:
        errors["role"] = "Choose a role from the list."
    if errors:
        raise Invalid(errors)
    return {**values, "kind": AddresseeKind(kind), "name": name[:300], "country": code, "role": AddresseeRole(role)}


def add_addressee(db: Session, panel, values: dict, actor) -> Addressee:
    values = _check_addressee(values)
    if values["kind"] == AddresseeKind.STATE:
        existing = find_state(db, panel, values["country"])
        if existing is not None:
            raise Invalid({"country": f"{existing.name} is already in the directory."})
    addressee = Addressee(panel_id=panel.id, created_by_id=_actor_id(actor),
                          **{k: values.get(k) or ("" if k in ("channel", "notes") else None)
                             for k in ADDRESSEE_FIELDS})
    db.add(addressee)
    db.flush()
    _record(db, "addressee.create", addressee, actor, after=_snapshot(addressee, ADDRESSEE_FIELDS))
    return addressee


def update_addressee(db: Session, addressee: Addressee, values: dict, actor) -> None:
    values = _check_addressee({**_snapshot(addressee, ADDRESSEE_FIELDS),
                               "kind": addressee.kind.value, "role": addressee.role.value, **values})
    before = _snapshot(addressee, ADDRESSEE_FIELDS)
    for name in ADDRESSEE_FIELDS:
        if name in values:
            setattr(addressee, name, values[name] if values[name] is not None or name == "country" else "")
    db.add(addressee)
    b, a = audit.changes(before, _snapshot(addressee, ADDRESSEE_FIELDS))
    if b or a:
        _record(db, "addressee.update", addressee, actor, before=b, after=a)
    db.flush()


def find_state(db: Session, panel, code: str) -> Addressee | None:
    return db.exec(select(Addressee).where(Addressee.panel_id == panel.id, Addressee.kind == AddresseeKind.STATE,
                                           Addressee.country == code)).first()


def state_addressee(db: Session, panel, code: str, actor) -> Addressee:
    """The State ``code`` in the directory, added (through its Permanent Mission) if new."""
    return find_state(db, panel, code) or add_addressee(
        db, panel, {"kind": "state", "country": code, "channel": "Permanent Mission to the United Nations"}, actor)


def named_addressee(db: Session, panel, name: str, code: str | None, actor) -> Addressee:
    """A company (or other non-State party) by name and country, added if new."""
    found = db.exec(select(Addressee).where(Addressee.panel_id == panel.id, Addressee.kind != AddresseeKind.STATE,
                                            Addressee.name == name.strip(), Addressee.country == code)).first()
    return found or add_addressee(db, panel, {"kind": "company", "name": name, "country": code}, actor)


# ------------------------------------------------------------------ letters


def next_letter_ref(db: Session, panel) -> str:
    prefix = f"{panel.code}-L-"
    refs = db.exec(select(Letter.ref).where(Letter.panel_id == panel.id, Letter.ref.startswith(prefix))).all()
    numbers = [int(r[len(prefix):]) for r in refs if r[len(prefix):].isdigit()]
    return f"{prefix}{(max(numbers) + 1) if numbers else 1:03d}"


def _check_letter(db: Session, panel, values: dict) -> dict:
    errors = {}
    kind = values.get("kind") or LetterKind.TRACE_REQUEST.value
    if kind not in {k.value for k in LetterKind}:
        errors["kind"] = "Choose the kind of letter."
    addressee = db.get(Addressee, values.get("addressee_id") or 0)
    if addressee is None or addressee.panel_id != panel.id:
        errors["addressee_id"] = "Choose the addressee from the directory."
    if errors:
        raise Invalid(errors)
    return {**values, "kind": LetterKind(kind)}


def _items_of_panel(db: Session, panel, item_ids) -> list:
    from ..cases.models import Item

    ids = list(dict.fromkeys(int(i) for i in item_ids or []))
    items = db.exec(select(Item).where(Item.panel_id == panel.id, Item.id.in_(ids),
                                       Item.deleted_at.is_(None))).all() if ids else []
    if len(items) != len(ids):
        raise Invalid({"item_ids": "An item chosen is not (or no longer) in this panel."})
    order = {item_id: n for n, item_id in enumerate(ids)}
    return sorted(items, key=lambda item: order[item.id])


def draft_letter(db: Session, panel, values: dict, actor, *, item_ids=(), ref: str | None = None,
                 follow_up_of: Letter | None = None) -> Letter:
    """A new letter in ``draft``. A trace request lists the items it asks about."""
    values = _check_letter(db, panel, values)
    items = _items_of_panel(db, panel, item_ids)
    if values["kind"] == LetterKind.TRACE_REQUEST and not items:
        raise Invalid({"item_ids": "A trace request asks about at least one item: tick the items."})
    letter = Letter(panel_id=panel.id, ref=ref or next_letter_ref(db, panel), created_by_id=_actor_id(actor),
                    follow_up_of_id=follow_up_of.id if follow_up_of else None,
                    classification=coerce(values.get("classification") or Classification.PANEL),
                    **{k: values[k] for k in LETTER_FIELDS if values.get(k) is not None})
    db.add(letter)
    db.flush()
    for position, item in enumerate(items):
        db.add(LetterItem(panel_id=panel.id, letter_id=letter.id, item_id=item.id, position=position))
    db.flush()
    _record(db, "letter.create", letter, actor,
            after={**_snapshot(letter, ("ref", *LETTER_FIELDS, "follow_up_of_id")),
                   "items": [item.item_ref for item in items]})
    return letter


def update_letter(db: Session, letter: Letter, values: dict, actor, *, item_ids=None) -> None:
    if letter.status != LetterStatus.DRAFT:
        raise Invalid({"": f"Letter {letter.ref} has been sent; only a draft can be edited."})
    from ..auth.models import Panel

    panel = db.get(Panel, letter.panel_id)
    values = _check_letter(db, panel, {**_snapshot(letter, LETTER_FIELDS), "kind": letter.kind.value, **values})
    before = _snapshot(letter, LETTER_FIELDS)
    for name in LETTER_FIELDS:
        if name in values:
            setattr(letter, name, values[name])
    db.add(letter)
    if item_ids is not None:
        items = _items_of_panel(db, panel, item_ids)
        current = {li.item_id: li for li in db.exec(select(LetterItem).where(LetterItem.letter_id == letter.id))}
        for item_id, link in current.items():
            if item_id not in {i.id for i in items}:
                db.delete(link)
        for position, item in enumerate(items):
            link = current.get(item.id) or LetterItem(panel_id=panel.id, letter_id=letter.id, item_id=item.id)
            link.position = position
            db.add(link)
    b, a = audit.changes(before, _snapshot(letter, LETTER_FIELDS))
    if b or a or item_ids is not None:
        _record(db, "letter.update", letter, actor, before=b, after={**a, **({"item_ids": list(item_ids)}
                                                                              if item_ids is not None else {})})
    db.flush()


def events_of(db: Session, letter: Letter, *, include_voided: bool = False) -> list[LetterEvent]:
    stmt = select(LetterEvent).where(LetterEvent.letter_id == letter.id)
    if not include_voided:
        stmt = stmt.where(LetterEvent.voided.is_(False))
    return list(db.exec(stmt.order_by(LetterEvent.happened_on, LetterEvent.id)))


def _add_event(db: Session, letter: Letter, kind: EventKind, on: date, actor, note: str = "") -> LetterEvent:
    event = LetterEvent(panel_id=letter.panel_id, letter_id=letter.id, kind=kind, happened_on=on, note=note,
                        created_by_id=_actor_id(actor))
    db.add(event)
    db.flush()
    return event


def _check_date(on, letter: Letter, field: str = "on", today: date | None = None) -> date:
    if not isinstance(on, date):
        raise Invalid({field: "Give the date (YYYY-MM-DD)."})
    if on > (today or utcnow().date()):
        raise Invalid({field: "That date is in the future; record it on the day it happens."})
    if letter.sent_on and on < letter.sent_on:
        raise Invalid({field: f"That is before the letter was sent ({letter.sent_on.isoformat()})."})
    return on


def send_letter(db: Session, letter: Letter, actor, *, sent_on: date, reference: str = "", channel: str = "",
                today: date | None = None) -> None:
    """A coordinator approves a draft and records it as sent (date, reference, channel)."""
    if letter.status != LetterStatus.DRAFT:
        raise Invalid({"": f"Letter {letter.ref} is {letter.status.label.lower()}; only a draft can be sent."})
    _check_date(sent_on, letter, "sent_on", today)
    before = _snapshot(letter, ("status", "sent_on", "sent_reference", "channel"))
    letter.status, letter.sent_on = LetterStatus.SENT, sent_on
    letter.sent_reference, letter.channel = (reference or "").strip()[:120], (channel or "").strip()[:120]
    letter.approved_by_id = _actor_id(actor)
    db.add(letter)
    _add_event(db, letter, EventKind.SENT, sent_on, actor)
    _record(db, "letter.send", letter, actor, before=before,
            after=_snapshot(letter, ("status", "sent_on", "sent_reference", "channel")))


ALLOWED_MOVES = {
    LetterStatus.SENT: {LetterStatus.ACKNOWLEDGED, LetterStatus.PARTIALLY_ANSWERED, LetterStatus.ANSWERED,
                        LetterStatus.CLOSED, LetterStatus.WITHDRAWN},
    LetterStatus.ACKNOWLEDGED: {LetterStatus.PARTIALLY_ANSWERED, LetterStatus.ANSWERED, LetterStatus.CLOSED,
                                LetterStatus.WITHDRAWN},
    LetterStatus.PARTIALLY_ANSWERED: {LetterStatus.ANSWERED, LetterStatus.CLOSED, LetterStatus.WITHDRAWN},
    LetterStatus.ANSWERED: {LetterStatus.CLOSED},
    LetterStatus.DRAFT: {LetterStatus.WITHDRAWN},
}


def move_letter(db: Session, letter: Letter, to: LetterStatus | str, on: date, actor, *, outcome=None,
                note: str = "", today: date | None = None) -> None:
    """Move a letter forward (skips allowed); every move is a dated event."""
    to = LetterStatus(to)
    if to == LetterStatus.SENT:
        raise Invalid({"to": "A draft is sent with “Record as sent” (date, reference, channel)."})
    if to not in ALLOWED_MOVES.get(letter.status, set()):
        if to.rank < letter.status.rank and letter.status != LetterStatus.WITHDRAWN:
            raise Invalid({"to": f"Letter {letter.ref} is {letter.status.label.lower()}; going back to "
                                 f"{to.label.lower()} is a correction: use “Correct the status” and say why."})
        raise Invalid({"to": f"Letter {letter.ref} is {letter.status.label.lower()}; it cannot become "
                             f"{to.label.lower()}."})
    _check_date(on, letter, "on", today)
    if to == LetterStatus.CLOSED:
        if outcome not in {o.value for o in Outcome} | set(Outcome):
            raise Invalid({"outcome": "A closed letter needs its outcome: traced, inconclusive, untraceable or refused."})
        letter.outcome = Outcome(outcome)
    if to == LetterStatus.WITHDRAWN and not note.strip():
        raise Invalid({"note": "Say why the letter is withdrawn."})
    before = {"status": letter.status, "outcome": None}
    letter.status = to
    db.add(letter)
    _add_event(db, letter, EventKind(to.value), on, actor, note)
    _record(db, f"letter.{to.value}", letter, actor, before=before,
            after={"status": to, "outcome": letter.outcome, "on": on, "note": note})


def add_reminder(db: Session, letter: Letter, on: date, actor, *, note: str = "", today: date | None = None) -> None:
    """A reminder sent to the addressee: a dated event that moves no due date."""
    if letter.status not in OPEN:
        raise Invalid({"": f"Letter {letter.ref} is {letter.status.label.lower()}; reminders go with open letters."})
    _check_date(on, letter, "on", today)
    _add_event(db, letter, EventKind.REMINDER, on, actor, note)
    _record(db, "letter.reminder", letter, actor, after={"on": on, "note": note})


def correct_letter_status(db: Session, letter: Letter, to: LetterStatus | str, reason: str, actor) -> int:
    """Go back to an earlier status: the events past it are voided (kept, with the reason)."""
    to = LetterStatus(to)
    if not (reason or "").strip():
        raise Invalid({"reason": "Say why the status is corrected; the reason goes into the audit log."})
    if to == LetterStatus.WITHDRAWN or to.rank >= letter.status.rank and letter.status != LetterStatus.WITHDRAWN:
        raise Invalid({"to": f"A correction goes back: choose a status before {letter.status.label.lower()}."})
    voided = 0
    for event in events_of(db, letter):
        if event.kind == EventKind.REMINDER and to != LetterStatus.DRAFT:
            continue
        if event.kind == EventKind.REMINDER or LetterStatus(event.kind.value).rank > to.rank:
            event.voided, event.void_reason = True, reason.strip()
            db.add(event)
            voided += 1
    before = _snapshot(letter, ("status", "outcome", "sent_on"))
    letter.status = to
    if to.rank < LetterStatus.CLOSED.rank:
        letter.outcome = None
    if to == LetterStatus.DRAFT:
        letter.sent_on = None
    db.add(letter)
    _record(db, "letter.correct", letter, actor, before=before,
            after={**_snapshot(letter, ("status", "outcome", "sent_on")), "reason": reason.strip(),
                   "events_voided": voided})
    db.flush()
    return voided


# ------------------------------------------------------------------ replies


MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
_MAGIC = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
          (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))


class DocumentRefused(Invalid):
    """A reply document the store will not take; ``status`` is the HTTP answer (413 or 415)."""

    def __init__(self, message: str, status: int):
        super().__init__({"documents": message})
        self.status = status


def sniff_document(head: bytes) -> str | None:
    """The MIME type of a PDF or a scan (JPEG, PNG, TIFF) by its first bytes; None otherwise."""
    return next((mime for magic, mime in _MAGIC if head.startswith(magic)), None)


def _store_document(db: Session, panel, reply: Reply, stream: IO[bytes], filename: str, actor) -> ReplyDocument:
    from ..evidence.services import _safe_filename, photo_store
    from ..evidence.storage import TooLarge

    head = stream.read(8)
    mime = sniff_document(head)
    name = _safe_filename(filename)
    if mime is None:
        raise DocumentRefused(f"{name}: a reply document must be a PDF or a scan (JPEG, PNG or TIFF).", 415)
    stream.seek(0)
    try:
        stored = photo_store().put_original(panel.code, stream, max_bytes=MAX_DOCUMENT_BYTES)
    except TooLarge as exc:
        raise DocumentRefused(f"{name}: {exc}", 413) from exc
    document = ReplyDocument(panel_id=panel.id, reply_id=reply.id, sha256=stored.sha256, size_bytes=stored.size,
                             mime=mime, filename=name, classification=reply.classification,
                             created_by_id=_actor_id(actor))
    db.add(document)
    db.flush()
    _record(db, "reply_document.create", document, actor, label=f"{name} ({stored.sha256[:12]})",
            after={"sha256": stored.sha256, "size_bytes": stored.size, "mime": mime, "filename": name})
    return document


def _check_item_outcome(db: Session, panel, letter: Letter, entry: dict, actor) -> dict:
    link = db.get(LetterItem, int(entry["letter_item_id"]))
    if link is None or link.letter_id != letter.id:
        raise Invalid({"items": "An item outcome names an item this letter does not list."})
    if entry["outcome"] not in {o.value for o in ItemOutcome}:
        raise Invalid({"items": "Choose an outcome from the list."})
    outcome = ItemOutcome(entry["outcome"])
    party_id = entry.get("party_id") or None
    party_name = (entry.get("party_name") or "").strip()
    party_country = (entry.get("party_country") or "").strip().upper() or None
    if outcome.names_party and not party_id:
        if party_name:
            party_id = named_addressee(db, panel, party_name, party_country, actor).id
        elif party_country:
            if not countries.is_known(party_country):
                raise Invalid({"items": f"{party_country!r} is not an ISO 3166 alpha-3 code."})
            party_id = state_addressee(db, panel, party_country, actor).id
        else:
            raise Invalid({"items": f"“{outcome.label}” names the party: choose it, or give a State or a name."})
    if party_id:
        party = db.get(Addressee, int(party_id))
        if party is None or party.panel_id != panel.id:
            raise Invalid({"items": "Choose the party from the directory."})
    transferred_on = (entry.get("transferred_on") or "").strip()
    if transferred_on and not _PARTIAL_DATE.match(transferred_on):
        raise Invalid({"items": "A transfer date is YYYY, YYYY-MM or YYYY-MM-DD."})
    if outcome == ItemOutcome.REFUSED and not (entry.get("note") or "").strip():
        raise Invalid({"items": "Give the reasons for the refusal, as the reply states them."})
    return {"letter_item_id": link.id, "outcome": outcome, "party_id": int(party_id) if party_id else None,
            "transferred_on": transferred_on, "licence": (entry.get("licence") or "").strip()[:200],
            "note": (entry.get("note") or "").strip()}


def record_reply(db: Session, letter: Letter, actor, *, received_on: date, summary: str, complete: bool,
                 item_outcomes=(), documents=(), today: date | None = None) -> Reply:
    """Record a reply (partial or complete), its per-item outcomes and documents; the
    letter moves to partially answered or answered (a reply implies acknowledgement)."""
    from ..auth.models import Panel

    if letter.status not in OPEN and letter.status != LetterStatus.ANSWERED:
        raise Invalid({"": f"Letter {letter.ref} is {letter.status.label.lower()}; a reply is recorded on a sent letter."})
    _check_date(received_on, letter, "received_on", today)
    if not (summary or "").strip():
        raise Invalid({"summary": "Summarise the reply (what it says, in a sentence or two)."})
    panel = db.get(Panel, letter.panel_id)
    entries = [_check_item_outcome(db, panel, letter, entry, actor) for entry in item_outcomes if entry.get("outcome")]
    reply = Reply(panel_id=letter.panel_id, letter_id=letter.id, received_on=received_on, summary=summary.strip(),
                  complete=bool(complete), classification=letter.classification, created_by_id=_actor_id(actor))
    db.add(reply)
    db.flush()
    for entry in entries:
        db.add(ItemReply(panel_id=letter.panel_id, reply_id=reply.id, **entry))
    for stream, filename in documents:
        _store_document(db, panel, reply, stream, filename, actor)
    db.flush()
    _record(db, "reply.create", reply, actor, label=f"reply to {letter.ref}",
            after={"letter": letter.ref, "received_on": received_on, "summary": reply.summary,
                   "complete": reply.complete,
                   "items": [{**e, "outcome": e["outcome"].value} for e in entries]})
    to = LetterStatus.ANSWERED if complete else LetterStatus.PARTIALLY_ANSWERED
    if to.rank > letter.status.rank:
        move_letter(db, letter, to, received_on, actor, note="reply recorded", today=today)
    return reply


def draft_follow_up(db: Session, item_reply: ItemReply, actor) -> Letter:
    """A trace request to the party a reply names for an item, linked to the first letter."""
    from ..auth.models import Panel

    if item_reply.follow_up_id:
        raise Invalid({"": "A follow-up request for this item already exists."})
    if not item_reply.party_id:
        raise Invalid({"": "This outcome names no party to write to."})
    link = db.get(LetterItem, item_reply.letter_item_id)
    first = db.get(Letter, link.letter_id)
    party = db.get(Addressee, item_reply.party_id)
    panel = db.get(Panel, first.panel_id)
    letter = draft_letter(db, panel, {"kind": LetterKind.TRACE_REQUEST.value, "addressee_id": party.id,
                                      "subject": f"Follow-up to {first.ref}",
                                      "classification": first.classification.value},
                          actor, item_ids=[link.item_id], follow_up_of=first)
    item_reply.follow_up_id = letter.id
    db.add(item_reply)
    db.flush()
    return letter


# ------------------------------------------------------------------ template


def save_letter_template(db: Session, panel, body: str, actor) -> LetterTemplate:
    from .letters import check_template

    check_template(body)
    template = db.exec(select(LetterTemplate).where(LetterTemplate.panel_id == panel.id)).first()
    before = {"body": template.body} if template else {}
    if template is None:
        template = LetterTemplate(panel_id=panel.id)
    template.body, template.updated_at, template.updated_by_id = body, utcnow(), _actor_id(actor)
    db.add(template)
    db.flush()
    audit.record(db, "letter_template.update", actor=actor, obj=template, label="letter template",
                 before=before, after={"body": body}, classification=Classification.PANEL)
    return template
