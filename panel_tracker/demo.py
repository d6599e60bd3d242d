"""The demo panel a newcomer can log into (``panel-tracker demo``). Idempotent: running it
twice changes nothing."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlmodel import select

from .auth.models import Panel
from .auth.services import add_member, create_panel, find_user
from .cases.demo import load_demo_cases
from .db import get_session

DEMO_CODE = "YEM"
DEMO_NAME = "Panel of Experts on Yemen (demo)"
DEMO_USERS = [
    # email, name, role, password (demo only: panel-tracker demo refuses to run in production)
    ("admin@demo.example", "Amina Admin", "admin", "demo-admin-password"),
    ("coordinator@demo.example", "Carlos Coordinator", "coordinator", "demo-coordinator-password"),
    ("expert@demo.example", "Elena Expert", "expert", "demo-expert-password"),
    ("viewer@demo.example", "Victor Viewer", "viewer", "demo-viewer-password"),
]


def load_demo() -> list[str]:
    db = get_session()
    panel = db.exec(select(Panel).where(Panel.code == DEMO_CODE)).first()
    if panel is None:
        panel = create_panel(db, DEMO_CODE, DEMO_NAME, "resolution 2140 (2014)")
    for email, name, role, password in DEMO_USERS:
        if find_user(db, email) is None:
            add_member(db, panel, email, name, role, password=password)
    db.commit()
    lines = [f"Demo panel {panel.code}: {panel.name}", "Demo logins (email / password):"]
    lines += [f"  {role:<12} {email:<28} {password}" for email, _, role, password in DEMO_USERS]
    return lines + load_demo_cases(db, panel)


@click.command("demo")
@with_appcontext
def demo_cli() -> None:
    """Create (once) the demo panel with a user for each role, and print the logins."""
    if current_app.config["ENV"] == "production":
        click.echo("error: panel-tracker demo refuses to run in production (it creates known passwords).", err=True)
        sys.exit(2)
    for line in load_demo():
        click.echo(line)


def init_app(app) -> None:
    app.cli.add_command(demo_cli)
