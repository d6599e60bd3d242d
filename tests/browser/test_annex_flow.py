"""Compiling annexes in a real browser, as the demo's expert: a report, two annexes, an item
sheet of the demo rifle with its boxed photo, the annexes reordered by dragging one onto the
other (and back with the keyboard), a PDF built in the background while the page follows its
progress, then downloaded and read back; and a quick annex of a case's item sheets built from
the case page."""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from tests.browser.conftest import serving

pytestmark = pytest.mark.browser

DEMO_ITEM = "YEM-2023-004/01"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    def populate(app):
        from panel_tracker.demo import load_demo

        load_demo()
        return {}

    with serving(tmp_path_factory.mktemp("annex-flow"), populate) as server:
        yield server


def _log_in_as_demo_expert(page, server):
    from playwright.sync_api import expect

    from panel_tracker.demo import DEMO_USERS

    email, _, _, password = next(u for u in DEMO_USERS if u[2] == "expert")
    page.goto(server.url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def _annex_titles(page) -> list[str]:
    return [t.strip() for t in page.locator("#annex-list > li .row-main a").all_inner_texts()]


def _build_and_download(page, button: str, edition: str, row_text: str, tmp_path) -> tuple[str, str]:
    """Build a PDF of ``edition`` with ``button``, wait while the page follows the job, then
    download it: its file name and its text."""
    from playwright.sync_api import expect

    page.get_by_label("Edition").select_option(edition)
    page.get_by_label("Format").select_option("pdf")
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("started")
    download_link = page.locator("#build-list").get_by_role("link", name="Download")
    expect(download_link).to_be_visible(timeout=90_000)
    expect(page.locator("#build-list tbody tr").first).to_contain_text(row_text)
    with page.expect_download() as downloading:
        download_link.first.click()
    download = downloading.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    return download.suggested_filename, "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_expert_compiles_reorders_builds_and_downloads_an_annex(demo_server, page, tmp_path):
    from playwright.sync_api import expect

    _log_in_as_demo_expert(page, demo_server)
    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("link", name="New report").click()
    page.get_by_label("Title").fill("Final report of the Panel of Experts on Yemen (2025)")
    page.get_by_label("Cut-off date").fill("2025-01-31")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Final report")
    report_url = page.url

    # Two annexes: the rifles, with an item sheet of the demo rifle and its boxed photo.
    page.get_by_role("link", name="Add an annex").click()
    page.get_by_label("Title").fill("Type 56-1 rifles seized off Nishtun")
    page.get_by_label("Introduction (Markdown)").fill("The serial number is boxed in [[fig:receiver]].")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Annex 1")
    page.get_by_role("link", name="Add a block").click()
    page.get_by_role("link", name="Item sheet").click()
    page.get_by_label("Item reference").fill(DEMO_ITEM)
    page.get_by_role("button", name="Show its photos").click()
    page.locator("input[name=photo_ids]").first.check()
    expect(page.get_by_label("Draw the marking boxes on the photos")).to_be_checked()
    page.get_by_label("Key (optional)").fill("receiver")
    page.get_by_role("button", name="Add block").click()
    expect(page.get_by_role("status").first).to_contain_text("Item sheet added")
    expect(page.locator("#block-list")).to_contain_text(DEMO_ITEM)

    page.goto(report_url)
    page.get_by_role("link", name="Add an annex").click()
    page.get_by_label("Title").fill("Ammunition")
    page.get_by_role("button", name="Save").click()
    page.goto(report_url)
    assert _annex_titles(page) == ["Type 56-1 rifles seized off Nishtun", "Ammunition"]

    # Drag "Ammunition" above the rifles: numbered and saved at once.
    rows = page.locator("#annex-list > li")
    expect(rows.first.locator(".handle")).to_be_visible()  # the script is on
    with page.expect_response(re.compile(r"/order$")) as saved:
        rows.nth(1).drag_to(rows.nth(0), target_position={"x": 40, "y": 3})
    assert saved.value.ok
    assert _annex_titles(page) == ["Ammunition", "Type 56-1 rifles seized off Nishtun"]
    expect(rows.nth(0).locator(".number")).to_have_text("Annex 1")
    page.reload()
    assert _annex_titles(page) == ["Ammunition", "Type 56-1 rifles seized off Nishtun"]

    # Back with the keyboard: the rifles' handle, arrow up.
    with page.expect_response(re.compile(r"/order$")):
        page.locator("#annex-list > li").nth(1).locator(".handle").press("ArrowUp")
    expect(page.locator("#annex-list-status")).to_contain_text("moved to position 1")
    page.reload()
    assert _annex_titles(page) == ["Type 56-1 rifles seized off Nishtun", "Ammunition"]

    # Build every annex, panel edition, PDF: the list follows the job and offers the file.
    page.get_by_label("Annex", exact=True).select_option(label="All annexes, in one file")
    name, text = _build_and_download(page, "Build", "panel", "done", tmp_path)
    assert re.fullmatch(r"report-\d+_annexes_panel\.pdf", name)
    assert "Annex 1" in text and "Annex 2" in text and "Figure 1.1" in text
    assert "boxed in Figure 1.1" in text and DEMO_ITEM in text and "PANEL ONLY" in text


def test_expert_builds_a_quick_annex_of_a_case_from_its_page_and_downloads_it(demo_server, page, tmp_path):
    """The case page's "Annex of this case's item sheets": the public edition as PDF, built in
    the background while the page follows it, then downloaded and read back."""
    from playwright.sync_api import expect

    _log_in_as_demo_expert(page, demo_server)
    page.goto(demo_server.url + "/cases")
    page.get_by_role("link", name=DEMO_ITEM.split("/")[0]).first.click()
    section = page.locator("#quick-annex")
    expect(section).to_have_text("Annex of this case's item sheets")
    name, text = _build_and_download(page, "Build annex", "public", "Item sheets of the case", tmp_path)
    assert name == f"{DEMO_ITEM.split('/')[0]}_item-sheets_public.pdf"
    assert "Annex 1" in text and DEMO_ITEM in text and "PANEL ONLY" not in text


def test_on_a_phone_a_finger_drags_an_annex_by_its_handle_and_up_down_move_without_a_reload(demo_server, chromium):
    from datetime import date

    from playwright.sync_api import expect
    from sqlmodel import select

    from panel_tracker.annexes import services
    from panel_tracker.auth.models import Panel
    from panel_tracker.db import get_session

    with demo_server.app.app_context():
        db = get_session()
        panel = db.exec(select(Panel).where(Panel.code == "YEM")).one()
        report = services.create_report(db, panel, {"title": "Mid-term update (phone)", "kind": "midterm",
                                                    "cut_off": date(2025, 7, 31)}, "test")
        for title in ("Rifles", "Ammunition", "Drones"):
            services.add_annex(db, report, {"title": title, "classification": "public"}, "test")
        db.commit()
        report_id = report.id

    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _log_in_as_demo_expert(page, demo_server)
        page.goto(f"{demo_server.url}/reports/{report_id}")
        assert _annex_titles(page) == ["Rifles", "Ammunition", "Drones"]
        rows = page.locator("#annex-list > li")
        handle = rows.nth(2).locator(".handle")
        handle.scroll_into_view_if_needed()
        start, target = handle.bounding_box(), rows.nth(0).bounding_box()
        touch = context.new_cdp_session(page)

        def finger(kind, x=0, y=0):
            points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
            touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
        with page.expect_response(re.compile(r"/order$")) as saved:
            finger("touchStart", x, y)
            for step in range(1, 11):
                finger("touchMove", x, y + (target["y"] + 4 - y) * step / 10)
            finger("touchEnd")
        assert saved.value.ok
        assert _annex_titles(page) == ["Drones", "Rifles", "Ammunition"]
        expect(rows.nth(0).locator(".number")).to_have_text("Annex 1")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        # Up and Down move a row in place and save, without loading the page again.
        page.evaluate("window.stayed = true")
        with page.expect_response(re.compile(r"/order$")):
            rows.nth(0).get_by_role("button", name="↓ Down").click()
        assert _annex_titles(page) == ["Rifles", "Drones", "Ammunition"]
        assert page.evaluate("window.stayed === true")
        page.reload()
        assert _annex_titles(page) == ["Rifles", "Drones", "Ammunition"]
        expect(page.locator("#annex-list > li").nth(0).get_by_role("button", name="↑ Up")).to_be_disabled()
    finally:
        context.close()
