"""Audit anchors: a signed head of the chain, kept away from the database, catches what
re-hashing alone cannot — the newest records deleted, or the whole chain recomputed."""
from __future__ import annotations

import contextvars
import stat
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from panel_tracker import audit
from panel_tracker.audit.models import AuditRecord
from panel_tracker.auth.services import create_panel


def cli(runner, *args):
    return contextvars.Context().run(runner.invoke, args=list(args))


def _anchor(runner) -> str:
    result = cli(runner, "audit", "anchor")
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    return line


def _grow_chain(db, n=3):
    for code in ["CAF", "SDN", "SOM", "LBR"][:n]:
        create_panel(db, code, f"Panel {code}")
    db.commit()


def test_an_anchor_holds_on_an_intact_chain_that_grew_since(app, world, db, runner):
    line = _anchor(runner)
    assert line.startswith("panel-tracker-audit-anchor v1 seq=") and " mac=" in line
    _grow_chain(db)
    result = cli(runner, "audit", "verify", "--anchor", line, "--anchor", _anchor(runner))
    assert result.exit_code == 0, result.output
    assert "audit chain intact" in result.output and "2 anchor(s) hold" in result.output


def test_deleting_the_newest_records_is_caught_by_an_anchor(app, world, db, database, runner):
    _grow_chain(db)
    line = _anchor(runner)
    newest = db.exec(select(sa.func.max(AuditRecord.seq))).one()
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE seq > :s"), {"s": newest - 2})
    assert cli(runner, "audit", "verify").exit_code == 0  # re-hashing alone sees nothing wrong
    result = cli(runner, "audit", "verify", "--anchor", line)
    assert result.exit_code == 1
    assert f"record {newest}" in result.output and "records were deleted" in result.output


def test_rewriting_the_whole_chain_consistently_is_caught_by_an_anchor(app, world, db, database, runner):
    line = _anchor(runner)
    # Someone with write access edits an early record and recomputes every hash after it.
    with database.engine.begin() as conn:
        conn.execute(sa.text("""UPDATE audit_record SET "after" = '{"role":"admin"}' WHERE seq = 2"""))
    table = AuditRecord.__table__
    with database.engine.begin() as conn:
        prev = None
        for row in conn.execute(sa.select(table).order_by(table.c.seq)).mappings().all():
            fields = dict(row, prev_hash=prev or row["prev_hash"])
            prev = audit.compute_hash(fields)
            conn.execute(sa.update(table).where(table.c.seq == row["seq"]).values(prev_hash=fields["prev_hash"],
                                                                                 hash=prev))
    db.expire_all()
    assert cli(runner, "audit", "verify").exit_code == 0  # the rewritten chain re-hashes fine
    result = cli(runner, "audit", "verify", "--anchor", line)
    assert result.exit_code == 1 and "was rewritten" in result.output


def test_an_altered_anchor_or_another_key_is_refused(app, world, runner):
    line = _anchor(runner)
    seq = int(line.split("seq=")[1].split()[0])
    forged = line.replace(f"seq={seq} ", f"seq={seq - 1} ")
    result = cli(runner, "audit", "verify", "--anchor", forged)
    assert result.exit_code == 1 and "valid signature" in result.output
    app.config["AUDIT_ANCHOR_KEY"] = "another key"
    assert cli(runner, "audit", "verify", "--anchor", line).exit_code == 1


def test_anchors_can_be_read_from_a_file_and_the_key_file_is_private(app, world, runner, tmp_path):
    line = _anchor(runner)
    key_file = tmp_path / "instance" / "audit_anchor.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(f"# weekly anchors of YEM\n\n{line}\n", encoding="utf-8")
    result = cli(runner, "audit", "verify", "--anchors", str(anchors))
    assert result.exit_code == 0 and "1 anchor(s) hold" in result.output
    anchors.write_text("not an anchor\n", encoding="utf-8")
    assert cli(runner, "audit", "verify", "--anchors", str(anchors)).exit_code == 1


def test_the_key_can_come_from_the_environment_setting(app, world, runner):
    app.config["AUDIT_ANCHOR_KEY"] = "kept-in-a-vault"
    line = _anchor(runner)
    assert cli(runner, "audit", "verify", "--anchor", line).exit_code == 0
    assert not Path(app.instance_path, "audit_anchor.key").exists()  # no key file when the setting gives one
