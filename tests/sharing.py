"""A world shared by a module's tests that only read (marked ``shares_world``).

Used by tests/test_access_walk.py (and the hostile-input probes it lends its fixtures
to) and tests/test_api.py; see ``SharedWorld``.
"""
from __future__ import annotations

from typing import Callable

import pytest

from panel_tracker.auth.models import User
from panel_tracker.db import get_session
from tests.factories import World

SHARES_WORLD = pytest.mark.shares_world


def shares_world(request) -> bool:
    return request.node.get_closest_marker("shares_world") is not None


def shared_world(shared_worlds: dict, key, app, database, log_in: Callable) -> "SharedWorldView":
    """The module's shared world for ``key`` (its app configuration), made on first use,
    as the test should see it."""
    if key not in shared_worlds:
        shared_worlds[key] = SharedWorld(app, database, log_in)
    return shared_worlds[key].enter()


class SharedWorld:
    """One world for a module's tests that only read (the access walk's GETs and POSTs
    refused for want of a CSRF token, the API's refused writes), kept from test to test
    with what they made on the way.

    Per test, building the world, logging six people in, making the objects named in
    the URL (a case, a letter with a reply, a report with an annex…) and a token for the
    API cost three times the requests themselves. Here each is made once and kept: the
    members' session cookies (each test's clients are new and get a copy), and what the
    tests make through ``keep`` (tokens, URL parameters). After each thing made, a snapshot of
    the whole database is taken (``Database.snapshot``). Before each test, and before
    anything is made, the database is compared with the snapshot (every row of every
    table, ``Database.fingerprint``): anything different — another module's test
    emptied the tables, or a request of this one wrote something (an audited export, a
    login session touched) — and the snapshot is put back first. So every shared test
    starts from exactly the state it would have made itself; a test that writes cannot
    leak into the next.
    """

    def __init__(self, app, database, log_in: Callable):
        self.app, self.database = app, database
        database.truncate()
        world = World.build(app)
        self.ids = world.ids()
        self.cookies = {user.id: _session_cookie(log_in(app, user))
                        for user in (*world.users.values(), world.outsider)}
        get_session().commit()
        self.kept: dict = {}
        self.snapshot = database.snapshot()
        self.restores = 0  # how often the snapshot was put back

    def enter(self) -> "SharedWorldView":
        self.settle()
        view = SharedWorldView.load(self.app, self.ids)
        view.shared = self
        return view

    def settle(self) -> None:
        """The database back to the snapshot, unless it is exactly that already."""
        get_session().commit()  # the test's session holds no transaction while the tables are put back
        if self.database.fingerprint() != self.snapshot.fingerprint:
            self.database.truncate()
            self.database.restore(self.snapshot)
            self.restores += 1

    def keep(self, key, make: Callable[[], object]):
        """``make()``'s result, made once (on the snapshot's state) and kept with the world."""
        if key not in self.kept:
            self.settle()
            self.kept[key] = make()
            get_session().commit()
            self.snapshot = self.database.snapshot()
        return self.kept[key]


def _session_cookie(client):
    cookie = client.get_cookie(client.application.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "no session cookie after logging in"
    return cookie


class SharedWorldView(World):
    """The shared world as a test sees it: its objects loaded in the test's session, and
    clients that are new for every call but logged in with the member's kept session."""

    shared: SharedWorld

    def client(self, role: str | None = None, user: User | None = None):
        client = self.app.test_client()
        who = user or (self.users[role] if role else None)
        if who is not None:
            cookie = self.shared.cookies[who.id]
            client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
        return client
