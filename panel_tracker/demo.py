"""The demo panel a newcomer can log into (``panel-tracker demo``), with the fictional sample
items, an inspection, markings and a photo with a box. Idempotent: running it twice changes
nothing. Above the domains (it fills cases and evidence alike)."""
from __future__ import annotations

import io
import random
import sys
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext
from PIL import Image, ImageDraw, ImageFilter
from sqlmodel import select

from .auth.models import Panel
from .auth.services import add_member, create_panel, find_user
from .cases.import_format import DEMO_ITEMS
from .cases.importer import import_items
from .cases.models import Case, Item
from .cases.services import add_marking, create_inspection, link_marking_photo
from .db import get_session
from .evidence.services import receive_photo

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


def _demo_photo(serial: str) -> bytes:
    """A photo-like picture of a receiver with a stamped serial (made here: nothing downloaded)."""
    rng = random.Random(7)
    image = Image.effect_noise((1600, 1000), 40).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1600, 1000), fill=None)
    draw.rounded_rectangle((150, 300, 1450, 700), radius=40, fill=(92, 96, 100))
    for _ in range(400):
        x, y = rng.randrange(150, 1450), rng.randrange(300, 700)
        draw.point((x, y), fill=(70 + rng.randrange(40),) * 3)
    draw.text((620, 470), serial, fill=(200, 200, 200), font_size=72)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def load_demo_cases(db, panel) -> list[str]:
    if db.exec(select(Item.id).where(Item.panel_id == panel.id).limit(1)).first() is not None:
        return ["Demo items already loaded."]
    report = import_items(db, panel, DEMO_ITEMS, actor="demo")
    item = db.exec(select(Item).where(Item.panel_id == panel.id, Item.item_ref == "YEM-2023-004/01")).one()
    case = db.get(Case, item.case_id)
    case.title = "Dhow interdiction, Arabian Sea (fictional)"
    inspection = create_inspection(db, case, {"inspected_on": date(2023, 9, 12), "place": "Aden (fictional depot)",
                                               "custodian": "Coast guard (fictional)", "inspectors": "Demo expert"},
                                   "demo")
    item.inspection_id = inspection.id
    serial = add_marking(db, item, {"text": item.serial, "kind": "serial", "location": "receiver, left side"}, "demo")
    add_marking(db, item, {"text": "66", "kind": "factory_code", "location": "receiver", "symbol_shape": "triangle"},
                "demo")
    received = receive_photo(db, panel, io.BytesIO(_demo_photo(item.serial)), filename="demo-receiver.jpg",
                             actor="demo", case_id=case.id, item_id=item.id, source="Panel inspection",
                             caption="Receiver, left side", source_line="Source: Panel, 12 September 2023")
    link_marking_photo(db, serial, received.photo, (0.36, 0.44, 0.3, 0.14), "demo")
    db.commit()
    return [f"Demo items: {report.summary} (fictional sample data)."]


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
