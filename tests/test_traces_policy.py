"""Due dates and overdue, on hand-computed dates: pure functions of dated events."""
from __future__ import annotations

from datetime import date

import pytest

from panel_tracker.traces.models import EventKind, LetterStatus
from panel_tracker.traces.policy import Event, Policy, next_reminder, overdue_on, status_on

DEFAULT = Policy(acknowledgement_days=30, reply_days=90, reminder_days=30)
SENT, ACK, PARTIAL, ANSWERED, CLOSED, WITHDRAWN, REMINDER = (
    EventKind.SENT, EventKind.ACKNOWLEDGED, EventKind.PARTIALLY_ANSWERED, EventKind.ANSWERED, EventKind.CLOSED,
    EventKind.WITHDRAWN, EventKind.REMINDER)


def events(*pairs):
    return [Event(kind, date.fromisoformat(on)) for kind, on in pairs]


def test_a_letter_not_acknowledged_is_overdue_for_acknowledgement_the_day_after_30_days():
    sent = events((SENT, "2024-05-06"))
    assert overdue_on(sent, date(2024, 6, 5), DEFAULT) is None  # due day itself: not yet overdue
    late = overdue_on(sent, date(2024, 6, 6), DEFAULT)
    assert (late.stage, late.due_on, late.days_overdue) == ("acknowledgement", date(2024, 6, 5), 1)


def test_acknowledgement_due_date_crosses_the_end_of_january_into_29_february_of_a_leap_year():
    sent = events((SENT, "2024-01-30"))
    late = overdue_on(sent, date(2024, 3, 1), DEFAULT)
    # 30 January + 30 days = 29 February 2024 (leap year); 1 March is one day late.
    assert (late.due_on, late.days_overdue, late.stage) == (date(2024, 2, 29), 1, "acknowledgement")


def test_reply_due_date_across_29_february_and_month_ends():
    sent = events((SENT, "2023-12-31"), (ACK, "2024-01-10"))
    # 31 December 2023 + 90 days = 30 March 2024 (2024 has a 29 February).
    assert overdue_on(sent, date(2024, 3, 30), DEFAULT) is None
    late = overdue_on(sent, date(2024, 4, 1), DEFAULT)
    assert (late.due_on, late.days_overdue, late.stage) == (date(2024, 3, 30), 2, "reply")


def test_as_at_a_date_before_the_acknowledgement_the_letter_was_overdue_then():
    log = events((SENT, "2024-03-01"), (ACK, "2024-04-15"))
    then = overdue_on(log, date(2024, 4, 10), DEFAULT)
    assert (then.stage, then.due_on, then.days_overdue) == ("acknowledgement", date(2024, 3, 31), 10)
    assert overdue_on(log, date(2024, 4, 15), DEFAULT) is None  # acknowledged that day
    assert status_on(log, date(2024, 4, 14)) == LetterStatus.SENT
    assert status_on(log, date(2024, 4, 15)) == LetterStatus.ACKNOWLEDGED


def test_as_at_a_date_before_the_reply_the_letter_was_overdue_for_reply_then():
    log = events((SENT, "2024-03-01"), (ACK, "2024-03-20"), (ANSWERED, "2024-07-01"))
    then = overdue_on(log, date(2024, 6, 30), DEFAULT)
    assert (then.stage, then.due_on, then.days_overdue) == ("reply", date(2024, 5, 30), 31)
    assert overdue_on(log, date(2024, 7, 1), DEFAULT) is None


def test_a_partially_answered_letter_is_still_overdue_once_the_reply_due_date_passes():
    log = events((SENT, "2024-06-01"), (PARTIAL, "2024-06-25"))
    assert overdue_on(log, date(2024, 8, 30), DEFAULT) is None  # 1 June + 90 days = 30 August
    late = overdue_on(log, date(2024, 9, 2), DEFAULT)
    assert (late.stage, late.days_overdue) == ("reply", 3)
    # The partial reply acknowledged it: never overdue for acknowledgement.
    assert overdue_on(log, date(2024, 7, 15), DEFAULT) is None


def test_a_reply_implies_acknowledgement_and_a_reply_ends_it():
    log = events((SENT, "2024-01-01"), (ANSWERED, "2024-01-20"))
    assert status_on(log, date(2024, 1, 20)) == LetterStatus.ANSWERED
    assert overdue_on(log, date(2024, 12, 31), DEFAULT) is None


@pytest.mark.parametrize("ending", [CLOSED, WITHDRAWN])
def test_closed_or_withdrawn_letters_are_not_overdue_after_but_were_before(ending):
    log = events((SENT, "2024-01-01"), (ending, "2024-06-01"))
    assert overdue_on(log, date(2024, 5, 31), DEFAULT).stage == "reply"
    assert overdue_on(log, date(2024, 6, 1), DEFAULT) is None


def test_reminders_never_move_a_due_date():
    log = events((SENT, "2024-01-01"), (REMINDER, "2024-02-05"), (REMINDER, "2024-03-06"))
    late = overdue_on(log, date(2024, 4, 5), DEFAULT)
    assert (late.due_on, late.days_overdue) == (date(2024, 3, 31), 5)
    assert status_on(log, date(2024, 4, 5)) == LetterStatus.SENT
    assert next_reminder(log, date(2024, 4, 5), DEFAULT) == date(2024, 4, 5)  # 30 days after the last one


def test_a_letter_s_own_reply_by_date_replaces_the_panel_s_reply_days():
    log = events((SENT, "2024-07-20"))
    late = overdue_on(log, date(2024, 8, 10), DEFAULT, reply_by=date(2024, 8, 5))
    assert (late.stage, late.due_on, late.days_overdue) == ("reply", date(2024, 8, 5), 5)


def test_a_panel_policy_of_its_own_changes_the_due_dates():
    strict = Policy(acknowledgement_days=10, reply_days=45)
    log = events((SENT, "2024-02-20"))
    assert overdue_on(log, date(2024, 3, 2), strict).due_on == date(2024, 3, 1)  # across 29 February
    assert overdue_on(log, date(2024, 4, 6), strict).due_on == date(2024, 4, 5)


def test_a_letter_not_yet_sent_on_the_date_is_never_overdue():
    log = events((SENT, "2024-05-01"))
    assert overdue_on(log, date(2024, 4, 30), DEFAULT) is None
    assert overdue_on([], date(2030, 1, 1), DEFAULT) is None
