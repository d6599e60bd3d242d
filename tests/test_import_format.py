"""The item import format, as experts meet it: sample files, broken rows,
spreadsheets with other headings, and exports that read back unchanged."""
from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from panel_tracker.cases.import_format import (
    COLUMNS,
    MAX_STORED_ERRORS,
    REQUIRED,
    ImportFormatError,
    ItemRow,
    RowError,
    ValidationResult,
    csv_restore,
    csv_safe,
    csv_safe_record,
    is_known_country,
    iter_records,
    validate_file,
    write_csv,
)

SAMPLE = Path(__file__).parent / "data" / "sample"
ITEMS = SAMPLE / "items.csv"
BAD_ITEMS = SAMPLE / "bad_items.csv"

# A valid row; each crafted test changes a few fields of a copy.
BASE_ROW: dict[str, str] = {
    "case_ref": "YEM-2024-017", "item_ref": "YEM-2024-017/01", "category": "small_arm",
    "type": "assault rifle (AK-pattern)", "make_marked": "", "make_attributed": "State Factory 66",
    "model": "Type 56-1", "calibre": "7.62x39mm", "country_marked": "",
    "country_attributed": "CHN", "year_marked": "", "serial": "24017731",
    "serial_legibility": "intact", "lot": "", "factory_code": "66", "headstamp": "",
    "import_mark": "", "other_marks": "factory code 66 in triangle", "quantity": "1",
    "condition": "used", "recovered_on": "2024-11-19", "recovered_place": "Sana'a",
    "lat": "15.352", "lon": "44.207", "source_confidential": "no", "notes": "",
}


def row(**changes: str) -> dict[str, str]:
    return {**BASE_ROW, **changes}


def write_file(path: Path, records: list[list[str]] | list[dict[str, str]],
               header: list[str] | tuple[str, ...] = COLUMNS) -> Path:
    """Write a CSV with any header and records, valid or not."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(header)
        for record in records:
            writer.writerow(record if isinstance(record, list) else
                            [record[column] for column in header])
    return path


def validate_rows(tmp_path: Path, *records: dict[str, str], **options: object) -> ValidationResult:
    return validate_file(write_file(tmp_path / "items.csv", list(records)),
                         panel_code="YEM", **options)


def located(result: ValidationResult) -> list[tuple[int, str, str]]:
    return [(error.line, error.column, error.code) for error in result.errors]


def documented_bad_items_errors() -> list[tuple[int, str, str, str]]:
    """(line, column, value, code) from the README's table, the contract."""
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- bad-items-errors -->")[1].split("<!-- /bad-items-errors -->")[0]
    errors = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0].isdigit():
            value = "" if cells[2] == "(empty)" else cells[2].strip("`")
            errors.append((int(cells[0]), cells[1].strip("`"), value, cells[3].strip("`")))
    return errors


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for values in rows:
        sheet.append(values)
    workbook.save(path)
    return path


def csv_as_lists(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


# --- the sample files ---------------------------------------------------------


def test_expert_importing_bad_items_sees_exactly_the_eight_documented_errors() -> None:
    result = validate_file(BAD_ITEMS, panel_code="YEM")

    expected = documented_bad_items_errors()
    assert len(expected) == 8
    assert [(e.line, e.column, e.value, e.code) for e in result.errors] == expected
    assert result.error_count == 8 and not result.ok


def test_nothing_from_bad_items_is_imported_not_even_its_valid_lines() -> None:
    result = validate_file(BAD_ITEMS, panel_code="YEM")

    with pytest.raises(ImportFormatError):
        next(result.rows())


def test_error_reads_as_line_column_code_and_message() -> None:
    result = validate_file(BAD_ITEMS, panel_code="YEM")

    assert str(result.errors[1]) == 'line 4, column quantity: not_an_integer: "ten" is not a whole number'


def test_sample_items_import_as_60_items_in_10_cases() -> None:
    result = validate_file(ITEMS, panel_code="YEM")
    rows = list(result.rows())

    assert result.errors == [] and result.ok
    assert len(rows) == 60
    assert len({item.case_ref for item in rows}) == 10


def test_multi_line_note_keeps_its_line_break_and_the_line_it_starts_on() -> None:
    rows = {item.item_ref: item for item in validate_file(ITEMS, panel_code="YEM").rows()}

    offered = rows["YEM-2025-008/03"]
    assert offered.notes == "Offered for sale with\ntwo spare barrels."
    assert offered.line == 55
    assert rows["YEM-2025-008/04"].line == 57


def test_cyrillic_persian_and_arabic_markings_are_kept_verbatim() -> None:
    rows = {item.item_ref: item for item in validate_file(ITEMS, panel_code="YEM").rows()}

    assert rows["YEM-2023-011/03"].serial == "НЖ 1182"
    assert rows["YEM-2024-009/01"].serial == "۸۷۰۴۱۲"
    assert rows["YEM-2024-009/01"].year_marked == "۱۴۰۲"
    assert "'قائمة التعبئة'" in rows["YEM-2023-004/10"].other_marks
    assert rows["YEM-2023-004/10"].notes == 'Lists "spare parts, agricultural" — does not match the cargo.'
    assert rows["YEM-2023-004/04"].other_marks.endswith("80式")


def test_rows_carry_typed_values_for_the_database() -> None:
    rows = {item.item_ref: item for item in validate_file(ITEMS, panel_code="YEM").rows()}

    rifle = rows["YEM-2023-004/01"]
    assert (rifle.quantity, rifle.lat, rifle.lon) == (1, 14.702, 53.318)
    assert rifle.recovered_date == dt.date(2023, 2, 14) and rifle.recovered_precision == "day"
    assert rifle.source_confidential is False
    assert rows["YEM-2025-008/03"].source_confidential is True
    assert rows["YEM-2025-008/03"].lat is None and rows["YEM-2025-008/03"].lon is None
    assert sum(item.source_confidential for item in rows.values()) == 7


@pytest.mark.parametrize(("recovered_on", "first_day", "precision"), [
    ("2024-05-17", dt.date(2024, 5, 17), "day"),
    ("2024-05", dt.date(2024, 5, 1), "month"),
    ("2024", dt.date(2024, 1, 1), "year"),
    ("2024-02-29", dt.date(2024, 2, 29), "day"),
    ("", None, None),
])
def test_recovery_date_known_only_to_the_month_or_year_is_kept_as_written(
        tmp_path: Path, recovered_on: str, first_day: dt.date | None, precision: str | None) -> None:
    [item] = validate_rows(tmp_path, row(recovered_on=recovered_on)).rows()

    assert (item.recovered_on, item.recovered_date, item.recovered_precision) == \
        (recovered_on, first_day, precision)


# --- one broken rule at a time ------------------------------------------------

BROKEN_ROWS = [
    *(pytest.param({column: ""}, [(column, "missing_value")], id=f"missing_value-{column}")
      for column in sorted(REQUIRED)),
    pytest.param({"case_ref": "", "item_ref": "YEM-2024-017/1"}, [("case_ref", "missing_value"),
                 ("item_ref", "bad_item_ref")], id="missing_case_ref-still-checks-item_ref-shape"),
    pytest.param({"quantity": "", "serial": "24017731"}, [("quantity", "missing_value")],
                 id="missing_value-only-not-serial_with_quantity"),
    pytest.param({"case_ref": "YEM-24-017", "item_ref": "YEM-24-017/01"},
                 [("case_ref", "bad_case_ref")], id="bad_case_ref-two-digit-year"),
    pytest.param({"case_ref": "YEM-2024-17", "item_ref": "YEM-2024-17/01"},
                 [("case_ref", "bad_case_ref")], id="bad_case_ref-two-digit-number"),
    pytest.param({"case_ref": "yem-2024-017", "item_ref": "yem-2024-017/01"},
                 [("case_ref", "bad_case_ref")], id="bad_case_ref-lower-case"),
    pytest.param({"case_ref": "LBY-2024-017", "item_ref": "LBY-2024-017/01"},
                 [("case_ref", "bad_case_ref")], id="bad_case_ref-another-panels-code"),
    pytest.param({"item_ref": "YEM-2024-017/1"}, [("item_ref", "bad_item_ref")],
                 id="bad_item_ref-one-digit"),
    pytest.param({"item_ref": "YEM-2024-018/01"}, [("item_ref", "bad_item_ref")],
                 id="bad_item_ref-other-case"),
    pytest.param({"item_ref": "YEM-2024-017-01"}, [("item_ref", "bad_item_ref")],
                 id="bad_item_ref-no-slash"),
    pytest.param({"item_ref": "YEM-2024-017/۰۱"}, [("item_ref", "bad_item_ref")],
                 id="bad_item_ref-persian-digits"),
    pytest.param({"category": "rifle"}, [("category", "unknown_category")],
                 id="unknown_category"),
    pytest.param({"category": "Small_arm"}, [("category", "unknown_category")],
                 id="unknown_category-capital"),
    pytest.param({"country_marked": "XXX"}, [("country_marked", "unknown_country")],
                 id="unknown_country-marked"),
    pytest.param({"country_attributed": "chn"}, [("country_attributed", "unknown_country")],
                 id="unknown_country-lower-case"),
    pytest.param({"country_attributed": "XKX"}, [("country_attributed", "unknown_country")],
                 id="unknown_country-not-officially-assigned"),
    pytest.param({"country_marked": "SU", "country_attributed": "URSS"},
                 [("country_marked", "unknown_country"),
                  ("country_attributed", "unknown_country")], id="unknown_country-both"),
    pytest.param({"serial_legibility": "legible"}, [("serial_legibility", "bad_legibility")],
                 id="bad_legibility-not-a-value"),
    pytest.param({"serial": "17?402?8", "serial_legibility": "intact"},
                 [("serial_legibility", "bad_legibility")], id="bad_legibility-intact-with-?"),
    pytest.param({"serial": "", "serial_legibility": "intact"},
                 [("serial_legibility", "bad_legibility")], id="bad_legibility-intact-no-serial"),
    pytest.param({"serial": "17340258", "serial_legibility": "partial"},
                 [("serial_legibility", "bad_legibility")], id="bad_legibility-partial-without-?"),
    pytest.param({"serial": "????", "serial_legibility": "partial"},
                 [("serial_legibility", "bad_legibility")], id="bad_legibility-partial-only-?"),
    pytest.param({"serial": "", "serial_legibility": "partial"},
                 [("serial_legibility", "bad_legibility")], id="bad_legibility-partial-no-serial"),
    pytest.param({"serial": "17?402?8", "serial_legibility": "obliterated"},
                 [("serial_legibility", "bad_legibility")],
                 id="bad_legibility-obliterated-with-legible-characters"),
    pytest.param({"serial": "", "serial_legibility": "restored"},
                 [("serial_legibility", "bad_legibility")], id="bad_legibility-restored-no-serial"),
    pytest.param({"serial": "24017731", "serial_legibility": ""},
                 [("serial_legibility", "bad_legibility")], id="bad_legibility-serial-without-legibility"),
    pytest.param({"quantity": "ten"}, [("quantity", "not_an_integer")], id="not_an_integer-word"),
    pytest.param({"quantity": "۱"}, [("quantity", "not_an_integer")], id="not_an_integer-persian"),
    pytest.param({"quantity": "+1"}, [("quantity", "not_an_integer")], id="not_an_integer-plus"),
    pytest.param({"quantity": " 1"}, [("quantity", "not_an_integer")], id="not_an_integer-space"),
    pytest.param({"quantity": "1.0"}, [("quantity", "not_an_integer")], id="not_an_integer-decimal"),
    pytest.param({"quantity": "-1"}, [("quantity", "not_an_integer")], id="not_an_integer-negative"),
    pytest.param({"quantity": "0"}, [("quantity", "out_of_range")], id="out_of_range-quantity-0"),
    pytest.param({"quantity": "000", "serial": "", "serial_legibility": ""}, [("quantity", "out_of_range")],
                 id="out_of_range-quantity-000"),
    pytest.param({"quantity": "9" * 5000, "serial": "", "serial_legibility": ""},
                 [("quantity", "out_of_range")], id="out_of_range-quantity-too-large"),
    pytest.param({"lat": "95.352"}, [("lat", "out_of_range")], id="out_of_range-lat"),
    pytest.param({"lat": "-90.001"}, [("lat", "out_of_range")], id="out_of_range-lat-south"),
    pytest.param({"lon": "180.5"}, [("lon", "out_of_range")], id="out_of_range-lon"),
    pytest.param({"lon": "-181"}, [("lon", "out_of_range")], id="out_of_range-lon-west"),
    pytest.param({"quantity": "3"}, [("quantity", "serial_with_quantity")],
                 id="serial_with_quantity"),
    pytest.param({"condition": "broken"}, [("condition", "unknown_condition")],
                 id="unknown_condition"),
    pytest.param({"condition": "Used"}, [("condition", "unknown_condition")],
                 id="unknown_condition-capital"),
    *(pytest.param({"recovered_on": value}, [("recovered_on", "bad_date")], id=f"bad_date-{value}")
      for value in ("2024-13-40", "2023-02-29", "2024-1-05", "24-05-01", "2024/05/01",
                    "2024-05-01T10:00", "0000", "2024-00", "19 Nov 2024")),
    *(pytest.param({"lat": value}, [("lat", "not_a_number")], id=f"not_a_number-{value}")
      for value in ("nan", "inf", "1e5", "15,4", "+15.4", "15.", ".5", "\u22121.6", "15.4 ",
                    "N15.4", "١٥٫٤")),
    pytest.param({"lat": "", "lon": "44.207"}, [("lat", "incomplete_coordinates")],
                 id="incomplete_coordinates-lat-empty"),
    pytest.param({"lat": "15.352", "lon": ""}, [("lon", "incomplete_coordinates")],
                 id="incomplete_coordinates-lon-empty"),
    pytest.param({"lat": "abc", "lon": ""}, [("lat", "not_a_number"),
                 ("lon", "incomplete_coordinates")], id="incomplete_coordinates-and-not_a_number"),
    *(pytest.param({"source_confidential": value}, [("source_confidential", "bad_yes_no")],
                   id=f"bad_yes_no-{value}") for value in ("Yes", "y", "true", "1")),
]


@pytest.mark.parametrize(("changes", "expected"), BROKEN_ROWS)
def test_expert_sees_each_broken_rule_on_its_line_and_column(
        tmp_path: Path, changes: dict[str, str], expected: list[tuple[str, str]]) -> None:
    result = validate_rows(tmp_path, row(**changes))

    assert located(result) == [(2, column, code) for column, code in expected]
    for error in result.errors:
        assert error.value == row(**changes)[error.column]
        assert error.message and str(error).startswith(f"line 2, column {error.column}: ")


ACCEPTED_ROWS = [
    pytest.param({"serial": "", "serial_legibility": ""}, id="no-serial"),
    pytest.param({"serial": "17?402?8", "serial_legibility": "partial"}, id="partial"),
    pytest.param({"serial": "", "serial_legibility": "obliterated"}, id="obliterated-empty"),
    pytest.param({"serial": "????", "serial_legibility": "obliterated"}, id="obliterated-only-?"),
    pytest.param({"serial": "ZX11-210371", "serial_legibility": "restored"}, id="restored"),
    pytest.param({"serial": "ЕК 3317"}, id="cyrillic-serial"),
    pytest.param({"serial": "", "serial_legibility": "", "quantity": "1440"}, id="ammunition-count"),
    *(pytest.param({"country_marked": code}, id=f"former-country-{code}")
      for code in ("SUN", "YUG", "CSK", "DDR", "SCG")),
    pytest.param({"lat": "-1.679", "lon": "-180"}, id="negative-coordinates-at-limit"),
    pytest.param({"lat": "90", "lon": "0"}, id="whole-degrees"),
    pytest.param({"lat": "", "lon": ""}, id="no-coordinates"),
    pytest.param({"condition": "", "recovered_on": "", "country_attributed": ""}, id="optional-empty"),
    pytest.param({"case_ref": "YEM-2024-1017", "item_ref": "YEM-2024-1017/100"},
                 id="long-case-and-item-numbers"),
]


@pytest.mark.parametrize("changes", ACCEPTED_ROWS)
def test_rows_that_follow_the_rules_are_accepted(tmp_path: Path, changes: dict[str, str]) -> None:
    result = validate_rows(tmp_path, row(**changes))

    assert result.errors == []
    assert len(list(result.rows())) == 1


def test_known_countries_are_assigned_upper_case_codes_or_former_ones() -> None:
    assert is_known_country("CHN") and is_known_country("SUN")
    assert not is_known_country("chn") and not is_known_country("XXX")


def test_repeated_item_ref_is_reported_on_the_later_line_naming_the_first(tmp_path: Path) -> None:
    result = validate_rows(tmp_path, row(), row(serial="24017734"), row(serial="24017735"))

    assert located(result) == [(3, "item_ref", "duplicate_item_ref"),
                               (4, "item_ref", "duplicate_item_ref")]
    assert "line 2" in result.errors[0].message and "line 2" in result.errors[1].message


def test_every_error_of_a_row_is_reported_in_column_order(tmp_path: Path) -> None:
    result = validate_rows(tmp_path, row(category="rifle", quantity="ten", lat="95", lon="x",
                                         source_confidential="maybe"))

    assert located(result) == [(2, "category", "unknown_category"),
                               (2, "quantity", "not_an_integer"), (2, "lat", "out_of_range"),
                               (2, "lon", "not_a_number"),
                               (2, "source_confidential", "bad_yes_no")]


# --- items already in the panel -----------------------------------------------


def test_item_already_in_the_panel_is_a_duplicate_unless_updating(tmp_path: Path) -> None:
    existing = frozenset({"YEM-2024-017/01"})

    refused = validate_rows(tmp_path, row(), existing_refs=existing)
    updated = validate_rows(tmp_path, row(), existing_refs=existing, update=True)

    assert located(refused) == [(2, "item_ref", "duplicate_item_ref")]
    assert "already in the panel; use --update to update it" in refused.errors[0].message
    assert updated.ok and [item.item_ref for item in updated.rows()] == ["YEM-2024-017/01"]


def test_updating_does_not_allow_the_same_item_twice_in_one_file(tmp_path: Path) -> None:
    result = validate_rows(tmp_path, row(), row(), existing_refs={"YEM-2024-017/01"}, update=True)

    assert located(result) == [(3, "item_ref", "duplicate_item_ref")]


# --- the shape of the file ----------------------------------------------------


def renamed(header: tuple[str, ...], old: str, new: str) -> list[str]:
    return [new if name == old else name for name in header]


@pytest.mark.parametrize(("header", "expected"), [
    pytest.param(renamed(COLUMNS, "serial", "serial_no"),
                 [(1, "serial_no", "bad_header"), (1, "serial", "bad_header")], id="renamed"),
    pytest.param([COLUMNS[0], COLUMNS[2], COLUMNS[1], *COLUMNS[3:]],
                 [(1, "item_ref", "bad_header")], id="out-of-order"),
    pytest.param(list(COLUMNS[:-1]), [(1, "notes", "bad_header")], id="missing-column"),
    pytest.param([*COLUMNS, "photo"], [(1, "photo", "bad_header")], id="extra-column"),
    pytest.param([*COLUMNS[:-1], "serial"],
                 [(1, "serial", "bad_header"), (1, "notes", "bad_header")], id="repeated-column"),
    pytest.param(renamed(COLUMNS, "lat", "Lat"),
                 [(1, "Lat", "bad_header"), (1, "lat", "bad_header")], id="capitalised"),
])
def test_file_with_a_wrong_header_is_refused_before_any_row(
        tmp_path: Path, header: list[str], expected: list[tuple[int, str, str]]) -> None:
    records = [[BASE_ROW.get(name, "x") for name in header], ["only", "three", "fields"]]
    result = validate_file(write_file(tmp_path / "items.csv", records, header), panel_code="YEM")

    assert located(result) == expected
    assert result.record_count == 0


def test_empty_file_is_reported_as_missing_its_header(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(b"")

    assert located(validate_file(path, panel_code="YEM")) == [(1, "", "bad_header")]


def test_record_with_too_many_or_too_few_fields_is_reported_and_others_still_checked(
        tmp_path: Path) -> None:
    values = list(row().values())
    path = write_file(tmp_path / "items.csv", [
        values, values[:-1], [*values, "extra"],
        list(row(item_ref="YEM-2024-017/04", category="rifle").values()),
    ])

    result = validate_file(path, panel_code="YEM")

    assert located(result) == [(3, "", "wrong_field_count"), (4, "", "wrong_field_count"),
                               (5, "category", "unknown_category")]
    assert str(result.errors[0]) == "line 3: wrong_field_count: the record has 25 fields; the header has 26"


def test_blank_lines_are_skipped_without_shifting_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    header = ",".join(COLUMNS)
    good = ",".join(row().values())
    bad = ",".join(row(item_ref="YEM-2024-017/02", category="rifle").values())
    path.write_bytes(f"{header}\r\n{good}\r\n\r\n{',' * 25}\r\n{bad}\r\n\r\n".encode())

    assert located(validate_file(path, panel_code="YEM")) == [(5, "category", "unknown_category")]


def test_byte_order_mark_from_excel_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(b"\xef\xbb\xbf" + BAD_ITEMS.read_bytes())

    result = validate_file(path, panel_code="YEM")

    assert [(e.line, e.column, e.code) for e in result.errors] == \
        [(line, column, code) for line, column, _, code in documented_bad_items_errors()]


def test_file_that_is_not_utf8_is_refused_at_the_line_with_foreign_bytes(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    header = ",".join(COLUMNS)
    good = ",".join(row().values())
    latin1 = ",".join(row(item_ref="YEM-2024-017/02", notes="café").values())
    path.write_bytes(f"{header}\r\n{good}\r\n".encode() + f"{latin1}\r\n".encode("cp1252"))

    result = validate_file(path, panel_code="YEM")

    assert located(result) == [(3, "", "unreadable_file")]
    assert "UTF-8" in result.errors[0].message


def test_unclosed_quote_is_reported_on_the_line_where_the_record_starts(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    good = ",".join(row().values())
    broken = ",".join(row(item_ref="YEM-2024-017/02", notes='"never closed').values())
    path.write_text(f"{','.join(COLUMNS)}\r\n{good}\r\n{broken}\r\n{good}\r\n", encoding="utf-8",
                    newline="")

    assert located(validate_file(path, panel_code="YEM")) == [(3, "", "unreadable_file")]


def test_open_file_objects_are_read_and_rewound_for_the_writing_pass() -> None:
    upload = io.BytesIO(ITEMS.read_bytes())

    result = validate_file(upload, panel_code="YEM", fmt="csv")

    assert result.ok and len(list(result.rows())) == 60


def test_format_must_be_given_when_the_name_does_not_tell_it() -> None:
    with pytest.raises(ValueError, match="fmt="):
        validate_file(io.BytesIO(ITEMS.read_bytes()), panel_code="YEM")


def test_strict_reading_raises_on_the_first_structural_error(tmp_path: Path) -> None:
    path = write_file(tmp_path / "items.csv", [list(row().values())[:-1]])

    with pytest.raises(ImportFormatError, match="wrong_field_count"):
        list(iter_records(path))


# --- spreadsheets -----------------------------------------------------------


def test_xlsx_workbook_gives_the_same_errors_on_the_same_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bad_items.xlsx", csv_as_lists(BAD_ITEMS))

    result = validate_file(path, panel_code="YEM")

    assert [(e.line, e.column, e.value, e.code) for e in result.errors] == \
        documented_bad_items_errors()


def typed_cells(values: list[str]) -> list[object]:
    """A row as Excel holds it: numbers as numbers, full dates as dates."""
    cells: list[object] = list(values)
    for column, convert in (("quantity", int), ("lat", float), ("lon", float)):
        index = COLUMNS.index(column)
        if values[index]:
            cells[index] = convert(values[index])
    index = COLUMNS.index("recovered_on")
    if len(values[index]) == len("2024-11-19"):
        cells[index] = dt.date.fromisoformat(values[index])
    return cells


def test_xlsx_with_numbers_and_dates_imports_like_the_csv(tmp_path: Path) -> None:
    header, *records = csv_as_lists(ITEMS)
    path = write_xlsx(tmp_path / "items.xlsx", [header, *map(typed_cells, records)])

    from_xlsx = list(validate_file(path, panel_code="YEM").rows())
    from_csv = list(validate_file(ITEMS, panel_code="YEM").rows())

    assert [item.line for item in from_xlsx] == list(range(2, 62))
    assert [item.to_record() for item in from_xlsx] == [item.to_record() for item in from_csv]


def test_xlsx_rows_are_numbered_as_the_sheet_shows_them(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "items.xlsx", [
        list(COLUMNS), typed_cells(list(row().values())), [None] * 26,
        list(row(item_ref="YEM-2024-017/02", quantity="ten").values()),
    ])

    assert located(validate_file(path, panel_code="YEM")) == [(4, "quantity", "not_an_integer")]


def test_file_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "items.xlsx"
    path.write_bytes(ITEMS.read_bytes())

    assert located(validate_file(path, panel_code="YEM")) == [(0, "", "unreadable_file")]
    assert str(validate_file(path, panel_code="YEM").errors[0]).startswith("file: unreadable_file:")


# --- other headings -----------------------------------------------------------

THEIR_NAMES = {"Case": "case_ref", "Item No.": "item_ref", "Serial number": "serial",
               "Photo file": ""}


def their_spreadsheet(tmp_path: Path, header: list[str]) -> Path:
    """A file in another order with other headings and a column of their own."""
    ours = {theirs: column for theirs, column in THEIR_NAMES.items() if column}
    values = {**row(serial="ЕК 3317"), "Photo file": "IMG_0412.jpg"}
    return write_file(tmp_path / "theirs.csv",
                      [[values.get(ours.get(name, name), "") for name in header]], header)


def test_spreadsheet_with_other_headings_imports_through_a_column_mapping(tmp_path: Path) -> None:
    header = ["Photo file", "Serial number", "Item No.", "Case",
              *(column for column in COLUMNS if column not in THEIR_NAMES.values())]

    result = validate_file(their_spreadsheet(tmp_path, header), panel_code="YEM",
                           mapping=THEIR_NAMES)
    [item] = result.rows()

    assert result.errors == []
    assert (item.case_ref, item.item_ref, item.serial) == \
        ("YEM-2024-017", "YEM-2024-017/01", "ЕК 3317")


def test_mapped_file_must_still_account_for_every_column(tmp_path: Path) -> None:
    header = ["Photo file", "Serial number", "Item No.", "Case", "Remarks",
              *(column for column in COLUMNS if column not in {*THEIR_NAMES.values(), "notes"})]
    path = their_spreadsheet(tmp_path, header)

    result = validate_file(path, panel_code="YEM", mapping=THEIR_NAMES)

    assert located(result) == [(1, "Remarks", "bad_header"), (1, "notes", "bad_header")]


def test_mapping_two_headings_onto_one_column_is_refused(tmp_path: Path) -> None:
    header = ["Case", "case_ref", *COLUMNS[1:]]
    path = write_file(tmp_path / "theirs.csv", [], header)

    result = validate_file(path, panel_code="YEM", mapping={"Case": "case_ref"})

    assert located(result) == [(1, "case_ref", "bad_header")]


def test_mapping_to_a_column_we_do_not_have_is_a_mistake_in_the_mapping(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="serial_number"):
        validate_file(ITEMS, panel_code="YEM", mapping={"Serial": "serial_number"})


# --- large files --------------------------------------------------------------


def generated(tmp_path: Path, *arguments: str) -> Path:
    path = tmp_path / "generated.csv"
    generator = Path(__file__).resolve().parent.parent / "bench" / "generate.py"  # the shared sample generator
    subprocess.run([sys.executable, str(generator), *arguments, "--out", str(path)],
                   check=True)
    return path


@pytest.mark.parametrize("panel", ["YEM", "SOM"])
def test_generated_files_of_any_panel_validate_without_errors(tmp_path: Path, panel: str) -> None:
    result = validate_file(generated(tmp_path, "--n", "3000", "--seed", "5", "--panel", panel),
                           panel_code=panel)

    assert result.errors == [] and result.record_count == 3000


def test_generated_file_for_one_panel_is_refused_by_another(tmp_path: Path) -> None:
    result = validate_file(generated(tmp_path, "--n", "50", "--panel", "LBY"), panel_code="YEM")

    assert {error.code for error in result.errors} == {"bad_case_ref"}
    assert result.error_count == 50


def test_a_flood_of_errors_keeps_the_first_thousand_and_counts_the_rest(tmp_path: Path) -> None:
    records = [row(item_ref=f"YEM-2024-017/{number:04}", category="rifle")
               for number in range(1, 1501)]

    result = validate_rows(tmp_path, *records)

    assert len(result.errors) == MAX_STORED_ERRORS
    assert (result.error_count, result.errors_not_shown) == (1500, 500)
    assert result.errors[-1].line == MAX_STORED_ERRORS + 1


# --- exports ------------------------------------------------------------------


def test_export_of_records_reproduces_the_sample_byte_for_byte() -> None:
    exported = io.BytesIO()

    write_csv((record for _, record in iter_records(ITEMS)), exported)

    assert exported.getvalue() == ITEMS.read_bytes()


def test_export_of_typed_rows_reproduces_the_sample_byte_for_byte(tmp_path: Path) -> None:
    rows: list[ItemRow] = list(validate_file(ITEMS, panel_code="YEM").rows())

    write_csv(rows, tmp_path / "export.csv")

    assert (tmp_path / "export.csv").read_bytes() == ITEMS.read_bytes()


def test_export_writes_booleans_and_numbers_as_the_format_spells_them() -> None:
    exported = io.StringIO(newline="")

    write_csv([{**BASE_ROW, "quantity": 1, "lat": 1e-05, "lon": 44.0,
                "source_confidential": True, "notes": None}], exported)

    [record] = [record for _, record in iter_records(io.StringIO(exported.getvalue(), newline=""),
                                                     fmt="csv")]
    assert (record["lat"], record["lon"], record["source_confidential"], record["notes"]) == \
        ("0.00001", "44", "yes", "")


def test_export_refuses_a_field_that_is_not_a_column() -> None:
    with pytest.raises(ValueError, match="photo"):
        write_csv([{**BASE_ROW, "photo": "IMG_0412.jpg"}], io.BytesIO())


def test_row_error_without_a_column_names_only_the_line() -> None:
    assert str(RowError(3, "", "unreadable_file", "not UTF-8", "")) == \
        "line 3: unreadable_file: not UTF-8"


# --- formulas -----------------------------------------------------------------

FORMULA_LIKE = ["=HYPERLINK(\"http://evil.example\",\"see photo\")", "+1+cmd|' /C calc'!A0", "-2+3",
                "@SUM(A1:A9)", "\tindented", "\rreturn", "'=typed with an apostrophe", "''+two apostrophes"]
LEFT_ALONE = ["'66' in triangle", "'", "''", "plain", "", "1-2", "a=b", " =not at the start", "'x-y"]


@pytest.mark.parametrize("value", FORMULA_LIKE)
def test_text_a_spreadsheet_would_run_is_written_behind_an_apostrophe_and_read_back_exactly(value: str) -> None:
    assert csv_safe(value) == "'" + value
    assert csv_restore(csv_safe(value)) == value


@pytest.mark.parametrize("value", LEFT_ALONE)
def test_other_text_is_written_and_read_as_it_is(value: str) -> None:
    assert csv_safe(value) == value
    assert csv_restore(value) == value


def test_numbers_stay_numbers_when_a_record_is_made_safe() -> None:
    safe = csv_safe_record({**BASE_ROW, "lat": "-12.5", "lon": "-1.679", "serial": "-0042",
                            "notes": "=1+1"})

    assert (safe["lat"], safe["lon"]) == ("-12.5", "-1.679")
    assert (safe["serial"], safe["notes"]) == ("'-0042", "'=1+1")


def test_a_csv_written_safe_imports_to_the_very_values_typed(tmp_path: Path) -> None:
    typed = row(item_ref="YEM-2024-017/01", serial="-0042", serial_legibility="intact",
                other_marks=FORMULA_LIKE[0], notes="'=typed with an apostrophe", lat="-12.5")
    exported = tmp_path / "export.csv"

    write_csv([csv_safe_record(typed)], exported)

    assert csv_as_lists(exported)[1][COLUMNS.index("other_marks")].startswith("'=HYPERLINK")
    assert csv_as_lists(exported)[1][COLUMNS.index("lat")] == "-12.5"
    result = validate_file(exported, panel_code="YEM")
    assert result.ok, result.errors
    assert next(result.rows()).to_record() == typed


def test_a_workbook_cell_starting_with_an_apostrophe_is_kept_as_typed(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "items.xlsx", [list(COLUMNS), list(row(notes="'=kept").values())])

    [(_, record)] = list(iter_records(path))

    assert record["notes"] == "'=kept"
