"""Annex documents to PDF with WeasyPrint.

WeasyPrint loads nothing it is not given: its URL fetcher serves the print stylesheet from
the app's static files and the panel's print derivatives from the photo store, nothing
else (no network, no other file). Fonts come from the system's fontconfig (Debian's Noto
packages, installed by the README's commands), never from a URL.

Metadata: the PDF's title is the document's title (the report's, or the case's for a quick
annex) and its edition; no author, keywords or XMP are written. Bookmarks are the annex
headings and item sheet headings the document holds, so nothing withheld is among them.

Long annexes are laid out in chunks. WeasyPrint keeps a whole document's layout in memory
until it is written (about 1.5 MB a page of item sheets), so an annex of 500 item sheets in
one document needs gigabytes. Above :data:`CHUNK_PARTS` parts the document is cut into
sub-documents of about that many parts, only where a page break falls anyway (between two
item sheets, or before an annex), so every page is laid out as it would be in one document.
Each chunk's photos are made, then the chunk is handed to one of :data:`WORKERS` processes
(two on two cores) to be laid out and written to a temporary PDF while the next chunk's photos
are made; then their pages are put together with pypdf: the bookmarks are rebuilt
across chunks from WeasyPrint's own (annex heading, annex title, sheet headings, nested as
in one document), and the "page/total" footer, which no chunk can know, is laid over each
page, drawn with reportlab in the same font at the same place (:func:`_stamp`). The running
header (symbol or DRAFT) and the edition's marking are in every chunk.
"""
from __future__ import annotations

import copy
import gc
import io
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from flask import current_app

from ..evidence.storage import PhotoStore
from . import images

STATIC = Path(__file__).resolve().parent.parent / "static"
STYLESHEET = STATIC / "print" / "annex.css"
#: Laid over the chunks of a long annex: the footer comes from the stamp pages instead.
CHUNK_STYLESHEET = STATIC / "print" / "annex-chunk.css"
PHOTO_SCHEME = "pt-photo:"
_PHOTO_NAME = re.compile(r"^[0-9a-f]{64}-[0-9]{1,5}x[0-9]{1,5}(-b[0-9a-f]{12})?\.jpg$")

#: Parts (item sheets, figures, tables…) per WeasyPrint document; a longer annex is chunked.
CHUNK_PARTS = 50
#: Processes laying out chunks at once (1: in this process, one after another); the app's
#: ``ANNEX_LAYOUT_WORKERS`` overrides it. Each takes about 190 MB laying out 50 item sheets.
WORKERS = min(2, os.cpu_count() or 1)
#: Threads making print derivatives (Pillow releases the GIL while decoding and encoding).
IMAGE_THREADS = 4


def prepare_images(document: dict, store: PhotoStore, panel_code: str,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, tuple[Path, tuple[int, int]]]:
    """Make the print derivative of every image of ``document``; ``{name: (path, size)}``.
    Each image dict gets ``src`` (a ``pt-photo:`` name) or None when its photo is gone."""
    all_images = list(iter_images(document))
    # One job per distinct derivative (the same photo at the same size is made once).
    jobs: dict[Path, dict] = {}
    for image in all_images:
        jobs.setdefault(images.image_path(store, panel_code, image), image)
    made: dict[Path, tuple[Path, tuple[int, int]] | None] = {}
    with ThreadPoolExecutor(max_workers=IMAGE_THREADS) as pool:
        for n, (key, result) in enumerate(zip(jobs, pool.map(
                lambda image: images.print_derivative(store, panel_code, image), jobs.values())), start=1):
            made[key] = result
            if progress and (n % 20 == 0 or n == len(jobs)):
                progress(n, len(jobs))
    found: dict[str, tuple[Path, tuple[int, int]]] = {}
    for image in all_images:
        result = made[images.image_path(store, panel_code, image)]
        if result is None:
            image["src"] = None
        else:
            path, size = result
            found[path.name] = (path, size)
            image["src"] = PHOTO_SCHEME + path.name
    return found


def iter_images(document: dict):
    for annex in document["annexes"]:
        for part in annex["parts"]:
            figure = part.get("figure") if part["kind"] == "item_sheet" else part if part["kind"] == "figure" else None
            if figure:
                yield from figure["images"]


def _fetcher(root: Path, allowed: dict[str, Path]):
    """Serve ``pt-photo:<name>`` from this panel's print derivatives (``root``, made for
    this build: ``allowed``) and nothing else."""
    root = root.resolve()

    def serve(url: str) -> bytes:
        if url.startswith(PHOTO_SCHEME):
            name = url[len(PHOTO_SCHEME):]
            if _PHOTO_NAME.match(name) and name in allowed:
                path = Path(allowed[name]).resolve()
                if path.is_relative_to(root):
                    return path.read_bytes()
        raise ValueError(f"not fetched: {url[:80]}")

    try:
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except ImportError:  # WeasyPrint < 63 takes a function
        return lambda url, *args, **kwargs: {"string": serve(url), "mime_type": "image/jpeg", "redirected_url": url}

    class PanelOnly(URLFetcher):
        def fetch(self, url, headers=None):
            return URLFetcherResponse(url, body=serve(url), headers={"Content-Type": "image/jpeg"})

    return PanelOnly()


def _weasyprint():
    """WeasyPrint's HTML and CSS. Importing WeasyPrint sets Pillow's global
    ``LOAD_TRUNCATED_IMAGES``, which would make the evidence pipeline accept truncated
    photos: put it back (our print derivatives are whole)."""
    from PIL import ImageFile
    from weasyprint import CSS, HTML

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return HTML, CSS


@contextmanager
def _collector_paused():
    """WeasyPrint makes millions of small objects that live until the document is written,
    and the cyclic garbage collector's passes over them were a third of the CPU of a layout
    (50 item sheets: 2.0 CPU-seconds with it, 1.35 without; bench/annex.py). Most of them
    are freed by reference counting when the document goes; the rest in one pass after."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
            gc.collect()


def _layout(html: str, root: Path, allowed: dict[str, Path], *, chunk: bool):
    HTML, CSS = _weasyprint()
    sheets = [CSS(filename=str(STYLESHEET))] + ([CSS(filename=str(CHUNK_STYLESHEET))] if chunk else [])
    return HTML(string=html, url_fetcher=_fetcher(root, allowed), base_url=None).render(stylesheets=sheets)


def render(document: dict, store: PhotoStore, panel_code: str,
           progress: Callable[[str, int, int], None] | None = None, *,
           chunk_parts: int | None = None, workers: int | None = None) -> tuple[bytes, int]:
    """The PDF of ``document`` and its number of pages."""
    root = store.root / "print" / panel_code
    # The template alone, without the site's context processors (no request, no user here).
    template = current_app.jinja_env.get_template("annexes/print.html")
    parts = chunks(document, chunk_parts or CHUNK_PARTS)
    if len(parts) > 1:
        return _render_chunked(parts, template, store, panel_code, workers or layout_workers(), progress)
    allowed = prepare_images(document, store, panel_code,
                             (lambda n, total: progress("images", n, total)) if progress else None)
    if progress:
        progress("layout", 0, 1)
    with _collector_paused():
        rendered = _layout(template.render(doc=document), root,
                           {name: path for name, (path, _) in allowed.items()}, chunk=False)
        if progress:
            progress("layout", 1, 1)
        data, pages = rendered.write_pdf(), len(rendered.pages)
        del rendered
    return data, pages


def layout_workers() -> int:
    """Processes laying out a long annex's chunks: the app's ``ANNEX_LAYOUT_WORKERS``, else
    :data:`WORKERS` (two where the machine has two cores)."""
    return max(1, int(current_app.config.get("ANNEX_LAYOUT_WORKERS") or WORKERS))


# ------------------------------------------------------------------ long annexes, in chunks


def chunks(document: dict, size: int) -> list[dict]:
    """``document`` cut into documents of about ``size`` parts, only where a new page starts
    anyway: before an annex (other than the first printed) or between two item sheets. An
    annex continued from the chunk before is marked ``continued`` (the template prints its
    heading, title and introduction once)."""
    out: list[dict] = []
    current: list[dict] = []
    count = 0

    def close():
        nonlocal current, count
        if current:
            out.append({**document, "annexes": current})
        current, count = [], 0

    for annex in document["annexes"]:
        printed = not annex["withheld"] or annex["note"]
        if printed and count >= size:
            close()
        piece = {**annex, "parts": [], "continued": False}
        current.append(piece)
        previous = None
        for part in annex["parts"]:
            if (count >= size and part["kind"] == "item_sheet" and previous is not None
                    and previous["kind"] == "item_sheet"):
                close()
                piece = {**annex, "parts": [], "continued": True}
                current.append(piece)
            piece["parts"].append(part)
            count += 1
            previous = part
        count += 1  # the annex's heading and introduction
    close()
    return out or [document]


def _render_chunk(html: str, root: str, allowed: dict[str, str], out: str) -> tuple[str, int, list]:
    """Lay out one chunk and write it to ``out``: its path, number of pages, and its bookmarks
    as ``(page index, level, label, x, y, state)`` in PDF points (origin bottom left)."""
    with _collector_paused():
        rendered = _layout(html, Path(root), {k: Path(v) for k, v in allowed.items()}, chunk=True)
        marks = []
        for index, page in enumerate(rendered.pages):
            for level, label, (x, y), state in page.bookmarks:
                marks.append((index, level, label, x * 0.75, (page.height - y) * 0.75, state))
        rendered.write_pdf(out)
        pages = len(rendered.pages)
        del rendered  # freed before the collector's pass
    return out, pages, marks


def _render_chunked(parts: list[dict], template, store: PhotoStore, panel_code: str, workers: int,
                    progress: Callable[[str, int, int], None] | None) -> tuple[bytes, int]:
    """Chunk by chunk: its print derivatives made here, then its layout handed to a worker
    process (or done here with one worker), so the next chunk's photos are made while the
    last one is laid out. Each chunk's PDF goes to a temporary file until they are joined."""
    root = str(store.root / "print" / panel_code)
    pool = None
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # A new interpreter per worker: forking a threaded web process is unsafe.
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    done = 0

    def finished(result):
        nonlocal done
        done += 1
        if progress:
            progress("layout", done, len(parts))
        return result

    try:
        with tempfile.TemporaryDirectory(prefix="annex-chunks-") as folder:
            pending = []
            for n, part in enumerate(parts):
                allowed = prepare_images(part, store, panel_code)
                if progress:
                    progress("images", n + 1, len(parts))
                args = (template.render(doc=part), root, {name: str(path) for name, (path, _) in allowed.items()},
                        str(Path(folder) / f"chunk-{n:05d}.pdf"))
                pending.append(pool.submit(_render_chunk, *args) if pool else finished(_render_chunk(*args)))
            results = [finished(p.result()) for p in pending] if pool else pending
            if pool:
                pool.shutdown()
                pool = None
            if progress:
                progress("write", 0, 1)
            return _merge(results), sum(pages for _, pages, _ in results)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)


#: Where annex.css's ``@bottom-right`` footer falls on an A4 page (PDF points, origin bottom
#: left): right-aligned on the 2 cm right margin, on the baseline WeasyPrint gives an 8 pt
#: line centred in the 2 cm bottom margin. tests/test_annex_chunks.py checks that the footer
#: of a chunked annex lands where the same annex laid out whole has it.
FOOTER_FONT = "Noto Serif"
FOOTER_SIZE = 8
FOOTER_RIGHT = 595.2756 - 56.6929
FOOTER_BASELINE = 25.24


@lru_cache(maxsize=1)
def _footer_font() -> str | None:
    """The file of the footer's font (fontconfig's match for :data:`FOOTER_FONT`), if it is
    a TrueType font reportlab can embed."""
    try:
        path = subprocess.run(["fc-match", "-f", "%{file}", f"{FOOTER_FONT}:style=Regular"], capture_output=True,
                              text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return path if path.lower().endswith(".ttf") and Path(path).is_file() else None


def _stamp(total: int) -> bytes:
    """``total`` A4 pages with only the "page/total" footer of annex.css. Drawn with reportlab
    in the same font, size and place (a few milliseconds a hundred pages); WeasyPrint lays
    out empty pages a hundred times slower, and does so only when the font is not found."""
    font_file = _footer_font()
    if font_file is None:
        current_app.logger.warning("annex footer: %s is not installed as TrueType; laying the footer out with "
                                   "WeasyPrint (slower)", FOOTER_FONT)
        return _stamp_weasyprint(total)
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if "PTFooter" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("PTFooter", font_file))
    out = io.BytesIO()
    # The footer's font from the first page on (reportlab would otherwise name Helvetica, which
    # is not embedded, in every page's resources).
    page = canvas.Canvas(out, pagesize=A4, pageCompression=1, invariant=1, initialFontName="PTFooter",
                         initialFontSize=FOOTER_SIZE)
    for number in range(1, total + 1):
        page.drawRightString(FOOTER_RIGHT, FOOTER_BASELINE, f"{number}/{total}")
        page.showPage()
    page.save()
    return out.getvalue()


def _stamp_weasyprint(total: int) -> bytes:
    """``total`` empty pages with only the annex stylesheet's "page/total" footer."""
    HTML, CSS = _weasyprint()
    body = '<div class="stamp-page"></div>' * total
    html = f'<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>{body}</body></html>'
    return HTML(string=html, url_fetcher=_fetcher(STATIC, {}), base_url=None).write_pdf(
        stylesheets=[CSS(filename=str(STYLESHEET))])


def _lay_over(writer, stamp) -> None:
    """Draw each page of ``stamp`` over the page of ``writer`` with the same number, as a
    form XObject: the page's own content is wrapped in q/Q and left as it is (not parsed
    and rewritten, as pypdf's merge_page would)."""
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    def stream(data: bytes, **entries):
        obj = DecodedStreamObject()
        obj.set_data(data)
        obj.update({NameObject(k): v for k, v in entries.items()})
        return writer._add_object(obj)

    save = stream(b"q\n")
    for number, (page, footer) in enumerate(zip(writer.pages, stamp.pages, strict=True), start=1):
        name = NameObject(f"/PTFooter{number}")
        form = stream(footer.get_contents().get_data(), **{
            "/Type": NameObject("/XObject"), "/Subtype": NameObject("/Form"),
            "/BBox": ArrayObject(footer.mediabox), "/Resources": footer["/Resources"].clone(writer)})
        resources = page["/Resources"]
        if "/XObject" not in resources:
            resources[NameObject("/XObject")] = DictionaryObject()
        resources["/XObject"][name] = form
        contents = page.raw_get("/Contents")
        contents = list(contents) if isinstance(contents, ArrayObject) else [contents]
        page[NameObject("/Contents")] = ArrayObject([save, *contents, stream(f"Q q {name} Do Q\n".encode())])


def _merge(results: list[tuple[str, int, list]]) -> bytes:
    """One PDF of the chunks' pages, with bookmarks nested across chunks as WeasyPrint nests
    them in one document, and the "page/total" footer laid over every page."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import Fit, NameObject

    writer = PdfWriter()
    first = None
    marks = []
    offset = 0
    for path, pages, chunk_marks in results:
        reader = PdfReader(path)
        first = first or reader
        writer.append(reader, import_outline=False)
        marks += [(offset + index, *rest) for index, *rest in chunk_marks]
        offset += pages
    total = offset
    _lay_over(writer, PdfReader(io.BytesIO(_stamp(total))))
    # Bookmarks: each under the last one of a lower level (as WeasyPrint nests them).
    stack: list[tuple[int, object]] = []
    for page_index, level, label, x, y, state in marks:
        while stack and stack[-1][0] >= level:
            stack.pop()
        item = writer.add_outline_item(title=label, page_number=page_index, parent=stack[-1][1] if stack else None,
                                       fit=Fit.xyz(left=x, top=y, zoom=0), is_open=state != "closed")
        stack.append((level, item))
    # The information WeasyPrint writes for one document (title and producer), and no other.
    info = first.metadata or {}
    writer.metadata = {key: info[key] for key in ("/Title", "/Producer") if key in info}
    catalog = first.trailer["/Root"]
    for key in ("/Lang", "/PageMode"):
        if key in catalog:
            writer._root_object[NameObject(key)] = copy.copy(catalog[key])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
