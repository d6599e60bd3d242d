"""The Whoosh schema of a panel's search index: one document per item and per case.

Every term is computed by :mod:`panel_tracker.search.analysis` (the same functions the
query side calls), so the fields are plain term lists (``ID`` fields given a list).
Nothing is scored by term statistics: hits are ranked by the tier of the match
(exact, folded, confusable, fragment, typo), so what a reader may not see cannot
change the order of what they see.
"""
from __future__ import annotations

from whoosh import columns, fields

from ..classification import Classification

# Bump when the schema or the analysis changes: an index of another version is rebuilt.
SCHEMA_VERSION = 22

LEVELS = tuple(c.value for c in Classification)


class Terms(fields.ID):
    """A field given the list of its terms, as :mod:`analysis` computed them: indexed as
    they are, without Whoosh's tokenizer pipeline per value (a third of a rebuild's time
    spent adding documents)."""

    def index(self, value, **kwargs):
        if isinstance(value, str):
            value = [value]
        return [(term.encode("utf-8"), 1, 1.0, b"") for term in set(value)]


def get_schema() -> fields.Schema:
    terms = dict(stored=False)
    schema = fields.Schema(
        id=fields.ID(unique=True, stored=True),  # "item:12" or "case:3"
        doctype=Terms(**terms),  # item | case
        case=Terms(**terms),  # the case reference, folded
        # Columns only (no terms): read for thousands of hits at a microsecond each.
        item_ref=fields.COLUMN(columns.VarBytesColumn()),  # UTF-8, to order hits within a tier
        item_no=fields.COLUMN(columns.NumericColumn("q")),  # item id (0 for a case)
        case_no=fields.COLUMN(columns.NumericColumn("q")),
        code_text=fields.COLUMN(columns.VarBytesColumn()),  # "column<TAB>folded<TAB>code" lines: typo, fragment, field checks
        # What the visibility filter needs, applied at query time.
        vis=Terms(**terms),  # effective classification: the stricter of case and item
        deleted=Terms(**terms),  # "1" when the item or its case is deleted
        # Filters of the advanced form.
        category=Terms(**terms),
        country=Terms(**terms),  # marked and attributed
        legibility=Terms(**terms),
        recovered=fields.NUMERIC(int, bits=32, signed=False, shift_step=16),  # yyyymmdd of its first day
        photo=Terms(**terms),  # ids of the photos whose captions are in the document
        # Whole readings (see analysis): f: folded, k: confusable key (even when the same).
        # Field syntax (lot:…) and the exact reading are checked on the stored readings.
        codes=Terms(**terms),
        frag=Terms(**terms),  # 4- and 5-character substrings of codes, folded (f:) and as keys (k:)
        dels=Terms(**terms),  # typo candidates: one-deletion neighbourhoods of keys of 4-9, ends of 8-16
        unk=Terms(**terms),  # readings with "?": length, offset and longest run
        words=Terms(**terms),  # folded words of every item-level field
        # Words governed by a stricter classification (source details, captions), by level.
        **{f"words_{level}": Terms(**terms) for level in LEVELS},
        # refs, readings by field and level, photos, signature: a column of pickles read
        # straight (a stored field is compressed: the explanation of 20 hits read it at
        # about 20 µs a hit, a third of an exact query's time)
        data=fields.COLUMN(columns.PickleColumn(columns.VarBytesColumn())),
    )
    return schema


def naive_schema() -> fields.Schema:
    """One TEXT field with Whoosh's default analyser: what the benchmark compares with."""
    return fields.Schema(id=fields.ID(unique=True, stored=True), content=fields.TEXT())
