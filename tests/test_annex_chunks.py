"""A long annex is laid out in chunks (annexes/pdf.py) and reads like one document: every
page's footer counts over the whole file, the running header and the edition's marking are
on every page, the bookmarks nest as in one document, and nothing is added to the file's
information."""
from __future__ import annotations

import io
import re
import subprocess

import pytest
from pypdf import PdfReader

from panel_tracker.annexes import builds, pdf
from panel_tracker.annexes.models import Edition
from panel_tracker.cases.services import add_marking, create_case, create_item
from panel_tracker.evidence.services import photo_store, receive_photo
from tests.factories import make_member, make_panel
from tests.imagefactory import photographic_image


@pytest.fixture
def case_of_six(app, db):
    panel = make_panel("YEM")
    user, _ = make_member(panel, "expert")
    case = create_case(db, panel, {"ref": "YEM-2024-006", "title": "Rifles seized at Nishtun"}, user)
    base = photographic_image(640, 480, seed=3)
    for number in range(1, 7):
        item = create_item(db, case, {"category": "small_arm", "type": "assault rifle", "quantity": 1,
                                      "model": "Type 56-1", "serial": f"2401{number:04d}",
                                      "serial_legibility": "intact"}, user)
        add_marking(db, item, {"text": f"2401{number:04d}", "kind": "serial"}, user)
        for side in range(2):
            picture = base.copy()
            picture.putpixel((number, side), (number * 30, side * 90, 0))
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=85)
            buffer.seek(0)
            receive_photo(db, panel, buffer, filename=f"{number}-{side}.jpg", actor=user, case_id=case.id,
                          item_id=item.id)
    db.commit()
    return panel, case


def page_texts(data: bytes, pages: int) -> list[str]:
    out = []
    for page in range(1, pages + 1):
        out.append(subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), "-", "-"], input=data,
                                  capture_output=True, check=True).stdout.decode())
    return out


def footer_boxes(data: bytes) -> list[tuple[str, float, float, float, float]]:
    """Each page's "page/total" footer word and its box (pdftotext -bbox, points)."""
    html = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    found = []
    for page in html.split("<page ")[1:]:
        words = re.findall(r'<word xMin="([0-9.]+)" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)">([0-9]+/[0-9]+)</word>',
                           page)
        x0, y0, x1, y1, text = words[-1]
        found.append((text, float(x0), float(y0), float(x1), float(y1)))
    return found


def outline(reader: PdfReader, items=None, depth=0) -> list[tuple[int, str, int]]:
    found = []
    for item in reader.outline if items is None else items:
        if isinstance(item, list):
            found += outline(reader, item, depth + 1)
        else:
            found.append((depth, item.title, reader.get_destination_page_number(item)))
    return found


def test_annex_in_three_chunks_reads_as_one_document(app, db, case_of_six):
    panel, case = case_of_six
    document = builds.quick_document(db, panel, case, Edition.PANEL)
    assert len(pdf.chunks(document, 2)) == 3

    # Two worker processes lay the chunks out, as on a two-core machine.
    data, pages = pdf.render(document, photo_store(), panel.code, chunk_parts=2, workers=2)
    whole, whole_pages = pdf.render(builds.quick_document(db, panel, case, Edition.PANEL), photo_store(),
                                    panel.code, chunk_parts=100)

    assert pages == whole_pages == 6
    texts = page_texts(data, pages)
    for number, text in enumerate(texts, start=1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert lines[-1].endswith(f"{number}/6"), lines[-3:]
        assert "DRAFT" in lines[0]
        assert text.count(Edition.PANEL.marking) == 2  # above and below
    # The footer is drawn where WeasyPrint puts it in the document laid out whole, in its font.
    chunked_footers, whole_footers = footer_boxes(data), footer_boxes(whole)
    assert [f[0] for f in chunked_footers] == [f[0] for f in whole_footers] == [f"{n}/6" for n in range(1, 7)]
    for drawn, laid_out in zip(chunked_footers, whole_footers):
        assert all(abs(a - b) < 0.5 for a, b in zip(drawn[1:], laid_out[1:])), (drawn, laid_out)
    fonts = subprocess.run(["pdffonts", "-"], input=data, capture_output=True, check=True).stdout.decode()
    assert "NotoSerif" in fonts.replace("-", "") and "Helvetica" not in fonts
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:]), fonts  # every font embedded
    # The same words on the same pages as the document laid out whole.
    assert [t.split() for t in texts] == [t.split() for t in page_texts(whole, whole_pages)]
    assert texts[0].count("Annex 1") == 1 and "Annex 1" not in "".join(texts[1:])

    reader = PdfReader(io.BytesIO(data))
    marks = outline(reader)
    assert marks == outline(PdfReader(io.BytesIO(whole)))
    assert [(depth, page) for depth, _, page in marks] == [(0, 0), (1, 0)] + [(2, n) for n in range(6)]
    assert marks[1][1] == "Rifles seized at Nishtun"
    assert set(reader.metadata) == set(PdfReader(io.BytesIO(whole)).metadata) <= {"/Title", "/Producer"}
    assert reader.xmp_metadata is None


def test_without_the_footer_font_the_footer_is_laid_out_by_weasyprint(app, db, case_of_six, monkeypatch, caplog):
    panel, case = case_of_six
    monkeypatch.setattr(pdf, "_footer_font", lambda: None)
    data, pages = pdf.render(builds.quick_document(db, panel, case, Edition.PANEL), photo_store(), panel.code,
                             chunk_parts=3)
    assert [f[0] for f in footer_boxes(data)] == [f"{n}/6" for n in range(1, 7)]
    assert "laying the footer out with WeasyPrint" in caplog.text
