"""Annex documents to DOCX, for the Secretariat to edit in Word: python-docx's package,
styles, numbering and running heads; the body written as WordprocessingML text (see
"WordprocessingML as text" below for why).

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

import io
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.oxml import OxmlElement
from docx.oxml.parser import parse_xml
from docx.oxml.ns import qn
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
    doc, files = writer.doc, writer.media.files
    del writer
    return _package(doc, document, files), 0


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
    """Pictures of the main document part. python-docx's ``add_picture`` hashes every
    image already added and scans the whole document for the next shape id, for each
    picture (quadratic on an annex of a thousand photos), and keeps every image's bytes in
    memory until the file is written. Here a picture's part is related with an empty body
    and its print derivative's file is copied into the zip when the package is written
    (:func:`_package`), one at a time. Part names are python-docx's generic ones."""

    def __init__(self, doc):
        self.part = doc.part
        self.by_path: dict[Path, str] = {}
        self.files: dict[str, Path] = {}  # zip member name -> print derivative
        self.shapes = 0

    def run(self, path: Path, width_mm: float, height_mm: float, alt: str) -> str:
        """A run holding the picture at ``path`` inline at ``width_mm`` x ``height_mm``,
        described by ``alt`` (the document's alt text; no file name goes in)."""
        rid = self.by_path.get(path)
        if rid is None:
            name = f"word/media/image{len(self.files) + 1}.jpg"  # print derivatives are JPEG
            rid = self.part.relate_to(ImagePart(PackURI(f"/{name}"), "image/jpeg", b"", None), RT.IMAGE)
            self.by_path[path] = rid
            self.files[name] = path
        self.shapes += 1
        n, cx, cy = self.shapes, _emu(width_mm), _emu(height_mm)
        return ('<w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0">'
                f'<wp:extent cx="{cx}" cy="{cy}"/>'
                f'<wp:docPr id="{n}" name="Picture {n}" descr="{escape(_clean(alt), _ATTRIBUTE)}"/>'
                '<wp:cNvGraphicFramePr><a:graphicFrameLocks noChangeAspect="1"/></wp:cNvGraphicFramePr>'
                '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
                f'<pic:pic><pic:nvPicPr><pic:cNvPr id="0" name="image{n}"/><pic:cNvPicPr/></pic:nvPicPr>'
                f'<pic:blipFill><a:blip r:embed="{rid}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
                f'<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm>'
                '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>'
                "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r>")


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


def _twips(mm: float) -> int:
    return round(mm / 25.4 * 1440)


def _emu(mm: float) -> int:
    return round(mm * 36000)


# ------------------------------------------------------------------ WordprocessingML as text
#
# The body is written as WordprocessingML text and parsed in chunks: python-docx builds each
# element through Python objects that look up their place among dozens of possible
# siblings (about 70 ms of CPU per item sheet, over half a minute for 500 sheets); text
# takes a few milliseconds. Every element is in the order the schema requires.

NAMESPACES = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "pic": "http://schemas.openxmlformats.org/drawingml/2006/picture",
}
_WRAPPER = "<w:body " + " ".join(f'xmlns:{k}="{v}"' for k, v in NAMESPACES.items()) + ">{}</w:body>"
_ATTRIBUTE = {'"': "&quot;"}


def _content(text: str) -> str:
    """A run's content: text, line breaks and tabs."""
    out = []
    for n, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        if n:
            out.append("<w:br/>")
        for m, piece in enumerate(line.split("\t")):
            if m:
                out.append("<w:tab/>")
            if piece:
                out.append(f'<w:t xml:space="preserve">{escape(piece)}</w:t>')
    return "".join(out)


def runs(text, *, bold: bool = False, italic: bool = False, mono: bool = False, superscript: bool = False) -> str:
    """``text`` as runs, right-to-left stretches marked ``w:rtl`` (with the complex-script
    twins of bold and italic, which Word applies to them)."""
    out = []
    for piece, rtl in segments(_clean(text)):
        props = []
        if mono:
            props.append(f'<w:rFonts w:ascii="{MONO}" w:hAnsi="{MONO}"/>')
        if bold:
            props.append("<w:b/><w:bCs/>")
        if italic:
            props.append("<w:i/><w:iCs/>")
        if superscript:
            props.append('<w:vertAlign w:val="superscript"/>')
        if rtl:
            props.append("<w:rtl/>")
        rpr = f"<w:rPr>{''.join(props)}</w:rPr>" if props else ""
        out.append(f"<w:r>{rpr}{_content(piece)}</w:r>")
    return "".join(out)


def paragraph(body: str, style: str | None = None, *, text: str = "", keep_next: bool = False,
              page_break: bool = False, num: int | None = None, before: float | None = None,
              after: float | None = None, align: str | None = None) -> str:
    """A paragraph of ``body`` (runs); ``text`` (its plain text) decides whether it is a
    right-to-left paragraph."""
    props = []
    if style:
        props.append(f'<w:pStyle w:val="{style}"/>')
    if keep_next:
        props.append("<w:keepNext/>")
    if page_break:
        props.append("<w:pageBreakBefore/>")
    if num is not None:
        props.append(f'<w:numPr><w:ilvl w:val="0"/><w:numId w:val="{num}"/></w:numPr>')
    rtl = right_to_left_only(text)
    if rtl:
        props.append("<w:bidi/>")
    if before is not None or after is not None:
        spacing = "".join(f' w:{name}="{round(value * 20)}"' for name, value in (("before", before), ("after", after))
                          if value is not None)
        props.append(f"<w:spacing{spacing}/>")
    if align:
        props.append(f'<w:jc w:val="{align}"/>')
    ppr = f"<w:pPr>{''.join(props)}</w:pPr>" if props else ""
    return f"<w:p>{ppr}{body}</w:p>"


def field(instruction: str, shown: str, *, bold: bool = False) -> str:
    """A Word field (begin, instruction, separate, result, end) showing ``shown``."""
    return ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            f'<w:r><w:instrText xml:space="preserve"> {escape(instruction)} </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
            f"{runs(shown, bold=bold)}"
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>')


def _borders(tag: str, sides: dict[str, bool]) -> str:
    edges = "".join(f'<w:{side} w:val="single" w:sz="{RULE}" w:space="0" w:color="000000"/>' if on
                    else f'<w:{side} w:val="nil"/>' for side, on in sides.items())
    return f"<w:{tag}>{edges}</w:{tag}>"


def table(rows: list[str], columns_mm: list[float], *, rules: bool, full_width: bool = True, fixed: bool = False,
          centre: bool = False, cell_margin_mm: float | None = None) -> str:
    """A table of ``rows`` (``row`` strings): with ``rules``, one above and one below (the
    header row adds its own under it), otherwise borderless; never a vertical rule."""
    props = ['<w:tblW w:type="pct" w:w="5000"/>' if full_width else '<w:tblW w:type="auto" w:w="0"/>']
    if centre:
        props.append('<w:jc w:val="center"/>')
    props.append(_borders("tblBorders", {"top": rules, "left": False, "bottom": rules, "right": False,
                                         "insideH": False, "insideV": False}))
    if fixed:
        props.append('<w:tblLayout w:type="fixed"/>')
    if cell_margin_mm is not None:
        margin = _twips(cell_margin_mm)
        props.append(f'<w:tblCellMar><w:left w:w="{margin}" w:type="dxa"/>'
                     f'<w:right w:w="{margin}" w:type="dxa"/></w:tblCellMar>')
    grid = "".join(f'<w:gridCol w:w="{_twips(w)}"/>' for w in columns_mm)
    return f"<w:tbl><w:tblPr>{''.join(props)}</w:tblPr><w:tblGrid>{grid}</w:tblGrid>{''.join(rows)}</w:tbl>"


def row(cells: list[str], *, header: bool = False) -> str:
    """A row that does not split across pages; a header row repeats on each page."""
    return f"<w:tr><w:trPr><w:cantSplit/>{'<w:tblHeader/>' if header else ''}</w:trPr>{''.join(cells)}</w:tr>"


def cell(paragraphs: str, width_mm: float, *, rule_below: bool = False) -> str:
    borders = _borders("tcBorders", {"bottom": True}) if rule_below else ""
    return (f'<w:tc><w:tcPr><w:tcW w:w="{_twips(width_mm)}" w:type="dxa"/>{borders}</w:tcPr>'
            f"{paragraphs or '<w:p/>'}</w:tc>")


# ------------------------------------------------------------------ the writer


class _Writer:
    #: Parts written as text before they are parsed into the document (bounds memory).
    CHUNK = 50

    def __init__(self, document: dict, pictures: dict[int, tuple]):
        self.document = document
        self.pictures = pictures
        self.doc = Document()
        self.media = _Pictures(self.doc)
        self.out: list[str] = []
        self._setup()

    # -------------------------------------------------------------- set-up (styles, page)

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
        made = {
            "table": self._paragraph_style("Table Text", size=8.5, after=0, line=1.0),
            "source": self._paragraph_style("Source Line", size=8.5, italic=True, before=3, after=2),
            "note": self._paragraph_style("Table Note", size=8.5, after=1, line=1.0),
            "withheld": self._paragraph_style("Withheld Note", size=10, italic=True, before=3, after=6),
            "image": self._paragraph_style("Image Caption", size=8.5, after=2, line=1.0),
            "marking": self._paragraph_style("Edition Marking", size=8, bold=True, font=SANS, after=0, line=1.0,
                                             centre=True),
        }
        for name in ("Heading 1", "Heading 2", "Heading 3", "Caption", "List Bullet", "List Number"):
            made[name] = styles[name]
        self.style = {key: style.style_id for key, style in made.items()}
        self.style["Normal"] = None
        numbering = self.doc.part.numbering_part.element
        self._numbering = numbering
        self._list_number_abstract = numbering.num_having_numId(
            styles["List Number"].element.pPr.numPr.numId.val).abstractNumId.val

    def _defaults(self) -> None:
        """Document-wide fonts and language: Noto for every script, theme fonts removed from
        every style so none falls back to the template's Calibri and Cambria."""
        root = self.doc.styles.element
        for fonts in list(root.iter(qn("w:rFonts"))):
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

    # -------------------------------------------------------------- output

    def _flush(self) -> None:
        """Parse what was written since the last flush into the document's body."""
        if not self.out:
            return
        fragment = parse_xml(_WRAPPER.format("".join(self.out)))
        self.out = []
        end = self.doc.element.body.sectPr
        for element in list(fragment):
            end.addprevious(element)

    def text(self, value: str, style: str = "Normal", **options) -> str:
        """A paragraph of plain ``value`` in ``style``."""
        return paragraph(runs(value, **{k: options.pop(k) for k in ("bold", "italic") if k in options}),
                         self.style[style], text=value, **options)

    # -------------------------------------------------------------- the document

    def write(self) -> None:
        if self.document.get("marking"):
            self._running_marking(self.document["marking"])
        for annex in self.document["annexes"]:
            self._annex(annex)
        self._flush()

    def _running_marking(self, marking: str) -> None:
        for section in self.doc.sections:
            for part in (section.header, section.footer):
                part.is_linked_to_previous = False
                element = part._element
                for old in list(element):
                    element.remove(old)
                for new in list(parse_xml(_WRAPPER.format(self.text(marking, "marking", bold=True)))):
                    element.append(new)

    def _annex(self, annex: dict) -> None:
        if annex.get("withheld"):
            if annex.get("note"):
                self.out.append(self._annex_heading(annex["number"]))
                self.out.append(self.text(annex["note"], "withheld"))
            return
        self.out.append(self._annex_heading(annex["number"]))
        if annex.get("title"):
            self.out.append(self.text(annex["title"], "Heading 2"))
        self._markdown(annex.get("intro") or [])
        previous = None
        for n, part in enumerate(annex.get("parts", []), start=1):
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
                self.out.append(self.text(part["text"], "withheld"))
            previous = kind
            if n % self.CHUNK == 0:
                self._flush()

    def _annex_heading(self, number: int) -> str:
        """"Annex N", on a new page."""
        return self.text(f"Annex {number}", "Heading 1", page_break=True)

    def _markdown(self, paragraphs: list[dict]) -> None:
        """Paragraphs of styled runs (``text.py``): headings as Heading 3, bullets as List
        Bullet, numbered items as List Number (each list numbered from its own start)."""
        previous_number, num = None, None
        for p in paragraphs:
            style = {"h": "Heading 3", "li": "List Bullet", "ol": "List Number"}.get(p["style"], "Normal")
            body = "".join(runs(r["t"], bold=r["b"], italic=r["i"], mono=r["m"]) for r in p["runs"])
            plain = "".join(r["t"] for r in p["runs"])
            if style == "List Number":
                number = p.get("number") or 1
                if num is None or previous_number is None or number != previous_number + 1:
                    num = self._new_list(number)
                previous_number = number
                self.out.append(paragraph(body, self.style[style], text=plain, num=num))
                continue
            previous_number = None
            self.out.append(paragraph(body, self.style[style], text=plain,
                                      align="both" if style == "Normal" else None))

    def _new_list(self, start: int) -> int:
        """A new numbered list: a new ``w:num`` on List Number's definition, starting at
        ``start`` (Word would otherwise run on from the previous list)."""
        num = self._numbering.add_num(self._list_number_abstract)
        num.add_lvlOverride(ilvl=0).add_startOverride(start)
        return num.numId

    def _caption(self, label: str, title: str) -> str:
        """"Figure 12.3" (its number after the annex a SEQ field Word can update, reset at
        each Heading 1) and the title below it, in one paragraph of Word's Caption style,
        above the figure or table."""
        found = LABEL.match(label or "")
        if found:
            kind, annex, number = found.groups()
            body = runs(f"{kind} {annex}.", bold=True) + field(f"SEQ {kind} \\* ARABIC \\s 1", number, bold=True)
        else:
            body = runs(label, bold=True) if label else ""
        if title:
            body += ("<w:r><w:br/></w:r>" if body else "") + runs(title)
        return paragraph(body, self.style["Caption"], text=(label or "") + (title or ""))

    def _notes(self, notes: list[str]) -> None:
        """Notes lettered a, b, … (the UN's notes to tables and figures), below them."""
        for n, note in enumerate(notes):
            body = runs(LETTERS[n % 26], italic=True, superscript=True) + runs(f" {note}")
            self.out.append(paragraph(body, self.style["note"], text=note))

    def _source(self, source: str) -> None:
        if source:
            self.out.append(self.text(source, "source"))

    # -------------------------------------------------------------- tables

    def _table(self, part: dict) -> None:
        if part.get("label"):
            self.out.append(self._caption(part["label"], part.get("title", "")))
        elif part.get("title"):
            self.out.append(self.text(part["title"], bold=True, keep_next=True, before=6, after=2))
        self.out.append(self._un_table(part["columns"], part["rows"]))
        if part.get("summary"):
            self.out.append(self.text(part["summary"], "table", before=3))
        self._source(part.get("source", ""))
        self._notes(part.get("notes") or [])

    def _cell_text(self, value, *, bold: bool = False, italic: bool = False) -> str:
        value = "" if value is None else str(value)
        return paragraph(runs(value, bold=bold, italic=italic), self.style["table"], text=value)

    def _un_table(self, columns: list[str], rows: list[list]) -> str:
        """A UN table: a rule above and below the header row and one at the foot, no
        vertical rules; the header row repeats on each page, no row splits across pages.
        Columns start equal; Word fits them to their content (autofit)."""
        width = TEXT_WIDTH_MM / max(len(columns), 1)
        out = [row([cell(self._cell_text(c, bold=True), width, rule_below=True) for c in columns], header=True)]
        for values in rows:
            out.append(row([cell(self._cell_text(v), width) for v in values]))
        return table(out, [width] * len(columns), rules=True)

    # -------------------------------------------------------------- figures

    def _figure(self, part: dict) -> None:
        self.out.append(self._caption(part["label"], part.get("title", "")))
        shown = part.get("images") or []
        if len(shown) == 1:
            self.out.append(self._image(shown[0], centre=True))
        elif shown:
            self.out.append(self._image_grid(shown))
        self._source(part.get("source", ""))
        self._notes(part.get("notes") or [])

    def _image(self, image: dict, *, centre: bool = False) -> str:
        """The picture (or a line saying it is gone) and its caption below it."""
        made = self.pictures.get(id(image))
        align = "center" if centre else None
        if made is None:
            body = runs("Photograph no longer held.", italic=True)
        else:
            path, size = made
            width_mm, height_mm = printed_size_mm(image, size)
            body = self.media.run(path, width_mm, height_mm, image.get("alt") or "")
        out = paragraph(body, keep_next=True, after=2, align=align)
        caption = image.get("caption") or ""
        if caption:
            out += paragraph(runs(caption), self.style["image"], text=caption, keep_next=True,
                             align=align if not right_to_left_only(caption) else None)
        return out

    def _image_grid(self, shown: list[dict]) -> str:
        """Several photos side by side: a borderless table, two or three to a row."""
        per_row = 2 if len(shown) == 2 else 3
        widths = [0.0] * per_row
        for n, image in enumerate(shown):
            made = self.pictures.get(id(image))
            width = printed_size_mm(image, made[1])[0] if made else 40
            widths[n % per_row] = max(widths[n % per_row], width + 2)
        scale = min(1.0, TEXT_WIDTH_MM / max(sum(widths), 1))
        widths = [w * scale for w in widths]
        rows = []
        for start in range(0, len(shown), per_row):
            group = shown[start:start + per_row]
            cells = [cell(self._image(image), widths[k]) for k, image in enumerate(group)]
            cells += [cell("", widths[k]) for k in range(len(group), per_row)]
            rows.append(row(cells))
        return table(rows, widths, rules=False, full_width=False, fixed=True, centre=True, cell_margin_mm=1)

    # -------------------------------------------------------------- item sheets

    def _item_sheet(self, part: dict, *, new_page: bool) -> None:
        """Heading 3, the fields as a two-column table, the markings table, the figure."""
        self.out.append(self.text(part["heading"], "Heading 3", page_break=new_page))
        if part.get("caption"):
            self.out.append(self.text(part["caption"]))
        if part.get("fields"):
            widths = [TEXT_WIDTH_MM * 0.38, TEXT_WIDTH_MM * 0.62]
            rows = [row([cell(self._cell_text(label, italic=True), widths[0]), cell(self._cell_text(value), widths[1])])
                    for label, value in part["fields"]]
            self.out.append(table(rows, widths, rules=False, fixed=True))
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


def _package(doc, document: dict, files: dict[str, Path]) -> bytes:
    """The .docx bytes: the template's leftovers removed, the properties rewritten, the
    pictures copied in from their files (stored as they are: JPEG does not deflate), every
    zip entry dated the same."""
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
    del doc
    raw.seek(0)
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                name = info.filename
                entry = zipfile.ZipInfo(name, FIXED_TIME)
                entry.external_attr = 0o644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                if name == "docProps/core.xml":
                    data = _core_xml(document)
                elif name == "docProps/app.xml":
                    data = APP_XML
                elif name in files:
                    data = files[name].read_bytes()
                    entry.compress_type = zipfile.ZIP_STORED
                else:
                    data = source.read(name)
                target.writestr(entry, data)
        out.seek(0)
        return out.read()
