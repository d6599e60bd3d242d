"""The after-commit change feed: derived data follows what the database committed.

Every audit record (``audit.record`` and the bulk ``audit.record_many``) is also a
:class:`Change` — its kind (the object's table, as the audit log's ``object_type``:
``case_file``, ``item``, ``marking``, ``photo``…), id, action and panel. Changes are
collected on the SQLAlchemy session during the transaction and handed to subscribers
only once it has committed, each exactly once; a rollback (or a session closed without
commit) drops them, and a rolled-back savepoint drops those recorded inside it.

A domain subscribes in its ``init_app``::

    changes.subscribe(app, destroy_purged_bytes, actions={"photo.purge"})

``callback(changes)`` gets the list of one transaction's changes it asked for (all when
``actions`` is None). It runs after the commit, so the session that committed cannot
emit SQL any more: a subscriber that reads the database opens its own short session
(``Session(get_engine())``) and sees the committed state. A subscriber that fails is
logged; the commit stands.

**Visibility.** A case or item (or anything else a domain declares children for) that is
reclassified or deleted changes what may be seen of everything under it. Such a change
carries ``affects``: the ``(kind, id)`` of those children, looked up just before the
commit by the finders domains register with :func:`add_children` (a case names its
inspections, items, markings and photos; an item its markings and photos). A search
indexer re-indexes ``(change.kind, change.id)`` and every pair in ``change.affects``.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

EXTENSION_KEY = "panel_tracker.changes"
_PENDING = "panel_tracker.changes.pending"
_FEED = "panel_tracker.changes.feed"
_SAVEPOINTS = "panel_tracker.changes.savepoints"
_COMMITTED = "panel_tracker.changes.committed"

#: Actions (after the dot) that change who may see an object's children.
VISIBILITY_ACTIONS = ("classify", "delete")


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    id: int | None
    action: str
    panel_id: int | None
    affects: tuple[tuple[str, int], ...] = ()


Callback = Callable[[list[Change]], None]
#: ``finder(session, ids)`` -> {id: [(kind, id), …]} for objects of one kind.
ChildFinder = Callable[[Session, list[int]], dict[int, list[tuple[str, int]]]]


@dataclass
class _Feed:
    subscribers: list[tuple[Callback, frozenset[str] | None]] = field(default_factory=list)
    children: dict[str, list[ChildFinder]] = field(default_factory=dict)

    def wants(self, action: str) -> bool:
        return any(actions is None or action in actions for _, actions in self.subscribers)


def _feed(app) -> _Feed:
    return app.extensions.setdefault(EXTENSION_KEY, _Feed())


def subscribe(app, callback: Callback, *, actions: Collection[str] | None = None) -> None:
    """Call ``callback(changes)`` after each commit that recorded changes it wants."""
    _feed(app).subscribers.append((callback, frozenset(actions) if actions is not None else None))


def add_children(app, kind: str, finder: ChildFinder) -> None:
    """Declare how to find the children of objects of ``kind`` whose visibility follows theirs."""
    _feed(app).children.setdefault(kind, []).append(finder)


def by_parent(kind: str, pairs: Iterable[tuple[int, int]]) -> dict[int, list[tuple[str, int]]]:
    """``(parent id, child id)`` pairs as a finder returns them: {parent id: [(kind, child id), …]}."""
    found: dict[int, list[tuple[str, int]]] = {}
    for parent_id, child_id in pairs:
        found.setdefault(parent_id, []).append((kind, child_id))
    return found


def collect(session: Session, rows: Iterable[dict]) -> None:
    """Called by the audit log for the records it has just written in ``session``."""
    if not has_app_context():
        return
    feed = _feed(current_app)
    if not feed.subscribers:
        return
    pending = session.info.setdefault(_PENDING, [])
    session.info[_FEED] = feed
    pending.extend(Change(row["object_type"] or "", row["object_id"], row["action"], row["panel_id"])
                   for row in rows if feed.wants(row["action"]))


# ------------------------------------------------------------------ session events


@event.listens_for(Session, "before_commit")
def _name_affected_children(session: Session) -> None:
    if session.in_nested_transaction():
        return
    pending, feed = session.info.get(_PENDING), session.info.get(_FEED)
    if not pending or not feed.children:
        return
    wanted: dict[str, set[int]] = {}
    for change in pending:
        if change.kind in feed.children and change.action.rpartition(".")[2] in VISIBILITY_ACTIONS:
            wanted.setdefault(change.kind, set()).add(change.id)
    if not wanted:
        return
    found: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for kind, ids in wanted.items():
        for finder in feed.children[kind]:
            for object_id, children in finder(session, sorted(ids)).items():
                found.setdefault((kind, object_id), []).extend(children)
    pending[:] = [dataclasses.replace(c, affects=tuple(found.get((c.kind, c.id), ())))
                  if (c.kind, c.id) in found and c.action.rpartition(".")[2] in VISIBILITY_ACTIONS else c
                  for c in pending]


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    pending, feed = session.info.pop(_PENDING, None), session.info.pop(_FEED, None)
    session.info.pop(_SAVEPOINTS, None)
    if pending:
        session.info[_COMMITTED] = (pending, feed)  # delivered once the connection is back in the pool


def _deliver(pending: list[Change], feed: _Feed) -> None:
    for callback, actions in feed.subscribers:
        mine = pending if actions is None else [c for c in pending if c.action in actions]
        if not mine:
            continue
        try:
            callback(mine)
        except Exception:  # the commit stands; say loudly what did not follow it
            log.exception("change-feed subscriber %r failed on %d change(s)", callback, len(mine))


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction) -> None:
    if transaction.nested and session.info.get(_PENDING):
        session.info.setdefault(_SAVEPOINTS, {})[transaction] = len(session.info[_PENDING])


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction) -> None:
    if previous_transaction.nested:
        mark = session.info.get(_SAVEPOINTS, {}).pop(previous_transaction, None)
        if session.info.get(_PENDING):
            del session.info[_PENDING][mark or 0:]
    else:
        _forget(session)


@event.listens_for(Session, "after_transaction_end")
def _end(session: Session, transaction) -> None:
    if transaction.parent is None and not transaction.nested:  # committed, rolled back or closed
        committed = session.info.pop(_COMMITTED, None)
        _forget(session)
        # Subscribers run once the transaction has ended and returned its connection: one
        # that waits (the search index's writer lock) holds no connection of the pool while
        # it waits, so twenty requests committing at once cannot starve the one writing.
        if committed is not None:
            _deliver(*committed)


def _forget(session: Session) -> None:
    for key in (_PENDING, _FEED, _SAVEPOINTS, _COMMITTED):
        session.info.pop(key, None)
