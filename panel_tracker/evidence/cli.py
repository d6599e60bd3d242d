"""``panel-tracker evidence verify``, ``evidence clean`` and ``evidence rebuild-derivatives``."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..db import get_session
from .debris import clean_debris, find_debris
from .services import rebuild_derivatives, verify_store

evidence_cli = click.Group("evidence", help="The store of original evidence files.")


@evidence_cli.command("verify")
@with_appcontext
def verify() -> None:
    """Re-hash every stored original and look for debris; exit 1 listing any problem."""
    db = get_session()
    problems = verify_store(db)
    for code, sha, problem in problems:
        click.echo(f"{code} {sha}: {problem}", err=True)
    debris = find_debris(db)
    for item in debris:
        click.echo(f"debris: {item}", err=True)
    if problems:
        click.echo(f"{len(problems)} original(s) missing or altered", err=True)
    if debris:
        click.echo(f"{len(debris)} piece(s) of debris from interrupted uploads or imports; "
                   f"`panel-tracker evidence clean` removes them", err=True)
    if problems or debris:
        sys.exit(1)
    click.echo("every original is present and matches its SHA-256; no debris")


@evidence_cli.command("clean")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@with_appcontext
def clean(dry_run: bool) -> None:
    """Remove what interrupted uploads and imports left behind; mark dead imports failed (retryable)."""
    db = get_session()
    found = clean_debris(db, dry_run=dry_run)
    db.commit()
    verb = "would remove" if dry_run else "removed"
    for item in found:
        if item.path is None:
            click.echo(f"{'would mark' if dry_run else 'marked'} failed (retryable): {item}")
        else:
            click.echo(f"{verb} {item}")
    click.echo(f"{len(found)} piece(s) of debris{' found' if dry_run else ' cleaned'}")


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
