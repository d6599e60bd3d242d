"""The JSON API, told as what an expert's script or a viewer's dashboard does with it."""
from __future__ import annotations

import hashlib
import io
import json

import pytest
from PIL import Image
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.auth.models import Membership
from panel_tracker.auth.services import create_token
from panel_tracker.cases import services
from panel_tracker.cases.models import Category, Item
from panel_tracker.db import get_session
from panel_tracker.evidence.models import Photo, PhotoReceipt
from panel_tracker.evidence.services import photo_store, purge_photo
from tests.conftest import app_config_key, fresh_app, make_test_app, new_world
from tests.factories import log_in
from tests.imagefactory import NO_EXIF, photographic_jpeg
from tests.sharing import SHARES_WORLD, shared_world, shares_world

API = "/api/v1"


# ------------------------------------------------------------------ helpers


class ApiClient:
    """A test client that sends one bearer token with every request."""

    def __init__(self, app, secret: str, user):
        self.client, self.user = app.test_client(), user
        self.headers = {"Authorization": f"Bearer {secret}"}

    def __getattr__(self, method):  # get, post, patch, delete
        call = getattr(self.client, method)
        return lambda path, **kw: call(API + path, headers=self.headers, **kw)


def api_as(world, role: str = "expert", *, user=None, panel=None) -> ApiClient:
    db = get_session()
    user = user or world.users[role]
    panel = panel or world.panel
    membership = db.exec(select(Membership).where(Membership.user_id == user.id,
                                                  Membership.panel_id == panel.id)).one()
    _, secret = create_token(db, user, membership, name="test", role=membership.role, days=30)
    db.commit()
    return ApiClient(world.app, secret, user)


def last_seq() -> int:
    return get_session().exec(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1)).first() or 0


def audited_since(seq: int) -> list[tuple[str, str]]:
    """(action, actor) of each audit record written after ``seq``."""
    rows = get_session().exec(select(AuditRecord).where(AuditRecord.seq > seq).order_by(AuditRecord.seq)).all()
    return [(r.action, r.actor) for r in rows]


def jpeg_bytes(tmp_path, *, seed: int = 0, exif=None) -> bytes:
    kwargs = {} if exif is None else {"exif": exif}
    return photographic_jpeg(tmp_path / f"photo-{seed}.jpg", 640, 480, seed=seed, **kwargs).read_bytes()


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(out, "GIF")
    return out.getvalue()


def upload(api: ApiClient, case_id: int, data: bytes, filename: str = "DSC_0412.jpg", **fields):
    form = {"file": (io.BytesIO(data), filename), **{k: str(v) for k, v in fields.items()}}
    return api.post(f"/cases/{case_id}/photos", data=form, content_type="multipart/form-data")


def new_case(api: ApiClient, ref: str = "YEM-2024-001", **fields) -> dict:
    response = api.post("/cases", json={"ref": ref, "title": f"Seizure {ref}", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_item(api: ApiClient, case_id: int, **fields) -> dict:
    body = {"category": "small_arm", "type": "assault rifle", **fields}
    response = api.post(f"/cases/{case_id}/items", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def app(database, tmp_path, request, module_apps, tmp_path_factory):
    """As ``tests.conftest.app``; the tests marked ``shares_world`` (refused writes: they
    only read) share one app per module and configuration, and its world
    (``tests.sharing.SharedWorld``)."""
    if not shares_world(request):
        yield from fresh_app(database, tmp_path, request)
        return
    marker = request.node.get_closest_marker("app_config")
    key = app_config_key(request)
    if key not in module_apps:
        module_apps[key] = make_test_app(database, tmp_path_factory.mktemp("api") / "instance",
                                          **(marker.kwargs if marker else {}))
    with module_apps[key].app_context():
        yield module_apps[key]


@pytest.fixture
def world(app, database, request, shared_worlds):
    if not shares_world(request):
        return new_world(app, database, request)
    return shared_world(shared_worlds, app_config_key(request), app, database,
                        lambda app, user: log_in(app.test_client(), user))


def _token(world, role: str = "expert", *, user=None, panel=None) -> ApiClient:
    """``api_as``: a new token, or in a shared world the one made first for this member."""
    shared = getattr(world, "shared", None)
    if shared is None:
        return api_as(world, role, user=user, panel=panel)
    user = user or world.users[role]
    secret = shared.keep(("api", user.id, panel.id if panel else None),
                         lambda: api_as(world, role, user=user, panel=panel).headers["Authorization"].split()[1])
    return ApiClient(world.app, secret, user)


@pytest.fixture
def expert(world):
    return _token(world, "expert")


@pytest.fixture
def viewer(world):
    return _token(world, "viewer")


# ------------------------------------------------------------------ cases


def test_expert_opens_lists_edits_and_deletes_a_case(world, expert):
    start = last_seq()
    created = expert.post("/cases", json={"ref": "yem-2024-017", "title": "Dhow interdiction",
                                          "country_of_seizure": "YEM"})
    assert created.status_code == 201
    case = created.get_json()
    assert case["ref"] == "YEM-2024-017" and case["classification"] == "panel" and case["status"] == "open"
    assert created.headers["Location"].endswith(f"/api/v1/cases/{case['id']}")
    new_case(expert, "YEM-2024-018", status="closed")

    listed = expert.get("/cases").get_json()
    assert [c["ref"] for c in listed["items"]] == ["YEM-2024-017", "YEM-2024-018"]
    assert (listed["total"], listed["page"], listed["per_page"]) == (2, 1, 50)
    assert [c["ref"] for c in expert.get("/cases?status=closed").get_json()["items"]] == ["YEM-2024-018"]
    assert [c["ref"] for c in expert.get("/cases?q=DHOW").get_json()["items"]] == ["YEM-2024-017"]
    assert expert.get("/cases?q=50%25").get_json()["total"] == 0  # % is a character, not a wildcard

    patched = expert.patch(f"/cases/{case['id']}", json={"title": "Dhow interdiction, Arabian Sea",
                                                         "status": "dormant"})
    assert patched.status_code == 200
    assert expert.get(f"/cases/{case['id']}").get_json()["title"] == "Dhow interdiction, Arabian Sea"

    refused = expert.delete(f"/cases/{case['id']}", json={"reason": "  "})
    assert refused.status_code == 422 and "reason" in refused.get_json()["errors"]
    assert expert.delete(f"/cases/{case['id']}", json={"reason": "Opened twice; see YEM-2024-018"}).status_code == 204
    assert expert.get(f"/cases/{case['id']}").status_code == 404
    assert [c["ref"] for c in expert.get("/cases").get_json()["items"]] == ["YEM-2024-018"]

    email = world.users["expert"].email
    assert audited_since(start) == [("case.create", email), ("case.create", email), ("case.update", email),
                                    ("case.delete", email)]


def test_case_list_pages_through_many_cases(expert):
    for number in range(1, 6):
        new_case(expert, f"YEM-2024-{number:03d}")
    second = expert.get("/cases?page=2&per_page=2").get_json()
    assert [c["ref"] for c in second["items"]] == ["YEM-2024-003", "YEM-2024-004"]
    assert (second["page"], second["per_page"], second["total"]) == (2, 2, 5)
    assert expert.get("/cases?page=4&per_page=2").get_json()["items"] == []
    too_many = expert.get("/cases?per_page=500")
    assert too_many.status_code == 422 and "200" in too_many.get_json()["errors"]["per_page"]
    assert expert.get("/cases?page=0").get_json()["errors"]["page"]
    assert expert.get("/cases?sort=ref").get_json()["errors"]["sort"]  # a typo is said, not ignored


def test_case_input_is_refused_field_by_field(expert):
    bad = expert.post("/cases", json={"ref": "LBY-2024-001", "country_of_seizure": "XXX", "status": "lost"})
    assert bad.status_code == 422
    errors = bad.get_json()["errors"]
    assert "XXX" in errors["country_of_seizure"] and "open" in errors["status"]
    assert "starts with YEM-" in expert.post("/cases", json={"ref": "LBY-2024-001"}).get_json()["errors"]["ref"]
    new_case(expert, "YEM-2024-001")
    assert "already exists" in expert.post("/cases", json={"ref": "YEM-2024-001"}).get_json()["errors"]["ref"]
    assert expert.post("/cases", data="ref=YEM-2024-002").status_code == 400
    public = expert.post("/cases", json={"ref": "YEM-2024-002", "classification": "public"})
    assert public.status_code == 422 and "confirm_public" in public.get_json()["errors"]
    assert expert.get("/cases").get_json()["total"] == 1  # nothing half-saved


# ------------------------------------------------------------------ access


WRITES = [
    ("post", "/cases", {"json": {"ref": "YEM-2024-009"}}),
    ("patch", "/cases/{case}", {"json": {"title": "x"}}),
    ("delete", "/cases/{case}", {"json": {"reason": "x"}}),
    ("post", "/cases/{case}/inspections", {"json": {"inspected_on": "2024-03-12"}}),
    ("patch", "/inspections/{inspection}", {"json": {"place": "x"}}),
    ("post", "/cases/{case}/items", {"json": {"category": "small_arm", "type": "rifle"}}),
    ("patch", "/items/{item}", {"json": {"model": "x"}}),
    ("delete", "/items/{item}", {"json": {"reason": "x"}}),
    ("post", "/items/{item}/markings", {"json": {"text": "x", "kind": "serial"}}),
    ("patch", "/markings/{marking}", {"json": {"text": "x"}}),
    ("delete", "/markings/{marking}", {"json": {"reason": "x"}}),
    ("post", "/markings/{marking}/photos", {"json": {"photo_id": 1}}),
    ("post", "/cases/{case}/photos", {"data": {}}),
]


@pytest.fixture
def yem_objects(world, expert, tmp_path):
    """A case of panel YEM with one of everything, all classified committee (a viewer may see them)."""
    shared = getattr(world, "shared", None)
    if shared is None:
        return _yem_objects(expert, tmp_path)
    return shared.keep("yem_objects", lambda: _yem_objects(expert, tmp_path))


def _yem_objects(expert, tmp_path) -> dict:
    case = new_case(expert, classification="committee")
    inspection = expert.post(f"/cases/{case['id']}/inspections",
                             json={"inspected_on": "2024-03-12", "classification": "committee"}).get_json()
    item = new_item(expert, case["id"], classification="committee", source_classification="committee")
    marking = expert.post(f"/items/{item['id']}/markings", json={"text": "56-1", "kind": "model_mark"}).get_json()
    photo = upload(expert, case["id"], jpeg_bytes(tmp_path), item_id=item["id"], classification="committee")
    return {"case": case["id"], "inspection": inspection["id"], "item": item["id"], "marking": marking["id"],
            "photo": photo.get_json()["photo"]["id"]}


@SHARES_WORLD  # refused: it only reads (SharedWorld checks it)
@pytest.mark.parametrize("method,path,kwargs", WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_viewer_token_reads_but_cannot_write(world, viewer, yem_objects, method, path, kwargs):
    start = last_seq()
    response = getattr(viewer, method)(path.format(**yem_objects), **kwargs)
    assert response.status_code == 403
    assert response.get_json()["message"] == "Your role in this panel does not allow this."
    assert audited_since(start) == []
    assert viewer.get(f"/cases/{yem_objects['case']}").status_code == 200


READS = ["/cases/{case}", "/cases/{case}/inspections", "/inspections/{inspection}", "/items/{item}",
         "/items/{item}/markings", "/markings/{marking}", "/items/{item}/photos", "/photos/{photo}",
         "/photos/{photo}/image/thumb", "/photos/{photo}/image/large"]


@SHARES_WORLD  # refused: it only reads (SharedWorld checks it)
@pytest.mark.parametrize("method,path,kwargs", WRITES[1:] + [("get", p, {}) for p in READS],
                         ids=[f"{m} {p}" for m, p, _ in WRITES[1:]] + [f"get {p}" for p in READS])
def test_token_for_libya_gets_404_for_every_yemen_object(world, yem_objects, method, path, kwargs):
    libya = _token(world, user=world.outsider, panel=world.other_panel)  # admin of LBY
    start = last_seq()
    response = getattr(libya, method)(path.format(**yem_objects), **kwargs)
    assert response.status_code == 404
    assert audited_since(start) == []


def test_yemen_objects_are_absent_from_libya_lists(world, yem_objects):
    libya = api_as(world, user=world.outsider, panel=world.other_panel)
    assert libya.get("/me").get_json()["panel"]["code"] == "LBY"
    assert libya.get("/cases").get_json()["total"] == 0
    assert libya.get("/items").get_json()["total"] == 0
    case = new_case(libya, "LBY-2024-001")
    refused = libya.post(f"/markings/{yem_objects['marking']}/photos", json={"photo_id": yem_objects["photo"]})
    assert refused.status_code == 404
    item = new_item(libya, case["id"])
    marking = libya.post(f"/items/{item['id']}/markings", json={"text": "X1", "kind": "serial"}).get_json()
    linked = libya.post(f"/markings/{marking['id']}/photos", json={"photo_id": yem_objects["photo"]})
    assert linked.status_code == 422 and "photo_id" in linked.get_json()["errors"]


def test_the_api_takes_tokens_only_not_the_session_cookie(world):
    browser = world.client("expert")  # logged in through the login page
    assert browser.get(f"{API}/cases").status_code == 401
    assert browser.post(f"{API}/cases", json={"ref": "YEM-2024-001"}).status_code == 401
    bogus = world.app.test_client().get(f"{API}/cases", headers={"Authorization": "Bearer pt_not-a-token"})
    assert bogus.status_code == 401


# ------------------------------------------------------------------ inspections


def test_expert_records_an_inspection_of_a_case(world, expert):
    case = new_case(expert)
    start = last_seq()
    created = expert.post(f"/cases/{case['id']}/inspections",
                          json={"inspected_on": "2024-03-12", "place": "Aden port", "custodian": "Coast Guard",
                                "access_mode": "photos_from_state", "inspectors": "Expert YEM"})
    assert created.status_code == 201
    inspection = created.get_json()
    assert inspection["case_id"] == case["id"] and inspection["access_mode"] == "photos_from_state"

    listed = expert.get(f"/cases/{case['id']}/inspections").get_json()
    assert [i["id"] for i in listed["items"]] == [inspection["id"]] and listed["total"] == 1
    patched = expert.patch(f"/inspections/{inspection['id']}", json={"place": "Mukalla", "access_mode": "physical"})
    assert patched.get_json()["place"] == "Mukalla"
    assert expert.get(f"/inspections/{inspection['id']}").get_json()["access_mode"] == "physical"

    bad = expert.post(f"/cases/{case['id']}/inspections", json={"place": "Aden", "access_mode": "by_phone"})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"inspected_on", "access_mode"}
    assert expert.patch(f"/inspections/{inspection['id']}", json={"inspected_on": None}).status_code == 422
    assert expert.patch(f"/inspections/{inspection['id']}", json={"inspected_on": "12/03/2024"}).status_code == 422

    email = world.users["expert"].email
    assert audited_since(start) == [("inspection.create", email), ("inspection.update", email)]


# ------------------------------------------------------------------ items and markings


def test_expert_logs_an_item_with_its_markings(world, expert):
    case = new_case(expert)
    inspection = expert.post(f"/cases/{case['id']}/inspections", json={"inspected_on": "2024-03-12"}).get_json()
    start = last_seq()
    item = new_item(expert, case["id"], inspection_id=inspection["id"], make_marked="Factory 66",
                    model="Type 56-1", calibre_marked="7.62x39", country_marked="CHN", serial="5601230",
                    serial_legibility="intact", recovered_on="2024-03", recovered_place="Aden", lat=12.8, lon=45.0,
                    notes="Handed over by the Coast Guard")
    assert item["item_ref"] == "YEM-2024-001/01" and item["case_ref"] == "YEM-2024-001"
    assert item["recovered_date"] == "2024-03-01" and item["notes"] == "Handed over by the Coast Guard"
    assert item["source_withheld"] is False

    patched = expert.patch(f"/items/{item['id']}", json={"country_attributed": "CHN", "attribution_confidence":
                                                         "consistent_with", "lat": None, "lon": None})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["country_attributed"] == "CHN" and patched.get_json()["lat"] is None

    marking = expert.post(f"/items/{item['id']}/markings",
                          json={"text": "Сделано в СССР", "kind": "other", "location": "receiver"})
    assert marking.status_code == 201
    marking = marking.get_json()
    assert marking["script"] == "cyrillic" and marking["photos"] == []
    second = expert.post(f"/items/{item['id']}/markings", json={"text": "66", "kind": "factory_code",
                                                               "symbol_shape": "triangle"}).get_json()
    assert [m["id"] for m in expert.get(f"/items/{item['id']}/markings").get_json()["items"]] == [
        marking["id"], second["id"]]
    patched = expert.patch(f"/markings/{second['id']}", json={"legibility": "partial"})
    assert patched.get_json()["legibility"] == "partial"
    assert expert.get(f"/markings/{second['id']}").get_json()["symbol_shape"] == "triangle"
    assert expert.delete(f"/markings/{marking['id']}?reason=Typed on the wrong item").status_code == 204
    assert expert.get(f"/markings/{marking['id']}").status_code == 404
    assert expert.delete(f"/items/{item['id']}", json={"reason": "Logged twice"}).status_code == 204
    assert expert.get(f"/items/{item['id']}").status_code == 404
    assert expert.get(f"/markings/{second['id']}").status_code == 404  # gone with its item

    email = world.users["expert"].email
    assert audited_since(start) == [(action, email) for action in (
        "item.create", "item.update", "marking.create", "marking.create", "marking.update", "marking.delete",
        "item.delete")]


@pytest.mark.parametrize("body,field,message", [
    ({"quantity": 0}, "quantity", "below 1"),
    ({"serial": "5601230", "serial_legibility": "intact", "quantity": 2}, "quantity", "its quantity is 1"),
    ({"country_marked": "XXX"}, "country_marked", "not an assigned ISO 3166-1 alpha-3 code"),
    ({"country_attributed": "chn"}, "country_attributed", "upper case: CHN"),
    ({"serial": "56012?0", "serial_legibility": "smudged"}, "serial_legibility", "'intact', 'partial'"),
    ({"serial": "5601230", "serial_legibility": "partial"}, "serial_legibility", "needs a ? in serial"),
    ({"serial": "5601230"}, "serial_legibility", "must say how much of it could be read"),
    ({"category": "tank"}, "category", "'small_arm'"),
    ({"type": None}, "type", "Cannot be null"),
    ({"lat": 12.8}, "lon", "give both coordinates"),
    ({"recovered_on": "March 2024"}, "recovered_on", "not a real date"),
    ({"item_ref": "YEM-2023-001/01"}, "item_ref", "case_ref followed by /"),
    ({"inspection_id": 999}, "inspection_id", "has no inspection 999"),
    ({"calibre_normalised": "7.62x39mm"}, "calibre_normalised", "Unknown field"),
])
def test_bad_item_input_is_refused_with_a_message_per_field(world, expert, body, field, message):
    case = new_case(expert)
    start = last_seq()
    response = expert.post(f"/cases/{case['id']}/items", json={"category": "small_arm", "type": "rifle", **body})
    assert response.status_code == 422
    assert message in response.get_json()["errors"][field]
    assert audited_since(start) == []
    assert get_session().exec(select(Item)).all() == []


def test_bad_item_update_leaves_the_item_as_it_was(expert):
    case = new_case(expert)
    item = new_item(expert, case["id"], serial="5601230", serial_legibility="intact")
    response = expert.patch(f"/items/{item['id']}", json={"quantity": 2, "model": "AKM"})
    assert response.status_code == 422 and "its quantity is 1" in response.get_json()["errors"]["quantity"]
    again = expert.get(f"/items/{item['id']}").get_json()
    assert (again["quantity"], again["model"]) == (1, "")
    assert expert.post(f"/items/{item['id']}/markings", json={"text": " ", "kind": "serial"}).get_json()["errors"][
        "text"].startswith("Type the marking exactly as read")


def test_expert_filters_items_across_cases(world, expert, tmp_path):
    first, second = new_case(expert, "YEM-2024-001"), new_case(expert, "YEM-2024-002")
    rifle = new_item(expert, first["id"], country_marked="CHN", serial="56012?0", serial_legibility="partial",
                     recovered_on="2024-03-05")
    rpg = new_item(expert, first["id"], category="light_weapon", type="RPG-7", country_attributed="SUN",
                   recovered_on="2023", classification="committee")
    cartridges = new_item(expert, second["id"], category="ammunition", type="cartridges", quantity=400,
                          country_marked="SUN", recovered_on="2024-06")
    assert upload(expert, second["id"], jpeg_bytes(tmp_path), item_id=cartridges["id"]).status_code == 201

    def refs(query):
        response = expert.get(f"/items?{query}")
        assert response.status_code == 200, response.get_json()
        return [i["item_ref"] for i in response.get_json()["items"]]

    assert refs("") == [rifle["item_ref"], rpg["item_ref"], cartridges["item_ref"]]
    assert refs("category=light_weapon") == [rpg["item_ref"]]
    assert refs("country=sun") == [rpg["item_ref"], cartridges["item_ref"]]  # marked or attributed
    assert refs("recovered_from=2024-01-01") == [rifle["item_ref"], cartridges["item_ref"]]
    assert refs("recovered_from=2024-01-01&recovered_to=2024-03-31") == [rifle["item_ref"]]
    assert refs("legibility=partial") == [rifle["item_ref"]]
    assert refs("has_photos=true") == [cartridges["item_ref"]]
    assert refs("has_photos=false") == [rifle["item_ref"], rpg["item_ref"]]
    assert refs("classification=committee") == [rpg["item_ref"]]
    assert refs("case=yem-2024-002") == [cartridges["item_ref"]]
    assert refs("case=YEM-2024-002&category=ammunition&per_page=1") == [cartridges["item_ref"]]
    page = expert.get("/items?per_page=2&page=2").get_json()
    assert (page["total"], [i["item_ref"] for i in page["items"]]) == (3, [cartridges["item_ref"]])

    bad = expert.get("/items?country=XXX&recovered_from=2024-05-01&recovered_to=2024-01-01&has_photos=maybe"
                     "&legibility=smudged").get_json()["errors"]
    assert set(bad) == {"country", "recovered_to", "has_photos", "legibility"}


def test_viewer_does_not_see_panel_items_nor_withheld_source_fields(world, expert, viewer):
    case = new_case(expert, classification="committee")
    shared = new_item(expert, case["id"], classification="committee", recovered_place="Depot near Aden",
                      lat=12.8, lon=45.0, notes="Seen with the help of a confidential source")
    secret = new_item(expert, case["id"])  # panel only, like everything new
    expert.post(f"/items/{secret['id']}/markings", json={"text": "5601244", "kind": "serial"})

    seen = viewer.get(f"/items/{shared['id']}").get_json()
    assert seen["source_withheld"] is True
    assert all(seen[name] is None for name in Item.SOURCE_FIELDS)
    assert "confidential source" not in json.dumps(viewer.get("/items").get_json())
    assert [i["id"] for i in viewer.get("/items").get_json()["items"]] == [shared["id"]]
    assert viewer.get("/items?classification=panel").get_json()["total"] == 0
    for path in (f"/items/{secret['id']}", f"/items/{secret['id']}/markings", f"/items/{secret['id']}/photos"):
        assert viewer.get(path).status_code == 404

    full = expert.get(f"/items/{shared['id']}").get_json()
    assert full["source_withheld"] is False and full["notes"].startswith("Seen with")
    assert expert.get("/items").get_json()["total"] == 2

    # Once the source may go to the committee, the viewer sees it.
    expert.patch(f"/items/{shared['id']}", json={"source_classification": "committee"})
    assert viewer.get(f"/items/{shared['id']}").get_json()["recovered_place"] == "Depot near Aden"


def test_viewer_does_not_see_what_is_in_a_panel_only_case(world, expert, viewer):
    case = new_case(expert)  # panel only
    item = new_item(expert, case["id"], classification="committee")
    assert viewer.get("/cases").get_json()["total"] == 0
    assert viewer.get(f"/cases/{case['id']}").status_code == 404
    assert viewer.get(f"/items/{item['id']}").status_code == 404
    assert viewer.get("/items").get_json()["total"] == 0


# ------------------------------------------------------------------ photos


def test_expert_uploads_a_photo_and_the_original_is_kept_byte_for_byte(world, expert, tmp_path):
    case = new_case(expert)
    item = new_item(expert, case["id"])
    original = jpeg_bytes(tmp_path)
    start = last_seq()
    response = upload(expert, case["id"], original, item_id=item["id"], source="Member State",
                      is_original="false", caption="Receiver, left side")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    photo = body["photo"]
    sha = hashlib.sha256(original).hexdigest()
    assert (photo["sha256"], photo["size_bytes"], photo["mime"]) == (sha, len(original), "image/jpeg")
    assert (photo["item_id"], photo["case_id"], photo["caption"]) == (item["id"], case["id"], "Receiver, left side")
    assert body["duplicate"] is False and response.headers["Location"].endswith(f"/photos/{photo['id']}")

    with photo_store().open_original("YEM", sha) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == sha
    receipt = get_session().get(PhotoReceipt, body["receipt_id"])
    assert (receipt.channel.value, receipt.source, receipt.is_original, receipt.filename) == (
        "api", "Member State", False, "DSC_0412.jpg")

    text = json.dumps(expert.get(f"/photos/{photo['id']}").get_json())
    assert str(photo_store().root) not in text and "originals" not in text
    assert "gps" not in expert.get(f"/photos/{photo['id']}").get_json()
    assert not any(k.startswith("GPS") for k in photo["exif"])
    assert [p["id"] for p in expert.get(f"/items/{item['id']}/photos").get_json()["items"]] == [photo["id"]]

    for size, edge in (("thumb", 400), ("large", 640)):
        image = expert.get(photo["images"][size].removeprefix(API))
        assert image.status_code == 200 and image.mimetype == "image/jpeg"
        shown = Image.open(io.BytesIO(image.data))
        assert max(shown.size) == edge and not shown.getexif()  # a derivative, EXIF stripped
        image.close()
    assert expert.get(f"/photos/{photo['id']}/image/original").status_code == 404

    again = upload(expert, case["id"], original, filename="IMG-20240312-WA0003.jpg", source="WhatsApp")
    assert again.status_code == 201 and again.get_json()["duplicate"] is True
    assert again.get_json()["photo"]["id"] == photo["id"]

    email = world.users["expert"].email
    assert audited_since(start) == [("photo.create", email), ("photo.receive", email), ("photo.receive", email)]


def test_a_gif_is_refused_with_415_and_never_stored(world, expert):
    case = new_case(expert)
    start = last_seq()
    for filename in ("animation.gif", "renamed.jpg"):  # the bytes decide, not the name
        response = upload(expert, case["id"], gif_bytes(), filename=filename)
        assert response.status_code == 415
        assert "GIF files are not accepted" in response.get_json()["errors"]["file"]
    assert get_session().exec(select(Photo)).all() == []
    assert list(photo_store().iter_originals()) == []
    assert audited_since(start) == []


def test_a_damaged_photo_is_refused_with_415_and_a_message(expert, tmp_path):
    case = new_case(expert)
    truncated = jpeg_bytes(tmp_path)[:5000]
    response = upload(expert, case["id"], truncated)
    assert response.status_code == 415 and response.get_json()["errors"]["file"].startswith("DSC_0412.jpg:")
    missing = expert.post(f"/cases/{case['id']}/photos", data={"caption": "x"}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "file" in missing.get_json()["errors"]


def test_a_purged_photo_is_refused_with_409_if_sent_again(world, expert, tmp_path):
    case = new_case(expert)
    original = jpeg_bytes(tmp_path)
    photo = upload(expert, case["id"], original).get_json()["photo"]
    db = get_session()
    purge_photo(db, db.get(Photo, photo["id"]), world.panel, world.users["admin"], "Personal data in the frame")
    db.commit()
    response = upload(expert, case["id"], original)
    assert response.status_code == 409 and "was purged" in response.get_json()["errors"]["file"]
    assert expert.get(f"/photos/{photo['id']}").status_code == 404


@pytest.mark.app_config(PHOTO_MAX_BYTES=10_000)
def test_a_photo_over_the_size_limit_is_refused_with_413(expert, tmp_path):
    case = new_case(expert)
    response = upload(expert, case["id"], jpeg_bytes(tmp_path))
    assert response.status_code == 413 and "the limit for one photo" in response.get_json()["errors"]["file"]
    assert get_session().exec(select(Photo)).all() == []


def test_photo_upload_fields_are_checked(world, expert, tmp_path):
    case, other = new_case(expert, "YEM-2024-001"), new_case(expert, "YEM-2024-002")
    item_elsewhere = new_item(expert, other["id"])
    response = upload(expert, case["id"], jpeg_bytes(tmp_path), item_id=item_elsewhere["id"], is_original="perhaps")
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"is_original"}
    response = upload(expert, case["id"], jpeg_bytes(tmp_path), item_id=item_elsewhere["id"])
    assert response.status_code == 422 and "has no item" in response.get_json()["errors"]["item_id"]
    assert get_session().exec(select(Photo)).all() == []


def test_gps_is_shown_to_experts_only_on_request_and_audited(world, expert, viewer, tmp_path):
    case = new_case(expert, classification="committee")
    photo = upload(expert, case["id"], jpeg_bytes(tmp_path), classification="committee").get_json()["photo"]

    seen = viewer.get(f"/photos/{photo['id']}").get_json()
    assert "gps" not in seen and "exif" not in seen and "receipts" not in seen
    assert "15.35" not in json.dumps(seen)
    start = last_seq()
    assert viewer.get(f"/photos/{photo['id']}?include=gps").status_code == 403

    with_gps = expert.get(f"/photos/{photo['id']}?include=gps").get_json()
    assert with_gps["gps"]["lat"] == pytest.approx(15.3547, abs=1e-4)
    assert with_gps["gps"]["lon"] == pytest.approx(44.2066, abs=1e-4)
    assert any(k.startswith("GPS") for k in with_gps["exif"])
    assert audited_since(start) == [("photo.view_gps", world.users["expert"].email)]


def test_viewer_does_not_see_panel_only_photos(world, expert, viewer, tmp_path):
    case = new_case(expert, classification="committee")
    item = new_item(expert, case["id"], classification="committee")
    shown = upload(expert, case["id"], jpeg_bytes(tmp_path, seed=1), item_id=item["id"],
                   classification="committee").get_json()["photo"]
    hidden = upload(expert, case["id"], jpeg_bytes(tmp_path, seed=2), item_id=item["id"]).get_json()["photo"]
    marking = expert.post(f"/items/{item['id']}/markings", json={"text": "5601230", "kind": "serial"}).get_json()
    for photo in (shown, hidden):
        assert expert.post(f"/markings/{marking['id']}/photos", json={"photo_id": photo["id"]}).status_code == 201

    assert [p["id"] for p in viewer.get(f"/items/{item['id']}/photos").get_json()["items"]] == [shown["id"]]
    assert [p["photo_id"] for p in viewer.get(f"/markings/{marking['id']}").get_json()["photos"]] == [shown["id"]]
    assert viewer.get(f"/photos/{hidden['id']}").status_code == 404
    assert viewer.get(f"/photos/{hidden['id']}/image/thumb").status_code == 404
    assert viewer.get("/items?has_photos=true").get_json()["total"] == 1
    assert len(expert.get(f"/items/{item['id']}/photos").get_json()["items"]) == 2


def test_expert_boxes_a_marking_on_a_photo(world, expert, tmp_path):
    case = new_case(expert)
    item = new_item(expert, case["id"])
    photo = upload(expert, case["id"], jpeg_bytes(tmp_path, exif=NO_EXIF)).get_json()["photo"]
    marking = expert.post(f"/items/{item['id']}/markings", json={"text": "5601230", "kind": "serial"}).get_json()
    start = last_seq()

    linked = expert.post(f"/markings/{marking['id']}/photos", json={"photo_id": photo["id"],
                                                                     "box": [0.25, 0.5, 0.2, 0.1]})
    assert linked.status_code == 201
    assert linked.get_json() == {"marking_id": marking["id"], "photo_id": photo["id"], "box": [0.25, 0.5, 0.2, 0.1]}
    assert expert.get(f"/markings/{marking['id']}").get_json()["photos"] == [
        {"photo_id": photo["id"], "box": [0.25, 0.5, 0.2, 0.1]}]
    unboxed = expert.post(f"/markings/{marking['id']}/photos", json={"photo_id": photo["id"], "box": None})
    assert unboxed.get_json()["box"] is None

    outside = expert.post(f"/markings/{marking['id']}/photos", json={"photo_id": photo["id"],
                                                                      "box": [0.9, 0.5, 0.2, 0.1]})
    assert outside.status_code == 422 and "inside the photo" in outside.get_json()["errors"]["box"]
    assert "box" in expert.post(f"/markings/{marking['id']}/photos",
                                json={"photo_id": photo["id"], "box": [0.1, 0.1]}).get_json()["errors"]
    assert "photo_id" in expert.post(f"/markings/{marking['id']}/photos", json={"photo_id": 999}).get_json()["errors"]

    email = world.users["expert"].email
    assert audited_since(start) == [("marking.link_photo", email), ("marking.link_photo", email)]


def test_deleted_objects_are_absent_everywhere(world, expert, tmp_path):
    case = new_case(expert)
    item = new_item(expert, case["id"])
    photo = upload(expert, case["id"], jpeg_bytes(tmp_path), item_id=item["id"]).get_json()["photo"]
    db = get_session()
    services.soft_delete(db, db.get(Photo, photo["id"]), world.users["expert"], "Wrong case")
    db.commit()
    assert expert.get(f"/photos/{photo['id']}").status_code == 404
    assert expert.get(f"/items/{item['id']}/photos").get_json()["total"] == 0
    assert expert.get("/items?has_photos=true").get_json()["total"] == 0

    expert.delete(f"/cases/{case['id']}", json={"reason": "Duplicate of another case"})
    assert expert.get(f"/items/{item['id']}").status_code == 404
    assert expert.get("/items").get_json()["total"] == 0
    assert expert.get(f"/cases/{case['id']}/inspections").status_code == 404


def test_every_write_through_the_api_is_in_the_audit_chain(world, expert, tmp_path):
    from panel_tracker.audit import verify

    start = last_seq()
    case = new_case(expert, classification="committee")
    item = new_item(expert, case["id"], category=Category.AMMUNITION.value, type="cartridges", quantity=20)
    expert.patch(f"/items/{item['id']}", json={"classification": "committee"})
    upload(expert, case["id"], jpeg_bytes(tmp_path))
    actions = [action for action, actor in audited_since(start)]
    assert actions == ["case.create", "case.classify", "item.create", "item.classify", "photo.create",
                       "photo.receive"]
    checked, broken = verify(get_session())
    assert broken is None and checked >= len(actions)
