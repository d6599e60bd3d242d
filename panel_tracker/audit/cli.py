"""``panel-tracker audit verify [--anchor LINE]… [--anchors FILE]`` and ``panel-tracker audit anchor``."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import get_session
from . import AnchorError, anchor_key, make_anchor, parse_anchor, verify, verify_anchor

audit_cli = click.Group("audit", help="The tamper-evident audit log.")


def _key() -> bytes:
    return anchor_key(current_app.config, current_app.instance_path)


@audit_cli.command("anchor")
@with_appcontext
def audit_anchor() -> None:
    """Print the signed head of the chain: one line to write down or e-mail away from the server."""
    line = make_anchor(get_session(), _key())
    if line is None:
        click.echo("error: the audit log is empty: nothing to anchor yet", err=True)
        sys.exit(1)
    click.echo(line)


@audit_cli.command("verify")
@click.option("--anchor", "anchor_lines", multiple=True, metavar="LINE",
              help="An anchor printed by 'panel-tracker audit anchor' (repeatable).")
@click.option("--anchors", "anchors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of anchor lines (blank lines and lines starting with # are skipped).")
@with_appcontext
def audit_verify(anchor_lines: tuple[str, ...], anchors_file: Path | None) -> None:
    """Re-hash the chain; exit 1 naming the first broken record or every anchor that no longer holds."""
    db = get_session()
    lines = list(anchor_lines)
    if anchors_file:
        lines += [line for line in anchors_file.read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    problems = []
    anchors = []
    if lines:
        key = _key()
        for line in lines:
            try:
                anchors.append(parse_anchor(line, key))
            except AnchorError as exc:
                problems.append(str(exc))
    problems += [problem for problem in (verify_anchor(db, anchor) for anchor in anchors) if problem]
    checked, broken = verify(db)
    if broken:
        problems.insert(0, f"audit chain BROKEN at record {broken.seq}: {broken.reason} "
                           f"({checked} records before it are intact)")
    if problems:
        for problem in problems:
            click.echo(problem if problem.startswith("audit chain") else f"anchor: {problem}", err=True)
        sys.exit(1)
    held = f"; {len(anchors)} anchor(s) hold" if anchors else ""
    click.echo(f"audit chain intact: {checked} records{held}")
