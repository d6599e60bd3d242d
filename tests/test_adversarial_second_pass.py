"""The second adversarial pass (security issue): an attacker's view of what landed last —
correspondence and trace requests, invitations, sessions, two-factor login — through real
HTTP. Each test is one attack; those marked "finding" failed before their fix."""
from __future__ import annotations

import io
import re
from datetime import date

import pyotp
import pytest
from sqlmodel import select

from panel_tracker.auth.models import Membership, Role, User
from panel_tracker.auth.services import invite_member
from panel_tracker.classification import Classification
from panel_tracker.db import get_session
from panel_tracker.traces import services
from panel_tracker.traces.models import (Addressee, ItemReply, Letter, LetterEvent, LetterItem, LetterTemplate, Reply,
                                         ReplyDocument)
from tests.factories import PASSWORD, make_member
from tests.test_security_auth_sessions import SECRET
from tests.test_traces import PDF, TODAY, _draft, _items, _sent


def page(response) -> str:
    return response.get_data(as_text=True)


def _reply_with_document(world, letter, *, outcomes=()):
    response = world.client("coordinator").post(f"/traces/{letter.id}/reply", content_type="multipart/form-data",
                                                data={"received_on": "2024-04-02", "summary": "Note verbale",
                                                      "documents": [(io.BytesIO(PDF), "../../etc/passwd.pdf")],
                                                      **dict(outcomes)})
    assert response.status_code == 302, page(response)[:500]
    return get_session().exec(select(ReplyDocument).order_by(ReplyDocument.id.desc())).first()


# ------------------------------------------------------------------ files


def test_finding_a_reply_document_downloads_as_an_inert_attachment_like_an_original(world):
    letter = _sent(world, _items(world, 1))
    document = _reply_with_document(world, letter)
    download = world.client("coordinator").get(f"/traces/documents/{document.id}")
    assert download.status_code == 200 and download.data == PDF
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "passwd" not in disposition and ".." not in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    download.close()
    for fmt in ("pdf", "docx"):
        letter_file = world.client("expert").get(f"/traces/{letter.id}/letter.{fmt}")
        assert letter_file.headers["Content-Disposition"].startswith("attachment;")
        assert letter_file.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


@pytest.mark.parametrize("name, body", [
    ("reply.pdf", b"<html><script>alert(document.cookie)</script></html>"),
    ("chart.pdf", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    ("note.pdf", b" %PDF-1.4 but not at the start"),
])
def test_html_or_svg_named_pdf_is_refused_as_a_reply_document(world, name, body):
    letter = _sent(world, _items(world, 1))
    response = world.client("coordinator").post(f"/traces/{letter.id}/reply", content_type="multipart/form-data",
                                                data={"received_on": "2024-04-02", "summary": "x",
                                                      "documents": [(io.BytesIO(body), name)]})
    assert response.status_code == 415
    assert "<script>alert" not in page(response) and get_session().exec(select(ReplyDocument)).all() == []


# ------------------------------------------------------------------ the letter template


COSTLY_TEMPLATES = [
    '{{ ("x" * 10000000)|length }}',  # in production: "x" * 10**10, a worker out of memory
    "{% for i in range(2000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}",  # 99999 × 99999: hours
    "{% set ns = namespace(s='ab') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{{ '%0999999d'|format(1) }}",
    "{{ '%0999999d' % 1 }}",
    "{{ 'a'|center(1000000) }}",
    "{{ (7 ** 99999) > 1 }}",
    "{{ lipsum(n=100) }}",
    "{% for a in items %}{% for b in items %}{% for c in items %}{% endfor %}{% endfor %}{% endfor %}",
    "{% for c in letter.body %}{% for d in letter.body %}{{ c }}{% endfor %}{% endfor %}",
    "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "{{ letter.body|replace('', letter.subject) }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ config }}{{ request }}{{ self }}",
    "{{ letter.kind.__class__ }}",
    "{{ 'x' ~ ('y' * 30000) }}",
]


@pytest.mark.parametrize("body", COSTLY_TEMPLATES)
def test_finding_a_template_that_would_spend_or_reach_the_server_is_refused(world, body):
    coordinator = world.client("coordinator")
    response = coordinator.post("/traces/template", data={"body": body})
    assert response.status_code == 422, body
    assert "cannot be used" in page(response) or "may not use" in page(response)
    assert get_session().exec(select(LetterTemplate)).all() == []


def test_finding_a_stored_template_outside_the_rules_prints_the_default_body(world):
    from docx import Document

    db = get_session()
    db.add(LetterTemplate(panel_id=world.panel.id, body='{{ "SPENT" * 1000 }}'))
    db.commit()
    letter = _sent(world, _items(world, 1))
    paragraphs = [p.text for p in Document(io.BytesIO(world.client("expert").get(
        f"/traces/{letter.id}/letter.docx").data)).paragraphs]
    assert any("presents its compliments" in p for p in paragraphs)
    assert not any("SPENT" in p for p in paragraphs)


def test_an_ordinary_template_with_loops_over_items_and_markings_still_prints(world):
    from docx import Document

    body = ("Dear {{ addressee.formal }},\n\n{% for it in items %}{{ loop.index }}. {{ it.item_ref|upper }}"
            "{% for m in it.markings %} ({{ m.kind }}: {{ m.text }}){% endfor %}\n{% endfor %}\n\n"
            "{% if withheld %}{{ withheld }} withheld{% else %}none withheld{% endif %} ~ {{ letter.ref ~ '!' }}")
    coordinator = world.client("coordinator")
    assert coordinator.post("/traces/template", data={"body": body}).status_code == 302
    letter = _sent(world, _items(world, 1))
    text = "\n".join(p.text for p in Document(io.BytesIO(coordinator.get(f"/traces/{letter.id}/letter.docx").data))
                     .paragraphs)
    assert "1. YEM-2024-030/01 (factory code: 66)" in text and "none withheld ~ YEM-L-001!" in text


def test_the_template_sees_no_other_panels_data(world):
    from docx import Document

    lby = make_member(world.other_panel, "coordinator")[0]
    db = get_session()
    services.state_addressee(db, world.other_panel, "FRA", None)
    db.commit()
    letter = _sent(world, _items(world, 1))
    coordinator = world.client("coordinator")
    body = "{{ panel }} {{ addressee }} {{ letter.ref }} {{ withheld }}"
    assert coordinator.post("/traces/template", data={"body": body}).status_code == 302
    text = "\n".join(p.text for p in Document(io.BytesIO(coordinator.get(f"/traces/{letter.id}/letter.docx").data))
                     .paragraphs)
    assert "LBY" not in text and "France" not in text and "test-secret" not in text and lby.email not in text


# ------------------------------------------------------------------ another panel, by id


def _yem_objects(world):
    items = _items(world, 2)
    letter = _sent(world, items)
    document = _reply_with_document(world, letter, outcomes=[
        (f"outcome-{li.id}", "transferred") for li in get_session().exec(select(LetterItem))] + [
        (f"party_country-{li.id}", "ARE") for li in get_session().exec(select(LetterItem))])
    item_reply = get_session().exec(select(ItemReply)).first()
    addressee = get_session().exec(select(Addressee).where(Addressee.panel_id == world.panel.id)).first()
    return items, letter, document, item_reply, addressee


def test_another_panels_admin_gets_404_for_every_correspondence_object(world):
    items, letter, document, item_reply, addressee = _yem_objects(world)
    lby_admin = world.client(user=world.outsider)
    gets = [f"/traces/{letter.id}", f"/traces/{letter.id}/edit", f"/traces/{letter.id}/reply",
            f"/traces/{letter.id}/letter.pdf", f"/traces/{letter.id}/letter.docx", f"/traces/documents/{document.id}",
            f"/traces/addressees/{addressee.id}/edit"]
    posts = [f"/traces/{letter.id}/send", f"/traces/{letter.id}/move", f"/traces/{letter.id}/reminder",
             f"/traces/{letter.id}/correct", f"/traces/{letter.id}/classify", f"/traces/{letter.id}/edit",
             f"/traces/{letter.id}/reply", f"/traces/outcomes/{item_reply.id}/follow-up",
             f"/traces/addressees/{addressee.id}/edit"]
    for path in gets:
        assert lby_admin.get(path).status_code == 404, path
    for path in posts:
        assert lby_admin.post(path, data={"on": "2024-05-01", "to": "acknowledged", "reason": "x",
                                          "level": "public", "confirm_public": "y", "summary": "x",
                                          "received_on": "2024-05-01", "name": "x"}).status_code == 404, path
    for path in ("/traces/", "/traces/dashboard", "/traces/status?as_at=2024-12-31", "/traces/addressees"):
        text = page(lby_admin.get(path))
        assert letter.ref not in text and "United Arab Emirates" not in text and "China" not in text, path
    db = get_session()
    db.expire_all()
    assert db.get(Letter, letter.id).status.value == "partially_answered" and db.get(Letter, letter.id).classification.value == "panel"
    assert db.exec(select(Letter)).all() == [db.get(Letter, letter.id)]


def test_another_panels_ids_in_forms_are_refused(world):
    items, letter, document, item_reply, addressee = _yem_objects(world)
    lby_coordinator = world.client(user=make_member(world.other_panel, "coordinator")[0])
    db = get_session()
    lby_addressee = services.state_addressee(db, world.other_panel, "FRA", None)
    db.commit()
    # a draft naming YEM's items, or YEM's addressee
    for data in ({"kind": "trace_request", "addressee_id": lby_addressee.id, "item_ids": [str(i.id) for i in items]},
                 {"kind": "information_request", "addressee_id": addressee.id}):
        response = lby_coordinator.post("/traces/new", data=data)
        assert response.status_code == 422, data
        assert items[0].serial not in page(response)
    assert db.exec(select(Letter).where(Letter.panel_id == world.other_panel.id)).all() == []
    # a reply naming YEM's addressee as the party, on an LBY letter
    lby_item = _lby_item(world)
    lby_letter = services.draft_letter(db, world.other_panel, {"kind": "trace_request",
                                                               "addressee_id": lby_addressee.id}, None,
                                       item_ids=[lby_item.id])
    services.send_letter(db, lby_letter, None, sent_on=date(2024, 3, 1), today=TODAY)
    db.commit()
    link = db.exec(select(LetterItem).where(LetterItem.letter_id == lby_letter.id)).one()
    yem_link = db.exec(select(LetterItem).where(LetterItem.letter_id == letter.id)).first()
    for outcomes in ({f"outcome-{link.id}": "transferred", f"party-{link.id}": str(addressee.id)},
                     {f"outcome-{yem_link.id}": "transferred", f"party_country-{yem_link.id}": "RUS"}):
        lby_coordinator.post(f"/traces/{lby_letter.id}/reply",
                             data={"received_on": "2024-04-02", "summary": "x", **outcomes})
    db.expire_all()
    assert all(r.party_id != addressee.id for r in db.exec(select(ItemReply)))
    assert not db.exec(select(ItemReply).where(ItemReply.letter_item_id == yem_link.id,
                                               ItemReply.reply_id.in_(select(Reply.id).where(
                                                   Reply.letter_id == lby_letter.id)))).all()
    assert services.find_state(db, world.panel, "RUS") is None


def _lby_item(world):
    from panel_tracker.cases.services import create_case, create_item

    db = get_session()
    case = create_case(db, world.other_panel, {"ref": "LBY-2024-001", "title": "Misrata"}, None)
    item = create_item(db, case, {"category": "small_arm", "type": "pistol", "serial": "LBY-1",
                                  "serial_legibility": "intact", "quantity": 1}, None)
    db.commit()
    return item


# ------------------------------------------------------------------ a viewer


def test_a_viewer_sees_no_panel_letter_reply_or_document_through_any_door(world):
    items, letter, document, item_reply, addressee = _yem_objects(world)
    viewer = world.client("viewer")
    for path in (f"/traces/{letter.id}", f"/traces/{letter.id}/letter.pdf", f"/traces/{letter.id}/letter.docx",
                 f"/traces/documents/{document.id}", f"/traces/outcomes/{item_reply.id}/follow-up"):
        assert viewer.get(path).status_code in (404, 405), path
    for path in ("/traces/", "/traces/dashboard", "/traces/status?as_at=2024-12-31", "/traces/addressees",
                 "/traces/?show=traced", "/dashboard", "/traces/?addressee=%d" % addressee.id):
        text = page(viewer.get(path))
        assert letter.ref not in text and "China" not in text and "United Arab Emirates" not in text, path
        assert "1 sent" not in text and "(2 of 2)" not in text, path


def test_finding_a_viewer_counts_no_hidden_item_as_traced(world):
    """A committee letter about a committee item and a panel item; the reply traces only
    the panel item. The viewer is told one item is withheld, and nothing about it."""
    from docx import Document

    committee_item = _items(world, 1, level=Classification.COMMITTEE)[0]
    db = get_session()
    from panel_tracker.cases.models import Case
    from panel_tracker.cases.services import create_item

    hidden = create_item(db, db.get(Case, committee_item.case_id), {"category": "small_arm", "type": "sniper rifle",
                                                   "serial": "SECRET-777", "serial_legibility": "intact",
                                                   "quantity": 1}, None)
    db.commit()
    letter = _sent(world, [committee_item, hidden], level=Classification.COMMITTEE)
    hidden_link = db.exec(select(LetterItem).where(LetterItem.item_id == hidden.id)).one()
    services.record_reply(db, letter, None, received_on=date(2024, 4, 2), summary="partial", complete=False,
                          item_outcomes=[{"letter_item_id": hidden_link.id, "outcome": "transferred",
                                          "party_country": "ARE"}], today=TODAY)
    db.exec(select(Reply)).one().classification = Classification.COMMITTEE
    db.commit()
    viewer = world.client("viewer")
    status = page(viewer.get("/traces/status?as_at=2024-12-31"))
    assert letter.ref in status and "0 items traced" in status
    dashboard = page(viewer.get("/traces/dashboard?on=2024-12-31"))
    assert "(0 of 1)" in dashboard and "of 2)" not in dashboard
    assert letter.ref not in page(viewer.get("/traces/?show=traced&on=2024-12-31"))  # the list behind "0"
    assert letter.ref in page(world.client("expert").get("/traces/?show=traced&on=2024-12-31"))
    shown = page(viewer.get(f"/traces/{letter.id}"))
    assert "1 item withheld" in shown and "SECRET-777" not in shown and "United Arab Emirates" not in shown
    for fmt in ("pdf", "docx"):
        data = viewer.get(f"/traces/{letter.id}/letter.{fmt}").data
        text = (" ".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
                + " ".join(c.text for t in Document(io.BytesIO(data)).tables for r in t.rows for c in r.cells)
                if fmt == "docx" else _pdf_text(data))
        assert "SECRET-777" not in text and "sniper" not in text and committee_item.item_ref in text
    expert_status = page(world.client("expert").get("/traces/status?as_at=2024-12-31"))
    assert "1 item traced" in expert_status


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


# ------------------------------------------------------------------ stored XSS


XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def test_letter_fields_and_party_names_are_escaped_in_every_page(world):
    db = get_session()
    items = _items(world, 1)
    letter = _sent(world, items, level=Classification.COMMITTEE)
    letter.subject, letter.notes = XSS, XSS
    db.add(letter)
    db.commit()
    link = db.exec(select(LetterItem)).one()
    coordinator = world.client("coordinator")
    response = coordinator.post(f"/traces/{letter.id}/reply", data={
        "received_on": "2024-04-02", "summary": XSS, f"outcome-{link.id}": "transferred",
        f"party_name-{link.id}": XSS, f"note-{link.id}": XSS}, follow_redirects=True)
    assert response.status_code == 200
    coordinator.post(f"/traces/{letter.id}/reminder", data={"on": "2024-04-03", "note": XSS})
    for path in (f"/traces/{letter.id}", "/traces/", "/traces/dashboard", "/traces/status", "/traces/addressees",
                 "/audit"):
        text = page(coordinator.get(path))
        assert "<script>alert" not in text and "<img src=x" not in text, path
    assert "&lt;script&gt;" in page(coordinator.get(f"/traces/{letter.id}"))
    flashed = page(coordinator.post("/traces/addressees/new", data={"kind": "company", "name": XSS, "role": "broker"},
                                    follow_redirects=True))
    assert "<script>alert" not in flashed and "&lt;script&gt;" in flashed


# ------------------------------------------------------------------ CSRF


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_every_new_post_without_its_csrf_token_is_refused_and_changes_nothing(world):
    letter = _sent(world, _items(world, 1))
    db = get_session()
    link = db.exec(select(LetterItem)).one()
    services.record_reply(db, letter, None, received_on=date(2024, 4, 2), summary="x", complete=False,
                          item_outcomes=[{"letter_item_id": link.id, "outcome": "transferred", "party_country": "ARE"}],
                          today=TODAY)
    db.commit()
    item_reply, addressee = db.exec(select(ItemReply)).one(), db.exec(select(Addressee)).first()
    before = (len(db.exec(select(Letter)).all()), len(db.exec(select(LetterEvent)).all()),
              len(db.exec(select(Reply)).all()), len(db.exec(select(Addressee)).all()))
    client = world.app.test_client()
    login = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page(login)).group(1)
    assert client.post("/login", data={"email": world.users["admin"].email, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    posts = [f"/traces/{letter.id}/send", f"/traces/{letter.id}/move", f"/traces/{letter.id}/reminder",
             f"/traces/{letter.id}/correct", f"/traces/{letter.id}/classify", f"/traces/{letter.id}/edit",
             f"/traces/{letter.id}/reply", f"/traces/outcomes/{item_reply.id}/follow-up", "/traces/new",
             "/traces/template", "/traces/addressees/new", f"/traces/addressees/{addressee.id}/edit",
             "/account/two-factor", "/account/two-factor/disable", "/account/password",
             "/account/sessions/end-all", "/account/tokens", "/panels/switch", "/logout", "/admin/members/invite"]
    data = {"on": "2024-05-01", "to": "sent", "reason": "x", "level": "public", "confirm_public": "y",
            "summary": "x", "received_on": "2024-05-01", "name": "x", "kind": "company", "body": "x",
            "addressee_id": str(addressee.id), "code": "123456", "password": PASSWORD, "email": "x@example.org",
            "role": "viewer", "days": "30", "panel_id": "1"}
    for path in posts:
        response = client.post(path, data=data)
        assert response.status_code in (400, 404), (path, response.status_code)
    db.expire_all()
    assert before == (len(db.exec(select(Letter)).all()), len(db.exec(select(LetterEvent)).all()),
                      len(db.exec(select(Reply)).all()), len(db.exec(select(Addressee)).all()))
    assert db.exec(select(LetterTemplate)).all() == []
    assert client.get("/traces/").status_code == 200  # still logged in: /logout was refused too


# ------------------------------------------------------------------ accounts


def test_finding_the_enrolment_cookie_does_not_carry_the_second_factor_secret(app, world):
    client = world.client("expert")
    secret = SECRET.search(page(client.get("/account/two-factor"))).group(1)
    cookie = client.get_cookie("session", domain="localhost")
    stored = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert secret not in repr(stored)
    # the secret stays the same from the page to the confirmation, and turns two-factor on
    assert SECRET.search(page(client.get("/account/two-factor"))).group(1) == secret
    response = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert "recovery" in page(response).lower()
    db = get_session()
    db.expire_all()
    assert db.get(User, world.users["expert"].id).totp_secret == secret


def test_finding_an_invited_or_deactivated_account_costs_the_same_work_as_any_other(app, world, monkeypatch):
    """Timing: argon2 runs once for every login attempt, whatever the email's state."""
    import argon2

    db = get_session()
    invite_member(db, world.panel, "pending@example.org", "Pending", Role.EXPERT, actor=None)
    inactive = make_member(world.panel, "viewer")[0]
    inactive.active = False
    db.add(inactive)
    db.commit()
    calls = []
    for name in ("hash", "verify"):
        original = getattr(argon2.PasswordHasher, name)
        monkeypatch.setattr(argon2.PasswordHasher, name,
                            lambda self, *a, _o=original, **k: (calls.append(1), _o(self, *a, **k))[1])
    messages = set()
    for email in ("nobody@example.org", "pending@example.org", inactive.email, world.users["expert"].email):
        calls.clear()
        response = app.test_client().post("/login", data={"email": email, "password": "wrong password!"})
        assert len(calls) == 1, email
        messages.add(re.search(r"Wrong email[^<]*", page(response)).group(0))
    assert len(messages) == 1


def test_an_accepted_invitation_link_cannot_be_replayed_or_claim_an_existing_account(app, world):
    db = get_session()
    membership, secret = invite_member(db, world.panel, "newcomer@example.org", "New", Role.EXPERT, actor=None)
    db.commit()
    assert app.test_client().post(f"/invite/{secret}", data={"password": "a long new password",
                                                             "confirm": "a long new password"}).status_code == 302
    for client in (app.test_client(), world.client(user=world.outsider)):
        assert client.get(f"/invite/{secret}").status_code == 404
        assert client.post(f"/invite/{secret}", data={"password": "the attacker's password",
                                                      "confirm": "the attacker's password"}).status_code == 404
    # another panel invites the expert of YEM: the link sets no password
    _, other = invite_member(db, world.other_panel, world.users["expert"].email, "", Role.ADMIN, actor=None)
    db.commit()
    response = app.test_client().post(f"/invite/{other}", data={"password": "the attacker's password",
                                                                "confirm": "the attacker's password"})
    assert "log in" in page(response).lower()
    db.expire_all()
    expert = db.get(User, world.users["expert"].id)
    from panel_tracker.auth.services import check_password

    assert check_password(expert, PASSWORD) and not check_password(expert, "the attacker's password")
    pending = db.exec(select(Membership).where(Membership.panel_id == world.other_panel.id,
                                               Membership.user_id == expert.id)).one()
    assert pending.accepted_at is None


def test_forwarded_for_is_ignored_without_trusted_proxies(app, world):
    expert = world.users["expert"]
    for n in range(5):
        app.test_client().post("/login", data={"email": expert.email, "password": "wrong"},
                               headers={"X-Forwarded-For": f"10.0.0.{n}"})
    response = app.test_client().post("/login", data={"email": expert.email, "password": PASSWORD},
                                      headers={"X-Forwarded-For": "10.9.9.9"})
    assert response.status_code == 429


def test_the_login_replaces_any_session_an_attacker_planted(app, world):
    from panel_tracker.auth.sessions import COOKIE_KEY

    client = app.test_client()
    with client.session_transaction() as planted:
        planted[COOKIE_KEY] = "attacker-chosen"
        planted["panel_id"] = world.other_panel.id
    client.post("/login", data={"email": world.users["expert"].email, "password": PASSWORD})
    with client.session_transaction() as after:
        assert after[COOKIE_KEY] != "attacker-chosen" and after["panel_id"] == world.panel.id
    assert world.other_panel.code not in page(client.get("/dashboard"))


def test_finding_a_letter_leaves_out_a_marking_photo_of_an_item_the_reader_may_not_see(world, tmp_path):
    """Finding: the letter took a marking's photos by the photo's own level only. A photo of a
    panel item, linked to a marking of a committee item of the same case, went into the
    viewer's PDF and DOCX."""
    from docx import Document

    from panel_tracker.cases.models import Case, Marking
    from panel_tracker.cases.services import create_item, link_marking_photo
    from panel_tracker.evidence.services import receive_photo
    from tests.imagefactory import photographic_jpeg

    (shown,) = _items(world, 1, level=Classification.COMMITTEE)
    db = get_session()
    hidden = create_item(db, db.get(Case, shown.case_id), {"category": "small_arm", "type": "sniper rifle",
                                                          "serial": "SECRET-777", "serial_legibility": "intact",
                                                          "quantity": 1}, None)
    with open(photographic_jpeg(tmp_path / "hidden.jpg", 800, 600), "rb") as fh:
        photo = receive_photo(db, world.panel, fh, filename="hidden.jpg", actor=None, case_id=shown.case_id,
                              item_id=hidden.id).photo
    photo.classification = Classification.COMMITTEE
    link_marking_photo(db, db.exec(select(Marking).where(Marking.item_id == shown.id)).one(), photo, None, None)
    db.commit()
    letter = _sent(world, [shown], level=Classification.COMMITTEE)
    viewer_docx = Document(io.BytesIO(world.client("viewer").get(f"/traces/{letter.id}/letter.docx").data))
    assert len(viewer_docx.inline_shapes) == 0
    viewer_pdf = world.client("viewer").get(f"/traces/{letter.id}/letter.pdf").data
    assert b"/Subtype /Image" not in viewer_pdf and b"/Subtype/Image" not in viewer_pdf
    expert_docx = Document(io.BytesIO(world.client("expert").get(f"/traces/{letter.id}/letter.docx").data))
    assert len(expert_docx.inline_shapes) == 1


@pytest.mark.parametrize("path, field, extra", [
    ("/account/two-factor/disable", "password", {}),
    ("/account/password", "current_password", {"password": "a brand new password", "confirm": "a brand new password"}),
])
def test_finding_a_stolen_session_cannot_guess_the_password_unthrottled(app, world, db, path, field, extra):
    """Finding: the password asked again on the security page was checked without the
    login's throttle, so a copied cookie was an oracle for guessing it at argon2 speed."""
    from tests.test_security_auth_sessions import enrol

    owner = world.client("expert")
    if "two-factor" in path:
        enrol(owner)
    stolen = app.test_client()
    stolen.set_cookie("session", owner.get_cookie("session", domain="localhost").value, domain="localhost")
    for n in range(5):
        stolen.post(path, data={field: f"guess number {n}!", **extra})
    stolen.post(path, data={field: PASSWORD, **extra})
    db.expire_all()
    expert = db.get(User, world.users["expert"].id)
    from panel_tracker.auth.services import check_password

    assert check_password(expert, PASSWORD)
    if "two-factor" in path:
        assert expert.has_two_factor
    assert "Too many failed attempts" in page(stolen.get("/account/security", follow_redirects=True)) \
        or "Too many failed attempts" in page(stolen.post(path, data={field: PASSWORD, **extra}, follow_redirects=True))


@pytest.mark.parametrize("ref", ['YEM-L-1"; filename="a.html', "YEM-Л-1", "ИМП/2024"])
def test_finding_an_imported_reference_cannot_rewrite_the_letters_file_name(world, ref):
    """Finding: the letter's Content-Disposition was written by hand from its reference,
    which an import takes as given (up to 40 characters): a quote ended the file name and
    began another, and a Cyrillic one made a header that is not latin-1 (a WSGI server
    cannot send it)."""
    letter = _sent(world, _items(world, 1))
    db = get_session()
    letter.ref = ref
    db.add(letter)
    db.commit()
    for fmt in ("pdf", "docx"):
        disposition = world.client("expert").get(f"/traces/{letter.id}/letter.{fmt}").headers["Content-Disposition"]
        disposition.encode("latin-1")
        assert disposition.startswith("attachment;") and 'filename="a.html"' not in disposition
        assert re.search(r'filename="[^"]*\\"', disposition) or "filename*=UTF-8''" in disposition, disposition


@pytest.mark.parametrize("body", ["{{ letter.ref - 1 }}", "{{ -letter.ref }}", "{{ items + 1 }}", "{{ letter.ref < 1 }}"])
def test_finding_a_template_that_fails_on_the_data_is_refused_with_a_message_not_a_500(world, body):
    response = world.client("coordinator").post("/traces/template", data={"body": body})
    assert response.status_code == 422 and "cannot be used" in page(response)


def test_finding_a_template_may_use_every_field_the_letter_gives_it(world):
    """The template was tried on sample data that lacked most item fields (make, quantity,
    country…) and the letter's sent_reference, so a template using them was refused."""
    from docx import Document

    body = ("{% for it in items %}{{ it.item_ref }}: {{ it.quantity }} × {{ it.model }} ({{ it.country }}), "
            "factory {{ it.factory_code }}{{ it.make }}{{ it.lot }}{{ it.year }}{{ it.headstamp }}{{ it.other_marks }}"
            "{{ it.import_mark }}{{ it.photos|length }}{% endfor %}. Ref. {{ letter.sent_reference }}")
    coordinator = world.client("coordinator")
    response = coordinator.post("/traces/template", data={"body": body})
    assert response.status_code == 302, page(response)
    letter = _sent(world, _items(world, 1))
    text = "\n".join(p.text for p in Document(io.BytesIO(coordinator.get(f"/traces/{letter.id}/letter.docx").data))
                     .paragraphs)
    assert "YEM-2024-030/01: 1 × Type 56-1" in text and "Ref. S/AC.1/2024/PE/OC.12" in text


@pytest.mark.parametrize("which", ["recovery code", "authenticator code"])
def test_finding_one_second_factor_code_sent_twice_at_once_logs_in_once(app, world, which):
    """Finding: a code was checked, then marked used, in two steps; two logins sending
    the same recovery code (or TOTP code) at the same moment both found it unused, and
    both got in. Here the first holds the row, uncommitted, while the second checks."""
    import threading

    import sqlalchemy as sa
    from sqlmodel import Session

    from panel_tracker.auth import twofactor
    from panel_tracker.db import get_engine
    from tests.test_security_auth_sessions import enrol, next_code

    totp, codes = enrol(world.client("expert"))
    code = codes[0] if which == "recovery code" else next_code(totp)
    user_id, engine = world.users["expert"].id, get_engine()
    first = Session(engine)
    assert twofactor.check_second_factor(first, first.get(User, user_id), code)
    first.flush()
    results = []

    def second_login():
        with Session(engine) as session:
            try:
                results.append(twofactor.check_second_factor(session, session.get(User, user_id), code))
                session.commit()
            except sa.exc.OperationalError:  # SQLite: the writer's lock refuses the second outright
                results.append(False)

    thread = threading.Thread(target=second_login)
    thread.start()
    thread.join(1.0)  # the second waits for the first's row (PostgreSQL) or lock (SQLite)
    first.commit()
    first.close()
    thread.join(60)
    assert results == [False]


def test_finding_a_viewer_sees_no_link_to_a_follow_up_they_may_not_read(world):
    """A public letter whose reply names the next party: the follow-up drafted to that party
    is made panel-only, so the viewer's page of the first letter neither links nor names it."""
    (item,) = _items(world, 1, level=Classification.PUBLIC)
    letter = _sent(world, [item], level=Classification.PUBLIC)
    db = get_session()
    link = db.exec(select(LetterItem).where(LetterItem.letter_id == letter.id)).one()
    services.record_reply(db, letter, None, received_on=date(2024, 4, 2), summary="Exported to ARE.",
                          complete=False, today=TODAY, item_outcomes=[
                              {"letter_item_id": link.id, "outcome": "transferred", "party_country": "ARE",
                               "transferred_on": "2009-05", "licence": "EL-2009-114"}])
    db.commit()
    follow = services.draft_follow_up(db, db.exec(select(ItemReply)).one(), None)
    follow.classification = Classification.PANEL  # the next party is not to be named outside the panel
    db.commit()
    coordinator_page = page(world.client("coordinator").get(f"/traces/{letter.id}"))
    assert f"/traces/{follow.id}" in coordinator_page
    viewer_page = page(world.client("viewer").get(f"/traces/{letter.id}"))
    assert "Exported to ARE." in viewer_page  # the reply itself is public, like its letter
    assert f"/traces/{follow.id}" not in viewer_page and follow.ref not in viewer_page
