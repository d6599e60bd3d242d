"""Photos as evidence through the real pages and CLI: originals intact, receipts kept, access audited."""
from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases.models import Case, Item, MarkingPhoto
from panel_tracker.db import get_session
from panel_tracker.evidence.models import Photo, PhotoReceipt
from panel_tracker.evidence.services import photo_store
from tests.imagefactory import photographic_jpeg


@pytest.fixture
def case(world):
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = get_session().exec(select(Case)).one()
    expert.post(f"/cases/{case.id}/items/new", data={"category": "small_arm", "type": "rifle", "quantity": "1",
                                                    "serial": "24017731", "serial_legibility": "intact"})
    return case


@pytest.fixture
def jpeg(tmp_path):
    # Under 500 KB, so the test client keeps the request body in memory (werkzeug leaves its
    # temporary file open when a response is not followed).
    return photographic_jpeg(tmp_path / "IMG_0001.JPG", 720, 540).read_bytes()


def _upload(client, case, files, **fields):
    data = {"files": [(io.BytesIO(content), name) for name, content in files], "source": "Panel inspection",
            "is_original": "yes", "item_id": "", **fields}
    response = client.post(f"/cases/{case.id}/photos/upload", data=data, content_type="multipart/form-data")
    response.get_data()
    response.close()  # releases the request body's temporary file (werkzeug closes it with the response)
    return response


def test_uploaded_original_is_kept_byte_for_byte_with_exif_and_derivatives_without_it(world, case, jpeg):
    expert = world.client("expert")
    item = get_session().exec(select(Item)).one()
    response = _upload(expert, case, [("IMG_0001.JPG", jpeg)], item_id=str(item.id), caption="Receiver, left")
    assert response.status_code == 302, response.get_data(as_text=True)
    photo = get_session().exec(select(Photo)).one()
    assert photo.sha256 == hashlib.sha256(jpeg).hexdigest()
    assert photo.camera_make == "Canon" and photo.taken_at.isoformat() == "2024-03-12T14:05:09"
    assert photo.gps_lat == pytest.approx(15.3547, abs=1e-4)
    assert photo.classification.value == "panel"
    stored = photo_store().original_path("YEM", photo.sha256)
    assert stored.read_bytes() == jpeg and stored.name == photo.sha256  # the user's file name is not a path
    thumb = expert.get(f"/photos/{photo.id}/thumb.jpg")
    assert thumb.status_code == 200
    image = Image.open(io.BytesIO(thumb.data))
    assert max(image.size) == 400 and dict(image.getexif()) == {}
    page = expert.get(f"/photos/{photo.id}").get_data(as_text=True)
    assert photo.sha256 in page and "Canon" in page and "15.35" not in page  # GPS only on request


def test_the_same_bytes_received_again_are_a_flagged_receipt_not_a_second_photo(world, case, jpeg):
    expert = world.client("expert")
    _upload(expert, case, [("a.jpg", jpeg)], source="Member State")
    response = _upload(expert, case, [("forwarded.jpg", jpeg)], source="Journalist", is_original="no")
    assert response.status_code == 302
    assert len(get_session().exec(select(Photo)).all()) == 1
    first, second = get_session().exec(select(PhotoReceipt).order_by(PhotoReceipt.id)).all()
    assert second.duplicate_of_id == first.id and not second.is_original and second.filename == "forwarded.jpg"
    page = expert.get(f"/photos/{first.photo_id}").get_data(as_text=True)
    assert "not an independent source" in page


@pytest.mark.parametrize("name, content, fragment", [
    ("notes.jpg", b"this is not an image at all", "not"),
    ("anim.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
                 b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", "GIF"),
])
def test_a_file_of_a_type_not_allowed_is_refused_with_415_and_nothing_is_stored(world, case, name, content, fragment):
    expert = world.client("expert")
    response = _upload(expert, case, [(name, content)])
    assert response.status_code == 415
    assert fragment in response.get_data(as_text=True)
    assert get_session().exec(select(Photo)).all() == []
    assert list(photo_store().originals_dir.rglob("*")) == [] or all(p.is_dir() for p in photo_store().originals_dir.rglob("*"))


def test_a_truncated_jpeg_is_refused_and_the_good_photo_beside_it_is_kept(world, case, jpeg):
    expert = world.client("expert")
    response = _upload(expert, case, [("good.jpg", jpeg), ("cut.jpg", jpeg[: len(jpeg) // 2])])
    assert response.status_code == 200
    assert "cut.jpg" in response.get_data(as_text=True)
    assert len(get_session().exec(select(Photo)).all()) == 1


@pytest.mark.app_config(PHOTO_MAX_BYTES=50_000)
def test_a_photo_over_the_size_limit_is_refused_with_413(world, case, jpeg):
    expert = world.client("expert")
    response = _upload(expert, case, [("big.jpg", jpeg)])
    assert response.status_code == 413
    assert "the limit for one photo" in response.get_data(as_text=True)


@pytest.mark.app_config(MAX_CONTENT_LENGTH=10_000)
def test_a_request_over_the_upload_limit_gets_the_413_page(world, case, jpeg):
    expert = world.client("expert")
    response = _upload(expert, case, [("big.jpg", jpeg)])
    assert response.status_code == 413
    assert "larger than allowed" in response.get_data(as_text=True) and "Traceback" not in response.get_data(as_text=True)


@pytest.mark.app_config(PHOTO_MAX_PIXELS=100_000)
def test_a_decompression_bomb_is_refused(world, case, jpeg):
    expert = world.client("expert")
    response = _upload(expert, case, [("huge.jpg", jpeg)])
    assert response.status_code == 413
    assert get_session().exec(select(Photo)).all() == []


def test_originals_and_gps_are_for_experts_and_up_and_every_access_is_audited(world, case, jpeg):
    expert = world.client("expert")
    _upload(expert, case, [("a.jpg", jpeg)])
    photo = get_session().exec(select(Photo)).one()
    from panel_tracker.cases.services import reclassify

    reclassify(get_session(), photo, "committee", world.users["expert"])
    get_session().commit()
    viewer = world.client("viewer")
    assert viewer.get(f"/photos/{photo.id}/thumb.jpg").status_code == 404  # its case is still panel-only
    reclassify(get_session(), get_session().get(Case, case.id), "committee", world.users["expert"])
    get_session().commit()
    assert viewer.get(f"/photos/{photo.id}/thumb.jpg").status_code == 200
    assert viewer.post(f"/photos/{photo.id}/original").status_code == 403
    assert viewer.post(f"/photos/{photo.id}/gps").status_code == 403
    assert expert.get(f"/photos/{photo.id}/original").status_code == 405  # never a plain link
    with expert.post(f"/photos/{photo.id}/original") as original:
        assert original.status_code == 200 and original.data == jpeg
        assert "attachment" in original.headers["Content-Disposition"]
    gps = expert.post(f"/photos/{photo.id}/gps").get_data(as_text=True)
    assert "15.354" in gps
    actions = {r.action for r in get_session().exec(select(AuditRecord)).all()}
    assert {"photo.download_original", "photo.view_gps"} <= actions


def test_a_panel_only_photo_is_invisible_to_a_viewer(world, case, jpeg):
    expert = world.client("expert")
    _upload(expert, case, [("a.jpg", jpeg)])
    photo = get_session().exec(select(Photo)).one()
    viewer = world.client("viewer")
    assert viewer.get(f"/photos/{photo.id}").status_code == 404
    assert viewer.get(f"/photos/{photo.id}/large.jpg").status_code == 404


def test_a_box_drawn_for_a_marking_is_stored_normalised_and_shown_on_the_item(world, case, jpeg):
    expert = world.client("expert")
    item = get_session().exec(select(Item)).one()
    _upload(expert, case, [("a.jpg", jpeg)], item_id=str(item.id))
    photo = get_session().exec(select(Photo)).one()
    expert.post(f"/items/{item.id}/markings/new", data={"text": "24017731", "kind": "serial", "legibility": "intact",
                                                       "symbol_shape": "none"})
    marking_id = get_session().exec(select(__import__("panel_tracker.cases.models", fromlist=["Marking"]).Marking)).one().id
    bad = expert.post(f"/markings/{marking_id}/photos", data={"photo_id": photo.id, "box_x": "0.9", "box_y": "0.1",
                                                             "box_w": "0.5", "box_h": "0.1"})
    assert bad.status_code == 302 and get_session().exec(select(MarkingPhoto)).all() == []
    expert.post(f"/markings/{marking_id}/photos", data={"photo_id": photo.id, "box_x": "0.25", "box_y": "0.4",
                                                       "box_w": "0.3", "box_h": "0.1"})
    link = get_session().exec(select(MarkingPhoto)).one()
    assert link.box == (0.25, 0.4, 0.3, 0.1)
    page = expert.get(f"/items/{item.id}").get_data(as_text=True)
    assert 'x="0.25" y="0.4" width="0.3" height="0.1"' in page


def test_admin_purges_a_file_uploaded_by_mistake_leaving_a_tombstone(world, case, jpeg, runner):
    expert = world.client("expert")
    _upload(expert, case, [("a.jpg", jpeg)])
    photo = get_session().exec(select(Photo)).one()
    assert expert.post(f"/photos/{photo.id}/purge", data={"reason": "x"}).status_code == 403
    admin = world.client("admin")
    assert admin.post(f"/photos/{photo.id}/purge", data={"reason": "shows a bystander's face"}).status_code == 302
    assert not photo_store().original_path("YEM", photo.sha256).exists()
    assert not photo_store().derivative_path("YEM", photo.sha256, "thumb").exists()
    tomb = get_session().exec(select(AuditRecord).where(AuditRecord.action == "photo.purge")).one()
    assert photo.sha256 in tomb.after and "bystander" in tomb.after and tomb.actor == world.users["admin"].email
    assert expert.get(f"/photos/{photo.id}").status_code == 404
    again = _upload(expert, case, [("a.jpg", jpeg)])
    assert "purged" in again.get_data(as_text=True)
    assert runner.invoke(args=["evidence", "verify"]).exit_code == 0
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_evidence_verify_finds_an_altered_or_missing_original_and_derivatives_rebuild(world, case, jpeg, tmp_path, runner):
    expert = world.client("expert")
    _upload(expert, case, [("a.jpg", jpeg)])
    second = photographic_jpeg(tmp_path / "b.jpg", 800, 600, seed=3).read_bytes()
    _upload(expert, case, [("b.jpg", second)])
    first, other = get_session().exec(select(Photo).order_by(Photo.id)).all()
    assert runner.invoke(args=["evidence", "verify"]).exit_code == 0
    thumb = photo_store().derivative_path("YEM", first.sha256, "thumb")
    thumb.unlink()
    rebuilt = runner.invoke(args=["evidence", "rebuild-derivatives"])
    assert rebuilt.exit_code == 0 and thumb.exists() and "rebuilt derivatives of 2" in rebuilt.output
    path = photo_store().original_path("YEM", first.sha256)
    path.chmod(0o644)
    path.write_bytes(jpeg[:-10] + b"0123456789")
    photo_store().original_path("YEM", other.sha256).unlink()
    result = runner.invoke(args=["evidence", "verify"])
    assert result.exit_code == 1
    assert f"{first.sha256}: altered" in result.output and f"{other.sha256}: missing" in result.output


def test_an_original_downloads_as_an_attachment_a_browser_may_neither_sniff_nor_run(world, case, jpeg):
    # A JPEG carrying HTML after its end: a browser sniffing it, or led to open it, must not run it.
    polyglot = jpeg + b"<html><script>alert(document.cookie)</script></html>"
    expert = world.client("expert")
    _upload(expert, case, [("a.jpg", polyglot)])
    photo = get_session().exec(select(Photo)).one()
    with expert.post(f"/photos/{photo.id}/original") as original:
        assert original.status_code == 200 and original.data == polyglot
        assert original.headers["Content-Disposition"].startswith("attachment;")
        assert original.headers["X-Content-Type-Options"] == "nosniff"
        assert original.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    with expert.get(f"/photos/{photo.id}/large.jpg") as large:
        assert large.headers["X-Content-Type-Options"] == "nosniff"
        assert large.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
