"""The coordinator's figures, computed for a date from dated events (nothing stored).

By addressee: letters sent; response rate = letters with any reply ÷ letters past their
reply due date (both counted over the letters whose reply due date had passed by the
date, withdrawn ones aside, so a letter still within its time neither helps nor hurts);
median days from sending to the first reply (replied letters only, with n); share of
items traced, where an item is traced when a reply anywhere in its follow-up chain names
a recipient (a per-item outcome "transferred to X", or a letter closed as ``traced``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from statistics import median

from sqlmodel import Session, select

from . import policy
from .models import EventKind, ItemOutcome, ItemReply, LetterItem, LetterKind, LetterStatus, Outcome
from .queries import LetterFacts


@dataclass
class Figures:
    label: str
    addressee_id: int | None = None
    sent: int = 0
    past_due: int = 0
    replied_past_due: int = 0
    reply_days: list[int] = field(default_factory=list)
    items: int = 0
    items_traced: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.replied_past_due / self.past_due if self.past_due else None

    @property
    def median_days(self) -> float | None:
        return median(self.reply_days) if self.reply_days else None

    @property
    def replied(self) -> int:
        return len(self.reply_days)

    @property
    def traced_share(self) -> float | None:
        return self.items_traced / self.items if self.items else None


def traced_pairs(db: Session, facts: list[LetterFacts], on: date) -> set[tuple[int, int]]:
    """(letter id, item id) of every item a letter asked about whose follow-up chain,
    from that letter on, has a reply naming a recipient by ``on``."""
    by_id = {f.letter.id: f for f in facts}
    children = defaultdict(list)
    for f in facts:
        if f.letter.follow_up_of_id:
            children[f.letter.follow_up_of_id].append(f.letter.id)
    named: set[tuple[int, int]] = set()  # (letter id, item id) a reply of that very letter names
    ids = list(by_id)
    if ids:
        from .models import Reply

        rows = db.exec(select(LetterItem.letter_id, LetterItem.item_id)
                       .join(ItemReply, ItemReply.letter_item_id == LetterItem.id)
                       .join(Reply, Reply.id == ItemReply.reply_id)
                       .where(LetterItem.letter_id.in_(ids), ItemReply.outcome == ItemOutcome.TRANSFERRED,
                              ItemReply.party_id.is_not(None), Reply.received_on <= on))
        named.update(rows)
    for f in facts:
        if f.letter.outcome == Outcome.TRACED and f.status_on(on) == LetterStatus.CLOSED:
            named.update((f.letter.id, item_id) for item_id in f.item_ids)

    def chain_names(letter_id: int, item_id: int, seen=()) -> bool:
        if (letter_id, item_id) in named:
            return True
        return any(chain_names(child, item_id, seen + (letter_id,)) for child in children[letter_id]
                   if child not in seen and item_id in by_id[child].item_ids)

    return {(f.letter.id, item_id) for f in facts for item_id in f.item_ids if chain_names(f.letter.id, item_id)}


def by_addressee(db: Session, facts: list[LetterFacts], on: date, rules: policy.Policy,
                 shown: set[int] | None = None) -> tuple[list[Figures], Figures]:
    """``shown``: the items the reader may see (None: all); a hidden item counts nowhere."""
    rows: dict[int, Figures] = {}
    total = Figures("All addressees")
    traced = traced_pairs(db, facts, on)
    for f in facts:
        sent = policy.sent_on(f.events, on)
        if sent is None:
            continue
        row = rows.setdefault(f.addressee.id, Figures(f.addressee.name, f.addressee.id))
        status = f.status_on(on)
        for fig in (row, total):
            fig.sent += 1
        first_reply = f.first_reply_on if f.first_reply_on and f.first_reply_on <= on else None
        if status != LetterStatus.WITHDRAWN and on > policy.reply_due(sent, rules, f.letter.reply_by):
            for fig in (row, total):
                fig.past_due += 1
                fig.replied_past_due += first_reply is not None
        if first_reply is not None:
            for fig in (row, total):
                fig.reply_days.append((first_reply - sent).days)
        if f.letter.kind == LetterKind.TRACE_REQUEST:
            for item_id in f.item_ids:
                if shown is not None and item_id not in shown:
                    continue
                for fig in (row, total):
                    fig.items += 1
                    fig.items_traced += (f.letter.id, item_id) in traced
    return sorted(rows.values(), key=lambda r: (-r.sent, r.label)), total


def per_month(facts: list[LetterFacts], on: date) -> list[tuple[str, int, int]]:
    """(YYYY-MM, letters sent, letters answered) for every month from the first sending to ``on``."""
    sent, answered = defaultdict(int), defaultdict(int)
    for f in facts:
        for d in f.dates_of(EventKind.SENT, on)[:1]:
            sent[d.strftime("%Y-%m")] += 1
        for d in f.dates_of(EventKind.ANSWERED, on)[:1]:
            answered[d.strftime("%Y-%m")] += 1
    if not sent:
        return []
    first = min(sent)
    year, month = int(first[:4]), int(first[5:])
    months = []
    while (year, month) <= (on.year, on.month):
        key = f"{year:04d}-{month:02d}"
        months.append((key, sent[key], answered[key]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def dashboard_figures() -> dict:
    """Counts for the panel's main dashboard (what the reader may see)."""
    from ..auth.access import clearance, current_panel, panel_id
    from ..db import get_session, utcnow
    from . import queries

    today = utcnow().date()
    rules = policy.Policy.of_panel(current_panel())
    facts = queries.letter_facts(get_session(), queries.visible_letters(panel_id(), clearance()))
    return {"letters_overdue": len(queries.overdue_list(facts, today, rules)),
            "letters_due_soon": len(queries.due_soon(facts, today, rules))}


# ------------------------------------------------------------------ the "as at" table


def status_wording(f: LetterFacts, on: date, follow_ups_sent: list[date]) -> str:
    """The status of a letter on ``on`` in a report's fixed wording (annex-reference.md §2)."""
    from ..templating import un_date

    status = f.status_on(on)
    if status == LetterStatus.SENT:
        text = f"No response as at {un_date(on)}"
    elif status == LetterStatus.ACKNOWLEDGED:
        text = "Acknowledged; no substantive reply"
    elif status == LetterStatus.PARTIALLY_ANSWERED:
        text = "Partial reply"
    elif status == LetterStatus.ANSWERED:
        text = "Replied"
    elif status == LetterStatus.CLOSED:
        text = {Outcome.TRACED: "Replied: traced", Outcome.UNTRACEABLE: "Replied: unable to trace",
                Outcome.INCONCLUSIVE: "Replied: inconclusive", Outcome.REFUSED: "Declined",
                None: "Closed"}[f.letter.outcome]
    elif status == LetterStatus.WITHDRAWN:
        text = "Withdrawn"
    else:
        text = "Not sent"
    if follow_ups_sent:
        text += f"; follow-up sent {un_date(min(follow_ups_sent))}"
    return text


@dataclass
class AsAtRow:
    facts: LetterFacts
    sent_on: date
    wording: str
    acknowledged_on: date | None
    replied_on: date | None
    reminders: list[date]
    parent_ref: str | None
    item_refs: list[str]
    withheld: int


def as_at_rows(db: Session, facts: list[LetterFacts], on: date, level) -> tuple[list[AsAtRow], dict]:
    """One row per request sent by ``on``, with its status then, and the summary line."""
    from ..cases.models import Item
    from .queries import visible_item_ids

    by_id = {f.letter.id: f for f in facts}
    follow_ups = defaultdict(list)
    for f in facts:
        sent = policy.sent_on(f.events, on)
        if f.letter.follow_up_of_id and sent:
            follow_ups[f.letter.follow_up_of_id].append(sent)
    all_items = {i for f in facts for i in f.item_ids}
    shown = visible_item_ids(facts[0].letter.panel_id, all_items, level) if facts else set()
    refs = {i: ref for i, ref in db.exec(select(Item.id, Item.item_ref).where(Item.id.in_(shown)))} if shown else {}
    rows = []
    for f in facts:
        sent = policy.sent_on(f.events, on)
        if sent is None:
            continue
        acks = [e.on for e in f.events if e.on <= on and e.kind in policy.ACKNOWLEDGING]
        parent = by_id.get(f.letter.follow_up_of_id)
        rows.append(AsAtRow(f, sent, status_wording(f, on, follow_ups[f.letter.id]), min(acks) if acks else None,
                            f.first_reply_on if f.first_reply_on and f.first_reply_on <= on else None,
                            f.dates_of(EventKind.REMINDER, on), parent.letter.ref if parent else None,
                            [refs[i] for i in f.item_ids if i in refs], sum(1 for i in f.item_ids if i not in refs)))
    rows.sort(key=lambda r: (r.sent_on, r.facts.letter.ref))
    traced = traced_pairs(db, facts, on)
    summary = {"sent": len(rows), "acknowledged": sum(1 for r in rows if r.acknowledged_on),
               "replied": sum(1 for r in rows if r.replied_on),
               "traced": len({item for _, item in traced if item in refs}),  # items the reader may see
               "no_response": sum(1 for r in rows if r.facts.status_on(on) == LetterStatus.SENT)}
    return rows, summary
