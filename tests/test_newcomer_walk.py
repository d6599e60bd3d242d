"""What a newcomer's walk through the pages found wrong or misleading (issue 9, part A), each
seen as the expert sees it: through the real pages, the API and the database."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases.models import Case, Inspection, Item, Marking, MarkingPhoto
from panel_tracker.db import get_session
from panel_tracker.evidence.models import Photo
from tests.imagefactory import photographic_jpeg
from tests.test_api import api_as

SAMPLE = Path(__file__).parent / "data" / "sample" / "items.csv"


def _import(client, content: bytes, *, update: bool = False, name: str = "items.csv"):
    """Upload a spreadsheet on the import page; the preview page that follows."""
    data = {"file": (io.BytesIO(content), name)}
    if update:
        data["update"] = "y"
    response = client.post("/items/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"], client.get(response.headers["Location"])


def _commit(client, preview_url: str):
    return client.post(preview_url + "/commit", follow_redirects=True)


def _case(client, ref="YEM-2024-017") -> Case:
    client.post("/cases/new", data={"ref": ref, "status": "open"})
    return get_session().exec(select(Case).where(Case.ref == ref)).one()


def _audited(action: str) -> int:
    return len(get_session().exec(select(AuditRecord).where(AuditRecord.action == action)).all())


# ------------------------------------------------------------------ import


def test_import_preview_promises_updates_only_when_the_box_is_ticked(world):
    expert = world.client("expert")
    _, plain = _import(expert, SAMPLE.read_bytes())
    _, updating = _import(expert, SAMPLE.read_bytes(), update=True)

    assert plain.status_code == 200 and "will update that item" not in plain.get_data(as_text=True)
    assert "will update that item" in updating.get_data(as_text=True)


def test_reimporting_identical_rows_reports_them_unchanged_and_audits_no_update(world):
    expert = world.client("expert")
    url, _ = _import(expert, SAMPLE.read_bytes())
    _commit(expert, url)
    updated_at = {i.item_ref: i.updated_at for i in get_session().exec(select(Item)).all()}

    url, _ = _import(expert, SAMPLE.read_bytes(), update=True)
    page = _commit(expert, url).get_data(as_text=True)

    assert "0 new, 0 updated, 60 unchanged" in page
    assert _audited("item.update") == 0
    get_session().expire_all()
    assert {i.item_ref: i.updated_at for i in get_session().exec(select(Item)).all()} == updated_at


def test_browser_import_names_its_own_checkbox_and_explains_the_format(world):
    expert = world.client("expert")
    url, _ = _import(expert, SAMPLE.read_bytes())
    _commit(expert, url)

    _, preview = _import(expert, SAMPLE.read_bytes())
    page = preview.get_data(as_text=True)
    start = expert.get("/items/import").get_data(as_text=True)
    sample = expert.get("/items/import/sample.csv")

    assert preview.status_code == 422
    assert "--update" not in page and "Rows whose item reference already exists update that item" in page
    assert "README" not in start and "serial_legibility" in start and "/items/import/sample.csv" in start
    assert sample.status_code == 200 and sample.mimetype == "text/csv"
    assert sample.get_data(as_text=True).startswith("case_ref,item_ref,category,type,")


def test_imported_calibre_keeps_the_letter_case_that_carries_meaning(world):
    expert = world.client("expert")
    header = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    row = ("YEM-2024-003,YEM-2024-003/01,small_arm,sniper rifle,,,SVD,7.62 × 54R,,RUS,,12345,intact,,,,,,1,used,"
           "2024,,,,no,")
    url, _ = _import(expert, f"{header}\n{row}\n".encode())
    _commit(expert, url)

    item = get_session().exec(select(Item)).one()
    assert (item.calibre_marked, item.calibre) == ("7.62 × 54R", "7.62x54R")
    served = api_as(world, "expert").get(f"/items/{item.id}").get_json()
    assert served["calibre"] == "7.62x54R"


# ------------------------------------------------------------------ the item form


def test_item_form_shows_every_error_at_once_in_the_forms_words_and_keeps_what_was_typed(world):
    expert = world.client("expert")
    case = _case(expert)

    response = expert.post(f"/cases/{case.id}/items/new", data={
        "category": "small_arm", "type": "rifle", "quantity": "two", "lat": "95", "lon": "44.2",
        "recovered_on": "2024-13-45", "serial": "24017731", "serial_legibility": ""})
    page = response.get_data(as_text=True)

    assert response.status_code == 422
    assert "2024-13-45" in page and "is not a real date" in page  # the date, in the same round as…
    assert "two" in page and "95" in page                          # …the quantity and the latitude
    assert "Serial legibility must say how much" in page or "serial legibility must say how much" in page
    assert "serial_legibility" not in page.split("<form", 1)[1].split("</form>")[0].replace(
        'name="serial_legibility"', "").replace('id="serial_legibility"', "").replace(
        'for="serial_legibility"', "").replace('"serial_legibility-error"', "")
    assert get_session().exec(select(Item)).all() == []


def test_item_form_names_the_longitude_not_the_lon_column(world):
    expert = world.client("expert")
    case = _case(expert)

    page = expert.post(f"/cases/{case.id}/items/new", data={
        "category": "small_arm", "type": "rifle", "quantity": "1", "lat": "15.3"}).get_data(as_text=True)

    assert "Longitude is empty but latitude is" in page and "lon is empty" not in page


def test_an_impossible_inspection_date_is_called_impossible(world):
    expert = world.client("expert")
    case = _case(expert)

    response = expert.post(f"/cases/{case.id}/inspections/new", data={"inspected_on": "2024-13-45",
                                                                      "access_mode": "physical"})
    page = response.get_data(as_text=True)

    assert "2024-13-45 is not a possible date" in page and "The date of the inspection." not in page
    assert 'value="2024-13-45"' in page
    assert get_session().exec(select(Inspection)).all() == []


@pytest.mark.parametrize("typed, said", [("0", "0 is out of range; give a number from 1 to 365"),
                                         ("abc", "“abc” is not a whole number")])
def test_panel_settings_say_what_is_wrong_with_a_number(world, typed, said):
    admin = world.client("admin")

    response = admin.post("/admin/settings", data={
        "name": "Panel of Experts on Yemen", "acknowledgement_due_days": typed, "reply_due_days": "90",
        "reminder_interval_days": "30", "min_independent_sources": "2"})
    page = response.get_data(as_text=True)

    assert said in page and "This field is required." not in page
    assert f'value="{typed}"' in page


# ------------------------------------------------------------------ photos and boxes


@pytest.fixture
def marked_photo(world, tmp_path):
    """An item with a marking and a photo of it: (item, marking, photo)."""
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "rifle", "quantity": "1"})
    item = get_session().exec(select(Item)).one()
    jpeg = photographic_jpeg(tmp_path / "IMG_0001.JPG", 720, 540).read_bytes()
    expert.post(f"/cases/{case.id}/photos/upload", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(jpeg), "IMG_0001.JPG")], "source": "Panel inspection", "is_original": "yes",
        "item_id": str(item.id)}).close()
    expert.post(f"/items/{item.id}/markings/new", data={"text": "24017731", "kind": "serial",
                                                       "legibility": "intact", "symbol_shape": "none"})
    return item, get_session().exec(select(Marking)).one(), get_session().exec(select(Photo)).one()


def test_a_box_with_only_x_and_y_is_refused_not_dropped(world, marked_photo):
    item, marking, photo = marked_photo
    expert = world.client("expert")

    page = expert.post(f"/markings/{marking.id}/photos", data={"photo_id": photo.id, "box_x": "0.2", "box_y": "0.3"},
                       follow_redirects=True).get_data(as_text=True)

    assert "A box needs all four numbers" in page and "Photo linked" not in page
    assert get_session().exec(select(MarkingPhoto)).all() == []


def test_a_box_number_that_is_not_a_number_is_called_a_wrong_box(world, marked_photo):
    item, marking, photo = marked_photo
    expert = world.client("expert")

    page = expert.post(f"/markings/{marking.id}/photos", data={
        "photo_id": photo.id, "box_x": "abc", "box_y": "0.3", "box_w": "0.1", "box_h": "0.1"},
        follow_redirects=True).get_data(as_text=True)

    assert "The box is wrong" in page and "Choose one of this item" not in page
    assert get_session().exec(select(MarkingPhoto)).all() == []


def test_a_second_receipt_names_the_first_by_the_number_the_list_shows(world, tmp_path):
    expert = world.client("expert")
    case = _case(expert)
    jpeg = photographic_jpeg(tmp_path / "IMG_0001.JPG", 720, 540).read_bytes()
    for source in ("Panel inspection", "Member State"):
        expert.post(f"/cases/{case.id}/photos/upload", content_type="multipart/form-data", data={
            "files": [(io.BytesIO(jpeg), "IMG_0001.JPG")], "source": source, "is_original": "yes",
            "item_id": ""}).close()
    photo = get_session().exec(select(Photo)).one()

    page = expert.get(f"/photos/{photo.id}").get_data(as_text=True)

    assert "same bytes as receipt 1:" in page and "receipt #" not in page


# ------------------------------------------------------------------ API, login, dashboard


def test_api_item_list_takes_the_search_of_the_items_page(world):
    expert = world.client("expert")
    case = _case(expert)
    for kind in ("rifle", "mortar bomb"):
        expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": kind, "quantity": "1"})

    response = api_as(world, "expert").get("/items?q=mortar")

    assert response.status_code == 200, response.get_json()
    assert [i["type"] for i in response.get_json()["items"]] == ["mortar bomb"]


def test_login_redirect_carries_no_stray_question_mark(client):
    response = client.get("/dashboard")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login?next=/dashboard")


def test_dashboard_counts_one_photo_in_the_singular(world, marked_photo):
    page = world.client("expert").get("/dashboard").get_data(as_text=True)

    assert "1 photos" not in page.replace("<strong>", "").replace("</strong>", "")
    assert "<strong>1</strong> photo<" in page


# ------------------------------------------------------------------ audit log


def test_audit_log_shows_values_readably_and_cuts_a_long_one(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "rifle", "quantity": "1",
                                                    "notes": "N" * 20_000})
    item = get_session().exec(select(Item)).one()

    response = world.client("coordinator").get("/audit/?action=item.create")
    page = response.get_data(as_text=True)
    record = get_session().exec(select(AuditRecord).where(AuditRecord.action == "item.create")).one()
    whole = world.client("coordinator").get(f"/audit/{record.seq}")

    assert "N" * 301 not in page
    assert f'href="/audit/{record.seq}"' in page
    assert whole.status_code == 200 and "after: " + "N" * 20_000 + "\n" in whole.get_data(as_text=True)
    assert ">None<" not in page and ">False<" not in page and "{'" not in page
    assert item.item_ref in page
