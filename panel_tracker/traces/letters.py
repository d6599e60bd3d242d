"""One structured letter, rendered as PDF (WeasyPrint) and DOCX (python-docx).

The panel edits the body template in the browser. It runs in Jinja's sandbox on plain
data only (strings, numbers, lists and dicts built here, never database objects), so an
edited template cannot reach the server: no attributes of Python objects, no imports, no
files. Its output is plain text; the page layout around it (heading, reference, item
table, photos) is ours.
"""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from sqlmodel import Session, select

from .. import countries, visibility
from ..classification import Classification
from ..db import utcnow
from ..templating import un_date
from ..validation import Invalid
from .models import Addressee, Letter, LetterItem, LetterKind, LetterTemplate

DEFAULT_BODY = """\
The Panel of Experts {{ panel.name_suffix }} presents its compliments to {{ addressee.formal }} and has the \
honour to refer to its mandate under the relevant Security Council resolutions.
{% if letter.kind == "trace_request" %}
In the course of its investigations the Panel documented the {{ items|length }} item(s) listed in the table \
below. The Panel would be grateful for information on their chain of custody: the date of manufacture or \
import, and to whom and when they were transferred, with the relevant licences or contracts. The information \
will be used to identify the point of diversion.
{% elif letter.kind == "information_request" %}
The Panel would be grateful for information on the matters set out below.
{% elif letter.kind == "access_request" %}
The Panel would be grateful for access to the materiel, persons or sites set out below.
{% else %}
The Panel intends to refer to the matters set out below in its forthcoming report and offers an opportunity \
to reply{% if letter.reply_by %} by {{ letter.reply_by }}{% endif %}.
{% endif %}
{{ letter.body }}

The Panel would appreciate a reply{% if letter.reply_by %} by {{ letter.reply_by }}{% endif %}, through \
the Secretariat, and remains available for any clarification.
"""


def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, trim_blocks=True)


# Jinja's sandbox keeps a template from reaching the server, not from spending it: a
# coordinator's ``{{ "x" * 10**10 }}``, ``{% for i in range(99999) %}{% for j in range(99999) %}``
# or a ``namespace`` doubled in a loop would hold a worker for hours or exhaust its memory.
# So a letter template is a small language: text, values of the letter's data, if/elif/else,
# loops over ``items`` and over an item's ``markings`` or ``photos``, comparisons, ``~``,
# ``+``, ``-`` and the filters below. No call (range, lipsum, cycler, namespace, methods),
# no assignment, macro, include, ``*``, ``**`` or ``%``. Its output is capped too.
MAX_TEMPLATE_CHARS = 20_000
MAX_OUTPUT_CHARS = 200_000
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr,
                  nodes.Getitem, nodes.Slice, nodes.If, nodes.For, nodes.Filter, nodes.Test, nodes.Compare,
                  nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.CondExpr, nodes.Concat, nodes.Add,
                  nodes.Sub, nodes.Neg, nodes.Pos, nodes.Tuple, nodes.List)
_ALLOWED_FILTERS = frozenset({"length", "count", "upper", "lower", "title", "capitalize", "trim", "default", "d",
                              "first", "last", "string", "int"})
_ITEM_LISTS = frozenset({"markings", "photos"})


def _refuse_costly(node, loop_vars: tuple[str, ...] = ()) -> None:
    """Raise SecurityError at the first construct outside the letter template language."""
    if not isinstance(node, _ALLOWED_NODES):
        raise SecurityError(f"{type(node).__name__.lower()} is not available in a letter template")
    if isinstance(node, nodes.Filter) and node.name not in _ALLOWED_FILTERS:
        raise SecurityError(f"the filter {node.name!r} is not available in a letter template")
    if isinstance(node, nodes.For):
        over, target = node.iter, node.target
        loops_items = isinstance(over, nodes.Name) and over.name == "items" and not loop_vars
        loops_item_list = (isinstance(over, nodes.Getattr) and over.attr in _ITEM_LISTS
                           and isinstance(over.node, nodes.Name) and over.node.name in loop_vars)
        if node.recursive or not isinstance(target, nodes.Name) or not (loops_items or loops_item_list):
            raise SecurityError("a loop goes over items, or over an item's markings or photos")
        loop_vars = (*loop_vars, target.name)
        for child in (*node.body, *node.else_, *([node.test] if node.test else [])):
            _refuse_costly(child, loop_vars)
        return
    for child in node.iter_child_nodes():
        _refuse_costly(child, loop_vars)


#: What an operation on the letter's data raises at render time (a string minus a number).
_DATA_ERRORS = (TypeError, ValueError, ArithmeticError, LookupError)


def _render(source: str, context: dict) -> str:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise SecurityError(f"a letter template has at most {MAX_TEMPLATE_CHARS:,} characters")
    env = _env()
    _refuse_costly(env.parse(source))
    chunks, size = [], 0
    for chunk in env.from_string(source).generate(**context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise SecurityError(f"the letter would be longer than {MAX_OUTPUT_CHARS:,} characters")
        chunks.append(chunk)
    return "".join(chunks)


def _sample_context() -> dict:
    return {"panel": {"code": "YEM", "name": "Panel of Experts on Yemen", "name_suffix": "on Yemen"},
            "addressee": {"name": "China", "formal": "the Permanent Mission of China to the United Nations",
                          "country": "CHN", "country_name": "China", "kind": "state"},
            "letter": {"ref": "YEM-L-001", "kind": "trace_request", "kind_label": "Trace request", "subject": "",
                       "body": "", "reply_by": "", "date": "1 July 2024", "sent_reference": ""},
            "items": [{"item_ref": "YEM-2024-001/01", "type": "assault rifle", "make": "", "model": "Type 56-1",
                       "calibre": "7.62x39mm", "serial": "24017731", "lot": "", "country": "China", "quantity": 1,
                       "year": "", "factory_code": "66", "headstamp": "", "other_marks": "", "import_mark": "",
                       "markings": [{"kind": "factory code", "text": "66", "location": ""}], "photos": []}],
            "withheld": 0}


def check_template(body: str) -> None:
    """Refuse a template that does not compile or render on sample data, or that reaches
    for what the sandbox forbids."""
    try:
        _render(body, _sample_context())
    except SecurityError as exc:
        raise Invalid({"body": f"The template reaches for something it may not use ({exc})."}) from exc
    except TemplateError as exc:
        line = f"line {exc.lineno}: " if getattr(exc, "lineno", None) else ""
        raise Invalid({"body": f"The template cannot be used: {line}{exc.message}"}) from exc
    except _DATA_ERRORS as exc:  # e.g. {{ letter.ref - 1 }}: Python's own error, not Jinja's
        raise Invalid({"body": f"The template cannot be used: {exc}"}) from exc


def panel_template(db: Session, panel) -> str:
    found = db.exec(select(LetterTemplate.body).where(LetterTemplate.panel_id == panel.id)).first()
    return found or DEFAULT_BODY


def _formal(addressee: Addressee) -> str:
    if addressee.kind.value == "state":  # UNTERM short names put the article last: "Niger (the)"
        name = addressee.name
        name = f"the {name[:-6]}" if name.endswith(" (the)") else name
        return f"the Permanent Mission of {name} to the United Nations"
    return addressee.name


def letter_context(db: Session, panel, letter: Letter, level: Classification, *, on: date | None = None) -> dict:
    """The structured letter: plain data, with only the items (and photos) ``level`` may see."""
    from ..cases.models import Item, Marking, MarkingPhoto
    from ..cases.queries import markings_by_item
    from ..evidence.models import Photo
    from .queries import visible_item_ids

    addressee = db.get(Addressee, letter.addressee_id)
    links = list(db.exec(select(LetterItem).where(LetterItem.letter_id == letter.id).order_by(LetterItem.position)))
    shown = visible_item_ids(panel.id, [link.item_id for link in links], level)
    items = [db.get(Item, link.item_id) for link in links if link.item_id in shown]
    markings = markings_by_item([item.id for item in items])
    photos: dict[int, list[str]] = {item.id: [] for item in items}
    if items:
        rows = db.exec(select(Marking.item_id, Photo.sha256).join(MarkingPhoto, MarkingPhoto.marking_id == Marking.id)
                       .join(Photo, Photo.id == MarkingPhoto.photo_id)
                       .where(Marking.item_id.in_(list(photos)), Marking.deleted_at.is_(None),
                              # the photo's own case and item too, not only its level (visibility.py)
                              Photo.id.in_(visibility.visible_ids(Photo, visibility.Reader(panel.id, level))))
                       .order_by(Marking.id))
        for item_id, sha in rows:
            if sha not in photos[item_id]:
                photos[item_id].append(sha)
    name = panel.name
    return {
        "panel": {"code": panel.code, "name": name,
                  "name_suffix": name.split("Experts", 1)[1].strip() if "Experts" in name else f"({panel.code})"},
        "addressee": {"name": addressee.name, "formal": _formal(addressee), "country": addressee.country or "",
                      "country_name": countries.name(addressee.country), "kind": addressee.kind.value},
        "letter": {"ref": letter.ref, "kind": letter.kind.value, "kind_label": letter.kind.label,
                   "subject": letter.subject, "body": letter.body, "reply_by": un_date(letter.reply_by),
                   "date": un_date(letter.sent_on or on or utcnow().date()),
                   "sent_reference": letter.sent_reference},
        "items": [{"item_ref": i.item_ref, "type": i.type, "make": i.make_marked or i.make_attributed,
                   "model": i.model, "calibre": i.calibre_marked or i.calibre, "serial": i.serial, "lot": i.lot,
                   "country": countries.name(i.country_marked or i.country_attributed), "quantity": i.quantity,
                   "year": i.year_marked, "factory_code": i.factory_code, "headstamp": i.headstamp,
                   "other_marks": i.other_marks, "import_mark": i.import_mark,
                   "markings": [{"kind": m.kind.value.replace("_", " "), "text": m.text, "location": m.location}
                                for m in markings.get(i.id, [])],
                   "photos": photos[i.id]} for i in items],
        "withheld": len(links) - len(items),
    }


def render_body(db: Session, panel, context: dict) -> str:
    try:
        return _render(panel_template(db, panel), context).strip()
    except (TemplateError, SecurityError, *_DATA_ERRORS):
        # A template saved before a data change (or before a rule here) no longer renders: ours.
        return _render(DEFAULT_BODY, context).strip()


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def _photo_path(panel, sha: str) -> Path | None:
    from ..evidence.services import photo_store

    path = photo_store().derivative_path(panel.code, sha, "large")
    return path if path.exists() else None


def _data_uri(path: Path) -> str:
    import base64

    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _refuse_fetching():
    """A URL fetcher that fetches nothing but the data: URIs we embed: a letter's HTML
    never reaches the network or the file system."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # WeasyPrint < 63 takes a function
        from weasyprint import default_url_fetcher

        def fetch(url, *args, **kwargs):
            if not url.startswith("data:"):
                raise ValueError(f"not fetched: {url}")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch

    class DataOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if not url.startswith("data:"):
                raise ValueError(f"not fetched: {url}")
            return super().fetch(url, headers)

    return DataOnly()


def _weasyprint_html():
    """WeasyPrint's HTML class. Importing WeasyPrint sets Pillow's global
    ``LOAD_TRUNCATED_IMAGES``, which would make the evidence pipeline accept truncated
    photos (``evidence/images.py`` refuses to decode while it is set): put it back. The
    letter embeds only our own derivatives, which are whole."""
    from PIL import ImageFile
    from weasyprint import HTML

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return HTML


def _print_css():
    """The letter's print stylesheet (a file, so that templates hold no inline style)."""
    from weasyprint import CSS

    return CSS(filename=str(Path(__file__).resolve().parent.parent / "static" / "print" / "letter.css"))


def render_pdf(db: Session, panel, context: dict) -> bytes:
    from flask import render_template

    HTML = _weasyprint_html()

    photo_urls = {sha: _data_uri(path) for item in context["items"] for sha in item["photos"]
                  if (path := _photo_path(panel, sha))}
    html = render_template("traces/letter_print.html", c=context, body=paragraphs(render_body(db, panel, context)),
                           photo_urls=photo_urls)
    return HTML(string=html, url_fetcher=_refuse_fetching()).write_pdf(stylesheets=[_print_css()])


def render_docx(db: Session, panel, context: dict) -> bytes:
    from docx import Document
    from docx.shared import Cm, Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name, style.font.size = "Times New Roman", Pt(11)
    letter = context["letter"]
    doc.add_paragraph(context["panel"]["name"])
    doc.add_paragraph(f"Ref.: {letter['ref']}" + (f" ({letter['sent_reference']})" if letter["sent_reference"] else ""))
    doc.add_paragraph(letter["date"])
    formal = context["addressee"]["formal"]
    doc.add_paragraph(formal[:1].upper() + formal[1:])
    doc.add_heading(letter["subject"] or letter["kind_label"], level=1)
    for text in paragraphs(render_body(db, panel, context)):
        doc.add_paragraph(text)
    if context["items"]:
        table = doc.add_table(rows=1, cols=5)
        table.style = "Table Grid"
        for cell, heading in zip(table.rows[0].cells, ("Ref.", "Item", "Calibre", "Markings", "Qty")):
            cell.text = heading
        for item in context["items"]:
            cells = table.add_row().cells
            cells[0].text = item["item_ref"]
            cells[1].text = " ".join(x for x in (item["type"], item["make"], item["model"]) if x)
            cells[2].text = item["calibre"]
            cells[3].text = "; ".join(filter(None, [f"serial {item['serial']}" if item["serial"] else "",
                                                     f"lot {item['lot']}" if item["lot"] else "",
                                                     f"year {item['year']}" if item["year"] else "",
                                                     f"factory code {item['factory_code']}" if item["factory_code"] else "",
                                                     f"headstamp {item['headstamp']}" if item["headstamp"] else "",
                                                     f"import mark {item['import_mark']}" if item["import_mark"] else "",
                                                     item["other_marks"]]
                                             + [f"{m['kind']}: {m['text']}" for m in item["markings"]]))
            cells[4].text = str(item["quantity"])
        for item in context["items"]:
            for sha in item["photos"]:
                path = _photo_path(panel, sha)
                if path:
                    doc.add_picture(str(path), width=Cm(8))
                    doc.add_paragraph(f"Markings of {item['item_ref']}. Source: Panel")
    if context["withheld"]:
        doc.add_paragraph(f"{context['withheld']} item(s) withheld at this classification.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def kind_choices():
    return [(k.value, k.label) for k in LetterKind]
