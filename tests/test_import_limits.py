"""Files that would take the server's memory, or hide XML tricks, are refused early with
a message, in the browser and on the command line; nothing is imported."""
from __future__ import annotations

import contextvars
import io
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import select

from panel_tracker.cases import import_format
from panel_tracker.cases.import_format import COLUMNS, validate_file
from panel_tracker.cases.models import Item
from panel_tracker.db import get_session
from tests.conftest import SAMPLE
from tests.test_import_format import BASE_ROW, write_file


def cli(runner, *args):
    return contextvars.Context().run(runner.invoke, args=list(args))


def located(result) -> list[tuple[int, str, str]]:
    return [(error.line, error.column, error.code) for error in result.errors]


def workbook(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    for values in rows:
        book.active.append(values)
    book.save(path)
    return path


def rewritten(source: Path, target: Path, part: str, change) -> Path:
    """A copy of a workbook with one XML part changed, as a hand-made file could be."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            data = original.read(info.filename)
            copy.writestr(info.filename, change(data) if info.filename == part else data)
    return target


def with_shared_strings(target: Path, text_bytes: int) -> Path:
    """A small workbook whose text table holds one cell of ``text_bytes`` bytes (streamed into
    the ZIP, so the test never holds it in memory)."""
    source = workbook(target.with_name("plain.xlsx"), [list(COLUMNS)])
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            copy.writestr(info.filename, original.read(info.filename))
        with copy.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                       b'2006/main" count="1" uniqueCount="1"><si><t>')
            chunk = b"a" * (1024 * 1024)
            for _ in range(text_bytes // len(chunk)):
                part.write(chunk)
            part.write(b"</t></si></sst>")
    return target


DTD = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'


# ------------------------------------------------------------------ size of the file


@pytest.mark.app_config(IMPORT_MAX_BYTES=2000)
def test_cli_refuses_a_file_over_the_import_limit_before_reading_it(world, runner):
    result = cli(runner, "items", "import", str(SAMPLE / "items.csv"), "--panel", "YEM")

    assert result.exit_code == 1
    assert "file: file_too_large: the file is 0.0 MB; at most 0.0 MB can be imported" in result.output
    assert get_session().exec(select(Item)).all() == []


@pytest.mark.app_config(IMPORT_MAX_BYTES=2000)
def test_browser_refuses_an_upload_over_the_import_limit(world, app):
    expert = world.client("expert")

    response = expert.post("/items/import", data={"file": (io.BytesIO((SAMPLE / "items.csv").read_bytes()),
                                                           "items.csv")}, content_type="multipart/form-data")

    assert response.status_code == 413
    assert "can be imported" in response.get_data(as_text=True)
    assert list((Path(app.instance_path) / "imports").glob("*.csv")) == []


@pytest.mark.app_config(IMPORT_MAX_BYTES=1000)
def test_browser_refuses_a_request_far_over_the_limit_before_building_the_form(world, app):
    expert = world.client("expert")

    response = expert.post("/items/import", data={"file": (io.BytesIO(b"x" * 200_000), "items.csv")},
                           content_type="multipart/form-data")

    assert response.status_code == 413
    assert "at most 0.0 MB can be imported" in response.get_data(as_text=True)
    assert not (Path(app.instance_path) / "imports").exists() or \
        list((Path(app.instance_path) / "imports").glob("*.csv")) == []


def test_validation_refuses_a_file_over_max_bytes_without_reading_it(tmp_path):
    result = validate_file(SAMPLE / "items.csv", panel_code="YEM", max_bytes=100)

    assert located(result) == [(0, "", "file_too_large")] and result.record_count == 0


# ------------------------------------------------------------------ workbooks


def test_a_small_workbook_holding_one_huge_cell_is_refused_before_it_is_unpacked(tmp_path):
    path = with_shared_strings(tmp_path / "bomb.xlsx", 200 * 1024 * 1024)  # 200 MB of text, a small file
    assert path.stat().st_size < 1024 * 1024

    started = time.perf_counter()
    result = validate_file(path, panel_code="YEM")

    assert located(result) == [(0, "", "file_too_large")]
    assert time.perf_counter() - started < 2  # not unpacked, let alone parsed
    assert "text table unpacks to 210 MB; at most 134 MB" in str(result.errors[0])


def test_a_workbook_cell_longer_than_any_field_is_refused_before_openpyxl_reads_it(tmp_path):
    path = with_shared_strings(tmp_path / "long.xlsx", 2 * 1024 * 1024)

    result = validate_file(path, panel_code="YEM")

    assert located(result) == [(0, "", "too_long")]
    assert str(result.errors[0]) == ("file: too_long: a cell of the workbook holds over 20,000 characters; "
                                     "no column takes that many")


def test_a_sheet_thousands_of_columns_wide_is_refused_on_its_first_row(tmp_path):
    path = workbook(tmp_path / "wide.xlsx", [list(COLUMNS) + [f"c{n}" for n in range(16_000)]])

    result = validate_file(path, panel_code="YEM")

    assert located(result) == [(1, "", "too_many_columns")]
    assert "16,026 columns; at most 200" in str(result.errors[0])


def test_a_csv_thousands_of_columns_wide_is_refused_too(tmp_path):
    path = write_file(tmp_path / "wide.csv", [], header=list(COLUMNS) + [f"c{n}" for n in range(500)])

    assert located(validate_file(path, panel_code="YEM")) == [(1, "", "too_many_columns")]


def test_a_csv_field_longer_than_any_field_is_too_long_on_its_line(tmp_path):
    path = write_file(tmp_path / "long.csv", [BASE_ROW, {**BASE_ROW, "notes": "n" * 200_000}])

    assert located(validate_file(path, panel_code="YEM")) == [(3, "", "too_long")]


def test_the_mapping_page_never_lists_thousands_of_columns(world, tmp_path):
    path = workbook(tmp_path / "wide.xlsx", [["Case", "Item"] + [f"c{n}" for n in range(16_000)]])
    expert = world.client("expert")

    upload = expert.post("/items/import", data={"file": (io.BytesIO(path.read_bytes()), "wide.xlsx")},
                         content_type="multipart/form-data")
    preview = expert.get(upload.location)

    assert preview.status_code == 422
    page = preview.get_data(as_text=True)
    assert "too_many_columns" in page and len(page) < 100_000


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml"])
def test_a_workbook_declaring_xml_entities_is_refused_as_unreadable(world, runner, tmp_path, part):
    source = workbook(tmp_path / "plain.xlsx", [list(COLUMNS), list(BASE_ROW.values())])
    path = rewritten(source, tmp_path / "entities.xlsx", part,
                     lambda data: DTD + data.split(b"?>", 1)[-1].replace(b">rifle", b">&b;rifle"))

    result = cli(runner, "items", "import", str(path), "--panel", "YEM")

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("file: unreadable_file: the file is not an Excel workbook")
    assert "DTD" in result.output
    assert get_session().exec(select(Item)).all() == []


def test_a_workbook_with_a_long_prolog_hiding_a_dtd_is_refused(tmp_path):
    source = workbook(tmp_path / "plain.xlsx", [list(COLUMNS)])
    padding = b"<!--" + b" " * (128 * 1024) + b"-->"
    path = rewritten(source, tmp_path / "padded.xlsx", "xl/worksheets/sheet1.xml",
                     lambda data: b'<?xml version="1.0"?>' + padding + DTD.split(b"?>", 1)[1] + data)

    assert located(validate_file(path, panel_code="YEM")) == [(0, "", "unreadable_file")]


def test_an_ordinary_workbook_still_imports(tmp_path):
    path = workbook(tmp_path / "items.xlsx", [list(COLUMNS), list(BASE_ROW.values())])

    result = validate_file(path, panel_code="YEM", max_bytes=import_format.file_size(path))

    assert result.ok, result.errors
