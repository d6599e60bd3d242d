"""``panel-tracker search ...``: query, batch, patterns (contracts for scripts), rebuild
and verify. The CLI works at panel level: it sees everything of the panel.

Exit codes: 0 done; 1 a problem found (verify) or bad input; 2 unknown panel or usage.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..classification import Classification

search_cli = click.Group("search", help="Marking search: query, batch lists, patterns, index upkeep.")


def _panel(code: str):
    from ..cli import panel_or_exit
    from ..db import get_session

    return panel_or_exit(get_session(), code)


def _hits_json(hits) -> list[dict]:
    return [hit.public() for hit in hits]


@search_cli.command("query")
@click.argument("text")
@click.option("--panel", "panel_code", required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="A JSON array of hits.")
@with_appcontext
def query_command(text: str, panel_code: str, limit: int, as_json: bool) -> None:
    """Search the panel's markings, items and cases for TEXT."""
    from . import query

    result = query.search(_panel(panel_code), text, clearance=Classification.PANEL, limit=limit)
    if as_json:
        click.echo(json.dumps(_hits_json(result.hits), ensure_ascii=False))
        return
    click.echo(f"{result.total} items match {text!r}")
    for hit in result.hits:
        click.echo(f"{hit.score:6.1f}  {hit.item_ref:<20} {hit.field:<14} {hit.matched}")


@search_cli.command("batch")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--panel", "panel_code", required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one element per line of FILE.")
@with_appcontext
def batch_command(file: Path, panel_code: str, limit: int, as_json: bool) -> None:
    """Search each line of FILE (one serial per line)."""
    from . import query

    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        click.echo(f"error: {file.name} is not UTF-8 text", err=True)
        sys.exit(1)
    results = query.batch(_panel(panel_code), lines, clearance=Classification.PANEL, limit=limit)
    if as_json:
        click.echo(json.dumps([{"query": r["query"], "hits": _hits_json(r["hits"])} for r in results],
                              ensure_ascii=False))
        return
    for r in results:
        refs = ", ".join(h.item_ref for h in r["hits"]) or "-"
        click.echo(f"{r['query']}\t{refs}")


@search_cli.command("patterns")
@click.option("--panel", "panel_code", required=True)
@click.option("--gap", default=10, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Largest difference between neighbouring serials of a run.")
@click.option("--min-cases", default=2, show_default=True, type=click.IntRange(2, 10000))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def patterns_command(panel_code: str, gap: int, min_cases: int, as_json: bool) -> None:
    """Groups of items spanning several cases: shared lots, import marks, serials, runs."""
    from ..db import get_session
    from . import patterns

    panel = _panel(panel_code)
    groups = patterns.find_patterns(patterns.panel_rows(get_session(), panel.id), gap=gap, min_cases=min_cases)
    if as_json:
        click.echo(json.dumps([g.public() for g in groups], ensure_ascii=False))
        return
    for group in groups:
        click.echo(f"{group.kind:<26} {group.key:<20} {len(group.case_refs)} cases  {' '.join(group.item_refs)}")


@search_cli.command("rebuild")
@click.option("--panel", "panel_code", default=None, help="One panel (default: every panel).")
@with_appcontext
def rebuild_command(panel_code: str | None) -> None:
    """Rebuild the index from the database, with a progress bar."""
    from . import index

    for panel in _panels(panel_code):
        with click.progressbar(length=1, label=f"{panel.code}", file=sys.stderr) as bar:
            def progress(done, total, bar=bar):
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            written = index.rebuild(panel, progress=progress)
        size = index.index_size(panel.code)
        click.echo(f"{panel.code}: {written} documents indexed, {size / 1e6:.1f} MB")


@search_cli.command("verify")
@click.option("--panel", "panel_code", default=None, help="One panel (default: every panel).")
@with_appcontext
def verify_command(panel_code: str | None) -> None:
    """Report items missing from or stale in the index (exit 1 if any)."""
    from . import index

    problems = 0
    for panel in _panels(panel_code):
        report = index.verify(panel)
        for label, refs in (("missing", report.missing), ("stale", report.stale), ("not in the database", report.extra)):
            for ref in refs:
                click.echo(f"{panel.code}: {label}: {ref}", err=True)
        problems += len(report.missing) + len(report.stale) + len(report.extra)
        click.echo(f"{panel.code}: {report.checked} documents checked, "
                   f"{len(report.missing)} missing, {len(report.stale)} stale, {len(report.extra)} extra")
    if problems:
        click.echo("run: panel-tracker search rebuild", err=True)
        sys.exit(1)


def _panels(panel_code: str | None):
    from sqlmodel import select

    from ..auth.models import Panel
    from ..db import get_session

    if panel_code:
        return [_panel(panel_code)]
    return list(get_session().exec(select(Panel).order_by(Panel.code)))

