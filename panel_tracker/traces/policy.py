"""Due dates and overdue: pure functions of a letter's dated events and a date.

Nothing here is stored. A letter's state on date D is replayed from its events dated on
or before D, so a report's "as at" table and an overdue list for a past date show what
was true then, not what is true today (domain.md §6: overdue is the panel's policy,
there is no legal deadline).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

from .models import EventKind, LetterStatus

#: Events after which nothing more is owed.
ENDING = frozenset({EventKind.ANSWERED, EventKind.CLOSED, EventKind.WITHDRAWN})
#: Events that show the addressee has the letter (a reply implies acknowledgement).
ACKNOWLEDGING = frozenset({EventKind.ACKNOWLEDGED, EventKind.PARTIALLY_ANSWERED, EventKind.ANSWERED,
                           EventKind.CLOSED})


@dataclass(frozen=True)
class Policy:
    acknowledgement_days: int = 30
    reply_days: int = 90
    reminder_days: int = 30

    @classmethod
    def of_panel(cls, panel) -> "Policy":
        return cls(int(panel.setting("acknowledgement_due_days")), int(panel.setting("reply_due_days")),
                   int(panel.setting("reminder_interval_days") or 30))


@dataclass(frozen=True)
class Event:
    kind: EventKind
    on: date


@dataclass(frozen=True)
class Overdue:
    due_on: date
    days_overdue: int
    stage: str  # "acknowledgement" or "reply"


def _upto(events: Iterable[Event], on: date) -> list[Event]:
    return [e for e in events if e.on <= on]


def sent_on(events: Iterable[Event], on: date | None = None) -> date | None:
    dates = [e.on for e in events if e.kind == EventKind.SENT and (on is None or e.on <= on)]
    return min(dates) if dates else None


def acknowledgement_due(sent: date, policy: Policy) -> date:
    return sent + timedelta(days=policy.acknowledgement_days)


def reply_due(sent: date, policy: Policy, reply_by: date | None = None) -> date:
    return reply_by or sent + timedelta(days=policy.reply_days)


def status_on(events: Iterable[Event], on: date) -> LetterStatus:
    """The status the letter had at the end of day ``on``: the furthest step reached by
    then (a later acknowledgement never undoes a reply dated earlier)."""
    status = LetterStatus.DRAFT
    for event in _upto(events, on):
        if event.kind == EventKind.REMINDER:
            continue
        step = LetterStatus(event.kind.value)
        if step == LetterStatus.WITHDRAWN or (status != LetterStatus.WITHDRAWN and step.rank > status.rank):
            status = step
    return status


def overdue_on(events: Iterable[Event], on: date, policy: Policy, reply_by: date | None = None) -> Overdue | None:
    """Whether a letter was overdue on ``on``, and how.

    A sent letter is overdue on D when it had not been answered, closed or withdrawn by D
    and D is after its due date. The stage is ``reply`` once the reply due date has passed;
    before that it is ``acknowledgement``, overdue only if not acknowledged by D.
    """
    events = _upto(events, on)
    sent = sent_on(events)
    if sent is None or any(e.kind in ENDING for e in events):
        return None
    due = reply_due(sent, policy, reply_by)
    if on > due:
        return Overdue(due, (on - due).days, "reply")
    due = acknowledgement_due(sent, policy)
    if on > due and not any(e.kind in ACKNOWLEDGING for e in events):
        return Overdue(due, (on - due).days, "acknowledgement")
    return None


def next_due(events: Iterable[Event], on: date, policy: Policy, reply_by: date | None = None) -> tuple[date, str] | None:
    """The next date (on or after ``on``) by which something is owed, and what; None when
    nothing is owed or it is already overdue."""
    events = _upto(events, on)
    sent = sent_on(events)
    if sent is None or any(e.kind in ENDING for e in events):
        return None
    ack = acknowledgement_due(sent, policy)
    if on <= ack and not any(e.kind in ACKNOWLEDGING for e in events):
        return ack, "acknowledgement"
    due = reply_due(sent, policy, reply_by)
    return (due, "reply") if on <= due else None


def next_reminder(events: Iterable[Event], on: date, policy: Policy) -> date | None:
    """When the next reminder is due: the interval after the last reminder, or after the
    first due date passed. Reminders are dated events and never move a due date."""
    events = list(events)
    reminders = [e.on for e in events if e.kind == EventKind.REMINDER and e.on <= on]
    sent = sent_on(events, on)
    if sent is None:
        return None
    start = max(reminders) if reminders else acknowledgement_due(sent, policy)
    return start + timedelta(days=policy.reminder_days) if reminders else start
