"""An annex's Markdown (introductions, text blocks) as plain paragraphs of styled runs, the
one form both the PDF and the DOCX print: no HTML passes through, no link is followed,
no image is loaded.

Supported: paragraphs, headings (printed one level below the annex heading), bulleted and
numbered lists, *emphasis*, **strong** and `code` (printed in a monospace font, for
markings). Cross-references ``[[fig:key]]`` / ``[[table:key]]`` are replaced by the
current number ("Figure 12.3") before parsing.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from markdown_it import MarkdownIt

CROSS_REF = re.compile(r"\[\[(fig|figure|table|tab):([A-Za-z0-9][A-Za-z0-9_-]{0,59})\]\]")

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable(["image", "html_inline", "html_block"])


def references(text: str) -> list[tuple[str, str]]:
    """``(kind, key)`` of each cross-reference in ``text`` (``kind`` is ``fig`` or ``table``)."""
    return [("fig" if kind.startswith("fig") else "table", key) for kind, key in CROSS_REF.findall(text or "")]


def resolve(text: str, label: Callable[[str, str], str]) -> str:
    """``text`` with each cross-reference replaced by ``label(kind, key)``."""
    return CROSS_REF.sub(lambda m: label("fig" if m.group(1).startswith("fig") else "table", m.group(2)), text or "")


def paragraphs(text: str) -> list[dict]:
    """``[{"style": "p"|"h"|"li"|"ol", "number": n, "runs": [{"t", "b", "i", "m"}]}]``."""
    out: list[dict] = []
    style, number, counters = "p", 0, []
    for token in _md.parse(text or ""):
        if token.type == "heading_open":
            style = "h"
        elif token.type == "paragraph_open" and not counters:
            style = "p"
        elif token.type == "bullet_list_open":
            counters.append(None)
        elif token.type == "ordered_list_open":
            counters.append(int(token.attrs.get("start") or 1) - 1)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            counters.pop()
        elif token.type == "list_item_open":
            if counters and counters[-1] is not None:
                counters[-1] += 1
                style, number = "ol", counters[-1]
            else:
                style, number = "li", 0
        elif token.type == "inline":
            runs = _runs(token.children or [])
            if runs:
                out.append({"style": style, "number": number, "runs": runs})
        elif token.type == "fence" or token.type == "code_block":
            out.append({"style": "p", "number": 0, "runs": [{"t": token.content.rstrip("\n"), "b": False,
                                                            "i": False, "m": True}]})
    return out


def _runs(children) -> list[dict]:
    runs: list[dict] = []
    bold = italic = 0
    for child in children:
        kind = child.type
        if kind == "strong_open":
            bold += 1
        elif kind == "strong_close":
            bold -= 1
        elif kind == "em_open":
            italic += 1
        elif kind == "em_close":
            italic -= 1
        elif kind in ("text", "code_inline"):
            _add(runs, child.content, bold > 0, italic > 0, kind == "code_inline")
        elif kind in ("softbreak", "hardbreak"):
            _add(runs, " " if kind == "softbreak" else "\n", bold > 0, italic > 0, False)
    return runs


def _add(runs: list[dict], text: str, bold: bool, italic: bool, mono: bool) -> None:
    if not text:
        return
    if runs and (runs[-1]["b"], runs[-1]["i"], runs[-1]["m"]) == (bold, italic, mono):
        runs[-1]["t"] += text
    else:
        runs.append({"t": text, "b": bold, "i": italic, "m": mono})


def plain(paras: list[dict]) -> str:
    return "\n".join("".join(run["t"] for run in p["runs"]) for p in paras)
