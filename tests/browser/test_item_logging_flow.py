"""The expert's key flow in a real browser: log an item with two markings and a photo,
draw a box on the photo around the serial, and see the box on the item page."""
from __future__ import annotations

import re

import pytest

from tests.imagefactory import photographic_jpeg

pytestmark = pytest.mark.browser


def test_expert_logs_an_item_with_two_markings_and_a_photo_and_boxes_the_serial(live_server, page, tmp_path):
    from playwright.sync_api import expect

    expert = live_server.users["expert"]
    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(expert.email)
    page.get_by_label("Password").fill(live_server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    # A case, then an item in it, through the real forms (CSRF and all).
    page.get_by_role("link", name="Cases", exact=True).click()
    page.get_by_role("link", name="New case").click()
    page.get_by_label("Reference").fill("YEM-2024-101")
    page.get_by_label("Title").fill("Dhow interdiction off Nishtun")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("YEM-2024-101")
    page.get_by_role("link", name="Add an item").click()
    page.get_by_label("Category").select_option("small_arm")
    page.get_by_label("Type", exact=True).fill("assault rifle (AK-pattern)")
    page.get_by_label("Model").fill("Type 56-1")
    page.get_by_label("Serial as read").fill("24017731")
    page.get_by_label("Serial legibility").select_option("intact")
    page.get_by_role("button", name="Save item").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("YEM-2024-101/01")
    item_url = page.url

    # Two markings: the serial, and a factory code in a triangle, in its own script.
    for text, kind, shape in (("24017731", "serial", "none"), ("66", "factory_code", "triangle")):
        page.get_by_role("link", name="Add a marking").click()
        page.get_by_label("Text exactly as read").fill(text)
        page.get_by_label("Kind").select_option(kind)
        page.get_by_label("Where on the item").fill("receiver")
        page.get_by_label("Symbol around it").select_option(shape)
        page.get_by_role("button", name="Save").click()
        expect(page).to_have_url(re.compile(re.escape(item_url) + "#markings$"))
    expect(page.locator("article.marking")).to_have_count(2)

    # A photo of the item, uploaded through the file input.
    photo = photographic_jpeg(tmp_path / "IMG_2041.JPG", 1200, 800)
    page.get_by_role("link", name="Upload photos").click()
    page.get_by_label("Photos").set_input_files(str(photo))
    page.get_by_label("Received from").fill("Panel inspection")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status").first).to_contain_text("stored, SHA-256")

    # Back on the item: draw a box on the photo for the serial by dragging.
    page.goto(item_url)
    serial = page.locator("article.marking").filter(has_text="24017731").first
    editor = serial.locator(".box-editor img")
    expect(editor).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=editor.element_handle())
    editor.scroll_into_view_if_needed()
    box = editor.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.30, box["y"] + box["height"] * 0.40)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.50, box["y"] + box["height"] * 0.50, steps=8)
    page.mouse.move(box["x"] + box["width"] * 0.60, box["y"] + box["height"] * 0.55, steps=8)
    page.mouse.up()
    expect(serial.locator("input[name=box_x]")).to_have_value(re.compile(r"^0\.(29|30|31)"))
    serial.get_by_role("button", name="Link photo").click()

    # The item page shows the photo with the box where it was drawn, in normalised coordinates.
    expect(page.get_by_role("status").first).to_contain_text("Box saved")
    drawn = page.locator("article.marking").filter(has_text="24017731").first.locator("svg.overlay rect.box").first
    expect(drawn).to_be_visible()
    assert float(drawn.get_attribute("x")) == pytest.approx(0.30, abs=0.02)
    assert float(drawn.get_attribute("y")) == pytest.approx(0.40, abs=0.02)
    assert float(drawn.get_attribute("width")) == pytest.approx(0.30, abs=0.02)
    assert float(drawn.get_attribute("height")) == pytest.approx(0.15, abs=0.02)
    drawn.scroll_into_view_if_needed()
    overlay = drawn.bounding_box()
    photo_box = page.locator("article.marking").filter(has_text="24017731").first.locator(".boxed img").bounding_box()
    assert overlay["x"] == pytest.approx(photo_box["x"] + 0.30 * photo_box["width"], abs=6)
    page.screenshot(path=str(tmp_path / "item-with-box.png"), full_page=True)
