"""The coordinator's figures on a hand-computed fixture, and the dashboard that shows them.

Policy: acknowledgement 30 days, reply 90 days. Figures as at 31 December 2024.

  letter  to   kind         items  sent        events                                   reply due
  A       CHN  trace        1, 2   10 Jan      ack 20 Jan; partial reply 9 Feb (30 d):  9 Apr
                                               item 1 "refers to ARE", item 2 no records
  B       CHN  trace        3      1 Jun       nothing                                  30 Aug
  C       CHN  information  —      1 Nov       nothing                                  30 Jan 2025 (not yet due)
  D       ARE  trace        1      1 Mar       follow-up of A; full reply 10 May (70 d): 30 May
                                               item 1 transferred to Fictional Arms LLC
  E       ARE  information  —      1 Feb       withdrawn 1 Mar                          —

  CHN: sent 3; past due A, B → replied 1 of 2 = 50 %; median days 30 (n = 1);
       items 3 (A:1, A:2, B:3), traced 1 (A:1, through D) = 33 %.
  ARE: sent 2; past due D (E withdrawn) → 1 of 1 = 100 %; median 70 (n = 1); items 1, traced 1.
  All: sent 5; 2 of 3 = 67 %; median of 30 and 70 = 50 (n = 2); items 4, traced 2 = 50 %.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from panel_tracker.auth.models import Panel
from panel_tracker.cases.services import create_case, create_item
from panel_tracker.classification import Classification
from panel_tracker.db import get_session
from panel_tracker.traces import policy, queries, services, stats
from panel_tracker.traces.models import ItemReply, LetterItem

ON = date(2024, 12, 31)


@pytest.fixture
def fixture_letters(world):
    db = get_session()
    case = create_case(db, world.panel, {"ref": "YEM-2024-001"}, None)
    items = [create_item(db, case, {"category": "small_arm", "type": "rifle", "quantity": 1}, None) for _ in range(3)]
    chn = services.state_addressee(db, world.panel, "CHN", None)
    are = services.state_addressee(db, world.panel, "ARE", None)

    def letter(to, kind, item_list, sent):
        new = services.draft_letter(db, world.panel, {"kind": kind, "addressee_id": to.id}, None,
                                    item_ids=[i.id for i in item_list])
        services.send_letter(db, new, None, sent_on=sent, today=ON)
        return new

    def link(letter_, item):
        return db.exec(select(LetterItem).where(LetterItem.letter_id == letter_.id,
                                                LetterItem.item_id == item.id)).one().id

    a = letter(chn, "trace_request", items[:2], date(2024, 1, 10))
    services.move_letter(db, a, "acknowledged", date(2024, 1, 20), None, today=ON)
    services.record_reply(db, a, None, received_on=date(2024, 2, 9), summary="Refers to ARE.", complete=False,
                          today=ON, item_outcomes=[
                              {"letter_item_id": link(a, items[0]), "outcome": "refers_to", "party_id": are.id},
                              {"letter_item_id": link(a, items[1]), "outcome": "no_records"}])
    b = letter(chn, "trace_request", items[2:], date(2024, 6, 1))
    c = letter(chn, "information_request", [], date(2024, 11, 1))
    d = services.draft_follow_up(db, db.exec(select(ItemReply).where(ItemReply.outcome == "refers_to")).one(), None)
    services.send_letter(db, d, None, sent_on=date(2024, 3, 1), today=ON)
    services.record_reply(db, d, None, received_on=date(2024, 5, 10), summary="Transferred.", complete=True,
                          today=ON, item_outcomes=[{"letter_item_id": link(d, items[0]), "outcome": "transferred",
                                                    "party_name": "Fictional Arms LLC", "party_country": "ARE",
                                                    "transferred_on": "2016-03", "licence": "EUC 44/2016"}])
    e = letter(are, "information_request", [], date(2024, 2, 1))
    services.move_letter(db, e, "withdrawn", date(2024, 3, 1), None, note="overtaken by events", today=ON)
    for x in (a, b, c, d, e, case, *items):  # the viewer's dashboard counts only the items they may see
        x.classification = Classification.COMMITTEE
    db.commit()
    return {"A": a, "B": b, "C": c, "D": d, "E": e}


def _figures(world):
    db = get_session()
    facts = queries.letter_facts(db, queries.visible_letters(world.panel.id, Classification.PANEL))
    return facts, stats.by_addressee(db, facts, ON, policy.Policy.of_panel(db.get(Panel, world.panel.id)))


def test_figures_by_addressee_match_the_hand_computed_fixture(world, fixture_letters):
    _, (rows, total) = _figures(world)
    by_name = {r.label: r for r in rows}
    chn, are = by_name["China"], by_name["United Arab Emirates (the)"]
    assert (chn.sent, chn.replied_past_due, chn.past_due, chn.median_days, chn.replied) == (3, 1, 2, 30, 1)
    assert (chn.items_traced, chn.items) == (1, 3)
    assert (are.sent, are.replied_past_due, are.past_due, are.median_days, are.replied) == (2, 1, 1, 70, 1)
    assert (are.items_traced, are.items) == (1, 1)
    assert (total.sent, total.replied_past_due, total.past_due, total.median_days, total.replied) == (5, 2, 3, 50, 2)
    assert (total.items_traced, total.items) == (2, 4)
    assert round(total.response_rate, 3) == 0.667 and total.traced_share == 0.5


def test_before_the_follow_up_reply_the_first_item_was_not_yet_traced(world, fixture_letters):
    db = get_session()
    facts, _ = _figures(world)
    rows, total = stats.by_addressee(db, facts, date(2024, 5, 9), policy.Policy())
    assert (total.items_traced, total.items) == (0, 3)  # B (item 3) not sent until June


def test_letters_sent_and_answered_per_month(world, fixture_letters):
    facts, _ = _figures(world)
    months = {m: (s, a) for m, s, a in stats.per_month(facts, ON)}
    assert len(months) == 12 and months["2024-01"] == (1, 0) and months["2024-02"] == (1, 0)
    assert months["2024-03"] == (1, 0) and months["2024-05"] == (0, 1) and months["2024-06"] == (1, 0)
    assert months["2024-11"] == (1, 0) and sum(s for s, _ in months.values()) == 5


def test_every_figure_on_the_dashboard_links_to_the_list_behind_it(world, fixture_letters):
    viewer = world.client("viewer")
    page = viewer.get("/traces/dashboard?on=2024-12-31").get_data(as_text=True)
    assert "<svg" in page and "<script" not in page
    assert "67 %" in page and "(2 of 3)" in page and "(n = 2)" in page and "(2 of 4)" in page
    past_due = viewer.get("/traces/?show=past_due&on=2024-12-31").get_data(as_text=True)
    refs = fixture_letters
    assert refs["A"].ref in past_due and refs["D"].ref in past_due and refs["B"].ref in past_due
    assert refs["C"].ref not in past_due and refs["E"].ref not in past_due
    traced = viewer.get("/traces/?show=traced&on=2024-12-31").get_data(as_text=True)
    assert refs["A"].ref in traced and refs["D"].ref in traced and refs["B"].ref not in traced
    month = viewer.get("/traces/?answered_month=2024-05&on=2024-12-31").get_data(as_text=True)
    assert refs["D"].ref in month and refs["A"].ref not in month
