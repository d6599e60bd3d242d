"""Reading letters: scoped to the panel and filtered by classification in ONE place
(:func:`visible_letters`); replies, documents and items inside a letter follow their own
rules (an item in a letter is shown only if the reader may see the item itself)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from flask import abort
from sqlmodel import Session, select

from .. import visibility
from ..cases.models import Item
from ..classification import Classification
from ..db import get_session
from . import policy
from .models import (Addressee, EventKind, ItemReply, Letter, LetterEvent, LetterItem, LetterStatus, Reply,
                     ReplyDocument)


def _reader(panel_id: int, clearance: Classification) -> visibility.Reader:
    return visibility.Reader(panel_id, clearance)


def visible_letters(panel_id: int, clearance: Classification):
    """Letters of this panel the reader may see (panel_tracker.visibility: the one rule)."""
    return visibility.visible(Letter, _reader(panel_id, clearance))


def visible_replies(panel_id: int, clearance: Classification):
    return visibility.visible(Reply, _reader(panel_id, clearance))


def visible_documents(panel_id: int, clearance: Classification):
    return visibility.visible(ReplyDocument, _reader(panel_id, clearance))


def _current():
    from ..auth.access import clearance, panel_id

    return panel_id(), clearance()


def load_letter_or_404(letter_id: int) -> Letter:
    pid, level = _current()
    letter = get_session().exec(visible_letters(pid, level).where(Letter.id == letter_id)).first()
    if letter is None:
        abort(404)
    return letter


def load_addressee_or_404(addressee_id: int) -> Addressee:
    pid, _ = _current()
    addressee = get_session().get(Addressee, addressee_id)
    if addressee is None or addressee.panel_id != pid:
        abort(404)
    return addressee


def load_document_or_404(document_id: int) -> ReplyDocument:
    pid, level = _current()
    document = get_session().exec(visible_documents(pid, level).where(ReplyDocument.id == document_id)).first()
    if document is None:
        abort(404)
    return document


def load_item_reply_or_404(item_reply_id: int) -> ItemReply:
    pid, level = _current()
    found = get_session().exec(
        select(ItemReply).where(ItemReply.id == item_reply_id, ItemReply.panel_id == pid,
                                ItemReply.reply_id.in_(visible_replies(pid, level).with_only_columns(Reply.id)))
    ).first()
    if found is None:
        abort(404)
    return found


def visible_item_ids(panel_id: int, item_ids, level: Classification) -> set[int]:
    """Which of these items the reader may see, by the items' own rule (case, item)."""
    return visibility.visible_among(get_session(), Item, item_ids, _reader(panel_id, level))


# ------------------------------------------------------------------ letters with their events


@dataclass
class LetterFacts:
    """A letter with what the due policy needs, loaded once for lists and statistics."""

    letter: Letter
    addressee: Addressee
    events: list[policy.Event] = field(default_factory=list)
    first_reply_on: date | None = None
    item_ids: list[int] = field(default_factory=list)

    def status_on(self, on: date) -> LetterStatus:
        return policy.status_on(self.events, on)

    def overdue_on(self, on: date, rules: policy.Policy) -> policy.Overdue | None:
        return policy.overdue_on(self.events, on, rules, self.letter.reply_by)

    def dates_of(self, kind: EventKind, on: date | None = None) -> list[date]:
        return [e.on for e in self.events if e.kind == kind and (on is None or e.on <= on)]


def letter_facts(db: Session, stmt) -> list[LetterFacts]:
    letters = list(db.exec(stmt.order_by(Letter.ref)))
    if not letters:
        return []
    ids = [letter.id for letter in letters]
    addressees = {a.id: a for a in db.exec(select(Addressee).where(
        Addressee.id.in_({letter.addressee_id for letter in letters})))}
    events = defaultdict(list)
    for event in db.exec(select(LetterEvent).where(LetterEvent.letter_id.in_(ids), LetterEvent.voided.is_(False))
                         .order_by(LetterEvent.happened_on, LetterEvent.id)):
        events[event.letter_id].append(policy.Event(event.kind, event.happened_on))
    first_reply = {}
    for letter_id, received_on in db.exec(select(Reply.letter_id, Reply.received_on).where(Reply.letter_id.in_(ids))):
        first_reply[letter_id] = min(received_on, first_reply.get(letter_id, received_on))
    items = defaultdict(list)
    for letter_id, item_id in db.exec(select(LetterItem.letter_id, LetterItem.item_id)
                                      .where(LetterItem.letter_id.in_(ids)).order_by(LetterItem.position)):
        items[letter_id].append(item_id)
    result = []
    for letter in letters:
        facts = LetterFacts(letter, addressees[letter.addressee_id], events[letter.id], first_reply.get(letter.id),
                            items[letter.id])
        if facts.first_reply_on is None:
            # An imported log gives reply dates as events only.
            replied = facts.dates_of(EventKind.PARTIALLY_ANSWERED) + facts.dates_of(EventKind.ANSWERED)
            facts.first_reply_on = min(replied) if replied else None
        result.append(facts)
    return result


def overdue_list(facts: list[LetterFacts], on: date, rules: policy.Policy) -> list[tuple[LetterFacts, policy.Overdue]]:
    """Letters overdue on ``on``, sorted by due date, then reference."""
    rows = [(f, o) for f in facts if (o := f.overdue_on(on, rules)) is not None]
    return sorted(rows, key=lambda row: (row[1].due_on, row[0].letter.ref))


def overdue_json(facts: list[LetterFacts], on: date, rules: policy.Policy) -> list[dict]:
    """The ``traces overdue --json`` contract: one object per overdue letter."""
    return [{"request_ref": f.letter.ref, "kind": f.letter.kind.value, "addressee": f.addressee.name,
             "country": f.addressee.country or "", "sent_on": policy.sent_on(f.events).isoformat(),
             "due_on": o.due_on.isoformat(), "days_overdue": o.days_overdue, "stage": o.stage}
            for f, o in overdue_list(facts, on, rules)]


def due_soon(facts: list[LetterFacts], on: date, rules: policy.Policy, days: int = 14):
    from datetime import timedelta

    rows = []
    for f in facts:
        nxt = policy.next_due(f.events, on, rules, f.letter.reply_by)
        if nxt and nxt[0] <= on + timedelta(days=days):
            rows.append((f, nxt))
    return sorted(rows, key=lambda row: (row[1][0], row[0].letter.ref))
