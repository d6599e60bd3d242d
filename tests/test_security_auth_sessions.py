"""Issue 7, findings 3 and 4: server-side sessions (logout ends a copied cookie too; idle
and absolute expiry) and two-factor login with TOTP, which a panel can make compulsory."""
from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlparse

import pyotp
import pytest
import sqlalchemy as sa
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.db import utcnow
from tests.factories import PASSWORD, log_in


def page(response) -> str:
    return response.get_data(as_text=True)


def location(response) -> str:
    return urlparse(response.headers.get("Location", "")).path


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value, domain="localhost")
    return thief


def actions(db, **where) -> list[str]:
    db.expire_all()
    stmt = select(AuditRecord.action).order_by(AuditRecord.seq)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditRecord, name) == value)
    return list(db.exec(stmt).all())


# ------------------------------------------------------------------ sessions


def test_a_copied_cookie_is_refused_after_logout(app, world):
    expert = world.client("expert")
    thief = copy_of(app, expert)
    assert thief.get("/dashboard").status_code == 200  # the copy works while the session lives
    expert.post("/logout")
    response = thief.get("/dashboard")
    assert response.status_code == 302 and location(response) == "/login"


def test_log_out_everywhere_ends_every_session(app, world):
    laptop, phone = world.client("expert"), world.client("expert")
    thief = copy_of(app, phone)
    security = page(laptop.get("/account/security"))
    assert security.count("<tr><td>") >= 2 and "Log out everywhere" in security
    response = laptop.post("/account/sessions/end-all")
    assert location(response) == "/login"
    for client in (laptop, phone, thief):
        assert location(client.get("/dashboard")) == "/login"


@pytest.mark.parametrize("column, age", [("last_seen_at", timedelta(minutes=121)),
                                         ("created_at", timedelta(hours=12, minutes=1))])
def test_a_session_ends_when_idle_too_long_or_too_old(app, world, database, column, age):
    from panel_tracker.auth.models import UserSession

    expert = world.client("expert")
    thief = copy_of(app, expert)
    with database.engine.begin() as conn:
        conn.execute(sa.update(UserSession).values({column: utcnow() - age}))
    for client in (expert, thief):
        response = client.get("/dashboard")
        assert response.status_code == 302 and location(response) == "/login"
    assert "Your session has ended" in page(expert.get("/login"))


def test_a_session_used_within_the_idle_time_lives_on(app, world, database):
    from panel_tracker.auth.models import UserSession

    expert = world.client("expert")
    with database.engine.begin() as conn:
        conn.execute(sa.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=119)))
    assert expert.get("/dashboard").status_code == 200


def test_changing_the_password_logs_out_the_other_sessions(app, world, db):
    here, elsewhere = world.client("expert"), world.client("expert")
    response = here.post("/account/password", data={
        "current_password": "wrong one entirely", "password": "a brand new password", "confirm": "a brand new password"})
    assert response.status_code == 200 and "not your current password" in page(response)
    response = here.post("/account/password", data={
        "current_password": PASSWORD, "password": "a brand new password", "confirm": "a brand new password"})
    assert location(response) == "/account/security"
    assert here.get("/dashboard").status_code == 200
    assert location(elsewhere.get("/dashboard")) == "/login"
    assert {"user.change_password", "user.sessions_revoke"} <= set(actions(db, actor_id=world.users["expert"].id))
    log_in(app.test_client(), world.users["expert"], "a brand new password")


# ------------------------------------------------------------------ two-factor login

SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
CODES = re.compile(r"<li><code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code></li>")


def enrol(client) -> tuple[pyotp.TOTP, list[str]]:
    setup = page(client.get("/account/two-factor"))
    assert 'src="data:image/svg+xml' in setup  # the QR code is drawn here, nothing fetched
    assert "<script" not in setup and "style=" not in setup
    totp = pyotp.TOTP(SECRET.search(setup).group(1))
    response = client.post("/account/two-factor", data={"code": totp.now()})
    codes = CODES.findall(page(response))
    assert len(codes) == 10, page(response)
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    """A code not used yet: each TOTP code works once, so the login after enrolment uses the next one."""
    return totp.at(time.time() + 30)


def password_step(app, user, password=PASSWORD):
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": password})
    assert location(response) == "/login/code"
    assert location(client.get("/dashboard")) == "/login"  # not logged in yet
    return client


def test_expert_turns_on_two_factor_and_logs_in_with_a_code(app, world, db):
    expert = world.users["expert"]
    client = world.client("expert")
    other_session = world.client("expert")
    totp, codes = enrol(client)
    assert location(other_session.get("/dashboard")) == "/login"  # other sessions end
    assert "Recovery codes left: 10" in page(client.get("/account/two-factor"))
    assert codes[0] not in page(client.get("/account/two-factor"))  # shown once

    second = password_step(app, expert)
    assert "That code is not right" in page(second.post("/login/code", data={"code": "000000"}))
    response = second.post("/login/code", data={"code": next_code(totp)})
    assert location(response) == "/dashboard"
    assert second.get("/dashboard").status_code == 200
    assert "user.two_factor_enable" in actions(db, actor_id=expert.id)


def test_a_recovery_code_logs_in_once(app, world, db):
    expert = world.users["expert"]
    _, codes = enrol(world.client("expert"))
    first = password_step(app, expert)
    assert location(first.post("/login/code", data={"code": codes[3].lower()})) == "/dashboard"
    again = password_step(app, expert)
    assert again.post("/login/code", data={"code": codes[3]}).status_code == 200  # used up
    assert location(again.get("/dashboard")) == "/login"
    records = db.exec(select(AuditRecord).where(AuditRecord.action == "user.recovery_code_use")).all()
    assert len(records) == 1 and '"recovery_codes_left":9' in records[0].after


@pytest.mark.app_config(LOGIN_MAX_FAILURES=3)
def test_code_guesses_are_throttled(app, world):
    expert = world.users["expert"]
    totp, _ = enrol(world.client("expert"))
    client = password_step(app, expert)
    for guess in ("111111", "222222", "333333"):
        assert client.post("/login/code", data={"code": guess}).status_code == 200
    refused = client.post("/login/code", data={"code": next_code(totp)})
    assert refused.status_code == 429 and "Too many failed attempts" in page(refused)


def test_turning_two_factor_off_needs_the_password_and_is_audited(app, world, db):
    client = world.client("expert")
    enrol(client)
    client.post("/account/two-factor/disable", data={"password": "not my password at all"})
    assert "Two-factor login is <strong>on</strong>" in page(client.get("/account/two-factor"))
    client.post("/account/two-factor/disable", data={"password": PASSWORD})
    assert "Off." in page(client.get("/account/security"))
    assert "user.two_factor_disable" in actions(db, actor_id=world.users["expert"].id)
    log_in(app.test_client(), world.users["expert"])  # the password alone again


def test_a_panel_that_requires_two_factor_sends_members_to_enrol_first(app, world, db):
    expert = world.users["expert"]
    token = re.search(r'<code id="new-token">(pt_[^<]+)</code>', page(world.client("expert").post(
        "/account/tokens", data={"name": "script", "role": "viewer", "days": 30}))).group(1)
    admin = world.client("admin")
    response = admin.post("/admin/settings", data={
        "name": "Panel of Experts on Yemen", "regime": "", "acknowledgement_due_days": 30, "reply_due_days": 90,
        "min_independent_sources": 2, "require_two_factor": "y"})
    assert location(response) == "/admin/settings"
    db.expire_all()
    change = db.exec(select(AuditRecord).where(AuditRecord.action == "panel.update")).one()
    assert '"require_two_factor":true' in change.after

    client = log_in(app.test_client(), expert)
    for path in ("/dashboard", "/items", "/account/tokens", "/account/security", "/panels"):
        response = client.get(path)
        assert response.status_code == 302 and location(response) == "/account/two-factor", path
    assert "YEM requires two-factor login" in page(client.get("/account/two-factor"))
    # API tokens are not affected.
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    totp, _ = enrol(client)
    assert client.get("/dashboard").status_code == 200
    refused = client.post("/account/two-factor/disable", data={"password": PASSWORD}, follow_redirects=True)
    assert "requires two-factor login" in page(refused)
    assert "Two-factor login is <strong>on</strong>" in page(client.get("/account/two-factor"))
    assert location(password_step(app, expert).post("/login/code", data={"code": next_code(totp)})) == "/dashboard"


def test_the_security_page_lists_the_users_tokens_of_every_panel(app, world):
    client = world.client("expert")
    client.post("/account/tokens", data={"name": "nightly export", "role": "viewer", "days": 30})
    security = page(client.get("/account/security"))
    assert "nightly export" in security and "YEM" in security


def test_the_demo_panel_does_not_require_two_factor(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    client = app.test_client()
    response = client.post("/login", data={"email": "expert@demo.example", "password": "demo-expert-password"})
    assert location(response) == "/dashboard" and client.get("/dashboard").status_code == 200
