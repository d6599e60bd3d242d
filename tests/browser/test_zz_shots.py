import pytest
from tests.browser.test_phone_tour import demo_server, _log_in, _tour  # noqa
pytestmark = pytest.mark.browser

def test_shots(demo_server, chromium):
    paths = [(r, p) for r, p in _tour(demo_server) if "/reports" in p or (r == "expert" and p.startswith("/items/") and p.count("/") == 2)]
    for device, (w, h) in {"phone": (390, 844), "laptop": (1366, 768)}.items():
        for role in ("expert", "coordinator", "viewer"):
            context = chromium.new_context(viewport={"width": w, "height": h})
            page = context.new_page()
            _log_in(page, demo_server, role)
            for r, p in paths:
                if r != role:
                    continue
                page.goto(demo_server.url + p)
                name = f"{device}-{role}-" + p.strip("/").replace("/", "_").replace("?", "_").replace("=", "-").replace("&", "_")
                page.screenshot(path=f"/tmp/annex_shots/{name}.png", full_page=True)
            context.close()
