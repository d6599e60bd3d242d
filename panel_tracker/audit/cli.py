"""``panel-tracker audit verify``: re-hash the chain."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..db import get_session
from . import verify

audit_cli = click.Group("audit", help="The tamper-evident audit log.")


@audit_cli.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Re-hash the chain; exit 1 naming the first broken record."""
    checked, broken = verify(get_session())
    if broken:
        click.echo(f"audit chain BROKEN at record {broken.seq}: {broken.reason} ({checked} records before it are intact)", err=True)
        sys.exit(1)
    click.echo(f"audit chain intact: {checked} records")
