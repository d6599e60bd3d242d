"""The trace-request flow in a real browser: an expert drafts a request from two items, a
coordinator sends it, records a partial reply that names another party for one item,
drafts the follow-up to that party in one click, and the dashboard shows the result."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.browser


def _log_in(page, live_server, role):
    from playwright.sync_api import expect

    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(live_server.users[role].email)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def test_draft_send_partial_reply_follow_up_and_dashboard(live_server, page):
    from playwright.sync_api import expect

    from panel_tracker.auth.models import Panel
    from panel_tracker.cases.services import create_case, create_item
    from panel_tracker.db import get_session
    from panel_tracker.traces import services
    from sqlmodel import select

    with live_server.app.app_context():
        db = get_session()
        panel = db.exec(select(Panel).where(Panel.code == "YEM")).one()
        case = create_case(db, panel, {"ref": "YEM-2024-201", "title": "Trace flow"}, None)
        for serial in ("24017731", "24017734"):
            create_item(db, case, {"category": "small_arm", "type": "assault rifle", "model": "Type 56-1",
                                   "calibre": "7.62x39mm", "serial": serial, "serial_legibility": "intact",
                                   "quantity": 1}, None)
        services.state_addressee(db, panel, "CHN", None)
        db.commit()
    sent_on = (datetime.now(timezone.utc).date() - timedelta(days=100)).isoformat()

    # The expert drafts a trace request from the two items.
    _log_in(page, live_server, "expert")
    page.get_by_role("link", name="Letters", exact=True).click()
    page.get_by_role("link", name="Draft a letter").click()
    page.get_by_label("Kind of letter").select_option("trace_request")
    page.get_by_label("Addressee").select_option(label="China")
    page.get_by_label("Subject").fill("Type 56-1 rifles seized off Nishtun")
    page.get_by_label(re.compile(r"YEM-2024-201/01")).check()
    page.get_by_label(re.compile(r"YEM-2024-201/02")).check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status").first).to_contain_text("Draft")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Trace request")
    letter_url = page.url
    ref = page.get_by_role("heading", level=1).inner_text().split()[0]
    page.get_by_role("button", name="Log out").click()

    # The coordinator approves and records it as sent, then records a partial reply.
    _log_in(page, live_server, "coordinator")
    page.goto(letter_url)
    page.get_by_label("Sent on").fill(sent_on)
    page.get_by_label("Reference", exact=True).fill("S/AC.51/2024/PE/OC.7")
    page.get_by_role("button", name="Record as sent").click()
    expect(page.get_by_role("status").first).to_contain_text("recorded as sent")
    page.get_by_role("link", name="Record a reply").click()
    page.get_by_label("Summary").fill("Manufacture confirmed; one rifle exported in 2009; no records for the other.")
    outcomes = page.locator("select[name^='outcome-']")
    outcomes.nth(0).select_option("transferred")
    page.locator("select[name^='party_country-']").nth(0).select_option("ARE")
    page.locator("input[name^='transferred_on-']").nth(0).fill("2009-05")
    page.locator("input[name^='licence-']").nth(0).fill("EL-2009-114")
    outcomes.nth(1).select_option("no_records")
    page.get_by_role("button", name="Record reply").click()
    expect(page.get_by_role("status").first).to_contain_text("Reply recorded")
    expect(page.locator("p").filter(has_text="Partially answered").first).to_be_visible()

    # One click drafts the follow-up to the party the reply names, linked to the first.
    page.get_by_role("button", name=re.compile(r"Write to United Arab Emirates")).click()
    expect(page.get_by_role("status").first).to_contain_text(f"linked to {ref}")
    expect(page.locator("p.chain")).to_contain_text(ref)
    expect(page.locator("dl.facts")).to_contain_text("United Arab Emirates")
    page.goto(letter_url)
    expect(page.get_by_role("link", name="follow-up request")).to_be_visible()

    # The dashboard: China answered 1 of 1 letter past due, in 100 days; 1 of 2 items traced.
    page.get_by_role("link", name="Dashboard").first.click()
    page.goto(live_server.url + "/traces/dashboard")
    row = page.locator("#by-addressee tr", has_text="China")
    expect(row).to_contain_text("100 %")
    expect(row).to_contain_text("(n = 1)")
    expect(row).to_contain_text("(1 of 2)")
    expect(page.locator("svg.chart")).to_be_visible()
