"""Print derivatives are made when photos land on items or in an annex's blocks, not at
build time (panel_tracker/annexes/prints.py): after an upload, a box on a marking or a new
figure, a build of any edition finds every photo it prints already made and writes none;
a purged photo keeps none; ``annex prepare-prints`` fills in photos from before.

The suite turns the feature off (tests/conftest.py); this module turns it on."""
from __future__ import annotations

import io
import re
import threading
from datetime import date

import pytest
from PIL import Image
from sqlmodel import select

from panel_tracker.annexes import images, prints, services
from panel_tracker.annexes.blocks import image_box_mm
from panel_tracker.annexes.models import AnnexBuild, BuildState
from panel_tracker.auth.models import Panel
from panel_tracker.cases import services as cases
from panel_tracker.classification import Classification
from panel_tracker.db import get_session
from panel_tracker.evidence.models import Photo
from panel_tracker.evidence.services import photo_store, purge_photo, receive_photo
from panel_tracker.jobs import run_in_app
from tests.imagefactory import photographic_jpeg

pytestmark = pytest.mark.app_config(ANNEX_PRINTS_AHEAD=True, ANNEX_BUILD_SYNC=True)


def _prints() -> dict[str, int]:
    """Every print derivative of the panel YEM: its name and when it was written."""
    root = photo_store().root / "print" / "YEM"
    return {p.name: p.stat().st_mtime_ns for p in root.rglob("*.jpg")} if root.exists() else {}


def _wait_for_jobs() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("job make_prints"):
            thread.join(120)


def _expected(photo: Photo, count: int, *, sheet: bool = True) -> str:
    """The name a build gives ``photo``'s derivative in a figure of ``count`` photos, no boxes."""
    width, height = images.fit_mm(photo.width, photo.height, image_box_mm(count, sheet=sheet))
    return f"{photo.sha256}-{images.px(width)}x{images.px(height)}.jpg"


def _public_case(world, title="Seizure at sea"):
    db = get_session()
    case = cases.create_case(db, world.panel, {"ref": "YEM-2025-001", "title": title}, None)
    case.classification = Classification.PUBLIC
    item = cases.create_item(db, case, {"category": "small_arm", "type": "assault rifle", "model": "Type 56-1",
                                        "serial": "24017731", "serial_legibility": "intact", "quantity": 1}, None)
    item.classification = Classification.PUBLIC
    db.add_all([case, item])
    db.commit()
    return case, item


def _receive(world, tmp_path, item, seed, level=Classification.PUBLIC) -> Photo:
    db = get_session()
    path = photographic_jpeg(tmp_path / f"p{seed}.jpg", 900, 600 + 20 * seed, seed=seed)
    with open(path, "rb") as f:
        photo = receive_photo(db, world.panel, f, filename=f"IMG_{seed}.JPG", actor=None, case_id=item.case_id,
                              item_id=item.id, caption=f"Photo {seed}").photo
    photo.classification = level
    db.add(photo)
    db.commit()
    return photo


def _quick_builds(world, case) -> list[AnnexBuild]:
    expert = world.client("expert")
    for edition in ("public", "committee", "panel"):
        for fmt in ("pdf", "docx"):
            response = expert.post(f"/reports/cases/{case.id}/builds", data={"edition": edition, "format": fmt})
            assert response.status_code == 302
    built = get_session().exec(select(AnnexBuild).where(AnnexBuild.case_id == case.id)).all()
    assert [b.state for b in built] == [BuildState.DONE] * 6, [b.error for b in built]
    return built


def test_photos_uploaded_to_an_item_are_ready_before_any_build_of_any_edition(world, tmp_path):
    case, item = _public_case(world)
    expert = world.client("expert")
    files = [(io.BytesIO(photographic_jpeg(tmp_path / f"u{n}.jpg", 800, 600 + 40 * n, seed=n).read_bytes()),
              f"IMG_{n}.JPG") for n in (1, 2)]
    response = expert.post(f"/cases/{case.id}/photos/upload", content_type="multipart/form-data",
                           data={"files": files, "source": "Panel inspection", "is_original": "yes",
                                 "item_id": str(item.id)})
    assert response.status_code in (200, 302)
    _wait_for_jobs()  # in a request the work is a background job (a thread without Redis)

    photos = get_session().exec(select(Photo).where(Photo.item_id == item.id).order_by(Photo.id)).all()
    assert len(photos) == 2
    made = _prints()
    # Each photo as a two-photo item sheet prints it, at about 200 dpi of its printed width.
    for photo in photos:
        assert _expected(photo, 2) in made
        with Image.open(photo_store().root / "print" / "YEM" / photo.sha256[:2] / _expected(photo, 2)) as im:
            assert im.size == tuple(int(v) for v in re.search(r"-(\d+)x(\d+)\.jpg$", _expected(photo, 2)).groups())

    _quick_builds(world, case)
    assert _prints() == made  # no build made or rewrote a derivative: every one was ready


def test_a_marking_boxed_on_a_photo_is_drawn_ahead_and_an_edition_that_may_not_see_it_gets_the_plain_one(
        world, tmp_path):
    case, item = _public_case(world)
    photo = _receive(world, tmp_path, item, 1)  # outside a request: made after the commit, in place
    assert _expected(photo, 1) in _prints()
    other = _receive(world, tmp_path, item, 2)
    assert {_expected(photo, 2), _expected(other, 2)} <= set(_prints())

    # A marking of a panel-only item, boxed on the public item's photo: only the panel sees the box.
    db = get_session()
    hidden = cases.create_item(db, db.get(type(case), case.id), {"category": "component", "type": "receiver cover",
                                                                 "quantity": 1}, None)
    hidden.classification = Classification.PANEL
    db.add(hidden)
    marking = cases.add_marking(db, hidden, {"text": "ZX11-210371", "kind": "serial", "location": "cover"}, None)
    cases.link_marking_photo(db, marking, db.get(Photo, photo.id), (0.1, 0.2, 0.3, 0.2), None)
    db.commit()
    made = _prints()
    boxed = {name.split("-b")[0] for name in made if name.startswith(f"{photo.sha256}-") and "-b" in name}
    # The panel edition's, box drawn: on the item's sheet (two photos) and the panel item's (one).
    assert boxed == {_expected(photo, 2).removesuffix(".jpg"), _expected(photo, 1).removesuffix(".jpg")}
    assert _expected(photo, 2) in made  # the public and committee editions', without the panel's box

    _quick_builds(world, case)
    assert _prints() == made


def test_a_figure_added_to_an_annex_has_its_photos_made_at_the_figures_size(world, tmp_path):
    case, item = _public_case(world)
    first, second = _receive(world, tmp_path, item, 1), _receive(world, tmp_path, item, 2)
    db = get_session()
    report = services.create_report(db, world.panel, {"kind": "final", "title": "Final report 2025",
                                                      "cut_off": date(2025, 6, 30)}, None)
    annex = services.add_annex(db, report, {"title": "Rifles", "classification": "public"}, None)
    services.add_block(db, report, annex, {"kind": "photo_figure", "caption": "The receiver",
                                           "settings": {"photo_ids": [first.id, second.id]},
                                           "classification": "public"}, None)
    db.commit()
    made = _prints()
    assert {_expected(first, 2, sheet=False), _expected(second, 2, sheet=False)} <= set(made)

    expert = world.client("expert")
    response = expert.post(f"/reports/{report.id}/builds", data={"edition": "public", "format": "pdf",
                                                                 "annex": str(annex.id)})
    assert response.status_code == 302
    build = get_session().exec(select(AnnexBuild).where(AnnexBuild.report_id == report.id)).one()
    assert build.state == BuildState.DONE, build.error
    assert _prints() == made


@pytest.mark.app_config(ANNEX_PRINTS_AHEAD=False)
def test_a_photo_purged_while_its_derivatives_were_being_made_keeps_none(world, tmp_path, monkeypatch):
    case, item = _public_case(world)
    purged, kept = _receive(world, tmp_path, item, 1), _receive(world, tmp_path, item, 2)
    # The job has decoded the photo; the purge commits and its clean-up of the store runs
    # (the original and every derivative go); then the job writes the print derivative.
    encode, purged_once = images.encode, threading.Lock()

    def purge_then_encode(im):
        if purged_once.acquire(blocking=False):
            with world.app.app_context():
                db = get_session()
                purge_photo(db, db.get(Photo, purged.id), db.get(Panel, world.panel.id), None, "Identifies a witness")
                db.commit()
        return encode(im)

    monkeypatch.setattr(images, "encode", purge_then_encode)
    monkeypatch.setattr(prints.pdf, "IMAGE_THREADS", 1)  # the kept photo after the purged one
    run_in_app(world.app, prints.JOB, world.panel.id, [item.id], [])
    names = _prints()
    assert not any(name.startswith(purged.sha256) for name in names)
    assert _expected(kept, 2) in names


@pytest.mark.app_config(ANNEX_PRINTS_AHEAD=False)
def test_prepare_prints_makes_the_derivatives_of_photos_from_before(world, tmp_path, runner):
    case, item = _public_case(world)
    photos = [_receive(world, tmp_path, item, n) for n in (1, 2)]
    assert _prints() == {}  # turned off: nothing made on upload

    result = runner.invoke(args=["annex", "prepare-prints", "--panel", "yem"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^made 2 print derivatives for 1 items and 0 blocks$", result.stdout, re.M), result.stdout
    assert {_expected(photo, 2) for photo in photos} == set(_prints())

    again = runner.invoke(args=["annex", "prepare-prints", "--panel", "YEM"])
    assert "made 0 print derivatives for 1 items and 0 blocks" in again.stdout

    unknown = runner.invoke(args=["annex", "prepare-prints", "--panel", "XXX"])
    assert unknown.exit_code == 2 and "no panel with code 'XXX'" in unknown.output
