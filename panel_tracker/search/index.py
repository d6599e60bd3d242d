"""One Whoosh index per panel under ``instance/search/<PANEL_CODE>/``: opening it (a missing,
corrupt or outdated index is rebuilt from the database, with a log line), the one writer
at a time, rebuild and verify. Shaped after paperless-ngx's ``documents/index.py``.

The index is derived data: it is written after the database commit (see sync.py) and can
always be rebuilt (``panel-tracker search rebuild``).

Several web workers: every writer takes the panel's lock file (``<CODE>.lock``, flock),
so one writes at a time. A change that cannot get the lock quickly is appended to the
panel's queue file (``<CODE>.pending``); whoever holds the lock applies the queue before
releasing it, so nothing is lost while, say, a rebuild runs.
"""
from __future__ import annotations

import atexit
import fcntl
import gc
import os
import json
import logging
import shutil
import struct
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import md5
from itertools import accumulate
from pathlib import Path
from pickle import loads
from typing import Callable

from flask import current_app
from sqlmodel import Session
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3TermInfo

from ..auth.models import Panel
from . import documents, segments
from .schema import LEVELS, SCHEMA_VERSION, get_schema

log = logging.getLogger("panel_tracker.search")

LOCK_WAIT_SECONDS = 5.0  # a save waits this long for another writer, then queues its change
MERGE_ABOVE_SEGMENTS = 24  # small segments from saves are merged in the background above this
SMALL_SEGMENT_DOCS = 500  # a background merge merges every segment this small into one
# A writer waiting for the lock tries again this often: a save queued behind a background
# merge (a few milliseconds) should not sleep much past the merge's end.
LOCK_POLL_SECONDS = 0.002


_local = threading.local()


def _patch_whoosh_length_readers() -> None:
    """Whoosh 2.7 looks for a field-length column file on disk (a stat call) for every
    posting of a field that has none (our unscored term fields): 40% of a rebuild's time.
    Remember the absence instead. Same results, no stat per posting."""
    from whoosh.codec import whoosh3

    def _cached_reader(self, fieldname, column):
        if fieldname not in self._readers:
            self._readers[fieldname] = self.column_reader(fieldname, column) if self.has_column(fieldname) else None
        return self._readers[fieldname]

    whoosh3.W3PerDocReader._cached_reader = _cached_reader


_patch_whoosh_length_readers()


def _patch_whoosh_inline_postings() -> None:
    """Whoosh 2.7 can keep a short posting list inside its term's entry (no block in the
    postings file: no pickling, compressing and seeking per term), but the writer calls
    the term info's setter by a name it does not have, so the option was never usable.
    Give it that name. Read back for a merge, such a list gives a posting without a value
    as ``""`` where the writer wants bytes: give ``b""``."""
    from whoosh.codec.whoosh3 import W3TermInfo
    from whoosh.matching.mcore import ListMatcher

    if not hasattr(W3TermInfo, "set_inline"):
        W3TermInfo.set_inline = W3TermInfo.set_inlined
        value = ListMatcher.value
        ListMatcher.value = lambda self: value(self) if self._values else b""


_patch_whoosh_inline_postings()

# Posting lists of fewer documents than this are kept in their term's entry. Most of an
# index's terms are rare (a serial's own readings, deletions and windows): a rebuild
# writes a third faster and the index is a fifth smaller.
INLINE_POSTINGS = 64


def _codec():
    from whoosh.codec.whoosh3 import W3Codec

    return W3Codec(inlinelimit=INLINE_POSTINGS)


class IndexBusy(Exception):
    """Another writer holds the panel's index for longer than we may wait."""


def search_root(app=None) -> Path:
    app = app or current_app
    return Path(app.config.get("SEARCH_INDEX_PATH") or Path(app.instance_path) / "search")


def index_dir(panel_code: str, app=None) -> Path:
    return search_root(app) / panel_code


# ------------------------------------------------------------------ locking and the queue


@contextmanager
def panel_lock(panel_code: str, timeout: float | None = None, app=None, root: Path | None = None):
    """The panel's writer lock (flock on a file beside the index; held by one process and
    one thread at a time). ``timeout`` None waits for ever; else IndexBusy. ``root``: the
    folder of the indexes, where there is no app (a merge's process)."""
    root = Path(root) if root is not None else search_root(app)
    root.mkdir(parents=True, exist_ok=True)
    held = _local.__dict__.setdefault("locks", set())
    name = str(root / f"{panel_code}.lock")
    if name in held:  # this thread holds it already (a rebuild started by a writer)
        yield
        return
    with open(name, "a+") as handle:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (fcntl.LOCK_NB if deadline is not None else 0))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusy(panel_code) from None
                time.sleep(LOCK_POLL_SECONDS)
        held.add(name)
        try:
            yield
        finally:
            held.discard(name)
            fcntl.flock(handle, fcntl.LOCK_UN)


def enqueue(panel_code: str, changes: list[dict], app=None) -> None:
    root = search_root(app)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{panel_code}.pending", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write("".join(json.dumps(c) + "\n" for c in changes))
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)


def drain(panel_code: str, app=None) -> list[dict]:
    path = search_root(app) / f"{panel_code}.pending"
    if not path.exists():
        return []
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        lines = handle.read().splitlines()
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
    return [json.loads(line) for line in lines if line.strip()]


# ------------------------------------------------------------------ opening


def _version_file(directory: Path) -> Path:
    return directory / "panel_tracker_schema"


def index_state(panel_code: str, app=None) -> str:
    """``ok``, ``missing``, ``outdated`` or ``corrupt``."""
    directory = index_dir(panel_code, app)
    if not directory.exists() or not any(directory.glob("_MAIN_*.toc")):
        return "missing"
    version = _version_file(directory)
    if not version.exists() or version.read_text().strip() != str(SCHEMA_VERSION):
        return "outdated"
    with _quietly():
        try:
            ix = whoosh_index.open_dir(str(directory))
            with ix.searcher() as searcher:
                searcher.doc_count()
            ix.close()
        except Exception:  # noqa: BLE001 - any failure to read it means: rebuild
            _collect_quietly()
            return "corrupt"
    return "ok"


@contextmanager
def _quietly():
    """Whoosh leaves a file open when it fails to read a corrupt index: such a failure is
    handled inside this block, where the file is collected without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            yield
        except BaseException:
            gc.collect()
            raise


def _collect_quietly() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def open_index(panel: Panel, app=None):
    """The panel's index, rebuilt from the database first when missing, corrupt or of an
    older schema (each with a log line saying so)."""
    app = app or current_app._get_current_object()
    directory = index_dir(panel.code, app)
    problem = None
    with _quietly():
        try:
            if any(directory.glob("_MAIN_*.toc")) and _version_file(directory).exists() \
                    and _version_file(directory).read_text().strip() == str(SCHEMA_VERSION):
                return whoosh_index.open_dir(str(directory))
        except Exception as exc:  # noqa: BLE001
            problem = str(exc)
            del exc  # frees the files Whoosh left open, here, where their warnings are silenced
            _collect_quietly()
    if problem is not None:
        log.error("search index of panel %s is corrupt (%s): rebuilding it from the database", panel.code, problem)
        rebuild(panel, app=app)
        return whoosh_index.open_dir(str(directory))
    state = index_state(panel.code, app)
    log.warning("search index of panel %s is %s: rebuilding it from the database", panel.code, state)
    rebuild(panel, app=app)
    return whoosh_index.open_dir(str(directory))


def _create_empty(directory: Path):
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    ix = whoosh_index.create_in(str(directory), get_schema())
    _version_file(directory).write_text(str(SCHEMA_VERSION))
    return ix


def _engine(app):
    from ..db import get_engine

    return get_engine(app)


# ------------------------------------------------------------------ writing


def rebuild(panel: Panel, *, app=None, progress=None) -> int:
    """Write the panel's index afresh from the database, as one segment; returns the
    documents written. ``progress(done, total)`` is called as it goes. Queued changes are
    applied after.

    The panel's items are cut into parts by id, one a process (``SEARCH_REBUILD_PROCS``,
    from :data:`PARALLEL_FROM` items): this process makes the documents of the first
    (with the cases), new interpreters those of the others (reading their rows, making
    their documents and terms: most of the work), which it then adds after its own
    (:meth:`segments.SegmentBuilder.add_part`) and writes, all in one segment: a query
    looks each of its terms up once a segment, so one costs less than several."""
    app = app or current_app._get_current_object()
    directory = index_dir(panel.code, app)
    with panel_lock(panel.code, app=app):
        pending = drain(panel.code, app)  # the rebuild reads the database after them
        ix = whoosh_index.open_dir(str(directory)) if index_state(panel.code, app) == "ok" else None
        if ix is None:
            ix = _create_empty(directory)
        engine = _engine(app)
        with Session(engine) as db:
            ids = documents.item_ids(db, panel.id)
            total = documents.count_panel_documents(db, panel.id)
        procs = int(app.config.get("SEARCH_REBUILD_PROCS") or min(os.cpu_count() or 1, 4))
        parts = _parts(ids, procs if len(ids) >= PARALLEL_FROM else 1)
        writer = ix.writer(codec=_codec())  # Whoosh's write lock and the next generation
        try:
            with _collector_paused():
                segment, done = _write_segment(ix, engine, panel.id, parts, total, progress)
            writer._close_segment()  # its own segment stays empty: the rebuilt one replaces every old one
            writer._commit_toc([segment])
            writer._finish()
        except BaseException:
            writer.cancel()
            raise
        if progress:
            progress(done, total)
        _version_file(directory).write_text(str(SCHEMA_VERSION))
        ix.close()
        _forget(panel.code)
        if pending:
            log.info("search index of panel %s rebuilt; %d queued changes were already in the database",
                     panel.code, len(pending))
    return done


PARALLEL_FROM = 5000  # items: a smaller panel is rebuilt in this process alone


def _parts(ids: list[int], count: int) -> list[tuple[int, int | None]]:
    """``count`` runs of item ids of (nearly) equal length as ``(after_id, up_to_id)``;
    the last is open-ended (an item added since is not lost)."""
    count = max(1, min(count, len(ids)))
    bounds = [ids[len(ids) * n // count - 1] for n in range(1, count)]
    starts = [0] + bounds
    return list(zip(starts, bounds + [None]))


def _write_segment(ix, engine, panel_id: int, parts, total: int, progress):
    """The segment of every part's documents, the first part's made here, the others' by
    worker processes; and the documents written."""
    import multiprocessing

    builder = segments.SegmentBuilder(ix, _codec())
    if len(parts) == 1:
        _add_documents(builder, engine, panel_id, parts[0], cases=True,
                       progress=(lambda n: progress(n, total)) if progress else None)
        return builder.finish(), builder.docnum
    from concurrent.futures import ProcessPoolExecutor

    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # a new interpreter: forking a threaded web process is unsafe
    counter = context.Value("q", 0)
    pool = ProcessPoolExecutor(max_workers=len(parts) - 1, mp_context=context,
                               initializer=_start_worker, initargs=(counter,))
    try:
        futures = [pool.submit(_make_part_in_worker, url, panel_id, part) for part in parts[1:]]
        report = (lambda n: progress(n + counter.value, total)) if progress else None
        _add_documents(builder, engine, panel_id, parts[0], cases=True, progress=report)
        while futures:  # in order: each part's documents are numbered after the one before
            builder.add_part(futures.pop(0).result())  # the part then let go, before the segment is written
    finally:
        pool.shutdown(cancel_futures=True)
    return builder.finish(), builder.docnum


def _add_documents(builder, engine, panel_id: int, part, *, cases: bool, progress=None) -> None:
    """Add one part's documents, read from the database, to ``builder`` (a
    :class:`segments.SegmentBuilder` or :class:`segments.Part`)."""
    after_id, up_to_id = part
    with Session(engine) as db:
        for n, doc in enumerate(documents.panel_documents(db, panel_id, cases=cases, from_id=after_id,
                                                          to_id=up_to_id), 1):
            builder.add(doc)
            if progress and n % 1000 == 0:
                progress(n)


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off while a rebuild makes millions of lists of
    postings that live until the segment is written: each full collection walks them all
    (a quarter of a rebuild's time at 100,000 items, and five times the cost of unpickling
    a worker's part). Nothing made here forms cycles worth collecting before the end; the
    process's other threads meanwhile run without it too, and their cycles are collected
    after (it is switched back on only by the rebuild that switched it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_worker_counter = None


def _start_worker(counter) -> None:
    global _worker_counter
    _worker_counter = counter


def _make_part_in_worker(url: str, panel_id: int, part) -> segments.Part:
    """In a worker process: one part's documents made into postings and values."""
    from ..db import make_engine

    def report(done: int) -> None:
        with _worker_counter.get_lock():
            _worker_counter.value += 1000

    engine = make_engine(url)
    try:
        made = segments.Part(get_schema())
        with _collector_paused():
            _add_documents(made, engine, panel_id, part, cases=False, progress=report if _worker_counter else None)
        return made
    finally:
        engine.dispose()


def write_documents(panel: Panel, docs: list[dict], removed_ids: list[str], *, app=None) -> None:
    """Add or replace ``docs`` and remove ``removed_ids`` in one small commit (no merge:
    a save must stay fast; segments are merged in the background when they pile up).
    The caller holds the panel lock. The new documents' segment is written by
    :class:`segments.SegmentBuilder` (the files Whoosh's writer would write, without its
    sorting pool and temporary files); Whoosh's writer takes the index's write lock,
    marks the replaced documents deleted and commits the table of contents."""
    app = app or current_app._get_current_object()
    cached = searcher_for(panel, app)  # current: we hold the lock, nobody wrote since
    ix = cached.ix
    writer = ix.writer(codec=_codec())
    reader = cached.searcher.reader()
    # Whoosh's update_document opens a reader of every segment to find the old document;
    # ours is open already and, of the same generation, numbers documents the same way.
    same = reader.generation() == writer.generation - 1

    def delete(doc_id: str) -> None:
        if not same:
            writer.delete_by_term("id", doc_id)
        elif ("id", doc_id) in reader:
            for docnum in reader.postings("id", doc_id).all_ids():
                writer.delete_document(docnum)

    try:
        for doc in docs:
            delete(doc["id"])
        for doc_id in removed_ids:
            delete(doc_id)
        added = []
        if docs:
            builder = segments.SegmentBuilder(ix, _codec())
            for doc in docs:
                builder.add(doc)
            added.append(builder.finish())
        writer._close_segment()  # its own segment stays empty: the builder's holds the documents
        writer._commit_toc(writer.segments + added)  # the segments as they were, with their deletions
        writer._finish()
    except BaseException:
        writer.cancel()
        raise
    if len(ix._segments()) > MERGE_ABOVE_SEGMENTS:
        _merge_in_background(panel.code, app)


_merging: set[str] = set()  # panels (by index folder) this process has a merge running for
_merging_lock = threading.Lock()
_merge_pool = None  # one process merging for this one (see _merge_in_background)


def _merge_in_background(panel_code: str, app) -> None:
    """Merge the panel's small segments in a process of their own (a thread of this one
    would share its interpreter lock with the saves coming meanwhile and slow each of
    them), one merge of a panel at a time: the saves that come while it is written do not
    start another. A thread waits for it, so nothing is left behind unseen."""
    global _merge_pool
    root = str(search_root(app))
    directory = str(index_dir(panel_code, app))
    with _merging_lock:
        if directory in _merging:
            return
        _merging.add(directory)
        if _merge_pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # a new interpreter: forking a threaded web process is unsafe
            _merge_pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            atexit.register(_merge_pool.shutdown)  # before the interpreter takes its modules apart
        pool = _merge_pool

    def merge():
        global _merge_pool
        try:
            pool.submit(_merge_small_segments_at, root, panel_code, SMALL_SEGMENT_DOCS).result()
        except Exception as exc:  # noqa: BLE001 - derived data: the next merge will do
            from concurrent.futures.process import BrokenProcessPool

            log.warning("search index of panel %s: background merge failed: %s", panel_code, exc)
            if isinstance(exc, BrokenProcessPool):  # its process died: the next merge starts another
                with _merging_lock:
                    if _merge_pool is pool:
                        _merge_pool = None
        finally:
            with _merging_lock:
                _merging.discard(directory)

    threading.Thread(target=merge, name=f"search-merge-{panel_code}", daemon=True).start()


def merge_small_segments(panel_code: str, app=None) -> bool:
    """Merge every segment of at most :data:`SMALL_SEGMENT_DOCS` documents (the saves'
    one-document segments and what earlier merges made of them) into one; True when it
    did. See :func:`_merge_small_segments_at`."""
    return _merge_small_segments_at(str(search_root(app or current_app)), panel_code, SMALL_SEGMENT_DOCS)


def _merge_small_segments_at(root: str, panel_code: str, small_docs: int) -> bool:
    """The merge of :func:`merge_small_segments`, in the index folder ``root/panel_code``,
    of the segments of at most ``small_docs`` documents.
    Whoosh's merge holds the writer lock for all of its work, and a save waiting for it
    waited as long; here the merged segment is written first, without the lock, in a
    folder of its own (a commit meanwhile would delete its files from the index's folder
    as unknown), then moved in and listed under the lock: the documents a save deleted
    from the merged segments meanwhile are deleted in the merged one too, and if a
    rebuild or another merge replaced them, the work is dropped."""
    import tempfile

    from whoosh.reading import SegmentReader

    directory = Path(root) / panel_code
    if not any(directory.glob("_MAIN_*.toc")):  # removed since the save that asked for the merge
        return False
    ix = whoosh_index.open_dir(str(directory))
    for left in Path(root).glob(f".{panel_code}-merge-*"):  # a merge's process killed mid-way
        if time.time() - left.stat().st_mtime > 600:
            shutil.rmtree(left, ignore_errors=True)
    side = Path(tempfile.mkdtemp(prefix=f".{panel_code}-merge-", dir=root))
    try:
        small = [segment for segment in ix._read_toc().segments if segment.doc_count_all() <= small_docs]
        if len(small) < 2:
            return False
        # the live documents of each, in the order the merged segment numbers them
        live = [[docnum for docnum in range(segment.doc_count_all()) if not segment.is_deleted(docnum)]
                for segment in small]
        merged = None  # no live document left in them: they are only dropped
        if any(live):
            writer = whoosh_index.create_in(str(side), ix.schema).writer(codec=_codec())
            try:
                for segment in small:
                    reader = SegmentReader(ix.storage, ix.schema, segment)
                    writer.add_reader(reader)  # its live documents, in order
                    reader.close()
                merged = writer._finalize_segment()
            finally:
                writer._finish()
        with panel_lock(panel_code, timeout=60, root=Path(root)):
            writer = ix.writer(codec=_codec())
            try:
                current = {segment.segment_id(): segment for segment in writer.segments}
                if any(segment.segment_id() not in current for segment in small):
                    writer.cancel()  # a rebuild or another merge came first
                    return False
                if merged is not None:
                    for name in os.listdir(side):
                        if name.startswith(merged.segment_id() + "."):  # the merged segment's files
                            os.replace(side / name, directory / name)
                    number = 0
                    for segment, numbers in zip(small, live):
                        now = current[segment.segment_id()]
                        for docnum in numbers:
                            if now.is_deleted(docnum):  # replaced by a save while the merge was written
                                merged.delete_document(number)
                            number += 1
                names = {segment.segment_id() for segment in small}
                writer._close_segment()
                writer._commit_toc([segment for segment in writer.segments if segment.segment_id() not in names]
                                   + ([merged] if merged is not None else []))
                writer._finish()
            except BaseException:
                if not writer.is_closed:
                    writer.cancel()
                raise
        return True
    finally:
        ix.close()
        shutil.rmtree(side, ignore_errors=True)


# ------------------------------------------------------------------ reading


POSTINGS_KEPT_FROM = 64  # documents: shorter lists are kept in their term entry (cheap to read again)
POSTINGS_HELD = 500_000  # document numbers kept per searcher (about 20 MB), and as many over the segments


@dataclass
class _Segment:
    """Index data of one segment, decoded once and kept for as long as the segment is in
    the index: a segment's files never change (a save adds a small segment and marks the
    replaced document deleted; a merge replaces segments by a new one), so the searcher
    opened after a save takes over the data of every segment it keeps, and the first
    queries after a save do not read the big segments' long posting lists, term lists
    and columns again. Deleted documents are left in and taken out when read."""

    find: Callable  # a term's info in this segment (see _term_finder), None when absent
    base: int  # the segment's first document number in the searcher that filled ``postings``
    postings: dict = field(default_factory=dict)  # (field, term) -> frozenset of document numbers (+ base)
    held: int = 0  # document numbers in ``postings``
    columns: dict = field(default_factory=dict)  # (column, translate) -> the segment's column reader
    derived: dict = field(default_factory=dict)  # name -> a query-side table of this segment (per_segment)
    small: dict = field(default_factory=dict)  # field -> its terms, or _ANY_TERM when too many to hold

    def small_lexicon(self, leaf, fieldname: str):
        """The terms of one of :data:`SMALL_FIELDS` in this segment (a query's absent
        words cost a set look-up, not a probe of the segment's term table), or a stand-in
        holding every term when the field has more than :data:`SMALL_FIELD_TERMS`."""
        found = self.small.get(fieldname)
        if found is None:
            terms = []
            for term in leaf.lexicon(fieldname):
                terms.append(term.decode("utf-8") if isinstance(term, bytes) else term)
                if len(terms) > SMALL_FIELD_TERMS:
                    break
            found = self.small[fieldname] = _ANY_TERM if len(terms) > SMALL_FIELD_TERMS else frozenset(terms)
        return found


class _AnyTerm:
    def __contains__(self, term) -> bool:
        return True


_ANY_TERM = _AnyTerm()
# Fields with few terms, looked up by every query of words: the words of source notes and
# captions stricter than their item (a few hundred terms in a panel), held in memory per
# segment up to SMALL_FIELD_TERMS each.
SMALL_FIELDS = frozenset(f"words_{level}" for level in LEVELS)
SMALL_FIELD_TERMS = 20_000


@dataclass
class _Cached:
    ix: object
    searcher: object
    masks: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    # Index data decoded once per searcher, the same for every reader (what a reader may
    # see is masked after): code lines by document, and the documents of common terms.
    code_lines: dict = field(default_factory=dict)
    postings: dict = field(default_factory=dict)
    postings_held: int = 0
    # Each segment's data by segment id, handed on to the searcher reopened after a save
    # for the segments it keeps (see _Segment).
    segments: dict = field(default_factory=dict)
    leaves: list | None = None  # (segment reader, first document number, its deleted documents + base, _Segment)
    derived: dict = field(default_factory=dict)  # query-side tables built from the above (query.py)
    # The index folder as last seen up to date: (inode, modification time), when (see _unchanged)
    seen_folder: tuple | None = None
    seen_at: float = 0.0

    def docs(self, fieldname: str, term: str) -> frozenset[int]:
        """Every document holding the term (deleted and hidden ones too: masked by the
        caller). Long posting lists, read again by many queries (windows and words shared
        by thousands of items), are kept up to :data:`POSTINGS_HELD` document numbers."""
        key = (fieldname, term)
        found = self.postings.get(key)
        if found is not None:
            return found
        found = self._postings(fieldname, term)
        if len(found) >= POSTINGS_KEPT_FROM and self.postings_held + len(found) <= POSTINGS_HELD:
            self.postings[key] = found
            self.postings_held += len(found)
        return found

    def _leaves(self) -> list:
        """Each segment's reader, first document number, deleted documents (numbered in
        this searcher) and :class:`_Segment`, taken over from the searcher before when the
        segment was in it."""
        if self.leaves is None:
            self.leaves = []
            for leaf, base in self.searcher.reader().leaf_readers():
                if not hasattr(leaf, "_terms") or leaf.segment() is None:  # an index without a segment: no terms
                    continue
                data = self.segments.get(leaf.segment().segment_id())
                if data is None:
                    data = self.segments[leaf.segment().segment_id()] = _Segment(_segment_finder(leaf), base)
                elif data.base != base:  # a segment before it was merged away: renumbered
                    data.postings, data.held, data.base, data.derived = {}, 0, base, {}
                deleted = frozenset(docnum + base for docnum in leaf.deleted_docs_set) if leaf.has_deletions() \
                    else frozenset()
                self.leaves.append((leaf, base, deleted, data))
        return self.leaves

    def _postings(self, fieldname: str, term: str) -> frozenset[int]:
        """The live document numbers of a term, read segment by segment with one look-up
        of the term in each (Whoosh's reader looks it up three times a segment and walks
        its posting list one document at a time): a block of postings at a time, the
        short lists kept in their term's entry without opening a matcher. A segment's
        long list is kept with its :class:`_Segment`, up to :data:`POSTINGS_HELD`
        document numbers over all segments."""
        key, tbytes = (fieldname, term), term.encode("utf-8")
        leaves = self._leaves()
        short: list[int] = []
        kept: list[frozenset[int]] = []
        for leaf, base, deleted, data in leaves:
            ids = data.postings.get(key)
            if ids is None:
                if fieldname in SMALL_FIELDS and term not in data.small_lexicon(leaf, fieldname):
                    continue
                entry = data.find(fieldname, tbytes)
                if entry is None:
                    continue
                ids = _read_entry(leaf, fieldname, entry)
                ids = ids if not base else [docnum + base for docnum in ids]
                if len(ids) >= POSTINGS_KEPT_FROM \
                        and sum(d.held for _l, _b, _d, d in leaves) + len(ids) <= POSTINGS_HELD:
                    ids = data.postings[key] = frozenset(ids)
                    data.held += len(ids)
                else:
                    short.extend(ids if not deleted else [docnum for docnum in ids if docnum not in deleted])
                    continue
            kept.append(ids if not deleted or deleted.isdisjoint(ids) else ids - deleted)
        if not short and len(kept) == 1:
            return kept[0]
        return frozenset(short).union(*kept)

    def frequency(self, fieldname: str, term: str) -> int:
        """How many documents hold the term (deleted ones counted), from its entry in
        each segment: no posting list read (a common word's is tens of thousands)."""
        key = (fieldname, term)
        found = self.postings.get(key)
        if found is not None:
            return len(found)
        tbytes, total = term.encode("utf-8"), 0
        for leaf, _base, _deleted, data in self._leaves():
            ids = data.postings.get(key)
            if ids is not None:
                total += len(ids)
                continue
            if fieldname in SMALL_FIELDS and term not in data.small_lexicon(leaf, fieldname):
                continue
            entry = data.find(fieldname, tbytes)
            if entry is not None:
                total += _DOC_FREQUENCY.unpack_from(entry, 5)[0]  # W3TermInfo: flags, weight, then it
        return total

    def per_segment(self, name: str, build: Callable) -> list:
        """``build(segment reader, first document number)`` of each segment (a query-side
        table numbering documents as this searcher does, deleted ones included), kept with
        the segment across saves."""
        found = []
        for leaf, base, _deleted, data in self._leaves():
            if name not in data.derived:
                data.derived[name] = build(leaf, base)
            found.append(data.derived[name])
        return found

    def deleted(self) -> frozenset[int]:
        """The deleted documents of every segment, numbered as in this searcher."""
        key = ("deleted",)
        if key not in self.columns:
            self.columns[key] = frozenset().union(*(deleted for _l, _b, deleted, _d in self._leaves()))
        return self.columns[key]

    def segment_column(self, reader, name: str, translate: bool = True):
        """A segment reader's column reader, kept with its :class:`_Segment` (opening the
        column of a segment of 100,000 documents reads all their offsets)."""
        self._leaves()  # each segment's _Segment
        data = self.segments.get(reader.segment().segment_id()) if reader.segment() is not None else None
        if data is None:
            return reader.column_reader(name, translate=translate)
        key = (name, translate)
        if key not in data.columns:
            data.columns[key] = reader.column_reader(name, translate=translate)
        return data.columns[key]

    def column(self, name: str):
        """A column reader of this searcher (opening one costs a file per segment: kept)."""
        if name not in self.columns:
            from whoosh.columns import MultiColumnReader

            parts, offsets = [], []
            for reader, offset in self.searcher.reader().leaf_readers():
                if reader.segment() is None or not reader.has_column(name):  # no segment yet (a new panel)
                    continue
                parts.append(self.segment_column(reader, name))
                offsets.append(offset)
            self.columns[name] = parts[0] if len(parts) == 1 and offsets == [0] \
                else MultiColumnReader(parts, offsets) if parts else []
        return self.columns[name]


_DIGEST_TAIL = struct.Struct("!I").unpack_from


def _md5_hash(key: bytes) -> int:
    """``whoosh.filedb.filetables.md5_hash``: the last 4 bytes of the key's digest (not
    kept per key: a rebuilt index is one segment, and a small segment is asked for a key
    only when its set of keys holds it)."""
    return _DIGEST_TAIL(md5(key, usedforsecurity=False).digest(), 12)[0]


class _FileBytes:
    """A segment's file read by slices, as its memory map would be (``file[a:b]``)."""

    def __init__(self, dbfile):
        self.get = dbfile.get

    def __getitem__(self, span: slice) -> bytes:
        return self.get(span.start, span.stop - span.start)


def _term_finder(terms, keys: frozenset[bytes] | None = None):
    """A function of ``(fieldname, tbytes)`` giving the term's entry in a segment's terms
    reader as bytes (see :func:`_read_entry`), None when the term is absent, without the
    generators and exceptions of Whoosh's hash table reader: a typo query looks up a
    hundred terms in each segment, most of them absent. The same probe sequence as
    ``whoosh.filedb.filetables.HashReader.ranges_for_key``, read straight from the
    segment's memory map when it has one (a look-up is a few microseconds, most queries'
    largest cost: the probe is written out in one function). ``keys``, every key of the
    segment's table (for small segments, see :data:`TERM_KEYS_UP_TO`), answers for absent
    terms without hashing or probing."""
    from whoosh.filedb import filetables

    table = terms._tindex
    fieldmap, dbfile, tables = terms._fieldmap, table.dbfile, table.tables
    pointer, lengths = filetables._pointer, filetables._lengths
    pointer_size, lengths_size = pointer.size, lengths.size
    field_number = struct.Struct("!H").pack
    hashed = _md5_hash if table.hashfn is filetables.md5_hash else table.hashfn
    prefixes = {name: field_number(number) for name, number in fieldmap.items()}
    buffer = getattr(dbfile, "_buf", None)  # a BufferFile over the compound segment's memory map
    if buffer is not None:
        unpack_pointer, unpack_lengths = pointer.unpack_from, lengths.unpack_from
    else:  # a file without a memory map, read by slices
        buffer = _FileBytes(dbfile)

        def unpack_pointer(file, position: int):
            return pointer.unpack(file[position:position + pointer_size])

        def unpack_lengths(file, position: int):
            return lengths.unpack(file[position:position + lengths_size])

    def find(fieldname: str, tbytes: bytes):
        prefix = prefixes.get(fieldname)
        if prefix is None:
            return None
        key = prefix + tbytes
        if keys is not None and key not in keys:
            return None
        keyhash = hashed(key)
        start, slots = tables[keyhash & 255]
        if not slots:
            return None
        end = start + slots * pointer_size
        position = start + ((keyhash >> 8) % slots) * pointer_size
        size = len(key)
        for _ in range(slots):
            slot_hash, item = unpack_pointer(buffer, position)
            if not item:
                return None
            if slot_hash == keyhash:
                key_length, data_length = unpack_lengths(buffer, item)
                begin = item + lengths_size
                if key_length == size and buffer[begin:begin + size] == key:
                    return bytes(buffer[begin + size:begin + size + data_length])
            position += pointer_size
            if position == end:
                position = start
        return None

    return find


# Segments of this many documents or fewer (the saves' and what background merges make of
# them) keep every key of their term table in memory: a query's absent terms, most of its
# look-ups in a small segment, cost a set membership test, so the segments that pile up
# between merges hardly slow a query down.
TERM_KEYS_UP_TO = SMALL_SEGMENT_DOCS


def _segment_finder(leaf):
    keys = frozenset(leaf._terms._tindex.keys()) if leaf.doc_count_all() <= TERM_KEYS_UP_TO else None
    return _term_finder(leaf._terms, keys)


_INFO_SIZE = W3TermInfo._struct.size
_DOC_FREQUENCY = struct.Struct("!I")


def _read_entry(leaf, fieldname: str, entry: bytes) -> list[int] | tuple[int, ...]:
    """The document numbers of a term's entry in a segment: a short list is kept in the
    entry itself (``W3TermInfo.to_bytes``: a flag, then the pickled postings), a long one
    read from the postings file a block at a time."""
    if entry[0]:  # inlined
        return loads(entry[_INFO_SIZE:])[0]
    info = W3TermInfo.from_bytes(entry)
    matcher = leaf._codec.postings_reader(leaf._terms._postfile, info, leaf.schema[fieldname].format)
    ids: list[int] = []
    while not matcher._atend:  # whole blocks of ids, as the matcher's _read_ids decodes them
        if matcher._data is None:
            matcher._read_data()
        block = matcher._data[0]
        # delta-coded unless stored as bytes: summed up in C, not by Whoosh's generator
        ids.extend(block if matcher._byteids else accumulate(block))
        matcher._next_block()
    return ids


def _forget(panel_code: str) -> None:
    cache = getattr(_local, "searchers", {})
    for key in [k for k in cache if k[1] == panel_code]:
        cached = cache.pop(key)
        cached.searcher.close()


def searcher_for(panel: Panel, app=None) -> _Cached:
    """An up-to-date searcher of the panel's index (kept per thread, reopened when the
    index changed). ``masks`` caches per searcher the documents each clearance may not see."""
    app = app or current_app._get_current_object()
    cache = _local.__dict__.setdefault("searchers", {})
    # what search_root(app) is made of (building its Path costs a third of this call)
    key = (app.config.get("SEARCH_INDEX_PATH"), app.instance_path, panel.code)
    cached = cache.get(key)
    if cached is not None:
        try:
            if _unchanged(cached):
                return cached
            folder = _folder_state(cached)
            if cached.searcher.up_to_date():
                cached.seen_folder, cached.seen_at = folder, time.time()
                return cached
            fresh = _reopen(cached)
        except Exception:  # noqa: BLE001 - rebuilt or removed under us: open it afresh
            fresh = None
        if fresh is not None:
            cache[key] = fresh
            return fresh
        cache.pop(key, None)
        cached.searcher.close()
    ix = open_index(panel, app)
    cached = _Cached(ix, ix.searcher())
    cache[key] = cached
    return cached


# A searcher is up to date while its index folder is unchanged: a commit writes a new table
# of contents and removes the old one, and so changes the folder's modification time. One
# stat instead of a listing of the folder (a tenth of an exact query's time). The folder's
# clock ticks coarsely (a few milliseconds), so a time this close to the last full check
# proves nothing and the folder is listed again; and it is listed at least every second.
FOLDER_TICK_S = 0.05
FOLDER_LISTED_EVERY_S = 1.0


def _folder_state(cached: _Cached) -> tuple | None:
    try:
        found = os.stat(cached.ix.storage.folder)
    except (AttributeError, OSError):  # not a folder (an index in memory), or removed under us
        return None
    return found.st_ino, found.st_mtime_ns


def _unchanged(cached: _Cached) -> bool:
    """Is the searcher still up to date, by the folder's state alone?"""
    seen = cached.seen_folder
    if seen is None or time.time() - cached.seen_at > FOLDER_LISTED_EVERY_S \
            or seen[1] / 1e9 > cached.seen_at - FOLDER_TICK_S:
        return False
    return _folder_state(cached) == seen


def _reopen(cached: _Cached) -> _Cached:
    """A searcher of the index's latest generation that keeps the readers of segments that
    did not change (a save adds one small segment: reopening them all would cost more
    than the search). Not Whoosh's refresh(): it also reuses the reader of a segment whose
    deletions changed, and would still show a document replaced since."""
    from whoosh.reading import MultiReader, SegmentReader
    from whoosh.searching import Searcher

    ix = cached.ix
    toc = ix._read_toc()
    old = {r.segment().segment_id(): r for r, _ in cached.searcher.reader().leaf_readers()
           if r.segment() is not None}
    readers = []
    for segment in toc.segments:
        reader = old.pop(segment.segment_id(), None)
        if reader is None:
            reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
        elif reader.segment().deleted_count() != segment.deleted_count():
            reader = _with_deletions(reader, segment)
        readers.append(reader)
    for reader in old.values():
        reader.close()
    if len(readers) == 1:
        reader = readers[0]
    else:
        reader = MultiReader(readers, generation=toc.generation)
    kept = {segment.segment_id() for segment in toc.segments}
    data = {segment_id: found for segment_id, found in cached.segments.items() if segment_id in kept}
    return _Cached(ix, Searcher(reader, fromindex=ix), segments=data)


def _with_deletions(reader, segment):
    """The reader of a segment whose only change is more deleted documents (a save
    replaced one of them): the same open files, the new list of deletions. Reopening a
    segment of 100,000 documents after every save would cost more than the save."""
    import copy

    clone = copy.copy(reader)
    clone.__dict__.pop("deleted_docs_set", None)  # a cached property: recomputed from the segment
    clone._segment = segment
    clone._perdoc = copy.copy(reader._perdoc)
    clone._perdoc._segment = segment
    return clone


def close_searchers() -> None:
    for cached in getattr(_local, "searchers", {}).values():
        cached.searcher.close()
    _local.searchers = {}


# ------------------------------------------------------------------ verify


@dataclass
class VerifyReport:
    missing: list[str]
    stale: list[str]
    extra: list[str]
    checked: int

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.extra)


def signatures(searcher) -> dict[str, str]:
    """The signature of each live document of the index (``documents.item_document``),
    by document id."""
    reader = searcher.reader()
    data = reader.column_reader("data")
    return {fields["id"]: data[docnum]["sig"] for docnum, fields in reader.iter_docs()}


def verify(panel: Panel, *, app=None) -> VerifyReport:
    """Compare every document the database gives with the index: missing, stale (its
    content changed since it was indexed) or extra (gone from the database)."""
    app = app or current_app._get_current_object()
    if index_state(panel.code, app) != "ok":
        with Session(_engine(app)) as db:
            refs = [d["data"].get("item_ref") or d["data"]["case_ref"] for d in documents.panel_documents(db, panel.id)]
        return VerifyReport(missing=refs, stale=[], extra=[], checked=len(refs))
    ix = whoosh_index.open_dir(str(index_dir(panel.code, app)))
    with ix.searcher() as searcher:
        indexed = signatures(searcher)
    ix.close()
    missing, stale, seen = [], [], set()
    with Session(_engine(app)) as db:
        for doc in documents.panel_documents(db, panel.id):
            label = doc["data"].get("item_ref") or doc["data"]["case_ref"]
            seen.add(doc["id"])
            if doc["id"] not in indexed:
                missing.append(label)
            elif indexed[doc["id"]] != doc["data"]["sig"]:
                stale.append(label)
    extra = sorted(set(indexed) - seen)
    return VerifyReport(missing=missing, stale=stale, extra=extra, checked=len(seen))


def index_size(panel_code: str, app=None) -> int:
    directory = index_dir(panel_code, app)
    return sum(f.stat().st_size for f in directory.iterdir() if f.is_file()) if directory.exists() else 0


def remove_index(panel_code: str, app=None) -> None:
    directory = index_dir(panel_code, app)
    if directory.exists():
        shutil.rmtree(directory)
    _forget(panel_code)

