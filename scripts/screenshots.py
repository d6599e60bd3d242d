"""Retake the README's screenshots (docs/screenshots/) from the demo panel, in Chromium.

    .venv/bin/python scripts/screenshots.py

A throw-away SQLite database and instance folder, the demo (``panel-tracker demo``) plus the
sample letters, a live server on a free port, and Debian's /usr/bin/chromium through
Playwright: desktop pages at 1366 px, phone pages at 390 px. Everything is removed after.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "screenshots"
DESKTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}


def main() -> None:
    from playwright.sync_api import sync_playwright
    from sqlmodel import select

    from panel_tracker.auth.models import Panel
    from panel_tracker.cases.models import Case, Item
    from panel_tracker.db import get_session
    from panel_tracker.demo import load_demo
    from panel_tracker.traces.importer import import_letters
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, serving
    from tests.factories import make_member

    def populate(app):
        load_demo()
        db = get_session()
        panel = db.exec(select(Panel).where(Panel.code == "YEM")).one()
        import_letters(db, panel, ROOT / "tests" / "data" / "sample" / "letters.csv")
        db.commit()
        return {"expert": make_member(panel, "expert")[0]}

    with tempfile.TemporaryDirectory() as folder, serving(Path(folder), populate) as server:
        with server.app.app_context():
            db = get_session()
            item = db.exec(select(Item).where(Item.item_ref == "YEM-2023-004/01")).one()
            case_id = db.get(Case, item.case_id).id
            item_id = item.id
        shots = [
            ("cases.png", DESKTOP, "/cases", None),
            ("case.png", DESKTOP, f"/cases/{case_id}", None),
            ("items.png", DESKTOP, "/items?category=ammunition", None),
            ("item-marking-box.png", DESKTOP, f"/items/{item_id}", "#markings"),
            ("dashboard.png", DESKTOP, "/dashboard", None),
            ("phone-item.png", PHONE, f"/items/{item_id}", None),
            ("phone-items.png", PHONE, "/items", None),
        ]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for name, viewport, path, anchor in shots:
                    context = browser.new_context(viewport=viewport, device_scale_factor=1)
                    page = context.new_page()
                    page.goto(server.url + "/login")
                    page.get_by_label("Email").fill(server.users["expert"].email)
                    page.get_by_label("Password").fill(server.password)
                    page.get_by_role("button", name="Log in").click()
                    page.wait_for_url("**/dashboard")
                    page.goto(server.url + path)
                    page.wait_for_load_state("networkidle")
                    if anchor:
                        page.locator(anchor).scroll_into_view_if_needed()
                        page.evaluate("document.querySelector('#markings').scrollIntoView()")
                    page.evaluate("Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
                    page.screenshot(path=str(OUT / name), full_page=False)
                    context.close()
                    print(f"{OUT / name}")
            finally:
                browser.close()


if __name__ == "__main__":
    main()
