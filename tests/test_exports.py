"""Exports of a case or of the item list: CSV and XLSX in the import format, and the
full-fidelity ZIP — always within what the exporting user may see and the level chosen."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import date

import pytest
from flask import g
from PIL import Image
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases import import_format, services
from panel_tracker.exports import services as exports
from panel_tracker.cases.importer import import_items
from panel_tracker.cases.models import Case, Item, MarkingKind
from panel_tracker.classification import Classification
from panel_tracker.validation import Invalid
from panel_tracker.evidence.models import Photo
from panel_tracker.evidence.services import receive_photo
from tests.conftest import SAMPLE
from tests.imagefactory import photographic_jpeg

SAMPLE_CSV = SAMPLE / "items.csv"
CONFIDENTIAL_NOTE = "Photographed by a confidential source before the wreckage was moved."
SANAA = (15.3547, 44.2066)  # the GPS that imagefactory writes into every photo


# ------------------------------------------------------------------ helpers


@pytest.fixture
def db(app):
    """The test's own session, closed at the end: each request now closes the session it
    used, so this one is no longer the app context's and its last read would otherwise
    stay open in a transaction (on PostgreSQL the next test's TRUNCATE would wait on it)."""
    from panel_tracker.db import get_session

    session = get_session()
    yield session
    session.close()


@pytest.fixture
def sample(world, db):
    """The Yemen panel holding the 60 items of the sample file, imported by its expert."""
    report = import_items(db, world.panel, SAMPLE_CSV, actor=world.users["expert"])
    assert report.ok, report.errors
    db.commit()
    return world


def client(world, role: str | None = None, *, user=None):
    """A logged-in test client. The app fixture keeps one app context for the whole test, so
    Flask-Login's cached user (``g._login_user``) would carry over from the previous client."""
    g.pop("_login_user", None)
    return world.client(role, user=user)


def item(db, ref: str) -> Item:
    return db.exec(select(Item).where(Item.item_ref == ref)).one()


def case(db, ref: str) -> Case:
    return db.exec(select(Case).where(Case.ref == ref)).one()


def add_photo(world, db, tmp_path, target: Item, *, seed: int, level: Classification = Classification.PANEL) -> Photo:
    path = photographic_jpeg(tmp_path / f"photo-{seed}.jpg", 640, 480, seed=seed)
    with open(path, "rb") as stream:
        received = receive_photo(db, world.panel, stream, filename=path.name, actor=world.users["expert"],
                                 case_id=target.case_id, item_id=target.id, source="Panel inspection")
    received.photo.classification = level
    db.add(received.photo)
    db.commit()
    return received.photo


def download(client, url: str, status: int = 200):
    response = client.get(url)
    try:
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        return response.get_data(), response.headers
    finally:
        response.close()


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def neutralised(data: bytes) -> bytes:
    """A CSV file as the export writes it: byte for byte, but every text cell through
    ``csv_safe`` (the sample has cells starting with a minus sign)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow(import_format.csv_safe_record(dict(zip(rows[0], row))).values())
    return out.getvalue().encode("utf-8")


def open_zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def items_in(archive: zipfile.ZipFile) -> dict[str, dict]:
    return {(d := json.loads(archive.read(name)))["item_ref"]: d
            for name in archive.namelist() if name.startswith("items/")}


def export_records(db) -> list[AuditRecord]:
    return list(db.exec(select(AuditRecord).where(AuditRecord.action == "export.create")
                        .order_by(AuditRecord.seq)).all())


# ------------------------------------------------------------------ CSV and XLSX


def test_expert_exports_the_sample_and_gets_the_file_back_byte_for_byte(sample):
    data, headers = download(client(sample, "expert"), "/items/export?format=csv")
    assert data == neutralised(SAMPLE_CSV.read_bytes())
    assert headers["Content-Type"].startswith("text/csv")
    assert headers["Content-Disposition"] == f"attachment; filename=YEM-items-{date.today().isoformat()}.csv"


def test_case_export_holds_that_case_only_under_a_safe_name(sample, db):
    case_id = case(db, "YEM-2024-017").id
    data, headers = download(client(sample, "expert"), f"/cases/{case_id}/export?format=csv")
    assert headers["Content-Disposition"] == "attachment; filename=YEM-2024-017-items.csv"
    original = SAMPLE_CSV.read_bytes().split(b"\r\n")
    expected = [original[0]] + [line for line in original[1:] if line.startswith(b"YEM-2024-017,")]
    assert data == neutralised(b"\r\n".join(expected) + b"\r\n")
    assert [row["item_ref"] for row in csv_rows(data)] == [f"YEM-2024-017/0{n}" for n in range(1, 7)]


def test_xlsx_export_reimports_through_the_validator_to_the_same_rows(sample, db):
    trap = item(db, "YEM-2024-021/03")
    trap.other_marks = "=HYPERLINK(\"http://example.org\")"  # text must never become a formula
    db.add(trap)
    db.commit()
    data, headers = download(client(sample, "expert"), "/items/export?format=xlsx")
    assert headers["Content-Disposition"].endswith(".xlsx")

    result = import_format.validate_file(io.BytesIO(data), panel_code="YEM", fmt="xlsx")
    assert result.ok, result.errors
    exported = [row.to_record() for row in result.rows()]
    expected = [row.to_record() for row in import_format.validate_file(SAMPLE_CSV, panel_code="YEM").rows()]
    expected[[r["item_ref"] for r in expected].index("YEM-2024-021/03")]["other_marks"] = trap.other_marks
    assert exported == expected
    assert next(import_format.iter_records(io.BytesIO(data), fmt="xlsx"))[0] == 2  # one header row


def test_a_csv_cell_that_looks_like_a_formula_is_neutralised(sample, db):
    trap = item(db, "YEM-2024-021/03")
    trap.other_marks = "=HYPERLINK(\"http://example.org\")"
    trap.lat = -12.5  # a number stays a number
    db.add(trap)
    db.commit()
    data, _ = download(client(sample, "expert"), "/items/export?format=csv")
    row = next(r for r in csv_rows(data) if r["item_ref"] == "YEM-2024-021/03")
    assert row["other_marks"] == "'=HYPERLINK(\"http://example.org\")"
    assert row["lat"] == "-12.5"


def test_filtered_item_list_exports_only_the_matching_items(sample):
    data, _ = download(client(sample, "expert"), "/items/export?format=csv&category=ied_component")
    assert [row["item_ref"] for row in csv_rows(data)] == [f"YEM-2024-017/0{n}" for n in range(1, 6)]


def test_deleted_items_are_not_exported(sample, db):
    services.soft_delete(db, item(db, "YEM-2023-004/01"), sample.users["expert"], "entered twice")
    db.commit()
    data, _ = download(client(sample, "expert"), "/items/export?format=csv")
    refs = [row["item_ref"] for row in csv_rows(data)]
    assert len(refs) == 59 and "YEM-2023-004/01" not in refs


# ------------------------------------------------------------------ classification


def test_viewer_export_never_holds_panel_items_or_confidential_notes(sample, db):
    browser = client(sample, "viewer")
    data, _ = download(browser, "/items/export?format=csv")
    refs = [row["item_ref"] for row in csv_rows(data)]
    assert len(refs) == 53  # the 7 source_confidential rows are panel-only
    assert "YEM-2024-009/04" not in refs
    assert CONFIDENTIAL_NOTE.encode() not in data

    archive_bytes, _ = download(browser, "/items/export?format=zip")
    assert CONFIDENTIAL_NOTE.encode() not in archive_bytes
    with open_zip(archive_bytes) as archive:
        assert "YEM-2024-009/04" not in items_in(archive)


def test_viewer_sees_a_committee_item_without_its_panel_only_source(sample, db):
    wreckage = item(db, "YEM-2024-009/04")
    wreckage.classification = Classification.COMMITTEE  # the item may go to the Committee, its source may not
    db.add(wreckage)
    db.commit()
    browser = client(sample, "viewer")

    data, _ = download(browser, "/items/export?format=csv")
    row = next(r for r in csv_rows(data) if r["item_ref"] == "YEM-2024-009/04")
    assert (row["notes"], row["recovered_place"], row["lat"], row["lon"]) == ("", "", "", "")
    assert row["source_confidential"] == "yes"
    assert row["type"] == wreckage.type
    assert CONFIDENTIAL_NOTE.encode() not in data

    with open_zip(download(browser, "/items/export?format=zip")[0]) as archive:
        exported = items_in(archive)["YEM-2024-009/04"]
    assert exported["sources_withheld"] is True
    assert (exported["notes"], exported["recovered_place"], exported["lat"], exported["lon"]) == ("", "", None, None)


def test_viewer_may_not_ask_for_panel_material(sample):
    download(client(sample, "viewer"), "/items/export?format=csv&max_classification=panel", status=403)


def test_public_export_leaves_out_committee_and_panel_material(sample, db, tmp_path):
    engine = item(db, "YEM-2024-002/01")  # public in the sample
    committee_item = item(db, "YEM-2024-002/02")
    committee_item.classification = Classification.COMMITTEE
    engine.source_classification = Classification.COMMITTEE
    engine.notes = "Seen at the depot of a named custodian."
    db.add_all([engine, committee_item])
    db.commit()
    public_photo = add_photo(sample, db, tmp_path, engine, seed=1, level=Classification.PUBLIC)
    committee_photo = add_photo(sample, db, tmp_path, engine, seed=2, level=Classification.COMMITTEE)
    browser = client(sample, "expert")

    data, _ = download(browser, "/items/export?format=csv&max_classification=public")
    rows = {row["item_ref"]: row for row in csv_rows(data)}
    assert len(rows) == 52 and "YEM-2024-002/02" not in rows
    assert rows["YEM-2024-002/01"]["notes"] == "" and rows["YEM-2024-002/01"]["source_confidential"] == "yes"

    with open_zip(download(browser, "/items/export?format=zip&max_classification=public")[0]) as archive:
        names = set(archive.namelist())
        exported = items_in(archive)
    assert f"photos/{public_photo.sha256}-large.jpg" in names
    assert not any(committee_photo.sha256 in name for name in names)
    assert [p["sha256"] for p in exported["YEM-2024-002/01"]["photos"]] == [public_photo.sha256]
    assert exported["YEM-2024-002/01"]["notes"] == ""
    assert "YEM-2024-002/02" not in exported

    with open_zip(download(browser, "/items/export?format=zip&max_classification=committee")[0]) as archive:
        exported = items_in(archive)
    assert {p["sha256"] for p in exported["YEM-2024-002/01"]["photos"]} == {public_photo.sha256,
                                                                            committee_photo.sha256}
    assert exported["YEM-2024-002/01"]["notes"] == "Seen at the depot of a named custodian."


# ------------------------------------------------------------------ the ZIP


def test_zip_of_a_case_verifies_against_its_manifest_and_holds_derivatives_only(sample, db, tmp_path):
    rifle = item(db, "YEM-2023-004/01")
    overall = add_photo(sample, db, tmp_path, rifle, seed=3)
    close_up = add_photo(sample, db, tmp_path, rifle, seed=4)
    marking = services.add_marking(db, rifle, {"text": "24017731", "kind": MarkingKind.SERIAL,
                                               "location": "receiver"}, sample.users["expert"])
    services.link_marking_photo(db, marking, close_up, (0.25, 0.5, 0.2, 0.1), sample.users["expert"])
    blurred = add_photo(sample, db, tmp_path, rifle, seed=9)
    services.soft_delete(db, blurred, sample.users["expert"], "out of focus")
    db.commit()

    data, headers = download(client(sample, "expert"), f"/cases/{rifle.case_id}/export?format=zip")
    assert headers["Content-Disposition"] == "attachment; filename=YEM-2023-004-items.zip"
    assert headers["Content-Type"] == "application/zip" and int(headers["Content-Length"]) == len(data)
    with open_zip(data) as archive:
        names = archive.namelist()
        manifest = archive.read("manifest.sha256").decode("utf-8").splitlines()
        listed = {}
        for line in manifest:
            digest, path = line.split("  ", 1)
            listed[path] = digest
        assert set(listed) == set(names) - {"manifest.sha256"}
        for path, digest in listed.items():
            assert hashlib.sha256(archive.read(path)).hexdigest() == digest, path
        exported = items_in(archive)

    assert {f"photos/{overall.sha256}-large.jpg", f"photos/{close_up.sha256}-large.jpg"} <= set(names)
    assert not any(name.startswith("photos/") and not name.endswith("-large.jpg") for name in names)
    assert not any(blurred.sha256 in name for name in names)  # deleted: left out
    assert "items/YEM-2023-004_01.json" in names
    assert sorted(exported) == [f"YEM-2023-004/{n:02d}" for n in range(1, 11)]

    rifle_json = exported["YEM-2023-004/01"]
    assert rifle_json["serial"] == "24017731" and rifle_json["classification"] == "public"
    [serial] = rifle_json["markings"]
    assert serial["text"] == "24017731"
    assert serial["photos"] == [{"photo_id": close_up.id, "sha256": close_up.sha256,
                                 "box": {"x": 0.25, "y": 0.5, "w": 0.2, "h": 0.1}}]
    photos = {p["sha256"]: p for p in rifle_json["photos"]}
    assert set(photos) == {overall.sha256, close_up.sha256}
    assert photos[overall.sha256]["files"] == {"large": f"photos/{overall.sha256}-large.jpg"}
    assert photos[overall.sha256]["camera_model"] == "Canon EOS 90D"
    [receipt] = photos[overall.sha256]["receipts"]
    assert receipt["source"] == "Panel inspection" and receipt["is_original"] is True
    assert photos[overall.sha256]["gps_lat"] == pytest.approx(SANAA[0], abs=1e-3)  # expert, panel level


def test_originals_only_for_an_expert_who_asks_and_each_download_is_audited(sample, db, tmp_path):
    rifle = item(db, "YEM-2023-004/01")
    photo = add_photo(sample, db, tmp_path, rifle, seed=5)
    seizure = db.get(Case, rifle.case_id)
    seizure.classification = Classification.COMMITTEE  # so the viewer may see the case itself
    db.add(seizure)
    db.commit()
    url = f"/cases/{rifle.case_id}/export?format=zip"

    download(client(sample, "viewer"), url + "&originals=1", status=403)
    download(client(sample, "expert"), url + "&originals=1&max_classification=public", status=400)

    data, _ = download(client(sample, "expert"), url + "&originals=1")
    with open_zip(data) as archive:
        original = archive.read(f"photos/{photo.sha256}.jpg")
        assert f"photos/{photo.sha256}-large.jpg" in archive.namelist()
        files = items_in(archive)["YEM-2023-004/01"]["photos"][0]["files"]
    assert hashlib.sha256(original).hexdigest() == photo.sha256
    assert files["original"] == f"photos/{photo.sha256}.jpg"

    downloads = db.exec(select(AuditRecord).where(AuditRecord.action == "photo.download_original")).all()
    assert [(r.object_type, r.object_id, r.actor) for r in downloads] == [("photo", photo.id,
                                                                           sample.users["expert"].email)]
    export = export_records(db)[-1]
    assert json.loads(export.after)["originals"] is True
    assert json.loads(export.after)["counts"]["originals"] == 1


def test_public_zip_holds_no_gps_anywhere(sample, db, tmp_path):
    rifle = item(db, "YEM-2023-004/01")
    photos = [add_photo(sample, db, tmp_path, rifle, seed=seed, level=Classification.PUBLIC) for seed in (6, 7)]
    assert all(p.gps_lat is not None for p in photos)  # the originals do carry GPS

    data, _ = download(client(sample, "expert"), "/items/export?format=zip&max_classification=public&case=YEM-2023-004")
    with open_zip(data) as archive:
        images = [name for name in archive.namelist() if name.startswith("photos/")]
        assert len(images) == 2
        for name in images:
            with Image.open(io.BytesIO(archive.read(name))) as image:
                exif = image.getexif()
                assert not exif.get_ifd(0x8825), name
                assert len(exif) == 0, name
        exported = items_in(archive)["YEM-2023-004/01"]
    for photo in exported["photos"]:
        assert "gps_lat" not in photo and "gps_lon" not in photo
        assert not any(key.upper().startswith("GPS") for key in photo["exif"])
        assert "source" not in photo["receipts"][0]
    assert b"15.354" not in data


def test_the_viewer_never_gets_photo_gps(sample, db, tmp_path):
    rifle = item(db, "YEM-2023-004/01")
    add_photo(sample, db, tmp_path, rifle, seed=8, level=Classification.COMMITTEE)
    data, _ = download(client(sample, "viewer"), "/items/export?format=zip&case=YEM-2023-004")
    with open_zip(data) as archive:
        [photo] = items_in(archive)["YEM-2023-004/01"]["photos"]
    assert "gps_lat" not in photo
    assert not any(key.upper().startswith("GPS") for key in photo["exif"])


# ------------------------------------------------------------------ audit and access


def test_every_export_is_in_the_audit_log_with_its_filters_format_and_counts(sample, db):
    download(client(sample, "viewer"), "/items/export?format=xlsx&category=ammunition&max_classification=public")
    [record] = export_records(db)
    after = json.loads(record.after)
    assert record.actor == sample.users["viewer"].email and record.object_type == "panel"
    assert after["format"] == "xlsx" and after["max_classification"] == "public"
    assert after["filters"] == {"category": "ammunition"}
    assert after["counts"]["items"] == 11  # 12 in the sample, one confidential
    assert record.classification == Classification.PUBLIC


def test_case_export_is_audited_against_the_case(sample, db):
    target = case(db, "YEM-2024-017")
    download(client(sample, "coordinator"), f"/cases/{target.id}/export?format=zip")
    [record] = export_records(db)
    assert (record.object_type, record.object_id) == ("case_file", target.id)
    assert json.loads(record.after)["counts"]["items"] == 6


def test_another_panels_case_is_not_found(sample, db):
    outsider = client(sample, user=sample.outsider)  # admin of the Libya panel
    target = case(db, "YEM-2024-017")
    download(outsider, f"/cases/{target.id}/export?format=csv", status=404)
    data, _ = download(outsider, "/items/export?format=csv")
    assert data == ",".join(import_format.COLUMNS).encode() + b"\r\n"  # the header and nothing of Yemen's


def test_a_viewer_cannot_export_a_panel_only_case(sample, db):
    # A case the import created is as open as its least restricted item: every item of
    # YEM-2025-008 came with source_confidential=yes, so the case stays panel-only.
    download(client(sample, "viewer"), f"/cases/{case(db, 'YEM-2025-008').id}/export?format=csv", status=404)
    assert case(db, "YEM-2024-017").classification == Classification.PUBLIC  # three of its five items are public


def test_an_unknown_format_is_refused_with_a_message(sample):
    browser = client(sample, "expert")
    response = browser.get("/items/export?format=pdf")
    assert response.status_code == 400
    assert "csv, xlsx, zip" in response.get_data(as_text=True)


def test_logged_out_visitors_are_sent_to_log_in(sample):
    response = client(sample).get("/items/export?format=csv")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ------------------------------------------------------------------ pure functions


def test_export_options_follow_the_role():
    assert exports.export_options("viewer", fmt=None, max_classification=None).max_level == Classification.COMMITTEE
    assert exports.export_options("expert", fmt="zip", max_classification="panel").show_gps is True
    assert exports.export_options("expert", fmt="zip", max_classification="committee").show_gps is False
    with pytest.raises(Invalid, match="Original photo files are for experts") as refused:
        exports.export_options("viewer", fmt="zip", max_classification=None, originals=True)
    assert refused.value.status == 403
    with pytest.raises(Invalid, match="up to committee material, not panel") as refused:
        exports.export_options("viewer", fmt="csv", max_classification="panel")
    assert refused.value.status == 403


def test_export_names_are_safe():
    assert exports.safe_ref("YEM-2024-017/03") == "YEM-2024-017_03"
    assert exports.safe_ref("../../etc/passwd") == "_.._etc_passwd"
