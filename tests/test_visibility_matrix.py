"""Every door shows the same things: one world holding every combination of classification
(case × item × source details × photo), deleted and purged objects, photos of no item, a
marking linking a photo of another item, hidden inspections and first sightings; and for
each role, the objects and fields reachable through the pages, the item history, the API
and every export format are exactly what the rule says.

The rule is stated here again, on its own (:class:`Rule`), and never by calling
``panel_tracker.visibility``: an object is seen when it is not deleted nor purged, its
level is within the reader's clearance, and its case and item (when it has them) are seen;
an item's source details need their own level; receipts' sources and EXIF beyond camera and
time need panel clearance. The world is built once per backend.
"""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date

import pytest
from flask import g
from openpyxl import load_workbook
from PIL import Image
from sqlmodel import select

from panel_tracker.auth.models import Membership, Role
from panel_tracker.auth.services import create_token
from panel_tracker.cases import services
from panel_tracker.cases.models import Category, MarkingKind
from panel_tracker.db import get_session
from panel_tracker.evidence import services as evidence
from tests.conftest import make_test_app
from tests.factories import World, log_in

LEVELS = ("public", "committee", "panel")
RANK = {level: n for n, level in enumerate(LEVELS)}
ROLES = ("viewer", "expert", "coordinator", "admin", "outsider", None)
CLEARANCE = {"viewer": "committee", "expert": "panel", "coordinator": "panel", "admin": "panel"}


# ------------------------------------------------------------------ the world, as plain records


@dataclass
class Obj:
    key: str
    id: int = 0
    level: str | None = None  # None: no classification of its own (markings)
    gone: bool = False  # deleted or purged
    case: str | None = None
    item: str | None = None
    source: str | None = None  # items: their source details' level
    inspection: str | None = None  # items: references
    sighting_of: str | None = None
    links: list = field(default_factory=list)  # markings: photo keys
    sha: str = ""
    ref: str = ""  # items: item_ref

    @property
    def token(self) -> str:
        return f"TOK{self.key}Z"


@dataclass
class Rule:
    """The rule, stated on its own for the test."""

    world: dict
    clearance: str | None  # None: sees nothing of this panel

    def level_ok(self, level) -> bool:
        return level is None or (self.clearance is not None and RANK[level] <= RANK[self.clearance])

    def sees(self, key: str | None) -> bool:
        if key is None:
            return True
        o = self.world[key]
        return (self.clearance is not None and not o.gone and self.level_ok(o.level)
                and (o.case is None or self.sees(o.case)) and (o.item is None or self.sees(o.item)))

    def seen(self, kind: str, **where) -> set[str]:
        return {k for k, o in self.world.items() if k.startswith(kind) and self.sees(k)
                and all(getattr(o, name) == value for name, value in where.items())}

    def source_shown(self, item: str) -> bool:
        return self.level_ok(self.world[item].source)

    @property
    def panel_level(self) -> bool:
        return self.clearance == "panel"

    def linked(self, marking: str) -> set[str]:
        return {p for p in self.world[marking].links if self.sees(p)}


def _jpeg(seed: int, artist: str) -> bytes:
    image = Image.new("RGB", (24, 16), (seed * 7 % 256, seed * 13 % 256, seed * 29 % 256))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013B] = "Canon", "EOS 90D", artist  # Make, Model, Artist
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (15.0, 21.0, 17.0), "E", (44.0, 12.0, 24.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def build(world: World) -> dict:
    """Cases at each level (and a deleted one); in each, inspections at each level and an item
    at each level whose source details are at another level, pointing at an inspection and
    (the public one) at the panel-only item as its first sighting, with a marking and a photo
    at another level; photos of no item; a deleted item, marking, photo and a purged photo;
    the public item's marking linking the photos of the case's other items."""
    db, expert, admin = get_session(), world.users["expert"], world.users["admin"]
    objs: dict[str, Obj] = {}
    seed = iter(range(1, 1000))

    def level(obj, value, field="classification"):
        services.reclassify(db, obj, value, expert, field=field, confirm_public=True)

    def photo(key, case, item, value):
        o = objs[key] = Obj(key, level=value, case=case, item=item)
        received = evidence.receive_photo(
            db, world.panel, io.BytesIO(_jpeg(next(seed), f"ART{key}Z")), filename=f"FILE{key}Z.jpg", actor=expert,
            case_id=objs[case].id, item_id=objs[item].id if item else None, source=f"SRC{key}Z",
            caption=o.token)
        o.id, o.sha = received.photo.id, received.photo.sha256
        level(received.photo, value)
        return received.photo

    for c, case_level in enumerate(LEVELS + ("public",)):
        ckey = f"C{c}"
        case = services.create_case(db, world.panel, {"ref": f"YEM-2024-{c + 1:03d}", "title": f"TOK{ckey}Z"}, expert)
        objs[ckey] = Obj(ckey, case.id, case_level)
        level(case, case_level)
        inspections = {}
        for n, insp_level in enumerate(LEVELS):
            ikey = f"N{c}{n}"
            inspection = services.create_inspection(db, case, {"inspected_on": date(2024, 3, 12), "place": f"TOK{ikey}Z"},
                                                     expert)
            objs[ikey] = Obj(ikey, inspection.id, insp_level, case=ckey)
            level(inspection, insp_level)
            inspections[insp_level] = ikey
        for i, item_level in enumerate(LEVELS):
            key = f"I{c}{i}"
            source = LEVELS[(i + c + 1) % 3]
            item = services.create_item(db, case, {"category": Category.SMALL_ARM, "quantity": 1, "type": f"TOK{key}Z",
                                                   "inspection_id": objs[inspections[LEVELS[(i + 1) % 3]]].id}, expert)
            objs[key] = Obj(key, item.id, item_level, case=ckey, source=source, ref=item.item_ref,
                            inspection=inspections[LEVELS[(i + 1) % 3]])
            level(item, item_level)
            level(item, source, "source_classification")
            services.update_item(db, item, {"notes": f"NOTE{key}Z", "recovered_place": f"PLACE{key}Z"}, expert)
            marking = services.add_marking(db, item, {"text": f"TOKM{key}Z", "kind": MarkingKind.SERIAL}, expert)
            objs[f"M{key}"] = Obj(f"M{key}", marking.id, None, item=key)
            # one photo per item, at a level that differs from the item's (a public photo of a
            # panel-only item, a panel-only photo of a public item...)
            shown = photo(f"P{key}", ckey, key, LEVELS[(2 - i + c) % 3])
            services.link_marking_photo(db, marking, shown, (0.1, 0.1, 0.2, 0.2), expert)
            objs[f"M{key}"].links.append(f"P{key}")
        # the public item points at the panel item as its first sighting
        services.link_sighting(db, db.get(type(item), objs[f"I{c}0"].id), db.get(type(item), objs[f"I{c}2"].id), expert)
        objs[f"I{c}0"].sighting_of = f"I{c}2"
        # the public item's marking shows the photos of the case's other items
        first_marking = db.get(type(marking), objs[f"MI{c}0"].id)
        for other in (f"PI{c}1", f"PI{c}2"):
            services.link_marking_photo(db, first_marking, db.get(type(shown), objs[other].id), None, expert)
            objs[f"MI{c}0"].links.append(other)
        for value in ("public", "committee"):
            photo(f"Q{c}{value[:2]}", ckey, None, value)
    # deleted and purged things, all public in the public case
    objs["C3"].gone = True
    services.soft_delete(db, db.get(type(case), objs["C3"].id), expert, "entered twice")
    gone_item = services.create_item(db, db.get(type(case), objs["C0"].id), {"category": Category.SMALL_ARM,
                                                                           "quantity": 1, "type": "TOKI9Z"}, expert)
    level(gone_item, "public")
    objs["I9"] = Obj("I9", gone_item.id, "public", gone=True, case="C0", source="panel")
    gone_marking = services.add_marking(db, db.get(type(gone_item), objs["I00"].id),
                                        {"text": "TOKM9Z", "kind": MarkingKind.OTHER}, expert)
    objs["M9"] = Obj("M9", gone_marking.id, None, gone=True, item="I00")
    deleted = photo("P9", "C0", "I00", "public")
    purged = photo("P8", "C0", "I00", "public")
    services.soft_delete(db, gone_item, expert, "entered twice")
    services.soft_delete(db, gone_marking, expert, "misread")
    services.soft_delete(db, deleted, expert, "blurred")
    evidence.purge_photo(db, purged, world.panel, admin, "uploaded by mistake")
    objs["P9"].gone = objs["P8"].gone = True
    db.commit()
    return objs


@pytest.fixture(scope="module")
def matrix(database, tmp_path_factory):
    database.truncate()
    app = make_test_app(database, tmp_path_factory.mktemp("matrix") / "instance")
    ctx = app.app_context()
    ctx.push()
    try:
        world = World.build(app)
        objs = build(world)
        tokens = {}
        db = get_session()
        for role in ("viewer", "expert", "coordinator", "admin"):
            membership = db.exec(select(Membership).where(Membership.user_id == world.users[role].id)).one()
            tokens[role] = create_token(db, world.users[role], membership, name="t", role=membership.role, days=30)[1]
        membership = db.exec(select(Membership).where(Membership.user_id == world.outsider.id)).one()
        tokens["outsider"] = create_token(db, world.outsider, membership, name="t", role=Role.ADMIN, days=30)[1]
        db.commit()
        db.close()
        yield app, world, objs, tokens
    finally:
        ctx.pop()
        from panel_tracker.db import get_engine

        get_engine(app).dispose()
        database.truncate()


def browser(world: World, role: str | None):
    g.pop("_login_user", None)
    client = world.app.test_client()
    if role == "outsider":
        return log_in(client, world.outsider)
    return log_in(client, world.users[role]) if role else client


def get(client, url: str, **kw):
    response = client.get(url, **kw)
    try:
        return response.status_code, response.get_data()
    finally:
        response.close()


def tokens_in(text: str, prefix: str) -> set[str]:
    return set(re.findall(rf"TOK({prefix}[0-9A-Za-z]*?)Z", text))


def rule_for(objs, role) -> Rule:
    return Rule(objs, CLEARANCE.get(role))


# ------------------------------------------------------------------ pages and history


@pytest.mark.parametrize("role", ROLES)
def test_pages_and_history_show_exactly_what_the_rule_allows(matrix, role):
    app, world, objs, _ = matrix
    rule, client, problems = rule_for(objs, role), browser(world, role), []
    hidden = 302 if role is None else 404
    for key in [k for k in objs if k[0] == "C"]:
        status, body = get(client, f"/cases/{objs[key].id}")
        html = body.decode()
        if status != (200 if rule.sees(key) else hidden):
            problems.append(f"case page {key}: {status}")
        elif status == 200:
            items = rule.seen("I", case=key)
            if tokens_in(html, "I") != items:
                problems.append(f"case page {key} items {sorted(tokens_in(html, 'I'))} != {sorted(items)}")
            if tokens_in(html, "M") != {f"M{i}" for i in items} & {k for k in objs if rule.sees(k)}:
                problems.append(f"case page {key} markings {sorted(tokens_in(html, 'M'))}")
            unassigned = {objs[p].id for p in rule.seen("Q", case=key)}
            if {int(i) for i in re.findall(r'/photos/(\d+)"', html)} != unassigned:
                problems.append(f"case page {key} unassigned photos")
    for key in [k for k in objs if k[0] == "I"]:
        status, body = get(client, f"/items/{objs[key].id}")
        html = body.decode()
        h_status, h_body = get(client, f"/items/{objs[key].id}/history")
        expected = 200 if rule.sees(key) else hidden
        if (status, h_status) != (expected, expected):
            problems.append(f"item page/history {key}: {status}/{h_status}")
            continue
        if status != 200:
            continue
        shown = rule.source_shown(key)
        for where, text in (("page", html), ("history", h_body.decode())):
            if (f"NOTE{key}Z" in text, f"PLACE{key}Z" in text) != (shown, shown):
                problems.append(f"item {where} {key}: source details shown={not shown}")
        if tokens_in(html, "M") != {k for k in rule.seen("M", item=key)}:
            problems.append(f"item page {key} markings")
        own = {objs[p].id for p in rule.seen("P", item=key)}
        if {int(i) for i in re.findall(r'/photos/(\d+)"', html)} != own:
            problems.append(f"item page {key} photos")
        linked = {objs[p].id for m in rule.seen("M", item=key) for p in rule.linked(m)}
        if {int(i) for i in re.findall(r"Photo (\d+) showing", html)} != linked:
            problems.append(f"item page {key} marking photos")
        sighting = objs[key].sighting_of
        if ("Another sighting" in html) != (sighting is not None and rule.sees(sighting)):
            problems.append(f"item page {key} sighting wording")
        for other in rule.world:
            if other[0] == "I" and other != key and not rule.sees(other) and f"TOK{other}Z" in html:
                problems.append(f"item page {key} names hidden {other}")
    status, body = get(client, "/items?per_page=500")
    if role is None:
        problems += [] if status == 302 else [f"/items {status}"]
    elif tokens_in(body.decode(), "I") != rule.seen("I"):
        problems.append(f"/items lists {sorted(tokens_in(body.decode(), 'I'))}")
    for key in [k for k in objs if k[0] in "PQ"]:
        status, body = get(client, f"/photos/{objs[key].id}")
        if status != (200 if rule.sees(key) else hidden):
            problems.append(f"photo page {key}: {status}")
        elif status == 200 and (f"SRC{key}Z" in body.decode() or f"FILE{key}Z" in body.decode()) != rule.panel_level:
            problems.append(f"photo page {key}: receipt source shown to {role}")
    assert not problems, problems


# ------------------------------------------------------------------ API


def api(app, token):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return lambda url: get(client, "/api/v1" + url, headers=headers)


@pytest.mark.parametrize("role", ROLES)
def test_the_api_shows_exactly_what_the_rule_allows(matrix, role):
    app, world, objs, tokens = matrix
    rule, call, problems = rule_for(objs, role), api(app, tokens.get(role)), []
    status, body = call("/items?per_page=200")
    if role is None:
        assert status == 401
        return
    listed = {i["type"].removeprefix("TOK").removesuffix("Z"): i for i in json.loads(body)["items"]}
    if set(listed) != rule.seen("I"):
        problems.append(f"/items lists {sorted(listed)}")
    status, body = call("/cases?per_page=200")
    if {c["title"].removeprefix("TOK").removesuffix("Z") for c in json.loads(body)["items"]} != rule.seen("C"):
        problems.append("/cases")
    for key, obj in objs.items():
        kind = {"C": "cases", "I": "items", "P": "photos", "Q": "photos", "M": "markings", "N": "inspections"}[key[0]]
        status, body = call(f"/{kind}/{obj.id}")
        if status != (200 if rule.sees(key) else 404):
            problems.append(f"/{kind}/{key}: {status}")
            continue
        if status != 200:
            continue
        data = json.loads(body)
        if kind == "items":
            shown = rule.source_shown(key)
            if (data["notes"], data["recovered_place"], data["source_withheld"]) != (
                    (f"NOTE{key}Z", f"PLACE{key}Z", False) if shown else (None, None, True)):
                problems.append(f"/items/{key} source details")
            if data != listed[key]:
                problems.append(f"/items/{key} differs from the list")
            for ref in ("inspection", "sighting_of"):
                target = getattr(obj, ref)
                expected = objs[target].id if target and rule.sees(target) else None
                if data[f"{ref}_id"] != expected:
                    problems.append(f"/items/{key} {ref}_id {data[f'{ref}_id']} != {expected}")
            _, body = call(f"/items/{obj.id}/markings")
            markings = json.loads(body)["items"]
            if {m["text"].removeprefix("TOK").removesuffix("Z") for m in markings} != rule.seen("M", item=key):
                problems.append(f"/items/{key}/markings")
            for m in markings:
                mkey = m["text"].removeprefix("TOK").removesuffix("Z")
                if {p["photo_id"] for p in m["photos"]} != {objs[p].id for p in rule.linked(mkey)}:
                    problems.append(f"/items/{key}/markings {mkey} photos")
            _, body = call(f"/items/{obj.id}/photos")
            if {p["id"] for p in json.loads(body)["items"]} != {objs[p].id for p in rule.seen("P", item=key)}:
                problems.append(f"/items/{key}/photos")
        if kind == "photos":
            text = body.decode()
            if (f"SRC{key}Z" in text, f"ART{key}Z" in text, "receipts" in data) != (rule.panel_level,) * 3:
                problems.append(f"/photos/{key}: receipts or EXIF for {role}")
    assert not problems, problems


# ------------------------------------------------------------------ exports


def _items_of_rows(rows: list[dict], rule: Rule, where: str, problems: list) -> None:
    found = {row["type"].removeprefix("TOK").removesuffix("Z"): row for row in rows}
    if set(found) != rule.seen("I"):
        problems.append(f"{where} items {sorted(found)}")
    for key, row in found.items():
        shown = rule.source_shown(key)
        if ((row.get("notes") or "") == f"NOTE{key}Z", (row.get("recovered_place") or "") == f"PLACE{key}Z") != (shown, shown):
            problems.append(f"{where} {key} source details")


@pytest.mark.parametrize("role", ROLES)
def test_every_export_holds_exactly_what_the_rule_allows(matrix, role):
    app, world, objs, _ = matrix
    rule, client, problems = rule_for(objs, role), browser(world, role), []
    status, body = get(client, "/items/export?format=csv")
    if role is None:
        assert status == 302
        return
    _items_of_rows(list(csv.DictReader(io.StringIO(body.decode(), newline=""))), rule, "CSV", problems)
    status, body = get(client, "/items/export?format=xlsx")
    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    _items_of_rows([dict(zip(rows[0], row)) for row in rows[1:]], rule, "XLSX", problems)

    sha_to_key = {o.sha: k for k, o in objs.items() if o.sha}
    for url, case in [("/items/export?format=zip", None)] + [
            (f"/cases/{objs[c].id}/export?format=zip", c) for c in sorted(rule.seen("C"))]:
        status, body = get(client, url)
        archive = zipfile.ZipFile(io.BytesIO(body))
        names = archive.namelist()
        records = {json.loads(archive.read(n))["type"].removeprefix("TOK").removesuffix("Z"): json.loads(archive.read(n))
                   for n in names if n.startswith("items/")}
        expected_items = rule.seen("I", case=case) if case else rule.seen("I")
        if set(records) != expected_items:
            problems.append(f"{url} items {sorted(records)}")
        photos_in_json = set()
        for key, record in records.items():
            shown = rule.source_shown(key)
            if (record["notes"] == f"NOTE{key}Z", record["sources_withheld"]) != (shown, not shown):
                problems.append(f"{url} {key} source details")
            if "serial_key" in record:
                problems.append(f"{url} {key} serial_key")
            target = objs[key].sighting_of
            if record["sighting_of"] != (objs[target].ref if target and rule.sees(target) else None):
                problems.append(f"{url} {key} first sighting {record['sighting_of']}")
            inspection = record["inspection"]
            target = objs[key].inspection
            if (inspection is not None) != rule.sees(target):
                problems.append(f"{url} {key} inspection")
            markings = {m["text"].removeprefix("TOK").removesuffix("Z"): m for m in record["markings"]}
            if set(markings) != rule.seen("M", item=key):
                problems.append(f"{url} {key} markings")
            linked = set()
            for mkey, m in markings.items():
                got = {sha_to_key[p["sha256"]] for p in m["photos"]}
                linked |= got
                if got != rule.linked(mkey):
                    problems.append(f"{url} {mkey} photos {sorted(got)} != {sorted(rule.linked(mkey))}")
            listed = {sha_to_key[p["sha256"]] for p in record["photos"]}
            if listed != rule.seen("P", item=key) | linked:
                problems.append(f"{url} {key} photos {sorted(listed)}")
            for p in record["photos"]:
                pkey = sha_to_key[p["sha256"]]
                receipt = p["receipts"][0]
                if ("source" in receipt, f"ART{pkey}Z" in json.dumps(p), "gps_lat" in p) != (rule.panel_level,) * 3:
                    problems.append(f"{url} {pkey} receipt source, EXIF or GPS for {role}")
            photos_in_json |= listed
        if case:
            case_json = json.loads(archive.read("case.json"))
            got = {sha_to_key[p["sha256"]] for p in case_json["photos"]}
            photos_in_json |= got
            if got != rule.seen("Q", case=case):
                problems.append(f"{url} case photos {sorted(got)}")
        files = {sha_to_key[m.group(1)] for n in names if (m := re.match(r"photos/([0-9a-f]{64})-large\.jpg", n))}
        if files != photos_in_json:
            problems.append(f"{url} photo files {sorted(files ^ photos_in_json)}")
        blob = b"".join(archive.read(n) for n in names)
        for key in objs:
            if key[0] in "IPQM" and not rule.sees(key) and f"TOK{key}Z".encode() in blob:
                problems.append(f"{url} holds hidden {key}")
    assert not problems, problems


def test_a_domain_can_restrict_its_objects_to_named_readers(matrix):
    """The hook the coming findings domain needs (source identities only their handlers may
    see): ``extra_condition(reader)`` applies through every door, on top of the rule."""
    from panel_tracker import visibility
    from panel_tracker.cases.models import Case, Inspection

    app, world, objs, tokens = matrix
    kept = visibility.rule(Inspection)
    visibility.register(Inspection, parents=kept.parents, withheld=kept.withheld,
                        extra_condition=lambda reader: Inspection.created_by_id == reader.user_id)
    try:
        inspection = objs["N00"]  # public, in the public case, recorded by the expert
        for role, expected in (("expert", 200), ("coordinator", 404)):
            status, _ = api(app, tokens[role])(f"/inspections/{inspection.id}")
            _, page = get(browser(world, role), f"/cases/{objs['C0'].id}")
            assert (status, "TOKN00Z" in page.decode()) == (expected, expected == 200), role
    finally:
        visibility.register(Inspection, parents=kept.parents, references=kept.references, withheld=kept.withheld,
                            extra_condition=kept.extra_condition)
    assert visibility.rule(Inspection).parents == {"case_id": Case}
