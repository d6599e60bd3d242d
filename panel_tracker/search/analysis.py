"""Fold markings so that differently typed readings of one marking meet.

Markings are read off worn metal and typed by different experts on
different keyboards: the same serial arrives as ``АК 7709`` (Cyrillic),
``AK7709``, ``ak-7709``; the same number in Persian digits ``۸۷۰۴۱۲`` or in
ASCII ``870412``. Stored text stays verbatim; search compares the folded
forms of query and marking (see "Reading markings" in the domain notes).

Two levels:

- :func:`fold` removes differences that carry no meaning (case, script of
  look-alike letters and of digits, separators). Equal folds are the same
  reading.
- :func:`confusable_key` also merges characters that are easily mistaken
  for each other in transcription (O and 0, S and 5...). Equal keys are
  *possibly* the same reading, to be ranked below equal folds.

``?`` (one illegible character) is kept by both, for the matcher to treat
as a wildcard.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache, partial
from typing import Callable

from rapidfuzz.distance import Levenshtein

# Cyrillic capitals that look like Latin capitals (folding upper-cases
# first, so lower-case Cyrillic reaches this table as a capital).
_CYRILLIC_LOOKALIKES = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "У": "Y",
}
# Separators typed inconsistently inside serials and lots, beyond the
# Unicode classes handled in _FoldTable: dots (including the Arabic
# decimal separator in "۱۲٫۷" and the ideographic full stop), slashes, the
# minus sign.
_DROPPED = frozenset(".\u00b7\u066b\u3002/\\\u2044\u2215\u2212")
# Unicode categories dropped whole: dashes and hyphens (Pd), connector
# punctuation such as "_" (Pc), and invisible format characters (Cf: zero
# width joiners common in Persian text, direction marks, soft hyphen, BOM).
_DROPPED_CATEGORIES = frozenset({"Pd", "Pc", "Cf"})

_CONFUSABLES = str.maketrans({
    "O": "0", "D": "0", "Q": "0",
    "I": "1", "L": "1", "7": "1",
    "S": "5",
    "B": "8",
    "Z": "2",
    "G": "6",
})


class _FoldTable(dict[int, str | None]):
    """A str.translate table computed on first sight of each character.

    Deciding from Unicode properties covers every dash and every script's
    decimal digits (not only the Arabic-Indic and Persian ones experts meet
    most) without listing them; caching keeps translate fast.
    """

    def __missing__(self, codepoint: int) -> str | None:
        character = chr(codepoint)
        replacement: str | None = character
        if character in _CYRILLIC_LOOKALIKES:
            replacement = _CYRILLIC_LOOKALIKES[character]
        elif character.isdecimal():
            replacement = str(unicodedata.decimal(character))
        elif (character.isspace() or character in _DROPPED
              or unicodedata.category(character) in _DROPPED_CATEGORIES):
            replacement = None
        self[codepoint] = replacement
        return replacement


_FOLD_TABLE = _FoldTable()


# ASCII text, most readings, folds by a table of bytes at C speed (str.translate with the
# table above looks each character up in a dict: four times slower): NFKC leaves ASCII as
# it is, casefold and upper case make it upper case, and the table keeps or drops each
# ASCII character, mapping none to another (tests/test_search_analysis.py checks all 128).
_ASCII_DROPPED = bytes(code for code in range(128) if _FOLD_TABLE[code] is None)


@lru_cache(maxsize=65536)  # pure: the same readings and queries are folded again and again
def fold(text: str) -> str:
    """The reading with meaningless differences removed.

    NFKC (full-width and compatibility forms to plain ones), upper case,
    Cyrillic look-alikes to Latin (``АК`` to ``AK``), digits of any script
    to ASCII (``۸۷۰۴۱۲`` to ``870412``), and spaces, dashes, dots, slashes
    and underscores dropped (``71 85``, ``71/85`` and ``7185`` all fold to
    ``7185``). ``?`` is kept.
    """
    if text.isascii():
        return text.upper().encode("ascii").translate(None, _ASCII_DROPPED).decode("ascii")
    return unicodedata.normalize("NFKC", text).casefold().upper().translate(_FOLD_TABLE)


def confusable_key(text: str) -> str:
    """The folded reading with transcription confusables merged:
    O/D/Q to 0, I/L/7 to 1, S to 5, B to 8, Z to 2, G to 6.

    ``24O17747`` (letter O, read from a photograph) and ``24017747`` share
    a key. Equal keys are candidates, not proof: rank equal folds first.
    """
    return key_of_folded(fold(text))


# The confusables are ASCII: on UTF-8 bytes a table of 256 does the same (other bytes
# stay), at C speed, for the long strings of many codes the searcher scans.
_CONFUSABLE_BYTES = bytes.maketrans(bytes(_CONFUSABLES), "".join(_CONFUSABLES.values()).encode("ascii"))


def key_of_folded(folded: str) -> str:
    """:func:`confusable_key` of a reading already folded (or of lines of them): on its
    UTF-8 bytes, the confusables being ASCII (two to eight times faster than
    ``str.translate`` even for a short reading)."""
    return folded.encode("utf-8").translate(_CONFUSABLE_BYTES).decode("utf-8")


# ---------------------------------------------------------------------------
# Tokenisers: the terms a value is indexed under and a query is looked up by.
# Index and query both call these functions, so they cannot drift apart.
# No stop words anywhere: on marking fields every token is evidence.

import re

# A code (serial, lot, mark...) longer than this gets no fragment or typo terms:
# long free-text marks are searched by their words instead.
MAX_CODE = 20
MIN_FRAGMENT = 4  # "a fragment from the middle of a serial (4+ characters)"
FUZZY_ONE = 5  # one edit forgiven from 5 folded characters
FUZZY_TWO = 10  # two edits from 10

_WORD_SPLIT = re.compile(r"[\s,;:()\[\]{}<>\"'«»“”‘’|+=!]+")


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """:func:`fold`, character by character, with the index in ``text`` each folded
    character came from (to highlight the matched part of the stored reading).
    Equal to ``fold(text)`` except for rare combining sequences; callers check."""
    out: list[str] = []
    where: list[int] = []
    for index, character in enumerate(text):
        for folded in unicodedata.normalize("NFKC", character).casefold().upper().translate(_FOLD_TABLE):
            out.append(folded)
            where.append(index)
    return "".join(out), where


def words(text: str) -> list[str]:
    """Folded words of free text (type, make, notes, captions): split on spaces and
    punctuation, each word folded (so ``7.62x39mm`` is one word, ``762X39MM``)."""
    return list(_words(text or ""))


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, ...]:
    return tuple(folded for folded in (fold(part) for part in _WORD_SPLIT.split(text)) if folded)


MAX_FRAGMENT_TERM = 5  # longer fragments are found by their windows of this length


def substrings(code: str, minimum: int = MIN_FRAGMENT, maximum: int = MAX_FRAGMENT_TERM) -> set[str]:
    """The fragment terms of a code: every substring of 4 or 5 characters (shared by many
    codes, so the index stays small); none for codes longer than :data:`MAX_CODE`. A
    longer fragment is looked up by its :func:`windows` and then checked."""
    n = len(code)
    if n < minimum or n > MAX_CODE:
        return set()
    return {code[i:i + size] for size in range(minimum, maximum + 1) for i in range(n - size + 1)}


def fragment_index_terms(folded: str, key: str) -> set[str]:
    """The fragment terms of a code (folded, and its key): its :func:`substrings` folded
    (``f:``), what a fragment typed as read is looked up by, and as keys (``k:``), what a
    window is looked up by: one look-up for every reading of it."""
    return {"f:" + s for s in substrings(folded)} | {"k:" + s for s in substrings(key)}


def windows(code: str, size: int) -> list[str]:
    """The substrings of ``code`` of exactly ``size`` characters, left to right."""
    return [code[i:i + size] for i in range(len(code) - size + 1)]


def fragment_terms(code: str) -> list[str]:
    """What a fragment query is looked up by: itself (4–5 characters) or its windows of 5."""
    return [code] if len(code) <= MAX_FRAGMENT_TERM else windows(code, MAX_FRAGMENT_TERM)


def deletions(code: str, edits: int) -> set[str]:
    """The deletion neighbourhood: ``code`` with up to ``edits`` characters removed."""
    found = {code}
    frontier = {code}
    for _ in range(edits):
        frontier = {s[:i] + s[i + 1:] for s in frontier for i in range(len(s))}
        found |= frontier
    return found


def pair_deletions(code: str) -> set[str]:
    """``code`` with each pair of positions removed, the first and second, the third and
    fourth...; an odd last position alone."""
    return {code[:i] + code[i + 2:] for i in range(0, len(code), 2)}


# Stored codes with deletion terms: from the shortest a typo query of 5 can be (4), up
# to 9, the longest a one-edit query (5 to 9) can reach through them; it reaches codes of
# 10 through its windows. Two-edit queries reach codes of 8 and more through end terms
# and windows.
STORED_DELETIONS_FROM, STORED_DELETIONS_UP_TO = FUZZY_ONE - 1, 9
# Queries (and stored codes) of this many characters or more use pair deletions: the terms
# of shorter ones less a pair (3 or 4 characters) would each bring thousands of candidates.
PAIRS_FROM = 7


def stored_deletions(code: str) -> set[str]:
    """The typo candidate terms of a stored code of 4 to 9 characters: it, its
    one-deletion neighbourhood and, from :data:`PAIRS_FROM` characters, its
    :func:`pair_deletions`. A one-edit query whose own (:func:`query_deletions`) meets
    these is a candidate, found without scanning the term list; a pattern of 4 to 9
    characters with one ``?`` and no readable run of 4 finds its codes by the term of it
    without the ``?``. Longer codes are reached through :func:`typo_windows` and
    :func:`end_terms`, shorter ones have none."""
    n = len(code)
    if n < STORED_DELETIONS_FROM or n > STORED_DELETIONS_UP_TO:
        return set()
    found = deletions(code, 1) | pair_deletions(code) if n >= PAIRS_FROM else deletions(code, 1)
    return {"1:" + s for s in found}


def allowed_edits(code: str) -> int:
    """Typos forgiven for a query of this folded length: 0, 1 (5+), or 2 (10+)."""
    return 2 if len(code) >= FUZZY_TWO else 1 if len(code) >= FUZZY_ONE else 0


def query_deletions(code: str) -> set[str]:
    """The terms a one-edit query (5 to 9 characters) looks its typo candidates of 4 to 9
    characters up by. From :data:`PAIRS_FROM` characters: itself, and itself with each
    pair of positions removed (:func:`pair_deletions`), one look-up for every two
    characters, not one for each. They meet a stored code's own (:func:`stored_deletions`):

    - a code one longer (a character missing from the query) holds the query among its
      one-deletions;
    - a code of the same length with one character wrong holds the query with the pair
      of that character removed among its pair deletions (the same pair: same length);
    - a code one shorter (a character extra in the query) holds among its one-deletions
      the query with the pair of the extra character removed: the code with the other
      character of the pair removed.

    A shorter query looks up itself and its one-deletions, met by a stored code's own in
    the same three ways. A query of two edits (10 characters or more) looks up none: its
    candidates of 8 or 9 characters have end terms (:func:`query_end_terms`) and fragment
    terms (:func:`typo_windows`), like the longer ones."""
    if allowed_edits(code) != 1:
        return set()
    if len(code) < PAIRS_FROM:
        return {"1:" + s for s in deletions(code, 1)}
    return {"1:" + s for s in pair_deletions(code) | {code}}


# Two typos in a query of 10 to 14 characters can leave no intact run of 5 (a window
# selective enough to look up): such queries are found through the ends of stored codes of
# 8 to 16 characters instead (see end_terms), every length they reach.
ENDS_FROM, ENDS_UP_TO = FUZZY_TWO - 2, FUZZY_TWO + 6


def end_terms(code: str) -> set[str]:
    """The typo candidate terms of a stored code of 8 to 16 characters: its first two and
    last two characters (``c``), its last three (``s``), and its first three with the three
    characters ending 0, 1 or 2 before its end (``e0``, ``e1``, ``e2``). Not its length: a
    query reaches five lengths with one look-up per term (the candidates' lengths are
    checked first, at no cost)."""
    n = len(code)
    if not ENDS_FROM <= n <= ENDS_UP_TO:
        return set()
    terms = {f"c:{code[:2]}|{code[-2:]}", f"s:{code[-3:]}"}
    terms.update(f"e{t}:{code[:3]}|{code[n - t - 3:n - t]}" for t in range(3))
    return terms


# The kinds of the second of two typos (characters of the query, of the stored code) by
# the stored code's length less the query's: both typos are extra in a query two longer,
# both missing from one two shorter; one longer or shorter, the other typo is wrong (one
# typo alone leaves a run of 5: found by its window).
_SECOND_TYPO = {-2: ((1, 0),), -1: ((1, 1), (1, 0)), 0: ((1, 1), (1, 0), (0, 1)), 1: ((1, 1), (0, 1)),
                2: ((0, 1),)}


def query_end_terms(code: str) -> set[str]:
    """The end terms a query of 10 to 14 characters looks up, for every stored length two
    typos allow (8 to 16: ``n - 2`` to ``n + 2``; the terms do not hold it). Two typos cut
    the query into three runs, before, between and after them (some maybe empty),
    whatever the stored code's length. When none is 5 long (else :func:`typo_windows`
    finds it, a stored code of 8 characters or more having its fragment terms), the query
    is at most 14 long, the runs together at least ``n - 2`` and so:

    - the first and the last run are 2 or longer: the stored code starts with the query's
      first two characters and ends with its last two (``c``);
    - or the first is shorter: then the last is 3 or longer (``s``);
    - or the last is shorter: then the first and the middle one are 3 or longer; the
      middle run ends 0, 1 or 2 characters before the end of each (``e``).

    Eight look-ups: ``c``, ``s`` and six ``e`` (the last run 0 or 1 long, then the second
    typo wrong, extra in the query or missing from it). A query of 15 characters or more
    looks up none: its runs together are 13 or longer, so one of the three is 5 long.
    """
    n = len(code)
    if allowed_edits(code) < 2 or n > ENDS_UP_TO - 2:
        return set()
    terms = {f"c:{code[:2]}|{code[-2:]}", f"s:{code[-3:]}"}
    for length in range(max(ENDS_FROM, n - 2), min(ENDS_UP_TO, n + 2) + 1):
        # the last run (0 or 1 long), then the second typo: wrong (query 1, stored 1
        # character), extra in the query (1, 0) or missing from it (0, 1), as the
        # stored code's length allows
        for last in (0, 1):
            for in_query, in_stored in _SECOND_TYPO[length - n]:
                end = n - last - in_query
                terms.add(f"e{last + in_stored}:{code[:3]}|{code[end - 3:end]}")
    return terms


def typo_windows(code: str) -> list[str]:
    """Typo candidates among codes too long for the query's deletion terms: the query's
    windows of 5, looked up among the fragment terms (which every stored code of 4 to
    :data:`MAX_CODE` characters has). A one-edit query of 9 characters looks them up
    (for codes of 10), one of 8 or fewer does not (every code within one edit of it has
    deletion terms); a two-edit query (10 or more) always does. One edit splits a query
    into two runs, two edits into three; when one is 5 or longer, its window finds the
    code. When none is (two typos in 10 to 14 characters), :func:`query_end_terms` does:
    windows of 4 would also do, but a code's start is shared by thousands (``ZX11…``),
    each then checked. Candidates are checked by :func:`edit_distance`."""
    n, edits = len(code), allowed_edits(code)
    if not edits or n + edits <= STORED_DELETIONS_UP_TO:
        return []
    return windows(code, MAX_FRAGMENT_TERM)


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), capped at
    ``limit + 1`` (RapidFuzz: bit-parallel, in C++)."""
    return Levenshtein.distance(a, b, score_cutoff=limit)


def distance_from(a: str, limit: int) -> Callable[[str], int]:
    """:func:`edit_distance` from ``a`` to many codes (the hundreds of typo candidates of
    one query): a function of ``b`` giving ``edit_distance(a, b, limit)``, at a third of
    a microsecond a code."""
    return partial(Levenshtein.distance, a, score_cutoff=limit)


def position_masks(codes: list[str]) -> list[dict[str, int]]:
    """For each position of codes of one length, the codes having each character there,
    as the bits of an integer (code 0 the lowest bit)."""
    masks = []
    for column in zip(*codes):  # the codes' characters at one position, code 0 last
        column = "".join(reversed(column))
        chars = set(column)
        zeros = {ord(ch): "0" for ch in chars}
        masks.append({ch: int(column.translate({**zeros, ord(ch): "1"}), 2) for ch in chars})
    return masks


class SameLengthCodes:
    """Codes of one length, indexed by position and character, to find those within a
    few edits of a query all at once: the Levenshtein automaton of the query run over
    every code in step, one bit per code (Python integers as bit vectors). A window that
    thousands of codes share (a model's serial prefix) costs a few hundred operations on
    long integers instead of an edit distance per code."""

    def __init__(self, codes: list[str]):
        self.codes = codes
        self.length = len(codes[0]) if codes else 0
        self.masks = position_masks(codes)

    def within(self, query: str, limit: int) -> list[tuple[int, int]]:
        """(index of the code, its distance) of every code within ``limit`` edits."""
        n = len(query)
        if not self.codes or abs(n - self.length) > limit:
            return []
        # states[i][e]: the codes that, read so far, may be the query's first i
        # characters with e edits
        states = [[0] * (limit + 1) for _ in range(n + 1)]
        states[0][0] = (1 << len(self.codes)) - 1
        for i in range(min(n, limit)):  # query characters missing from the code's start
            states[i + 1][i + 1] = states[i][i]
        for masks in self.masks:
            equal = [masks.get(ch, 0) for ch in query]
            after = [[0] * (limit + 1) for _ in range(n + 1)]
            for i in range(n + 1):
                for e in range(limit + 1):
                    codes = states[i][e]
                    if not codes:
                        continue
                    if i < n:
                        after[i + 1][e] |= codes & equal[i]  # the same character
                        if e < limit:
                            after[i + 1][e + 1] |= codes  # another character
                    if e < limit:
                        after[i][e + 1] |= codes  # a character more in the code
            for i in range(n):  # a query character missing from the code
                for e in range(limit):
                    if after[i][e]:
                        after[i + 1][e + 1] |= after[i][e]
            states = after
        found, seen = [], 0
        for e in range(limit + 1):
            codes = states[n][e] & ~seen
            seen |= states[n][e]
            while codes:
                lowest = codes & -codes
                found.append((lowest.bit_length() - 1, e))
                codes ^= lowest
        return found


def unknown_segments(code: str) -> list[tuple[int, str]]:
    """The readable runs of a reading with ``?`` (one unreadable character), with their
    offsets: ``17?402?8`` gives ``[(0, "17"), (3, "402"), (7, "8")]``."""
    return [(m.start(), m.group()) for m in re.finditer(r"[^?]+", code)]


def unknown_pattern_term(code: str) -> str | None:
    """The term a stored reading with ``?`` is found by: its length, and the offset and
    text of its longest readable run (``8@3:402`` for ``17?402?8``). A query of the same
    length holding that run at that offset is a candidate."""
    if "?" not in code or len(code) > MAX_CODE:
        return None
    segments = unknown_segments(code)
    if not segments:
        return None
    offset, text = max(segments, key=lambda s: len(s[1]))
    return f"{len(code)}@{offset}:{text}"


def unknown_matches(pattern: str, code: str) -> bool:
    """Does a reading with ``?`` fit ``code`` (``?`` matching any one character)?"""
    return len(pattern) == len(code) and all(p == "?" or p == c for p, c in zip(pattern, code))


def _pattern_parts(folded_pattern: str, any_character: str) -> str:
    # a stored "?" is unreadable: any character of the query fits it
    return "".join(any_character if ch == "?" else any_character + "*" if ch == "*" else f"[{re.escape(ch)}?]"
                   for ch in folded_pattern)


@lru_cache(maxsize=4096)
def wildcard_regex(folded_pattern: str) -> re.Pattern:
    """A folded query with ``*`` (any run) and ``?`` (one character) as a regex over a
    folded reading. ``?`` is unknown on either side: a ``?`` of the reading fits any one
    character of the query (``RX459*`` fits ``RX45?12``, ``1?340258`` fits ``17?40258``)."""
    return re.compile("^" + _pattern_parts(folded_pattern, ".") + "$", re.S)


@lru_cache(maxsize=4096)
def wildcard_lines_regex(folded_pattern: str) -> re.Pattern:
    """:func:`wildcard_regex` over a string of readings, one a line."""
    return re.compile("^" + _pattern_parts(folded_pattern, "[^\n]") + "$", re.M)


def literal_runs(folded_pattern: str) -> list[str]:
    """The runs of a wildcard pattern between ``*`` and ``?``."""
    return [run for run in re.split(r"[*?]+", folded_pattern) if run]


# ---------------------------------------------------------------------------
# Keys the pattern finder groups by.

_LOT_SPLIT = re.compile(r"[\s\-‐‑‒–—―/\\.·_,:]+")
_LOT_PREFIX = re.compile(r"^(LOT|ЛОТ|L)\s*[.:#№N°]*\s*", re.I)


@lru_cache(maxsize=65536)
def lot_key(lot: str) -> str:
    """A lot as its separator-delimited groups, folded, with any ``LOT`` prefix removed:
    ``LOT 17-85-71``, ``17/85/71`` and ``17 85 71`` give ``17-85-71``, and ``2-86-188``
    never equals ``28-61-88`` (the groups differ though the digits are the same)."""
    text = unicodedata.normalize("NFKC", lot or "").strip()
    text = re.sub(r"^\s*(LOT|ЛОТ)\b\s*[.:#№]*\s*", "", text, flags=re.I)
    groups = [fold(g) for g in _LOT_SPLIT.split(text)]
    return "-".join(g for g in groups if g)


def lot_groups_fit(query: str, lot: str) -> bool:
    """Can a query typed in groups (``2-86-188``) be this lot, or part of it? Its groups
    must line up with the lot's (inner groups equal, the outer ones may be cut), so
    ``28-61-88`` never finds ``2-86-188`` although both fold to ``286188``. A group with
    ``?`` or ``*`` fits a lot's group as a pattern does a reading: ``2-86-1?8`` fits
    ``2-86-188``, ``28-61-8?`` does not."""
    wanted, groups = lot_key(query).split("-"), lot_key(lot).split("-")
    if len(wanted) < 2:
        return True
    first, last = _group_fit(wanted[0], "end"), _group_fit(wanted[-1], "start")
    inner = [_group_fit(group, "whole") for group in wanted[1:-1]]
    for start in range(len(groups) - len(wanted) + 1):
        window = groups[start:start + len(wanted)]
        if first(window[0]) and last(window[-1]) and all(fit(group) for fit, group in zip(inner, window[1:-1])):
            return True
    return False


@lru_cache(maxsize=4096)
def _group_fit(group: str, where: str) -> Callable[[str], object]:
    """A test of a lot's group against one group of a query (truthy when it fits): the
    lot's group ends with it (``end``: the query's first group may be cut at its start),
    starts with it (``start``: the last group) or is it (``whole``)."""
    if "?" not in group and "*" not in group:
        return {"end": lambda lot_group: lot_group.endswith(group),
                "start": lambda lot_group: lot_group.startswith(group),
                "whole": group.__eq__}[where]
    parts = _pattern_parts(group, ".")
    return re.compile({"end": ".*" + parts + "$", "start": parts, "whole": parts + "$"}[where], re.S).match


def in_groups(query: str) -> bool:
    """Is the query typed in two groups or more (``В 139071``, ``2-86-188``), so that a lot
    it meets must line up with them (see :func:`lot_groups_fit`)?"""
    return len(lot_key(query).split("-")) >= 2


def lot_shaped(query: str) -> bool:
    """A query typed in two or more groups of digits only (``28-61-88``): a lot, read
    group by group (``HX-S5-11840`` is a serial: its separators don't matter)."""
    groups = lot_key(query).split("-")
    return len(groups) >= 2 and all(g.isdigit() for g in groups)


_LAST_RUN = re.compile(r"([0-9O]*[0-9][0-9O]*)(?!.*[0-9])")


def serial_run(serial: str) -> tuple[str, int, int] | None:
    """(prefix, number, width) of a serial's last run of digits, with only O→0 repaired
    in that run (``24O17747`` → ``("", 24017747, 8)``, ``НЖ 1190`` → ``("HЖ", 1190, 4)``),
    or None when there is no digit or a character is unreadable."""
    folded = fold(serial or "")
    if not folded or "?" in folded:
        return None
    match = _LAST_RUN.search(folded)
    if match is None:
        return None
    run = match.group(1)
    if match.start(1) > 0 and folded[match.start(1) - 1].isalpha():
        run = run.lstrip("O") or run  # Os right after letters belong to the prefix
    start = match.end(1) - len(run)
    digits = run.replace("O", "0")
    return folded[:start], int(digits), len(digits)
