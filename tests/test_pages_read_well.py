"""The pages read as a professional tool (issue 9, part C): one date form, required fields
marked, no silent default, totals, a useful start page, helpful import matching."""
from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

from sqlmodel import select

from panel_tracker.cases.models import Case, Item, Marking
from panel_tracker.db import get_session
from tests.test_newcomer_walk import _case, _commit, _import

SAMPLE = Path(__file__).parent / "data" / "sample" / "items.csv"


def test_a_marking_has_no_silent_kind(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "rifle", "quantity": "1"})
    item = get_session().exec(select(Item)).one()

    blank = expert.get(f"/items/{item.id}/markings/new").get_data(as_text=True)
    response = expert.post(f"/items/{item.id}/markings/new", data={
        "text": "ساخت ایران", "legibility": "intact", "symbol_shape": "none"})

    assert re.search(r'<option selected value="">— choose —</option>|<option value="" selected>— choose —</option>',
                     blank)
    assert response.status_code == 422 and "Choose what kind of marking this is." in response.get_data(as_text=True)
    assert get_session().exec(select(Marking)).all() == []


def test_required_fields_are_marked_on_the_item_form(world):
    expert = world.client("expert")
    case = _case(expert)

    page = expert.get(f"/cases/{case.id}/items/new").get_data(as_text=True)

    for label in ("Category", "Type", "Quantity"):
        assert re.search(rf'>{label}</label> <span class="required">required</span>', page), label
    assert 'Model <span class="required">' not in page


def test_lists_show_their_totals(world):
    expert = world.client("expert")
    url, _ = _import(expert, SAMPLE.read_bytes())
    _commit(expert, url)

    cases = expert.get("/cases").get_data(as_text=True)
    items = expert.get("/items").get_data(as_text=True)

    assert "Page 1 of 1 · 10 cases" in cases
    assert "Page 1 of 1 · 60 items" in items


def test_imported_cases_are_titled_by_what_and_where_not_their_reference(world):
    expert = world.client("expert")
    url, _ = _import(expert, SAMPLE.read_bytes())
    _commit(expert, url)

    case = get_session().exec(select(Case).where(Case.ref == "YEM-2023-004")).one()

    assert case.title.startswith("assault rifle (AK-pattern), Arabian Sea")


def test_dates_read_the_same_on_every_page_and_partial_dates_stay_partial(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/inspections/new", data={"inspected_on": "2023-09-12", "access_mode": "physical"})
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "rifle", "quantity": "1",
                                                    "recovered_on": "2024-05"})
    item = get_session().exec(select(Item)).one()

    case_page = expert.get(f"/cases/{case.id}").get_data(as_text=True)
    item_page = expert.get(f"/items/{item.id}").get_data(as_text=True)
    items_page = expert.get("/items").get_data(as_text=True)
    form = expert.get(f"/cases/{case.id}/inspections/new").get_data(as_text=True)

    assert "12 Sep 2023" in case_page
    assert "May 2024" in item_page and "May 2024" in items_page and ">2024-05<" not in items_page
    assert 'placeholder="YYYY-MM-DD"' in form and 'type="date"' not in form


def test_dashboard_links_its_counts_shows_recent_items_and_what_waits(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "mortar tube", "quantity": "1"})
    from panel_tracker.traces import services as traces

    db = get_session()
    traces.draft_letter(db, world.panel, {"kind": "information_request", "addressee_id":
                                          traces.state_addressee(db, world.panel, "CHN", None).id}, None)
    db.commit()

    page = expert.get("/dashboard").get_data(as_text=True)
    coordinator = world.client("coordinator").get("/dashboard").get_data(as_text=True)

    assert '<a href="/cases"><strong>1</strong> case</a>' in page
    assert '<a href="/items"><strong>1</strong> item</a>' in page
    assert "mortar tube" in page and "Recently logged or changed" in page
    assert "1 draft letter to approve and send" in coordinator and "draft letter" not in page


def test_column_matching_shows_sample_values_and_matches_obvious_names(world):
    expert = world.client("expert")
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    header = lines[0].replace("case_ref", "Case").replace("item_ref", "Item").replace(",serial,", ",Serial no.,")
    response = expert.post("/items/import", content_type="multipart/form-data", data={
        "file": (io.BytesIO("\n".join([header] + lines[1:4]).encode()), "mine.csv")})
    page = expert.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)

    assert "YEM-2023-004/01" in page  # the Item column's first value
    for index, ours in ((0, "case_ref"), (1, "item_ref"), (11, "serial")):
        select_html = page.split(f'name="col-{index}"', 1)[1].split("</select>", 1)[0]
        assert re.search(rf'<option value="{ours}" selected>', select_html), ours


def test_uploading_photos_from_an_item_page_returns_to_the_item(world, tmp_path):
    from tests.imagefactory import photographic_jpeg

    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "rifle", "quantity": "1"})
    item = get_session().exec(select(Item)).one()
    jpeg = photographic_jpeg(tmp_path / "IMG_0001.JPG", 720, 540).read_bytes()

    form = expert.get(f"/cases/{case.id}/photos/upload?item_id={item.id}").get_data(as_text=True)
    response = expert.post(f"/cases/{case.id}/photos/upload", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(jpeg), "IMG_0001.JPG")], "source": "Panel inspection", "is_original": "yes",
        "item_id": str(item.id)})
    response.close()

    assert 'accept="image/*" capture="environment"' in form
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/items/{item.id}")


def test_case_page_shows_the_serial_once_and_kinds_in_words(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "rifle", "quantity": "1",
                                                    "serial": "24017731", "serial_legibility": "intact"})
    item = get_session().exec(select(Item)).one()
    for text, kind in (("24017731", "serial"), ("66", "factory_code")):
        expert.post(f"/items/{item.id}/markings/new", data={"text": text, "kind": kind, "legibility": "intact",
                                                           "symbol_shape": "none"})

    page = expert.get(f"/cases/{case.id}").get_data(as_text=True)
    cell = page.split('class="table items"', 1)[1]

    assert cell.count("24017731") == 1
    assert "factory code" in cell and "factory_code" not in cell
    assert date.today().year  # the page rendered
