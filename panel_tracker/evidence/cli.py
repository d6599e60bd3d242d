"""``panel-tracker evidence verify`` and ``panel-tracker evidence rebuild-derivatives``."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..db import get_session
from .services import rebuild_derivatives, verify_store

evidence_cli = click.Group("evidence", help="The store of original evidence files.")


@evidence_cli.command("verify")
@with_appcontext
def verify() -> None:
    """Re-hash every stored original; exit 1 listing any file missing or altered."""
    problems = verify_store(get_session())
    for code, sha, problem in problems:
        click.echo(f"{code} {sha}: {problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} original(s) missing or altered", err=True)
        sys.exit(1)
    click.echo("every original is present and matches its SHA-256")


@evidence_cli.command("rebuild-derivatives")
@with_appcontext
def rebuild() -> None:
    """Rebuild the resized, EXIF-stripped copies that pages show, from the originals."""
    done, failed = rebuild_derivatives(get_session())
    for line in failed:
        click.echo(line, err=True)
    click.echo(f"rebuilt derivatives of {done} photo(s)")
    if failed:
        sys.exit(1)
