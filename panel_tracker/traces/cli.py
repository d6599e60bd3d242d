"""``panel-tracker traces import|overdue|digest`` (contracts: scripts depend on them).

``import FILE --panel CODE``: ``imported N letters`` on stdout, exit 0; validation errors one
per line on stderr (``line L, column C: CODE: message``), nothing written, exit 1; usage
errors or an unknown panel, exit 2 — as ``items import``.
``overdue --panel CODE [--as-of YYYY-MM-DD] --json``: a JSON array, one object per overdue
letter, sorted by ``due_on`` then ``request_ref``.
``digest --panel CODE``: e-mails each coordinator the counts; once a day.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

traces_cli = click.Group("traces", help="Correspondence and trace requests.")


@traces_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--panel", "panel_code", required=True, help="Code of the panel to import into, e.g. YEM.")
@with_appcontext
def traces_import(file: Path, panel_code: str) -> None:
    """Import a correspondence log (CSV or XLSX, 12 columns; all or nothing)."""
    from ..cli import fail_usage, panel_or_exit
    from ..db import get_session
    from .importer import import_letters

    if file.suffix.lower() not in (".csv", ".xlsx"):
        fail_usage(f"{file.name}: only .csv and .xlsx files can be imported")
    db = get_session()
    panel = panel_or_exit(db, panel_code)
    report = import_letters(db, panel, file, actor="cli")
    if not report.ok:
        db.rollback()
        for error in report.errors:
            click.echo(str(error), err=True)
        click.echo(f"nothing imported: {report.error_count} error(s) in {file.name}", err=True)
        sys.exit(1)
    db.commit()
    click.echo(report.summary)


def _as_of(value: str | None) -> dt.date:
    from ..cli import fail_usage

    if not value:
        return dt.datetime.now(dt.timezone.utc).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail_usage(f"--as-of {value!r} is not a date YYYY-MM-DD")


@traces_cli.command("overdue")
@click.option("--panel", "panel_code", required=True, help="Code of the panel, e.g. YEM.")
@click.option("--as-of", "as_of", default=None, help="The date to compute for (YYYY-MM-DD); default today (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (the only output for now).")
@with_appcontext
def traces_overdue(panel_code: str, as_of: str | None, as_json: bool) -> None:
    """List the letters overdue on a date, from their dated events."""
    from ..cli import panel_or_exit
    from ..classification import Classification
    from ..db import get_session
    from . import policy, queries

    db = get_session()
    panel = panel_or_exit(db, panel_code)
    on = _as_of(as_of)
    facts = queries.letter_facts(db, queries.visible_letters(panel.id, Classification.PANEL))
    rows = queries.overdue_json(facts, on, policy.Policy.of_panel(panel))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['request_ref']}\t{row['addressee']}\t{row['stage']} due {row['due_on']}\t"
                   f"{row['days_overdue']} days overdue")
    click.echo(f"{len(rows)} letter(s) overdue on {on.isoformat()}")


@traces_cli.command("digest")
@click.option("--panel", "panel_code", required=True, help="Code of the panel, e.g. YEM.")
@with_appcontext
def traces_digest(panel_code: str) -> None:
    """E-mail each coordinator how many letters are overdue and due soon (once a day)."""
    from ..cli import panel_or_exit
    from ..db import get_session
    from .digest import DigestError, send_digests

    db = get_session()
    panel = panel_or_exit(db, panel_code)
    try:
        sent = send_digests(db, panel)
    except DigestError as exc:
        db.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    db.commit()
    click.echo(f"sent {sent} digest(s)")
