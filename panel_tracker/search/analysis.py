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


def fold(text: str) -> str:
    """The reading with meaningless differences removed.

    NFKC (full-width and compatibility forms to plain ones), upper case,
    Cyrillic look-alikes to Latin (``АК`` to ``AK``), digits of any script
    to ASCII (``۸۷۰۴۱۲`` to ``870412``), and spaces, dashes, dots, slashes
    and underscores dropped (``71 85``, ``71/85`` and ``7185`` all fold to
    ``7185``). ``?`` is kept.
    """
    return unicodedata.normalize("NFKC", text).casefold().upper().translate(_FOLD_TABLE)


def confusable_key(text: str) -> str:
    """The folded reading with transcription confusables merged:
    O/D/Q to 0, I/L/7 to 1, S to 5, B to 8, Z to 2, G to 6.

    ``24O17747`` (letter O, read from a photograph) and ``24017747`` share
    a key. Equal keys are candidates, not proof: rank equal folds first.
    """
    return fold(text).translate(_CONFUSABLES)
