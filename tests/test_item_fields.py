"""An item's fields are declared once (cases.models.ItemBase); every door takes them from
there, and refuses a text too long with the same words: the form, the API and the import."""
from __future__ import annotations

import html
from typing import Optional

import pytest
from sqlmodel import select

from panel_tracker.api import serializers
from panel_tracker import visibility
from panel_tracker.cases import import_format, services
from panel_tracker.exports import selection
from panel_tracker.classification import Classification
from panel_tracker.cases.forms import ItemForm
from panel_tracker.cases.importer import import_items, row_values
from panel_tracker.cases.models import Case, Inspection, Item, ItemBase, Marking, text_field
from panel_tracker.db import get_session
from tests.test_api import api_as, new_case
from tests.test_cases import ITEM, _case
from tests.test_import_format import BASE_ROW, write_file

# Fields an expert records on the item's page but that the 26-column spreadsheet does not
# carry (calibre is the normalised one; the spreadsheet's calibre fills calibre_marked).
NOT_IN_SPREADSHEET = {"inspection_id", "attribution_basis", "attribution_confidence", "calibre", "year_calendar",
                      "year_gregorian", "suspected_imitation", "state_ownership_mark"}
NOT_ITEM_FIELDS = {"case_ref", "source_confidential"}  # the row's case, and the classifications


def fields() -> list[str]:
    return list(ItemBase.model_fields)


# ------------------------------------------------------------------ one field list


def test_the_service_saves_and_audits_every_field_of_the_list():
    assert services.ITEM_FIELDS == tuple(fields())


def test_every_field_is_a_spreadsheet_column_or_said_not_to_be_one():
    columns = {import_format.COLUMN_FIELDS.get(c, c) for c in import_format.COLUMNS if c not in NOT_ITEM_FIELDS}
    assert columns <= set(fields()), "a column fills no field of the item"
    assert set(fields()) - columns == NOT_IN_SPREADSHEET, "decide whether the new field is a column"


def test_the_export_writes_the_26_columns_of_the_import_format(world, db):
    case = services.create_case(db, world.panel, {"ref": "YEM-2024-017"}, world.users["expert"])
    item = services.create_item(db, case, {"category": "small_arm", "type": "rifle", "quantity": 1},
                                world.users["expert"])
    reader = visibility.Reader(world.panel.id, Classification.PANEL)
    assert tuple(selection.item_row(item, case.ref, reader)) == import_format.COLUMNS
    assert len(import_format.COLUMNS) == 26


def test_an_imported_row_fills_item_fields_only(tmp_path):
    [row] = import_format.validate_file(write_file(tmp_path / "one.csv", [BASE_ROW]), panel_code="YEM").rows()
    assert set(row_values(row)) <= set(Item.model_fields)
    assert {import_format.COLUMN_FIELDS.get(c, c) for c in import_format.COLUMNS} - NOT_ITEM_FIELDS <= set(
        row_values(row))


def test_the_import_format_spells_the_enums_of_the_field_list():
    assert import_format.CATEGORIES == tuple(m.value for m in ItemBase.model_fields["category"].annotation)


def test_the_item_form_has_each_field_with_its_label_and_limit(app):
    with app.test_request_context():
        form = ItemForm()
    assert [name for name in form._fields if name != "csrf_token"] == fields()
    for name in fields():
        assert form[name].label.text == ItemBase.model_fields[name].title
    assert form["type"].flags.maxlength == 300 and form["notes"].flags.maxlength == 20_000


def test_the_api_takes_every_field():
    assert set(fields()) <= set(serializers.ItemCreate.model_fields)
    assert set(fields()) <= set(serializers.ItemUpdate.model_fields)


def test_the_api_returns_every_field_as_declared_and_the_withheld_ones_nullable():
    public = serializers.ItemPublic.model_fields
    assert set(public) == set(fields()) | set(serializers.ItemRecord.model_fields)
    for name, info in ItemBase.model_fields.items():
        declared = Optional[info.annotation] if name in Item.SOURCE_FIELDS else info.annotation
        assert public[name].annotation == declared, name


class ItemBaseWithBarrel(ItemBase):
    """The field list with one more field, as a developer would add it to ItemBase."""

    barrel_length: str = text_field(40, title="Barrel length")


def test_a_field_added_to_the_field_list_reaches_the_api_output():
    public = serializers.item_public_model(ItemBaseWithBarrel)
    assert "barrel_length" not in serializers.ItemPublic.model_fields
    assert public.model_fields["barrel_length"].annotation is str

    item = Item(id=7, panel_id=1, case_id=3, item_ref="YEM-2024-017/01", category="small_arm", type="rifle",
                notes="met the dealer in Aden", recovered_place="Aden", lat=12.8, lon=45.0,
                source_classification=Classification.PANEL)
    record = {name: getattr(item, name, None) for name in serializers.ItemRecord.model_fields}
    values = {name: getattr(item, name) for name in fields()}
    shown = public(**{**record, **values, "barrel_length": "415 mm", "case_ref": "YEM-2024-017",
                      "source_withheld": False}).model_dump(mode="json")
    assert (shown["barrel_length"], shown["notes"], shown["lat"]) == ("415 mm", "met the dealer in Aden", 12.8)
    # Withheld from a committee reader: the source fields null, the new field there.
    masked = visibility.shown(item, visibility.Reader(1, Classification.COMMITTEE), list(fields()))
    withheld = public(**{**record, **masked, "barrel_length": "415 mm", "case_ref": "YEM-2024-017",
                         "source_withheld": True}).model_dump(mode="json")
    assert {name: withheld[name] for name in Item.SOURCE_FIELDS} == dict.fromkeys(Item.SOURCE_FIELDS)
    assert withheld["barrel_length"] == "415 mm" and withheld["type"] == "rifle"


def test_the_api_masks_an_items_source_fields_for_a_reader_below_their_level(world, db):
    case = services.create_case(db, world.panel, {"ref": "YEM-2024-017"}, world.users["expert"])
    item = services.create_item(db, case, {"category": "small_arm", "type": "rifle", "quantity": 1,
                                           "notes": "met the dealer in Aden", "recovered_place": "Aden",
                                           "lat": 12.8, "lon": 45.0}, world.users["expert"])
    item.source_classification = Classification.PANEL
    db.commit()
    for clearance, source in ((Classification.PANEL, ["met the dealer in Aden", "Aden", 12.8, 45.0]),
                              (Classification.COMMITTEE, [None, None, None, None])):
        reader = visibility.Reader(world.panel.id, clearance)
        shown = serializers.item_public(item, case.ref, reader, visibility.references(db, [item], reader)[item.id])
        assert set(shown) == set(serializers.ItemPublic.model_fields)
        assert [shown[name] for name in ("notes", "recovered_place", "lat", "lon")] == source
        assert shown["source_withheld"] is (clearance != Classification.PANEL)
        assert shown["type"] == "rifle"


# ------------------------------------------------------------------ one set of length limits

TOO_LONG_TYPE = "x" * 301
MESSAGE = "301 characters long; at most 300 characters"


def test_an_import_with_a_type_too_long_is_refused_on_its_line_and_column(world, db, tmp_path):
    path = write_file(tmp_path / "items.csv", [{**BASE_ROW, "type": "y" * 100_000},
                                               {**BASE_ROW, "item_ref": "YEM-2024-017/02", "notes": "n" * 20_001,
                                                "serial": "", "serial_legibility": ""}])

    report = import_items(db, world.panel, path, actor=world.users["expert"])

    assert [str(error) for error in report.errors] == [
        "line 2, column type: too_long: 100,000 characters long; at most 300 characters",
        "line 3, column notes: too_long: 20,001 characters long; at most 20,000 characters",
    ]
    db.rollback()
    assert db.exec(select(Item)).all() == []


def test_every_text_column_is_held_to_its_field_limit(tmp_path):
    for column, limit in import_format.MAX_LENGTHS.items():
        value = "7" * (limit + 1)
        result = import_format.validate_file(write_file(tmp_path / "items.csv", [{**BASE_ROW, column: value}]),
                                             panel_code="YEM")
        assert [(e.line, e.code) for e in result.errors if e.column == column] == [(2, "too_long")], column


def test_the_item_form_refuses_a_type_too_long_in_the_same_words(world):
    expert = world.client("expert")
    case = _case(expert)

    response = expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "type": TOO_LONG_TYPE})

    assert response.status_code == 422
    assert MESSAGE in html.unescape(response.get_data(as_text=True))
    assert get_session().exec(select(Item)).all() == []


def test_the_api_refuses_a_type_too_long_in_the_same_words(world):
    expert = api_as(world, "expert")
    case = new_case(expert)

    response = expert.post(f"/cases/{case['id']}/items", json={"category": "small_arm", "type": TOO_LONG_TYPE})

    assert (response.status_code, response.get_json()) == (422, {"errors": {"type": MESSAGE}})


@pytest.mark.parametrize("model, name", [(Case, "title"), (Case, "summary"), (Inspection, "place"),
                                         (Marking, "text"), (Marking, "notes")])
def test_cases_inspections_and_markings_are_refused_in_the_same_words(world, db, model, name):
    expert = world.users["expert"]
    limit = {"title": 300, "summary": 20_000, "place": 300, "text": 300, "notes": 20_000}[name]
    words = f"{limit + 1:,} characters long; at most {limit:,} characters"
    case = services.create_case(db, world.panel, {"ref": "YEM-2024-017"}, expert)
    item = services.create_item(db, case, {"category": "small_arm", "type": "rifle", "quantity": 1}, expert)
    db.commit()
    api = api_as(world, "expert")
    value = "z" * (limit + 1)
    if model is Case:
        response = api.patch(f"/cases/{case.id}", json={name: value})
        page = world.client("expert").post(f"/cases/{case.id}/edit", data={"ref": case.ref, "status": "open",
                                                                           name: value})
    elif model is Inspection:
        response = api.post(f"/cases/{case.id}/inspections", json={"inspected_on": "2024-06-01", name: value})
        page = world.client("expert").post(f"/cases/{case.id}/inspections/new", data={
            "inspected_on": "2024-06-01", "access_mode": "physical", name: value})
    else:
        response = api.post(f"/items/{item.id}/markings", json={"text": "AK", "kind": "serial", name: value})
        page = world.client("expert").post(f"/items/{item.id}/markings/new", data={
            "text": "AK", "kind": "serial", "legibility": "intact", "symbol_shape": "none", name: value})

    assert (response.status_code, response.get_json()) == (422, {"errors": {name: words}})
    assert words in html.unescape(page.get_data(as_text=True))  # next to the field, typed text kept
    with pytest.raises(services.Invalid) as refused:
        services.check_lengths(model, {name: value})
    assert refused.value.errors == {name: words}
