"""An expert turns on two-factor login in Chromium (QR code drawn by the server, a code from
the app, recovery codes once), logs out, and logs in again with password and code."""
from __future__ import annotations

import re
import time

import pyotp
import pytest

pytestmark = pytest.mark.browser


def _fresh_expert(live_server):
    """A user of its own: turning two-factor on must not change the shared logins."""
    from sqlmodel import select

    from panel_tracker.auth.models import Panel
    from panel_tracker.db import get_session
    from tests.factories import make_member

    with live_server.app.app_context():
        panel = get_session().exec(select(Panel).where(Panel.code == "YEM")).one()
        user, _ = make_member(panel, "expert", email="two.factor@yem.example")
        get_session().close()
    return user


def test_expert_turns_on_two_factor_and_logs_in_with_a_code(live_server, page):
    from playwright.sync_api import expect

    user = _fresh_expert(live_server)
    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    page.get_by_role("link", name=user.name).click()
    expect(page).to_have_url(re.compile(r"/account/security$"))
    page.get_by_role("link", name="Set it up").click()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # drawn from the data: URI
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    page.get_by_label("The 6-digit code your app shows now").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/code$"))
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Panel of Experts on Yemen")
