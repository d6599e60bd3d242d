"""No page shows a stored enum value as a user would never write it (issue 9): ``factory_code``,
``partially_answered``, ``Condition.GOOD``. The demo world (cases, items, markings, a photo,
the sample letters, their audit records) is walked page by page, as each role that uses the
page, and the text a person reads (text, tooltips, alternative texts, placeholders) is searched
for every enum value with an underscore and every ``EnumClass.MEMBER``. Text set as code
(``<code>``, ``<pre>``) is what a user types (a CSV's values, the search syntax, the letter
template) and is left out."""
from __future__ import annotations

import enum
import importlib
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlmodel import select

import panel_tracker
from panel_tracker.db import get_session

SAMPLE = Path(__file__).parent / "data" / "sample"
SHOWN_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label"}
NOT_READ = ("script", "style", "template")  # never shown
LITERAL = ("code", "pre", "kbd", "samp", "textarea")  # what to type (or typed), not words


def _enums() -> list[type[enum.Enum]]:
    """Every Enum class defined in panel_tracker's modules (web layers included)."""
    found = {}
    for info in pkgutil.walk_packages(panel_tracker.__path__, "panel_tracker."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, enum.Enum) and value.__module__.startswith("panel_tracker"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def raw_enum_pattern() -> re.Pattern:
    enums = _enums()
    values = sorted({str(m.value) for e in enums for m in e if "_" in str(m.value)}, key=len, reverse=True)
    names = sorted({e.__name__ for e in enums}, key=len, reverse=True)
    assert "partially_answered" in values and "factory_code" in values and "Condition" in names
    return re.compile(r"(?<![\w.\-/])(%s)(?![\w\-/])|\b(%s)\.[A-Z][A-Z_]*\b" % ("|".join(values), "|".join(names)))


class _ShownText(HTMLParser):
    """What a reader sees of a page: text outside script and style, and shown attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in NOT_READ + LITERAL:
            self._hidden += 1
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in NOT_READ + LITERAL and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def shown_text(html: str) -> str:
    parser = _ShownText()
    parser.feed(html)
    return "\n".join(parser.parts)


def raw_values_on(html: str, pattern: re.Pattern) -> list[str]:
    text = shown_text(html)
    return sorted({m.group(0) for m in pattern.finditer(text)})


def test_the_detector_sees_raw_values_and_not_labels():
    pattern = raw_enum_pattern()
    assert raw_values_on("<td>partially_answered</td>", pattern) == ["partially_answered"]
    assert raw_values_on('<span title="factory_code">66</span>', pattern) == ["factory_code"]
    assert raw_values_on("<p>Condition.GOOD</p>", pattern) == ["Condition.GOOD"]
    assert raw_values_on('<a href="/items?category=small_arm">small arm</a> Partially answered', pattern) == []
    assert raw_values_on("<script>const k = 'factory_code';</script>", pattern) == []
    assert raw_values_on("<td>one of <code>small_arm</code>, <code>light_weapon</code></td>", pattern) == []


@pytest.fixture
def demo(app):
    from panel_tracker.auth.models import Panel
    from panel_tracker.demo import load_demo
    from panel_tracker.traces.importer import import_letters
    from tests.factories import make_member

    load_demo()
    db = get_session()
    panel = db.exec(select(Panel).where(Panel.code == "YEM")).one()
    report = import_letters(db, panel, SAMPLE / "letters.csv")
    assert report.ok, report.errors
    db.commit()
    return {role: make_member(panel, role)[0] for role in ("viewer", "expert", "coordinator", "admin")}


def _main_pages() -> list[tuple[str, str]]:
    """(role, path): the lists, and every case, item, letter and photo of the demo world."""
    from panel_tracker.cases.models import Case, Item
    from panel_tracker.evidence.models import Photo
    from panel_tracker.traces.models import Addressee, Letter

    db = get_session()
    cases = db.exec(select(Case.id)).all()
    items = db.exec(select(Item.id)).all()
    letters = db.exec(select(Letter.id)).all()
    photos = db.exec(select(Photo.id)).all()
    addressees = db.exec(select(Addressee.id)).all()
    expert = ["/dashboard", "/cases", "/items", "/items?category=small_arm", "/items/import", "/photos",
              "/search?q=66", "/search?q=YEM", "/search/batch", "/search/patterns", "/search/saved",
              f"/search/compare?item={items[0]}&item={items[1]}", "/traces/", "/traces/dashboard", "/traces/status",
              "/traces/addressees", "/traces/new", "/account/security", "/account/tokens"]
    expert += [f"/cases/{i}" for i in cases] + [f"/cases/{i}/photos/bulk" for i in cases[:1]]
    expert += [f"/items/{i}" for i in items] + [f"/items/{i}/history" for i in items]
    expert += [f"/traces/{i}" for i in letters] + [f"/photos/{i}" for i in photos]
    expert += [f"/traces/addressees/{i}/edit" for i in addressees[:2]]
    coordinator = ["/audit/", "/audit/?page=2", "/traces/template"]
    admin = ["/admin/members", "/admin/settings", "/admin/members/new"]
    viewer = ["/dashboard", "/cases", "/items", "/photos"]
    return ([("expert", p) for p in expert] + [("coordinator", p) for p in coordinator]
            + [("admin", p) for p in admin] + [("viewer", p) for p in viewer])


def _import_pages(client) -> list[tuple[str, str]]:
    """The preview of the sample spreadsheet (the demo's own items, with errors: no update),
    and the column-matching page of a file with its own column names."""
    import io

    pages = []
    lines = (SAMPLE / "items.csv").read_text(encoding="utf-8").splitlines()
    own_names = "\n".join([lines[0].replace("case_ref", "Case").replace("item_ref", "Item")] + lines[1:4])
    for name, content in (("items.csv", "\n".join(lines)), ("own-names.csv", own_names)):
        response = client.post("/items/import", data={"file": (io.BytesIO(content.encode()), name)},
                               content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        page = client.get(response.headers["Location"])
        pages.append((response.headers["Location"], page.get_data(as_text=True)))
    return pages


def test_no_page_of_the_demo_world_shows_a_raw_enum_value(app, demo):
    from tests.factories import log_in

    pattern = raw_enum_pattern()
    clients = {role: log_in(app.test_client(), user) for role, user in demo.items()}
    pages = _main_pages()
    get_session().rollback()  # no transaction of the test's own left idle while the pages load
    found = []
    for role, path in pages:
        response = clients[role].get(path)
        if response.status_code != 200:
            found.append(f"{role} {path}: status {response.status_code}")
        found += [f"{role} {path}: {value}" for value in raw_values_on(response.get_data(as_text=True), pattern)]
    found += [f"expert {path}: {value}" for path, html in _import_pages(clients["expert"])
              for value in raw_values_on(html, pattern)]
    assert found == [], "\n".join(found)
