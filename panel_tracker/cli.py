"""The ``panel-tracker`` command's own groups (db, panels, users) and the helpers every
domain's commands share. Each domain adds its commands in its ``init_app``; the entry
point (Flask's group: run, routes, shell, plus all of these) is ``panel_tracker.__main__``.

Exit codes: 0 done; 1 the work was refused or found a problem (validation errors, a
broken audit chain, an altered file); 2 usage errors (unknown panel, bad arguments).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlmodel import select

from . import migrations
from .auth.models import Panel
from .auth.services import add_member, create_panel, find_user
from .auth.sessions import end_other_sessions
from .auth.twofactor import reset_two_factor
from .db import get_engine, get_session
from .validation import Invalid


def fail_usage(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def panel_or_exit(session, code: str):
    panel = session.exec(select(Panel).where(Panel.code == code.strip().upper())).first()
    if panel is None:
        fail_usage(f"no panel with code {code!r} (create it with: panel-tracker panels create CODE --name NAME)")
    return panel


# ------------------------------------------------------------------ db

db_cli = click.Group("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrations.upgrade(get_engine(), revision)
    click.echo(f"database at revision {migrations.current(get_engine()) or 'base'}")


@db_cli.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    migrations.downgrade(get_engine(), revision)
    click.echo(f"database at revision {migrations.current(get_engine()) or 'base'}")


# ------------------------------------------------------------------ panels and users

panels_cli = click.Group("panels", help="Panels (tenants).")


@panels_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help="e.g. 'Panel of Experts on Yemen'")
@click.option("--regime", default="", help="e.g. 'resolution 2140 (2014)'")
@with_appcontext
def panels_create(code: str, name: str, regime: str) -> None:
    db = get_session()
    try:
        panel = create_panel(db, code, name, regime)
    except Invalid as exc:
        fail_usage(str(exc))
    db.commit()
    click.echo(f"created panel {panel.code}: {panel.name}")


users_cli = click.Group("users", help="Users and their membership of panels.")


@users_cli.command("create")
@click.argument("email")
@click.option("--panel", "panel_code", required=True)
@click.option("--role", type=click.Choice(["admin", "coordinator", "expert", "viewer"]), required=True)
@click.option("--name", default="", help="Full name (default: the email).")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the password from this file's first line instead of prompting.")
@click.option("--mandate-start", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--mandate-end", type=click.DateTime(["%Y-%m-%d"]))
@with_appcontext
def users_create(email, panel_code, role, name, password_file, mandate_start, mandate_end) -> None:
    """Create a user in a panel, or give an existing user a membership of another panel.

    The operator's command: the membership is in force at once, and an existing account's
    password is never changed by it."""
    db = get_session()
    panel = panel_or_exit(db, panel_code)
    password = None
    if password_file:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
        if not password:
            fail_usage(f"{password_file} is empty: put the password on its first line")
    elif find_user(db, email) is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user, membership = add_member(
            db, panel, email, name, role, password=password,
            mandate_start=mandate_start.date() if mandate_start else None,
            mandate_end=mandate_end.date() if mandate_end else None)
    except Invalid as exc:
        fail_usage(str(exc))
    db.commit()
    click.echo(f"{user.email} is {membership.role.value} of {panel.code}")


@users_cli.command("reset-two-factor")
@click.argument("email")
@with_appcontext
def users_reset_two_factor(email) -> None:
    """Turn off a user's two-factor login (phone and recovery codes lost); their sessions end.
    The operator's command only: no panel admin can do this to an account."""
    db = get_session()
    user = find_user(db, email)
    if user is None:
        fail_usage(f"no user with email {email!r}")
    reset_two_factor(db, user)
    end_other_sessions(db, user, None, reason="two-factor reset by the operator", actor=None)
    db.commit()
    click.echo(f"two-factor login of {user.email} is off; they set it up again at their next login if a panel requires it")


def init_app(app) -> None:
    for group in (db_cli, panels_cli, users_cli):
        app.cli.add_command(group)
