"""Logging in and out, throttling, panels, members and invites, mandates, API tokens, cookies."""
from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import sqlalchemy as sa
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.auth.models import ApiToken, Membership, Role, User
from panel_tracker.auth.services import add_member, create_panel
from panel_tracker.db import get_engine
from tests.conftest import make_test_app
from tests.factories import PASSWORD, log_in, make_member




def page(response) -> str:
    return response.get_data(as_text=True)


def location_path(response) -> str:
    return urlparse(response.headers.get("Location", "")).path


def membership(db, user: User, panel) -> Membership:
    db.expire_all()
    return db.exec(select(Membership).where(Membership.user_id == user.id, Membership.panel_id == panel.id)).one()


def post_login(client, email: str, password: str, **data):
    return client.post("/login", data={"email": email, "password": password, **data})


# ------------------------------------------------------------------ log in and out


def test_expert_logs_in_sees_the_dashboard_and_logs_out(app, world):
    client = app.test_client()
    response = post_login(client, world.users["expert"].email, PASSWORD)
    assert response.status_code == 302 and location_path(response) == "/dashboard"
    assert "Panel of Experts on Yemen" in page(client.get("/dashboard"))

    assert client.get("/logout").status_code == 405  # logging out is a POST
    response = client.post("/logout")
    assert response.status_code == 302 and location_path(response) == "/login"
    assert "You are logged out." in page(client.get("/login"))
    response = client.get("/dashboard")
    assert response.status_code == 302 and location_path(response) == "/login"


def test_wrong_password_is_refused_with_a_message(app, world):
    response = post_login(app.test_client(), world.users["expert"].email, "not the password at all")
    assert response.status_code == 200
    assert "Wrong email or password" in page(response)
    unknown = post_login(app.test_client(), "nobody@nowhere.example", PASSWORD)
    assert "Wrong email or password" in page(unknown)  # the same answer: no user enumeration


def test_email_is_matched_whatever_its_case(app, world):
    response = post_login(app.test_client(), world.users["expert"].email.upper(), PASSWORD)
    assert response.status_code == 302


@pytest.mark.app_config(LOGIN_MAX_FAILURES=3)
def test_login_throttling_holds_across_two_worker_processes(app, world, database, tmp_path):
    """Two create_app's on one database stand for two gunicorn workers."""
    second = make_test_app(database, tmp_path / "worker2", LOGIN_MAX_FAILURES=3)
    try:
        email = world.users["expert"].email
        workers = [app, second, app]
        for worker in workers:
            response = post_login(worker.test_client(), email, "wrong password, again")
            assert response.status_code == 200
        for worker in (second, app):
            response = post_login(worker.test_client(), email, PASSWORD)
            assert response.status_code == 429
            assert "Too many failed attempts" in page(response)
            assert worker.test_client().get("/dashboard").status_code == 302
        # Someone else is not locked out by it.
        assert post_login(second.test_client(), world.users["viewer"].email, PASSWORD).status_code == 302
    finally:
        get_engine(second).dispose()


# Browsers read a backslash as a slash and drop tabs and newlines: each of these, if echoed
# into Location, would send the user to evil.example.
OPEN_REDIRECTS = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
]


def _browser_target(location: str) -> str:
    """Where a browser would go: WHATWG URL parsing, roughly."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urljoin("http://localhost/login", cleaned)


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_next_parameter_cannot_send_the_user_to_another_site(app, world, target):
    client = app.test_client()
    client.get("/login", query_string={"next": target})
    response = post_login(client, world.users["expert"].email, PASSWORD, next=target)
    assert response.status_code == 302
    landing = urlparse(_browser_target(response.headers["Location"]))
    assert (landing.scheme, landing.netloc) == ("http", "localhost"), response.headers["Location"]


def test_next_parameter_brings_the_user_back_to_the_page_asked_for(app, world):
    client = app.test_client()
    response = client.get("/admin/members")
    assert location_path(response) == "/login"
    (next_value,) = parse_qs(urlparse(response.headers["Location"]).query)["next"]
    assert "value=\"/admin/members" in page(client.get(response.headers["Location"]))  # carried by the form
    response = post_login(client, world.users["admin"].email, PASSWORD, next=next_value)
    assert location_path(response) == "/admin/members"


# ------------------------------------------------------------------ panels


def test_member_of_two_panels_switches_between_them(app, world, db):
    expert = world.users["expert"]
    add_member(db, world.other_panel, expert.email, expert.name, Role.VIEWER)
    db.commit()
    client = world.client("expert")
    dashboard = page(client.get("/dashboard"))
    assert "Panel of Experts on Yemen" in dashboard
    assert 'name="panel_id"' in dashboard  # the switcher appears when there are two panels

    response = client.post("/panels/switch", data={"panel_id": world.other_panel.id}, follow_redirects=True)
    assert "You are now working in Panel of Experts on Libya" in page(response)
    assert "<h1>Panel of Experts on Libya</h1>" in page(client.get("/dashboard"))
    assert client.get("/admin/members").status_code == 403  # a viewer in LBY

    client.post("/panels/switch", data={"panel_id": world.panel.id})
    assert "<h1>Panel of Experts on Yemen</h1>" in page(client.get("/dashboard"))


def test_switching_to_a_panel_one_is_not_a_member_of_is_refused(app, world):
    client = world.client("admin")
    response = client.post("/panels/switch", data={"panel_id": world.other_panel.id}, follow_redirects=True)
    assert "You are not a member of that panel" in page(response)
    assert "<h1>Panel of Experts on Yemen</h1>" in page(client.get("/dashboard"))


# ------------------------------------------------------------------ members and invites

INVITE_LINK = re.compile(r"http://localhost(/invite/[A-Za-z0-9_\-]+)")


def test_admin_invites_a_new_member_who_sets_a_password_once(app, world, db):
    admin = world.client("admin")
    response = admin.post("/admin/members/new", data={
        "email": "New.Expert@yem.example", "name": "Nadia New", "role": "expert"}, follow_redirects=True)
    assert response.status_code == 200
    link = INVITE_LINK.search(page(response))
    assert link, page(response)
    db.expire_all()
    user = db.exec(select(User).where(User.email == "new.expert@yem.example")).one()
    assert user.password_hash is None
    assert membership(db, user, world.panel).role is Role.EXPERT
    assert post_login(app.test_client(), user.email, "").status_code == 200  # no password yet

    invitee = app.test_client()
    assert invitee.get(link.group(1)).status_code == 200
    response = invitee.post(link.group(1), data={"password": "a new password of mine", "confirm": "a new password of mine"})
    assert response.status_code == 302 and location_path(response) == "/login"
    response = post_login(invitee, "new.expert@yem.example", "a new password of mine")
    assert response.status_code == 302 and location_path(response) == "/dashboard"
    assert "Panel of Experts on Yemen" in page(invitee.get("/dashboard"))

    assert app.test_client().get(link.group(1)).status_code == 404  # the link works once only
    again = app.test_client().post(link.group(1), data={"password": "someone else's pass", "confirm": "someone else's pass"})
    assert again.status_code == 404


def test_invite_refuses_a_short_or_mismatched_password(app, world):
    admin = world.client("admin")
    response = admin.post("/admin/members/new", data={
        "email": "short@yem.example", "name": "Sam Short", "role": "viewer"}, follow_redirects=True)
    path = INVITE_LINK.search(page(response)).group(1)
    client = app.test_client()
    assert "At least 12 characters" in page(client.post(path, data={"password": "short", "confirm": "short"}))
    assert "The two passwords differ" in page(
        client.post(path, data={"password": "long enough password", "confirm": "another long password"}))
    assert client.get(path).status_code == 200  # still unused


def test_an_existing_account_accepts_the_invitation_with_its_own_password(app, world, db):
    outsider = world.outsider  # admin of LBY
    admin = world.client("admin")
    response = admin.post("/admin/members/new", data={
        "email": outsider.email, "name": "ignored", "role": "viewer"}, follow_redirects=True)
    path = INVITE_LINK.search(page(response)).group(1)
    assert membership(db, outsider, world.panel).accepted_at is None  # not in force yet
    client = world.client(user=outsider)  # the same password as before
    assert "You are not a member" in page(
        client.post("/panels/switch", data={"panel_id": world.panel.id}, follow_redirects=True))

    assert "Log in to accept" in page(app.test_client().get(path))  # the link alone sets nothing
    assert "Accept the invitation" in page(client.get(path))
    response = client.post(path, follow_redirects=True)
    assert "You are now a member of Panel of Experts on Yemen" in page(response)
    assert membership(db, outsider, world.panel).role is Role.VIEWER
    assert membership(db, outsider, world.other_panel).role is Role.ADMIN
    assert app.test_client().get(path).status_code == 404  # used


def test_adding_a_member_twice_is_refused_next_to_the_field(app, world):
    admin = world.client("admin")
    response = admin.post("/admin/members/new", data={
        "email": world.users["expert"].email, "name": "x", "role": "viewer"})
    assert response.status_code == 200
    assert "already a member of YEM" in page(response)


def test_admin_edits_role_and_mandate(app, world, db):
    expert = world.users["expert"]
    m = membership(db, expert, world.panel)
    admin = world.client("admin")
    assert expert.email in page(admin.get("/admin/members"))
    assert admin.get(f"/admin/members/{m.id}").status_code == 200
    response = admin.post(f"/admin/members/{m.id}", data={
        "role": "coordinator", "mandate_start": "2024-01-01", "mandate_end": "2099-12-31", "active": "y"})
    assert response.status_code == 302
    m = membership(db, expert, world.panel)
    assert (m.role, m.mandate_start, m.mandate_end, m.active) == (
        Role.COORDINATOR, date(2024, 1, 1), date(2099, 12, 31), True)
    assert world.client("expert").get("/audit/").status_code == 200  # now a coordinator


def test_mandate_cannot_end_before_it_starts(app, world, db):
    m = membership(db, world.users["expert"], world.panel)
    response = world.client("admin").post(f"/admin/members/{m.id}", data={
        "role": "expert", "mandate_start": "2025-06-01", "mandate_end": "2025-01-01", "active": "y"})
    assert response.status_code == 200 and "cannot end before it starts" in page(response)


@pytest.mark.parametrize("change", ["mandate ended yesterday", "membership deactivated"])
def test_access_ends_by_itself_and_the_records_stay(app, world, db, change):
    expert = world.users["expert"]
    client = world.client("expert")  # logged in before the change
    assert client.get("/dashboard").status_code == 200
    m = membership(db, expert, world.panel)
    yesterday = date.today() - timedelta(days=1)
    form = {"role": "expert", "mandate_start": "", "mandate_end": "", "active": "y"}
    if change == "mandate ended yesterday":
        form["mandate_end"] = yesterday.isoformat()
    else:
        del form["active"]
    assert world.client("admin").post(f"/admin/members/{m.id}", data=form).status_code == 302

    response = client.get("/dashboard")
    assert response.status_code == 302 and location_path(response) == "/panels"
    assert "You have no panel in force" in page(client.get("/panels"))
    assert client.get("/admin/members").status_code == 302
    again = app.test_client()  # logging in again does not help
    assert post_login(again, expert.email, PASSWORD).status_code == 302
    assert location_path(again.get("/dashboard")) == "/panels"

    db.expire_all()
    assert db.get(User, expert.id) is not None
    actions = db.exec(select(AuditRecord.action).where(AuditRecord.actor_id == expert.id)).all()
    assert "user.login" in actions  # what they did stays, under their name
    shown = "mandate not in force" if change == "mandate ended yesterday" else "deactivated"
    assert shown in page(world.client("admin").get("/admin/members"))


def test_admin_cannot_demote_or_deactivate_themselves(app, world, db):
    admin_user = world.users["admin"]
    m = membership(db, admin_user, world.panel)
    admin = world.client("admin")
    for form in ({"role": "expert", "active": "y"}, {"role": "admin"}):
        response = admin.post(f"/admin/members/{m.id}", data=form)
        assert response.status_code == 200
        assert "You cannot remove your own admin role" in page(response)
    m = membership(db, admin_user, world.panel)
    assert (m.role, m.active) == (Role.ADMIN, True)


def test_viewer_cannot_manage_members(app, world):
    assert world.client("viewer").get("/admin/members").status_code == 403
    assert world.client("coordinator").get("/admin/members/new").status_code == 403


# ------------------------------------------------------------------ API tokens

NEW_TOKEN = re.compile(r'<code id="new-token">(pt_[^<]+)</code>')


def create_token_through_page(client, role: str, name: str = "laptop", days: int = 30) -> str:
    response = client.post("/account/tokens", data={"name": name, "role": role, "days": days})
    assert response.status_code == 200
    found = NEW_TOKEN.search(page(response))
    assert found, page(response)
    return found.group(1)


def api_me(app, secret: str):
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})


def test_token_secret_is_shown_once_and_stored_hashed(app, world, db, database):
    client = world.client("expert")
    secret = create_token_through_page(client, "expert")
    assert secret not in page(client.get("/account/tokens"))  # not shown again
    with database.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM api_token")).all()
    assert len(rows) == 1
    assert all(secret not in str(value) for value in rows[0])
    assert rows[0]._mapping["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()


def test_token_cannot_have_more_rights_than_the_user(app, world, db):
    client = world.client("expert")
    form = page(client.get("/account/tokens"))
    assert 'value="expert"' in form and 'value="coordinator"' not in form and 'value="admin"' not in form
    response = client.post("/account/tokens", data={"name": "sneaky", "role": "admin", "days": 30})
    assert response.status_code == 200
    assert not NEW_TOKEN.search(page(response))
    assert "Not a valid choice" in page(response)
    db.expire_all()
    assert db.exec(select(ApiToken)).all() == []


def test_api_reports_the_lower_of_token_role_and_membership_role(app, world, db):
    coordinator = world.users["coordinator"]
    secret = create_token_through_page(world.client("coordinator"), "expert")
    response = api_me(app, secret)
    assert response.status_code == 200
    assert response.json["role"] == "expert"
    assert response.json["user"]["email"] == coordinator.email
    assert response.json["panel"]["code"] == "YEM"

    m = membership(db, coordinator, world.panel)
    world.client("admin").post(f"/admin/members/{m.id}", data={"role": "viewer", "active": "y"})
    assert api_me(app, secret).json["role"] == "viewer"  # demoted: the token follows


def test_api_refuses_revoked_expired_and_unknown_tokens(app, world, db, database):
    client = world.client("expert")
    revoked, expired = create_token_through_page(client, "viewer", "one"), create_token_through_page(client, "viewer", "two")
    assert api_me(app, revoked).status_code == 200 and api_me(app, expired).status_code == 200

    db.expire_all()
    token = db.exec(select(ApiToken).where(ApiToken.name == "one")).one()
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    assert api_me(app, revoked).status_code == 401

    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_token SET expires_at = :past WHERE name = 'two'"),
                     {"past": "2000-01-01 00:00:00"})
    assert api_me(app, expired).status_code == 401
    assert api_me(app, "pt_not-a-real-token").status_code == 401
    assert app.test_client().get("/api/v1/me", headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_api_refuses_the_token_of_a_user_whose_mandate_ended(app, world, db):
    secret = create_token_through_page(world.client("expert"), "expert")
    assert api_me(app, secret).status_code == 200
    m = membership(db, world.users["expert"], world.panel)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    world.client("admin").post(f"/admin/members/{m.id}", data={"role": "expert", "mandate_end": yesterday, "active": "y"})
    assert api_me(app, secret).status_code == 401


def test_api_refuses_the_session_cookie(app, world):
    assert world.client("admin").get("/api/v1/me").status_code == 401


def test_token_creation_and_revocation_are_audited(app, world, db):
    expert = world.users["expert"]
    client = world.client("expert")
    create_token_through_page(client, "viewer", "ci")
    db.expire_all()
    token = db.exec(select(ApiToken)).one()
    client.post(f"/account/tokens/{token.id}/revoke")
    db.expire_all()
    records = db.exec(select(AuditRecord).where(AuditRecord.object_type == "api_token")
                      .order_by(AuditRecord.seq)).all()
    assert [(r.action, r.actor, r.object_id) for r in records] == [
        ("api_token.create", expert.email, token.id), ("api_token.revoke", expert.email, token.id)]
    assert '"role":"viewer"' in records[0].after and "revoked_at" in records[1].after


def test_a_user_cannot_revoke_someone_elses_token(app, world, db):
    create_token_through_page(world.client("expert"), "viewer")
    db.expire_all()
    token = db.exec(select(ApiToken)).one()
    assert world.client("admin").post(f"/account/tokens/{token.id}/revoke").status_code == 404
    db.expire_all()
    assert db.get(ApiToken, token.id).revoked_at is None


# ------------------------------------------------------------------ cookies and passwords


def _session_cookie(response) -> str:
    cookies = [v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax(app, world):
    cookie = _session_cookie(post_login(app.test_client(), world.users["expert"].email, PASSWORD))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development and tests run on plain http


def test_session_cookie_is_secure_in_production(app, world, database, tmp_path):
    production = make_test_app(database, tmp_path / "prod", ENV="production", SECRET_KEY="a production secret")
    try:
        assert production.config["SESSION_COOKIE_SECURE"] is True
        cookie = _session_cookie(post_login(production.test_client(), world.users["expert"].email, PASSWORD))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        get_engine(production).dispose()


def test_passwords_are_stored_as_argon2id_hashes(app, world, db):
    db.expire_all()
    hashes = db.exec(select(User.password_hash)).all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)


def test_a_panel_created_later_does_not_give_anyone_access(app, world, db):
    create_panel(db, "SDN", "Panel of Experts on the Sudan")
    db.commit()
    client = world.client("admin")
    assert "Sudan" not in page(client.get("/panels"))
    user, _ = make_member(world.panel, "viewer")
    assert log_in(app.test_client(), user).get("/dashboard").status_code == 200
