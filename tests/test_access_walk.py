"""Every route, every method, every role: the access model holds everywhere.

The walk reads ``app.url_map`` itself, so a route is covered the day it is added. A route
whose URL takes a parameter the registry ``PARAMS`` below does not know fails with a
message saying which line to add; nobody keeps a list of routes by hand.

For each rule (``static`` aside) and each method (HEAD and OPTIONS aside):

* the view declares its access (``public``, ``login_only`` or ``requires(Role.X)``);
* nobody logged in: redirected to /login (401 for the JSON API);
* each role of panel YEM: below the view's level 403, at or above neither 401, 403, 404 nor 500;
* the API takes bearer tokens only: the session cookie of an admin gets 401;
* the admin of another panel (LBY) gets 404 for any URL naming a YEM object;
* with CSRF protection on, a POST without the token is refused with 400 (API aside).

Each request is made by a fresh client (and in a fresh request context), so one request
(``/logout``, say) cannot change the next. POSTs send an empty form.
"""
from __future__ import annotations

import functools
import itertools
import re
import tempfile
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlparse

import pytest
from sqlmodel import select

from panel_tracker import create_app
from panel_tracker.auth import services
from panel_tracker.auth.access import ACCESS_LEVELS, LOGIN, PUBLIC
from panel_tracker.auth.models import Membership, Role, User
from panel_tracker.db import get_session
from tests.conftest import app_config_key, make_test_app, new_world
from tests.sharing import SHARES_WORLD, shared_world, shares_world

SKIPPED_ENDPOINTS = {"static"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
REFUSALS = {401, 403, 404, 405, 500}


@pytest.fixture
def app(module_apps, database, request, tmp_path_factory):
    """As ``tests.conftest.app``, but one app per module and configuration, not per test.

    The walk makes a world for each of ~140 rules and methods per backend; building the
    app each time (compiling 80 URL rules and every template) would cost more than the
    requests themselves. The tables are still emptied before each test, except for tests
    that share the module's world: they have an app (and instance folder) of their own,
    and ``SharedWorld`` keeps their tables.
    """
    marker = request.node.get_closest_marker("app_config")
    overrides = marker.kwargs if marker else {}
    shared = shares_world(request)
    key = (tuple(sorted(overrides.items())), shared)
    if key not in module_apps:
        module_apps[key] = make_test_app(database, tmp_path_factory.mktemp("walk"), **overrides)
    application = module_apps[key]
    if not shared:
        database.truncate()
    ctx = application.app_context()
    ctx.push()
    yield application
    ctx.pop()


@pytest.fixture
def world(app, database, request, shared_worlds):
    """The test's own world (``tests.conftest.world``), or, for a test marked
    ``shares_world``, the module's shared one, as it was built."""
    if not shares_world(request):
        return new_world(app, database, request)
    return shared_world(shared_worlds, app_config_key(request), app, database, _logged_in)


def _fill(name: str, actor: "Actor"):
    """The value of URL parameter ``name`` for ``actor``: a fresh object, or in a shared
    world the one made for this parameter and actor the first time."""
    shared = getattr(actor.world, "shared", None)
    if shared is None:
        return PARAMS[name].fill(actor)
    return shared.keep(("param", name, actor.user.id if actor.user else None), lambda: PARAMS[name].fill(actor))


# ------------------------------------------------------------------ logging in, with or without CSRF

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1) or match.group(2)


def _csrf_field(client, page: str) -> dict:
    """{"csrf_token": …} read from ``page`` when the app checks CSRF, else nothing."""
    if not client.application.config.get("WTF_CSRF_ENABLED", True):
        return {}
    return {"csrf_token": csrf_token_from(client.get(page).get_data(as_text=True))}


def _logged_in(app, user: User):
    from tests.factories import PASSWORD

    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, **_csrf_field(client, "/login")})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


# ------------------------------------------------------------------ the parameter registry


@dataclass
class Actor:
    """Who makes the request: a YEM member, the LBY outsider, or nobody (``user=None``)."""

    world: object
    user: User | None

    def membership(self, panel=None) -> Membership | None:
        panel = panel or self.world.panel
        if self.user is None:
            return None
        return get_session().exec(
            select(Membership).where(Membership.user_id == self.user.id, Membership.panel_id == panel.id)
        ).first()


@dataclass(frozen=True)
class Param:
    fill: Callable[[Actor], object]
    panel_object: bool  # names an object of panel YEM: the LBY outsider must get 404


def panel_object(fill: Callable[[Actor], object]) -> Param:
    """A parameter naming an object of panel YEM (the outsider must not reach it)."""
    return Param(fill, True)


def plain_value(fill: Callable[[Actor], object]) -> Param:
    """A parameter that names no panel object (a page, a format, a public secret)."""
    return Param(fill, False)


_counter = itertools.count(1)


def _next() -> int:
    """A number no other object of the session has used (case references, file names)."""
    return next(_counter)


def _membership_of(world, role: str) -> int:
    return Actor(world, world.users[role]).membership().id


def _owner(actor: Actor, minimum: Role = Role.VIEWER) -> User:
    """Whose personal object to use: the acting YEM member's own (if their role may make
    one), else the YEM expert's — so the outsider is shown somebody else's and must get 404."""
    member = actor.membership()
    if member is not None and member.role.rank >= minimum.rank:
        return actor.user
    return actor.world.users["expert" if minimum.rank <= Role.EXPERT.rank else minimum.value]


def _committed(obj):
    db = get_session()
    db.add(obj)
    db.commit()
    return obj


def _seen_by_every_role(obj):
    """Objects start "panel" only, which hides them (404) from viewers; the walk wants
    every role to reach the object, so it is made committee level."""
    from panel_tracker.classification import Classification

    for name in ("classification", "source_classification"):
        if hasattr(obj, name):
            setattr(obj, name, Classification.COMMITTEE)
    return _committed(obj)


def _token_of_actor(actor: Actor) -> int:
    """Tokens are personal: the acting YEM member's own token; for anyone else a YEM member's."""
    db = get_session()
    user = _owner(actor)
    member = Actor(actor.world, user).membership()
    token, _ = services.create_token(db, user, member, name="walk", role=member.role, days=30)
    db.commit()
    return token.id


def _invite_secret(actor: Actor) -> str:
    db = get_session()
    _, secret = services.invite_member(db, actor.world.panel, f"invitee{_next()}@yem.example", "Invitee", Role.EXPERT)
    db.commit()
    return secret


def _case(actor: Actor):
    from panel_tracker.cases.services import create_case

    case = create_case(get_session(), actor.world.panel, {"ref": f"YEM-2024-{_next():03d}", "title": "Walk"}, None)
    return _seen_by_every_role(case)


def _inspection(actor: Actor) -> int:
    from datetime import date

    from panel_tracker.cases.services import create_inspection

    inspection = create_inspection(get_session(), _case(actor), {"inspected_on": date(2024, 6, 1), "place": "Aden"}, None)
    return _seen_by_every_role(inspection).id


def _item(actor: Actor):
    from panel_tracker.cases.services import create_item

    item = create_item(get_session(), _case(actor), {"category": "small_arm", "type": "assault rifle",
                                                      "quantity": 1}, None)
    return _seen_by_every_role(item)


def _marking(actor: Actor):
    from panel_tracker.cases.services import add_marking

    return _committed(add_marking(get_session(), _item(actor), {"text": "66", "kind": "factory_code"}, None))


def _photo(actor: Actor, case=None):
    import io

    from PIL import Image

    from panel_tracker.evidence.services import receive_photo

    n = _next()
    image, data = Image.new("RGB", (64, 48), ((n * 37) % 256, (n * 91) % 256, (n * 13) % 256)), io.BytesIO()
    image.save(data, "JPEG")
    data.seek(0)
    received = receive_photo(get_session(), actor.world.panel, data, filename=f"walk-{n}.jpg", actor=None,
                             case_id=(case or _case(actor)).id)
    return _seen_by_every_role(received.photo)


def _marking_photo_link(actor: Actor) -> int:
    from panel_tracker.cases.services import link_marking_photo

    from panel_tracker.cases.models import Case, Item

    marking = _marking(actor)
    case = get_session().get(Case, get_session().get(Item, marking.item_id).case_id)
    photo = _photo(actor, case=case)  # a marking shows on a photo of its item's case
    return _committed(link_marking_photo(get_session(), marking, photo, None, None)).id


def _bulk_import(actor: Actor) -> int:
    """Bulk imports are shown to whoever started them (and coordinators)."""
    from panel_tracker.evidence.bulk_models import BulkImport, BulkImportStatus

    return _committed(BulkImport(panel_id=actor.world.panel.id, case_id=_case(actor).id,
                                 created_by_id=_owner(actor, Role.EXPERT).id, status=BulkImportStatus.DONE)).id


def _item_import_upload(actor: Actor) -> str:
    """A spreadsheet waiting for review: personal, made through the real upload page."""
    import io

    client = _logged_in(actor.world.app, _owner(actor, Role.EXPERT))
    csv = "item_ref,category,type\nYEM-2024-001/01,small_arm,assault rifle\n"
    response = client.post("/items/import", content_type="multipart/form-data", data={
        "file": (io.BytesIO(csv.encode()), "items.csv"), **_csrf_field(client, "/items/import")})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return urlparse(response.headers["Location"]).path.split("/")[3]


def _letter(actor: Actor):
    """A committee-level trace request, sent, about a committee-level item (every role may see it)."""
    from datetime import date

    from panel_tracker.traces import services as traces

    db = get_session()
    addressee = traces.state_addressee(db, actor.world.panel, "CHN", None)
    letter = traces.draft_letter(db, actor.world.panel, {"kind": "trace_request", "addressee_id": addressee.id,
                                                         "classification": "committee"},
                                 None, item_ids=[_item(actor).id], ref=f"YEM-L-W{_next()}")
    traces.send_letter(db, letter, None, sent_on=date(2024, 3, 1))
    return _committed(letter)


def _item_reply(actor: Actor):
    """A reply naming another party for the letter's item (a follow-up may be drafted)."""
    from datetime import date

    from panel_tracker.traces import services as traces
    from panel_tracker.traces.models import ItemReply, LetterItem

    db = get_session()
    letter = _letter(actor)
    link = db.exec(select(LetterItem).where(LetterItem.letter_id == letter.id)).one()
    reply = traces.record_reply(db, letter, None, received_on=date(2024, 4, 1), summary="Exported.", complete=False,
                                item_outcomes=[{"letter_item_id": link.id, "outcome": "transferred",
                                                "party_country": "ARE"}])
    db.commit()
    return db.exec(select(ItemReply).where(ItemReply.reply_id == reply.id)).one()


def _reply_document(actor: Actor) -> int:
    import io
    from datetime import date

    from panel_tracker.traces import services as traces
    from panel_tracker.traces.models import ReplyDocument

    db = get_session()
    reply = traces.record_reply(db, _letter(actor), None, received_on=date(2024, 4, 1), summary="Note verbale.",
                                complete=True, documents=[(io.BytesIO(b"%PDF-1.4 walk " + str(_next()).encode()), "nv.pdf")])
    db.commit()
    return db.exec(select(ReplyDocument).where(ReplyDocument.reply_id == reply.id)).one().id


def _audit_seq(actor: Actor) -> int:
    """The seq of an audit record of panel YEM (a case's creation)."""
    from panel_tracker.audit.models import AuditRecord

    case = _case(actor)
    return get_session().exec(select(AuditRecord.seq).where(AuditRecord.action == "case.create",
                                                            AuditRecord.object_id == case.id)).first()


def _saved_search(actor: Actor) -> int:
    """Saved searches are their owner's own."""
    from panel_tracker.search.services import save_search

    return _committed(save_search(get_session(), actor.world.panel, _owner(actor), "walk", "24017731", {},
                                  notify=False)).id


def _report(actor: Actor):
    """A draft report with one committee-level annex holding one committee-level text block."""
    from datetime import date

    from panel_tracker.annexes import services as annexes

    db = get_session()
    report = annexes.create_report(db, actor.world.panel, {"title": f"Walk report {_next()}",
                                                           "cut_off": date(2025, 1, 31)}, None)
    annex = annexes.add_annex(db, report, {"title": "Walk annex", "classification": "committee"}, None)
    annexes.add_block(db, report, annex, {"kind": "text", "classification": "committee",
                                          "settings": {"text": "Walk text."}}, None)
    db.commit()
    return report


def _annex(actor: Actor):
    from panel_tracker.annexes.services import annexes_of

    return annexes_of(get_session(), _report(actor))[0]


def _block(actor: Actor) -> int:
    from panel_tracker.annexes.services import blocks_of

    return blocks_of(get_session(), _annex(actor))[0].id


def _annex_build(actor: Actor) -> int:
    """A finished committee-edition build of a walk report's annex, its file in place."""
    import hashlib

    from panel_tracker.annexes import builds
    from panel_tracker.annexes.models import AnnexBuild, BuildFormat, BuildState, Edition

    annex = _annex(actor)
    data = b"%PDF-1.4 walk " + str(_next()).encode()
    build = _committed(AnnexBuild(panel_id=actor.world.panel.id, report_id=annex.report_id, annex_id=annex.id,
                                  edition=Edition.COMMITTEE, format=BuildFormat.PDF, state=BuildState.DONE,
                                  progress=100, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                                  pages=1))
    builds.file_path(actor.world.panel.code, build).write_bytes(data)
    return build.id


# Add a line here when a route takes a new URL parameter: the name in the rule, and a
# function of the Actor returning the id (or value) of a panel-YEM object to put in the URL.
# Make a fresh object on each call: a POST with an empty form may well delete the last one.
PARAMS: dict[str, Param] = {
    "membership_id": panel_object(lambda a: _membership_of(a.world, "viewer")),
    "token_id": panel_object(_token_of_actor),
    "secret": plain_value(_invite_secret),
    "case_id": panel_object(lambda a: _case(a).id),
    "inspection_id": panel_object(_inspection),
    "item_id": panel_object(lambda a: _item(a).id),
    "marking_id": panel_object(lambda a: _marking(a).id),
    "photo_id": panel_object(lambda a: _photo(a).id),
    "link_id": panel_object(_marking_photo_link),
    "bulk_id": panel_object(_bulk_import),
    "upload_id": panel_object(_item_import_upload),
    "saved_id": panel_object(_saved_search),
    "size": plain_value(lambda a: "thumb"),
    "letter_id": panel_object(lambda a: _letter(a).id),
    "addressee_id": panel_object(lambda a: _letter(a).addressee_id),
    "item_reply_id": panel_object(lambda a: _item_reply(a).id),
    "document_id": panel_object(_reply_document),
    "fmt": plain_value(lambda a: "pdf"),
    "seq": panel_object(_audit_seq),
    "report_id": panel_object(lambda a: _report(a).id),
    "annex_id": panel_object(lambda a: _annex(a).id),
    "block_id": panel_object(_block),
    "build_id": panel_object(_annex_build),
}


# ------------------------------------------------------------------ collecting the rules


def _walked_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        for method in sorted(rule.methods - SKIPPED_METHODS):
            yield rule, method


@functools.cache
def _rule_ids() -> list[tuple[str, str]]:
    """(method, rule) of the application as it is built, read once at collection time."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"ENV": "test", "INSTANCE_PATH": instance, "SECRET_KEY": "collect",
                          "DATABASE_URL": "sqlite://"})
        return [(method, rule.rule) for rule, method in _walked_rules(app)]


def pytest_generate_tests(metafunc):
    if "route" in metafunc.fixturenames:
        routes = _rule_ids()
        if metafunc.function.__name__ == "test_post_without_csrf_token_is_refused":
            # Refused before any view runs: the test only reads (SharedWorld checks it).
            routes = [(m, r) for m, r in routes if m == "POST" and not r.startswith("/api/")]
            params = [pytest.param(route, marks=SHARES_WORLD, id=f"{route[0]} {route[1]}") for route in routes]
        else:
            # GETs only read; they come first, so the shared world is kept through them.
            params = [pytest.param(route, marks=[SHARES_WORLD] if route[0] == "GET" else [],
                                   id=f"{route[0]} {route[1]}")
                      for route in sorted(routes, key=lambda route: route[0] != "GET")]
        metafunc.parametrize("route", params)


def _find_rule(app, route):
    method, path = route
    for rule, m in _walked_rules(app):
        if (m, rule.rule) == (method, path):
            return rule
    pytest.fail(f"{method} {path} was collected but is not in app.url_map any more")


def _url(rule, actor: Actor) -> str:
    values = {}
    for name in sorted(rule.arguments):
        if name not in PARAMS:
            pytest.fail(
                f"URL parameter {name!r} of {rule.rule} is not in PARAMS of tests/test_access_walk.py. "
                f"Add a line: {name!r}: panel_object(lambda a: <id of a panel-YEM object>), or "
                f"plain_value(...) if it names no panel object.",
                pytrace=False,
            )
        values[name] = _fill(name, actor)
    _, path = rule.build(values, append_unknown=False)
    return path


def _names_panel_object(rule) -> bool:
    return any(PARAMS[name].panel_object for name in rule.arguments if name in PARAMS)


# ------------------------------------------------------------------ requests


def _send(client, method: str, url: str, **kwargs):
    response = client.open(url, method=method, data={} if method == "POST" else None, **kwargs)
    response.close()  # a file sent (a photo) stays open until then
    return response


def _bearer_for(world, user: User) -> dict:
    shared = getattr(world, "shared", None)
    if shared is not None:
        return shared.keep(("bearer", user.id), lambda: _new_bearer(world, user))
    return _new_bearer(world, user)


def _new_bearer(world, user: User) -> dict:
    db = get_session()
    member = Actor(world, user).membership(
        world.panel if user.id != world.outsider.id else world.other_panel)
    _, secret = services.create_token(db, user, member, name="walk", role=member.role, days=30)
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def _allowed(level: str, role: Role) -> bool:
    return level in (PUBLIC, LOGIN) or role.rank >= Role(level).rank


def _describe(method, url, who, response) -> str:
    return f"{method} {url} as {who}: {response.status_code} {response.headers.get('Location', '')}".strip()


# ------------------------------------------------------------------ the walk


@SHARES_WORLD
def test_a_shared_world_is_put_back_after_a_test_changed_it(app, world):
    """What a shared test changes, an update without any new row included, never reaches
    the next: the database is compared with the snapshot and put back."""
    shared = world.shared
    db = get_session()
    membership = Actor(world, world.users["viewer"]).membership()
    membership.role = Role.ADMIN
    db.add(membership)
    db.commit()
    restores = shared.restores
    shared.settle()
    assert shared.restores == restores + 1
    db.expire_all()
    assert Actor(world, world.users["viewer"]).membership().role == Role.VIEWER
    shared.settle()  # as it was: nothing to put back
    assert shared.restores == restores + 1


def test_every_view_declares_its_access(app):
    undeclared = [
        f"{rule.rule} ({rule.endpoint})" for rule, _ in _walked_rules(app)
        if getattr(app.view_functions[rule.endpoint], "access", None) not in ACCESS_LEVELS
    ]
    assert not undeclared, (
        "Every view needs @public, @login_only or @requires(Role.X) from panel_tracker.auth.access; "
        f"undeclared: {undeclared}")


# Areas where every page needs at least this level, whatever a new view declares.
MINIMUM_BY_PREFIX = {"/admin/": Role.ADMIN, "/audit/": Role.COORDINATOR, "/api/": Role.VIEWER}


def test_admin_audit_and_api_pages_declare_at_least_their_areas_level(app):
    too_open = []
    for rule, _ in _walked_rules(app):
        level = getattr(app.view_functions[rule.endpoint], "access", None)
        if level not in ACCESS_LEVELS:
            continue  # reported by test_every_view_declares_its_access
        for prefix, minimum in MINIMUM_BY_PREFIX.items():
            if rule.rule.startswith(prefix) and ACCESS_LEVELS.index(level) < ACCESS_LEVELS.index(minimum.value):
                too_open.append(f"{rule.rule} declares {level}, below {minimum.value}")
    assert not too_open, "\n".join(sorted(set(too_open)))


def test_the_walk_covers_every_rule_of_the_app(app):
    assert sorted((m, r.rule) for r, m in _walked_rules(app)) == sorted(_rule_ids())


def test_route_obeys_the_access_model(app, world, route):
    rule = _find_rule(app, route)
    method = route[0]
    level = getattr(app.view_functions[rule.endpoint], "access", None)
    assert level in ACCESS_LEVELS, f"{rule.rule}: the view declares no access level"
    api = rule.rule.startswith("/api/")
    wrong = []

    # Nobody logged in.
    url = _url(rule, Actor(world, None))
    response = _send(app.test_client(), method, url)
    if level == PUBLIC:
        if response.status_code in REFUSALS:
            wrong.append(_describe(method, url, "anonymous (public view)", response))
    elif api:
        if response.status_code != 401:
            wrong.append(_describe(method, url, "anonymous (expected 401)", response))
    elif response.status_code != 302 or urlparse(response.headers.get("Location", "")).path != "/login":
        wrong.append(_describe(method, url, "anonymous (expected 302 to /login)", response))

    # Each role of panel YEM.
    for role in Role:
        user = world.users[role.value]
        url = _url(rule, Actor(world, user))
        if api and level != PUBLIC:
            response = _send(app.test_client(), method, url, headers=_bearer_for(world, user))
        else:
            response = _send(world.client(user=user), method, url)
        if _allowed(level, role):
            if response.status_code in REFUSALS:
                wrong.append(_describe(method, url, f"{role.value} (allowed at level {level})", response))
        elif response.status_code != 403:
            wrong.append(_describe(method, url, f"{role.value} (expected 403 at level {level})", response))

    # The API never takes the session cookie.
    if api and level != PUBLIC:
        admin = world.users["admin"]
        url = _url(rule, Actor(world, admin))
        response = _send(world.client(user=admin), method, url)
        if response.status_code != 401:
            wrong.append(_describe(method, url, "admin with session cookie on the API (expected 401)", response))

    # The admin of another panel reaches no YEM object.
    if level != PUBLIC and _names_panel_object(rule):
        outsider = world.outsider
        url = _url(rule, Actor(world, outsider))
        if api:
            response = _send(app.test_client(), method, url, headers=_bearer_for(world, outsider))
        else:
            response = _send(world.client(user=outsider), method, url)
        if response.status_code != 404:
            wrong.append(_describe(method, url, "admin of LBY on a YEM object (expected 404)", response))

    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------ CSRF


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_post_without_csrf_token_is_refused(app, world, route):
    rule = _find_rule(app, route)
    admin = world.users["admin"]
    client = world.client(user=admin)
    url = _url(rule, Actor(world, admin))
    response = client.post(url, data={})
    assert response.status_code == 400, _describe("POST", url, "admin without CSRF token", response)
    assert "CSRF" in response.get_data(as_text=True)
    anonymous = app.test_client().post(_url(rule, Actor(world, None)), data={})
    assert anonymous.status_code == 400


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_post_with_csrf_token_is_accepted(app, world):
    """The other side: the same form with its token goes through (logout, here)."""
    client = _logged_in(app, world.users["expert"])
    token = csrf_token_from(client.get("/dashboard").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and urlparse(response.headers["Location"]).path == "/login"
    assert client.get("/dashboard").status_code == 302


# ------------------------------------------------------------------ the photo list (/photos)


def _photo_ids_listed(client, url: str = "/photos") -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return {int(n) for n in re.findall(r'href="/photos/(\d+)"', response.get_data(as_text=True))}


def test_the_photo_list_shows_each_reader_exactly_the_photos_they_may_see(app, world):
    """The dashboard's photo count links to /photos: it lists what visibility.py lets the reader
    see (a panel-only photo, or one of a panel-only case or item, is not a viewer's), and the
    admin of another panel sees none of YEM's."""
    from panel_tracker.classification import Classification

    viewer, expert = Actor(world, world.users["viewer"]), Actor(world, world.users["expert"])
    open_case = _case(expert)
    seen = _photo(expert, case=open_case)
    panel_only = _photo(expert, case=open_case)
    panel_only.classification = Classification.PANEL
    _committed(panel_only)
    closed_case = _case(expert)
    closed_case.classification = Classification.PANEL
    in_closed_case = _photo(expert, case=_committed(closed_case))
    item = _item(expert)
    item.classification = Classification.PANEL
    _committed(item)
    of_closed_item = _photo(expert, case=get_session().get(type(open_case), item.case_id))
    of_closed_item.item_id = item.id
    _committed(of_closed_item)

    every = {seen.id, panel_only.id, in_closed_case.id, of_closed_item.id}
    assert _photo_ids_listed(world.client(user=viewer.user)) == {seen.id}
    assert _photo_ids_listed(world.client(user=expert.user)) == every
    assert _photo_ids_listed(world.client(user=world.users["expert"]), f"/photos?case={open_case.ref}") \
        == {seen.id, panel_only.id}
    assert _photo_ids_listed(world.client(user=viewer.user), f"/photos?case={closed_case.ref}") == set()
    assert _photo_ids_listed(world.client(user=world.outsider)) == set()
    assert _photo_ids_listed(world.client(user=world.outsider), f"/photos?case={open_case.ref}") == set()

    dashboard = world.client(user=viewer.user).get("/dashboard").get_data(as_text=True)
    assert re.search(r'<a href="/photos"><strong>1</strong> photo</a>', dashboard)
    page = world.client(user=viewer.user).get("/photos").get_data(as_text=True)
    assert f'src="/photos/{seen.id}/thumb.jpg"' in page and "Page 1 of 1 · 1 photo" in page
