"""``panel-tracker items import FILE --panel CODE [--update]`` (a contract: scripts depend on it).

Success: ``imported N items in M cases`` on stdout, exit 0. Validation errors: one line
per error on stderr, ``line L, column C: CODE: message``, nothing written, exit 1.
Usage errors or an unknown panel: exit 2.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..cli import fail_usage, panel_or_exit
from ..db import get_session
from .importer import import_items

items_cli = click.Group("items", help="Items of seized materiel.")


@items_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--panel", "panel_code", required=True, help="Code of the panel to import into, e.g. YEM.")
@click.option("--update", is_flag=True, help="Rows whose item_ref is already in the panel update that item.")
def items_import(file: Path, panel_code: str, update: bool) -> None:
    """Import items from a CSV or XLSX file in the documented 26-column format (all or nothing)."""
    _run_import(file, panel_code, update)


@with_appcontext
def _run_import(file: Path, panel_code: str, update: bool) -> None:
    if file.suffix.lower() not in (".csv", ".xlsx"):
        fail_usage(f"{file.name}: only .csv and .xlsx files can be imported")
    db = get_session()
    panel = panel_or_exit(db, panel_code)
    report = import_items(db, panel, file, actor="cli", update=update,
                          max_bytes=current_app.config["IMPORT_MAX_BYTES"])
    if not report.ok:
        db.rollback()
        for error in report.errors:
            click.echo(str(error), err=True)
        if report.error_count > len(report.errors):
            click.echo(f"… and {report.error_count - len(report.errors)} more errors", err=True)
        click.echo(f"nothing imported: {report.error_count} error(s) in {file.name}", err=True)
        sys.exit(1)
    db.commit()
    click.echo(report.summary)
    click.echo(f"({report.counts})")
