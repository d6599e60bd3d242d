"""Audit log: ``record()`` in the same transaction as every change, ``verify()`` the chain.

Every record is also handed to the after-commit change feed (``panel_tracker.changes``)."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlmodel import Session, select

from .. import changes as change_feed, registry, visibility
from ..auth.models import Role
from ..classification import Classification, coerce, may_see, most_restrictive
from ..db import bulk_insert, utcnow
from .models import GENESIS_HASH, AuditRecord

# Any fixed 64-bit number: the advisory lock that serialises appends on PostgreSQL.
_PG_AUDIT_LOCK = 0x5041_4E45_4C41_5544


_PLAIN = (str, int, float, bool, type(None))


def _jsonable(value):
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return value


def canonical(value) -> str:
    return json.dumps(_jsonable(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


HASHED_FIELDS = ("seq", "at", "panel_id", "actor_id", "actor", "action", "object_type", "object_id",
                 "object_label", "classification", "field_classes", "before", "after", "prev_hash")


def compute_hash(rec) -> str:
    """SHA-256 over every field but the hash itself; ``rec`` is a record or a dict of its fields."""
    get = rec.get if isinstance(rec, dict) else lambda name: getattr(rec, name)
    body = {name: get(name) for name in HASHED_FIELDS}
    body["at"] = _stamp(body["at"])
    body["classification"] = coerce(body["classification"]).value
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if _jsonable(before.get(k)) != _jsonable(after.get(k))]
    keys += [k for k in before if k not in after]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def _lock_chain_end(session: Session) -> None:
    """Serialise appends, so two writers never read the same end of the chain: an advisory
    lock on PostgreSQL; on SQLite a no-op write, which takes the database's write lock
    (waiting for the other writer) before the read."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK - (1 << 63)})
    else:
        session.execute(sa.text("UPDATE audit_record SET seq = seq WHERE 0"))


def record(
    session: Session,
    action: str,
    *,
    actor=None,
    panel_id: int | None = None,
    obj=None,
    object_type: str | None = None,
    object_id: int | None = None,
    label: str = "",
    before: dict | None = None,
    after: dict | None = None,
    classification=Classification.PUBLIC,
    field_classes: dict | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction and flush it.

    ``actor`` defaults to the user of the request (or "system" from the CLI).
    """
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
        if panel_id is None:
            panel_id = obj.id if object_type == "panel" else getattr(obj, "panel_id", None)
    (row,) = _chain(session, [{
        "action": action, "panel_id": panel_id, "object_type": object_type or "", "object_id": object_id,
        "label": label, "before": before, "after": after, "classification": classification,
        "field_classes": field_classes,
    }], actor)
    rec = AuditRecord(**row)
    session.add(rec)
    session.flush()
    change_feed.collect(session, [row])
    return rec


def record_many(session: Session, entries: list[dict], *, actor=None) -> int:
    """Append many records at once (bulk imports): one lock, one read of the chain's end.

    Each entry takes the keyword arguments of :func:`record` (object_type and object_id
    given explicitly).
    """
    if not entries:
        return 0
    rows = _chain(session, entries, actor)
    bulk_insert(session.connection(), AuditRecord.__table__, rows)
    change_feed.collect(session, rows)
    return len(rows)


def _chain(session: Session, entries: list[dict], actor) -> list[dict]:
    """The rows for ``entries``, numbered and hashed after the chain's current end (locked)."""
    if actor is None:
        actor = _current_actor()
    session.flush()
    _lock_chain_end(session)
    last = session.exec(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    at = utcnow()
    actor_id = getattr(actor, "id", None)
    actor_label = getattr(actor, "email", None) or (actor if isinstance(actor, str) else "system")
    rows = []
    for entry in entries:
        seq += 1
        row = {
            "seq": seq, "at": at, "panel_id": entry.get("panel_id"), "actor_id": actor_id, "actor": actor_label,
            "action": entry["action"], "object_type": entry.get("object_type") or "",
            "object_id": entry.get("object_id"), "object_label": (entry.get("label") or "")[:255],
            "classification": coerce(entry.get("classification") or Classification.PUBLIC),
            "field_classes": canonical(entry.get("field_classes") or {}),
            "before": canonical(entry.get("before") or {}), "after": canonical(entry.get("after") or {}),
            "prev_hash": prev,
        }
        row["hash"] = prev = compute_hash(row)
        rows.append(row)
    return rows


def _current_actor():
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user._get_current_object()
    return "system"


@dataclass
class ChainBreak:
    seq: int
    reason: str


def verify(session: Session, batch: int = 5000) -> tuple[int, ChainBreak | None]:
    """Re-hash the whole chain in order; return (records checked, first break or None)."""
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    last_seq = 0
    while True:
        rows = session.exec(
            select(AuditRecord).where(AuditRecord.seq > last_seq).order_by(AuditRecord.seq).limit(batch)
        ).all()
        if not rows:
            return checked, None
        for rec in rows:
            if rec.seq != expected_seq:
                return checked, ChainBreak(expected_seq, f"record {expected_seq} is missing (next is {rec.seq})")
            if rec.prev_hash != prev_hash:
                return checked, ChainBreak(rec.seq, "prev_hash does not match the previous record")
            if compute_hash(rec) != rec.hash:
                return checked, ChainBreak(rec.seq, "content does not match its hash (record edited)")
            prev_hash, expected_seq, last_seq = rec.hash, rec.seq + 1, rec.seq
            checked += 1
        session.expunge_all()


# ------------------------------------------------------------------ anchors
#
# The chain alone proves that no record was edited in place; it cannot prove that the
# newest records were not deleted, nor that the whole chain was not recomputed by someone
# with write access to the database. An anchor can: a line naming the chain's head
# (sequence, hash, time) signed with HMAC-SHA256 under a key kept outside the database,
# written down or e-mailed away from the server. ``verify_anchor`` then proves the chain
# still holds that record with that very hash.

ANCHOR_PREFIX = "panel-tracker-audit-anchor v1"
ANCHOR_KEY_FILE = "audit_anchor.key"


class AnchorError(ValueError):
    """An anchor line that cannot be read or whose signature does not hold."""


def anchor_key(config: dict, instance_path: str) -> bytes:
    """``AUDIT_ANCHOR_KEY`` (``PANEL_TRACKER_AUDIT_ANCHOR_KEY``), else the file
    ``instance/audit_anchor.key``, created with 32 random bytes (mode 0600) on first use."""
    if config.get("AUDIT_ANCHOR_KEY"):
        return str(config["AUDIT_ANCHOR_KEY"]).encode("utf-8")
    path = Path(instance_path) / ANCHOR_KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip().encode("utf-8")


def _anchor_mac(key: bytes, seq: int, record_hash: str, at: str) -> str:
    return hmac.new(key, f"{ANCHOR_PREFIX}|{seq}|{record_hash}|{at}".encode(), hashlib.sha256).hexdigest()


def make_anchor(session: Session, key: bytes) -> str | None:
    """The signed head of the chain as one line, or None when the chain is empty."""
    last = session.exec(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
    if last is None:
        return None
    at = _stamp(utcnow())[:19] + "Z"
    return f"{ANCHOR_PREFIX} seq={last.seq} hash={last.hash} at={at} mac={_anchor_mac(key, last.seq, last.hash, at)}"


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str


def parse_anchor(line: str, key: bytes) -> Anchor:
    """The anchor a line holds, its signature checked; AnchorError says what is wrong."""
    line = line.strip()
    if not line.startswith(ANCHOR_PREFIX + " "):
        raise AnchorError(f"not an anchor line (it starts {ANCHOR_PREFIX!r}): {line[:60]!r}")
    fields = dict(part.partition("=")[::2] for part in line[len(ANCHOR_PREFIX) + 1:].split())
    try:
        anchor = Anchor(int(fields["seq"]), fields["hash"], fields["at"])
        mac = fields["mac"]
    except (KeyError, ValueError):
        raise AnchorError(f"an anchor line needs seq=, hash=, at= and mac=: {line[:60]!r}") from None
    if not hmac.compare_digest(mac, _anchor_mac(key, anchor.seq, anchor.hash, anchor.at)):
        raise AnchorError(f"the anchor of record {anchor.seq} ({anchor.at}) does not carry a valid signature "
                          "under this key: the line was altered, or the key is not the one that signed it")
    return anchor


def verify_anchor(session: Session, anchor: Anchor) -> str | None:
    """None when the chain still holds record ``anchor.seq`` with ``anchor.hash``; else what is wrong."""
    rec = session.exec(select(AuditRecord).where(AuditRecord.seq == anchor.seq)).first()
    if rec is None:
        last = session.exec(select(sa.func.max(AuditRecord.seq))).one() or 0
        return (f"record {anchor.seq}, anchored at {anchor.at}, is gone: the chain now ends at record {last} "
                "(records were deleted)")
    if rec.hash != anchor.hash:
        return (f"record {anchor.seq} no longer has the hash anchored at {anchor.at}: the chain up to it "
                "was rewritten")
    return None


MASK = "•••• (withheld)"


def masked_values(rec: AuditRecord, clearance: Classification, *, at_least=None,
                  fields_at_least: dict | None = None) -> tuple[dict, dict]:
    """before/after as this viewer may see them: values above their clearance are masked.

    ``at_least`` and ``fields_at_least`` raise the record's and its fields' classification
    to what the object is classified now, when that is stricter than when it was written.
    """
    before, after = json.loads(rec.before), json.loads(rec.after)
    if not may_see(clearance, most_restrictive(rec.classification, at_least)):
        return {k: MASK for k in before}, {k: MASK for k in after}
    classes = json.loads(rec.field_classes or "{}")
    for name, level in (fields_at_least or {}).items():
        classes[name] = most_restrictive(classes.get(name), level).value
    for name, level in classes.items():
        if not may_see(clearance, level):
            if name in before:
                before[name] = MASK
            if name in after:
                after[name] = MASK
    return before, after


def init_app(app) -> None:
    """The audit page, ``panel-tracker audit``, and the navigation entry for coordinators."""
    # Here, not at the top: both modules import this package's functions.
    from .cli import audit_cli
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(audit_cli)
    registry.add_nav(app, "Audit log", "audit.index", role=Role.COORDINATOR, order=70)


def masked(db, rec: AuditRecord, reader: visibility.Reader, levels=None) -> tuple[dict, dict]:
    """A record's before/after as ``reader`` may see them (:func:`masked_values`), raised to
    how its object is classified today (:func:`visibility.current_levels`, or ``levels``
    when the caller has them already) when stricter."""
    at_least, fields = levels or visibility.current_levels(db, rec.object_type, rec.object_id)
    return masked_values(rec, reader.clearance, at_least=at_least, fields_at_least=fields)
