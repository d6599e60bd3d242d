"""Read, validate and write the item import format (26 columns, CSV or XLSX).

The format is specified in ``tests/data/sample/README.md``. This module is
pure (no app, no database session) so that the web upload, the CLI and the
tests share one definition of what a valid row is; its enums and length
limits are those of the item's field list (``models.ItemBase``).

Import is all-or-nothing: :func:`validate_file` reads the whole file once,
keeping only the item_refs it has seen and the errors, and only when there
are no errors may the caller stream the rows again with
:meth:`ValidationResult.rows` and write them. Both passes stream, so a
100,000-row file never sits in memory.

Text is kept verbatim: nothing is stripped, transliterated or converted, except
that a CSV's text cells are read through :func:`csv_restore`, the inverse of the
:func:`csv_safe` that keeps exported text from running as a spreadsheet formula.
Matching look-alike spellings is the job of ``panel_tracker.search.analysis``.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import IO, Literal

import openpyxl
import pycountry
from openpyxl.utils.exceptions import InvalidFileException

from ..validation import too_long, unstorable_character
from .models import LONG_TEXT_MAX, Case, Category, Condition, ItemBase, Legibility, max_lengths

#: Fictional items in this format: the demo's (``panel-tracker demo``) and the sample file's rows.
DEMO_ITEMS = Path(__file__).resolve().parent.parent / "data" / "demo_items.csv"

COLUMNS: tuple[str, ...] = (
    "case_ref", "item_ref", "category", "type", "make_marked", "make_attributed",
    "model", "calibre", "country_marked", "country_attributed", "year_marked",
    "serial", "serial_legibility", "lot", "factory_code", "headstamp",
    "import_mark", "other_marks", "quantity", "condition", "recovered_on",
    "recovered_place", "lat", "lon", "source_confidential", "notes",
)
REQUIRED: frozenset[str] = frozenset(
    {"case_ref", "item_ref", "category", "type", "quantity", "source_confidential"}
)
# The enums of the item's field list; tuples, not sets: their order is the order error
# messages list them in.
CATEGORIES: tuple[str, ...] = tuple(member.value for member in Category)
LEGIBILITIES: tuple[str, ...] = tuple(member.value for member in Legibility)
CONDITIONS: tuple[str, ...] = tuple(member.value for member in Condition)
YES_NO: tuple[str, ...] = ("yes", "no")
# ISO 3166-3 codes that old materiel still carries (USSR, Yugoslavia,
# Czechoslovakia, GDR, Serbia and Montenegro).
FORMER_COUNTRY_CODES: frozenset[str] = frozenset({"SUN", "YUG", "CSK", "DDR", "SCG"})

# The item field each column fills, where the names differ (the rest share their name;
# source_confidential sets the classifications).
COLUMN_FIELDS: dict[str, str] = {"calibre": "calibre_marked"}
# The longest text each column takes: the limits of the item's field list (and of a
# case's ref), so that the form, the API and the import refuse the same values.
# Columns whose own rule bounds their length (unknown_country, bad_date) are left to it.
MAX_LENGTHS: dict[str, int] = {
    "case_ref": max_lengths(Case)["ref"],
    **{column: limit for column in COLUMNS
       if column not in ("country_marked", "country_attributed", "recovered_on")
       and (limit := max_lengths(ItemBase).get(COLUMN_FIELDS.get(column, column))) is not None},
}

# Written as numbers; every other column is text (see csv_safe).
NUMERIC_COLUMNS: frozenset[str] = frozenset({"quantity", "lat", "lon"})
TEXT_COLUMNS: tuple[str, ...] = tuple(column for column in COLUMNS if column not in NUMERIC_COLUMNS)

# The largest quantity one row may hold: the range of a database INTEGER.
MAX_QUANTITY = 2_147_483_647
# A broken 100,000-row file could produce millions of errors; nobody reads
# past the first thousand, and storing them all would unbound memory.
MAX_STORED_ERRORS = 1000
# What a file may hold, checked while reading (before openpyxl opens a workbook), so that
# a small file cannot take the memory of a large one: no row wider than MAX_COLUMNS; no
# cell longer than the longest field takes; an XLSX unpacked no larger than these.
MAX_COLUMNS = 200
MAX_CELL_CHARS = LONG_TEXT_MAX
MAX_CELL_BYTES = 8 * MAX_CELL_CHARS  # a cell's XML: UTF-8 and &amp; escapes, with its tags
XLSX_MAX_UNPACKED_BYTES = 2 * 1024**3
XLSX_MAX_SHARED_STRINGS_BYTES = 128 * 1024**2

Source = str | os.PathLike[str] | IO[bytes] | IO[str]
Format = Literal["csv", "xlsx"]
Precision = Literal["day", "month", "year"]

_PANEL_CODE = re.compile(r"[A-Z]{2,6}")
_CASE_REF = re.compile(r"(?P<panel>[A-Z]{2,6})-[0-9]{4}-[0-9]{3,}")
_ITEM_NUMBER = re.compile(r"[0-9]{2,}")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_PARTIAL_DATE = re.compile(
    r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2}))?)?"
)
_LONGEST_QUOTED_VALUE = 60
# A text a spreadsheet would run as a formula (OWASP "CSV injection"), behind any
# apostrophes already there: see csv_safe.
_FORMULA_LIKE = re.compile(r"'*[=+\-@\t\r]")


@dataclass(frozen=True)
class RowError:
    """One broken rule, located so that a person can find and fix it.

    ``line`` is the physical line (CSV) or sheet row (XLSX) where the record
    starts, the header being line 1; 0 means the file as a whole (an XLSX
    file that cannot be opened). ``column`` is one of :data:`COLUMNS`, or
    for header problems the name as found in the file, or empty for errors
    about a whole record (``wrong_field_count``, ``unreadable_file``).
    """

    line: int
    column: str
    code: str
    message: str
    value: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.code}: {self.message}"


class ImportFormatError(ValueError):
    """Raised where errors cannot be returned: structural errors in strict
    reading, or asking for the rows of a file that has errors."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        summary = str(errors[0]) if errors else "the file has errors"
        if len(errors) > 1:
            summary += f" (and {len(errors) - 1} more)"
        super().__init__(summary)


@dataclass
class ItemRow:
    """A valid row, typed.

    Text columns hold the value exactly as read; an empty field is ``""``.
    ``recovered_on`` keeps the text (``2024``, ``2024-05`` or
    ``2024-05-17``) because a year alone must not turn into a day; its
    ``recovered_date`` is the first day of that period, for sorting and
    filtering, and ``recovered_precision`` says how much of it is known.
    """

    line: int
    case_ref: str
    item_ref: str
    category: str
    type: str
    make_marked: str
    make_attributed: str
    model: str
    calibre: str
    country_marked: str
    country_attributed: str
    year_marked: str
    serial: str
    serial_legibility: str
    lot: str
    factory_code: str
    headstamp: str
    import_mark: str
    other_marks: str
    quantity: int
    condition: str
    recovered_on: str
    recovered_place: str
    lat: float | None
    lon: float | None
    source_confidential: bool
    notes: str
    recovered_date: dt.date | None
    recovered_precision: Precision | None

    def to_record(self) -> dict[str, str]:
        """The row as the 26 text fields of the format, ready for write_csv."""
        return {column: format_value(getattr(self, column)) for column in COLUMNS}


@dataclass
class ValidationResult:
    """What validate_file found, and the way back to the rows.

    ``errors`` holds the first :data:`MAX_STORED_ERRORS` errors in line
    order; ``error_count`` counts them all. Nothing may be imported unless
    ``ok``.
    """

    source: Source
    panel_code: str
    fmt: Format
    mapping: Mapping[str, str] | None
    existing_refs: AbstractSet[str]
    update: bool
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    record_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def errors_not_shown(self) -> int:
        return self.error_count - len(self.errors)

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(error)

    def rows(self) -> Iterator[ItemRow]:
        """Read the file again and yield its rows, for the writing pass.

        Refuses (ImportFormatError) when validation found errors, so a
        partial import cannot happen by mistake. Every row is validated
        again: if the file changed since, ImportFormatError is raised
        mid-way and the caller's transaction must roll back. A file object
        must be seekable; it is rewound first.
        """
        if not self.ok:
            raise ImportFormatError(self.errors)
        _rewind(self.source)
        seen_refs: dict[str, int] = {}
        for line, record in iter_records(self.source, fmt=self.fmt, mapping=self.mapping):
            row, errors = validate_record(
                line, record, panel_code=self.panel_code, seen_refs=seen_refs,
                existing_refs=self.existing_refs, update=self.update,
            )
            if row is None:
                raise ImportFormatError(errors)
            yield row


# --- countries -------------------------------------------------------------


@cache
def _assigned_alpha3_codes() -> frozenset[str]:
    return frozenset(country.alpha_3 for country in pycountry.countries)


def is_known_country(code: str) -> bool:
    """True for an officially assigned ISO 3166-1 alpha-3 code or a former
    code in FORMER_COUNTRY_CODES, written in upper case (``CHN``, ``SUN``).

    Exact: pycountry's own lookup ignores case, but the format does not.
    """
    return code in _assigned_alpha3_codes() or code in FORMER_COUNTRY_CODES


# --- reading ---------------------------------------------------------------


class _UnreadableFile(Exception):
    """The bytes cannot be read as the format at all, or not within the limits (``code``
    says which); reading stops."""

    def __init__(self, line: int, message: str, code: str = "unreadable_file", column: str = "") -> None:
        super().__init__(message)
        self.line, self.message, self.code, self.column = line, message, code, column


def iter_records(
    source: Source,
    *,
    fmt: Format | None = None,
    mapping: Mapping[str, str] | None = None,
    on_error: Callable[[RowError], None] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream the records of a file as ``(line, {column: text})``.

    ``source`` is a path or an open file. CSV files are read as UTF-8 (a
    leading BOM is dropped), RFC 4180 quoting, a quoted field may span
    lines; a binary file object is decoded here, a text one must have been
    opened with ``newline=""``. XLSX files are read from their first sheet
    with openpyxl in read-only mode; numbers become text without a spurious
    ``.0`` and dates become ISO dates. ``fmt`` (``"csv"`` or ``"xlsx"``) is
    taken from the file name's extension when not given.

    ``line`` is where the record starts: the physical line in a CSV file
    (header = line 1; a multi-line record is numbered by its first line),
    the row number in a sheet. Lines whose fields are all empty are skipped:
    they carry nothing, and spreadsheets leave them behind.

    ``mapping`` renames the file's columns to ours, ``{their_name:
    our_name}``, for spreadsheets kept with other headings. Names that are
    not in the mapping are taken as they are; mapping a name to ``""``
    ignores that column. With a mapping the columns may come in any order,
    but each of our 26 must be present exactly once and no column may be
    left unaccounted for. Without one, the header must be exactly
    :data:`COLUMNS`, in order.

    In a CSV file, a text column's leading ``'`` before ``=``, ``+``, ``-``, ``@``, tab
    or CR is taken off (:func:`csv_restore`), so an export re-imports exactly.

    Structural problems (``bad_header``, after which nothing is yielded;
    ``wrong_field_count``, whose record is skipped; ``unreadable_file``,
    after which reading stops) are passed to ``on_error``; without it the
    first one raises ImportFormatError. Values are not validated here: see
    :func:`validate_record`.
    """
    if mapping is not None:
        _check_mapping(mapping)
    fmt = _check_format(fmt) if fmt else _infer_format(source)

    def report(errors: list[RowError]) -> None:
        if on_error is None:
            raise ImportFormatError(errors)
        for error in errors:
            on_error(error)

    raw_rows = _xlsx_rows(source) if fmt == "xlsx" else _csv_rows(source)
    try:
        non_blank = ((line, fields) for line, fields in raw_rows if any(fields))
        first = next(non_blank, None)
        if first is None:
            report([RowError(1, "", "bad_header", "the file is empty; the first line must be "
                             "the header of 26 column names", "")])
            return
        header_line, header = first
        positions, header_errors = _header_positions(header_line, header, mapping)
        if header_errors:
            report(header_errors)
            return
        width = len(header)
        for line, fields in non_blank:
            if fmt == "xlsx" and len(fields) < width:
                # A sheet does not store trailing empty cells.
                fields = fields + [""] * (width - len(fields))
            if len(fields) != width:
                report([_wrong_field_count(line, len(fields), width)])
                continue
            record = {column: fields[index] for column, index in positions}
            if fmt == "csv":
                for column in TEXT_COLUMNS:
                    if record[column][:1] == "'":
                        record[column] = csv_restore(record[column])
            yield line, record
    except _UnreadableFile as problem:
        report([RowError(problem.line, problem.column, problem.code, problem.message, "")])
    finally:
        raw_rows.close()


def read_header(source: Source, *, fmt: Format | None = None) -> list[str]:
    """The file's header (its first row that is not blank) as the import reads it, within
    the same limits; [] for an empty file, ImportFormatError when it cannot be read."""
    rows = read_first_rows(source, fmt=fmt, count=1)
    return rows[0] if rows else []


def read_first_rows(source: Source, *, fmt: Format | None = None, count: int = 4) -> list[list[str]]:
    """The file's first ``count`` rows that are not blank (the header first), read as the
    import reads them; ImportFormatError when they cannot be read."""
    fmt = _check_format(fmt) if fmt else _infer_format(source)
    raw_rows = _xlsx_rows(source) if fmt == "xlsx" else _csv_rows(source)
    found: list[list[str]] = []
    try:
        for _, fields in raw_rows:
            if any(fields):
                found.append(fields)
                if len(found) == count:
                    break
        return found
    except _UnreadableFile as problem:
        raise ImportFormatError([RowError(problem.line, problem.column, problem.code, problem.message, "")]) \
            from None
    finally:
        raw_rows.close()


def _wrong_field_count(line: int, found: int, expected: int) -> RowError:
    message = f"the record has {found} fields; the header has {expected}"
    if found > expected:
        message += " (a value holding a comma must be enclosed in double quotes)"
    return RowError(line, "", "wrong_field_count", message, "")


def _check_format(fmt: str) -> Format:
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown import format {fmt!r}; use 'csv' or 'xlsx'")
    return "csv" if fmt == "csv" else "xlsx"


def _infer_format(source: Source) -> Format:
    name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None)
    suffix = Path(name).suffix.lower() if isinstance(name, (str, os.PathLike)) else ""
    if suffix == ".csv":
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    raise ValueError(f"cannot tell the format of {name or source!r}: "
                     "the name does not end in .csv or .xlsx; pass fmt='csv' or fmt='xlsx'")


def _check_mapping(mapping: Mapping[str, str]) -> None:
    """A mapping to a column we do not have is the mapping's mistake, not
    the file's, so it is raised rather than reported against a line."""
    unknown = sorted({target for target in mapping.values()
                      if target != "" and target not in COLUMNS})
    if unknown:
        raise ValueError(f"column mapping targets unknown columns {unknown}; "
                         "map to one of the 26 import columns, or to '' to ignore a column")


def _header_positions(
    line: int, header: list[str], mapping: Mapping[str, str] | None
) -> tuple[list[tuple[str, int]], list[RowError]]:
    """Where each of our columns is in the file, or why the header is bad."""
    ours = [name if mapping is None else mapping.get(name, name) for name in header]
    errors: list[RowError] = []
    positions: dict[str, int] = {}
    for index, (theirs, column) in enumerate(zip(header, ours)):
        if column == "" and mapping is not None and theirs in mapping:
            continue  # mapped to "": ignored on purpose
        if column not in COLUMNS:
            hint = "rename it, or map it to a column" if mapping is not None \
                else "check its spelling, or import with a column mapping"
            errors.append(RowError(line, theirs, "bad_header",
                                   f"{_quote(theirs)} is not a column of the import format; "
                                   f"{hint}", theirs))
        elif column in positions:
            errors.append(RowError(line, column, "bad_header",
                                   f"column {column} appears more than once "
                                   f"(as {_quote(theirs)} at position {index + 1})", theirs))
        else:
            positions[column] = index
    for column in COLUMNS:
        if column not in positions:
            errors.append(RowError(line, column, "bad_header",
                                   f"column {column} is missing", ""))
    if not errors and mapping is None and list(positions) != list(COLUMNS):
        index, expected = next((index, column) for index, column in enumerate(COLUMNS)
                               if header[index] != column)
        errors.append(RowError(line, expected, "bad_header",
                               f"columns are out of order: position {index + 1} holds "
                               f"{_quote(header[index])} where {expected} belongs", header[index]))
    if errors:
        return [], errors
    return [(column, positions[column]) for column in COLUMNS], []


def _csv_rows(source: Source) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first physical line, fields)`` for every CSV record."""
    with _opened(source) as file:
        lines = _text_lines(file) if isinstance(file, io.TextIOBase) else _decoded_lines(file)
        reader = csv.reader(lines, strict=True)
        start = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as problem:
                if "field larger than field limit" in str(problem):
                    raise _UnreadableFile(start, f"a field of this record is over {MAX_CELL_CHARS:,} "
                                                 f"characters; no column takes that many", "too_long") from problem
                raise _UnreadableFile(start, f"the record starting on this line cannot be read "
                                             f"({problem}); look for a missing or extra double "
                                             f"quote") from problem
            _check_width(start, fields)
            yield start, fields
            start = reader.line_num + 1


def _opened(source: Source) -> contextlib.AbstractContextManager[IO[bytes] | IO[str]]:
    """The file to read: opened (and closed) here for a path, borrowed
    (and left open) for a file object."""
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb")
    return contextlib.nullcontext(source)


def _decoded_lines(file: IO[bytes]) -> Iterator[str]:
    """Decode line by line, so that bytes that are not UTF-8 are reported
    on the line they are on rather than somewhere in an 8 KiB buffer."""
    for number, raw in enumerate(file, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as problem:
            raise _UnreadableFile(number, "the file is not UTF-8 text (this line has bytes that "
                                          "are not UTF-8); in Excel use Save As, "
                                          "'CSV UTF-8 (Comma delimited)'") from problem
        yield text.removeprefix("\ufeff") if number == 1 else text


def _text_lines(file: IO[str]) -> Iterator[str]:
    for number, text in enumerate(file, start=1):
        yield text.removeprefix("\ufeff") if number == 1 else text


def _check_width(line: int, fields: list[str]) -> None:
    if len(fields) > MAX_COLUMNS:
        raise _UnreadableFile(line, f"the row has {len(fields):,} columns; at most {MAX_COLUMNS} "
                                    f"can be imported (the format has 26)", "too_many_columns")


_NOT_A_WORKBOOK = "the file is not an Excel workbook (.xlsx) that can be read; save it again as .xlsx, or as CSV UTF-8"


def _xlsx_rows(source: Source) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(row number, cell texts)`` from the first sheet, trailing
    empty cells dropped (a sheet does not tell them from absent ones).

    The workbook is checked before openpyxl opens it (:func:`_check_workbook`), and
    openpyxl parses its XML through defusedxml (installed), so no entity is expanded."""
    try:
        _check_workbook(source)
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as problem:
        # openpyxl says ValueError for XML it cannot read (defusedxml's refusals included).
        raise _UnreadableFile(0, _NOT_A_WORKBOOK) from problem
    try:
        sheet = workbook.worksheets[0]
        # Some writers record wrong sheet dimensions, which would cut rows
        # short; without them every cell present is read.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(min_row=1, values_only=True)
        number = 0
        while True:
            try:
                values = next(rows, None)
            except (ValueError, KeyError, SyntaxError) as problem:  # XML errors while streaming
                raise _UnreadableFile(number + 1, _NOT_A_WORKBOOK) from problem
            if values is None:
                return
            number += 1
            cells = [_cell_text(value) for value in values]
            while cells and cells[-1] == "":
                cells.pop()
            _check_width(number, cells)
            yield number, cells
    finally:
        workbook.close()


def _check_workbook(source: Source) -> None:
    """Refuse, before openpyxl reads a byte of XML, a workbook that would take too much
    memory or hides XML declarations: parts larger unpacked than the limits, a text run of
    the sheets or shared strings over :data:`MAX_CELL_BYTES` (openpyxl would build it whole
    in memory), or a DTD (entity declarations) in any XML part. The sizes are the ones
    the ZIP declares; zipfile never unpacks more than that."""
    if not isinstance(source, (str, os.PathLike)):
        position = source.tell()
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            unpacked = sum(member.file_size for member in members)
            if unpacked > XLSX_MAX_UNPACKED_BYTES:
                raise _UnreadableFile(0, f"the workbook unpacks to {unpacked / 1e6:,.0f} MB; at most "
                                         f"{XLSX_MAX_UNPACKED_BYTES / 1e6:,.0f} MB can be imported",
                                      "file_too_large")
            for member in members:
                name = member.filename
                if name.endswith("sharedStrings.xml") and member.file_size > XLSX_MAX_SHARED_STRINGS_BYTES:
                    raise _UnreadableFile(0, f"the workbook's text table unpacks to "
                                             f"{member.file_size / 1e6:,.0f} MB; at most "
                                             f"{XLSX_MAX_SHARED_STRINGS_BYTES / 1e6:,.0f} MB can be imported",
                                          "file_too_large")
                if not name.endswith((".xml", ".rels")):
                    continue
                with archive.open(member) as part:
                    if _declares_dtd(part.read(_PROLOG_BYTES)):
                        raise _UnreadableFile(0, _NOT_A_WORKBOOK + " (it declares a DTD or XML entities, "
                                                 "which an Excel workbook never does)")
                    if name.startswith("xl/worksheets/") or name.endswith("sharedStrings.xml"):
                        part.seek(0)
                        _check_text_runs(part)
    finally:
        if not isinstance(source, (str, os.PathLike)):
            source.seek(position)


_PROLOG_BYTES = 64 * 1024


def _declares_dtd(start: bytes) -> bool:
    """True when the start of an XML part holds a ``<!DOCTYPE`` (where entities are
    declared), or when its root element does not begin within it (a prolog so long is
    padding, not a workbook)."""
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        start = start.decode("utf-16", errors="replace").encode("utf-8")
    if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
        return True
    root = re.search(rb"<[A-Za-z_]", start)
    return root is None and len(start) == _PROLOG_BYTES


def _check_text_runs(part: IO[bytes]) -> None:
    tail = 0  # length of the text run that the previous chunk ended in
    while chunk := part.read(1024 * 1024):
        pieces = chunk.split(b"<")
        first = tail + len(pieces[0])
        longest = max(first, max(map(len, pieces[1:]), default=0))
        tail = first if len(pieces) == 1 else len(pieces[-1])
        if longest > MAX_CELL_BYTES:
            raise _UnreadableFile(0, f"a cell of the workbook holds over {MAX_CELL_CHARS:,} characters; no "
                                     f"column takes that many", "too_long")


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person sees in it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return format_value(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def format_value(value: object) -> str:
    """A typed value as text of the format: None empty, booleans yes/no,
    floats as plain decimals (``1e-05`` would not re-import), whole
    floats without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# --- formulas in CSV -------------------------------------------------------


def csv_safe(value: str) -> str:
    """A text value as written to CSV, so that no spreadsheet runs it as a formula.

    A value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading ``'`` (as OWASP recommends; spreadsheets show the rest as text). So does one
    starting with apostrophes followed by one of those, which keeps the escaping
    reversible: :func:`csv_restore` gives back exactly ``value``. Other values, a leading
    ``'`` included (``'66' in triangle``), are written as they are. For the text
    columns only: numbers (:data:`NUMERIC_COLUMNS`) are written as numbers.
    """
    return "'" + value if _FORMULA_LIKE.match(value) else value


def csv_restore(value: str) -> str:
    """The inverse of :func:`csv_safe`, applied to the text columns of a CSV on import:
    one leading ``'`` comes off a value that is apostrophes then ``=``, ``+``, ``-``,
    ``@``, tab or CR."""
    return value[1:] if value[:1] == "'" and _FORMULA_LIKE.match(value, 1) else value


def csv_safe_record(record: Mapping[str, str]) -> dict[str, str]:
    """A record of the format (text values, as :meth:`ItemRow.to_record` or the export
    make them) with every text column passed through :func:`csv_safe`, for ``write_csv``."""
    return {column: value if column in NUMERIC_COLUMNS else csv_safe(value)
            for column, value in record.items()}


# --- validating ------------------------------------------------------------


def validate_record(
    line: int,
    record: Mapping[str, str],
    *,
    panel_code: str,
    seen_refs: set[str] | dict[str, int],
    existing_refs: AbstractSet[str] = frozenset(),
    update: bool = False,
) -> tuple[ItemRow | None, list[RowError]]:
    """Check one record against every row rule; return the typed row, or
    None and the errors (in column order).

    ``seen_refs`` collects the well-formed item_refs of earlier lines to
    catch duplicates; given a dict it also remembers their line, so the
    message can say which line came first. ``existing_refs`` are the
    panel's items already in the database: repeating one is a
    ``duplicate_item_ref`` unless ``update`` is true.

    An empty required value is reported as ``missing_value`` only, and a
    value that fails its own rule is not also checked against other
    columns (a quantity that is not a number is not also
    ``serial_with_quantity``).
    """
    errors: list[RowError] = []

    def fail(column: str, code: str, message: str) -> None:
        errors.append(RowError(line, column, code, message, record[column]))

    for column in COLUMNS:
        if column in REQUIRED and record[column] == "":
            fail(column, "missing_value", f"{column} is required but empty")
        unstorable = unstorable_character(record[column])
        if unstorable:  # refused, not cleaned: the text is kept as read or not at all
            fail(column, "control_character", f"{column} {unstorable}")
    too_long_columns = []
    for column, limit in MAX_LENGTHS.items():
        if len(record[column]) > limit:
            too_long_columns.append(column)
            errors.append(RowError(line, column, "too_long", too_long(len(record[column]), limit),
                                   record[column][:_LONGEST_QUOTED_VALUE]))

    case_ref = record["case_ref"]
    if case_ref:
        match = _CASE_REF.fullmatch(case_ref)
        if match is None:
            fail("case_ref", "bad_case_ref",
                 f"{_quote(case_ref)} is not a case reference PPP-YYYY-NNN: panel code, year "
                 f"and a case number of at least 3 digits (e.g. {panel_code}-2024-017)")
        elif match["panel"] != panel_code:
            fail("case_ref", "bad_case_ref",
                 f"{_quote(case_ref)} belongs to panel {match['panel']}, but this file is "
                 f"being imported into panel {panel_code}")

    item_ref = record["item_ref"]
    if item_ref and not _is_item_ref(item_ref, case_ref):
        example = f"{case_ref or f'{panel_code}-2024-017'}/03"
        fail("item_ref", "bad_item_ref",
             f"{_quote(item_ref)} is not the case_ref followed by / and an item number of at "
             f"least 2 digits (e.g. {example})")
    elif item_ref:
        if item_ref in seen_refs:
            first_line = seen_refs.get(item_ref) if isinstance(seen_refs, dict) else None
            earlier = f"line {first_line}" if first_line else "an earlier line"
            fail("item_ref", "duplicate_item_ref",
                 f"{_quote(item_ref)} is already used on {earlier} of this file")
        elif item_ref in existing_refs and not update:
            fail("item_ref", "duplicate_item_ref",
                 f"{_quote(item_ref)} is already in the panel; use --update to update it")
        if isinstance(seen_refs, dict):
            seen_refs.setdefault(item_ref, line)
        else:
            seen_refs.add(item_ref)

    category = record["category"]
    if category and category not in CATEGORIES:
        fail("category", "unknown_category",
             f"{_quote(category)} is not a category; use one of {', '.join(CATEGORIES)}")

    for column in ("country_marked", "country_attributed"):
        code = record[column]
        if code and not is_known_country(code):
            fail(column, "unknown_country", _unknown_country_message(code))

    legibility_problem = _legibility_problem(record["serial_legibility"], record["serial"])
    if legibility_problem:
        fail("serial_legibility", "bad_legibility", legibility_problem)

    quantity = _check_quantity(record["quantity"], fail)
    if quantity is not None and quantity != 1 and record["serial"]:
        fail("quantity", "serial_with_quantity",
             f"quantity is {quantity} but the row has a serial ({_quote(record['serial'])}); "
             f"a row with a serial describes one item, so its quantity is 1")

    condition = record["condition"]
    if condition and condition not in CONDITIONS:
        fail("condition", "unknown_condition",
             f"{_quote(condition)} is not a condition; use one of {', '.join(CONDITIONS)}, "
             f"or leave it empty")

    recovered = None
    if record["recovered_on"]:
        recovered = _parse_partial_date(record["recovered_on"])
        if recovered is None:
            fail("recovered_on", "bad_date",
                 f"{_quote(record['recovered_on'])} is not a real date YYYY-MM-DD, a month "
                 f"YYYY-MM or a year YYYY")

    lat = _check_coordinate("lat", "latitude", record["lat"], 90, fail)
    lon = _check_coordinate("lon", "longitude", record["lon"], 180, fail)
    for given, empty in (("lat", "lon"), ("lon", "lat")):
        if record[given] and not record[empty]:
            fail(empty, "incomplete_coordinates",
                 f"{empty} is empty but {given} is {_quote(record[given])}; give both "
                 f"coordinates or neither")

    confidential = record["source_confidential"]
    if confidential and confidential not in YES_NO:
        fail("source_confidential", "bad_yes_no",
             f"{_quote(confidential)} is not yes or no (lower case)")

    if errors:
        if too_long_columns:  # a value too long is not also checked against its other rules
            errors = [error for error in errors
                      if error.column not in too_long_columns or error.code == "too_long"]
        errors.sort(key=lambda error: COLUMNS.index(error.column))
        return None, errors
    values: dict[str, object] = {column: record[column] for column in COLUMNS}
    values.update(
        quantity=quantity, lat=lat, lon=lon, source_confidential=confidential == "yes",
        recovered_date=recovered[0] if recovered else None,
        recovered_precision=recovered[1] if recovered else None,
    )
    return ItemRow(line=line, **values), []


def _is_item_ref(item_ref: str, case_ref: str) -> bool:
    """The item_ref must extend this row's case_ref; when case_ref is
    missing (reported on its own) only the general shape can be checked."""
    if not case_ref:
        prefix, slash, number = item_ref.rpartition("/")
        return bool(slash) and bool(_CASE_REF.fullmatch(prefix)) \
            and bool(_ITEM_NUMBER.fullmatch(number))
    prefix = case_ref + "/"
    return item_ref.startswith(prefix) \
        and bool(_ITEM_NUMBER.fullmatch(item_ref.removeprefix(prefix)))


def _unknown_country_message(code: str) -> str:
    if is_known_country(code.upper()):
        return f"{_quote(code)} must be written in upper case: {code.upper()}"
    return (f"{_quote(code)} is not an assigned ISO 3166-1 alpha-3 code (e.g. CHN, BGR) "
            f"nor a former code ({', '.join(sorted(FORMER_COUNTRY_CODES))})")


def _legibility_problem(legibility: str, serial: str) -> str | None:
    """Why serial_legibility does not fit serial, or None if it does.

    A legible character is a letter or digit of any script; ``?`` stands
    for an illegible one, and spaces and dashes are neither.
    """
    unreadable = "?" in serial
    legible = any(character.isalnum() for character in serial)
    if legibility == "":
        if serial:
            return (f"serial {_quote(serial)} is given, so serial_legibility must say how much of "
                    f"it could be read: {', '.join(LEGIBILITIES)}")
        return None
    if legibility not in LEGIBILITIES:
        return (f"{_quote(legibility)} is not one of {', '.join(LEGIBILITIES)} (or empty when "
                f"the item carries no serial)")
    if legibility == "intact" and not serial:
        return "intact needs a serial; leave serial_legibility empty if there is none"
    if legibility == "intact" and unreadable:
        return (f"intact needs a serial with no ? but serial is {_quote(serial)}; "
                f"use partial")
    if legibility == "partial" and not unreadable:
        return (f"partial needs a ? in serial for each illegible character, but serial is "
                f"{_quote(serial)}")
    if legibility == "partial" and not legible:
        return (f"partial needs at least one legible character, but serial is "
                f"{_quote(serial)}; use obliterated")
    if legibility == "obliterated" and legible:
        return (f"obliterated allows an empty serial or one made only of ?, but serial is "
                f"{_quote(serial)}; use partial")
    if legibility == "restored" and not serial:
        return "restored needs the serial as restored"
    return None


def _check_quantity(text: str, fail: Callable[[str, str, str], None]) -> int | None:
    if not text:
        return None  # missing_value already reported
    if not _ASCII_DIGITS.fullmatch(text):
        if all(character.isdecimal() for character in text):
            fail("quantity", "not_an_integer",
                 f"{_quote(text)} is not written in ASCII digits 0-9")
        else:
            fail("quantity", "not_an_integer", f"{_quote(text)} is not a whole number")
        return None
    # Compare digit counts before int(): Python refuses to convert very
    # long digit strings, and a typo can make one.
    significant = text.lstrip("0")
    if len(significant) > len(str(MAX_QUANTITY)) or int(text) > MAX_QUANTITY:
        fail("quantity", "out_of_range",
             f"{_quote(text)} is too large for one row (at most {MAX_QUANTITY:,})")
        return None
    quantity = int(text)
    if quantity < 1:
        fail("quantity", "out_of_range", f"{_quote(text)} is below 1; quantity counts items")
        return None
    return quantity


def _parse_partial_date(text: str) -> tuple[dt.date, Precision] | None:
    """``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` as (first day, precision)."""
    match = _PARTIAL_DATE.fullmatch(text)
    if match is None:
        return None
    precision: Precision = "day" if match["day"] else "month" if match["month"] else "year"
    try:
        first_day = dt.date(int(match["year"]), int(match["month"] or 1), int(match["day"] or 1))
    except ValueError:
        return None
    return first_day, precision


def _check_coordinate(column: str, name: str, text: str, limit: int,
                      fail: Callable[[str, str, str], None]) -> float | None:
    if not text:
        return None
    if not _PLAIN_DECIMAL.fullmatch(text):
        fail(column, "not_a_number",
             f"{_quote(text)} is not a plain decimal number of degrees (e.g. 15.431 or -1.679)")
        return None
    value = float(text)
    if abs(value) > limit:
        fail(column, "out_of_range", f"{_quote(text)} is outside -{limit} to {limit} ({name})")
        return None
    return value


def _quote(value: str) -> str:
    """A value quoted for a message, shortened so a long note stays readable."""
    if len(value) > _LONGEST_QUOTED_VALUE:
        value = value[:_LONGEST_QUOTED_VALUE - 1] + "…"
    return f'"{value}"'


def validate_file(
    source: Source,
    *,
    panel_code: str,
    fmt: Format | None = None,
    mapping: Mapping[str, str] | None = None,
    existing_refs: AbstractSet[str] = frozenset(),
    update: bool = False,
    max_bytes: int | None = None,
) -> ValidationResult:
    """Validate a whole file: the first pass of an all-or-nothing import.

    Reads every record (see :func:`iter_records` for formats and the column
    mapping) and checks it (see :func:`validate_record`), keeping in memory
    only the item_refs seen and the errors. ``existing_refs`` are the
    item_refs the panel already holds; ``update`` allows rows to repeat
    them, to update those items. A file over ``max_bytes`` is refused
    (``file_too_large``) before a byte of it is read. When the result is
    ``ok``, write with ``result.rows()``.
    """
    if not _PANEL_CODE.fullmatch(panel_code):
        raise ValueError(f"panel code {panel_code!r} is not 2-6 capital letters")
    fmt = _check_format(fmt) if fmt else _infer_format(source)
    result = ValidationResult(source=source, panel_code=panel_code, fmt=fmt, mapping=mapping,
                              existing_refs=existing_refs, update=update)
    size = file_size(source)
    if max_bytes is not None and size > max_bytes:
        result.add_error(RowError(0, "", "file_too_large", f"the file is {size / 1e6:,.1f} MB; at most "
                                  f"{max_bytes / 1e6:,.1f} MB can be imported (split it)", ""))
        return result
    seen_refs: dict[str, int] = {}
    for line, record in iter_records(source, fmt=fmt, mapping=mapping,
                                     on_error=result.add_error):
        result.record_count += 1
        _, errors = validate_record(line, record, panel_code=panel_code, seen_refs=seen_refs,
                                    existing_refs=existing_refs, update=update)
        for error in errors:
            result.add_error(error)
    return result


def file_size(source: Source) -> int:
    """The size of a file in bytes (a file object's, from its start), without reading it."""
    if isinstance(source, (str, os.PathLike)):
        return os.stat(source).st_size
    position = source.tell()
    try:
        return source.seek(0, os.SEEK_END)
    finally:
        source.seek(position)


def _rewind(source: Source) -> None:
    if isinstance(source, (str, os.PathLike)):
        return
    if not source.seekable():
        raise ValueError("cannot read the rows again from a stream that cannot seek; "
                         "save the upload to a temporary file first")
    source.seek(0)


# --- writing ---------------------------------------------------------------


def write_csv(rows: Iterable[Mapping[str, object] | ItemRow],
              file: str | os.PathLike[str] | IO[bytes] | IO[str]) -> int:
    """Write rows in the import format and return how many were written.

    The header is :data:`COLUMNS`; lines end in CRLF; fields are quoted
    only when they hold a comma, a double quote or a line break (RFC 4180);
    UTF-8 without BOM. Values go through :func:`format_value`, a missing
    column is empty, and a key that is not a column is an error (it would
    be silently lost). ``file`` is a path, a binary file, or a text file
    opened with ``newline=""`` and UTF-8. Text is written as given: a writer
    of people's text for spreadsheets passes each record through
    :func:`csv_safe_record` first. What this writes, validate_file reads back
    unchanged (a raw text of apostrophes then ``=``, ``+``, ``-``, ``@``, tab
    or CR excepted: see :func:`csv_restore`).
    """
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", encoding="utf-8", newline="") as text:
            return _write_records(rows, text)
    if isinstance(file, io.TextIOBase):
        return _write_records(rows, file)
    text = io.TextIOWrapper(file, encoding="utf-8", newline="")
    try:
        return _write_records(rows, text)
    finally:
        text.flush()
        text.detach()  # leave the caller's file open


def _write_records(rows: Iterable[Mapping[str, object] | ItemRow], text: IO[str]) -> int:
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        record = row.to_record() if isinstance(row, ItemRow) else row
        unknown = set(record) - set(COLUMNS)
        if unknown:
            raise ValueError(f"not columns of the import format: {sorted(unknown)}")
        writer.writerow([format_value(record.get(column)) for column in COLUMNS])
        count += 1
    return count
