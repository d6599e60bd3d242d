"""Annex documents to DOCX with python-docx, for the Secretariat to edit in Word.

Everything is real Word structure, never an image of text: "Annex N" is Heading 1 (on a
new page), the annex title Heading 2, item sheet and Markdown headings Heading 3; figure
and table labels and titles sit above their figure or table in Word's Caption style, the
number after the annex ("12." of "Figure 12.3") is a SEQ field reset at each Heading 1, so
Word can renumber after edits, while the text shown is the document's own number. Tables
are real tables in the UN manner (rules above and below the header row and at the foot,
no vertical rules, the header row repeated on each page); an item sheet's fields are a
two-column table; several photos of a figure sit side by side in a borderless table.

Only what the document holds is printed: what an edition may not show never reaches this
module (``compose.py``). Photos are the print derivatives (``images.py``), never the
originals, inserted at their printed size (200 dpi) under generic part names
(``/word/media/imageN.jpg``) with the document's alt text; no file name goes in.

Running heads: the committee and panel editions carry their marking in the header and the
footer of every page. The public edition has no header or footer at all: the Secretariat
adds its own (document symbol, job number, page numbers), and a symbol or "DRAFT" placed
here would be one more thing to find and delete before publication.

Clean package: python-docx's default template brings an author ("python-docx"), a
description, 2013 dates, a thumbnail, a bibliography custom XML part and revision-save ids
(rsids). All are removed: ``docProps/core.xml`` holds the title and edition only (no
dates: none would be true that is not also the build's own record), ``docProps/app.xml``
no template or application claims. The zip is written with fixed timestamps, so the same
document gives the same bytes.

Fonts: the Noto families the PDF uses (Noto Serif; East Asian Noto Serif CJK SC; complex
script Noto Naskh Arabic; monospace Noto Sans Mono). Runs of right-to-left text (Arabic,
Hebrew…) are marked ``w:rtl`` so Word shapes and orders them, and a paragraph with no
left-to-right letter is a right-to-left paragraph (``w:bidi``).
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.image.image import Image as DocxImage
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.shape import CT_Inline
from docx.parts.image import ImagePart
from docx.shared import Mm, Pt

from ..evidence.storage import PhotoStore
from . import images

SERIF = "Noto Serif"
SERIF_CJK = "Noto Serif CJK SC"
NASKH = "Noto Naskh Arabic"
SANS = "Noto Sans"
MONO = "Noto Sans Mono"

PAGE_MM = (210, 297)  # A4, as the PDF
MARGINS_MM = {"top": 22, "bottom": 20, "left": 20, "right": 20}
TEXT_WIDTH_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]  # 170, as blocks.image_box_mm
RULE = "6"  # eighths of a point: 0.75 pt, the PDF's rules
LETTERS = "abcdefghijklmnopqrstuvwxyz"
LABEL = re.compile(r"^(Figure|Table) ([0-9]+)\.([0-9]+)$")
#: Characters XML 1.0 cannot carry (python-docx refuses them): dropped, never printed.
UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: A quick test before classifying characters one by one: any right-to-left letter at all?
MAYBE_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff]")
RTL_SPAN = re.compile(r"R(?:N*R)*")

Progress = Callable[[str, int, int], None]


def render(document: dict, store: PhotoStore, panel_code: str, progress: Progress | None = None) -> tuple[bytes, int]:
    """The DOCX of ``document``, and 0 (Word paginates: the page count is not ours)."""
    pictures = _prepare_images(document, store, panel_code, progress)
    if progress:
        progress("layout", 0, 1)
    writer = _Writer(document, pictures)
    writer.write()
    if progress:
        progress("layout", 1, 1)
    data = _package(writer.doc, document)
    return data, 0


# ------------------------------------------------------------------ images


def _iter_images(document: dict):
    for annex in document["annexes"]:
        for part in annex.get("parts", []):
            figure = part.get("figure") if part["kind"] == "item_sheet" else part if part["kind"] == "figure" else None
            if figure:
                yield from figure["images"]


def _prepare_images(document: dict, store: PhotoStore, panel_code: str,
                    progress: Progress | None) -> dict[int, tuple]:
    """``{id(image): (path, (w_px, h_px))}`` of each image's print derivative, made if
    missing; an image whose photo is gone is not in it. The document is not changed."""
    found: dict[int, tuple] = {}
    all_images = list(_iter_images(document))
    for n, image in enumerate(all_images, start=1):
        made = images.print_derivative(store, panel_code, image)
        if made is not None:
            found[id(image)] = made
        if progress and (n % 20 == 0 or n == len(all_images)):
            progress("images", n, len(all_images))
    return found


def printed_size_mm(image: dict, size_px: tuple[int, int]) -> tuple[float, float]:
    """The image's printed size: the document's, or its pixels at the print resolution."""
    if image.get("width_mm") and image.get("height_mm"):
        return float(image["width_mm"]), float(image["height_mm"])
    return size_px[0] / images.DPI * 25.4, size_px[1] / images.DPI * 25.4


class _Pictures:
    """Pictures added to the main document part. python-docx's ``add_picture`` looks for a
    duplicate by hashing every image already added and scans the whole document for the
    next shape id, for each picture (quadratic on an annex of a thousand photos); here one
    dictionary and one counter do it. Part names stay python-docx's generic ones."""

    def __init__(self, doc):
        self.part = doc.part
        self.by_digest: dict[str, str] = {}
        self.media = 0
        self.shapes = 0

    def inline(self, blob: bytes, width_mm: float, height_mm: float, alt: str) -> CT_Inline:
        digest = hashlib.sha256(blob).hexdigest()
        rid = self.by_digest.get(digest)
        if rid is None:
            image = DocxImage.from_blob(blob)
            self.media += 1
            part = ImagePart.from_image(image, PackURI(f"/word/media/image{self.media}.{image.ext}"))
            rid = self.part.relate_to(part, RT.IMAGE)
            self.by_digest[digest] = rid
        self.shapes += 1
        inline = CT_Inline.new_pic_inline(self.shapes, rid, f"image{self.shapes}", Mm(width_mm), Mm(height_mm))
        inline.docPr.set("descr", _clean(alt))
        return inline


# ------------------------------------------------------------------ text and scripts


def _clean(text) -> str:
    return UNPRINTABLE.sub("", "" if text is None else str(text))


def segments(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into ``(piece, right_to_left)``: each right-to-left stretch (letters,
    with the spaces, digits and marks between them) apart from the rest."""
    if not MAYBE_RTL.search(text):
        return [(text, False)] if text else []
    classes, previous = [], "N"
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL", "AN"):
            c = "R"
        elif kind == "L":
            c = "L"
        elif kind == "NSM":  # a combining mark goes with its letter
            c = previous
        else:
            c = "N"
        classes.append(c)
        previous = c
    out, pos = [], 0
    for m in RTL_SPAN.finditer("".join(classes)):
        if m.start() > pos:
            out.append((text[pos:m.start()], False))
        out.append((text[m.start():m.end()], True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def right_to_left_only(text: str) -> bool:
    """True when ``text`` has right-to-left letters and no left-to-right one."""
    if not MAYBE_RTL.search(text):
        return False
    kinds = {unicodedata.bidirectional(ch) for ch in text}
    return bool(kinds & {"R", "AL"}) and "L" not in kinds


# ------------------------------------------------------------------ low-level XML


def _child(parent, tag: str, successors: tuple[str, ...] = ()):
    """``parent``'s ``tag`` child, added before the first of ``successors`` if missing."""
    found = parent.find(qn(tag))
    if found is None:
        found = OxmlElement(tag)
        parent.insert_element_before(found, *successors) if successors else parent.append(found)
    return found


_RPR_AFTER_SZCS = ("w:highlight", "w:u", "w:effect", "w:bdr", "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs",
                   "w:em", "w:lang", "w:eastAsianLayout", "w:specVanish", "w:oMath")
_PPR_AFTER_BIDI = ("w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
                   "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
                   "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr",
                   "w:pPrChange")
_TBLPR_AFTER_BORDERS = ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription")
_TBLPR_AFTER_MARGINS = ("w:tblLook", "w:tblCaption", "w:tblDescription")
_TCPR_AFTER_BORDERS = ("w:shd", "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark",
                       "w:headers", "w:cellIns", "w:cellDel", "w:cellMerge", "w:tcPrChange")


def _fonts(rpr, **names) -> None:
    fonts = rpr.get_or_add_rFonts()
    for attribute in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        fonts.attrib.pop(qn(f"w:{attribute}"), None)
    for name, value in names.items():
        fonts.set(qn(f"w:{name}"), value)


def _style_font(style, *, size: float | None = None, bold: bool | None = None, italic: bool | None = None,
                colour: str | None = "000000", font: str | None = None) -> None:
    """Set a style's size, weight, slant and colour for every script (the complex-script
    twins ``szCs``, ``bCs``, ``iCs`` too: Word uses them for Arabic)."""
    rpr = style.element.get_or_add_rPr()
    if font:
        _fonts(rpr, ascii=font, hAnsi=font)
    if bold is not None:
        rpr.get_or_add_b().val = bold
        rpr.get_or_add_bCs().val = bold
    if italic is not None:
        rpr.get_or_add_i().val = italic
        rpr.get_or_add_iCs().val = italic
    if colour is not None:
        color = rpr.get_or_add_color()
        for attribute in ("themeColor", "themeShade", "themeTint"):
            color.attrib.pop(qn(f"w:{attribute}"), None)
        color.set(qn("w:val"), colour)
    if size is not None:
        rpr.get_or_add_sz().val = Pt(size)
        _child(rpr, "w:szCs", _RPR_AFTER_SZCS).set(qn("w:val"), str(int(size * 2)))


def _border(parent, side: str, value: str = "single") -> None:
    edge = _child(parent, f"w:{side}")
    edge.set(qn("w:val"), value)
    if value == "nil":
        for attribute in ("sz", "space", "color"):
            edge.attrib.pop(qn(f"w:{attribute}"), None)
    else:
        edge.set(qn("w:sz"), RULE)
        edge.set(qn("w:space"), "0")
        edge.set(qn("w:color"), "000000")


def _table_borders(table, *, top: bool, bottom: bool) -> None:
    """Rules at the table's top and bottom only (no vertical rules, none between rows)."""
    tblpr = table._tbl.tblPr
    borders = _child(tblpr, "w:tblBorders", _TBLPR_AFTER_BORDERS)
    for side, on in (("top", top), ("left", False), ("bottom", bottom), ("right", False), ("insideH", False),
                     ("insideV", False)):
        _border(borders, side, "single" if on else "nil")


def _cell_margins(table, left_right_mm: float) -> None:
    margins = _child(table._tbl.tblPr, "w:tblCellMar", _TBLPR_AFTER_MARGINS)
    for side in ("left", "right"):
        edge = _child(margins, f"w:{side}")
        edge.set(qn("w:w"), str(int(Mm(left_right_mm).twips)))
        edge.set(qn("w:type"), "dxa")


def _full_width(table) -> None:
    width = table._tbl.tblPr.find(qn("w:tblW"))
    width.set(qn("w:type"), "pct")
    width.set(qn("w:w"), "5000")


def _fixed_columns(table, widths_mm: list[float]) -> None:
    table.autofit = False
    for column, width in zip(table.columns, widths_mm):
        column.width = Mm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm):
            cell.width = Mm(width)


def _field(paragraph, instruction: str, shown: str, *, bold: bool = False) -> None:
    """A Word field (begin, instruction, separate, result, end) showing ``shown``."""
    def run_with(tag: str, **attributes):
        run = paragraph.add_run()
        element = OxmlElement(tag)
        for name, value in attributes.items():
            element.set(qn(name), value)
        run._r.append(element)
        return run, element

    run_with("w:fldChar", **{"w:fldCharType": "begin"})
    _, instr = run_with("w:instrText")
    instr.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    instr.text = f" {instruction} "
    run_with("w:fldChar", **{"w:fldCharType": "separate"})
    result = paragraph.add_run(shown)
    result.bold = bold
    run_with("w:fldChar", **{"w:fldCharType": "end"})


# ------------------------------------------------------------------ the writer


class _Writer:
    def __init__(self, document: dict, pictures: dict[int, tuple]):
        self.document = document
        self.pictures = pictures
        self.doc = Document()
        self.media = _Pictures(self.doc)
        self._numbering = None
        self._setup()

    # -------------------------------------------------------------- set-up

    def _setup(self) -> None:
        section = self.doc.sections[0]
        section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
        section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
        section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
        section.header_distance = section.footer_distance = Mm(10)
        styles = self.doc.styles
        self._defaults()
        normal = styles["Normal"]
        _style_font(normal, size=10, colour=None)
        normal.paragraph_format.space_after = Pt(6)
        normal.paragraph_format.line_spacing = 1.1
        for level, size in ((1, 13), (2, 12), (3, 10.5)):
            heading = styles[f"Heading {level}"]
            _style_font(heading, size=size, bold=True, italic=False)
            heading.paragraph_format.space_before = Pt(12 if level < 3 else 10)
            heading.paragraph_format.space_after = Pt(6 if level < 3 else 4)
            if level < 3:
                heading.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
        caption = styles["Caption"]
        _style_font(caption, size=10, bold=False, italic=False)
        caption.paragraph_format.space_before = Pt(8)
        caption.paragraph_format.space_after = Pt(4)
        caption.paragraph_format.keep_with_next = True
        caption.hidden = False
        caption.unhide_when_used = False
        caption.quick_style = True
        for name in ("List Bullet", "List Number"):
            styles[name].paragraph_format.space_after = Pt(3)
        self.styles = {
            "table": self._paragraph_style("Table Text", size=8.5, after=0, line=1.0),
            "source": self._paragraph_style("Source Line", size=8.5, italic=True, before=3, after=2),
            "note": self._paragraph_style("Table Note", size=8.5, after=1, line=1.0),
            "withheld": self._paragraph_style("Withheld Note", size=10, italic=True, before=3, after=6),
            "image": self._paragraph_style("Image Caption", size=8.5, after=2, line=1.0),
            "marking": self._paragraph_style("Edition Marking", size=8, bold=True, font=SANS, after=0, line=1.0,
                                             centre=True),
        }
        for name in ("Heading 1", "Heading 2", "Heading 3", "Caption", "List Bullet", "List Number"):
            self.styles[name] = styles[name]
        # Style ids, set on paragraphs directly: python-docx's own lookup scans every style of
        # the template for each paragraph (12 ms each, minutes on a 500-sheet annex).
        self.style_ids = {key: style.style_id for key, style in self.styles.items()}
        self.style_ids["Normal"] = None

    def _defaults(self) -> None:
        """Document-wide fonts and language: Noto for every script, theme fonts removed from
        every style so none falls back to the template's Calibri and Cambria."""
        root = self.doc.styles.element
        for fonts in root.iter(qn("w:rFonts")):
            for attribute in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
                fonts.attrib.pop(qn(f"w:{attribute}"), None)
            if not fonts.attrib:
                fonts.getparent().remove(fonts)
        defaults = root.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
        fonts = defaults.find(qn("w:rFonts"))
        if fonts is None:
            fonts = OxmlElement("w:rFonts")
            defaults.insert(0, fonts)
        for name, value in (("ascii", SERIF), ("hAnsi", SERIF), ("eastAsia", SERIF_CJK), ("cs", NASKH)):
            fonts.set(qn(f"w:{name}"), value)
        lang = defaults.find(qn("w:lang"))
        if lang is not None:
            lang.set(qn("w:val"), "en-GB")
            lang.set(qn("w:eastAsia"), "zh-CN")
            lang.set(qn("w:bidi"), "ar-SA")

    def _paragraph_style(self, name: str, *, size: float, bold: bool | None = None, italic: bool | None = None,
                         font: str | None = None, before: float = 0, after: float = 6, line: float | None = None,
                         centre: bool = False):
        style = self.doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = self.doc.styles["Normal"]
        style.quick_style = True
        _style_font(style, size=size, bold=bold, italic=italic, font=font)
        fmt = style.paragraph_format
        fmt.space_before, fmt.space_after = Pt(before), Pt(after)
        if line is not None:
            fmt.line_spacing = line
        if centre:
            fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        return style

    # -------------------------------------------------------------- paragraphs and runs

    def _new(self, style: str, container=None):
        paragraph = (container or self.doc).add_paragraph()
        self._style(paragraph, style)
        return paragraph

    def _style(self, paragraph, style: str) -> None:
        style_id = self.style_ids[style]
        if style_id:
            paragraph._p.style = style_id

    def _text(self, paragraph, text: str, *, bold: bool = False, italic: bool = False, mono: bool = False,
              superscript: bool = False) -> None:
        for piece, rtl in segments(_clean(text)):
            run = paragraph.add_run(piece)
            rpr = None
            if bold or italic or mono or rtl or superscript:
                rpr = run._r.get_or_add_rPr()
            if bold:
                rpr.get_or_add_b().val = True
                rpr.get_or_add_bCs().val = True
            if italic:
                rpr.get_or_add_i().val = True
                rpr.get_or_add_iCs().val = True
            if mono:
                _fonts(rpr, ascii=MONO, hAnsi=MONO)
            if superscript:
                run.font.superscript = True
            if rtl:
                rpr.get_or_add_rtl().val = True

    def _paragraph(self, text: str = "", style: str = "Normal", *, container=None, bold: bool = False,
                   italic: bool = False, align=None):
        paragraph = self._new(style, container)
        if text:
            self._text(paragraph, text, bold=bold, italic=italic)
            self._direction(paragraph, text)
        if align is not None:
            paragraph.alignment = align
        return paragraph

    @staticmethod
    def _direction(paragraph, text: str) -> None:
        if right_to_left_only(text):
            ppr = paragraph._p.get_or_add_pPr()
            _child(ppr, "w:bidi", _PPR_AFTER_BIDI)

    def _markdown(self, paragraphs: list[dict]) -> None:
        """Paragraphs of styled runs (``text.py``): headings as Heading 3, bullets as List
        Bullet, numbered items as List Number (each list numbered from its own start)."""
        previous_number = None
        for p in paragraphs:
            style = {"h": "Heading 3", "li": "List Bullet", "ol": "List Number"}.get(p["style"], "Normal")
            paragraph = self._new(style)
            for run in p["runs"]:
                self._text(paragraph, run["t"], bold=run["b"], italic=run["i"], mono=run["m"])
            self._direction(paragraph, "".join(run["t"] for run in p["runs"]))
            if style == "List Number":
                number = p.get("number") or 1
                if previous_number is None or number != previous_number + 1:
                    self._restart_numbering(paragraph, number)
                elif self._list_num is not None:
                    self._number(paragraph, self._list_num)
                previous_number = number
            else:
                previous_number = None
                if style == "Normal":
                    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY

    _list_num = None

    def _restart_numbering(self, paragraph, start: int) -> None:
        """A new numbered list: a new ``w:num`` on List Number's definition, starting at
        ``start`` (Word would otherwise run on from the previous list)."""
        numbering = self.doc.part.numbering_part.element
        style_num = self.doc.styles["List Number"].element.pPr.numPr.numId.val
        abstract = numbering.num_having_numId(style_num).abstractNumId.val
        num = numbering.add_num(abstract)
        num.add_lvlOverride(ilvl=0).add_startOverride(start)
        self._list_num = num.numId
        self._number(paragraph, num.numId)

    @staticmethod
    def _number(paragraph, num_id: int) -> None:
        numpr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
        numpr.get_or_add_ilvl().val = 0
        numpr.get_or_add_numId().val = num_id

    def _caption(self, label: str, title: str) -> None:
        """"Figure 12.3" (its number after the annex a SEQ field) and the title below it, in
        one paragraph of Word's Caption style, above the figure or table."""
        paragraph = self._new("Caption")
        found = LABEL.match(label or "")
        if found:
            kind, annex, number = found.groups()
            self._text(paragraph, f"{kind} {annex}.", bold=True)
            _field(paragraph, f"SEQ {kind} \\* ARABIC \\s 1", number, bold=True)
        elif label:
            self._text(paragraph, label, bold=True)
        if title:
            if label:
                paragraph.add_run().add_break()
            self._text(paragraph, title)
        self._direction(paragraph, (label or "") + (title or ""))

    def _notes(self, notes: list[str]) -> None:
        for n, note in enumerate(notes):
            paragraph = self._new("note")
            self._text(paragraph, LETTERS[n % 26], italic=True, superscript=True)
            self._text(paragraph, f" {note}")

    def _source(self, source: str) -> None:
        if source:
            self._paragraph(source, "source")

    # -------------------------------------------------------------- the document

    def write(self) -> None:
        if self.document.get("marking"):
            self._running_marking(self.document["marking"])
        for annex in self.document["annexes"]:
            self._annex(annex)

    def _running_marking(self, marking: str) -> None:
        for section in self.doc.sections:
            for part in (section.header, section.footer):
                part.is_linked_to_previous = False
                paragraph = part.paragraphs[0]
                self._style(paragraph, "marking")
                self._text(paragraph, marking, bold=True)

    def _annex(self, annex: dict) -> None:
        if annex.get("withheld"):
            if annex.get("note"):
                self._annex_heading(annex["number"])
                self._paragraph(annex["note"], "withheld")
            return
        self._annex_heading(annex["number"])
        if annex.get("title"):
            self._paragraph(annex["title"], "Heading 2")
        self._markdown(annex.get("intro") or [])
        previous = None
        for part in annex.get("parts", []):
            kind = part["kind"]
            if kind == "text":
                self._markdown(part["paragraphs"])
            elif kind == "figure":
                self._figure(part)
            elif kind == "table":
                self._table(part)
            elif kind == "item_sheet":
                self._item_sheet(part, new_page=previous == "item_sheet")
            elif kind == "withheld":
                self._paragraph(part["text"], "withheld")
            previous = kind

    def _annex_heading(self, number: int) -> None:
        heading = self._paragraph(f"Annex {number}", "Heading 1")
        heading.paragraph_format.page_break_before = True

    # -------------------------------------------------------------- tables

    def _table(self, part: dict) -> None:
        if part.get("label"):
            self._caption(part["label"], part.get("title", ""))
        elif part.get("title"):
            title = self._paragraph(part["title"], "Normal", bold=True)
            title.paragraph_format.keep_with_next = True
            title.paragraph_format.space_before = Pt(6)
            title.paragraph_format.space_after = Pt(2)
        self._un_table(part["columns"], part["rows"])
        if part.get("summary"):
            summary = self._paragraph(part["summary"], "table")
            summary.paragraph_format.space_before = Pt(3)
        self._source(part.get("source", ""))
        self._notes(part.get("notes") or [])

    def _un_table(self, columns: list[str], rows: list[list]) -> None:
        """A UN table: a rule above and below the header row and one at the foot, no
        vertical rules; the header row repeats on each page, no row splits across pages."""
        table = self.doc.add_table(rows=1, cols=len(columns))
        _full_width(table)
        _table_borders(table, top=True, bottom=True)
        header = table.rows[0]
        _child(header._tr.get_or_add_trPr(), "w:tblHeader")
        for cell, heading in zip(header.cells, columns):
            self._cell(cell, heading, bold=True)
            borders = _child(cell._tc.get_or_add_tcPr(), "w:tcBorders", _TCPR_AFTER_BORDERS)
            _border(borders, "bottom")
        for values in rows:
            row = table.add_row()
            _child(row._tr.get_or_add_trPr(), "w:cantSplit")
            for cell, value in zip(row.cells, values):
                self._cell(cell, "" if value is None else str(value))

    def _cell(self, cell, text: str, *, bold: bool = False, italic: bool = False) -> None:
        paragraph = cell.paragraphs[0]
        self._style(paragraph, "table")
        self._text(paragraph, text, bold=bold, italic=italic)
        self._direction(paragraph, text)

    # -------------------------------------------------------------- figures

    def _figure(self, part: dict) -> None:
        self._caption(part["label"], part.get("title", ""))
        shown = part.get("images") or []
        if len(shown) == 1:
            self._image(None, shown[0], centre=True)
        elif shown:
            self._image_grid(shown)
        self._source(part.get("source", ""))
        self._notes(part.get("notes") or [])

    def _image(self, cell, image: dict, *, centre: bool = False) -> None:
        made = self.pictures.get(id(image))
        container = cell if cell is not None else self.doc
        paragraph = cell.paragraphs[0] if cell is not None else self._new("Normal", container)
        paragraph.paragraph_format.keep_with_next = True
        paragraph.paragraph_format.space_after = Pt(2)
        if centre:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if made is None:
            self._text(paragraph, "Photograph no longer held.", italic=True)
        else:
            path, size = made
            width_mm, height_mm = printed_size_mm(image, size)
            paragraph.add_run()._r.add_drawing(self.media.inline(path.read_bytes(), width_mm, height_mm,
                                                                 image.get("alt") or ""))
        if image.get("caption"):
            caption = self._new("image", container)
            caption.paragraph_format.keep_with_next = True
            if centre and not right_to_left_only(image["caption"]):
                caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
            self._text(caption, image["caption"])
            self._direction(caption, image["caption"])

    def _image_grid(self, shown: list[dict]) -> None:
        """Several photos side by side: a borderless table, two or three to a row."""
        per_row = 2 if len(shown) == 2 else 3
        rows = -(-len(shown) // per_row)
        table = self.doc.add_table(rows=rows, cols=per_row)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        _table_borders(table, top=False, bottom=False)
        _cell_margins(table, 1)
        widths = [0.0] * per_row
        for n, image in enumerate(shown):
            made = self.pictures.get(id(image))
            width = printed_size_mm(image, made[1])[0] if made else 40
            widths[n % per_row] = max(widths[n % per_row], width + 2)
        scale = min(1.0, TEXT_WIDTH_MM / max(sum(widths), 1))
        _fixed_columns(table, [w * scale for w in widths])
        for n, image in enumerate(shown):
            self._image(table.cell(n // per_row, n % per_row), image)
        for row in table.rows:
            _child(row._tr.get_or_add_trPr(), "w:cantSplit")

    # -------------------------------------------------------------- item sheets

    def _item_sheet(self, part: dict, *, new_page: bool) -> None:
        heading = self._paragraph(part["heading"], "Heading 3")
        if new_page:
            heading.paragraph_format.page_break_before = True
        if part.get("caption"):
            self._paragraph(part["caption"])
        if part.get("fields"):
            table = self.doc.add_table(rows=len(part["fields"]), cols=2)
            _full_width(table)
            _table_borders(table, top=False, bottom=False)
            _fixed_columns(table, [TEXT_WIDTH_MM * 0.38, TEXT_WIDTH_MM * 0.62])
            for row, (label, value) in zip(table.rows, part["fields"]):
                label_cell, value_cell = row.cells
                self._cell(label_cell, label, italic=True)
                self._cell(value_cell, value)
                _child(row._tr.get_or_add_trPr(), "w:cantSplit")
        if part.get("markings"):
            self._table(part["markings"])
        if part.get("figure"):
            self._figure(part["figure"])
        self._notes(part.get("notes") or [])


# ------------------------------------------------------------------ the package


def _drop_relationships(part_or_package, reltypes: set[str]) -> None:
    rels = part_or_package.rels
    for rid, rel in list(rels.items()):
        if rel.reltype in reltypes:
            del rels[rid]
            rels._target_parts_by_rId.pop(rid, None)


def _strip_revision_ids(element) -> None:
    """Revision-save ids (``w:rsid*``) say which editing session wrote what: none kept."""
    for el in list(element.iter(qn("w:rsids"), qn("w:rsid"))):
        el.getparent().remove(el)
    for el in element.iter():
        for name in [n for n in el.attrib if n.startswith(qn("w:rsid"))]:
            del el.attrib[name]


def _core_xml(document: dict) -> bytes:
    title = _clean(document.get("title") or "")
    label = _clean(document.get("edition_label") or "")
    full = f"{title} ({label})" if title and label else title or label
    return ("<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
            ' xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{escape(full)}</dc:title></cp:coreProperties>").encode()


APP_XML = ("<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
           '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"'
           ' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
           "<Application>Panel Tracker</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>"
           "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc>"
           "<HyperlinksChanged>false</HyperlinksChanged></Properties>").encode()

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _package(doc, document: dict) -> bytes:
    """The .docx bytes: the template's leftovers removed, the properties rewritten, every
    zip entry dated the same (photos stored as they are: JPEG does not deflate)."""
    package = doc.part.package
    _drop_relationships(package, {RT.THUMBNAIL})
    _drop_relationships(doc.part, {RT.CUSTOM_XML, "http://schemas.microsoft.com/office/2007/relationships/"
                                                  "stylesWithEffects"})
    settings = doc.settings.element
    for tag in ("w:savePreviewPicture", "w:attachedTemplate"):
        for el in settings.findall(qn(tag)):
            settings.remove(el)
    for part in package.iter_parts():
        element = getattr(part, "element", None)
        if element is not None and part.partname.startswith("/word/"):
            _strip_revision_ids(element)
    raw = io.BytesIO()
    doc.save(raw)
    raw.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            name = info.filename
            if name == "docProps/core.xml":
                data = _core_xml(document)
            elif name == "docProps/app.xml":
                data = APP_XML
            else:
                data = source.read(name)
            entry = zipfile.ZipInfo(name, FIXED_TIME)
            entry.external_attr = 0o644 << 16
            stored = name.startswith("word/media/")
            entry.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            target.writestr(entry, data)
    return out.getvalue()
