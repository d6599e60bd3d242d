"""Issue 7, finding 1: an admin of one panel never takes over an account of another panel.

Two panels' admins, through HTTP: YEM's (``world.users["admin"]``) and LBY's
(``world.outsider``). An invitation is to a membership; it sets a password only for the
account it created, and a membership is in force only once its user accepts it with the
link *and* their own password.
"""
from __future__ import annotations

import re

from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.auth.models import Membership, User
from panel_tracker.cases.services import create_case, create_item
from tests.factories import PASSWORD, log_in

INVITE_LINK = re.compile(r"http://localhost(/invite/[A-Za-z0-9_\-]+)")
THE_ATTACKERS_PASSWORD = "lby admin chose this one"


def page(response) -> str:
    return response.get_data(as_text=True)


def invite(admin_client, email: str, role: str = "expert", name: str = "Someone") -> tuple[str, str]:
    """(the flash shown to the admin, the invite path in it, if any)."""
    response = admin_client.post("/admin/members/new", data={"email": email, "name": name, "role": role},
                                 follow_redirects=True)
    assert response.status_code == 200
    flash = re.search(r'<div class="flash flash-info" role="status">([^<]*)</div>', page(response)).group(1)
    link = INVITE_LINK.search(flash)
    return flash, link.group(1) if link else None


def set_password(client, path: str, password: str):
    return client.post(path, data={"password": password, "confirm": password})


def panel_item(db, world) -> str:
    """A YEM item only panel members may see; returns its type, to look for on pages."""
    case = create_case(db, world.panel, {"ref": "YEM-2024-001", "title": "Aden port"}, None)
    create_item(db, case, {"category": "small_arm", "type": "secret rifle of YEM", "quantity": 1}, None)
    db.commit()
    return "secret rifle of YEM"


def user_by_email(db, email: str) -> User:
    db.expire_all()
    return db.exec(select(User).where(User.email == email)).one()


def test_lby_admin_cannot_set_the_password_of_someone_yem_invited(app, world, db):
    """Flow (a): YEM invites new@; LBY's admin invites the same email and opens their link."""
    secret_item = panel_item(db, world)
    _, yem_link = invite(world.client("admin"), "new@un.example")
    lby_admin = world.client(user=world.outsider)
    _, lby_link = invite(lby_admin, "new@un.example")

    attacker = app.test_client()
    landing = page(attacker.get(lby_link))
    assert "Set your password" not in landing and "Log in to accept" in landing
    assert "Set your password" not in page(set_password(attacker, lby_link, THE_ATTACKERS_PASSWORD))
    assert user_by_email(db, "new@un.example").password_hash is None
    assert attacker.post("/login", data={"email": "new@un.example", "password": THE_ATTACKERS_PASSWORD}
                         ).status_code == 200  # no way in

    # The person YEM invited uses YEM's link, reads YEM, and may then accept LBY's too.
    person = app.test_client()
    assert set_password(person, yem_link, "my very own password").status_code == 302
    log_in(person, user_by_email(db, "new@un.example"), "my very own password")
    assert secret_item in page(person.get("/items"))
    assert "You are now a member" in page(person.post(lby_link, follow_redirects=True))


def test_an_account_lby_made_gets_no_access_when_yem_invites_its_email(app, world, db):
    """Flow (b): LBY's admin creates future.yem.expert@ and sets its password first."""
    secret_item = panel_item(db, world)
    email = "future.yem.expert@un.example"
    lby_admin = world.client(user=world.outsider)
    _, lby_link = invite(lby_admin, email)
    attacker = app.test_client()
    assert set_password(attacker, lby_link, THE_ATTACKERS_PASSWORD).status_code == 302
    log_in(attacker, user_by_email(db, email), THE_ATTACKERS_PASSWORD)

    flash, yem_link = invite(world.client("admin"), email)
    switch = attacker.post("/panels/switch", data={"panel_id": world.panel.id}, follow_redirects=True)
    assert "You are not a member of that panel" in page(switch)
    assert secret_item not in page(attacker.get("/items"))
    assert "Yemen" not in page(attacker.get("/panels"))
    assert "already had an account" not in flash
    db.expire_all()
    pending = db.exec(select(Membership).where(Membership.panel_id == world.panel.id,
                                               Membership.user_id == user_by_email(db, email).id)).one()
    assert pending.accepted_at is None and not pending.in_force(pending.created_at.date())
    # YEM's link is not a credential: it asks for the account's own password.
    assert "Log in to accept" in page(app.test_client().get(yem_link))
    assert "Set your password" not in page(app.test_client().get(yem_link))


def test_adding_an_email_tells_the_admin_nothing_about_it(app, world, db):
    _, _ = invite(world.client(user=world.outsider), "pending.in.lby@un.example")
    admin = world.client("admin")
    answers = []
    for email in ("brand.new@un.example", world.outsider.email, "pending.in.lby@un.example"):
        flash, link = invite(admin, email, name="Typed Name")
        answers.append(flash.replace(email, "EMAIL").replace(link, "LINK"))
    assert answers[0] == answers[1] == answers[2], answers
    db.expire_all()
    logged = [db.exec(select(AuditRecord.action).where(AuditRecord.panel_id == world.panel.id,
                                                       AuditRecord.object_label == email)
                      .order_by(AuditRecord.seq)).all()
              for email in ("brand.new@un.example", world.outsider.email, "pending.in.lby@un.example")]
    assert logged[0] == logged[1] == logged[2] == ["membership.invite", "membership.invite_link"]
    members = page(admin.get("/admin/members"))
    assert world.outsider.name not in members  # an account's own name shows once it accepts
    assert members.count("invited, not accepted yet") == 3


def test_a_link_for_an_account_that_has_a_password_never_sets_it(app, world, db):
    flash, link = invite(world.client("admin"), world.outsider.email)
    assert set_password(app.test_client(), link, THE_ATTACKERS_PASSWORD).status_code == 200
    log_in(app.test_client(), world.outsider, PASSWORD)  # unchanged


def test_a_membership_is_accepted_only_by_its_own_user(app, world, db):
    _, link = invite(world.client("admin"), world.outsider.email, role="viewer")
    someone_else = world.client("expert")
    assert "for another account" in page(someone_else.post(link))
    db.expire_all()
    pending = db.exec(select(Membership).where(Membership.user_id == world.outsider.id,
                                               Membership.panel_id == world.panel.id)).one()
    assert pending.accepted_at is None


def test_a_new_link_replaces_a_lost_one(app, world, db):
    admin = world.client("admin")
    _, first = invite(admin, "lost.link@un.example")
    user = user_by_email(db, "lost.link@un.example")
    membership = db.exec(select(Membership).where(Membership.user_id == user.id)).one()
    response = admin.post(f"/admin/members/{membership.id}/invite", follow_redirects=True)
    second = INVITE_LINK.search(page(response)).group(1)
    assert app.test_client().get(first).status_code == 404
    assert set_password(app.test_client(), second, "a fresh password here").status_code == 302


def test_cli_users_create_never_changes_an_existing_accounts_password(app, world, runner, tmp_path):
    password_file = tmp_path / "password.txt"
    password_file.write_text("a password the operator typed\n")
    result = runner.invoke(args=["users", "create", world.outsider.email, "--panel", "YEM", "--role", "viewer",
                                 "--password-file", str(password_file)])
    assert result.exit_code == 2 and "its password is not changed here" in result.output
    log_in(app.test_client(), world.outsider, PASSWORD)
