"""Correspondence and trace requests through the services and the pages: drafting, the
state machine, replies with per-item outcomes, follow-ups, visibility, documents, letters."""
from __future__ import annotations

import io
from datetime import date

import pytest
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases.services import add_marking, create_case, create_item
from panel_tracker.classification import Classification
from panel_tracker.db import get_session
from panel_tracker.traces import services
from panel_tracker.traces.models import (Addressee, EventKind, ItemReply, Letter, LetterEvent, LetterStatus,
                                         ReplyDocument)
from panel_tracker.validation import Invalid

TODAY = date(2024, 12, 31)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _items(world, n=2, level=Classification.PANEL):
    db = get_session()
    case = create_case(db, world.panel, {"ref": "YEM-2024-030", "title": "Aden seizure"}, None)
    case.classification = Classification.PUBLIC
    items = []
    for serial in ("Л 104417", "24017731")[:n]:
        item = create_item(db, case, {"category": "small_arm", "type": "assault rifle", "model": "Type 56-1",
                                      "calibre": "7.62x39mm", "serial": serial, "serial_legibility": "intact",
                                      "quantity": 1}, None)
        add_marking(db, item, {"text": "66", "kind": "factory_code"}, None)
        item.classification = level
        items.append(item)
    db.commit()
    return items


def _draft(world, items, *, to="CHN", kind="trace_request", level=Classification.PANEL):
    db = get_session()
    addressee = services.state_addressee(db, world.panel, to, None)
    letter = services.draft_letter(db, world.panel, {"kind": kind, "addressee_id": addressee.id,
                                                     "classification": level.value},
                                   None, item_ids=[i.id for i in items])
    db.commit()
    return letter


def _sent(world, items, sent_on=date(2024, 3, 1), **kw):
    letter = _draft(world, items, **kw)
    db = get_session()
    services.send_letter(db, letter, None, sent_on=sent_on, reference="S/AC.1/2024/PE/OC.12", today=TODAY)
    db.commit()
    return letter


# ------------------------------------------------------------------ state machine


def test_a_draft_cannot_be_acknowledged_before_it_is_sent(world):
    letter = _draft(world, _items(world))
    with pytest.raises(Invalid, match="cannot become acknowledged"):
        services.move_letter(get_session(), letter, "acknowledged", date(2024, 3, 5), None, today=TODAY)


def test_going_back_is_refused_with_a_message_that_names_the_correction(world):
    letter = _sent(world, _items(world))
    db = get_session()
    services.move_letter(db, letter, "answered", date(2024, 4, 1), None, today=TODAY)
    with pytest.raises(Invalid, match="correction"):
        services.move_letter(db, letter, "acknowledged", date(2024, 4, 2), None, today=TODAY)


def test_forward_skips_are_allowed_and_every_step_is_dated_and_audited(world):
    letter = _sent(world, _items(world))
    db = get_session()
    services.move_letter(db, letter, "closed", date(2024, 5, 2), None, outcome="untraceable", today=TODAY)
    db.commit()
    kinds = [(e.kind, e.happened_on) for e in services.events_of(db, letter)]
    assert kinds == [(EventKind.SENT, date(2024, 3, 1)), (EventKind.CLOSED, date(2024, 5, 2))]
    actions = db.exec(select(AuditRecord.action).where(AuditRecord.object_type == "trace_letter")).all()
    assert {"letter.create", "letter.send", "letter.closed"} <= set(actions)


def test_closing_needs_an_outcome_and_withdrawing_needs_a_reason(world):
    letter = _sent(world, _items(world))
    db = get_session()
    with pytest.raises(Invalid, match="outcome"):
        services.move_letter(db, letter, "closed", date(2024, 5, 2), None, today=TODAY)
    with pytest.raises(Invalid, match="why"):
        services.move_letter(db, letter, "withdrawn", date(2024, 5, 2), None, today=TODAY)


def test_a_closed_letter_cannot_be_withdrawn_or_reopened_except_by_correction(world):
    letter = _sent(world, _items(world))
    db = get_session()
    services.move_letter(db, letter, "closed", date(2024, 5, 2), None, outcome="refused", today=TODAY)
    with pytest.raises(Invalid, match="cannot become withdrawn"):
        services.move_letter(db, letter, "withdrawn", date(2024, 5, 3), None, note="x", today=TODAY)
    with pytest.raises(Invalid, match="why"):
        services.correct_letter_status(db, letter, "sent", "", None)
    services.correct_letter_status(db, letter, "sent", "closed by mistake", None)
    db.commit()
    assert letter.status == LetterStatus.SENT and letter.outcome is None
    voided = db.exec(select(LetterEvent).where(LetterEvent.letter_id == letter.id, LetterEvent.voided.is_(True))).all()
    assert [(e.kind, e.void_reason) for e in voided] == [(EventKind.CLOSED, "closed by mistake")]


def test_a_date_before_sending_or_in_the_future_is_refused(world):
    letter = _sent(world, _items(world))
    db = get_session()
    with pytest.raises(Invalid, match="before the letter was sent"):
        services.move_letter(db, letter, "acknowledged", date(2024, 2, 28), None, today=TODAY)
    with pytest.raises(Invalid, match="future"):
        services.add_reminder(db, letter, date(2025, 1, 1), None, today=TODAY)


def test_a_trace_request_needs_items(world):
    db = get_session()
    addressee = services.state_addressee(db, world.panel, "CHN", None)
    with pytest.raises(Invalid, match="at least one item"):
        services.draft_letter(db, world.panel, {"kind": "trace_request", "addressee_id": addressee.id}, None)


# ------------------------------------------------------------------ replies and follow-ups


def test_a_partial_reply_naming_another_party_offers_a_linked_follow_up(world):
    first, second = _items(world)
    letter = _sent(world, [first, second])
    db = get_session()
    links = {li.item_id: li.id for li in db.exec(select(services.LetterItem).where(
        services.LetterItem.letter_id == letter.id))}
    services.record_reply(db, letter, None, received_on=date(2024, 4, 2), summary="Exported one rifle to ARE.",
                          complete=False, today=TODAY, item_outcomes=[
                              {"letter_item_id": links[first.id], "outcome": "transferred", "party_country": "ARE",
                               "transferred_on": "2009-05", "licence": "EL-2009-114"},
                              {"letter_item_id": links[second.id], "outcome": "no_records"}])
    db.commit()
    assert letter.status == LetterStatus.PARTIALLY_ANSWERED
    outcome = db.exec(select(ItemReply).where(ItemReply.outcome == "transferred")).one()
    follow = services.draft_follow_up(db, outcome, None)
    db.commit()
    assert follow.follow_up_of_id == letter.id and follow.status == LetterStatus.DRAFT
    assert db.get(Addressee, follow.addressee_id).name == "United Arab Emirates (the)"
    with pytest.raises(Invalid, match="already exists"):
        services.draft_follow_up(db, outcome, None)


def test_a_refusal_must_give_its_reasons(world):
    (item,) = _items(world, 1)
    letter = _sent(world, [item])
    link = get_session().exec(select(services.LetterItem)).one()
    with pytest.raises(Invalid, match="reasons"):
        services.record_reply(get_session(), letter, None, received_on=date(2024, 4, 2), summary="No.",
                              complete=True, today=TODAY,
                              item_outcomes=[{"letter_item_id": link.id, "outcome": "refused"}])


# ------------------------------------------------------------------ pages


def test_expert_drafts_from_two_items_and_coordinator_sends_it(world):
    items = _items(world)
    db = get_session()
    addressee = services.state_addressee(db, world.panel, "CHN", None)
    db.commit()
    expert = world.client("expert")
    page = expert.get(f"/traces/new?item={items[0].id}&item={items[1].id}").get_data(as_text=True)
    assert "checked" in page and "Л 104417" in page
    response = expert.post("/traces/new", data={"kind": "trace_request", "addressee_id": addressee.id,
                                                "item_ids": [items[0].id, items[1].id], "subject": "Type 56-1 rifles"})
    assert response.status_code == 302
    letter = get_session().exec(select(Letter)).one()
    assert letter.ref == "YEM-L-001" and letter.status == LetterStatus.DRAFT
    assert expert.post(f"/traces/{letter.id}/send", data={"sent_on": "2024-03-01"}).status_code == 403
    coordinator = world.client("coordinator")
    coordinator.post(f"/traces/{letter.id}/send", data={"sent_on": "2024-03-01", "reference": "OC.12",
                                                       "channel": "note verbale"})
    get_session().refresh(letter)
    assert letter.status == LetterStatus.SENT and letter.sent_on == date(2024, 3, 1)
    page = coordinator.get(f"/traces/{letter.id}").get_data(as_text=True)
    assert "1 Mar 2024: sent" in page


def test_draft_form_keeps_typed_values_and_says_what_is_missing(world):
    _items(world)
    response = world.client("expert").post("/traces/new", data={"kind": "trace_request", "subject": "Kept subject"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose the addressee" in page and "Kept subject" in page


def test_illegal_transition_through_the_page_shows_the_message(world):
    letter = _draft(world, _items(world))
    coordinator = world.client("coordinator")
    response = coordinator.post(f"/traces/{letter.id}/move", data={"to": "acknowledged", "on": "2024-03-05"},
                                follow_redirects=True)
    assert "cannot become acknowledged" in response.get_data(as_text=True)


def test_viewer_sees_a_public_letter_but_not_the_panel_item_inside_it(world):
    from panel_tracker.cases.models import Case

    public_item, = _items(world, 1, level=Classification.COMMITTEE)
    db = get_session()
    panel_item = create_item(db, db.exec(select(Case)).one(), {"category": "small_arm", "type": "pistol",
                                                                "serial": "SECRET-1", "serial_legibility": "intact",
                                                                "quantity": 1}, None)
    db.commit()
    letter = _sent(world, [public_item, panel_item], level=Classification.PUBLIC)
    page = world.client("viewer").get(f"/traces/{letter.id}").get_data(as_text=True)
    assert "1 item withheld" in page and "SECRET-1" not in page and "Л 104417" in page
    status = world.client("viewer").get("/traces/status?as_at=2024-03-02").get_data(as_text=True)
    assert "1 item withheld" in status


def test_a_panel_letter_is_404_for_a_viewer_and_for_another_panel(world):
    letter = _draft(world, _items(world))
    assert world.client("viewer").get(f"/traces/{letter.id}").status_code == 404
    assert world.client(user=world.outsider).get(f"/traces/{letter.id}").status_code == 404
    assert world.client(user=world.outsider).get(f"/traces/{letter.id}/letter.pdf").status_code == 404


def test_reply_documents_are_stored_by_hash_and_other_types_are_refused_with_415(world):
    (item,) = _items(world, 1)
    letter = _sent(world, [item])
    coordinator = world.client("coordinator")
    refused = coordinator.post(f"/traces/{letter.id}/reply", content_type="multipart/form-data", data={
        "received_on": "2024-04-02", "summary": "Note verbale", "documents": [(io.BytesIO(b"MZ\x90\x00evil"), "x.exe")]})
    assert refused.status_code == 415 and "PDF or a scan" in refused.get_data(as_text=True)
    assert get_session().exec(select(ReplyDocument)).all() == []
    ok = coordinator.post(f"/traces/{letter.id}/reply", content_type="multipart/form-data", data={
        "received_on": "2024-04-02", "summary": "Note verbale", "complete": "y",
        "documents": [(io.BytesIO(PDF), "note-verbale.pdf")]})
    assert ok.status_code == 302
    document = get_session().exec(select(ReplyDocument)).one()
    import hashlib

    assert document.sha256 == hashlib.sha256(PDF).hexdigest() and document.mime == "application/pdf"
    download = coordinator.get(f"/traces/documents/{document.id}")
    assert download.status_code == 200 and download.data == PDF
    download.close()
    assert world.client("viewer").get(f"/traces/documents/{document.id}").status_code == 404


def test_letter_renders_as_pdf_and_docx_with_the_items_markings(world):
    from docx import Document
    from pypdf import PdfReader

    letter = _sent(world, _items(world))
    client = world.client("expert")
    pdf = client.get(f"/traces/{letter.id}/letter.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "YEM-L-001" in text and "24017731" in text and "Permanent Mission of China" in text
    docx = client.get(f"/traces/{letter.id}/letter.docx")
    document = Document(io.BytesIO(docx.data))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert any("factory code: 66" in c for c in cells) and "YEM-2024-030/01" in cells


def test_an_edited_template_cannot_reach_the_server(world):
    coordinator = world.client("coordinator")
    evil = "{{ panel.__class__.__mro__[1].__subclasses__() }}"
    response = coordinator.post("/traces/template", data={"body": evil})
    assert response.status_code == 422 and "may not use" in response.get_data(as_text=True)
    good = "Dear {{ addressee.formal }},\n\nWe ask about {{ items|length }} item(s). {{ letter.body }}"
    assert coordinator.post("/traces/template", data={"body": good}).status_code == 302
    letter = _sent(world, _items(world))
    from docx import Document

    paragraphs = [p.text for p in Document(io.BytesIO(coordinator.get(f"/traces/{letter.id}/letter.docx").data)).paragraphs]
    assert "We ask about 2 item(s)." in paragraphs


def test_a_viewer_sees_only_the_addressees_of_letters_they_may_see(world):
    items = _items(world, 1)
    _draft(world, items, to="CHN", level=Classification.COMMITTEE)
    db = get_session()
    services.named_addressee(db, world.panel, "Secret Brokers Ltd", "ARE", None)
    db.commit()
    viewer_page = world.client("viewer").get("/traces/addressees").get_data(as_text=True)
    assert "China" in viewer_page and "Secret Brokers" not in viewer_page
    assert "Secret Brokers" in world.client("expert").get("/traces/addressees").get_data(as_text=True)


def test_the_letter_shows_the_marking_photos_the_reader_may_see(world, tmp_path):
    from docx import Document

    from panel_tracker.cases.models import Marking
    from panel_tracker.cases.services import link_marking_photo
    from panel_tracker.evidence.services import receive_photo
    from tests.imagefactory import photographic_jpeg

    items = _items(world, 1)
    db = get_session()
    marking = db.exec(select(Marking)).one()
    with open(photographic_jpeg(tmp_path / "serial.jpg", 800, 600), "rb") as fh:
        photo = receive_photo(db, world.panel, fh, filename="serial.jpg", actor=None, case_id=items[0].case_id,
                              item_id=items[0].id).photo
    link_marking_photo(db, marking, photo, None, None)
    db.commit()
    letter = _sent(world, items)
    client = world.client("expert")
    document = Document(io.BytesIO(client.get(f"/traces/{letter.id}/letter.docx").data))
    assert len(document.inline_shapes) == 1
    assert any(p.text == "Markings of YEM-2024-030/01. Source: Panel" for p in document.paragraphs)
    pdf = client.get(f"/traces/{letter.id}/letter.pdf").data
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf


def test_rendering_a_letter_leaves_photo_uploads_strict(world, tmp_path):
    """Importing WeasyPrint switches on Pillow's LOAD_TRUNCATED_IMAGES; after a letter
    is rendered, photos must still be received (the evidence pipeline refuses otherwise)."""
    from panel_tracker.evidence.services import receive_photo
    from tests.imagefactory import photographic_jpeg

    letter = _sent(world, _items(world, 1))
    assert world.client("expert").get(f"/traces/{letter.id}/letter.pdf").status_code == 200
    db = get_session()
    with open(photographic_jpeg(tmp_path / "after.jpg", 640, 480), "rb") as fh:
        received = receive_photo(db, world.panel, fh, filename="after.jpg", actor=None,
                                 case_id=_case_id(letter))
    assert received.photo.sha256


def _case_id(letter) -> int:
    from panel_tracker.cases.models import Item

    link = get_session().exec(select(services.LetterItem).where(services.LetterItem.letter_id == letter.id)).first()
    return get_session().get(Item, link.item_id).case_id


def test_the_admin_sets_the_reminder_interval_and_the_letter_page_uses_it(world):
    admin = world.client("admin")
    response = admin.post("/admin/settings", data={"name": "Panel of Experts on Yemen", "acknowledgement_due_days": 30,
                                                   "reply_due_days": 90, "reminder_interval_days": 14,
                                                   "min_independent_sources": 2})
    assert response.status_code == 302
    letter = _sent(world, _items(world, 1))
    db = get_session()
    services.add_reminder(db, letter, date(2024, 4, 10), None, today=TODAY)
    services.add_reminder(db, letter, date(2024, 5, 10), None, today=TODAY)
    db.commit()
    page = admin.get(f"/traces/{letter.id}").get_data(as_text=True)
    assert "next reminder 24 May 2024" in page  # 14 days after the last reminder; due dates unchanged
