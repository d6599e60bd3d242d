"""The report and annex pages, as an expert, a coordinator, a viewer and another panel use
them: reports, annexes and blocks made through the forms, reordered by the script's order
endpoint and by the plain Up and Down buttons, built to a PDF that is downloaded and read
back, and frozen on submission (the item page then says where the item was published)."""
from __future__ import annotations

import hashlib
import html
import io
import re
from datetime import date

import pytest
from pypdf import PdfReader
from sqlmodel import select

from panel_tracker.annexes import builds, services
from panel_tracker.annexes.models import Annex, AnnexBuild, Block, BuildFormat, BuildState, Edition, Report
from panel_tracker.cases.models import Item
from panel_tracker.db import get_session
from panel_tracker.demo import load_demo
from panel_tracker.evidence.models import Photo

DEMO_ITEM = "YEM-2023-004/01"  # the demo's rifle: a photo with a box around its serial


@pytest.fixture
def demo(world):
    """The world's panel YEM with the demo's items, markings and photo."""
    load_demo()
    db = get_session()
    item = db.exec(select(Item).where(Item.panel_id == world.panel.id, Item.item_ref == DEMO_ITEM)).one()
    photo = db.exec(select(Photo).where(Photo.item_id == item.id)).one()
    photo.classification = "public"  # cleared for publication, as the item is
    db.add(photo)
    db.commit()
    return world, item, photo


def _location(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"]


def _id_in(url: str) -> int:
    return int(re.search(r"/(\d+)(?:[#?].*)?$", url).group(1))


def _report(world, title="Final report 2025", **values):
    db = get_session()
    report = services.create_report(db, world.panel, {"title": title, "cut_off": date(2025, 1, 31), **values}, None)
    db.commit()
    return report


def _annex(report, title, classification="public", intro=""):
    db = get_session()
    annex = services.add_annex(db, db.get(Report, report.id), {"title": title, "classification": classification,
                                                               "intro": intro}, None)
    db.commit()
    return annex


def _text_block(annex, text, classification="public", key=None):
    db = get_session()
    report = db.get(Report, annex.report_id)
    block = services.add_block(db, report, db.get(Annex, annex.id), {"kind": "text", "key": key,
                                                                     "classification": classification,
                                                                     "settings": {"text": text}}, None)
    db.commit()
    return block


def _positions(model, ids) -> list[int]:
    db = get_session()
    db.expire_all()
    return [db.get(model, i).position for i in ids]


# ------------------------------------------------------------------ making a report through the forms


def test_expert_makes_a_report_with_two_annexes_and_an_item_sheet_through_the_forms(demo):
    world, item, photo = demo
    expert = world.client("expert")
    index = expert.get("/reports/").get_data(as_text=True)
    assert "No report yet" in index and "New report" in index

    # A wrong date is called wrong next to its field, and what was typed stays.
    page = expert.post("/reports/new", data={"title": "Final report of the Panel (2025)", "kind": "final",
                                             "symbol": "S/2025/12x", "cut_off": "2025-13-01"})
    body = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "is not a possible date" in body and 'value="Final report of the Panel (2025)"' in body
    assert 'value="2025-13-01"' in body
    page = expert.post("/reports/new", data={"title": "Final report of the Panel (2025)", "kind": "final",
                                             "symbol": "S/2025/12x", "cut_off": "2025-01-31",
                                             "show_withheld_notes": "y"})
    assert page.status_code == 422 and "looks like S/2025/123" in page.get_data(as_text=True)
    report_url = _location(expert.post("/reports/new", data={
        "title": "Final report of the Panel (2025)", "kind": "final", "symbol": "", "cut_off": "2025-01-31",
        "show_withheld_notes": "y"}))
    report_id = _id_in(report_url)

    annex_url = _location(expert.post(f"/reports/{report_id}/annexes/new", data={
        "title": "Type 56-1 rifles seized off Nishtun", "classification": "public",
        "intro": "The serial is boxed in [[fig:receiver]]."}))
    annex_id = _id_in(annex_url)
    _location(expert.post(f"/reports/{report_id}/annexes/new", data={"title": "Ammunition", "classification": "committee"}))
    page = expert.post(f"/reports/{report_id}/annexes/new", data={"title": "", "classification": "public",
                                                                  "intro": "Kept *as typed*."})
    assert page.status_code == 422 and "An annex needs a title." in page.get_data(as_text=True)
    assert "Kept *as typed*." in page.get_data(as_text=True)

    kinds = expert.get(f"/reports/annexes/{annex_id}/blocks/new").get_data(as_text=True)
    for label in ("Item sheet", "Photo figure", "Table of items", "Trace requests as at the cut-off", "Text"):
        assert label in kinds

    new_sheet = f"/reports/annexes/{annex_id}/blocks/new?kind=item_sheet"
    # "Show its photos" lists the item's photos with ticks, nothing saved.
    page = expert.post(new_sheet, data={"item": DEMO_ITEM, "caption": "Receiver", "action": "photos",
                                        "classification": "public"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and f'name="photo_ids" value="{photo.id}"' in body
    assert f"/photos/{photo.id}/thumb" in body or f"photo_id={photo.id}" in body or f"/{photo.id}/" in body
    assert get_session().exec(select(Block)).all() == []
    # An unknown item: the error sits by the item field and the caption stays.
    page = expert.post(new_sheet, data={"item": "YEM-2099-001/01", "caption": "Receiver, left side",
                                        "classification": "public"})
    body = page.get_data(as_text=True)
    assert page.status_code == 422 and "No item YEM-2099-001/01 in this panel." in body
    assert "Receiver, left side" in body
    _location(expert.post(new_sheet, data={"item": DEMO_ITEM, "photo_ids": [str(photo.id)], "boxes": "y",
                                           "key": "receiver", "caption": "Receiver, left side",
                                           "classification": "public"}))
    _location(expert.post(f"/reports/annexes/{annex_id}/blocks/new?kind=text", data={
        "text": "Marked **66** in a triangle.", "classification": "public"}))

    page = expert.get(annex_url).get_data(as_text=True)
    assert "Annex 1" in page and "Type 56-1 rifles seized off Nishtun" in page
    assert page.index("Item sheet") < page.index("Marked")
    assert DEMO_ITEM in page and "[[fig:receiver]]" in page
    sheet = get_session().exec(select(Block).where(Block.kind == "item_sheet")).one()
    assert sheet.settings == {"item_id": item.id, "photo_ids": [photo.id], "boxes": True}

    # Editing keeps what the block holds: the form comes back filled.
    edit = expert.get(f"/reports/blocks/{sheet.id}/edit").get_data(as_text=True)
    assert f'value="{DEMO_ITEM}"' in edit and "checked" in edit
    _location(expert.post(f"/reports/blocks/{sheet.id}/edit", data={
        "item": DEMO_ITEM, "boxes": "", "key": "receiver", "caption": "Receiver (new caption)",
        "classification": "public"}))
    get_session().expire_all()
    assert get_session().get(Block, sheet.id).settings == {"item_id": item.id, "photo_ids": [], "boxes": False}

    page = expert.get(report_url).get_data(as_text=True)
    assert page.index("Type 56-1 rifles") < page.index("Ammunition")
    assert "Annex 2" in page and "Build" in page


# ------------------------------------------------------------------ reordering


def test_annexes_reorder_through_the_order_endpoint_and_the_up_and_down_buttons(world):
    report = _report(world)
    a, b, c = (_annex(report, title) for title in ("Rifles", "Ammunition", "Drones"))
    expert = world.client("expert")

    response = expert.post(f"/reports/{report.id}/order", json={"order": [c.id, a.id, b.id]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["numbers"] == {str(c.id): 1, str(a.id): 2, str(b.id): 3}
    assert _positions(Annex, [a.id, b.id, c.id]) == [2, 3, 1]
    page = expert.get(f"/reports/{report.id}").get_data(as_text=True)
    assert page.index("Drones") < page.index("Rifles") < page.index("Ammunition")

    # An order that leaves one out is refused, and nothing moves.
    response = expert.post(f"/reports/{report.id}/order", json={"order": [a.id, b.id]})
    assert response.status_code == 422 and "each annex" in response.json["error"]
    response = expert.post(f"/reports/{report.id}/order", json={"order": ["x", a.id, b.id]})
    assert response.status_code == 400
    assert _positions(Annex, [a.id, b.id, c.id]) == [2, 3, 1]

    # Without the script: Up and Down, one step at a time.
    _location(expert.post(f"/reports/annexes/{b.id}/move", data={"direction": "up"}))
    assert _positions(Annex, [a.id, b.id, c.id]) == [3, 2, 1]
    _location(expert.post(f"/reports/annexes/{c.id}/move", data={"direction": "down"}))
    assert _positions(Annex, [a.id, b.id, c.id]) == [3, 1, 2]
    _location(expert.post(f"/reports/annexes/{a.id}/move", data={"direction": "down"}))  # already last
    assert _positions(Annex, [a.id, b.id, c.id]) == [3, 1, 2]
    # The form field too (a plain form posting the whole order).
    _location(expert.post(f"/reports/{report.id}/order", data={"order": f"{a.id},{b.id},{c.id}"}))
    assert _positions(Annex, [a.id, b.id, c.id]) == [1, 2, 3]


def test_blocks_reorder_through_the_order_endpoint_and_the_up_and_down_buttons(world):
    annex = _annex(_report(world), "Rifles")
    first, second = _text_block(annex, "First."), _text_block(annex, "Second.")
    expert = world.client("expert")
    response = expert.post(f"/reports/annexes/{annex.id}/order", json={"order": [second.id, first.id]})
    assert response.status_code == 200
    assert _positions(Block, [first.id, second.id]) == [2, 1]
    _location(expert.post(f"/reports/blocks/{first.id}/move", data={"direction": "up"}))
    assert _positions(Block, [first.id, second.id]) == [1, 2]
    page = expert.get(f"/reports/annexes/{annex.id}").get_data(as_text=True)
    assert page.index("First.") < page.index("Second.")


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_the_order_endpoint_needs_the_csrf_token_in_its_header(world):
    from tests.test_access_walk import _logged_in

    report = _report(world)
    a, b = _annex(report, "Rifles"), _annex(report, "Ammunition")
    expert = _logged_in(world.app, world.users["expert"])
    refused = expert.post(f"/reports/{report.id}/order", json={"order": [b.id, a.id]})
    assert refused.status_code == 400
    assert _positions(Annex, [a.id, b.id]) == [1, 2]
    page = expert.get(f"/reports/{report.id}").get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', page).group(1)
    accepted = expert.post(f"/reports/{report.id}/order", json={"order": [b.id, a.id]},
                           headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
    assert _positions(Annex, [a.id, b.id]) == [2, 1]


def test_deleting_an_annex_deletes_its_blocks_and_renumbers_the_rest_unless_it_was_built(world):
    report = _report(world)
    first, second, third = (_annex(report, title) for title in ("Rifles", "Ammunition", "Drones"))
    _text_block(first, "Gone with its annex.")
    expert = world.client("expert")
    first_id = first.id
    assert _location(expert.post(f"/reports/annexes/{first_id}/delete")).endswith(f"/reports/{report.id}")
    get_session().expire_all()
    assert get_session().get(Annex, first_id) is None
    assert get_session().exec(select(Block)).all() == []
    assert _positions(Annex, [second.id, third.id]) == [1, 2]

    _finished_build(world, report, second, Edition.PUBLIC)
    page = expert.post(f"/reports/annexes/{second.id}/delete", follow_redirects=True).get_data(as_text=True)
    assert "has builds, kept as versions, so it cannot be deleted" in page
    assert get_session().get(Annex, second.id) is not None


# ------------------------------------------------------------------ who sees and does what


def _finished_build(world, report, annex, edition: Edition) -> AnnexBuild:
    data = f"%PDF-1.4 {edition.value} {annex.id}".encode()
    db = get_session()
    build = AnnexBuild(panel_id=world.panel.id, report_id=report.id, annex_id=annex.id, edition=edition,
                       format=BuildFormat.PDF, state=BuildState.DONE, progress=100,
                       sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), pages=1)
    db.add(build)
    db.commit()
    builds.file_path(world.panel.code, build).write_bytes(data)
    return build


def test_a_viewer_reads_the_report_but_edits_nothing_and_never_sees_a_panel_annex(world):
    report = _report(world)
    public = _annex(report, "Rifles", "public")
    secret = _annex(report, "Informant's photographs", "panel")
    block = _text_block(public, "Seen by all.")
    hidden_block = _text_block(public, "Panel only text.", classification="panel")
    committee_build = _finished_build(world, report, public, Edition.COMMITTEE)
    panel_build = _finished_build(world, report, public, Edition.PANEL)
    viewer = world.client("viewer")

    page = viewer.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "Rifles" in page and "Informant" not in page and "1 annex above your clearance" in page
    assert "Add an annex" not in page and "Edit report" not in page and "data-order-url" not in page
    assert f"/reports/builds/{committee_build.id}/download" in page
    assert f"/reports/builds/{panel_build.id}/download" not in page
    annex_page = viewer.get(f"/reports/annexes/{public.id}").get_data(as_text=True)
    assert "Seen by all." in annex_page and "Panel only text." not in annex_page
    assert viewer.get(f"/reports/annexes/{secret.id}").status_code == 404
    assert viewer.get(f"/reports/blocks/{hidden_block.id}/edit").status_code == 403
    download = viewer.get(f"/reports/builds/{committee_build.id}/download")
    assert download.status_code == 200 and download.get_data() == b"%PDF-1.4 committee " + str(public.id).encode()
    download.close()
    assert viewer.get(f"/reports/builds/{panel_build.id}/download").status_code == 404
    states = viewer.get(f"/reports/{report.id}/builds.json").json["builds"]
    assert [b["id"] for b in states] == [committee_build.id]
    for url, data in ((f"/reports/{report.id}/edit", {"title": "Changed", "cut_off": "2025-01-31"}),
                      (f"/reports/{report.id}/annexes/new", {"title": "More"}),
                      (f"/reports/{report.id}/order", {"order": f"{secret.id},{public.id}"}),
                      (f"/reports/annexes/{public.id}/move", {"direction": "down"}),
                      (f"/reports/blocks/{block.id}/delete", {}),
                      (f"/reports/{report.id}/builds", {"edition": "public", "format": "pdf"}),
                      (f"/reports/{report.id}/submit", {})):
        assert viewer.post(url, data=data).status_code == 403, url
    get_session().expire_all()
    assert get_session().get(Report, report.id).title == "Final report 2025"
    assert _positions(Annex, [public.id, secret.id]) == [1, 2]


def test_another_panel_gets_404_on_every_report_url(world):
    report = _report(world)
    annex = _annex(report, "Rifles", "public")
    block = _text_block(annex, "Text.")
    build = _finished_build(world, report, annex, Edition.PUBLIC)
    outsider = world.client(user=world.outsider)
    gets = [f"/reports/{report.id}", f"/reports/{report.id}/edit", f"/reports/{report.id}/annexes/new",
            f"/reports/{report.id}/submit", f"/reports/{report.id}/builds.json", f"/reports/annexes/{annex.id}",
            f"/reports/annexes/{annex.id}/edit", f"/reports/annexes/{annex.id}/blocks/new?kind=text",
            f"/reports/blocks/{block.id}/edit", f"/reports/builds/{build.id}/download"]
    posts = [f"/reports/{report.id}/edit", f"/reports/{report.id}/order", f"/reports/{report.id}/submit",
             f"/reports/{report.id}/builds", f"/reports/{report.id}/annexes/new", f"/reports/annexes/{annex.id}/edit",
             f"/reports/annexes/{annex.id}/move", f"/reports/annexes/{annex.id}/order",
             f"/reports/annexes/{annex.id}/blocks/new?kind=text", f"/reports/blocks/{block.id}/edit",
             f"/reports/blocks/{block.id}/move", f"/reports/blocks/{block.id}/delete",
             f"/reports/annexes/{annex.id}/delete"]
    for url in gets:
        assert outsider.get(url).status_code == 404, url
    for url in posts:
        assert outsider.post(url, data={"title": "x", "direction": "up", "order": str(annex.id),
                                        "edition": "public", "format": "pdf", "text": "x"}).status_code == 404, url
    assert "Final report 2025" not in outsider.get("/reports/").get_data(as_text=True)
    assert get_session().get(Annex, annex.id) is not None


# ------------------------------------------------------------------ building and downloading


@pytest.mark.app_config(ANNEX_BUILD_SYNC=True)
def test_expert_builds_the_public_edition_as_pdf_and_downloads_it(demo):
    world, item, photo = demo
    report = _report(world, symbol="S/2025/123")
    annex = _annex(report, "Type 56-1 rifles", "public", intro="The serial is boxed in [[fig:receiver]].")
    db = get_session()
    services.add_block(db, db.get(Report, report.id), db.get(Annex, annex.id), {
        "kind": "item_sheet", "key": "receiver", "classification": "public",
        "settings": {"item": DEMO_ITEM, "photo_ids": [photo.id], "boxes": True}}, None)
    db.commit()
    expert = world.client("expert")

    page = expert.get(f"/reports/{report.id}").get_data(as_text=True)
    assert 'value="public"' in page and 'value="panel"' in page  # an expert may build every edition
    refused = expert.post(f"/reports/{report.id}/builds", data={"annex": "", "edition": "secret", "format": "pdf"})
    assert refused.status_code == 422 and "Choose an edition" in refused.get_data(as_text=True)
    refused = expert.post(f"/reports/{report.id}/builds", data={"annex": "", "format": "pdf"})
    assert refused.status_code == 422 and "Choose an edition" in refused.get_data(as_text=True)
    assert get_session().exec(select(AnnexBuild)).all() == []
    _location(expert.post(f"/reports/{report.id}/builds", data={"annex": str(annex.id), "edition": "public",
                                                               "format": "pdf"}))
    build = get_session().exec(select(AnnexBuild)).one()
    assert build.state == BuildState.DONE, build.error
    assert build.progress == 100 and build.pages >= 1 and len(build.sha256) == 64

    page = expert.get(f"/reports/{report.id}").get_data(as_text=True)
    assert f"/reports/builds/{build.id}/download" in page and build.sha256[:12] in page
    assert expert.get(f"/reports/{report.id}/builds.json").json["builds"] == [
        {"id": build.id, "state": "done", "progress": 100, "finished": True}]
    response = expert.get(f"/reports/builds/{build.id}/download")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "S-2025-123_annex-1_public.pdf" in response.headers["Content-Disposition"]
    assert "sandbox" in response.headers["Content-Security-Policy"]
    data = response.get_data()
    response.close()
    assert hashlib.sha256(data).hexdigest() == build.sha256
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "Annex 1" in text and "Figure 1.1" in text and "boxed in Figure 1.1" in text
    assert DEMO_ITEM in text

    # The same inputs again: the file is reused, and the list says so.
    _location(expert.post(f"/reports/{report.id}/builds", data={"annex": str(annex.id), "edition": "public",
                                                               "format": "pdf"}))
    again = get_session().exec(select(AnnexBuild).order_by(AnnexBuild.id.desc())).first()
    assert again.reused_from_id == build.id
    assert f"reused #{build.id}" in expert.get(f"/reports/{report.id}").get_data(as_text=True)


def test_a_viewer_is_offered_no_build_form_and_an_expert_no_edition_of_another_annex(world):
    report = _report(world)
    _annex(report, "Rifles")
    other = _annex(_report(world, title="Mid-term"), "Elsewhere")
    assert "Build</button>" not in world.client("viewer").get(f"/reports/{report.id}").get_data(as_text=True)
    refused = world.client("expert").post(f"/reports/{report.id}/builds", data={
        "annex": str(other.id), "edition": "public", "format": "pdf"})
    assert refused.status_code == 422
    assert "Choose one of this report's annexes" in html.unescape(refused.get_data(as_text=True))
    assert get_session().exec(select(AnnexBuild)).all() == []


# ------------------------------------------------------------------ submitting


def test_submitting_freezes_the_report_and_the_item_page_says_where_it_was_published(demo):
    world, item, photo = demo
    report = _report(world)
    annex = _annex(report, "Type 56-1 rifles", "public")
    db = get_session()
    services.add_block(db, db.get(Report, report.id), db.get(Annex, annex.id), {
        "kind": "item_sheet", "classification": "public", "settings": {"item": DEMO_ITEM}}, None)
    db.commit()
    coordinator, expert, viewer = (world.client(r) for r in ("coordinator", "expert", "viewer"))

    confirm = coordinator.get(f"/reports/{report.id}/submit").get_data(as_text=True)
    assert "freezes" in confirm and "Submit and freeze" in confirm
    assert "Submit report" not in expert.get(f"/reports/{report.id}").get_data(as_text=True)  # coordinators submit
    _location(coordinator.post(f"/reports/{report.id}/submit"))

    page = expert.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "Submitted on" in page and "— frozen" in page
    assert "Add an annex" not in page and "data-order-url" not in page and "Set the document symbol" in page
    refused = expert.post(f"/reports/{report.id}/annexes/new", data={"title": "One more", "classification": "public"})
    assert refused.status_code == 409 and "This report was submitted" in refused.get_data(as_text=True)
    refused = expert.post(f"/reports/annexes/{annex.id}/edit", data={"title": "Changed", "classification": "public"})
    assert refused.status_code == 409 and "frozen" in refused.get_data(as_text=True)
    refused = expert.post(f"/reports/annexes/{annex.id}/blocks/new?kind=text", data={"text": "Late words.",
                                                                                    "classification": "public"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "its annexes are frozen" in body and "Late words." in body
    response = expert.post(f"/reports/{report.id}/order", json={"order": [annex.id]})
    assert response.status_code == 409 and "frozen" in response.json["error"]
    assert "its annexes are frozen" in expert.get(f"/reports/annexes/{annex.id}/edit",
                                                  follow_redirects=True).get_data(as_text=True)
    get_session().expire_all()
    assert get_session().get(Annex, annex.id).title == "Type 56-1 rifles"

    # The symbol, known later, may still be set; the publication record follows it.
    form = expert.get(f"/reports/{report.id}/edit").get_data(as_text=True)
    assert 'name="title"' not in form and 'name="symbol"' in form
    _location(expert.post(f"/reports/{report.id}/edit", data={"symbol": "S/2025/123"}))
    for client in (expert, viewer):
        item_page = client.get(f"/items/{item.id}").get_data(as_text=True)
        assert "Published in" in item_page and "S/2025/123, annex 1</a> (public edition)" in item_page


def test_a_publication_in_the_panel_edition_only_is_not_shown_to_a_viewer(demo):
    world, item, photo = demo
    db = get_session()
    item_row = db.get(Item, item.id)
    item_row.classification = "committee"
    db.add(item_row)
    db.commit()
    report = _report(world, symbol="S/2025/77")
    annex = _annex(report, "Panel-only sheets", "panel")
    db = get_session()
    services.add_block(db, db.get(Report, report.id), db.get(Annex, annex.id), {
        "kind": "item_sheet", "classification": "panel", "settings": {"item": DEMO_ITEM}}, None)
    db.commit()
    _location(world.client("coordinator").post(f"/reports/{report.id}/submit"))
    assert "S/2025/77, annex 1</a> (panel edition)" in world.client("expert").get(
        f"/items/{item.id}").get_data(as_text=True)
    viewer_page = world.client("viewer").get(f"/items/{item.id}").get_data(as_text=True)
    assert viewer_page.count(DEMO_ITEM) >= 1 and "S/2025/77" not in viewer_page and "Published in" not in viewer_page
