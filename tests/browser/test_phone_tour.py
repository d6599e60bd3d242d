"""The README's tour on a phone (390 × 844) and a laptop (1366 × 768), in Chromium: every page
of the tour, for the role that uses it, without sideways scrolling and without a console error.

The panel is the demo's (``panel-tracker demo``: items, an inspection, markings, a photo with
a box) plus the sample letters, so the pages carry real content: wide tables, long references,
Persian and Arabic text."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import serving

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 768)}


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    def populate(app):
        from sqlmodel import select

        from panel_tracker.auth.models import Panel
        from panel_tracker.db import get_session
        from panel_tracker.demo import load_demo
        from panel_tracker.search.services import save_search
        from panel_tracker.traces.importer import import_letters
        from tests.factories import make_member

        load_demo()
        db = get_session()
        panel = db.exec(select(Panel).where(Panel.code == "YEM")).one()
        report = import_letters(db, panel, SAMPLE / "letters.csv")
        assert report.ok, report.errors
        db.commit()
        _demo_report(db, panel)
        users = {role: make_member(panel, role)[0] for role in ("viewer", "expert", "coordinator", "admin")}
        save_search(db, panel, users["expert"], "Factory 66 rifles", "66", {"category": "small_arm"}, notify=True)
        db.commit()
        return users

    with serving(tmp_path_factory.mktemp("tour"), populate) as server:
        yield server


def _demo_report(db, panel) -> None:
    """A report with two annexes (an item sheet, a table, the trace status, text), built once
    (so the builds table has a finished row with its hashes) and a second build queued."""
    from datetime import date

    from panel_tracker.annexes import builds, services
    from panel_tracker.annexes.models import BuildFormat, Edition
    from panel_tracker.classification import Classification

    report = services.create_report(db, panel, {"title": "Final report of the Panel of Experts on Yemen (2025)",
                                                "symbol": "S/2025/123", "cut_off": date(2025, 1, 31)}, "tour")
    rifles = services.add_annex(db, report, {"title": "Type 56-1 assault rifles seized from a dhow in the "
                                                      "Arabian Sea, September 2023", "classification": "public",
                                             "intro": "The serial number is boxed in [[fig:receiver]]."}, "tour")
    services.add_block(db, report, rifles, {"kind": "item_sheet", "key": "receiver", "classification": "public",
                                            "caption": "Receiver, left side",
                                            "settings": {"item": "YEM-2023-004/01", "boxes": True}}, "tour")
    services.add_block(db, report, rifles, {"kind": "item_table", "classification": "committee",
                                            "settings": {"items": "YEM-2023-004/01"}}, "tour")
    status = services.add_annex(db, report, {"title": "Trace requests", "classification": "committee"}, "tour")
    services.add_block(db, report, status, {"kind": "trace_status", "classification": "committee"}, "tour")
    services.add_block(db, report, status, {"kind": "text", "classification": "panel",
                                            "settings": {"text": "Panel-only **notes**."}}, "tour")
    build = builds.request_build(db, panel, report, rifles.id, Edition.PANEL, BuildFormat.PDF, "tour",
                                 Classification.PANEL)
    builds.request_build(db, panel, report, None, Edition.COMMITTEE, BuildFormat.PDF, "tour", Classification.PANEL)
    db.commit()
    builds.run_build(build.id)


def _tour(server) -> list[tuple[str, str]]:
    """(role, path) of every page of the tour, with the ids of the demo's records."""
    from sqlmodel import select

    from panel_tracker.annexes.models import Annex, Block, Report
    from panel_tracker.cases.models import Case, Inspection, Item, Marking
    from panel_tracker.db import get_session
    from panel_tracker.evidence.models import Photo
    from panel_tracker.traces.models import Addressee, Letter

    with server.app.app_context():
        db = get_session()
        item = db.exec(select(Item).where(Item.item_ref == "YEM-2023-004/01")).one()
        case = db.get(Case, item.case_id)
        inspection = db.exec(select(Inspection)).first()
        marking = db.exec(select(Marking).where(Marking.item_id == item.id)).first()
        photo = db.exec(select(Photo)).first()
        letters = {letter.ref: letter.id for letter in db.exec(select(Letter)).all()}
        addressee = db.exec(select(Addressee)).first()
        others = db.exec(select(Item.id).where(Item.case_id == case.id, Item.id != item.id).order_by(Item.id)).all()
        report = db.exec(select(Report)).one()
        annex = db.exec(select(Annex).where(Annex.position == 1)).one()
        block = db.exec(select(Block).where(Block.annex_id == annex.id, Block.kind == "item_sheet")).one()
    expert = [
        "/dashboard", "/cases", "/cases/new", f"/cases/{case.id}", f"/cases/{case.id}/edit",
        f"/cases/{case.id}/inspections/new", f"/inspections/{inspection.id}/edit", f"/cases/{case.id}/items/new",
        f"/items/{item.id}", f"/items/{item.id}/edit", f"/items/{item.id}/history", f"/items/{item.id}/markings/new",
        f"/markings/{marking.id}/edit", "/items", "/items?category=ammunition", "/items/import",
        f"/cases/{case.id}/photos/upload", f"/photos/{photo.id}", f"/cases/{case.id}/photos/bulk",
        "/account/security", "/account/tokens", "/account/two-factor", "/panels",
        "/traces/", "/traces/dashboard", "/traces/status", "/traces/addressees", "/traces/addressees/new",
        f"/traces/addressees/{addressee.id}/edit", "/traces/new",
        *(f"/traces/{letter_id}" for letter_id in letters.values()),
        "/search", "/search?q=66", "/search?q=YEM&category=small_arm&recovered_from=2023-01-01", "/search/batch",
        "/search/patterns", "/search/saved", f"/search/compare?item={item.id}&item={others[0]}&item={others[1]}",
        "/photos", f"/photos?case={case.ref}",
        "/reports/", "/reports/new", f"/reports/{report.id}", f"/reports/{report.id}/edit",
        f"/reports/{report.id}/annexes/new", f"/reports/annexes/{annex.id}", f"/reports/annexes/{annex.id}/edit",
        f"/reports/annexes/{annex.id}/blocks/new", f"/reports/annexes/{annex.id}/blocks/new?kind=item_sheet",
        f"/reports/annexes/{annex.id}/blocks/new?kind=item_table", f"/reports/annexes/{annex.id}/blocks/new?kind=text",
        f"/reports/blocks/{block.id}/edit", f"/items/{item.id}",
    ]
    coordinator = [f"/traces/{letters['YEM-L-001']}/reply", "/traces/template", "/audit/",
                   f"/reports/{report.id}/submit"]
    admin = ["/admin/members", "/admin/members/new", "/admin/settings"]
    viewer = ["/dashboard", "/cases", f"/cases/{case.id}", "/items", f"/items/{item.id}", "/search?q=66", "/photos",
              "/reports/", f"/reports/{report.id}", f"/reports/annexes/{annex.id}"]
    return ([("expert", p) for p in expert] + [("coordinator", p) for p in coordinator]
            + [("admin", p) for p in admin] + [("viewer", p) for p in viewer])


def _log_in(page, server, role):
    from playwright.sync_api import expect

    page.goto(server.url + "/login")
    page.get_by_label("Email").fill(server.users[role].email)
    page.get_by_label("Password").fill(server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def _overflow(page) -> str | None:
    """What sticks out sideways, or None when the page fits its width."""
    return page.evaluate("""() => {
        const width = window.innerWidth;
        if (document.documentElement.scrollWidth <= width) return null;
        const culprits = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1)
            .filter(e => !e.closest('.scroll, .table-scroll'))
            .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
                                  + ' ' + Math.round(e.getBoundingClientRect().right));
        return `scrollWidth ${document.documentElement.scrollWidth} > ${width}: ${culprits.join(', ')}`;
    }""")


@pytest.mark.parametrize("device", list(WIDTHS))
def test_every_page_of_the_tour_fits_the_screen_without_a_console_error(demo_server, chromium, tmp_path, device):
    width, height = WIDTHS[device]
    problems: list[str] = []
    for role in ("expert", "coordinator", "admin", "viewer"):
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        page = context.new_page()
        console: list[str] = []
        # A page's own 422 (a form or a file with errors) is the answer, not a fault; any
        # other request that fails (an image, a script, a style) is.
        page.on("console", lambda msg: console.append(msg.text)
                if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
        page.on("pageerror", lambda exc: console.append(str(exc)))
        page.on("response", lambda r: console.append(f"{r.status} {r.url}")
                if r.status >= 400 and r.request.resource_type != "document" else None)
        try:
            _log_in(page, demo_server, role)
            paths = [p for r, p in _tour(demo_server) if r == role]
            for path in paths:
                response = page.goto(demo_server.url + path)
                assert response.status == 200, f"{role} {path}: {response.status}"
                page.wait_for_load_state("load")
                if (wide := _overflow(page)) is not None:
                    problems.append(f"{device} {role} {path}: {wide}")
                problems += [f"{device} {role} {path}: console: {text}" for text in console]
                console.clear()
            if role == "expert":
                problems += _import_pages(page, demo_server, tmp_path, device)
            problems += [f"{device} {role}: console: {text}" for text in console]
        finally:
            context.close()
    if device == "laptop":
        context = chromium.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(demo_server.url + "/login")
        if (wide := _overflow(page)) is not None:
            problems.append(f"{device} /login: {wide}")
        context.close()
    assert problems == [], "\n".join(problems)


def _import_pages(page, server, tmp_path, device) -> list[str]:
    """The column-matching page (a file with its own column names) and the preview with
    errors (the demo's own items again, without updating)."""
    problems = []
    own_names = tmp_path / f"own-names-{device}.csv"
    lines = (SAMPLE / "items.csv").read_text(encoding="utf-8").splitlines()
    own_names.write_text("\n".join([lines[0].replace("case_ref", "Case").replace("item_ref", "Item")] + lines[1:4]),
                         encoding="utf-8")
    for upload, expected in ((own_names, "/columns"), (SAMPLE / "items.csv", "")):
        page.goto(server.url + "/items/import")
        page.get_by_label("Spreadsheet (CSV or XLSX)").set_input_files(str(upload))
        page.get_by_role("button", name="Check the file").click()
        page.wait_for_load_state("load")
        assert re.search(r"/items/import/[0-9a-f]{32}" + expected + "$", page.url), page.url
        if (wide := _overflow(page)) is not None:
            problems.append(f"{device} expert {page.url}: {wide}")
    return problems


def test_expert_draws_a_box_with_a_finger_on_a_phone(demo_server, chromium):
    """Touch, not the mouse: the box editor follows pointer events of a finger on the photo."""
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _log_in(page, demo_server, "expert")
        page.goto(demo_server.url + "/items?q=YEM-2023-004/01")
        page.get_by_role("link", name="YEM-2023-004/01").first.click()
        marking = page.locator("article.marking").filter(has_text="66").first
        editor = marking.locator(".box-editor img")
        expect(editor).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=editor.element_handle())
        editor.scroll_into_view_if_needed()
        box = editor.bounding_box()
        touch = context.new_cdp_session(page)

        def finger(kind, fx, fy):
            points = [] if kind == "touchEnd" else [{"x": box["x"] + box["width"] * fx, "y": box["y"] + box["height"] * fy}]
            touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        finger("touchStart", 0.20, 0.30)
        for step in range(1, 9):
            finger("touchMove", 0.20 + 0.04 * step, 0.30 + 0.02 * step)
        finger("touchEnd", 0, 0)

        expect(marking.locator("input[name=box_x]")).to_have_value(re.compile(r"^0\.(19|20|21)"))
        expect(marking.locator("input[name=box_w]")).to_have_value(re.compile(r"^0\.(31|32|33)"))
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
