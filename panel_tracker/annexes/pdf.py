"""Annex documents to PDF with WeasyPrint.

WeasyPrint loads nothing it is not given: its URL fetcher serves the print stylesheet from
the app's static files and the panel's print derivatives from the photo store, nothing
else (no network, no other file). Fonts come from the system's fontconfig (Debian's Noto
packages, installed by the README's commands), never from a URL.

Metadata: the PDF's title is the document's title (the report's, or the case's for a quick
annex) and its edition; no author, keywords or XMP are written. Bookmarks are the annex
headings and item sheet headings the document holds, so nothing withheld is among them.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask import current_app

from ..evidence.storage import PhotoStore
from . import images

STATIC = Path(__file__).resolve().parent.parent / "static"
STYLESHEET = STATIC / "print" / "annex.css"
PHOTO_SCHEME = "pt-photo:"
_PHOTO_NAME = re.compile(r"^[0-9a-f]{64}-[0-9]{1,5}x[0-9]{1,5}(-b[0-9a-f]{12})?\.jpg$")


def prepare_images(document: dict, store: PhotoStore, panel_code: str,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, tuple[Path, tuple[int, int]]]:
    """Make the print derivative of every image of ``document``; ``{name: (path, size)}``.
    Each image dict gets ``src`` (a ``pt-photo:`` name) or None when its photo is gone."""
    found: dict[str, tuple[Path, tuple[int, int]]] = {}
    all_images = [im for im in iter_images(document)]
    for n, image in enumerate(all_images, start=1):
        made = images.print_derivative(store, panel_code, image)
        if made is None:
            image["src"] = None
        else:
            path, size = made
            found[path.name] = (path, size)
            image["src"] = PHOTO_SCHEME + path.name
        if progress and (n % 20 == 0 or n == len(all_images)):
            progress(n, len(all_images))
    return found


def iter_images(document: dict):
    for annex in document["annexes"]:
        for part in annex["parts"]:
            figure = part.get("figure") if part["kind"] == "item_sheet" else part if part["kind"] == "figure" else None
            if figure:
                yield from figure["images"]


def _fetcher(store: PhotoStore, panel_code: str, allowed: dict):
    """Serve ``pt-photo:<name>`` from this panel's print derivatives (made for this build)
    and nothing else."""
    root = (store.root / "print" / panel_code).resolve()

    def serve(url: str) -> bytes:
        if url.startswith(PHOTO_SCHEME):
            name = url[len(PHOTO_SCHEME):]
            if _PHOTO_NAME.match(name) and name in allowed:
                path = allowed[name][0].resolve()
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


def render(document: dict, store: PhotoStore, panel_code: str,
           progress: Callable[[str, int, int], None] | None = None) -> tuple[bytes, int]:
    """The PDF of ``document`` and its number of pages."""
    allowed = prepare_images(document, store, panel_code,
                             (lambda n, total: progress("images", n, total)) if progress else None)
    HTML, CSS = _weasyprint()
    # The template alone, without the site's context processors (no request, no user here).
    html = current_app.jinja_env.get_template("annexes/print.html").render(doc=document)
    if progress:
        progress("layout", 0, 1)
    page = HTML(string=html, url_fetcher=_fetcher(store, panel_code, allowed), base_url=None)
    rendered = page.render(stylesheets=[CSS(filename=str(STYLESHEET))])
    if progress:
        progress("layout", 1, 1)
    return rendered.write_pdf(), len(rendered.pages)
