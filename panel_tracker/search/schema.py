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
SCHEMA_VERSION = 14

LEVELS = tuple(c.value for c in Classification)


def get_schema() -> fields.Schema:
    terms = dict(stored=False)
    schema = fields.Schema(
        id=fields.ID(unique=True, stored=True),  # "item:12" or "case:3"
        doctype=fields.ID(**terms),  # item | case
        case=fields.ID(**terms),  # the case reference, folded
        # Columns only (no terms): read for thousands of hits at a microsecond each.
        item_ref=fields.COLUMN(columns.VarBytesColumn()),  # UTF-8, to order hits within a tier
        item_no=fields.COLUMN(columns.NumericColumn("q")),  # item id (0 for a case)
        case_no=fields.COLUMN(columns.NumericColumn("q")),
        code_text=fields.COLUMN(columns.VarBytesColumn()),  # "column<TAB>folded<TAB>code" lines: typo, fragment, field checks
        # What the visibility filter needs, applied at query time.
        vis=fields.ID(**terms),  # effective classification: the stricter of case and item
        deleted=fields.ID(**terms),  # "1" when the item or its case is deleted
        # Filters of the advanced form.
        category=fields.ID(**terms),
        country=fields.ID(**terms),  # marked and attributed
        legibility=fields.ID(**terms),
        recovered=fields.NUMERIC(int, bits=32, signed=False, shift_step=16),  # yyyymmdd of its first day
        photo=fields.ID(**terms),  # ids of the photos whose captions are in the document
        # Whole readings (see analysis): f: folded, k: confusable key (when it differs).
        # Field syntax (lot:…) and the exact reading are checked on the stored readings.
        codes=fields.ID(**terms),
        frag=fields.ID(**terms),  # 4- and 5-character substrings of folded codes (f:) and keys (k:)
        dels=fields.ID(**terms),  # typo candidates: one-deletion neighbourhoods of short keys, ends of 10-12
        unk=fields.ID(**terms),  # readings with "?": length, offset and longest run
        words=fields.ID(**terms),  # folded words of every item-level field
        # Words governed by a stricter classification (source details, captions), by level.
        **{f"words_{level}": fields.ID(**terms) for level in LEVELS},
        data=fields.STORED(),  # refs, readings by field and level, photos, signature
    )
    return schema


def naive_schema() -> fields.Schema:
    """One TEXT field with Whoosh's default analyser: what the benchmark compares with."""
    return fields.Schema(id=fields.ID(unique=True, stored=True), content=fields.TEXT())
