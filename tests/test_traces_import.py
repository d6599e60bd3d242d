"""The correspondence-log import and the overdue command, through the real CLI."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from sqlmodel import select

from panel_tracker.db import get_session
from panel_tracker.traces.models import Letter, LetterStatus
from tests.conftest import SAMPLE
from tests.factories import make_panel

HEADER = "request_ref,kind,addressee,country,sent_on,acknowledged_on,answered_on,status,outcome,item_refs,follow_up_of,notes\n"


@pytest.fixture
def sample_panel(app, runner):
    make_panel("YEM", "Panel of Experts on Yemen")
    result = runner.invoke(args=["items", "import", str(SAMPLE / "items.csv"), "--panel", "YEM"])
    assert result.exit_code == 0, result.output
    return runner


def _import(runner, path):
    return runner.invoke(args=["traces", "import", str(path), "--panel", "YEM"])


def _overdue(runner, on: str | None):
    result = runner.invoke(args=["traces", "overdue", "--panel", "YEM", "--json"] + (["--as-of", on] if on else []))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_sample_log_imports_and_lists_what_was_overdue_on_15_july_2024(sample_panel):
    result = _import(sample_panel, SAMPLE / "letters.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 8 letters"
    rows = _overdue(sample_panel, "2024-07-15")
    assert rows == [
        {"request_ref": "YEM-L-002", "kind": "trace_request", "addressee": "China", "country": "CHN",
         "sent_on": "2024-03-01", "due_on": "2024-05-30", "days_overdue": 46, "stage": "reply"},
        {"request_ref": "YEM-L-001", "kind": "trace_request", "addressee": "China", "country": "CHN",
         "sent_on": "2024-05-06", "due_on": "2024-06-05", "days_overdue": 40, "stage": "acknowledgement"},
    ]
    follow_up = get_session().exec(select(Letter).where(Letter.ref == "YEM-L-005")).one()
    parent = get_session().exec(select(Letter).where(Letter.ref == "YEM-L-004")).one()
    assert follow_up.follow_up_of_id == parent.id


def test_replays_use_dated_events_not_today_s_status(sample_panel):
    _import(sample_panel, SAMPLE / "letters.csv")
    # YEM-L-002 (sent 1 March, acknowledged 20 March) was not yet due on 15 March.
    assert _overdue(sample_panel, "2024-03-15") == []
    # On 6 June: YEM-L-002's reply was due 30 May (7 days), YEM-L-001's acknowledgement 5 June (1 day).
    rows = _overdue(sample_panel, "2024-06-06")
    assert [(r["request_ref"], r["stage"], r["days_overdue"]) for r in rows] == [
        ("YEM-L-002", "reply", 7), ("YEM-L-001", "acknowledgement", 1)]
    # YEM-L-004 was answered on 30 June, before its reply due date (14 July): never listed.
    # The withdrawn YEM-L-008 (sent 1 February, no date of its own) is never overdue, nor is the draft YEM-L-007.
    for day in ("2024-03-05", "2024-05-01", "2024-07-13", "2025-01-01"):
        refs = [r["request_ref"] for r in _overdue(sample_panel, day)]
        assert not {"YEM-L-004", "YEM-L-007", "YEM-L-008"} & set(refs)


def test_overdue_without_a_date_is_today(sample_panel):
    _import(sample_panel, SAMPLE / "letters.csv")
    rows = _overdue(sample_panel, None)
    assert {r["request_ref"] for r in rows} == {"YEM-L-001", "YEM-L-002", "YEM-L-005", "YEM-L-006"}
    today = datetime.now(timezone.utc).date()
    assert all(r["days_overdue"] == (today - date.fromisoformat(r["due_on"])).days for r in rows)


def test_a_broken_log_imports_nothing_and_says_where_each_error_is(sample_panel, tmp_path):
    bad = tmp_path / "log.csv"
    bad.write_text(HEADER + "\n".join([
        "L-1,trace_request,,CHN,2024-05-06,,,sent,,YEM-2023-004/01,,",               # 2: fine
        "L-1,letter,,XXX,2024-13-01,,,sent,,YEM-2023-004/01,,",                    # 3: four errors
        "L-3,trace_request,,CHN,2024-05-06,2024-05-01,,acknowledged,,YEM-1999-001/01,L-9,",  # 4
        "L-4,access_request,,OMN,2024-05-06,,,closed,,,,",                         # 5: closed needs outcome
        "L-5,information_request,Acme,,,,,answered,,,,",                           # 6
        "L-6,trace_request,,CHN,2024-05-06,,,sent,traced,YEM-2023-004/01,,too,many",  # 7
    ]) + "\n", encoding="utf-8")
    result = _import(sample_panel, bad)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert [line.split(": ")[0] + ": " + line.split(": ")[1] for line in lines] == [
        "line 3, column request_ref: duplicate_request_ref",
        "line 3, column kind: unknown_kind",
        "line 3, column country: unknown_country",
        "line 3, column sent_on: bad_date",
        "line 4, column acknowledged_on: date_order",
        "line 4, column item_refs: unknown_item",
        "line 4, column follow_up_of: unknown_request",
        "line 5, column outcome: missing_value",
        "line 6, column sent_on: missing_value",
        "line 6, column answered_on: missing_value",
        "line 7: wrong_field_count",
    ]
    assert "nothing imported: 11 error(s) in log.csv" in result.stderr
    assert get_session().exec(select(Letter)).all() == []


def test_a_wrong_header_and_an_unknown_panel(sample_panel, tmp_path):
    bad = tmp_path / "log.csv"
    bad.write_text("ref,kind\nL-1,trace_request\n", encoding="utf-8")
    result = _import(sample_panel, bad)
    assert result.exit_code == 1 and "line 1, column request_ref: bad_header" in result.stderr
    result = sample_panel.invoke(args=["traces", "import", str(SAMPLE / "letters.csv"), "--panel", "NOPE"])
    assert result.exit_code == 2
    result = sample_panel.invoke(args=["traces", "overdue", "--panel", "YEM", "--as-of", "15/07/2024", "--json"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.stderr


def test_imported_statuses_and_the_as_at_table_wording(world, runner):
    assert runner.invoke(args=["items", "import", str(SAMPLE / "items.csv"), "--panel", "YEM"]).exit_code == 0
    assert _import(runner, SAMPLE / "letters.csv").exit_code == 0
    letters = {letter.ref: letter for letter in get_session().exec(select(Letter))}
    assert letters["YEM-L-004"].status == LetterStatus.CLOSED and letters["YEM-L-004"].outcome.value == "traced"
    page = world.client("coordinator").get("/traces/status?as_at=2024-06-15").get_data(as_text=True)
    assert "Status of trace requests as at 15 June 2024" in page
    assert "No response as at 15 June 2024" in page  # YEM-L-001
    assert "Acknowledged; no substantive reply" in page  # YEM-L-002, YEM-L-004 (then), YEM-L-006
    assert "follow-up to Ref. YEM-L-004" not in page  # YEM-L-005 was sent on 2 July
    later = world.client("coordinator").get("/traces/status?as_at=2024-07-15").get_data(as_text=True)
    assert "Replied: traced; follow-up sent 2 July 2024" in later
    assert "↳ follow-up to Ref. YEM-L-004" in later
    assert "YEM-L-007" not in later  # a draft was not sent
