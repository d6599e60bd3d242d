"""Security headers on every kind of response, and templates a strict CSP can render."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import select

from panel_tracker import templates_folder
from panel_tracker.cases.models import Case
from panel_tracker.db import get_engine, get_session
from panel_tracker.security_headers import CONTENT_SECURITY_POLICY
from tests.conftest import make_test_app

# Anything a strict CSP (script-src 'self'; style-src 'self') would block or that reads as inline code.
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I)


def _assert_secured(response, *, production=False):
    h = response.headers
    assert h["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                      "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin" and "camera=()" in h["Permissions-Policy"]
    assert ("Strict-Transport-Security" in h) is production


def test_pages_errors_files_and_the_api_carry_the_security_headers(world):
    client = world.client("expert")
    _assert_secured(world.app.test_client().get("/login"))
    _assert_secured(client.get("/dashboard"))
    _assert_secured(client.get("/cases/999999"))  # the 404 page
    with client.get("/static/app.css") as static_file:
        _assert_secured(static_file)
    _assert_secured(world.app.test_client().get("/api/v1/cases"))  # 401 JSON
    _assert_secured(world.app.test_client().post("/login", data={}))  # a refused form


def test_production_adds_hsts(database, tmp_path):
    app = make_test_app(database, tmp_path / "instance", ENV="production", SECRET_KEY="x" * 32)
    try:
        _assert_secured(app.test_client().get("/login"), production=True)
    finally:
        get_engine(app).dispose()  # start-up cleaning opened a connection; leave none to the GC


def test_no_template_holds_inline_script_style_or_event_handler():
    files = sorted(templates_folder().rglob("*.html"))
    assert files
    offenders = [f"{path}: {m.group(0)}" for path in files for m in INLINE.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_rendered_pages_hold_no_inline_script_style_or_event_handler(world, role):
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = get_session().exec(select(Case)).one()
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "rifle", "quantity": "1"})
    client = world.client(role)
    paths = {rule.rule for rule in world.app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/api/", "/static"))}
    paths |= {f"/cases/{case.id}", f"/cases/{case.id}/photos/upload", "/items/1", "/no-such-page"}
    checked = 0
    for path in sorted(paths):
        with client.get(path) as response:
            _assert_secured(response)
            if response.mimetype == "text/html":
                assert INLINE.findall(response.get_data(as_text=True)) == [], path
                checked += 1
    assert checked >= 8
