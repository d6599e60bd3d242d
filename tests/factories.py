"""Factories: real rows through the real services (no fixture files, no mocks)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date

from panel_tracker.auth.models import Membership, Panel, Role, User
from panel_tracker.auth.services import add_member, create_panel
from panel_tracker.db import get_session

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_panel(code: str = "YEM", name: str | None = None) -> Panel:
    db = get_session()
    panel = create_panel(db, code, name or f"Panel of Experts {code}")
    db.commit()
    return panel


def make_member(panel: Panel, role: str | Role = "expert", *, email: str | None = None,
                mandate_start: date | None = None, mandate_end: date | None = None) -> tuple[User, Membership]:
    db = get_session()
    role = Role(role)
    email = email or f"{role.value}{next(_counter)}@{panel.code.lower()}.example"
    user, membership = add_member(db, panel, email, f"{role.value.title()} {panel.code}", role,
                                  password=PASSWORD, mandate_start=mandate_start, mandate_end=mandate_end)
    db.commit()
    return user, membership


def log_in(client, user: User, password: str = PASSWORD):
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


@dataclass
class World:
    app: object
    panel: Panel
    other_panel: Panel
    users: dict = field(default_factory=dict)  # role -> User in panel
    outsider: User | None = None  # admin of other_panel only

    @classmethod
    def build(cls, app) -> "World":
        panel, other = make_panel("YEM", "Panel of Experts on Yemen"), make_panel("LBY", "Panel of Experts on Libya")
        world = cls(app, panel, other)
        for role in Role:
            world.users[role.value], _ = make_member(panel, role)
        world.outsider, _ = make_member(other, Role.ADMIN)
        return world

    def ids(self) -> dict:
        return {"panel": self.panel.id, "other_panel": self.other_panel.id, "outsider": self.outsider.id,
                "users": {role: user.id for role, user in self.users.items()}}

    @classmethod
    def load(cls, app, ids: dict) -> "World":
        """The world whose rows are in the database already (put back from a snapshot)."""
        db = get_session()
        world = cls(app, db.get(Panel, ids["panel"]), db.get(Panel, ids["other_panel"]))
        world.users = {role: db.get(User, user_id) for role, user_id in ids["users"].items()}
        world.outsider = db.get(User, ids["outsider"])
        return world

    def client(self, role: str | None = None, user: User | None = None):
        client = self.app.test_client()
        who = user or (self.users[role] if role else None)
        return log_in(client, who) if who else client


REDIS_URL = __import__("os").environ.get("PANEL_TRACKER_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_or_skip():
    """A connection to the test Redis; the test is skipped without one (failed in CI)."""
    import os

    import pytest
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI and is not reachable: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    return connection
