"""An item's fields are declared once (cases.models.ItemBase); every door takes them from
there, and refuses a text too long with the same words: the form, the API and the import."""
from __future__ import annotations

import html

import pytest
from sqlmodel import select

from panel_tracker.api import serializers
from panel_tracker import visibility
from panel_tracker.cases import import_format, services
from panel_tracker.exports import selection
from panel_tracker.classification import Classification
from panel_tracker.cases.forms import ItemForm
from panel_tracker.cases.importer import import_items, row_values
from panel_tracker.cases.models import Case, Inspection, Item, ItemBase, Marking
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


def test_the_api_takes_and_returns_every_field():
    assert set(fields()) <= set(serializers.ItemCreate.model_fields)
    assert set(fields()) <= set(serializers.ItemUpdate.model_fields)
    assert set(fields()) <= set(serializers.ItemPublic.model_fields)


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
