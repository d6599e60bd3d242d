"""An expert back from a depot imports the day's photos at once, in the order they were taken."""
from __future__ import annotations

import html
import io
import os
import struct
import uuid
import zipfile
from datetime import timedelta

import pytest
from PIL import Image
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases.models import Case, Item
from panel_tracker.cases.services import create_case, create_item
from panel_tracker.db import get_session, utcnow
from panel_tracker.evidence import bulk, services
from panel_tracker.evidence.bulk.staging import zip_directory_size
from panel_tracker.evidence.bulk_models import BulkImport, BulkImportStatus
from panel_tracker.evidence.models import Channel, Photo, PhotoReceipt
from tests.factories import make_member
from tests.imagefactory import CameraExif, photographic_jpeg

pytestmark = pytest.mark.app_config(BULK_IMPORT_SYNC=True)

CANON = dict(make="Canon", model="Canon EOS 90D", gps=None)
NIKON = dict(make="NIKON CORPORATION", model="NIKON D750", gps=None)  # its clock is 2 minutes slow
# True times interleave A, B, A, B, A, B; camera B's clock shows them 2 minutes early.
SHOTS = [
    ("cameraA/IMG_0001.JPG", CANON, "2024:03:12 10:00:00"),
    ("cameraA/IMG_0002.JPG", CANON, "2024:03:12 10:02:00"),
    ("cameraA/IMG_0003.JPG", CANON, "2024:03:12 10:04:00"),
    ("cameraB/DSC_0001.JPG", NIKON, "2024:03:12 09:58:30"),  # really 10:00:30
    ("cameraB/DSC_0002.JPG", NIKON, "2024:03:12 10:00:30"),  # really 10:02:30
    ("cameraB/DSC_0003.JPG", NIKON, "2024:03:12 10:02:30"),  # really 10:04:30
]
TRUE_ORDER = ["cameraA/IMG_0001.JPG", "cameraB/DSC_0001.JPG", "cameraA/IMG_0002.JPG", "cameraB/DSC_0002.JPG",
              "cameraA/IMG_0003.JPG", "cameraB/DSC_0003.JPG"]
CLOCK_ORDER = ["cameraB/DSC_0001.JPG", "cameraA/IMG_0001.JPG", "cameraB/DSC_0002.JPG", "cameraA/IMG_0002.JPG",
               "cameraB/DSC_0003.JPG", "cameraA/IMG_0003.JPG"]
NIKON_SLOW = "NIKON D750 = +00:02:00"


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> dict[str, bytes]:
    """The day's six photos (small, to stay fast), by their name in the ZIP."""
    folder = tmp_path_factory.mktemp("day")
    photos = {}
    for seed, (name, camera, taken_at) in enumerate(SHOTS):
        path = photographic_jpeg(folder / f"{seed}.jpg", 640, 480, exif=CameraExif(**camera, taken_at=taken_at),
                                 seed=seed, quality=70)
        photos[name] = path.read_bytes()
    return photos


def make_zip(members: dict[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (members.items() if isinstance(members, dict) else members):
            archive.writestr(name, data)
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(buffer, "GIF")
    return buffer.getvalue()


@pytest.fixture
def case(world):
    db = get_session()
    expert = world.users["expert"]
    case = create_case(db, world.panel, {"ref": "YEM-2024-017", "title": "Depot visit, Aden"}, expert)
    db.commit()
    return case


def add_items(case: Case, actor, count: int = 2) -> list[Item]:
    db = get_session()
    items = [create_item(db, case, {"category": "small_arm", "type": f"assault rifle no. {n}", "quantity": 1}, actor)
             for n in range(1, count + 1)]
    db.commit()
    return items


def post_import(client, case: Case, files, *, mapping: str | None = None, clocks: str = "", **extra):
    data = {"files": [(io.BytesIO(content), name) for name, content in files], "clock_corrections": clocks,
            "source": "Panel inspection", "is_original": "yes", **extra}
    if mapping is not None:
        data["mapping"] = (io.BytesIO(mapping.encode()), "mapping.csv")
    return client.post(f"/cases/{case.id}/photos/bulk", data=data, content_type="multipart/form-data")


def run_import(client, case, files, **kwargs) -> BulkImport:
    response = post_import(client, case, files, **kwargs)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    bulk_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    db = get_session()
    db.expire_all()
    return db.get(BulkImport, bulk_id)


def sequence_names(job: BulkImport) -> list[str]:
    names = bulk.names_by_photo(job)
    return [names[photo_id][0] for photo_id in job.sequence]


def photo_named(job: BulkImport, name: str) -> Photo:
    entry = next(e for e in job.files if e["name"] == name)
    return get_session().get(Photo, entry["photo_id"])


# ------------------------------------------------------------------ order and clocks


def test_two_cameras_interleave_in_true_order_once_the_slow_clock_is_corrected(world, case, day):
    expert = world.client("expert")
    job = run_import(expert, case, [("day1.zip", make_zip(day))], clocks=NIKON_SLOW)

    assert job.status == BulkImportStatus.DONE
    assert (job.total, job.processed, job.accepted, job.duplicates, job.skipped) == (6, 6, 6, 0, [])
    assert sequence_names(job) == TRUE_ORDER
    slow = photo_named(job, "cameraB/DSC_0001.JPG")
    assert slow.taken_at.isoformat() == "2024-03-12T09:58:30"  # as the camera recorded it
    assert slow.taken_at_corrected == slow.taken_at + timedelta(minutes=2)
    canon = photo_named(job, "cameraA/IMG_0001.JPG")
    assert canon.taken_at_corrected == canon.taken_at and canon.case_id == case.id
    receipts = get_session().exec(select(PhotoReceipt).where(PhotoReceipt.photo_id == slow.id)).all()
    assert [(r.channel, r.filename, r.source) for r in receipts] == [(Channel.BULK_IMPORT, "DSC_0001.JPG",
                                                                       "Panel inspection")]

    page = expert.get(f"/bulk/{job.id}").get_data(as_text=True)
    assert "NIKON CORPORATION NIKON D750" in page and "Canon EOS 90D" in page  # cameras found, to correct
    assert "+00:02:00" in page and 'http-equiv="refresh"' not in page
    assert page.index("IMG_0001.JPG") < page.index("DSC_0001.JPG") < page.index("IMG_0002.JPG")
    assert f'/photos/{slow.id}/thumb.jpg' in page
    assert not bulk.staging_dir(job.id).exists()  # the staged files are gone once received


def test_without_correction_the_camera_clocks_decide_and_correcting_later_sorts_again(world, case, day):
    expert = world.client("expert")
    job = run_import(expert, case, [("day1.zip", make_zip(day))])
    assert sequence_names(job) == CLOCK_ORDER

    response = expert.post(f"/bulk/{job.id}/clocks", data={"clock_corrections": "nikon d750, +2m"})
    assert response.status_code == 302
    db = get_session()
    db.expire_all()
    job = db.get(BulkImport, job.id)
    assert sequence_names(job) == TRUE_ORDER
    assert job.clock_offsets == {"nikon d750": 120}
    corrected = db.exec(select(AuditRecord).where(AuditRecord.action == "photo.update")).all()
    assert len(corrected) == 3 and all("taken_at_corrected" in r.after for r in corrected)  # audited, camera B only


@pytest.mark.parametrize("text, message", [
    ("NIKON D750 = two minutes", "Line 1: 'two minutes' is not an offset"),
    ("\n+00:02:00", "Line 2: write the camera"),
    ("NIKON D750 = +2m\nnikon  d750 = -45s", "Line 2: nikon d750 is given twice"),
])
def test_an_unreadable_clock_correction_is_refused_next_to_the_field_and_nothing_is_imported(world, case, day,
                                                                                             text, message):
    response = post_import(world.client("expert"), case, [("day1.zip", make_zip(day))], clocks=text)
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
    assert get_session().exec(select(BulkImport)).all() == [] and get_session().exec(select(Photo)).all() == []


@pytest.mark.parametrize("text, seconds", [("+00:03:10", 190), ("-45s", -45), ("+1h2m3s", 3723), ("-1:00:00", -3600),
                                           ("+2d", 172800)])
def test_clock_offsets_are_read_as_written(text, seconds):
    assert bulk.parse_offset(text) == seconds
    assert bulk.parse_offset(bulk.format_offset(seconds)) == seconds


# ------------------------------------------------------------------ mapping CSV


def test_a_mapping_csv_assigns_photos_to_items_and_reports_bad_lines_by_number(world, case, day):
    first, second = add_items(case, world.users["expert"])
    mapping = ("file,item_ref\n"
               f"IMG_0001.JPG,{first.item_ref}\n"            # line 2: matched by its name alone
               f"cameraB/DSC_0001.JPG,{second.item_ref}\n"   # line 3: matched by its path in the ZIP
               f"missing.jpg,{first.item_ref}\n"             # line 4: no such file
               "IMG_0002.JPG,YEM-2024-017/99\n"              # line 5: no such item
               "\n"
               f"img_0003.jpg,{second.item_ref.lower()}\n")  # line 7: case does not matter
    job = run_import(world.client("expert"), case, [("day1.zip", make_zip(day))], mapping=mapping)

    assert photo_named(job, "cameraA/IMG_0001.JPG").item_id == first.id
    assert photo_named(job, "cameraB/DSC_0001.JPG").item_id == second.id
    assert photo_named(job, "cameraA/IMG_0003.JPG").item_id == second.id
    assert photo_named(job, "cameraA/IMG_0002.JPG").item_id is None  # unmapped photos stay unassigned
    assert [(a["file"], a["item_ref"], a["line"]) for a in job.assignments] == [
        ("cameraA/IMG_0001.JPG", first.item_ref, 2), ("cameraB/DSC_0001.JPG", second.item_ref, 3),
        ("cameraA/IMG_0003.JPG", second.item_ref, 7)]
    assert [(s["line"], s["reason"]) for s in job.skipped] == [
        (4, "mapping line 4: no file of that name in this import"),
        (5, "mapping line 5: no item YEM-2024-017/99 in case YEM-2024-017")]
    updates = get_session().exec(select(AuditRecord).where(AuditRecord.action == "photo.update")).all()
    assert len(updates) == 3  # every assignment is audited
    page = world.client("expert").get(f"/bulk/{job.id}").get_data(as_text=True)
    assert "mapping line 5: no item YEM-2024-017/99" in page


def test_a_mapping_csv_without_its_header_is_refused_next_to_the_field(world, case, day):
    response = post_import(world.client("expert"), case, [("day1.zip", make_zip(day))],
                           mapping="IMG_0001.JPG,YEM-2024-017/01\n")
    assert response.status_code == 422
    assert "The first row must be the header file,item_ref" in response.get_data(as_text=True)
    assert get_session().exec(select(BulkImport)).all() == []


# ------------------------------------------------------------------ what is skipped, and why


def test_a_text_file_and_a_gif_are_skipped_with_reasons_and_the_rest_imported(world, case, day):
    members = {**day, "notes.txt": b"Depot 3, shelf B: rifles, crates of 7.62x39", "scan.gif": gif_bytes(),
               "__MACOSX/cameraA/._IMG_0001.JPG": b"\x00\x05\x16\x07"}
    job = run_import(world.client("expert"), case, [("day1.zip", make_zip(members))])

    assert job.status == BulkImportStatus.DONE
    assert (job.total, job.processed, job.accepted) == (9, 9, 6)
    reasons = {s["file"]: s["reason"] for s in job.skipped}
    assert set(reasons) == {"notes.txt", "scan.gif", "__MACOSX/cameraA/._IMG_0001.JPG"}
    assert reasons["scan.gif"].startswith("GIF files are not accepted as photos")
    assert "not an image in an accepted format" in reasons["notes.txt"]
    assert "housekeeping" in reasons["__MACOSX/cameraA/._IMG_0001.JPG"]
    page = world.client("expert").get(f"/bulk/{job.id}").get_data(as_text=True)
    assert "Skipped, and why" in page and "GIF files are not accepted" in page


def test_a_zip_member_climbing_out_of_the_folder_is_skipped_and_nothing_is_written_outside(world, case, day, tmp_path):
    photo = day["cameraA/IMG_0001.JPG"]
    link = zipfile.ZipInfo("cameraA/link.jpg")
    link.external_attr = (0o120777 << 16)  # a symbolic link
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.jpg", day["cameraA/IMG_0002.JPG"])
        archive.writestr("/etc/evil2.jpg", day["cameraA/IMG_0003.JPG"])
        archive.writestr(link, "../../../../etc/passwd")
        archive.writestr("cameraA/IMG_0001.JPG", photo)
    job = run_import(world.client("expert"), case, [("day1.zip", buffer.getvalue())])

    assert job.accepted == 1 and sequence_names(job) == ["cameraA/IMG_0001.JPG"]
    reasons = {s["file"]: s["reason"] for s in job.skipped}
    assert reasons["../evil.jpg"].startswith("unsafe name in the ZIP")
    assert reasons["/etc/evil2.jpg"].startswith("unsafe name in the ZIP")
    assert reasons["cameraA/link.jpg"].startswith("a symbolic link")
    assert [p for p in tmp_path.rglob("*evil*")] == []
    assert not os.path.exists("/etc/evil2.jpg")
    assert len(get_session().exec(select(Photo)).all()) == 1


def test_a_zip_whose_sizes_lie_is_stopped_at_the_declared_size(world, case):
    data = make_zip({"IMG_0009.JPG": b"\xff\xd8" + bytes(300_000)})
    patched = bytearray(data)
    patched[22:26] = struct.pack("<I", 100)  # local header: uncompressed size
    central = bytes(patched).index(b"PK\x01\x02")
    patched[central + 24:central + 28] = struct.pack("<I", 100)  # central directory: uncompressed size
    job = run_import(world.client("expert"), case, [("day1.zip", bytes(patched))])
    assert job.skipped == [{"file": "IMG_0009.JPG", "reason": "could not be read from the ZIP (damaged, or packed "
                                                              "in a way we cannot read)"}]


@pytest.mark.app_config(BULK_IMPORT_SYNC=True, BULK_IMPORT_MAX_FILES=4)
def test_a_zip_with_too_many_files_is_refused_before_anything_is_unpacked(world, case, day):
    response = post_import(world.client("expert"), case, [("day1.zip", make_zip(day))])
    assert response.status_code == 422
    assert "6 files in one import; the limit is 4" in response.get_data(as_text=True)
    assert get_session().exec(select(BulkImport)).all() == []
    assert not any(bulk.staging_root().glob("*"))


def empty_members_zip(count: int) -> bytes:
    """A ZIP of ``count`` empty members, like the 1.5 million of the issue (ZIP64 above 65,535)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(count):
            archive.writestr(zipfile.ZipInfo(f"e/{n:05d}"), b"")
    return buffer.getvalue()


@pytest.mark.app_config(BULK_IMPORT_SYNC=True, BULK_IMPORT_MAX_FILES=1000)
def test_a_zip_of_thousands_of_empty_files_is_refused_from_its_end_record_before_its_list_is_read(
        world, case, monkeypatch):
    data = empty_members_zip(4_800)  # under 500 kB: the test client keeps it in memory

    def no_member_list(*args, **kwargs):
        raise AssertionError("the ZIP's member list was read")

    monkeypatch.setattr(zipfile, "ZipFile", no_member_list)
    with post_import(world.client("expert"), case, [("day1.zip", data)]) as response:
        assert response.status_code == 422
        assert "4,800 files in one import; the limit is 1,000" in response.get_data(as_text=True)
    assert get_session().exec(select(BulkImport)).all() == []
    assert not any(bulk.staging_root().glob("*"))


def test_the_end_record_of_a_zip64_of_sixty_six_thousand_files_gives_their_number(tmp_path):
    path = tmp_path / "day1.zip"
    path.write_bytes(empty_members_zip(66_000))
    count, directory_bytes = zip_directory_size(path)
    assert count == 66_000 and directory_bytes > 66_000 * 46


def test_a_zip_member_that_would_unpack_a_thousand_times_larger_is_refused(world, case):
    bomb = make_zip({"IMG_0001.JPG": bytes(4 * 1024 * 1024)})  # 4 MB of zeros deflate to about 4 kB
    with post_import(world.client("expert"), case, [("day1.zip", bomb)]) as response:
        assert response.status_code == 422
        page = html.unescape(response.get_data(as_text=True))
    assert "IMG_0001.JPG would unpack from 4 kB to 4 MB, more than 100 times" in page
    assert not any(bulk.staging_root().glob("*"))


@pytest.mark.app_config(BULK_IMPORT_SYNC=True, BULK_IMPORT_MAX_FILES=2)
def test_a_folder_of_more_files_than_the_limit_is_refused_before_any_is_written(world, case, day):
    files = list(day.items())[:3]
    with post_import(world.client("expert"), case, files) as response:
        assert response.status_code == 422
        assert "3 files in one import; the limit is 2" in response.get_data(as_text=True)
    assert get_session().exec(select(BulkImport)).all() == []


@pytest.mark.app_config(BULK_IMPORT_SYNC=True, BULK_IMPORT_MAX_BYTES=200_000)
def test_a_zip_that_unpacks_too_large_is_refused(world, case):
    bomb = make_zip({f"IMG_{n}.JPG": bytes(150_000) for n in range(2)})  # 300 kB of zeros pack to almost nothing
    assert len(bomb) < 2_000
    response = post_import(world.client("expert"), case, [("day1.zip", bomb)])
    assert response.status_code == 422
    assert "once unpacked, the limit for one import" in response.get_data(as_text=True)


def test_a_file_that_is_not_a_zip_but_named_so_is_refused_next_to_the_field(world, case):
    response = post_import(world.client("expert"), case, [("day1.zip", b"not a zip at all")])
    assert response.status_code == 422
    assert "day1.zip is not a ZIP file that can be read" in response.get_data(as_text=True)


def test_the_same_photo_twice_is_flagged_as_a_duplicate_receipt(world, case, day):
    """Photos picked one by one (or a folder): many files in one request, no ZIP."""
    photo = day["cameraA/IMG_0001.JPG"]
    files = [("day1/IMG_0001.JPG", photo), ("day1/copy of IMG_0001.JPG", photo),
             ("day1/IMG_0002.JPG", day["cameraA/IMG_0002.JPG"])]
    job = run_import(world.client("expert"), case, files)

    assert (job.total, job.accepted, job.duplicates, job.skipped) == (3, 2, 1, [])
    duplicate = next(e for e in job.files if e["outcome"] == "duplicate")
    assert duplicate["name"] == "day1/copy of IMG_0001.JPG"
    receipts = get_session().exec(select(PhotoReceipt).where(PhotoReceipt.photo_id == duplicate["photo_id"])
                                  .order_by(PhotoReceipt.id)).all()
    assert len(receipts) == 2 and receipts[1].duplicate_of_id == receipts[0].id
    assert len(job.sequence) == 2  # one photo, received twice
    page = world.client("expert").get(f"/bulk/{job.id}").get_data(as_text=True)
    assert "Already held by the panel" in page and "copy of IMG_0001.JPG" in page

    again = run_import(world.client("expert"), case, [("day1.zip", make_zip({"IMG_0001.JPG": photo}))])
    assert (again.accepted, again.duplicates) == (0, 1)


# ------------------------------------------------------------------ label cards


def test_ticking_label_cards_splits_the_sequence_and_assigns_each_group_to_its_item(world, case, day):
    first, second = add_items(case, world.users["expert"])
    expert = world.client("expert")
    job = run_import(expert, case, [("day1.zip", make_zip(day))], clocks=NIKON_SLOW)
    seq = job.sequence  # A1 B1 A2 | B2 A3 B3: label cards at positions 1 and 4
    page = expert.get(f"/bulk/{job.id}").get_data(as_text=True)
    assert f'name="item_for_{seq[3]}"' in page and first.item_ref in page

    response = expert.post(f"/bulk/{job.id}/split", data={
        "label_card": [str(seq[0]), str(seq[3])], f"item_for_{seq[0]}": str(first.id),
        f"item_for_{seq[3]}": str(second.id), "item_before": ""})
    assert response.status_code == 302
    db = get_session()
    db.expire_all()
    photos = [db.get(Photo, photo_id) for photo_id in seq]
    assert [p.item_id for p in photos] == [first.id] * 3 + [second.id] * 3
    assert [p.is_label_card for p in photos] == [True, False, False, True, False, False]
    job = db.get(BulkImport, job.id)
    assert [a["how"] for a in job.assignments] == ["label cards"] * 6
    assert db.exec(select(AuditRecord).where(AuditRecord.action == "photo.update")).all()  # through update_photo

    # Moving the second card one photo later moves that photo to the first item.
    expert.post(f"/bulk/{job.id}/split", data={
        "label_card": [str(seq[0]), str(seq[4])], f"item_for_{seq[0]}": str(first.id),
        f"item_for_{seq[4]}": str(second.id)})
    db.close()  # end the test's read transaction, to see what the request committed
    photos = [db.get(Photo, photo_id) for photo_id in seq]
    assert [p.item_id for p in photos] == [first.id] * 4 + [second.id] * 2
    assert [p.is_label_card for p in photos] == [True, False, False, False, True, False]


def test_a_label_card_cannot_send_photos_to_an_item_of_another_case(world, case, day):
    db = get_session()
    expert_user = world.users["expert"]
    other_case = create_case(db, world.panel, {"ref": "YEM-2024-018", "title": "Another depot"}, expert_user)
    db.commit()
    (foreign,) = add_items(other_case, expert_user, 1)
    expert = world.client("expert")
    job = run_import(expert, case, [("day1.zip", make_zip(day))])
    response = expert.post(f"/bulk/{job.id}/split", data={"label_card": [str(job.sequence[0])],
                                                          f"item_for_{job.sequence[0]}": str(foreign.id)},
                           follow_redirects=True)
    assert "Choose items of case YEM-2024-017" in response.get_data(as_text=True)
    db = get_session()
    assert all(db.get(Photo, i).item_id is None for i in job.sequence)


# ------------------------------------------------------------------ progress


def test_status_json_reports_progress_and_percent_while_the_report_refreshes_itself(world, case, day):
    db = get_session()
    expert_user = world.users["expert"]
    running = BulkImport(panel_id=world.panel.id, case_id=case.id, created_by_id=expert_user.id,
                         status=BulkImportStatus.RUNNING, total=6, processed=3, accepted=2, duplicates=1)
    db.add(running)
    db.commit()
    expert = world.client("expert")
    status = expert.get(f"/bulk/{running.id}/status.json").get_json()
    assert status["status"] == "running" and status["finished"] is False
    assert (status["total"], status["processed"], status["percent"]) == (6, 3, 50)
    assert (status["accepted"], status["duplicates"], status["skipped"]) == (2, 1, 0)
    page = expert.get(f"/bulk/{running.id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="3">' in page
    assert '<progress id="bulk-progress" max="6" value="3">50%</progress>' in page
    assert "bulk.js" in page and "No sign of life for more than 15 minutes" not in page

    db = get_session()
    db.get(BulkImport, running.id).heartbeat_at = utcnow() - timedelta(minutes=20)  # the web process was restarted
    db.commit()
    assert "No sign of life for more than 15 minutes" in expert.get(f"/bulk/{running.id}").get_data(as_text=True)

    job = run_import(expert, case, [("day1.zip", make_zip(day))])
    status = expert.get(f"/bulk/{job.id}/status.json").get_json()
    assert (status["status"], status["finished"], status["processed"], status["percent"]) == ("done", True, 6, 100)


def test_progress_is_committed_file_by_file_so_another_session_sees_it(world, case, day, monkeypatch):
    """The job commits after each file: what status.json reads mid-way is the truth so far."""
    seen = []
    receive = services.receive_photo

    def watching(*args, **kwargs):
        from panel_tracker.db import get_engine
        from sqlmodel import Session

        with Session(get_engine()) as other:
            row = other.exec(select(BulkImport)).one()
            seen.append((row.status.value, row.processed))
        return receive(*args, **kwargs)

    monkeypatch.setattr(services, "receive_photo", watching)
    run_import(world.client("expert"), case, [("day1.zip", make_zip(day))])
    assert seen == [("running", n) for n in range(6)]


# ------------------------------------------------------------------ who may see an import


class Killed(BaseException):
    """What SIGKILL does to the job, short of killing the test: it stops between two files."""


def test_an_import_whose_process_died_is_marked_failed_and_retry_receives_only_the_rest(world, case, day,
                                                                                        monkeypatch, runner):
    receive, calls = services.receive_photo, []

    def dies_at_the_third_file(*args, **kwargs):
        calls.append(kwargs["filename"])
        if len(calls) == 3:
            raise Killed()
        return receive(*args, **kwargs)

    monkeypatch.setattr(services, "receive_photo", dies_at_the_third_file)
    expert = world.client("expert")
    with pytest.raises(Killed):
        post_import(expert, case, [("day1.zip", make_zip(day))], clocks=NIKON_SLOW)
    monkeypatch.setattr(services, "receive_photo", receive)
    db = get_session()
    db.expire_all()
    job = db.exec(select(BulkImport)).one()
    assert (job.status, job.processed) == (BulkImportStatus.RUNNING, 2)  # as the killed process left it
    assert runner.invoke(args=["evidence", "verify"]).exit_code == 0  # its heartbeat is recent: still alive

    job.heartbeat_at = utcnow() - timedelta(minutes=16)  # a quarter of an hour without a sign of life
    db.commit()
    verify = runner.invoke(args=["evidence", "verify"])
    assert verify.exit_code == 1
    assert f"bulk import {job.id} is marked running but its process has died" in verify.output
    page = html.unescape(expert.get(f"/bulk/{job.id}").get_data(as_text=True))
    assert "No sign of life for more than 15 minutes" in page and "Retry" in page
    clean = runner.invoke(args=["evidence", "clean"])
    assert f"marked failed (retryable): bulk import {job.id}" in clean.output
    page = html.unescape(expert.get(f"/bulk/{job.id}").get_data(as_text=True))
    assert "The import stopped after 2 of 6 files: the process running it ended" in page
    assert "Retry" in page

    response = expert.post(f"/bulk/{job.id}/retry")
    assert response.status_code == 302
    db.expire_all()
    job = db.get(BulkImport, job.id)
    assert (job.status, job.accepted, job.duplicates, job.skipped) == (BulkImportStatus.DONE, 6, 0, [])
    assert len(db.exec(select(PhotoReceipt)).all()) == 6  # the two received before the crash, not twice
    assert sequence_names(job) == TRUE_ORDER
    assert not bulk.staging_dir(job.id).exists()
    assert "Retry" not in expert.get(f"/bulk/{job.id}").get_data(as_text=True)
    assert runner.invoke(args=["evidence", "verify"]).exit_code == 0


@pytest.mark.parametrize("method, path", [("get", "/bulk/{id}"), ("get", "/bulk/{id}/status.json"),
                                          ("post", "/bulk/{id}/split"), ("post", "/bulk/{id}/clocks")])
def test_an_import_is_hidden_from_other_panels_and_other_experts_but_not_from_the_coordinator(world, case, day,
                                                                                              method, path):
    job = run_import(world.client("expert"), case, [("day1.zip", make_zip({"a.jpg": day["cameraA/IMG_0001.JPG"]}))])
    url = path.format(id=job.id)
    other_expert, _ = make_member(world.panel, "expert")
    assert getattr(world.client(user=world.outsider), method)(url).status_code == 404
    assert getattr(world.client(user=other_expert), method)(url).status_code == 404
    assert getattr(world.client("viewer"), method)(url).status_code == 403
    if method == "get":
        assert world.client("coordinator").get(url).status_code == 200
        assert world.client("admin").get(url).status_code == 200
    assert world.client(user=world.outsider).get(f"/cases/{case.id}/photos/bulk").status_code == 404


def test_the_import_page_lists_earlier_imports_of_the_case(world, case, day):
    expert = world.client("expert")
    job = run_import(expert, case, [("day1.zip", make_zip({"a.jpg": day["cameraA/IMG_0001.JPG"]}))])
    page = expert.get(f"/cases/{case.id}/photos/bulk").get_data(as_text=True)
    assert f'href="/bulk/{job.id}"' in page and 'webkitdirectory' in page


# ------------------------------------------------------------------ on a real queue


from tests.factories import REDIS_URL  # noqa: E402
from tests.factories import redis_or_skip as _redis_or_skip  # noqa: E402


@pytest.mark.app_config(REDIS_URL=REDIS_URL, BULK_IMPORT_SYNC=False)
def test_with_redis_the_import_is_queued_and_a_worker_process_runs_it(world, case, day):
    from rq import Queue, SimpleWorker

    connection = _redis_or_skip()
    name = world.app.config["JOBS_QUEUE"] = f"pt-test-{uuid.uuid4().hex[:12]}"  # this test's queue only
    queue = Queue(name, connection=connection)
    job_ids: set[str] = set()
    try:
        expert = world.client("expert")
        job = run_import(expert, case, [("day1.zip", make_zip(day))], clocks=NIKON_SLOW)
        assert job.status == BulkImportStatus.QUEUED and queue.count == 1
        assert expert.get(f"/bulk/{job.id}/status.json").get_json()["percent"] == 0
        (queued,) = queue.jobs
        job_ids.add(queued.id)
        assert queued.args[1].get("DATABASE_URL") == world.app.config["DATABASE_URL"]  # no password in it to hide
        assert "SECRET_KEY" not in queued.args[1]

        assert SimpleWorker([queue], connection=connection).work(burst=True)  # builds its own app, as a worker does
        db = get_session()
        db.expire_all()
        job = db.get(BulkImport, job.id)
        assert job.status == BulkImportStatus.DONE, job.error
        assert sequence_names(job) == TRUE_ORDER
        assert queue.finished_job_registry.get_job_ids() == [queued.id]
    finally:
        job_ids.update(queue.job_ids, queue.finished_job_registry.get_job_ids(),
                       queue.failed_job_registry.get_job_ids())
        for job_id in job_ids:
            connection.delete(f"rq:job:{job_id}", f"rq:results:{job_id}")
        queue.delete(delete_jobs=True)
        for key in connection.scan_iter(f"rq:*{name}*"):
            connection.delete(key)


@pytest.mark.app_config(BULK_IMPORT_SYNC=False)
def test_without_redis_the_import_runs_on_a_thread_of_the_web_process(world, case, day):
    import threading

    expert = world.client("expert")
    response = post_import(expert, case, [("day1.zip", make_zip(day))], clocks=NIKON_SLOW)
    assert response.status_code == 303  # the request does not wait for the photos
    for thread in threading.enumerate():
        if thread.name.startswith("job run_bulk_import"):
            thread.join(timeout=120)
    status = expert.get(response.headers["Location"] + "/status.json").get_json()
    assert (status["status"], status["percent"], status["accepted"]) == ("done", 100, 6)


def test_the_worker_command_needs_redis_and_says_so(app):
    from panel_tracker.jobs import jobs_cli

    result = app.test_cli_runner().invoke(jobs_cli, ["--burst"])
    assert result.exit_code == 2
    assert "REDIS_URL is not set" in result.output
