"""Demo content: the fictional sample items, an inspection, markings and a photo with a box."""
from __future__ import annotations

import io
import random
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter
from sqlmodel import select

from ..evidence.services import receive_photo
from .importer import import_items
from .models import Case, Item
from .services import add_marking, create_inspection, link_marking_photo

DEMO_ITEMS = Path(__file__).resolve().parent.parent / "data" / "demo_items.csv"


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


