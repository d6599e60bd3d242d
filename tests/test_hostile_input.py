"""Hostile input never makes a 500: it gets a clear 4xx, and nothing saved is lost.

First one test per finding of the review (each failed on the code before the fix), then
property-based tests (hypothesis) that drive every rule of ``app.url_map`` — hostile path
parameters, query strings, form and JSON bodies — and the import parsers with hostile
values. Both kinds run on SQLite and PostgreSQL: NUL bytes and ids from 2^31 bite
PostgreSQL, ids from 2^63 SQLite, and the two must answer the same.

The property tests are bounded (a few examples per route, ``derandomize=True`` so a run
is repeatable, no example database written into the repository).
"""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases import import_format
from panel_tracker.cases.models import Case, Item, Marking
from panel_tracker.cases.services import add_marking, create_case, create_item
from panel_tracker.db import get_session
from panel_tracker.inputs import MAX_ID, MAX_PAGE
from tests import test_access_walk as walk
from tests.sharing import SHARES_WORLD
from tests.test_access_walk import Actor, _fill, _find_rule, _rule_ids
from tests.test_api import ApiClient, api_as

# The walk's fixtures (their module-scoped apps and shared worlds are conftest's: this
# module gets its own instances).
app, world = walk.app, walk.world

# No shrinking: it could take minutes on a web request; the first failing example is short.
BOUNDED = settings(max_examples=20, derandomize=True, database=None, deadline=None,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
PER_ROUTE = settings(BOUNDED, max_examples=4)  # after a sweep of the worst values; ~85 routes
PER_IMPORT = settings(BOUNDED, max_examples=8)  # each a real import into the database


# ------------------------------------------------------------------ a small panel to aim at


def _case_with_item(world, ref="YEM-2024-001"):
    db = get_session()
    case = create_case(db, world.panel, {"ref": ref, "title": "Seizure at Aden"}, None)
    item = create_item(db, case, {"category": "small_arm", "type": "assault rifle", "quantity": 1}, None)
    db.commit()
    return case, item


def _count(model) -> int:
    return len(get_session().exec(select(model)).all())


# ------------------------------------------------------------------ findings: unknown filter values


def test_an_unknown_classification_or_status_in_a_list_filter_shows_no_match_instead_of_failing(world):
    _case_with_item(world)
    expert = world.client("expert")
    for url in ("/items?classification=bogus", "/cases?status=bogus", "/items/export?classification=bogus"):
        response = expert.get(url)
        response.close()  # an export streams a temporary file
        assert response.status_code == 200, url
    page = expert.get("/items?classification=bogus").get_data(as_text=True)
    assert "YEM-2024-001/01" not in page
    assert "YEM-2024-001/01" in expert.get("/items?classification=panel").get_data(as_text=True)
    assert "YEM-2024-001" not in expert.get("/cases?status=bogus").get_data(as_text=True)


def test_a_list_url_carrying_names_url_for_takes_itself_still_shows_the_list(world):
    _case_with_item(world)
    coordinator = world.client("coordinator")
    for url in ("/items?format=x", "/items?endpoint=x&_scheme=ftp", "/cases?endpoint=x&_anchor=y",
                "/audit/?_external=1&endpoint=x"):
        response = coordinator.get(url)
        assert response.status_code == 200, url
    page = coordinator.get("/items?category=small_arm&format=x").get_data(as_text=True)
    assert "/items/export?category=small_arm&amp;format=csv" in page


def test_the_api_refuses_an_unknown_filter_value_with_the_field_named(world):
    api = api_as(world, "expert")
    for query, field in (("status=bogus", "status"), ):
        response = api.get(f"/cases?{query}")
        assert response.status_code == 422 and field in response.get_json()["errors"]
    response = api.get("/items?classification=bogus")
    assert response.status_code == 422 and "classification" in response.get_json()["errors"]


# ------------------------------------------------------------------ findings: page numbers and ids


@pytest.mark.parametrize("page", [str(2**63), "9" * 40, str(MAX_PAGE + 1), "0", "-1", "²", "1.5", "abc"])
def test_a_page_number_that_is_not_a_page_is_refused_with_a_message(world, page):
    _case_with_item(world)
    coordinator = world.client("coordinator")
    for path in ("/cases", "/items", "/audit/"):
        response = coordinator.get(path, query_string={"page": page})
        assert response.status_code == 400, (path, page)
        assert "A page is a whole number from 1 to 1,000,000" in response.get_data(as_text=True)
    response = api_as(world, "expert").get("/cases", query_string={"page": page})
    assert response.status_code == 422 and "page" in response.get_json()["errors"], page


def test_the_last_allowed_page_is_an_empty_page_not_an_error(world):
    _case_with_item(world)
    coordinator = world.client("coordinator")
    for path in ("/cases", "/items", "/audit/"):
        assert coordinator.get(f"{path}?page={MAX_PAGE}").status_code == 200
    body = api_as(world, "expert").get(f"/items?page={MAX_PAGE}").get_json()
    assert body["items"] == [] and body["total"] == 1


@pytest.mark.parametrize("object_id", [2**31, 2**63, 10**30])
def test_an_id_no_database_can_hold_is_not_found_on_pages_and_the_api(world, object_id):
    _case_with_item(world)
    expert = world.client("expert")
    for path in (f"/cases/{object_id}", f"/items/{object_id}", f"/items/{object_id}/history",
                 f"/photos/{object_id}", f"/admin/members/{object_id}"):
        assert world.client("admin" if "admin" in path else "expert").get(path).status_code == 404, path
    assert expert.post(f"/items/{object_id}/delete", data={"reason": "x"}).status_code == 404
    api = api_as(world, "expert")
    for path in (f"/cases/{object_id}", f"/items/{object_id}", f"/markings/{object_id}/photos"):
        assert api.get(path).status_code in (404, 405), path
    assert api.get(f"/items/{object_id}").status_code == 404
    assert api.get(f"/items/{object_id}").get_json()["error"] == "Not Found"


def test_the_largest_id_a_column_holds_is_simply_not_found(world):
    assert world.client("expert").get(f"/items/{MAX_ID}").status_code == 404
    assert api_as(world, "expert").get(f"/items/{MAX_ID}").status_code == 404


def test_a_json_id_no_database_can_hold_is_refused_with_422_and_nothing_is_written(world):
    case, item = _case_with_item(world)
    marking = add_marking(get_session(), item, {"text": "66", "kind": "factory_code"}, None)
    get_session().commit()
    api = api_as(world, "expert")
    before = _count(AuditRecord)
    response = api.post(f"/markings/{marking.id}/photos", json={"photo_id": 2**31})
    assert response.status_code == 422 and "photo_id" in response.get_json()["errors"]
    response = api.post(f"/cases/{case.id}/items", json={"category": "small_arm", "type": "rifle", "quantity": 1,
                                                         "inspection_id": 2**64})
    assert response.status_code == 422 and "inspection_id" in response.get_json()["errors"]
    response = api.patch(f"/items/{item.id}", json={"inspection_id": 10**30})
    assert response.status_code == 422 and "inspection_id" in response.get_json()["errors"]
    assert _count(AuditRecord) == before and _count(Item) == 1


def test_an_audit_search_for_an_impossible_object_id_finds_nothing(world):
    _case_with_item(world)
    coordinator = world.client("coordinator")
    for value in (str(2**31), str(2**63), "²"):
        response = coordinator.get("/audit/", query_string={"object_id": value})
        assert response.status_code == 200, value
        assert "YEM-2024-001" not in response.get_data(as_text=True)
    assert "YEM-2024-001" in coordinator.get("/audit/").get_data(as_text=True)


def test_switching_to_an_impossible_panel_id_is_refused_not_a_failure(world):
    response = world.client("expert").post("/panels/switch", data={"panel_id": str(2**31)})
    assert response.status_code < 500


# ------------------------------------------------------------------ findings: NUL and control characters


NUL_CASES = [
    # (who, method, path, data): the five doors the review found, plus their siblings.
    ("anonymous", "/login", {"email": "expert\x00@yem.example", "password": "x"}),
    ("expert", "/cases/new", {"ref": "YEM-2024-002", "title": "Seizure\x00", "status": "open"}),
    ("expert", "/items?q=a%00b", None),
    ("expert", "/cases?q=%00", None),
    ("admin", "/admin/members/new", {"email": "new@yem.example", "name": "New\x00", "role": "expert"}),
]


@pytest.mark.parametrize("who, path, data", NUL_CASES, ids=[c[1] for c in NUL_CASES])
def test_a_nul_byte_in_a_page_form_or_query_is_refused_with_a_message_naming_the_field(world, who, path, data):
    client = world.client(who) if who != "anonymous" else world.app.test_client()
    cases_before, audit_before = _count(Case), _count(AuditRecord)
    response = client.post(path, data=data) if data is not None else client.get(path)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "U+0000, which cannot be stored" in text and "Nothing was saved" in text
    assert (_count(Case), _count(AuditRecord)) == (cases_before, audit_before)


def test_a_marking_with_a_control_character_is_refused_and_the_item_keeps_its_markings(world):
    _, item = _case_with_item(world)
    expert = world.client("expert")
    assert expert.post(f"/items/{item.id}/markings/new", data={"text": "66", "kind": "factory_code",
                                                               "legibility": "intact", "symbol_shape": "none"}
                       ).status_code == 302
    response = expert.post(f"/items/{item.id}/markings/new", data={"text": "6\x006", "kind": "factory_code",
                                                                   "legibility": "intact", "symbol_shape": "none"})
    assert response.status_code == 400 and "text: contains the control character U+0000" in response.get_data(
        as_text=True)
    response = expert.post(f"/items/{item.id}/markings/new", data={"text": "6\x1b6", "kind": "factory_code"})
    assert response.status_code == 400 and "U+001B" in response.get_data(as_text=True)
    assert [m.text for m in get_session().exec(select(Marking)).all()] == ["66"]


def test_tabs_newlines_bidi_controls_and_any_script_are_kept_exactly_as_typed(world):
    _, item = _case_with_item(world)
    text = "۱۳۹۶\t\u202eAK\u202c\r\n٦٦ 五六"
    response = world.client("expert").post(f"/items/{item.id}/markings/new", data={
        "text": text, "kind": "other", "legibility": "intact", "symbol_shape": "none"})
    assert response.status_code == 302
    assert get_session().exec(select(Marking)).one().text == text.strip()


def test_the_api_refuses_nul_and_lone_surrogates_in_json_with_422_naming_the_field(world):
    case, item = _case_with_item(world)
    api = api_as(world, "expert")
    before = _count(AuditRecord)
    for body, field in (({"ref": "YEM-2024-003", "title": "a\x00b"}, "title"),
                        ({"ref": "YEM-2024-003", "summary": "\ud800"}, "summary"),
                        ({"ref": "YEM-2024-003", "x\x00": 1}, "x\x00")):
        response = api.post("/cases", json=body)
        assert response.status_code == 422, body
        assert "cannot be stored" in response.get_json()["errors"][field]
    response = api.post(f"/items/{item.id}/markings", json={"text": "66\x00", "kind": "serial"})
    assert response.status_code == 422 and "text" in response.get_json()["errors"]
    response = api.get("/items", query_string={"case": "YEM\x00"})
    assert response.status_code == 422 and "case" in response.get_json()["errors"]
    response = api.delete(f"/items/{item.id}", json={"reason": "dup\x00"})
    assert response.status_code == 422
    assert _count(AuditRecord) == before and _count(Case) == 1 and _count(Item) == 1


def test_a_photo_whose_file_name_holds_a_nul_is_refused_and_not_stored(world):
    from PIL import Image

    case, _ = _case_with_item(world)
    jpeg = io.BytesIO()
    Image.new("RGB", (32, 24), "gray").save(jpeg, "JPEG")
    jpeg.seek(0)
    response = world.client("expert").post(f"/cases/{case.id}/photos/upload", content_type="multipart/form-data",
                                           data={"files": (jpeg, "a\x00.jpg")})
    response.close()  # the upload's temporary file
    assert response.status_code == 400 and "U+0000" in response.get_data(as_text=True)
    from panel_tracker.evidence.models import Photo

    assert _count(Photo) == 0


def test_a_path_segment_with_a_control_character_names_nothing(world):
    expert = world.client("expert")
    assert expert.get("/items/import/%00").status_code == 404
    assert world.app.test_client().get("/invite/%00abc").status_code == 404


# ------------------------------------------------------------------ findings: the import, NUL and XLSX


def _sample_rows(**changes) -> list[dict[str, str]]:
    row = {column: "" for column in import_format.COLUMNS}
    row.update({"case_ref": "YEM-2024-017", "item_ref": "YEM-2024-017/01", "category": "small_arm",
                "type": "assault rifle", "quantity": "1", "source_confidential": "no"})
    row.update(changes)
    return [row]


def _csv_bytes(rows: list[dict[str, str]]) -> bytes:
    text = io.StringIO(newline="")
    import_format.write_csv(rows, text)
    return text.getvalue().encode("utf-8")


def _cli(runner, *args):
    import contextvars

    return contextvars.Context().run(runner.invoke, args=list(args))


def test_a_csv_cell_with_a_nul_is_a_line_and_column_error_and_nothing_is_imported(world, runner, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(_csv_bytes(_sample_rows(notes="seen\x00at Aden")))
    result = _cli(runner, "items", "import", str(path), "--panel", "YEM")
    assert result.exit_code == 1, result.output
    assert "line 2, column notes: control_character: notes contains the control character U+0000" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _count(Item) == 0


def test_the_import_page_shows_a_nul_in_a_cell_as_an_error_of_its_line(world):
    expert = world.client("expert")
    response = expert.post("/items/import", content_type="multipart/form-data", data={
        "file": (io.BytesIO(_csv_bytes(_sample_rows(serial="24\x0017731", serial_legibility="intact"))), "n.csv")})
    response.close()
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    preview = expert.get(response.headers["Location"]).get_data(as_text=True)
    assert "control_character" in preview or "U+0000" in preview
    assert _count(Item) == 0


def _xlsx_with_sheet(path: Path, rewrite) -> Path:
    """A valid one-row workbook whose first sheet's XML is rewritten by ``rewrite``."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(import_format.COLUMNS))
    row = _sample_rows()[0]
    sheet.append([row[column] for column in import_format.COLUMNS])
    plain = io.BytesIO()
    workbook.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info, rewrite(data) if info.filename == "xl/worksheets/sheet1.xml" else data)
    return path


EVIL_XLSX = {
    "external entity": lambda xml: b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY x SYSTEM '
                                   b'"file:///etc/passwd">]>' + xml.replace(b"<t>assault rifle</t>", b"<t>&x;</t>"),
    "entity expansion": lambda xml: b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
                                    + b"".join(b'<!ENTITY %c "%s">' % (98 + i, b"&%c;" % (97 + i) * 10)
                                               for i in range(8))
                                    + b"]>" + xml.replace(b"<t>assault rifle</t>", b"<t>&i;</t>"),
    "illegal character reference": lambda xml: xml.replace(b"<t>assault rifle</t>", b"<t>a&#0;b</t>"),
}


@pytest.mark.parametrize("evil", sorted(EVIL_XLSX))
def test_an_xlsx_with_a_dtd_or_broken_xml_is_an_unreadable_file_on_the_command_line(world, runner, tmp_path, evil):
    path = _xlsx_with_sheet(tmp_path / "evil.xlsx", EVIL_XLSX[evil])
    result = _cli(runner, "items", "import", str(path), "--panel", "YEM")
    assert result.exit_code == 1, result.output
    assert "unreadable_file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _count(Item) == 0


# ------------------------------------------------------------------ property: every route, hostile parameters


HOSTILE_TEXT = st.one_of(
    st.sampled_from([
        "", " ", "\x00", "a\x00b", "\x01\x1b[31m", "\t\r\n", "\u202eevil\u202c", "\ufeffBOM", "\u200b",
        "=HYPERLINK(\"http://x\")", "+1+1", "@SUM(A1)", "9" * 40, str(2**63), str(2**63 - 1), str(2**31),
        "-1", "0", "-0", "1e309", "NaN", "inf", "²", "١٢", "۱۳۹۶", "1.5", "' OR 1=1 --", "%", "_", "\\",
        "../../etc/passwd", "x" * 5000, "null", "true", "yes", "public", "panel", "bogus", "2024-02-30",
        "9999-12-31", "0000-00-00", "YEM-2024-001", "YEM-2024-001/01", "CHN", "chn", "🔫",
    ]),
    st.text(max_size=12),
)
HOSTILE_JSON = st.one_of(
    HOSTILE_TEXT,
    st.sampled_from([None, True, False, 0, -1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 1.5,
                     float("inf"), float("nan"), [], {}, [1, 2], {"a": "\x00"}, "\ud800", "a\udfffb",
                     [0.1, 0.1, 0.2, 0.2], [2**63, 0, 1, 1]]),
)
HOSTILE_INT_PATH = st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, "-1", "1.5", "x"])

QUERY_NAMES = sorted({
    "page", "per_page", "status", "q", "category", "country", "recovered_from", "recovered_to", "legibility",
    "has_photos", "classification", "case", "object_id", "object_type", "actor", "action", "since", "until",
    "include", "reason", "inspection_id", "item_id", "next", "format", "max_classification", "originals",
    "endpoint", "_external", "_scheme", "_anchor", "_method",  # names url_for takes itself
})


def _form_fields() -> dict[str, str]:
    """Every field name of every form, with its kind (``file`` for uploads, else ``text``)."""
    from flask_wtf import FlaskForm

    import panel_tracker.admin.forms, panel_tracker.auth.forms, panel_tracker.cases.forms  # noqa: E401, F401
    import panel_tracker.cases.import_views, panel_tracker.evidence.bulk_views  # noqa: E401, F401
    import panel_tracker.evidence.forms  # noqa: F401

    fields: dict[str, str] = {}
    pending = list(FlaskForm.__subclasses__())
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        for name in dir(form):
            unbound = getattr(form, name, None)
            field_class = getattr(unbound, "field_class", None)
            if field_class is not None:
                fields[name] = "file" if "File" in field_class.__name__ else "text"
    # Read by hand, not through a form: the bulk split's and the import mapping's fields.
    fields.update(dict.fromkeys(("label_card", "item_before", "item_for_1", "col-0", "col-1"), "text"))
    return fields


# Plausible values, so that a hostile value in one field meets the code past the form's
# own checks (the service, the database) rather than a missing required field.
BASE_FORM = {
    "ref": "YEM-2024-900", "title": "Probe", "status": "open", "inspected_on": "2024-06-01", "place": "Aden",
    "access_mode": "physical", "category": "small_arm", "type": "rifle", "quantity": "1", "text": "66",
    "kind": "serial", "legibility": "intact", "symbol_shape": "none", "reason": "probe", "level": "committee",
    "field": "classification", "email": "probe@yem.example", "name": "Probe", "role": "viewer",
    "days": "30", "acknowledgement_due_days": "30", "reply_due_days": "90", "sources_needed": "2",
    "is_original": "yes",
}
BASE_JSON = {"ref": "YEM-2024-901", "title": "Probe", "category": "small_arm", "type": "rifle", "quantity": 1,
             "text": "66", "kind": "serial", "inspected_on": "2024-06-01", "reason": "probe"}


def _path(rule, values: dict) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: quote(str(values[m[1]]), safe=""), rule.rule)


def _path_value(name: str, real):
    if isinstance(real, int):
        return st.one_of(st.just(real), HOSTILE_INT_PATH)
    return st.one_of(st.just(real), HOSTILE_TEXT.filter(bool))


# The search index is written after each commit with Whoosh, which names its files with the
# random module: hypothesis refuses that between its draws. Indexing has its own tests.
@pytest.mark.app_config(BULK_IMPORT_SYNC=True, SEARCH_INDEX_ON_COMMIT=False)
def test_no_route_answers_500_to_hostile_parameters_queries_or_bodies(app, world, route):
    method, _ = route
    rule = _find_rule(app, route)
    admin = world.users["admin"]
    api = rule.rule.startswith("/api/")
    if api:
        token = _admin_token(world)
        client, headers = token.client, token.headers
    else:
        client, headers = world.client(user=admin), {}
    real = {name: _fill(name, Actor(world, admin)) for name in sorted(rule.arguments)}
    form_fields = _form_fields()

    def send(values, **kwargs):
        response = client.open(_path(rule, values), method=method, headers=headers, **kwargs)
        response.close()
        assert response.status_code < 500, (method, _path(rule, values), kwargs)

    # A sweep first, so the worst values are always tried: each path parameter out of range,
    # and on reads every known query name at once with each value that passes the
    # request-wide check (NUL and friends are refused before any view runs).
    for name in sorted(rule.arguments):
        for value in ((2**31, 2**63, "-1") if isinstance(real[name], int) else ("%00", "x" * 300)):
            send({**real, name: value})
    if method == "GET":
        for value in (str(2**31), str(2**63), "bogus", "²"):
            send(real, query_string={name: value for name in QUERY_NAMES if name not in ("page", "per_page")})
            send(real, query_string={"page": value, "per_page": value})

    @PER_ROUTE
    @given(data=st.data())
    def probe(data):
        values = {name: data.draw(_path_value(name, real[name]), label=name) for name in sorted(rule.arguments)}
        query = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES), HOSTILE_TEXT, max_size=3), label="query")
        kwargs: dict = {"query_string": query}
        if method in ("POST", "PATCH", "DELETE") and api:
            if rule.endpoint == "api.upload_photo":
                kwargs["data"] = {"file": (io.BytesIO(data.draw(st.binary(max_size=64))), data.draw(HOSTILE_TEXT)),
                                  **data.draw(st.dictionaries(st.sampled_from(["item_id", "source", "caption",
                                                                               "is_original", "classification"]),
                                                              HOSTILE_TEXT, max_size=3))}
            else:
                hostile = data.draw(st.dictionaries(st.sampled_from(sorted(set(BASE_JSON) | {
                    "photo_id", "box", "inspection_id", "classification", "confirm_public", "lat", "lon",
                    "year_gregorian", "serial", "serial_legibility", "status", "summary"})), HOSTILE_JSON,
                    min_size=1, max_size=3), label="json")
                kwargs["json"] = {**BASE_JSON, **hostile}
        elif method == "POST":
            names = sorted(form_fields)
            hostile = data.draw(st.dictionaries(st.sampled_from(names), HOSTILE_TEXT, min_size=1, max_size=3),
                                label="form")
            body = {**BASE_FORM, **{k: v for k, v in hostile.items() if form_fields[k] == "text"}}
            for name in (k for k in hostile if form_fields[k] == "file"):
                body[name] = (io.BytesIO(hostile[name].encode("utf-8", "surrogatepass")), data.draw(HOSTILE_TEXT))
            kwargs["data"], kwargs["content_type"] = body, "multipart/form-data"
        send(values, **kwargs)

    probe()


def _admin_token(world) -> ApiClient:
    """A token of the YEM admin: a new one, or in a shared world the one made first."""
    shared = getattr(world, "shared", None)
    if shared is None:
        return api_as(world, "admin")
    secret = shared.keep(("api", "admin"), lambda: api_as(world, "admin").headers["Authorization"].split()[1])
    return ApiClient(world.app, secret, world.users["admin"])


def pytest_generate_tests(metafunc):
    if "route" in metafunc.fixturenames:
        routes = [r for r in _rule_ids() if r != ("POST", "/logout")]  # it would only log the probe out
        # GETs only read: they share the module's world (tests/test_access_walk.py), and come first.
        params = [pytest.param(route, marks=[SHARES_WORLD] if route[0] == "GET" else [], id=f"{route[0]} {route[1]}")
                  for route in sorted(routes, key=lambda route: route[0] != "GET")]
        metafunc.parametrize("route", params)


# ------------------------------------------------------------------ property: the import parsers


CELL = st.one_of(
    st.sampled_from(["a\x00", "\x00", "\x0b", "\x7f", "\u202e", "\r\n", "\n", '"', '""', ",", "a,b", "\ufeff"]),
    HOSTILE_TEXT,
)


# Columns that take any text: a hostile value there leaves the row valid, so it reaches the
# database (where PostgreSQL refuses NUL) unless the format refuses it first.
FREE_TEXT = ("type", "make_marked", "make_attributed", "model", "calibre", "year_marked", "lot", "factory_code",
             "headstamp", "import_mark", "other_marks", "recovered_place", "notes")


def _hostile_rows(columns=import_format.COLUMNS):
    base = _sample_rows()[0]
    return st.lists(st.dictionaries(st.sampled_from(columns), CELL, min_size=1, max_size=4)
                    .map(lambda changes: {**base, **changes}), min_size=1, max_size=3)


def _assert_rows_or_located_errors(result) -> None:
    if result.ok:
        rows = list(result.rows())
        assert len(rows) == result.record_count
        for row in rows:
            for column in import_format.COLUMNS:
                value = getattr(row, column)
                assert not isinstance(value, str) or not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", value), column
    else:
        assert result.errors and all(isinstance(e, import_format.RowError) for e in result.errors)
        assert all(e.line >= 0 and (e.column == "" or isinstance(e.column, str)) for e in result.errors)


@BOUNDED
@given(rows=_hostile_rows())
def test_a_csv_of_hostile_cells_gives_rows_or_errors_by_line_and_column(rows):
    result = import_format.validate_file(io.BytesIO(_csv_bytes(rows)), panel_code="YEM", fmt="csv")
    _assert_rows_or_located_errors(result)


@BOUNDED
@given(data=st.binary(max_size=300))
def test_any_bytes_read_as_csv_give_rows_or_errors_never_an_exception(data):
    header = ",".join(import_format.COLUMNS).encode() + b"\r\n"
    for body in (data, header + data):
        _assert_rows_or_located_errors(import_format.validate_file(io.BytesIO(body), panel_code="YEM", fmt="csv"))


XLSX_CELL = st.one_of(
    HOSTILE_TEXT.filter(lambda text: not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", text)),  # openpyxl refuses these
    st.sampled_from([0, -1, 2**31, 2**63, 10**30, 1.5, -0.0, 1e308, True, False, dt.date(1, 1, 1),
                     dt.datetime(2024, 5, 17, 13, 5), dt.time(12, 30), "=1/0", "=A1", "=SUM(1,2)",
                     '=HYPERLINK("http://x","y")', "#DIV/0!"]),
)


@BOUNDED
@given(rows=st.lists(st.lists(XLSX_CELL, min_size=0, max_size=30), min_size=1, max_size=3),
       header=st.booleans())
def test_an_xlsx_of_hostile_cells_of_any_type_gives_rows_or_errors(rows, header, tmp_path_factory):
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    if header:
        sheet.append(list(import_format.COLUMNS))
    for row in rows:
        sheet.append(row)
    path = tmp_path_factory.mktemp("xlsx") / "hostile.xlsx"
    workbook.save(path)
    _assert_rows_or_located_errors(import_format.validate_file(path, panel_code="YEM"))


def test_hostile_csv_imports_store_text_exactly_or_refuse_it_on_this_database(world):
    """Through the real importer into the database (where NUL bites PostgreSQL)."""
    from panel_tracker.cases.importer import import_items

    @PER_IMPORT
    @given(rows=_hostile_rows(FREE_TEXT))
    def probe(rows):
        rows = [{**row, "item_ref": f"YEM-2024-017/{n:02d}"} for n, row in enumerate(rows, start=1)]
        db = get_session()
        try:
            report = import_items(db, world.panel, io.BytesIO(_csv_bytes(rows)), actor=None, fmt="csv")
            if not report.ok:
                db.rollback()
                return
            db.commit()
            stored = {item.item_ref: item for item in db.exec(select(Item)).all()}
            for row in rows:
                assert {name: getattr(stored[row["item_ref"]], name) for name in ("notes", "model", "lot")} == {
                    name: row[name] for name in ("notes", "model", "lot")}
        finally:
            db.rollback()
            db.connection().execute(Item.__table__.delete())
            db.commit()

    probe()
