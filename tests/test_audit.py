"""The audit log: every change recorded, the chain verifiable, the page filtered and masked."""
from __future__ import annotations

import contextvars
import json
import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from panel_tracker import audit
from panel_tracker.audit.models import AuditRecord
from panel_tracker.auth.models import ApiToken, Membership, Role
from panel_tracker.classification import Classification, clearance_for
from panel_tracker.db import utcnow




def cli(runner, *args):
    """Run a command as its own process would: in a fresh context, with its own session."""
    return contextvars.Context().run(runner.invoke, args=list(args))


def records(db, **where) -> list[AuditRecord]:
    db.expire_all()
    stmt = select(AuditRecord).order_by(AuditRecord.seq)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditRecord, name) == value)
    return db.exec(stmt).all()


def values(rec: AuditRecord) -> tuple[dict, dict]:
    return json.loads(rec.before), json.loads(rec.after)


def assert_recent(rec: AuditRecord) -> None:
    assert rec.at.tzinfo is not None
    assert utcnow() - timedelta(minutes=1) < rec.at <= utcnow()


# ------------------------------------------------------------------ every change is recorded


def test_panel_creation_is_recorded(app, world, db, runner):
    result = cli(runner, "panels", "create", "SDN", "--name", "Panel of Experts on the Sudan")
    assert result.exit_code == 0, result.output
    (rec,) = records(db, action="panel.create", object_label="SDN")
    assert rec.actor == "system" and rec.object_type == "panel"
    assert values(rec) == ({}, {"code": "SDN", "name": "Panel of Experts on the Sudan", "regime": ""})
    assert_recent(rec)


def test_member_creation_is_recorded_with_who_made_it(app, world, db):
    admin = world.users["admin"]
    response = world.client("admin").post("/admin/members/new", data={
        "email": "recorded@yem.example", "name": "Rita Recorded", "role": "viewer", "mandate_end": "2030-06-30"})
    assert response.status_code == 302
    created = {r.action: r for r in records(db, object_label="recorded@yem.example")}
    assert {"user.create", "membership.invite", "membership.invite_link"} <= set(created)
    for action, rec in created.items():  # under the admin's name; the account's own record is in no panel's log
        panel_id = None if action == "user.create" else world.panel.id
        assert (action, rec.actor, rec.actor_id, rec.panel_id) == (action, admin.email, admin.id, panel_id)
        assert_recent(rec)
    assert values(created["membership.invite"]) == (
        {}, {"role": "viewer", "mandate_start": None, "mandate_end": "2030-06-30", "active": True})
    assert values(created["user.create"])[1] == {"email": "recorded@yem.example", "name": "Rita Recorded"}


def test_membership_update_records_only_what_changed_before_and_after(app, world, db):
    expert = world.users["expert"]
    m = db.exec(select(Membership).where(Membership.user_id == expert.id)).one()
    world.client("admin").post(f"/admin/members/{m.id}", data={
        "role": "coordinator", "mandate_end": "2031-01-31", "active": "y"})
    (rec,) = records(db, action="membership.update")
    assert rec.actor == world.users["admin"].email and rec.object_id == m.id and rec.object_label == expert.email
    assert values(rec) == ({"role": "expert", "mandate_end": None},
                           {"role": "coordinator", "mandate_end": "2031-01-31"})
    assert_recent(rec)


def test_token_creation_and_revocation_are_recorded(app, world, db):
    expert = world.users["expert"]
    client = world.client("expert")
    client.post("/account/tokens", data={"name": "scripts", "role": "viewer", "days": 10})
    db.expire_all()
    token = db.exec(select(ApiToken)).one()
    client.post(f"/account/tokens/{token.id}/revoke")
    created, revoked = records(db, object_type="api_token")
    assert (created.action, revoked.action) == ("api_token.create", "api_token.revoke")
    assert created.actor == revoked.actor == expert.email
    assert values(created)[1]["role"] == "viewer" and values(created)[1]["name"] == "scripts"
    assert values(revoked)[1]["revoked_at"]
    assert token.token_hash not in created.after + created.object_label  # neither secret nor hash


def test_settings_update_is_recorded_before_and_after(app, world, db):
    response = world.client("admin").post("/admin/settings", data={
        "name": "Panel of Experts on Yemen", "regime": "resolution 2140 (2014)",
        "acknowledgement_due_days": 30, "reply_due_days": 120, "min_independent_sources": 2,
        "annex_withheld_notes": "y"})  # left as it was (an unticked box would turn it off)
    assert response.status_code == 302
    (rec,) = records(db, action="panel.update")
    assert rec.actor == world.users["admin"].email
    assert values(rec) == ({"regime": "", "reply_due_days": 90},
                           {"regime": "resolution 2140 (2014)", "reply_due_days": 120})
    assert_recent(rec)
    assert rec.panel_id == world.panel.id  # or the panel's own audit page never shows it
    assert "panel.update" in world.client("coordinator").get("/audit/").get_data(as_text=True)


def test_an_audit_record_rolls_back_with_its_change(app, world, db):
    from panel_tracker.auth.services import create_panel

    before = len(records(db))
    create_panel(db, "CAF", "Panel of Experts on the Central African Republic")
    db.rollback()
    assert len(records(db)) == before
    assert cli(app.test_cli_runner(), "audit", "verify").exit_code == 0


# ------------------------------------------------------------------ the chain


def test_verify_passes_on_an_intact_chain(app, world, db, runner):
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"audit chain intact: {len(records(db))} records" in result.output


def test_verify_names_a_record_edited_in_the_database(app, world, database, runner):
    with database.engine.begin() as conn:
        conn.execute(sa.text("""UPDATE audit_record SET "after" = '{"role":"admin"}' WHERE seq = 2"""))
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 1
    assert "BROKEN at record 2" in result.output and "edited" in result.output


def test_verify_sees_an_edit_even_when_the_hash_is_recomputed(app, world, db, database, runner):
    rec = records(db, seq=2)[0]
    rec.after = '{"role":"admin"}'
    forged = audit.compute_hash(rec)
    with database.engine.begin() as conn:
        conn.execute(sa.text("""UPDATE audit_record SET "after" = '{"role":"admin"}', hash = :h WHERE seq = 2"""),
                     {"h": forged})
    db.expire_all()
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 1
    assert "BROKEN at record 3" in result.output and "prev_hash" in result.output


def test_verify_names_a_deleted_record(app, world, database, runner):
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE seq = 3"))
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 1
    assert "BROKEN at record 3" in result.output and "missing" in result.output


# ------------------------------------------------------------------ the page


def test_audit_page_lists_the_panels_records_only(app, world):
    html = world.client("coordinator").get("/audit/").get_data(as_text=True)
    assert "membership.create" in html and world.users["viewer"].email in html
    assert world.outsider.email not in html  # LBY's records stay with LBY


@pytest.mark.parametrize("role", ["expert", "viewer"])
def test_audit_page_is_closed_to_experts_and_viewers(app, world, role):
    assert world.client(role).get("/audit/").status_code == 403


def test_audit_page_filters_by_object_type_actor_and_date(app, world, db):
    admin = world.users["admin"]
    m = db.exec(select(Membership).where(Membership.user_id == world.users["viewer"].id)).one()
    world.client("admin").post(f"/admin/members/{m.id}", data={"role": "expert", "active": "y"})
    client = world.client("coordinator")

    def rows(**query) -> list[str]:
        html = client.get("/audit/", query_string=query).get_data(as_text=True)
        body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        return [row for row in body.split("<tr>")[1:] if "Nothing recorded matches" not in row]

    everything = rows()
    memberships = rows(object_type="membership")
    assert 0 < len(memberships) < len(everything)
    assert all("membership" in row for row in memberships)
    by_admin = rows(actor=admin.email)
    assert by_admin and all(admin.email in row for row in by_admin)
    assert len(rows(actor=admin.email, object_type="membership")) == 1  # the update above
    today = date.today()
    assert len(rows(since=today.isoformat(), until=today.isoformat())) == len(everything)
    assert rows(since=(today + timedelta(days=1)).isoformat()) == []
    assert rows(until=(today - timedelta(days=1)).isoformat()) == []
    assert len(rows(since="not a date")) == len(everything)  # a bad date is ignored, not a 500


@pytest.fixture
def classified_records(app, world, db):
    """A record of a panel-only object, and one whose ``notes`` field is panel-only."""
    whole = audit.record(db, "item.update", panel_id=world.panel.id, object_type="item", object_id=7,
                         label="Serial SN-4471", classification="panel",
                         before={"serial": "SN-4470"}, after={"serial": "SN-4471"})
    field = audit.record(db, "item.update", panel_id=world.panel.id, object_type="item", object_id=8,
                         label="AK-pattern rifle", classification="committee", field_classes={"notes": "panel"},
                         before={"notes": "first source"}, after={"notes": "source met in Aden", "model": "AKM"})
    db.commit()
    return whole, field


def test_viewer_clearance_masks_panel_values(classified_records):
    whole, field = classified_records
    viewer = clearance_for(Role.VIEWER)
    assert viewer is Classification.COMMITTEE
    assert audit.masked_values(whole, viewer) == ({"serial": audit.MASK}, {"serial": audit.MASK})
    assert audit.masked_values(field, viewer) == (
        {"notes": audit.MASK}, {"notes": audit.MASK, "model": "AKM"})
    public_before, public_after = audit.masked_values(field, Classification.PUBLIC)
    assert public_after == {"notes": audit.MASK, "model": audit.MASK}


def test_coordinator_sees_classified_values_on_the_page(app, world, classified_records):
    html = world.client("coordinator").get("/audit/", query_string={"object_type": "item"}).get_data(as_text=True)
    for shown in ("SN-4470", "SN-4471", "Serial SN-4471", "first source", "source met in Aden", "AKM"):
        assert shown in html
    assert audit.MASK not in html
    assert cli(app.test_cli_runner(), "audit", "verify").exit_code == 0  # the crafted records chain too


# ------------------------------------------------------------------ concurrent appends


def _unique_on_seq(engine) -> bool:
    inspector = sa.inspect(engine)
    constraints = inspector.get_unique_constraints("audit_record")
    indexes = inspector.get_indexes("audit_record")
    return (any(c["column_names"] == ["seq"] for c in constraints)
            or any(i["column_names"] == ["seq"] and i["unique"] for i in indexes))


def test_seq_is_unique_in_the_schema(database):
    assert _unique_on_seq(database.engine)


def _record_after(last: AuditRecord, action: str) -> AuditRecord:
    rec = AuditRecord(seq=last.seq + 1, at=utcnow(), actor="system", action=action, prev_hash=last.hash)
    rec.hash = audit.compute_hash(rec)
    return rec


def test_two_writers_cannot_both_append_after_the_same_record(app, world, database, runner):
    with Session(database.engine) as first, Session(database.engine) as second:
        last_first = first.exec(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
        last_second = second.exec(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
        assert last_first.seq == last_second.seq  # both read the same end of the chain
        first.add(_record_after(last_first, "writer.one"))
        first.commit()
        second.add(_record_after(last_second, "writer.two"))
        with pytest.raises(sa.exc.IntegrityError):
            second.commit()
        second.rollback()
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 0, result.output


def test_a_second_writer_waits_or_fails_but_never_forks_the_chain(app, world, db, database, runner):
    """record() in two open transactions: PostgreSQL makes the second wait; SQLite refuses it."""
    audit.record(db, "writer.one")  # holds the end of the chain until commit
    outcome = {}

    def second_writer():
        with Session(database.engine) as session:
            try:
                outcome["seq"] = audit.record(session, "writer.two", actor="system").seq
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()
                outcome["refused"] = True

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(0.5)
    assert "seq" not in outcome or outcome.get("refused")  # it cannot have appended yet
    db.commit()
    thread.join(30)
    assert not thread.is_alive()
    mine = records(db, action="writer.one")[0]
    if database.backend == "postgresql":
        assert outcome == {"seq": mine.seq + 1}
    else:
        assert outcome.get("refused") or outcome == {"seq": mine.seq + 1}
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 0, result.output


def test_chain_stays_intact_under_concurrent_appends_from_two_threads(app, world, db, runner):
    start = len(records(db))
    per_thread, errors, conflicts = 15, [], []

    def writer(name: str):
        with app.app_context():
            from panel_tracker.db import get_session

            session = get_session()
            done = 0
            while done < per_thread:
                try:
                    audit.record(session, f"{name}.append", panel_id=world.panel.id, after={"n": done})
                    session.commit()
                    done += 1
                except sa.exc.IntegrityError:  # another writer took the same seq: retry
                    session.rollback()
                    conflicts.append(name)
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(repr(exc))
                    return

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a writer is stuck"
    assert not errors
    rows = records(db)
    assert len(rows) == start + 2 * per_thread
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 0, result.output
