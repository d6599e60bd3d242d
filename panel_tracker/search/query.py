"""Searching a panel's index: parse the query, find candidates by term look-ups (no term
scan, no scoring by term statistics), rank them by tier, and say for each hit which
reading matched and where.

Tiers, best first: the exact reading (100), folded (90: case, spaces, dashes, script of
look-alike letters and digits), confusable (80: O/0, I/1/7, S/5...), every word of free
text (70), fragment, wildcard or ``?`` (60; 55 when only confusables make it match),
typo (40 less the edits, counted on the folded readings: a confusable and a typo
together are not forgiven). Within a tier the column decides (serial first), then the
item reference.

Classification: each document carries its effective classification and whether it is
deleted; the documents a reader may not see are masked before anything is counted,
and readings of stricter source details and captions are looked up only in the fields
of the levels the reader may see.
"""
from __future__ import annotations

import heapq
import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import chain, compress, islice, repeat
from operator import eq

from whoosh import query as wq

from ..classification import Classification, visible_levels
from . import analysis, index
from .documents import FIELD_BONUS, FRAGMENT_COLUMNS, exact_form, reading_terms
from .schema import LEVELS

TIER_EXACT, TIER_FOLDED, TIER_CONFUSABLE, TIER_WORDS = 100, 90, 80, 70
TIER_FRAGMENT, TIER_CONFUSABLE_FRAGMENT, TIER_FUZZY = 60, 55, 40
TIER_FILTER_ONLY = 1

# field syntax: name in a query → column of the import format
VALUE_FIELDS = {
    "serial": "serial", "lot": "lot", "factory": "factory_code", "factory_code": "factory_code",
    "headstamp": "headstamp", "import": "import_mark", "import_mark": "import_mark",
    "year": "year_marked", "year_marked": "year_marked", "mark": "other_marks", "other_marks": "other_marks",
    "make": "make_marked", "make_marked": "make_marked", "make_attributed": "make_attributed",
    "model": "model", "calibre": "calibre", "caliber": "calibre", "type": "type",
    "notes": "notes", "place": "recovered_place", "recovered_place": "recovered_place",
    "caption": "caption", "item": "item_ref", "item_ref": "item_ref",
}
FILTER_FIELDS = {"country", "category", "legibility", "case", "case_ref"}
_TOKEN = re.compile(r'\s*(?:(?P<neg>-)?(?P<name>[A-Za-z_]+):(?P<value>"[^"]*"|\S+)|"(?P<quoted>[^"]*)"|(?P<word>\S+))')


@dataclass
class Filters:
    case: str = ""
    category: str = ""
    country: str = ""
    recovered_from: date | None = None
    recovered_to: date | None = None
    legibility: str = ""

    def any(self) -> bool:
        return any((self.case, self.category, self.country, self.recovered_from, self.recovered_to,
                    self.legibility))


@dataclass
class Hit:
    item_id: int
    item_ref: str
    case_id: int
    case_ref: str
    field: str
    matched: str
    score: float
    highlight: tuple[str, str, str] = ("", "", "")
    photo_id: int | None = None
    marking_id: int | None = None  # the hit is a marking recorded on the item page

    def public(self) -> dict:
        """The hit as the CLI and the API give it (a contract)."""
        return {"item_ref": self.item_ref, "case_ref": self.case_ref, "field": self.field,
                "matched": self.matched, "score": self.score}


@dataclass
class Result:
    hits: list[Hit]
    total: int
    query: str = ""
    errors: dict = field(default_factory=dict)


# ------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class Node:
    """One search term: free text (``column`` None), a column's value, or a filter."""

    text: str
    column: str | None = None
    filter: str | None = None
    negated: bool = False


@lru_cache(maxsize=4096)  # parsed again to explain each hit
def parse(text: str) -> tuple[tuple[Node, ...], ...]:
    """A query as alternatives (OR) of conjunctions (AND, the default) of nodes. Runs of
    plain words stay one node, so ``HX S5 11840`` is one reading. ``NOT`` negates the next
    term, ``-`` only a field (``-case:YEM-2024-021``)."""
    alternatives: list[list[Node]] = [[]]
    negate_next = False
    for match in _TOKEN.finditer(text or ""):
        if match.group("name") is not None and (match.group("name").lower() in VALUE_FIELDS
                                                or match.group("name").lower() in FILTER_FIELDS):
            name = match.group("name").lower()
            value = match.group("value").strip('"')
            node = Node(value, column=VALUE_FIELDS.get(name), filter=name if name in FILTER_FIELDS else None,
                        negated=negate_next or bool(match.group("neg")))
            alternatives[-1].append(node)
            negate_next = False
            continue
        word = match.group("quoted") if match.group("quoted") is not None else match.group(0).strip()
        if match.group("quoted") is None and word in ("AND", "&&"):
            continue
        if match.group("quoted") is None and word in ("OR", "||"):
            alternatives.append([])
            continue
        if match.group("quoted") is None and word == "NOT":
            negate_next = True
            continue
        negated = negate_next  # a leading "-" on a word is part of a reading ("HX -S5-11840")
        current = alternatives[-1]
        if not negated and current and current[-1].column is None and current[-1].filter is None \
                and not current[-1].negated and match.group("quoted") is None:
            current[-1] = Node(current[-1].text + " " + word)
        else:
            current.append(Node(word, negated=negated))
        negate_next = False
    return tuple(tuple(conj) for conj in alternatives if conj)


# ------------------------------------------------------------------ the searcher of one request


@lru_cache(maxsize=None)
def _reader_fields(clearance: Classification) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The levels a reader of ``clearance`` may see, and the word fields they may search."""
    levels = tuple(visible_levels(clearance))
    return levels, ("words",) + tuple(f"words_{level}" for level in LEVELS if level in levels)


class _Run:
    """Term look-ups against one searcher, for one reader's clearance."""

    def __init__(self, cached, clearance: Classification):
        self.cached = cached
        self._seen: dict[tuple[str, str], frozenset[int]] = {}
        self.searcher = cached.searcher
        self.reader = cached.searcher.reader()
        self.clearance = clearance
        self.levels, self.word_fields = _reader_fields(clearance)
        key = clearance.value
        if key not in cached.masks:
            hidden = self.docs("deleted", "1") | self.docs("doctype", "case")
            for level in LEVELS:
                if level not in self.levels:
                    hidden |= self.docs("vis", level)
            cached.masks[key] = hidden
        self.hidden = cached.masks[key]
        self._stored: dict[int, dict] = {}
        self._folded: list[str] | bool | None = None

    def column(self, name: str) -> Callable[[int], object]:
        """A document's value of a column field (code lines, item reference), read from
        its segment's column directly: Whoosh's reader of several segments finds the
        segment and translates the value (for these fields, to itself) on every call,
        most of the cost of checking thousands of typo candidates or ranking thousands
        of hits."""
        read = self.cached.derived.get(("column", name))
        if read is None:
            segments = []
            for leaf, base in self.reader.leaf_readers():
                try:  # a segment's reader is kept across saves with the segment's other data
                    segments.append((base, self.cached.segment_column(leaf, name, translate=False)))
                except NotImplementedError:  # an index without a segment yet: no documents
                    pass
            if len(segments) == 1 and segments[0][0] == 0:
                read = segments[0][1].__getitem__
            else:
                bases = [base for base, _column in segments]

                def read(docnum: int):
                    base, column = segments[bisect_right(bases, docnum) - 1]
                    return column[docnum - base]
            self.cached.derived["column", name] = read
        return read

    def _code_lines(self, docnum: int, keep: bool = True) -> tuple[tuple[str, ...], ...]:
        lines = self.cached.code_lines.get(docnum)
        if lines is None:
            text = self.column("code_text")(docnum)
            lines = tuple(tuple(line.split("\t", 2)) for line in text.decode("utf-8").split("\n")) if text else ()
            if keep:
                self.cached.code_lines[docnum] = lines
        return lines

    def code_values(self, docnum: int) -> list[tuple[str, str]]:
        """(column, reading) of a document's codes (serial, lot…; item-level, so as visible
        as the document), from a column: far cheaper than its stored fields."""
        return [(column, raw) for column, _folded, raw in self._code_lines(docnum)]

    def codes(self, docnum: int) -> list[str]:
        """The folded codes of a document (folded when indexed), from the table of every
        document's (see :func:`_folded_code_table`)."""
        table = self._folded
        if table is None:
            table = self._folded = _folded_code_table(self)
        if table:
            codes = table[docnum]
            return codes.split("\t") if codes else []
        return [folded for _column, folded, _raw in self._code_lines(docnum)]

    def docs(self, fieldname: str, term: str) -> frozenset[int]:
        """The documents of a term; a query looks some up more than once (a window for
        its fragment and for its typos): kept until the next query (:meth:`forget`)."""
        found = self._seen.get((fieldname, term))
        if found is None:
            found = self._seen[fieldname, term] = self.cached.docs(fieldname, term)
        return found

    def window_docs(self, window: str) -> frozenset[int]:
        """The documents holding a fragment window (a key) in any of its readings."""
        return self.docs("frag", "k:" + window)

    def forget(self) -> None:
        self._seen.clear()

    def any_docs(self, fieldname: str, terms) -> set[int]:
        found: set[int] = set()
        for term in terms:
            found |= self.docs(fieldname, term)
        return found

    def stored(self, docnum: int) -> dict:
        """A document's data (see ``documents.item_document``), from its column."""
        if docnum not in self._stored:
            self._stored[docnum] = self.column("data")(docnum)
        return self._stored[docnum]

    def values(self, docnum: int, column: str | None = None):
        """The readings of a document the reader may see (optionally of one column)."""
        for col, text, level, is_code, *_marking in self.stored(docnum)["values"]:
            if level is not None and level not in self.levels:
                continue
            if column is not None and col != column:
                continue
            yield col, text, is_code

    def marking_of(self, docnum: int, column: str, text: str) -> int | None:
        """The id of the marking (recorded on the item page) this reading comes from."""
        for col, value, _level, _code, *marking in self.stored(docnum)["values"]:
            if marking and col == column and value == text:
                return marking[0]
        return None


def _segment_folded_codes(leaf, base: int) -> tuple[list[str], frozenset[int]]:
    """The folded codes of each of a segment's documents (deleted ones included), joined
    by tabs, read from the column in one piece; and the documents with a lot among them."""
    try:
        texts = _column_values(leaf.column_reader("code_text", translate=False))
    except NotImplementedError:  # an index without a segment yet: no documents
        return [], frozenset()
    lots = frozenset(base + at for at, text in enumerate(texts) if text.startswith(b"lot\t") or b"\nlot\t" in text)
    return ["\t".join(_folded_codes(text)) for text in texts], lots


def _lot_documents(run: _Run) -> frozenset[int]:
    """The documents with a lot among their codes."""
    found = run.cached.derived.get("lot_docs")
    if found is None:
        found = run.cached.derived["lot_docs"] = frozenset().union(
            *(lots for _codes, lots in run.cached.per_segment("folded_codes", _segment_folded_codes)))
    return found


def _folded_code_table(run: _Run) -> list[str] | bool:
    """The folded codes of every document of the searcher, by document number, joined by
    tabs: the typo and fragment candidates are checked on them, hundreds for a query,
    each read from the column and split into lines at two microseconds otherwise. Each
    segment's part is built once (a tenth of a second for 50,000 documents) and kept
    with it across saves; joined once per searcher. False when the segments do not
    number every document."""
    found = run.cached.derived.get("folded_codes")
    if found is None:
        parts = run.cached.per_segment("folded_codes", _segment_folded_codes)
        found = run.cached.derived["folded_codes"] = _joined_by_document(
            run, [(base, codes) for (_leaf, base, _deleted, _data), (codes, _lots) in zip(run.cached._leaves(), parts)])
    return found


def _joined_by_document(run: _Run, parts: list[tuple[int, list]]) -> list | bool:
    """Segments' tables (first document number, one entry a document) joined into one
    indexed by the searcher's document numbers; False when the segments do not number
    every document one after the other."""
    joined: list = []
    for base, part in parts:
        if base != len(joined):
            return False
        joined += part
    return joined if len(joined) == run.reader.doc_count_all() else False


def _best(scores: dict[int, float], docs, score: float) -> None:
    for docnum in docs:
        if scores.get(docnum, 0) < score:
            scores[docnum] = score


# ------------------------------------------------------------------ matching one node


def _match_text(run: _Run, text: str, column: str | None) -> dict[int, float]:
    folded = analysis.fold(text)
    scores: dict[int, float] = {}
    if not folded:
        return scores
    if "*" in folded or "?" in folded:
        return _lot_groups_kept(run, _match_pattern(run, folded, column), text, column)
    key = analysis.key_of_folded(folded)
    # equal readings, by their key: those folded as the query are told from the others on
    # their codes when they are few (the exact one from the folded one on the stored reading)
    equal = run.docs("codes", f"k:{key}")
    _best(scores, equal, TIER_CONFUSABLE)
    if len(equal) > FEW_CANDIDATES:
        _best(scores, run.docs("codes", f"f:{folded}"), TIER_FOLDED)
    else:
        _best(scores, [docnum for docnum in equal if _holds_reading(run, docnum, folded)], TIER_FOLDED)
    _best(scores, _match_words(run, text), TIER_WORDS)  # a one-word reading is its word
    if analysis.MIN_FRAGMENT <= len(folded) <= analysis.MAX_FRAGMENT_TERM:  # a fragment term of its own
        confusable = run.window_docs(key)
        # a document holding the folded fragment holds its key too: none without the key
        exact = run.docs("frag", "f:" + folded) if confusable else set()
        _best(scores, confusable, TIER_CONFUSABLE_FRAGMENT)
        _best(scores, exact, TIER_FRAGMENT)
    elif len(folded) > analysis.MAX_FRAGMENT_TERM:
        # found by its windows, the whole fragment then checked on the candidates' codes:
        # every window when the query's typos look them all up anyway; else the last (a
        # serial's end is rarely shared), and the first too when the last is common. The
        # folded fragment is checked on the same codes (a code holding it holds its key).
        windows = analysis.fragment_terms(key)
        if analysis.typo_windows(key):
            candidates = _fragment_docs(run, windows)
        else:
            candidates = run.window_docs(windows[-1])
            if len(candidates) > FEW_CANDIDATES:
                candidates = candidates & run.window_docs(windows[0])
        confusable, exact = set(), set()
        for docnum in candidates - run.hidden:
            codes = run.codes(docnum)
            if any(key in analysis.key_of_folded(code) for code in codes):
                confusable.add(docnum)
                if any(folded in code for code in codes):
                    exact.add(docnum)
        _best(scores, confusable, TIER_CONFUSABLE_FRAGMENT)
        _best(scores, exact, TIER_FRAGMENT)
    # stored readings with "?" that fit the query, from the table of them all
    if 2 <= len(key) <= analysis.MAX_CODE:
        for docnum, tier in _unknown_fits(run, folded, key, column).items():
            _best(scores, [docnum], tier)
    # typos: candidates from the deletion, end and window terms, checked by edit distance
    edits = analysis.allowed_edits(key)
    if edits:
        _match_typos(run, folded, key, edits, scores)
    # Field syntax (lot:…): the match must be in that column; a lot typed in groups must
    # line up group by group.
    if column or analysis.lot_shaped(text):
        return {d: s for d, s in scores.items() if d not in run.hidden and _fits(run, d, s, text, column)}
    return _lot_groups_kept(run, scores, text, column)


def _fits(run: _Run, docnum: int, tier: float, text: str, column: str | None) -> bool:
    """Does one of the document's readings match the query (in its column, if any), lots
    group by group? Checked as its hit is explained: codes from their column, other
    fields from the stored document."""
    if column in FRAGMENT_COLUMNS:
        readings = [(c, v, True) for c, v in run.code_values(docnum) if c == column]
    elif column is None and tier < TIER_WORDS:  # a fragment, pattern or typo: of a code
        readings = [(c, v, True) for c, v in run.code_values(docnum)]
    else:
        readings = run.values(docnum, column)
    return any(_value_tier(text, value, is_code, col)[0] for col, value, is_code in readings)


def _lot_groups_kept(run: _Run, scores: dict[int, float], text: str, column: str | None) -> dict[int, float]:
    """A query typed in groups (``В 139071``, ``28-61-8?``) meets a lot's reading only
    group by group (not ``13-90-71``, not ``2-86-188``): a document with a lot found below
    the words' tier (a fragment, a pattern or a typo) is kept when one of its readings
    fits (see :func:`_fits`)."""
    if not analysis.in_groups(text):
        return scores
    lots = _lot_documents(run)
    return {d: s for d, s in scores.items() if s >= TIER_WORDS or d not in lots or _fits(run, d, s, text, column)}


# Candidates of a long fragment checked on their codes rather than narrowed down by one
# more window (a look-up costs as much as checking a few dozen documents' codes)
FEW_CANDIDATES = 32


# A window of a query shared by more documents than this (a model's serial prefix, ZX112…)
# brings its typo candidates as the list of its codes, kept with each segment: each code
# is checked once, not each document with all its readings.
COMMON_WINDOW = 256
COMMON_WINDOW_CODES_HELD = 200_000  # codes listed per segment, over all common windows


def _match_typos(run: _Run, folded: str, key: str, edits: int, scores: dict[int, float]) -> None:
    """Typos: candidates from the deletion neighbourhoods (one-edit queries), the end terms
    (two-edit queries of 10 to 14 characters) and the windows, checked by edit distance
    (on the folded readings). Every stored code within ``edits`` holds one of these terms
    itself, so a code brought only by a common window is one holding that window (when
    the query is short enough that every code within reach is short enough to have its
    windows indexed)."""
    candidates = set(run.any_docs("dels", analysis.query_deletions(key) | analysis.query_end_terms(key)))
    common = []
    for window in analysis.typo_windows(key):
        docs = run.window_docs(window)
        if len(docs) >= COMMON_WINDOW and len(folded) + edits <= analysis.MAX_CODE:
            listed = _window_codes(run, window, docs)
            if listed is not None:
                common.extend(listed)
                continue
        candidates |= docs
    distance_to = analysis.distance_from(folded, edits)
    distances: dict[str, int] = {}  # lots, headstamps, factory codes: shared by many candidates
    shortest, longest = len(folded) - edits, len(folded) + edits
    hidden = run.hidden
    codes_of = run.codes
    for docnum in candidates:
        if scores.get(docnum, 0) >= TIER_FUZZY or docnum in hidden:
            continue
        best = edits + 1
        for code in codes_of(docnum):
            if shortest <= len(code) <= longest:
                distance = distances.get(code)
                if distance is None:
                    distance = distances[code] = distance_to(code)
                if distance < best:
                    best = distance
        if best <= edits:
            scores[docnum] = TIER_FUZZY - best
    gone = run.cached.deleted() if common else frozenset()  # replaced by saves since a listing was made
    for by_length in common:
        for length in range(shortest, longest + 1):
            if length not in by_length:
                continue
            codes, owners = by_length[length]
            for at, distance in codes.within(folded, edits):
                for docnum in owners[at]:
                    if scores.get(docnum, 0) < TIER_FUZZY - distance and docnum not in hidden and docnum not in gone:
                        scores[docnum] = TIER_FUZZY - distance


_FOLDED_CODE = re.compile(r"^[^\t\n]*\t([^\t\n]*)\t", re.M)  # a code line: column, folded, reading


def _folded_codes(text: bytes) -> list[str]:
    """The folded codes of a document's code lines, as stored (see ``_Run._code_lines``)."""
    return _FOLDED_CODE.findall(text.decode("utf-8")) if text else []


def _window_codes(run: _Run, window: str, docs) -> list[dict[int, tuple[analysis.SameLengthCodes, list]]] | None:
    """The folded codes whose key holds ``window``, by length, with the documents of
    each: one listing a segment, kept with the segment across saves like its other tables
    (so the first query after a save lists only the saves' small segments again; the
    documents a save has replaced since are left in, for the caller to take out), up to
    :data:`COMMON_WINDOW_CODES_HELD` codes a segment; None past that."""
    leaves = run.cached._leaves()
    listings, by_segment = [], None
    for number, (_leaf, _base, _deleted, data) in enumerate(leaves):
        held = data.derived.setdefault("window_codes", {})
        listed = held.get(window)
        if listed is None:
            count = data.derived.get("window_codes_held", 0)
            if count >= COMMON_WINDOW_CODES_HELD:
                return None
            if by_segment is None:  # the window's documents, segment by segment
                bases = [base for _l, base, _d, _s in leaves]
                by_segment = [[] for _ in leaves]
                for docnum in sorted(docs):
                    by_segment[bisect_right(bases, docnum) - 1].append(docnum)
            owners: dict[int, dict[str, list[int]]] = {}
            for docnum in by_segment[number]:
                for code in run.codes(docnum):
                    if window in analysis.key_of_folded(code):
                        owners.setdefault(len(code), {}).setdefault(code, []).append(docnum)
            listed = held[window] = {length: (analysis.SameLengthCodes(list(found)), list(found.values()))
                                     for length, found in owners.items()}
            data.derived["window_codes_held"] = count + sum(len(found) for found in owners.values())
        listings.append(listed)
    return listings


def _fragment_docs(run: _Run, windows: list[str]) -> set[int]:
    """Documents holding every one of these fragment windows (keys) in their readings."""
    found: set[int] | None = None
    for window in windows:
        docs = run.window_docs(window)
        found = docs if found is None else found & docs
        if not found:
            return set()
    return found or set()




def _holds_reading(run: _Run, docnum: int, folded: str) -> bool:
    """Does the document hold a reading folded as ``folded`` under its ``codes`` terms (an
    item-level code, or item-level free text of several words)? Its codes first, from the
    table; its stored readings' terms only when they do not."""
    if folded in run.codes(docnum):
        return True
    term = f"f:{folded}"
    return any(level is None and term in reading_terms(column, text, is_code, "codes")
               for column, text, level, is_code, *_marking in run.stored(docnum)["values"])


# A word in more documents than this, beside a rarer word of the query, is checked on the
# rarer words' documents (their readings' words) instead of reading its posting lists: the
# ``A`` of ``А 201001`` is in 45,000 places, read in 10 ms the first time.
COMMON_WORD = 2048
COMMON_WORD_RATIO = 16  # ... and in this many times more documents than it is checked on


def _match_words(run: _Run, text: str) -> set[int]:
    """Documents holding every word of the text, in a field the reader may see. The
    rarest word first (by the terms' document counts), the others checked on its
    documents: a common word is never copied into a set of its own, nor read at all when
    far more common than what it is checked on."""
    words = list(dict.fromkeys(analysis.words(text)))
    if not words:
        return set()
    counts = {}
    if len(words) > 1:
        counts = {word: sum(run.cached.frequency(fieldname, word) for fieldname in run.word_fields)
                  for word in words}
        words.sort(key=counts.__getitem__)
    matched: set[int] | None = None
    for word in words:
        if matched is not None and counts[word] > COMMON_WORD and COMMON_WORD_RATIO * len(matched) < counts[word]:
            matched = {docnum for docnum in matched if _holds_word(run, docnum, word)}
        else:
            found = [docs for docs in (run.docs(fieldname, word) for fieldname in run.word_fields) if docs]
            if not found:
                return set()
            matched = set().union(*found) if matched is None \
                else {docnum for docnum in matched if any(docnum in docs for docs in found)}
        if not matched:
            return set()
    return matched


def _holds_word(run: _Run, docnum: int, word: str) -> bool:
    """Is the word indexed for one of the document's readings the reader may see (the
    same terms the index holds, from the readings it was written from)?"""
    return any(word in reading_terms(column, text, is_code, "words")
               for column, text, is_code in run.values(docnum))


def _match_pattern(run: _Run, folded: str, column: str | None) -> dict[int, float]:
    """``*`` (any run) and ``?`` (one character) in the query: candidates by the literal
    runs (from the fragment index when one is 4+ long), checked by a regular expression
    on the folded (60) and confusable (55) readings."""
    key = analysis.key_of_folded(folded)
    exact_re, key_re = analysis.wildcard_regex(folded), analysis.wildcard_regex(key)
    runs = [r for r in analysis.literal_runs(key) if len(r) >= analysis.MIN_FRAGMENT]
    scanned: dict[int, float] = {}
    if runs:
        candidates: set[int] | None = None
        for literal in runs:
            docs = _fragment_docs(run, analysis.fragment_terms(literal))
            candidates = docs if candidates is None else candidates & docs
    elif "*" not in key and key.count("?") == 1 \
            and analysis.STORED_DELETIONS_FROM <= len(key) <= analysis.STORED_DELETIONS_UP_TO:
        # a short code with one unreadable character: the code without it is one of the
        # stored one-deletion terms (codes of 3 characters or fewer have none: scanned)
        candidates = run.docs("dels", "1:" + key.replace("?", ""))
    elif column is None:  # short runs only: every code of a fitting length, scanned at once
        scanned, candidates = _scan_codes(run, folded, key)
    else:  # short runs only, in one field: walk the folded readings (slow, rare)
        candidates = set()
        for term in run.reader.expand_prefix("codes", "f:"):
            term = term.decode("utf-8") if isinstance(term, bytes) else term
            if key_re.match(analysis.key_of_folded(term[2:])):
                candidates |= run.docs("codes", term)
    # stored readings with "?" of their own (a partial serial typed as read): they have no
    # fragment or deletion terms, only their own reading and their "?" pattern term
    candidates = set(candidates or ()) | run.docs("codes", f"k:{key}")
    candidates |= _unknown_candidates(run, key)
    # the scanned documents' tiers, raised by the check of the others' readings
    scores = {docnum: tier for docnum, tier in scanned.items() if docnum not in run.hidden}
    for docnum in candidates - run.hidden:
        readings = ([analysis.fold(value) for _c, value, _code in run.values(docnum, column)] if column
                    else run.codes(docnum))
        for value_folded in readings:
            value_key = analysis.key_of_folded(value_folded)
            if value_folded == folded:
                _best(scores, [docnum], TIER_FOLDED)
            elif value_key == key:
                _best(scores, [docnum], TIER_CONFUSABLE)
            elif exact_re.match(value_folded):
                _best(scores, [docnum], TIER_FRAGMENT)
            elif key_re.match(value_key):
                _best(scores, [docnum], TIER_CONFUSABLE_FRAGMENT)
    return scores


def _unknown_readings(run: _Run) -> list[dict[int, _UnknownTable]]:
    """Each segment's stored codes with ``?`` (a few percent of the readings; they have
    no fragment or deletion terms), by length (see :class:`_UnknownTable`). Built once per
    segment from the documents of its ``?`` pattern terms and kept with it across saves;
    deleted documents are in (left out by the callers). A query runs over them all at once."""
    return run.cached.per_segment("unknown_readings", _segment_unknown_readings)


@dataclass
class _UnknownTable:
    """A segment's stored codes with ``?`` of one length: one string of ``folded + "\n"``
    lines, the same lines as keys, and the document of each line; and, to find the lines
    a query without ``?`` fits without compiling a regular expression per query, for each
    position the lines whose key has a given character or ``?`` there, as the bits of an
    integer (``fitting``: one bit per line, line 0 the lowest; ``unknown``: the lines
    with ``?`` there, which fit any character)."""

    lines: str
    keys: str
    owners: array
    fitting: list[dict[str, int]]
    unknown: list[int]

    @classmethod
    def of(cls, readings: list[str], owners: array) -> _UnknownTable:
        lines = "".join(folded + "\n" for folded in readings)
        keys = analysis.key_of_folded(lines)
        fitting, unknown = [], []
        for bits in analysis.position_masks(keys.split("\n")[:-1]):
            at_unknown = bits.pop("?", 0)
            fitting.append({ch: found | at_unknown for ch, found in bits.items()})
            unknown.append(at_unknown)
        return cls(lines, keys, owners, fitting, unknown)

    def fit(self, key: str) -> list[int]:
        """The lines (their numbers) whose key a query's key of this length fits."""
        lines = -1
        for fitting, unknown, ch in zip(self.fitting, self.unknown, key):
            lines &= fitting.get(ch, unknown)
            if not lines:
                return []
        found = []
        while lines:
            lowest = lines & -lines
            found.append(lowest.bit_length() - 1)
            lines ^= lowest
        return found


def _segment_unknown_readings(leaf, base: int) -> dict[int, _UnknownTable]:
    documents: set[int] = set()
    for term in leaf.lexicon("unk"):
        documents.update(leaf.postings("unk", term).all_ids())
    if not documents:
        return {}
    column = leaf.column_reader("code_text", translate=False)
    by_length: dict[int, list[tuple[str, int]]] = {}
    for docnum in sorted(documents):
        for folded in _folded_codes(column[docnum]):
            if "?" in folded:
                by_length.setdefault(len(folded), []).append((folded, docnum + base))
    return {length: _UnknownTable.of([folded for folded, _docnum in found],
                                     array("i", [docnum for _folded, docnum in found]))
            for length, found in by_length.items()}


def _unknown_candidates(run: _Run, key: str) -> set[int]:
    """Documents with a stored code with ``?`` that the pattern (a query's key, with
    ``?`` and ``*``) fits: of its length, or longer with a ``*``."""
    fixed = len(key.replace("*", ""))
    pattern = analysis.wildcard_lines_regex(key)
    found = set()
    for table in _unknown_readings(run):
        for length, readings in table.items():
            if length == fixed or ("*" in key and length > fixed):
                found.update(_line_owners(pattern, readings.keys, readings.owners, length))
    return found - run.cached.deleted()


def _unknown_fits(run: _Run, folded: str, key: str, column: str | None) -> dict[int, float]:
    """Documents with a stored code with ``?`` that a query without ``?`` fits (its ``?``
    any one character): 60 when the folded query fits, 55 when only its key does. A
    code of only ``?`` fits nothing; with field syntax, only a code of that column."""
    length = len(key)
    found: dict[int, float] = {}
    for table in _unknown_readings(run):
        readings = table.get(length)
        if readings is None:
            continue
        lines, owners = readings.lines, readings.owners
        for line in readings.fit(key):
            start = line * (length + 1)
            reading = lines[start:start + length]
            if reading.count("?") == length:
                continue
            docnum = owners[line]
            if column is not None and not any(col == column and code == reading
                                              for col, code, _raw in run._code_lines(docnum)):
                continue
            tier = TIER_FRAGMENT if analysis.unknown_matches(reading, folded) else TIER_CONFUSABLE_FRAGMENT
            if found.get(docnum, 0) < tier:
                found[docnum] = tier
    deleted, hidden = run.cached.deleted(), run.hidden
    return {docnum: tier for docnum, tier in found.items() if docnum not in deleted and docnum not in hidden}


def _line_owners(pattern: re.Pattern, lines: str, owners, length: int):
    """The owner of each line of ``lines`` (``length`` characters and a "\n" each) that
    ``pattern`` matches."""
    # up to the last line's end: a pattern of only "*" fits the empty text after it
    for match in pattern.finditer(lines, 0, len(lines) - 1):
        yield owners[match.start() // (length + 1)]


@dataclass
class _CodeTable:
    """The folded codes of a segment's documents (the readings the matchers check), by
    length: per length, one string of ``folded + "\n"`` lines, the same lines as keys,
    and the document of each line. Built once per segment (index data: the same for
    every reader; deleted documents left out by the scan), for the patterns that no literal run of 4 narrows down (``17?4??8``,
    ``??????``, ``2X*``): a regular expression runs over each string at C speed instead
    of a walk over the term list and a check of every document found."""

    lines: dict[int, tuple[str, str, array]]
    # documents the scan alone cannot rank (a reading longer than MAX_CODE: it may hold
    # "?" without a pattern term, or be too long for a term of its own): checked one by one
    irregular: set[int]


def _column_values(column) -> list[bytes]:
    """Every document's value of a segment's bytes column, read in one piece."""
    lengths = getattr(column, "_lengths", None)  # whoosh.columns.VarBytesColumn.Reader
    if lengths is None:
        return list(column)
    data = column._dbfile.get(column._basepos, sum(lengths))
    return [data[offset:offset + length] for offset, length in zip(column._offsets, lengths)]


def _code_table(run: _Run) -> list[_CodeTable]:
    """Each segment's code table, kept with the segment: after a save only the save's
    segment is read (building the big segments' tables takes a fifth of a second at
    100,000 items). Deleted documents are in them: the scan leaves them out."""
    return run.cached.per_segment("code_table", _segment_code_table)


def _segment_code_table(leaf, base: int) -> _CodeTable:
    codes: list[str] = []
    owners = array("i")
    try:
        column = leaf.column_reader("code_text", translate=False)
    except NotImplementedError:  # an index without a segment yet: no documents
        return _CodeTable({}, set())
    texts = _column_values(column)
    # the segment's code lines in one string, each line naming its document
    codes.extend(_folded_codes(b"\n".join(text for text in texts if text)))
    counts = [text.count(b"\n") + 1 if text else 0 for text in texts]
    owners.extend(chain.from_iterable(map(repeat, range(base, base + len(texts)), counts)))
    lengths = list(map(len, codes))  # no "\n" in a code: folding drops spaces
    order = sorted(range(len(codes)), key=lengths.__getitem__)
    ordered_lengths = [lengths[at] for at in order]
    by_length = {}
    for length in set(lengths):
        chosen = order[bisect_left(ordered_lengths, length):bisect_right(ordered_lengths, length)]
        found = "\n".join([codes[at] for at in chosen]) + "\n"
        by_length[length] = (found, analysis.key_of_folded(found), array("i", [owners[at] for at in chosen]))
    irregular = set(chain.from_iterable(found[2] for length, found in by_length.items()
                                        if length > analysis.MAX_CODE))
    return _CodeTable(by_length, irregular)


def _line_regex(pattern: str) -> re.Pattern:
    """A folded pattern with ``?`` and ``*`` as a regular expression over lines."""
    return re.compile("^" + "".join("[^\n]" if ch == "?" else "[^\n]*" if ch == "*" else re.escape(ch)
                                    for ch in pattern) + "$", re.M)


def _scan_codes(run: _Run, folded: str, key: str) -> tuple[dict[int, float], set[int]]:
    """Documents with a code that the pattern fits, folded (60) or as a key (55), and
    those of them to check one by one still (see :class:`_CodeTable`)."""
    fixed = len(key.replace("*", ""))
    deleted = run.cached.deleted()
    scores: dict[int, float] = {}
    irregular: set[int] = set()
    for table in _code_table(run):
        lengths = [n for n in table.lines if n == fixed or ("*" in key and n > fixed)]
        for tier, pattern, which in ((TIER_CONFUSABLE_FRAGMENT, _line_regex(key), 1),
                                     (TIER_FRAGMENT, _line_regex(folded), 0)):
            for length in lengths:
                for owner in _line_owners(pattern, table.lines[length][which], table.lines[length][2], length):
                    if owner not in deleted:
                        scores[owner] = tier
        irregular |= table.irregular
    return scores, irregular.intersection(scores)


def _match_filter(run: _Run, node: Node) -> set[int]:
    value = node.text.strip()
    if node.filter == "country":
        return run.docs("country", value.upper())
    if node.filter == "category":
        return run.docs("category", value.lower())
    if node.filter == "legibility":
        return run.docs("legibility", value.lower())
    return run.docs("case", analysis.fold(value))  # case, case_ref


def _match_node(run: _Run, node: Node) -> dict[int, float]:
    if node.filter:
        return dict.fromkeys(_match_filter(run, node), TIER_FILTER_ONLY)
    return _match_text(run, node.text, node.column)


def _filters(run: _Run, filters: Filters | None) -> set[int] | None:
    if filters is None or not filters.any():
        return None
    allowed: set[int] | None = None

    def narrow(docs: set[int]) -> None:
        nonlocal allowed
        allowed = docs if allowed is None else allowed & docs

    if filters.case:
        narrow(run.docs("case", analysis.fold(filters.case)))
    if filters.category:
        narrow(run.docs("category", filters.category))
    if filters.country:
        narrow(run.docs("country", filters.country.strip().upper()))
    if filters.legibility:
        narrow(run.docs("legibility", filters.legibility))
    if filters.recovered_from or filters.recovered_to:
        low = _day(filters.recovered_from) if filters.recovered_from else None
        high = _day(filters.recovered_to) if filters.recovered_to else None
        narrow(set(run.searcher.docs_for_query(wq.NumericRange("recovered", low, high))))
    return allowed


def _day(value: date) -> int:
    return value.year * 10000 + value.month * 100 + value.day


def _all_visible(run: _Run) -> set[int]:
    return set(run.searcher.docs_for_query(wq.Term("doctype", "item"))) - run.hidden


def evaluate(run: _Run, text: str, filters: Filters | None = None) -> dict[int, float]:
    """Docnums the reader may see that match, with their tier."""
    run.forget()
    result: dict[int, float] = {}
    for conjunction in parse(text):
        scores: dict[int, float] | None = None
        excluded: set[int] = set()
        for node in conjunction:
            found = _match_node(run, node)
            if node.negated:
                excluded |= set(found)
                continue
            if scores is None:
                scores = found
            else:
                scores = {d: min(s, found[d]) if s > TIER_FILTER_ONLY else found[d]
                          for d, s in scores.items() if d in found}
        if scores is None:  # only negations: everything else
            scores = dict.fromkeys(_all_visible(run), TIER_FILTER_ONLY)
        for docnum, score in scores.items():
            if docnum not in excluded and result.get(docnum, 0) < score:
                result[docnum] = score
    allowed = _filters(run, filters)
    if not text.strip() and allowed is not None:
        result = dict.fromkeys(allowed, TIER_FILTER_ONLY)
    elif allowed is not None:
        result = {d: s for d, s in result.items() if d in allowed}
    return {d: s for d, s in result.items() if d not in run.hidden}


# ------------------------------------------------------------------ explaining a hit


def _explain(run: _Run, docnum: int, text: str, found_at: float = 0) -> tuple[str, str, float, tuple[str, str, str]]:
    """The reading that matched best: (column, text as stored, score, highlight);
    ``found_at`` the document's tier, as the query found it."""
    nodes = [n for conj in parse(text) for n in conj if not n.negated and not n.filter]
    best = ("", "", 0.0, ("", "", ""))
    if not nodes:  # filters only: name the filter's column
        for node in (n for conj in parse(text) for n in conj if n.filter and not n.negated):
            if node.filter == "country":
                for col, value, _code in run.values(docnum):
                    if col in ("country_marked", "country_attributed") and value == node.text.strip().upper():
                        return col, value, float(TIER_FILTER_ONLY), ("", value, "")
            column = {"category": "category", "legibility": "serial_legibility"}.get(node.filter, "case_ref")
            value = run.stored(docnum)["case_ref"] if column == "case_ref" else node.text.strip().lower()
            return column, value, float(TIER_FILTER_ONLY), ("", value, "")
    # no reading can do better than the exact serial; nor, for a query of one node, than
    # a serial at the tier the query found the document at (its best reading's tier)
    enough = _BEST_SCORE if len(nodes) > 1 or found_at < TIER_FUZZY - 2 \
        else min(_BEST_SCORE, found_at + _MAX_BONUS)
    for node in nodes:
        for col, value, is_code in run.values(docnum, node.column):
            tier, span = _value_tier(node.text, value, is_code, col)
            if not tier:
                continue
            score = tier + FIELD_BONUS.get(col, 0) / 10
            if score > best[2]:
                best = (col, value, score, _highlight(value, span))
                if score >= enough:
                    return best
    if not best[0] and found_at == TIER_WORDS:  # words found in several readings, none holding them all
        best = _word_by_word(run, docnum, nodes)
    return best


def _word_by_word(run: _Run, docnum: int, nodes: list[Node]) -> tuple[str, str, float, tuple[str, str, str]]:
    """The best reading holding one of the query's words (``rifle dhow``: the type holds
    one, the place of recovery the other), that word highlighted: the hit is at the words
    tier, the reading shown is one of those that put it there."""
    best = ("", "", 0.0, ("", "", ""))
    for node in nodes:
        for word in analysis.words(node.text):
            for col, value, _is_code in run.values(docnum, node.column):
                score = TIER_WORDS + FIELD_BONUS.get(col, 0) / 10
                if score > best[2] and word in analysis.words(value):
                    at = analysis.fold(value).find(word)
                    best = (col, value, score, _highlight(value, (at, at + len(word)) if at >= 0 else None))
    return best


_MAX_BONUS = max(FIELD_BONUS.values()) / 10
_BEST_SCORE = TIER_EXACT + _MAX_BONUS


@dataclass(frozen=True)
class _QueryForm:
    """What :func:`_value_tier` needs of a query, computed once per query (it is called
    for every reading of every hit shown)."""

    folded: str
    key: str
    exact: str
    lot_shaped: bool
    words: tuple[str, ...]
    edits: int
    distance: Callable[[str], int]  # edit distance from the folded query, capped at edits + 1


@lru_cache(maxsize=4096)
def _query_form(query: str) -> _QueryForm:
    folded = analysis.fold(query)
    key = analysis.key_of_folded(folded)
    edits = analysis.allowed_edits(key)
    return _QueryForm(folded, key, exact_form(query), analysis.lot_shaped(query), tuple(analysis.words(query)),
                      edits, analysis.distance_from(folded, edits))


@lru_cache(maxsize=65536)  # the readings of hits, explained again and again
def _reading_forms(value: str) -> tuple[str, str, str]:
    """A stored reading's folded form, its confusable key and its exact form."""
    folded = analysis.fold(value)
    return folded, analysis.key_of_folded(folded), exact_form(value)


def _value_tier(query: str, value: str, is_code: bool, column: str = "") -> tuple[int, tuple[int, int] | None]:
    """The tier at which one stored reading matches a query, and the matched span in the
    reading's folded form (None: all of it)."""
    form = _query_form(query)
    folded, key, exact = _reading_forms(value)
    if not form.folded or not folded:
        return 0, None
    found = _reading_tier(form, value, folded, key, exact, column)
    if found[0] and (column == "lot" or (form.lot_shaped and "-" in analysis.lot_key(value))) \
            and not analysis.lot_groups_fit(query, value):
        return 0, None  # typed in groups, the groups must line up (28-61-88 is not 2-86-188)
    return found


def _reading_tier(form: _QueryForm, value: str, folded: str, key: str, exact: str,
                  column: str) -> tuple[int, tuple[int, int] | None]:
    """:func:`_value_tier` before the lot's groups are checked (only for a reading that
    matches: most do not)."""
    folded_query, key_query = form.folded, form.key
    # equal readings first, "?" and "*" included: a partial serial typed as stored is exact
    if form.exact == exact:
        return TIER_EXACT, None
    if folded_query == folded:
        return TIER_FOLDED, None
    if key_query == key:
        return TIER_CONFUSABLE, None
    if "*" in folded_query or "?" in folded_query:
        if analysis.wildcard_regex(folded_query).match(folded):
            return TIER_FRAGMENT, None
        if analysis.wildcard_regex(key_query).match(key):
            return TIER_CONFUSABLE_FRAGMENT, None
        return 0, None
    query_words = form.words
    # a word of the reading, folded, is a piece of the folded reading: most readings are
    # ruled out without splitting them into words
    if query_words and all(w in folded for w in query_words) \
            and all(w in analysis.words(value) for w in query_words):
        first = folded.find(query_words[0])
        return TIER_WORDS, (first, first + len(query_words[0])) if first >= 0 else None
    if "?" in folded and analysis.unknown_matches(key, key_query):
        return (TIER_FRAGMENT if analysis.unknown_matches(folded, folded_query) else TIER_CONFUSABLE_FRAGMENT), None
    if column in FRAGMENT_COLUMNS and len(folded_query) >= analysis.MIN_FRAGMENT and len(folded) <= analysis.MAX_CODE:
        at = folded.find(folded_query)
        if at >= 0:
            return TIER_FRAGMENT, (at, at + len(folded_query))
        at = key.find(key_query)
        if at >= 0:
            return TIER_CONFUSABLE_FRAGMENT, (at, at + len(key_query))
    edits = form.edits
    if column in FRAGMENT_COLUMNS and edits:
        distance = form.distance(folded)
        if distance <= edits:
            return TIER_FUZZY - distance, None
    return 0, None


def _highlight(value: str, span: tuple[int, int] | None) -> tuple[str, str, str]:
    """(before, matched, after) of the stored reading, mapping a span of its folded form
    back to the characters as typed."""
    if span is None:
        return "", value, ""
    folded, where = analysis.fold_with_map(value)
    if folded != analysis.fold(value) or span[1] > len(where) or span[0] >= span[1]:
        return "", value, ""
    start, end = where[span[0]], where[span[1] - 1] + 1
    return value[:start], value[start:end], value[end:]


# ------------------------------------------------------------------ the entry points


def _run(panel, clearance) -> _Run:
    return _Run(index.searcher_for(panel), clearance)


# A tier of up to this many hits, while the searcher has no reference table yet, is
# sorted by the references read from the column (building the table costs more).
SMALL_TIER = 256
WALK_SLACK = 256  # documents a walk of a reference order may go past four times the expected


@dataclass
class _RefOrder:
    """The item references of a segment's documents, numbered as the searcher does
    (deleted ones included), read from the column in one piece: ``refs[docnum - base]``.
    ``order`` lists the documents that have one (items) in the order of their
    references (UTF-8 bytes, as the text sorts; then by document number); ``unnamed``
    are those without (cases). Built once per segment and kept with it across saves."""

    base: int
    refs: list[bytes]
    order: array
    unnamed: frozenset[int]


def _segment_ref_order(leaf, base: int) -> _RefOrder:
    try:
        refs = _column_values(leaf.column_reader("item_ref", translate=False))
    except NotImplementedError:  # an index without a segment yet: no documents
        refs = []
    local = sorted(range(len(refs)), key=refs.__getitem__)  # stable: equal references by document
    named = bisect_right(local, b"", key=refs.__getitem__)  # b"" first: the cases
    return _RefOrder(base, refs, array("i", map(base.__add__, local[named:])),
                     frozenset(map(base.__add__, local[:named])))


@dataclass
class _RefIndex:
    """The segments' reference tables of a searcher, their references joined (document
    numbers follow each other from segment to segment)."""

    refs: list[bytes]
    named: int  # documents with a reference
    unnamed: frozenset[int]
    segments: list[_RefOrder]


def _ref_index(run: _Run) -> _RefIndex | None:
    """The searcher's :class:`_RefIndex` (joined once per searcher from the segments'
    tables); None when its segments do not number every document."""
    found = run.cached.derived.get("ref_index")
    if found is None:
        segments = run.cached.per_segment("ref_order", _segment_ref_order)
        refs = _joined_by_document(run, [(segment.base, segment.refs) for segment in segments])
        if refs is not False:
            found = _RefIndex(refs, sum(len(segment.order) for segment in segments),
                              frozenset().union(*(segment.unnamed for segment in segments)), segments)
        run.cached.derived["ref_index"] = found or False
    return found or None


def _first_by_walk(table: _RefIndex, scores: dict[int, float], tier: float, count: int, only: bool,
                   need: int) -> list[int] | None:
    """The first ``need`` of a tier of ``count`` documents by walking each segment's
    reference order until it has given ``need`` of them (about ``need`` in
    ``count / named`` of the walk), merged; None when a segment's walk runs past
    four times that (the tier is rare among its first references) or the tier holds
    a document without reference."""
    if not scores.keys().isdisjoint(table.unnamed):
        return None
    budget = 4 * need * table.named // count + WALK_SLACK
    firsts = []
    for segment in table.segments:
        walk = segment.order if len(segment.order) <= budget else segment.order[:budget]
        chosen = map(scores.__contains__, walk) if only \
            else map(eq, map(scores.get, walk, repeat(0)), repeat(tier))
        first = list(islice(compress(walk, chosen), need))
        if len(first) < need and len(walk) < len(segment.order):
            return None
        firsts.append(first)
    return firsts[0] if len(firsts) == 1 else sorted(chain.from_iterable(firsts), key=table.refs.__getitem__)[:need]


def _ranked(run: _Run, scores: dict[int, float], stop: int | None) -> list[int]:
    """Docnums by tier, then item reference (then document number); only as many tiers
    as ``stop`` needs are ranked, and of the last one only the first ``stop``. A few of
    a tier of thousands (``7?``) are found by walking the segments' reference orders
    (see :class:`_RefOrder`), else by the references held for the searcher."""
    tiers = sorted(set(scores.values()), reverse=True)
    ordered: list[int] = []
    table: _RefIndex | None = None
    for tier in tiers:
        only = len(tiers) == 1
        docs = scores if only else [docnum for docnum, score in scores.items() if score == tier]
        count, need = len(docs), None if stop is None else max(0, stop - len(ordered))
        if table is None and (count > SMALL_TIER or "ref_index" in run.cached.derived):
            table = _ref_index(run)
        first = None
        if table is not None and need is not None and need < count and 8 * need * table.named <= count * count:
            first = _first_by_walk(table, scores, tier, count, only, need)
        if first is not None:
            ordered.extend(first)
        else:  # by document number first: equal references stay in that order (the sorts are stable)
            docs = sorted(docs)
            if table is None:
                ordered.extend(sorted(docs, key=run.column("item_ref")))  # UTF-8 bytes sort as the text
            elif need is not None and need < count:
                ordered.extend(heapq.nsmallest(need, docs, key=table.refs.__getitem__))
            else:
                ordered.extend(sorted(docs, key=table.refs.__getitem__))
        if stop is not None and len(ordered) >= stop:
            break
    return ordered


def search(panel, text: str, *, clearance: Classification, filters: Filters | None = None,
           limit: int | None = 20, offset: int = 0) -> Result:
    """Hits of ``text`` in the panel that a reader of ``clearance`` may see: one per item
    (its best reading), best first."""
    return _search(_run(panel, clearance), text, filters=filters, limit=limit, offset=offset)


def _search(run: _Run, text: str, *, filters: Filters | None = None, limit: int | None = 20,
            offset: int = 0) -> Result:
    scores = evaluate(run, text or "", filters)
    stop = None if limit is None else offset + limit
    ordered = _ranked(run, scores, stop)
    page = ordered[offset:stop]
    hits = []
    for docnum in page:
        data = run.stored(docnum)
        column, matched, score, highlight = _explain(run, docnum, text or "", scores[docnum])
        if not column:
            score = float(scores[docnum])
        photo = next((p[0] for p in data["photos"] if p[1] in run.levels), None)
        hits.append(Hit(item_id=data["item_id"], item_ref=data["item_ref"], case_id=data["case_id"],
                        case_ref=data["case_ref"], field=column, matched=matched, score=score,
                        highlight=highlight, photo_id=photo,
                        marking_id=run.marking_of(docnum, column, matched) if column else None))
    hits.sort(key=lambda h: (-h.score, h.item_ref))
    return Result(hits=hits, total=len(scores), query=text)


def item_ids(panel, text: str, *, clearance: Classification, filters: Filters | None = None) -> list[int]:
    """Every item the query finds for this reader (the lists' text filter)."""
    run = _run(panel, clearance)
    items = run.cached.column("item_no")
    return [items[d] for d in evaluate(run, text or "", filters)]


def case_ids(panel, text: str, *, clearance: Classification) -> set[int]:
    """Cases whose reference, title or summary match, or holding an item that matches."""
    run = _run(panel, clearance)
    cases = run.cached.column("case_no")
    found = {cases[d] for d in evaluate(run, text or "")}
    hidden_cases = run.docs("deleted", "1")
    for level in LEVELS:
        if level not in run.levels:
            hidden_cases |= run.docs("vis", level)
    case_docs = run.docs("doctype", "case") - hidden_cases
    folded = analysis.fold(text or "")
    if folded:
        matched = run.docs("codes", "k:" + analysis.key_of_folded(folded))
        words = analysis.words(text)
        if words:
            hits = None
            for word in words:
                docs = run.docs("words", word)
                hits = docs if hits is None else hits & docs
            matched |= hits or set()
        found |= {cases[d] for d in matched & case_docs}
    return found


def batch(panel, lines: list[str], *, clearance: Classification, limit: int = 20) -> list[dict]:
    """One result per line, in order (a blank line gives no hits). One searcher for the
    whole list, and a line repeated in it is searched once."""
    run = _run(panel, clearance)
    found: dict[str, list[Hit]] = {"": []}
    results = []
    for line in lines:
        text = line.strip()
        if text not in found:
            found[text] = _search(run, text, limit=limit).hits
        results.append({"query": line.rstrip("\r\n"), "hits": found[text]})
    return results
