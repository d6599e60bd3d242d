"""An expert logs in with the real form (CSRF token and all), sees the dashboard, logs out."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_expert_logs_in_sees_the_dashboard_and_logs_out(live_server, page):
    from playwright.sync_api import expect

    expert = live_server.users["expert"]
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Email").fill(expert.email)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Panel of Experts on Yemen")
    expect(page.locator(".role")).to_have_text("expert")
    expect(page.get_by_role("link", name="Members")).to_have_count(0)  # not an admin

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")

    page.goto(live_server.url + "/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_wrong_password_is_shown_next_to_the_field(live_server, page):
    from playwright.sync_api import expect

    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(live_server.users["viewer"].email)
    page.get_by_label("Password").fill("not the right password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#password-error")).to_contain_text("Wrong email or password")
    expect(page).to_have_url(re.compile(r"/login$"))
