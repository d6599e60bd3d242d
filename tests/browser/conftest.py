"""A live server and Debian's Chromium, for tests marked ``browser``.

The server is a real werkzeug server on 127.0.0.1 (a free port) in a thread, with CSRF
protection on, as in production. It has its own SQLite database: the browser flows do not
depend on the backend, and the shared test database is truncated by other tests while
this session-long server runs. Playwright drives /usr/bin/chromium; it never downloads a
browser. Without Chromium the tests are skipped, or fail when ``CI=true``.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from panel_tracker import migrations
from panel_tracker.db import get_engine, make_engine
from tests.conftest import Database, make_test_app, new_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class LiveServer:
    url: str
    app: object
    users: dict  # role -> User of panel YEM
    password: str


@contextmanager
def serving(folder: Path, populate):
    """A live server on its own migrated SQLite database in ``folder``; ``populate(app)`` runs
    in an app context first and returns the users by role. Yields a LiveServer."""
    from tests.factories import PASSWORD

    url, cleanup = new_database("sqlite", folder)
    engine = make_engine(url)
    migrations.upgrade(engine)
    app = make_test_app(Database("sqlite", url, engine), folder / "instance",
                        WTF_CSRF_ENABLED=True, SERVER_NAME=None)
    with app.app_context():
        users = populate(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, users, PASSWORD)
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        get_engine(app).dispose()
        engine.dispose()
        cleanup()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from tests.factories import make_member, make_panel

    def populate(app):
        panel = make_panel("YEM", "Panel of Experts on Yemen")
        return {role: make_member(panel, role)[0] for role in ("viewer", "expert", "coordinator", "admin")}

    with serving(tmp_path_factory.mktemp("browser"), populate) as server:
        yield server


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser context (no cookies) and page per test. A Content-Security-Policy
    violation reported in the console fails the test."""
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        yield page
    finally:
        context.close()
    assert violations == [], violations
