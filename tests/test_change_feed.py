"""The after-commit change feed: what subscribers (search index, purged bytes) see."""
from __future__ import annotations

import io

import pytest
from sqlmodel import select

from panel_tracker import changes
from panel_tracker.cases import services
from panel_tracker.cases.importer import import_items
from panel_tracker.cases.models import Case, Item
from panel_tracker.db import get_session
from panel_tracker.evidence.models import Photo
from panel_tracker.evidence.services import photo_store, purge_photo, receive_photo
from tests.conftest import SAMPLE
from tests.imagefactory import photographic_jpeg


@pytest.fixture
def feed(app):
    """Every delivery the app's subscribers get, one list per commit."""
    deliveries: list[list[changes.Change]] = []
    changes.subscribe(app, deliveries.append)
    return deliveries


def _case(db, world, ref="YEM-2024-017"):
    return services.create_case(db, world.panel, {"ref": ref}, world.users["expert"])


def test_a_committed_change_is_delivered_once_after_the_commit(world, db, feed):
    case = _case(db, world)
    assert feed == []  # nothing before the commit
    db.commit()
    assert feed == [[changes.Change("case_file", case.id, "case.create", world.panel.id)]]
    db.commit()  # nothing new: nothing delivered again
    assert len(feed) == 1


def test_a_change_made_through_a_page_reaches_the_subscriber(world, feed):
    expert = world.client("expert")  # logging in is recorded (and delivered) too
    feed.clear()
    expert.post("/cases/new", data={"ref": "YEM-2024-018", "status": "open"})
    case = get_session().exec(select(Case)).one()
    assert [[(c.kind, c.id, c.action) for c in d] for d in feed] == [[("case_file", case.id, "case.create")]]


def test_a_rolled_back_change_is_never_delivered(world, db, feed):
    _case(db, world)
    db.rollback()
    db.commit()
    assert feed == []


def test_a_rolled_back_savepoint_drops_only_what_was_recorded_inside_it(world, db, feed):
    kept = _case(db, world, "YEM-2024-001")
    savepoint = db.begin_nested()
    _case(db, world, "YEM-2024-002")
    savepoint.rollback()
    db.commit()
    assert [(c.id, c.action) for c in feed[0]] == [(kept.id, "case.create")]


def test_a_bulk_item_import_delivers_every_item_and_case(world, db, feed):
    report = import_items(db, world.panel, SAMPLE / "items.csv", actor="test")
    assert report.ok and feed == []
    db.commit()
    (delivered,) = feed
    created_items = {c.id for c in delivered if c.action == "item.create"}
    assert created_items == set(db.exec(select(Item.id)).all()) and len(created_items) == 60
    assert {c.id for c in delivered if c.action == "case.create"} == set(db.exec(select(Case.id)).all())


def test_a_reclassified_case_names_the_children_whose_visibility_changed(world, db, feed, tmp_path):
    case = _case(db, world)
    item = services.create_item(db, case, {"category": "small_arm", "type": "rifle", "quantity": 1}, "test")
    marking = services.add_marking(db, item, {"text": "24017731", "kind": "serial"}, "test")
    jpeg = photographic_jpeg(tmp_path / "a.jpg", 320, 240).read_bytes()
    photo = receive_photo(db, world.panel, io.BytesIO(jpeg), filename="a.jpg", actor="test", case_id=case.id,
                          item_id=item.id).photo
    db.commit()
    feed.clear()
    services.reclassify(db, case, "committee", "test")
    services.soft_delete(db, item, "test", "entered twice")
    db.commit()
    by_action = {c.action: c for c in feed[0]}
    assert set(by_action["case.classify"].affects) == {("item", item.id), ("marking", marking.id),
                                                       ("photo", photo.id)}
    assert set(by_action["item.delete"].affects) == {("marking", marking.id), ("photo", photo.id)}


def test_a_purge_rolled_back_keeps_the_bytes_and_a_committed_one_destroys_them(world, db, tmp_path):
    case = _case(db, world)
    jpeg = photographic_jpeg(tmp_path / "a.jpg", 320, 240).read_bytes()
    photo = receive_photo(db, world.panel, io.BytesIO(jpeg), filename="a.jpg", actor="test", case_id=case.id).photo
    db.commit()
    store, admin = photo_store(), world.users["admin"]
    original, thumb = store.original_path("YEM", photo.sha256), store.derivative_path("YEM", photo.sha256, "thumb")

    purge_photo(db, photo, world.panel, admin, "personal data in the frame")
    assert original.exists()  # nothing destroyed inside the transaction
    db.rollback()
    assert original.read_bytes() == jpeg and thumb.exists()
    assert db.get(Photo, photo.id).purged_at is None

    purge_photo(db, db.get(Photo, photo.id), world.panel, admin, "personal data in the frame")
    db.commit()
    assert not original.exists() and not thumb.exists()
