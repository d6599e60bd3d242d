"""The ``panel-tracker`` command (also ``python -m panel_tracker``): Flask's group (run,
routes, shell) plus the commands each domain registers in its ``init_app``."""
from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup

from . import ConfigError, create_app


def _create_app():
    try:
        return create_app()
    except ConfigError as exc:  # a message to act on, not a traceback
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Panel Tracker: cases, evidence and correspondence of a sanctions panel."""


if __name__ == "__main__":
    main()
