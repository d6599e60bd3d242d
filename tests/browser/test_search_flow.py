"""Marking search in a real browser: type a confusable variant in the top bar, open the
hit, and land on the item page with the matched marking highlighted."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_expert_searches_a_confusable_variant_and_opens_the_highlighted_marking(live_server, page):
    from playwright.sync_api import expect

    from panel_tracker.cases.models import Marking
    from panel_tracker.cases.services import add_marking, create_case, create_item
    from panel_tracker.db import get_session

    expert = live_server.users["expert"]
    with live_server.app.app_context():  # an item with its serial recorded as a marking, committed
        db = get_session()
        from panel_tracker.auth.models import Panel
        from sqlmodel import select

        panel = db.exec(select(Panel).where(Panel.code == "YEM")).one()
        case = create_case(db, panel, {"ref": "YEM-2024-303", "title": "Cache near Marib"}, expert)
        item = create_item(db, case, {"category": "small_arm", "type": "assault rifle (AK-pattern)",
                                      "model": "AKM", "quantity": 1}, expert)
        add_marking(db, item, {"text": "ЕК 3317", "kind": "serial", "location": "receiver"}, expert)
        db.commit()
        marking_id = db.exec(select(Marking.id).where(Marking.item_id == item.id)).one()
        item_id = item.id

    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(expert.email)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    # Latin E and K where Cyrillic Е and К were read, and a dash: the same marking.
    page.get_by_label("Search markings, items and cases").fill("ek-3317")
    page.get_by_label("Search markings, items and cases").press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=ek-3317"))
    hit = page.locator("li.hit").first
    expect(hit.locator("mark")).to_have_text("ЕК 3317")
    expect(hit).to_contain_text("YEM-2024-303/01")

    hit.get_by_role("link", name="YEM-2024-303/01").click()
    expect(page).to_have_url(re.compile(rf"/items/{item_id}#marking-{marking_id}$"))
    target = page.locator(f"#marking-{marking_id}")
    expect(target).to_contain_text("ЕК 3317")
    assert page.evaluate("document.querySelector(':target').id") == f"marking-{marking_id}"
    outline = target.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"  # highlighted as the search hit
