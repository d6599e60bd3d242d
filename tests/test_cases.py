"""An expert's daily logging through the real pages: cases, inspections, items, markings."""
from __future__ import annotations

import pytest
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases.models import Case, Inspection, Item, Marking
from panel_tracker.db import get_session

ITEM = {
    "category": "small_arm", "type": "assault rifle (AK-pattern)", "model": "Type 56-1", "calibre_marked": "7.62x39mm",
    "calibre": "7.62x39mm", "country_marked": "", "country_attributed": "CHN", "make_attributed": "State Factory 66",
    "attribution_confidence": "consistent_with", "attribution_basis": "factory code 66 in a triangle",
    "serial": "24017731", "serial_legibility": "intact", "factory_code": "66", "quantity": "1", "condition": "used",
    "recovered_on": "2024-05", "recovered_place": "Checkpoint north of Sana'a", "lat": "15.352", "lon": "44.207",
    "notes": "Informant A says it came by dhow", "year_marked": "1398", "year_calendar": "", "year_gregorian": "",
}


def _case(client, ref="YEM-2024-017"):
    response = client.post("/cases/new", data={"ref": ref, "title": "Dhow interdiction", "status": "open",
                                               "country_of_seizure": "YEM"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return get_session().exec(select(Case).where(Case.ref == ref)).one()


def test_expert_creates_a_case_and_sees_it_badged_panel_only(world):
    expert = world.client("expert")
    case = _case(expert)
    page = expert.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "YEM-2024-017" in page and "Panel only" in page
    assert case.classification.value == "panel"


def test_case_reference_of_another_panel_is_refused_next_to_the_field(world):
    expert = world.client("expert")
    response = expert.post("/cases/new", data={"ref": "LBY-2024-001", "status": "open"})
    assert response.status_code == 422
    assert "A case of this panel starts with YEM-" in response.get_data(as_text=True)
    assert get_session().exec(select(Case)).all() == []


def test_expert_records_an_inspection_and_an_item_with_every_field(world):
    expert = world.client("expert")
    case = _case(expert)
    response = expert.post(f"/cases/{case.id}/inspections/new", data={
        "inspected_on": "2024-06-01", "place": "Aden", "custodian": "Coast guard", "access_mode": "physical",
        "inspectors": "E. Expert"})
    assert response.status_code == 302
    inspection = get_session().exec(select(Inspection)).one()
    response = expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "inspection_id": str(inspection.id)})
    assert response.status_code == 302, response.get_data(as_text=True)
    item = get_session().exec(select(Item)).one()
    assert item.item_ref == "YEM-2024-017/01"
    assert item.inspection_id == inspection.id
    assert item.recovered_date.isoformat() == "2024-05-01" and item.recovered_on == "2024-05"
    assert item.year_marked == "1398" and item.year_calendar is None  # ambiguous until an expert confirms it
    assert item.serial_folded == "24017731"
    page = expert.get(f"/items/{item.id}").get_data(as_text=True)
    assert "State Factory 66" in page and "consistent with" in page and "not confirmed" in page


@pytest.mark.parametrize("change, field, message", [
    ({"quantity": "0"}, "quantity", "At least 1."),
    ({"quantity": "2"}, "quantity", "serial"),
    ({"country_attributed": "XXX"}, "country_attributed", "Not a valid choice"),
    ({"serial": "17?402?8", "serial_legibility": "intact"}, "serial_legibility", "intact"),
    ({"recovered_on": "2024-13-40"}, "recovered_on", "2024-13-40"),
    ({"lat": "15.3", "lon": ""}, "lon", ""),
    ({"category": ""}, "category", ""),
    ({"type": ""}, "type", "Say what the item is"),
    ({"year_gregorian": "1066"}, "year_gregorian", "between 1800"),
])
def test_a_bad_item_re_renders_with_the_error_next_to_the_field_and_saves_nothing(world, change, field, message):
    expert = world.client("expert")
    case = _case(expert)
    response = expert.post(f"/cases/{case.id}/items/new", data={**ITEM, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html
    assert 'value="Informant A says' in html or "Informant A says" in html  # what was typed is kept
    assert get_session().exec(select(Item)).all() == []


def test_markings_keep_their_script_and_digits_exactly_as_read(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    item = get_session().exec(select(Item)).one()
    for text, kind in (("НЖ 1182", "serial"), ("۱۳۹۶", "year"), ("مستقبل ٣", "other")):
        assert expert.post(f"/items/{item.id}/markings/new", data={
            "text": text, "kind": kind, "location": "receiver", "legibility": "intact", "symbol_shape": "none"}
        ).status_code == 302
    markings = get_session().exec(select(Marking).order_by(Marking.id)).all()
    assert [m.text for m in markings] == ["НЖ 1182", "۱۳۹۶", "مستقبل ٣"]
    assert [m.script.value for m in markings] == ["cyrillic", "persian", "arabic"]
    assert markings[0].text_folded == "HЖ1182"
    page = expert.get(f"/items/{item.id}").get_data(as_text=True)
    assert "НЖ 1182" in page and 'dir="auto"' in page


def test_an_empty_marking_is_refused_next_to_the_field(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    item = get_session().exec(select(Item)).one()
    response = expert.post(f"/items/{item.id}/markings/new", data={"text": "  ", "kind": "serial"})
    assert response.status_code == 422
    assert "Type the marking" in response.get_data(as_text=True)


def test_editing_an_item_is_audited_with_before_and_after_and_shown_in_its_history(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    item = get_session().exec(select(Item)).one()
    response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "model": "Type 56"})
    assert response.status_code == 302, response.get_data(as_text=True)
    record = get_session().exec(select(AuditRecord).where(AuditRecord.action == "item.update")).one()
    assert record.actor == world.users["expert"].email
    assert '"model":"Type 56-1"' in record.before and '"model":"Type 56"' in record.after
    history = expert.get(f"/items/{item.id}/history").get_data(as_text=True)
    assert "item.update" in history and "Type 56-1" in history


def test_viewer_sees_public_items_but_not_their_panel_only_source_details(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    item = get_session().exec(select(Item)).one()
    viewer = world.client("viewer")
    assert viewer.get(f"/items/{item.id}").status_code == 404  # new things start panel-only
    for obj in (case, item):
        url = f"/cases/{case.id}/classify" if obj is case else f"/items/{item.id}/classify"
        refused = expert.post(url, data={"field": "classification", "level": "public"})
        assert refused.status_code == 302
        get_session().expire_all()
        assert get_session().get(type(obj), obj.id).classification.value == "panel"  # needs explicit confirmation
        expert.post(url, data={"field": "classification", "level": "public", "confirm_public": "y"})
    page = viewer.get(f"/items/{item.id}").get_data(as_text=True)
    assert "Type 56-1" in page
    assert "Informant A" not in page and "Withheld" in page
    history = viewer.get(f"/items/{item.id}/history").get_data(as_text=True)
    assert "Informant A" not in history and "withheld" in history
    assert get_session().exec(select(AuditRecord).where(AuditRecord.action == "item.classify")).first()


def test_item_list_filters_by_category_country_date_and_legibility(world, runner):
    from tests.conftest import SAMPLE

    result = runner.invoke(args=["items", "import", str(SAMPLE / "items.csv"), "--panel", "YEM"])
    assert result.exit_code == 0, result.output
    expert = world.client("expert")

    def refs(query):
        html = expert.get(f"/items?{query}").get_data(as_text=True)
        return {ref for ref in ("YEM-2025-003/01", "YEM-2023-011/02", "YEM-2023-004/08", "YEM-2024-030/01") if ref in html}

    assert refs("legibility=obliterated") == {"YEM-2025-003/01"}
    assert refs("legibility=partial") == {"YEM-2023-011/02"}
    assert "YEM-2023-004/08" in refs("category=ammunition")
    assert "YEM-2023-004/08" not in refs("category=small_arm")
    assert refs("recovered_from=2030-01-01") == set()
    assert refs("has_photos=yes") == set()


def test_a_second_sighting_is_suggested_and_linked_so_it_is_counted_once(world):
    expert = world.client("expert")
    case = _case(expert)
    other = _case(expert, "YEM-2025-003")
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    expert.post(f"/cases/{other.id}/items/new", data={**ITEM, "serial": "24O17731"})  # O for 0, from a photo
    first, second = get_session().exec(select(Item).order_by(Item.id)).all()
    page = expert.get(f"/items/{second.id}").get_data(as_text=True)
    assert "Possibly the same physical item" in page and first.item_ref in page
    assert expert.post(f"/items/{second.id}/sighting", data={"sighting_of": first.item_ref}).status_code == 302
    get_session().expire_all()
    assert get_session().get(Item, second.id).sighting_of_id == first.id


def test_soft_delete_needs_a_reason_hides_the_item_and_keeps_the_row(world):
    expert = world.client("expert")
    case = _case(expert)
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    item = get_session().exec(select(Item)).one()
    expert.post(f"/items/{item.id}/delete", data={"reason": ""})
    assert expert.get(f"/items/{item.id}").status_code == 200
    expert.post(f"/items/{item.id}/delete", data={"reason": "entered twice"})
    assert expert.get(f"/items/{item.id}").status_code == 404
    get_session().expire_all()
    assert get_session().get(Item, item.id).deleted_reason == "entered twice"


def test_browser_import_previews_maps_columns_and_commits_all_or_nothing(world, tmp_path):
    from tests.conftest import SAMPLE

    expert = world.client("expert")
    bad = (SAMPLE / "bad_items.csv").read_bytes()
    response = expert.post("/items/import", data={"file": (__import__("io").BytesIO(bad), "bad.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    preview = expert.get(response.location)
    assert preview.status_code == 422
    html = preview.get_data(as_text=True)
    assert "unknown_category" in html and "line" in html.lower()
    # Renamed columns: the user maps them and saves the mapping for next time.
    text = (SAMPLE / "items.csv").read_text(encoding="utf-8").replace("case_ref,item_ref,", "Case,Item,", 1)
    response = expert.post("/items/import", data={"file": (__import__("io").BytesIO(text.encode()), "mine.csv")},
                           content_type="multipart/form-data")
    columns = expert.get(response.location)
    assert columns.status_code == 302 and columns.location.endswith("/columns")
    form = {f"col-{i}": name for i, name in enumerate(
        ["case_ref", "item_ref"] + text.splitlines()[0].split(",")[2:])}
    mapped = expert.post(columns.location, data={**form, "save_as": "Field team sheet"})
    assert mapped.status_code == 302
    preview = expert.get(mapped.location)
    assert preview.status_code == 200 and "60 rows in 10 case(s)" in preview.get_data(as_text=True)
    assert get_session().exec(select(Item)).all() == []  # nothing before the user confirms
    done = expert.post(mapped.location + "/commit")
    assert done.status_code == 302
    assert len(get_session().exec(select(Item)).all()) == 60
