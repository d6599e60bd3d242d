"""Annexes as DOCX (annexes/docx_writer.py), read back as the Secretariat's Word would: real
headings, captions above figures and tables with the edition's numbers, source lines and
lettered notes below, UN tables, photos from the print derivatives at their printed size,
the edition's marking on every page; and nothing withheld anywhere in the package: not in
any XML part, not as a picture (compared by decoded pixels), not in the properties, not
as a file name."""
from __future__ import annotations

import functools
import hashlib
import io
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.shared import Mm
from PIL import Image, ImageChops, ImageStat

from panel_tracker.annexes import builds, docx_writer, images, services
from panel_tracker.annexes.models import Edition
from panel_tracker.cases.services import add_marking, create_case, create_item, link_marking_photo
from panel_tracker.classification import Classification
from panel_tracker.db import get_session
from panel_tracker.evidence.services import photo_store, receive_photo
from panel_tracker.traces import services as traces
from tests.imagefactory import photographic_jpeg

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
ARABIC_MARKING = "صنع في إيران"  # "made in Iran"
CUT_OFF = date(2024, 12, 31)

# What only the panel edition may hold: each must be absent from every part of the others.
PANEL_ONLY = ["PANELONLY-7781", "Seen at the Marwa depot", "Receiver close-up ZQX", "PANEL-ONLY-TEXT-BLOCK",
              "Annex two secret title", "Kestrel-9 drone"]
COMMITTEE_ONLY = ["CMT-5521", "Committee view of the launcher"]
FILE_NAME = "DSC_SOURCE_NAME_4471"


@dataclass
class Annexes:
    report: object
    public_photo: object
    committee_photo: object
    panel_photo: object
    panel_item: object
    public_item: object


@functools.cache
def _camera_jpeg(seed: int) -> bytes:
    """A camera-like 1200 x 900 JPEG (with EXIF), made once per test run."""
    with tempfile.TemporaryDirectory() as folder:
        return photographic_jpeg(Path(folder) / "photo.jpg", 1200, 900, seed=seed).read_bytes()


def _photo(db, world, case, item, seed, caption, level, *, source_line=""):
    photo = receive_photo(db, world.panel, io.BytesIO(_camera_jpeg(seed)), filename=f"{FILE_NAME}_{seed}.jpg",
                          actor=None, case_id=case.id, item_id=item.id, caption=caption,
                          source_line=source_line).photo
    photo.classification = level
    db.add(photo)
    return photo


def _item(db, case, level, **values):
    item = create_item(db, case, {"category": "small_arm", "type": "assault rifle", "serial_legibility": "intact",
                                  "quantity": 1, **values}, None)
    item.classification = level
    db.add(item)
    return item


@pytest.fixture
def annexes(world) -> Annexes:
    """A report with two annexes. Annex 1 (public) holds a text, a two-photo figure (one
    committee photo), sheets of a public, a committee and a panel-only item, a table of
    the three, the trace requests as at the cut-off and a panel-only text; annex 2 is
    panel-only."""
    db = get_session()
    case = create_case(db, world.panel, {"ref": "YEM-2024-009", "title": "Hodeidah port seizure"}, None)
    case.classification = Classification.PUBLIC
    public = _item(db, case, Classification.PUBLIC, model="Type 56-1", calibre="7.62x39mm", serial="56-104417")
    committee = _item(db, case, Classification.COMMITTEE, type="rocket launcher", serial="CMT-5521")
    panel = _item(db, case, Classification.PANEL, type="Kestrel-9 drone", serial="PANELONLY-7781",
                  notes="Seen at the Marwa depot", category="uav")
    marking = add_marking(db, public, {"text": ARABIC_MARKING, "kind": "other", "location": "receiver"}, None)
    add_marking(db, public, {"text": "56-104417", "kind": "serial", "location": "receiver"}, None)
    add_marking(db, panel, {"text": "PANELONLY-7781", "kind": "serial"}, None)
    public_photo = _photo(db, world, case, public, 1, "Receiver, left side", Classification.PUBLIC,
                          source_line="Panel, 12 March 2024")
    panel_photo = _photo(db, world, case, public, 2, "Receiver close-up ZQX", Classification.PANEL)
    committee_photo = _photo(db, world, case, committee, 3, "Committee view of the launcher",
                             Classification.COMMITTEE)
    _photo(db, world, case, panel, 4, "Kestrel-9 drone airframe", Classification.PANEL)
    link_marking_photo(db, marking, public_photo, (0.2, 0.3, 0.3, 0.2), None)
    db.flush()

    addressee = traces.state_addressee(db, world.panel, "CHN", None)
    letter = traces.draft_letter(db, world.panel, {"kind": "trace_request", "addressee_id": addressee.id,
                                                   "classification": "public"}, None, item_ids=[public.id])
    traces.send_letter(db, letter, None, sent_on=date(2024, 3, 1), reference="S/AC.1/2024/PE/OC.12", today=CUT_OFF)

    report = services.create_report(db, world.panel, {"title": "Final report 2025", "symbol": "S/2025/123",
                                                      "cut_off": CUT_OFF.isoformat()}, None)
    first = services.add_annex(db, report, {"title": "Arms seized at Hodeidah", "classification": "public",
                                            "intro": "The Panel inspected the items in **March 2024** "
                                                     "(see [[fig:closeup]])."}, None)
    second = services.add_annex(db, report, {"title": "Annex two secret title", "classification": "panel"}, None)

    def block(annex, kind, settings, level="public", **values):
        services.add_block(db, report, annex, {"kind": kind, "settings": settings, "classification": level,
                                               **values}, None)

    block(first, "text", {"text": "## Method\n\nEach item was photographed:\n\n- every *marking*;\n"
                                  "- the `56-104417` serial.\n\n3. first\n4. second\n\nThen:\n\n1. again"})
    block(first, "photo_figure", {"photo_ids": [public_photo.id, committee_photo.id]}, key="closeup",
          caption="Rifle and launcher", source_line="Source: Panel, 12 March 2024")
    for item in (public, committee, panel):
        block(first, "item_sheet", {"item": item.item_ref})
    block(first, "item_table", {"items": [public.item_ref, committee.item_ref, panel.item_ref]},
          caption="Items seized")
    block(first, "trace_status", {})
    block(first, "text", {"text": "PANEL-ONLY-TEXT-BLOCK"}, level="panel")
    block(second, "text", {"text": "Nothing for the public."})
    db.commit()
    return Annexes(report, public_photo, committee_photo, panel_photo, panel, public)


def _docx(world, annexes, edition: str) -> tuple[bytes, dict]:
    db = get_session()
    document = builds.report_document(db, world.panel, annexes.report, Edition(edition))
    data, pages = docx_writer.render(document, photo_store(), world.panel.code)
    assert pages == 0
    return data, document


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def _styled(doc, style: str) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name == style]


def _signature(image: Image.Image) -> Image.Image:
    return image.convert("L").resize((16, 16), Image.Resampling.BOX)


def _difference(a: Image.Image, b: Image.Image) -> float:
    return ImageStat.Stat(ImageChops.difference(_signature(a), _signature(b))).mean[0]


def _embedded(parts: dict[str, bytes]) -> list[Image.Image]:
    out = []
    for name, data in parts.items():
        if not name.endswith((".xml", ".rels")):
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                out.append(im.copy())
    return out


def _large(world, photo) -> Image.Image:
    with Image.open(photo_store().derivative_path(world.panel.code, photo.sha256, "large")) as im:
        return im.convert("RGB")


# ------------------------------------------------------------------ structure


def test_the_public_annex_has_real_headings_numbered_captions_and_source_lines(world, annexes):
    data, _ = _docx(world, annexes, "public")
    doc = Document(io.BytesIO(data))
    assert _styled(doc, "Heading 1") == ["Annex 1", "Annex 2"]
    assert _styled(doc, "Heading 2") == ["Arms seized at Hodeidah"]
    sheet = f"{annexes.public_item.item_ref}: assault rifle, Type 56-1"
    assert _styled(doc, "Heading 3") == ["Method", sheet]
    heading_1 = [p for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert all(p.paragraph_format.page_break_before for p in heading_1)  # each annex on a new page

    captions = _styled(doc, "Caption")
    assert captions == ["Figure 1.1\nRifle and launcher", f"Figure 1.2\n{sheet}", "Table 1.1\nItems seized",
                        "Table 1.2\nStatus of trace requests as at 31 December 2024"]
    xml = _parts(data)["word/document.xml"].decode()
    assert xml.count("SEQ Figure \\* ARABIC \\s 1") == 2 and xml.count("SEQ Table \\* ARABIC \\s 1") == 2
    # The cross-reference in the introduction resolved to the figure's number.
    assert any("(see Figure 1.1)" in p.text for p in doc.paragraphs)

    texts = [p.text for p in doc.paragraphs]
    # Source line and lettered note below the figure: its caption, the picture, then them.
    figure = texts.index("Figure 1.1\nRifle and launcher")
    after = texts[figure + 1:figure + 5]
    assert "Source: Panel, 12 March 2024" in after
    assert "a 1 photograph withheld from this edition." in after
    assert [p.text for p in doc.paragraphs if p.style.name == "Source Line"][:2] == [
        "Source: Panel, 12 March 2024", "Source: Panel, 12 March 2024"]
    # Withheld things are said, in italic paragraphs.
    withheld = _styled(doc, "Withheld Note")
    assert withheld == ["2 item sheets withheld from this edition.", "A text withheld from this edition.",
                        "Annex 2 is not included in this edition."]  # consecutive notes of one kind merged
    assert doc.styles["Withheld Note"].font.italic is True


def test_markdown_runs_and_lists_are_word_styles(world, annexes):
    data, _ = _docx(world, annexes, "public")
    doc = Document(io.BytesIO(data))
    bullets = [p for p in doc.paragraphs if p.style.name == "List Bullet"]
    assert [p.text for p in bullets] == ["every marking;", "the 56-104417 serial."]
    assert [r.text for r in bullets[0].runs if r.italic] == ["marking"]
    mono = [r for r in bullets[1].runs if r.text == "56-104417"]
    assert mono and mono[0]._r.rPr.rFonts.get(f"{W}ascii") == "Noto Sans Mono"
    numbered = [p for p in doc.paragraphs if p.style.name == "List Number"]
    assert [p.text for p in numbered] == ["first", "second", "again"]
    # Each list starts where the Markdown says: 3, then (a new list) 1.
    numbering = doc.part.numbering_part.element
    starts = []
    for p in numbered:
        num = numbering.num_having_numId(p._p.pPr.numPr.numId.val)
        override = num.find(f"{W}lvlOverride")
        starts.append(override.find(f"{W}startOverride").get(f"{W}val") if override is not None else None)
    assert starts == ["3", "3", "1"]
    intro = next(p for p in doc.paragraphs if p.text.startswith("The Panel inspected"))
    assert [r.text for r in intro.runs if r.bold] == ["March 2024"]


def test_tables_are_un_tables_with_a_repeating_header_row(world, annexes):
    data, _ = _docx(world, annexes, "public")
    doc = Document(io.BytesIO(data))
    by_header = {tuple(c.text for c in t.rows[0].cells): t for t in doc.tables}
    items = by_header[("Ref.", "Type", "Make", "Model", "Calibre", "Serial number", "Lot", "Year", "Qty")]
    assert [r.cells[0].text for r in items.rows[1:]] == [annexes.public_item.item_ref]
    traces_table = next(t for h, t in by_header.items() if h[0] == "Ref." and "Addressed to" in h)
    row = [c.text for c in traces_table.rows[1].cells]
    assert annexes.public_item.item_ref in row[1] and row[2] == "China" and row[3] == "1 March 2024"
    assert row[-1].startswith("No response")
    texts = [p.text for p in doc.paragraphs]
    assert any(t.startswith("As at 31 December 2024: 1 sent, 0 acknowledged") for t in texts)
    assert "a 2 items withheld from this edition." in texts

    for table in (items, traces_table):
        borders = table._tbl.tblPr.find(f"{W}tblBorders")
        values = {child.tag.removeprefix(W): child.get(f"{W}val") for child in borders}
        assert values == {"top": "single", "bottom": "single", "left": "nil", "right": "nil", "insideH": "nil",
                          "insideV": "nil"}
        header = table.rows[0]
        assert header._tr.trPr.find(f"{W}tblHeader") is not None
        for cell in header.cells:
            assert cell._tc.tcPr.find(f"{W}tcBorders").find(f"{W}bottom").get(f"{W}val") == "single"
        assert all(r.cells[0]._tc.tcPr.find(f"{W}tcBorders") is None for r in table.rows[1:])


def test_an_item_sheet_is_a_fields_table_a_markings_table_and_a_figure(world, annexes):
    data, document = _docx(world, annexes, "public")
    doc = Document(io.BytesIO(data))
    fields = next(t for t in doc.tables if t.rows[0].cells[0].text == "Reference")
    pairs = {r.cells[0].text: r.cells[1].text for r in fields.rows}
    assert pairs["Reference"] == f"{annexes.public_item.item_ref} (case YEM-2024-009)"
    assert pairs["Serial number as read"] == "56-104417" and pairs["Model"] == "Type 56-1"
    assert len(fields.columns) == 2
    markings = next(t for t in doc.tables if t.rows[0].cells[0].text == "Marking as read")
    assert [r.cells[0].text for r in markings.rows[1:]] == [ARABIC_MARKING, "56-104417"]
    assert "Markings" in [p.text for p in doc.paragraphs]
    sheet = document["annexes"][0]["parts"][2]
    assert sheet["kind"] == "item_sheet" and sheet["figure"]["label"] == "Figure 1.2"
    assert sheet["figure"]["notes"] == ["1 photograph withheld from this edition."]


def test_arabic_markings_are_text_marked_right_to_left(world, annexes):
    data, _ = _docx(world, annexes, "public")
    doc = Document(io.BytesIO(data))
    markings = next(t for t in doc.tables if t.rows[0].cells[0].text == "Marking as read")
    paragraph = markings.rows[1].cells[0].paragraphs[0]
    assert paragraph.text == ARABIC_MARKING
    assert all(r._r.rPr.find(f"{W}rtl") is not None for r in paragraph.runs)
    assert paragraph._p.pPr.find(f"{W}bidi") is not None  # Arabic only: a right-to-left paragraph
    latin = markings.rows[2].cells[0].paragraphs[0]
    assert latin._p.pPr.find(f"{W}bidi") is None and latin.runs[0]._r.rPr is None
    fonts = doc.styles.element.find(f"{W}docDefaults").find(f".//{W}rFonts")
    assert {k.removeprefix(W): v for k, v in fonts.attrib.items()} == {
        "ascii": "Noto Serif", "hAnsi": "Noto Serif", "eastAsia": "Noto Serif CJK SC", "cs": "Noto Naskh Arabic"}
    assert "Theme" not in _parts(data)["word/styles.xml"].decode().split("<w:rFonts")[1].split(">")[0]


def test_mixed_text_is_cut_into_left_to_right_and_right_to_left_runs():
    assert docx_writer.segments("Marked صنع في إيران 1985 on the receiver") == [
        ("Marked ", False), ("صنع في إيران", True), (" 1985 on the receiver", False)]
    assert docx_writer.segments("٢٠١٤ صنع") == [("٢٠١٤ صنع", True)]
    assert docx_writer.right_to_left_only("صنع في إيران ١٩٨٥") and not docx_writer.right_to_left_only("Type صنع")


def test_photos_are_print_derivatives_at_their_printed_size_under_generic_names(world, annexes):
    data, document = _docx(world, annexes, "committee")
    parts = _parts(data)
    media = sorted(n for n in parts if n.startswith("word/media/"))
    assert media and all(re.fullmatch(r"word/media/image[0-9]+\.jpg", n) for n in media)
    assert not [n for n in parts if not n.endswith((".xml", ".rels")) and not n.startswith("word/media/")]
    originals = {p.sha256 for p in (annexes.public_photo, annexes.committee_photo)}
    for name in media:
        with Image.open(io.BytesIO(parts[name])) as im:
            assert im.size[0] < 1200 and not im.getexif()  # never the original, no EXIF
    assert not {hashlib.sha256(parts[n]).hexdigest() for n in media} & originals

    doc = Document(io.BytesIO(data))
    shown = [im for part in document["annexes"][0]["parts"]
             for im in ((part.get("figure") or {}).get("images", []) if part["kind"] == "item_sheet"
                        else part.get("images", []))]
    shapes = doc.inline_shapes
    assert len(shapes) == len(shown) == 4
    for shape, image in zip(shapes, shown):
        assert (shape.width, shape.height) == (Mm(image["width_mm"]), Mm(image["height_mm"]))
        doc_pr = shape._inline.docPr
        assert doc_pr.get("descr") == image["alt"] and re.fullmatch(r"Picture [0-9]+", doc_pr.get("name"))
    # The two photos of figure 1.1 side by side in a borderless table.
    grid = next(t for t in doc.tables if t._tbl.find(f".//{W}drawing") is not None and len(t.columns) == 2)
    assert len(grid._tbl.findall(f".//{W}drawing")) == 2
    borders = grid._tbl.tblPr.find(f"{W}tblBorders")
    assert {child.get(f"{W}val") for child in borders} == {"nil"}
    # Each picture has the pixels of its printed size at 200 dpi (to a pixel: aspect kept).
    for name in media:
        with Image.open(io.BytesIO(parts[name])) as im:
            assert any(abs(im.width - images.px(i["width_mm"])) <= 1 and abs(im.height - images.px(i["height_mm"])) <= 1
                       for i in shown)


# ------------------------------------------------------------------ markings on every page


@pytest.mark.parametrize("edition", ["committee", "panel"])
def test_committee_and_panel_editions_carry_their_marking_in_every_header_and_footer(world, annexes, edition):
    data, document = _docx(world, annexes, edition)
    doc = Document(io.BytesIO(data))
    marking = Edition(edition).marking
    assert document["marking"] == marking
    for section in doc.sections:
        assert [p.text for p in section.header.paragraphs] == [marking]
        assert [p.text for p in section.footer.paragraphs] == [marking]
        assert not section.different_first_page_header_footer
    assert not doc.settings.odd_and_even_pages_header_footer


def test_the_public_edition_has_no_header_or_footer_text(world, annexes):
    data, _ = _docx(world, annexes, "public")
    parts = _parts(data)
    assert not [n for n in parts if re.match(r"word/(header|footer)", n)]
    everything = b"".join(parts.values()).decode("utf-8", "replace")
    for marking in (Edition.COMMITTEE.marking, Edition.PANEL.marking, "DRAFT", "S/2025/123"):
        assert marking not in everything


# ------------------------------------------------------------------ nothing withheld


@pytest.mark.parametrize("edition, absent", [("public", PANEL_ONLY + COMMITTEE_ONLY), ("committee", PANEL_ONLY)])
def test_nothing_withheld_is_in_any_part_of_the_package(world, annexes, edition, absent):
    data, _ = _docx(world, annexes, edition)
    parts = _parts(data)
    for name, content in parts.items():
        for secret in absent + [FILE_NAME]:
            assert secret.encode() not in content, f"{secret!r} in {name}"
    if edition == "committee":  # the same check finds what the edition does show
        assert any(b"CMT-5521" in content for content in parts.values())


def test_the_panel_edition_holds_what_the_others_withhold(world, annexes):
    parts = _parts(_docx(world, annexes, "panel")[0])
    document = parts["word/document.xml"]
    for secret in PANEL_ONLY + COMMITTEE_ONLY:
        assert secret.encode() in document, secret
    assert FILE_NAME.encode() not in b"".join(parts.values())


def test_a_withheld_photo_is_in_no_picture_of_the_package_by_its_pixels(world, annexes):
    withheld = _large(world, annexes.panel_photo)
    shown = _large(world, annexes.public_photo)
    public = _embedded(_parts(_docx(world, annexes, "public")[0]))
    panel = _embedded(_parts(_docx(world, annexes, "panel")[0]))
    assert public and panel
    # The measure tells the photos apart: the panel edition holds the withheld photo...
    assert min(_difference(withheld, im) for im in panel) < 3
    # ... and the public one holds the public photo but nothing like the withheld one.
    assert min(_difference(shown, im) for im in public) < 3
    assert min(_difference(withheld, im) for im in public) > 12


def test_properties_hold_the_title_and_edition_only(world, annexes):
    data, _ = _docx(world, annexes, "public")
    parts = _parts(data)
    core = parts["docProps/core.xml"].decode()
    doc = Document(io.BytesIO(data))
    props = doc.core_properties
    assert props.title == "Final report 2025 (Public edition)"
    assert (props.author, props.last_modified_by, props.comments, props.keywords, props.subject, props.category) \
        == ("", "", "", "", "", "")
    assert props.created is None and props.modified is None and props.last_printed is None
    assert re.sub(r"<dc:title>.*</dc:title>", "", core).count("<dc:") == 0
    app = parts["docProps/app.xml"].decode()
    assert "Normal.dotm" not in app and "Microsoft" not in app and "<Company" not in app
    everything = b"".join(parts.values()).decode("utf-8", "replace")
    for user in world.users.values():
        assert user.email not in everything and user.name not in everything
    assert "python-docx" not in everything
    # No custom XML, no thumbnail, no comments, no revision marks or revision-save ids.
    assert not [n for n in parts if n.startswith(("customXml", "docProps/thumbnail", "word/comments"))]
    assert set(n for n in parts if n.startswith("docProps/")) == {"docProps/core.xml", "docProps/app.xml"}
    for name, content in parts.items():
        if name.endswith(".xml"):
            text = content.decode()
            assert "w:rsid" not in text and "<w:ins " not in text and "<w:del " not in text, name
            assert "<w:bookmarkStart" not in text and "<w:comment" not in text, name


def test_the_same_document_gives_the_same_bytes(world, annexes):
    first, document = _docx(world, annexes, "committee")
    again, _ = docx_writer.render(document, photo_store(), world.panel.code)
    assert first == again


def test_a_withheld_annex_without_a_note_prints_nothing(world, annexes):
    db = get_session()
    annexes.report.show_withheld_notes = False
    db.add(annexes.report)
    db.commit()
    data, _ = _docx(world, annexes, "public")
    doc = Document(io.BytesIO(data))
    assert _styled(doc, "Heading 1") == ["Annex 1"]
    assert _styled(doc, "Withheld Note") == []
    assert "withheld" not in _parts(data)["word/document.xml"].decode()


# ------------------------------------------------------------------ the command line


def test_the_quick_annex_command_writes_a_docx_of_a_case(world, annexes, runner, tmp_path):
    out = tmp_path / "quick.docx"
    result = runner.invoke(args=["annex", "quick", "--panel", "YEM", "--case", "YEM-2024-009", "--edition",
                                 "public", "--format", "docx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out} (docx, public edition, ")
    data = out.read_bytes()
    doc = Document(io.BytesIO(data))
    assert _styled(doc, "Heading 1") == ["Annex 1"]
    assert _styled(doc, "Heading 2") == ["Hodeidah port seizure"]
    assert doc.core_properties.title == "Hodeidah port seizure (Public edition)"
    assert [c for c in _styled(doc, "Caption")] == [
        f"Figure 1.1\n{annexes.public_item.item_ref}: assault rifle, Type 56-1"]
    for content in _parts(data).values():
        for secret in PANEL_ONLY + COMMITTEE_ONLY + [FILE_NAME]:
            assert secret.encode() not in content


# ------------------------------------------------------------------ any document, no database


def test_a_document_is_written_whatever_its_text_and_a_lost_photo_is_said(tmp_path):
    """The writer takes any document: characters XML cannot carry are dropped, an Arabic
    title is a right-to-left heading, a photo whose derivative is gone is a line saying so,
    and progress is reported as the builds' progress bar expects."""
    from panel_tracker.evidence.storage import PhotoStore

    document = {
        "title": "Quick\x00 annex", "edition_label": "Public edition", "marking": "", "edition": "public",
        "report": {"title": "", "kind": "", "symbol": "", "cut_off": None}, "panel": "YEM",
        "annexes": [{"number": 3, "title": "أسلحة مضبوطة", "withheld": False, "item_ids": [], "note": "",
                     "intro": [{"style": "p", "number": 0, "runs": [{"t": "Bell\x07 and tab\there",
                                                                       "b": False, "i": False, "m": False}]}],
                     "parts": [{"kind": "figure", "label": "Figure 3.1", "title": "Lost", "source": "Source: Panel",
                                "notes": [], "images": [{"sha256": "ab" * 32, "width_mm": 50, "height_mm": 40,
                                                         "boxes": [], "caption": "", "alt": "lost"}]}]}]}
    seen = []
    data, pages = docx_writer.render(document, PhotoStore(tmp_path / "photos"), "YEM",
                                     lambda stage, done, total: seen.append((stage, done, total)))
    assert pages == 0 and seen == [("images", 1, 1), ("layout", 0, 1), ("layout", 1, 1)]
    doc = Document(io.BytesIO(data))
    title = next(p for p in doc.paragraphs if p.style.name == "Heading 2")
    assert title.text == "أسلحة مضبوطة" and title._p.pPr.find(f"{W}bidi") is not None
    assert _styled(doc, "Heading 1") == ["Annex 3"]
    assert "Bell and tab\there" in [p.text for p in doc.paragraphs]
    assert "Photograph no longer held." in [p.text for p in doc.paragraphs]
    assert doc.core_properties.title == "Quick annex (Public edition)" and not doc.inline_shapes
