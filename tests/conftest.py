"""Fixtures: every database test runs on SQLite and on PostgreSQL.

Each test run creates its own PostgreSQL database (``pt_test_<random>``) and drops it at
the end. With ``CI=true`` a missing PostgreSQL fails the run instead of skipping it.
Set ``PANEL_TRACKER_TEST_BACKENDS=sqlite`` to run the SQLite half only while developing.
"""
from __future__ import annotations

import contextvars
import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.bccache
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from sqlmodel import SQLModel

from panel_tracker import create_app, migrations
from panel_tracker.db import make_engine
from panel_tracker.models import import_all

PG_ADMIN_URL = os.environ.get("PANEL_TRACKER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = os.environ.get("PANEL_TRACKER_TEST_BACKENDS", "sqlite,postgresql").split(",")
SAMPLE = Path(__file__).parent / "data" / "sample"

import_all()


def _share_url_rules() -> None:
    """Every test makes its own app (its own config and instance folder), and Werkzeug
    parses each of the app's ~140 URL rules with regular expressions and compiles two
    Python functions for it: two thirds of ``create_app``'s time, repeated in some 2,000
    tests. What it makes depends only on the rule (its text, defaults and converters) and
    the map's settings, so the test run does it once per rule: later apps' rules take the
    parsed parts, and a builder function compiled once, and make their own converter
    objects with the arguments the first parse gave them. Behaviour is unchanged; without
    these Werkzeug internals (another version), apps simply compile their own."""
    from werkzeug.routing.rules import Rule

    compile_rule = Rule.compile
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or not hasattr(Rule, "_parse_rule"):
        return
    built: dict = {}
    parsed: dict = {}

    def shared_builder(self, append_unknown: bool = True):
        key = (self.rule, tuple(self._trace), append_unknown,
               tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items())),
               tuple(sorted((k, type(c).__qualname__, repr({a: v for a, v in vars(c).items() if a != "map"}))
                            for k, c in self._converters.items())))
        try:
            return built[key]
        except KeyError:
            built[key] = function = compile_builder(self, append_unknown)
            return function
        except TypeError:  # something unhashable: compile as Werkzeug would
            return compile_builder(self, append_unknown)

    def shared_compile(self) -> None:
        key = (self.rule, self.subdomain, self.host, self.merge_slashes, self.map.host_matching,
               tuple(sorted(self.arguments)), tuple(sorted(self.map.converters.items())))
        if key in parsed:
            parts, trace, converters, arguments = parsed[key]
            self._parts, self._trace, self.arguments = list(parts), list(trace), set(arguments)
            self._converters = {variable: self.get_converter(variable, name, args, kwargs)
                                for variable, name, args, kwargs in converters}
            self._build = self._compile_builder(False).__get__(self, None)
            self._build_unknown = self._compile_builder(True).__get__(self, None)
            return
        converters = []
        get_converter = self.get_converter

        def recording(variable, name, args, kwargs):
            converters.append((variable, name, args, dict(kwargs)))
            return get_converter(variable, name, args, kwargs)

        self.get_converter = recording
        try:
            compile_rule(self)
        finally:
            del self.get_converter
        parsed[key] = (tuple(self._parts), tuple(self._trace), tuple(converters), frozenset(self.arguments))

    Rule._compile_builder = shared_builder
    Rule.compile = shared_compile

_share_url_rules()


class _SharedTemplateCode(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept for every app of the test run.

    Each app has its own Jinja environment, which parses and compiles each template the
    first time a test renders it: some 100 ms for a page and its base, paid again in every
    test that renders one. Jinja's own bytecode cache (documented, in memory here) hands
    every app the code compiled the first time; a template whose source changed (its
    checksum) is compiled again. All test apps set up Jinja the same way (create_app)."""

    def __init__(self) -> None:
        self.code: dict[str, tuple[str, object]] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        checksum, code = self.code.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = (bucket.checksum, bucket.code)


TEMPLATE_CODE = _SharedTemplateCode()


@dataclass
class Database:
    backend: str
    url: str
    engine: sa.Engine

    def truncate(self) -> None:
        """Empty every table and start ids at 1 again, before each test.

        DELETE, children first, not PostgreSQL's TRUNCATE: a test leaves a few rows, and
        TRUNCATE of some fifty tables costs most of a second (new files for every table),
        which over a thousand tests was a third of the suite's time. On PostgreSQL all in
        one round trip (one string of statements); on SQLite only the tables that have rows."""
        tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.exec_driver_sql("".join(f'DELETE FROM "{name}"; ' for name in tables)
                                     + "SELECT setval(c.oid, 1, false) FROM pg_class c "
                                       "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace")
                return
            used = conn.execute(sa.text("SELECT " + ", ".join(
                f'EXISTS (SELECT 1 FROM "{name}")' for name in tables))).one()
            for name, has_rows in zip(tables, used):
                if has_rows:
                    conn.execute(sa.text(f'DELETE FROM "{name}"'))
            if _has_sqlite_sequence(conn):
                conn.execute(sa.text("DELETE FROM sqlite_sequence"))

    def snapshot(self) -> "Snapshot":
        """Every row of every table, and where each table's ids stand."""
        with self.engine.connect() as conn:
            rows = []
            for table in SQLModel.metadata.sorted_tables:
                found = [dict(row) for row in conn.execute(
                    table.select().order_by(*table.primary_key.columns)).mappings()]
                if found:
                    rows.append((table, found))
            if self.backend == "postgresql":
                sequences = conn.execute(sa.text(
                    "SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences "
                    "WHERE schemaname = 'public' AND last_value IS NOT NULL")).all()
            elif _has_sqlite_sequence(conn):
                sequences = conn.execute(sa.text("SELECT name, seq FROM sqlite_sequence")).all()
            else:
                sequences = []
        return Snapshot(rows, [tuple(s) for s in sequences], self.fingerprint())

    def restore(self, snapshot: "Snapshot") -> None:
        """Put back exactly what ``snapshot`` holds (ids included) into emptied tables."""
        with self.engine.begin() as conn:
            for table, rows in snapshot.rows:
                conn.execute(table.insert(), rows)
            for name, value in snapshot.sequences:
                if self.backend == "postgresql":
                    conn.execute(sa.text("SELECT setval(CAST(:name AS regclass), :value, true)"),
                                 {"name": name, "value": value})
                else:
                    conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :value)"),
                                 {"name": name, "value": value})
        assert self.fingerprint() == snapshot.fingerprint, "the snapshot did not come back as it was taken"

    def fingerprint(self) -> str:
        """A digest of every row of every table, in one query: equal digests, equal contents.

        Two columns are left out: when a login session or an API token was last used
        (written by any request that presents one, at most once a minute for sessions),
        which says nothing of what a test may see or do."""
        parts = []
        for table in SQLModel.metadata.sorted_tables:
            columns = [c.name for c in table.columns if (table.name, c.name) not in UNFINGERPRINTED]
            if self.backend == "postgresql":
                row = "ROW(" + ", ".join(f't."{c}"' for c in columns) + ")::text"
                parts.append(f"(SELECT md5(coalesce(string_agg({row}, '|' ORDER BY {row}), '')) "
                             f'FROM "{table.name}" t)')
            else:
                row = " || ',' || ".join(f'quote("{c}")' for c in columns)
                parts.append(f"(SELECT group_concat(r, '|') FROM (SELECT {row} AS r "
                             f'FROM "{table.name}" ORDER BY r))')
        with self.engine.connect() as conn:
            values = conn.execute(sa.text("SELECT " + ", ".join(parts))).one()
        return hashlib.sha256(repr(tuple(values)).encode()).hexdigest()

    def is_pristine(self) -> bool:
        """Whether every table is empty and its ids would start at 1 (as ``truncate`` leaves them)."""
        used = [f'EXISTS (SELECT 1 FROM "{t.name}")' for t in SQLModel.metadata.sorted_tables]
        with self.engine.connect() as conn:
            if self.backend == "postgresql":
                used.append("EXISTS (SELECT 1 FROM pg_sequences WHERE schemaname = 'public' "
                            "AND last_value IS NOT NULL)")
            elif _has_sqlite_sequence(conn):
                used.append("EXISTS (SELECT 1 FROM sqlite_sequence)")
            return not conn.execute(sa.text("SELECT " + " OR ".join(used))).scalar()


UNFINGERPRINTED = {("user_session", "last_seen_at"), ("api_token", "last_used_at")}


@dataclass
class Snapshot:
    rows: list  # (table, [row as a dict]) for each table that has rows, parents first
    sequences: list  # (sequence or table name, last id given out)
    fingerprint: str
    taken: float = field(default_factory=time.monotonic)


def _has_sqlite_sequence(conn) -> bool:
    return conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None


def _create_pg_database(name: str) -> str:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            # A transaction left open by a test would make the next test's TRUNCATE wait
            # for ever; with these, it fails fast and names the test instead.
            conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET idle_in_transaction_session_timeout = '60s'"))
            conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET lock_timeout = '60s'"))
            # A commit need not wait for its WAL to reach the disk: a test database never
            # outlives a crash. Each test commits dozens of times; on this shared disk each
            # wait was milliseconds to tens of milliseconds.
            conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET synchronous_commit = off"))
    finally:
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def new_database(backend: str, tmp_dir: Path):
    """Create an empty database of this backend; return (url, cleanup)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'test-{uuid.uuid4().hex[:8]}.db'}", lambda: None
    name = f"pt_test_{uuid.uuid4().hex[:12]}"
    try:
        url = _create_pg_database(name)
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    return url, lambda: _drop_pg_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def database(request, tmp_path_factory):
    url, cleanup = new_database(request.param, tmp_path_factory.mktemp(request.param))
    engine = make_engine(url)
    migrations.upgrade(engine)
    yield Database(request.param, url, engine)
    engine.dispose()
    cleanup()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a fresh context, as on a real server.

    The ``app`` fixture keeps an application context pushed for the whole test, and Flask
    reuses a pushed context for test-client requests: without this, every request would
    share ``g`` with the test and with each other (the database session, Flask-Login's
    cached user). Here each request has its own ``g`` and session, and the test's session
    sees only what the request committed.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_test_app(database: Database, instance: Path, **overrides):
    config = {
        "ENV": "test",
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database.url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "PROPAGATE_UNEXPECTED": True,
        "SERVER_NAME": "localhost",
        # Long annexes' chunks laid out in this process: two worker processes cost seconds to
        # start; tests/test_annex_chunks.py asks for them where it tests them.
        "ANNEX_LAYOUT_WORKERS": 1,
        # Print derivatives ahead of builds: a background job per photo upload would outlive
        # its test; tests/test_annex_prints_ahead.py turns it on where it tests it.
        "ANNEX_PRINTS_AHEAD": False,
    }
    config.update(overrides)
    application = create_app(config)
    application.test_client_class = IsolatedClient
    application.jinja_env.bytecode_cache = TEMPLATE_CODE
    return application


@pytest.fixture
def app(database, tmp_path, request):
    yield from fresh_app(database, tmp_path, request)


def fresh_app(database, tmp_path, request):
    """The ``app`` fixture's app, for fixtures of the same name that fall back on it."""
    database.truncate()
    marker = request.node.get_closest_marker("app_config")
    overrides = marker.kwargs if marker else {}
    application = make_test_app(database, tmp_path / "instance", **overrides)
    ctx = application.app_context()
    ctx.push()
    yield application
    ctx.pop()
    from panel_tracker.db import get_engine

    get_engine(application).dispose()


@pytest.fixture(scope="module")
def module_apps(database):
    """Apps kept for one test module, by configuration, for modules that build one app per
    configuration instead of one per test (the access walk, the API); disposed of after it."""
    from panel_tracker.db import get_engine

    apps: dict = {}
    yield apps
    for application in apps.values():
        get_engine(application).dispose()


@pytest.fixture(scope="module")
def shared_worlds(database):
    """The module's SharedWorld of each app configuration (tests marked ``shares_world``,
    ``tests/sharing.py``)."""
    return {}


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """A session for the test's own reads and writes. Requests close theirs at teardown;
    this one is closed here, so no transaction stays open into the next test."""
    from panel_tracker.db import get_session

    session = get_session()
    yield session
    session.close()


#: How long a world's snapshot serves (seconds) before the world is built again, so that
#: its rows' times (accounts, memberships, audit records) stay close to the test's.
WORLD_MAX_AGE = 60.0
_worlds: dict = {}  # (backend, app configuration) -> (Snapshot, World.ids())


def app_config_key(request) -> str:
    marker = request.node.get_closest_marker("app_config")
    return repr(sorted(marker.kwargs.items())) if marker else ""


@pytest.fixture
def world(app, database, request):
    """Two panels, a member of each role in each, and helpers to log them in.

    Built through the services (``World.build``) in the first test of each backend and
    app configuration, and put back from a snapshot of its rows in the next tests of the
    minute: the same rows, ids, password hashes and audit chain as building it again, in
    a tenth of the time (hashing six passwords and chaining fourteen audit records). A
    test that made rows of its own before asking for the world gets one built, as before."""
    return new_world(app, database, request)


def new_world(app, database, request):
    """The ``world`` fixture's world, for fixtures of the same name that fall back on it."""
    from tests.factories import World

    key = (database.backend, app_config_key(request))
    kept = _worlds.get(key)
    if not database.is_pristine():
        return World.build(app)
    if kept is not None and time.monotonic() - kept[0].taken < WORLD_MAX_AGE:
        database.restore(kept[0])
        return World.load(app, kept[1])
    world = World.build(app)
    _worlds[key] = (database.snapshot(), world.ids())
    return world


def pytest_configure(config):
    config.addinivalue_line("markers", "app_config(**config): extra configuration for the app fixture")
    config.addinivalue_line("markers", "shares_world: the test only reads, and shares its module's world "
                                       "(tests/test_access_walk.py)")


@pytest.fixture
def live_port(app):
    """The test app served over real HTTP by a threaded server on a free port of 127.0.0.1,
    for tests of parallel clients (races, throttling, identical uploads)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-test-server", daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
