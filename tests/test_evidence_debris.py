"""An upload killed with SIGKILL half-way leaves debris; verify reports it and clean removes it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases.services import create_case
from panel_tracker.db import get_session, utcnow
from panel_tracker.evidence.bulk_models import BulkImport, BulkImportStatus
from panel_tracker.evidence.models import Photo
from panel_tracker.evidence.services import photo_store
from tests.conftest import make_test_app
from tests.imagefactory import photographic_jpeg

pytestmark = pytest.mark.app_config(EVIDENCE_DEBRIS_MINUTES=0)

# A web process receiving two uploads: the first is stored and its row flushed but not yet
# committed, the second is half-way through its bytes when the process is killed.
UPLOADER = textwrap.dedent("""
    import io, sys, time
    from sqlmodel import select
    from panel_tracker import create_app
    from panel_tracker.auth.models import Panel, User
    from panel_tracker.db import get_session
    from panel_tracker.evidence.services import receive_photo

    instance, url, user_id, case_id, first, second = sys.argv[1:]
    app = create_app({"ENV": "test", "INSTANCE_PATH": instance, "DATABASE_URL": url, "SECRET_KEY": "x",
                      "EVIDENCE_CLEAN_ON_START": False})

    class SlowUpload(io.RawIOBase):  # the network delivers half the file, then stalls
        def __init__(self, data):
            self.data, self.sent = data, 0
        def readable(self):
            return True
        def readinto(self, buffer):
            if self.sent >= len(self.data) // 2:
                print("half", flush=True)
                time.sleep(600)
            n = min(len(buffer), len(self.data) // 2 - self.sent, 4096)
            buffer[:n] = self.data[self.sent:self.sent + n]
            self.sent += n
            return n

    with app.app_context():
        db = get_session()
        panel = db.exec(select(Panel).where(Panel.code == "YEM")).one()
        actor = db.get(User, int(user_id))
        with open(first, "rb") as stream:
            receive_photo(db, panel, stream, filename="first.jpg", actor=actor, case_id=int(case_id))
        with open(second, "rb") as f:
            receive_photo(db, panel, SlowUpload(f.read()), filename="second.jpg", actor=actor, case_id=int(case_id))
""")


def test_an_upload_killed_half_way_leaves_debris_that_verify_reports_and_clean_removes(world, runner, tmp_path):
    db = get_session()
    case = create_case(db, world.panel, {"ref": "YEM-2024-017", "title": "Depot visit"}, world.users["expert"])
    db.commit()
    first = photographic_jpeg(tmp_path / "first.jpg", 640, 480, seed=1)
    second = photographic_jpeg(tmp_path / "second.jpg", 640, 480, seed=2)  # with GPS in its EXIF
    process = subprocess.Popen(
        [sys.executable, "-c", UPLOADER, world.app.instance_path, world.app.config["DATABASE_URL"],
         str(world.users["expert"].id), str(case.id), str(first), str(second)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "half"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL

    store = photo_store()
    (left_in_tmp,) = store.iter_tmp()
    assert second.read_bytes()[:1000] == left_in_tmp.read_bytes()[:1000]  # the GPS-bearing header, on disk
    db.expire_all()
    assert db.exec(select(Photo)).all() == []  # the first upload's row was never committed
    (original,) = [path for _code, _sha, path in store.iter_originals()]
    derivatives = [path for _code, _sha, path in store.iter_derivatives()]
    assert len(derivatives) == 2

    verify = runner.invoke(args=["evidence", "verify"])
    assert verify.exit_code == 1
    assert f"debris: upload left unfinished in the store's tmp: {left_in_tmp}" in verify.output
    assert f"debris: original with no photo row (an upload that never finished): {original}" in verify.output
    assert all(f"debris: derivative with no photo row: {path}" in verify.output for path in derivatives)

    dry = runner.invoke(args=["evidence", "clean", "--dry-run"])
    assert dry.exit_code == 0 and f"would remove upload left unfinished in the store's tmp: {left_in_tmp}" in dry.output
    assert left_in_tmp.exists() and original.exists()

    clean = runner.invoke(args=["evidence", "clean"])
    assert clean.exit_code == 0 and "4 piece(s) of debris cleaned" in clean.output
    assert f"removed original with no photo row (an upload that never finished): {original}" in clean.output
    assert not left_in_tmp.exists() and not original.exists() and not any(p.exists() for p in derivatives)
    after = runner.invoke(args=["evidence", "verify"])
    assert after.exit_code == 0, after.output
    assert "no debris" in after.output


@pytest.mark.app_config(EVIDENCE_DEBRIS_MINUTES=30)
def test_files_an_upload_is_writing_right_now_are_not_debris(world, runner):
    in_progress = photo_store().tmp_dir / "upload-now"
    in_progress.write_bytes(b"\xff\xd8 half a photo")
    result = runner.invoke(args=["evidence", "clean"])
    assert result.exit_code == 0 and in_progress.exists()


def test_the_next_start_marks_a_dead_import_failed_and_removes_old_leftovers(world, database, tmp_path):
    db = get_session()
    case = create_case(db, world.panel, {"ref": "YEM-2024-017", "title": "Depot visit"}, world.users["expert"])
    dead = BulkImport(panel_id=world.panel.id, case_id=case.id, created_by_id=world.users["expert"].id,
                      status=BulkImportStatus.RUNNING, total=6, processed=2, files=[{"name": "a.jpg", "staged": "1"}],
                      heartbeat_at=utcnow() - timedelta(minutes=20))
    done = BulkImport(panel_id=world.panel.id, case_id=case.id, status=BulkImportStatus.DONE)
    db.add_all([dead, done])
    db.commit()
    from panel_tracker.evidence.bulk import staging_dir

    for job in (dead, done):
        staging_dir(job.id).mkdir(parents=True)
        (staging_dir(job.id) / "00001").write_bytes(b"staged photo")
    left = photo_store().tmp_dir / "upload-killed"
    left.write_bytes(b"\xff\xd8 half a photo with GPS")

    restarted = make_test_app(database, tmp_path / "instance", EVIDENCE_DEBRIS_MINUTES=0)
    from panel_tracker.db import get_engine

    get_engine(restarted).dispose()
    db.expire_all()
    failed = db.get(BulkImport, dead.id)
    assert failed.status == BulkImportStatus.FAILED and "the process running it ended" in failed.error
    assert staging_dir(dead.id).is_dir()  # kept for Retry
    assert not staging_dir(done.id).exists() and not left.exists()
    record = db.exec(select(AuditRecord).where(AuditRecord.action == "bulk_import.fail")).one()
    assert record.actor == "system" and record.object_id == dead.id
