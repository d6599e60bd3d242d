"""Marking folding: the search expectations of the sample README, at the
level of the folded forms that search compares."""
from __future__ import annotations

import pytest

from panel_tracker.search.analysis import confusable_key, fold


@pytest.mark.parametrize(("typed", "marked"), [
    pytest.param("ZX11210371", "ZX11-210371", id="dashes-dropped"),
    pytest.param("HX S5 11840", "HX-S5-11840", id="spaces-and-dashes"),
    pytest.param("EK3317", "ЕК 3317", id="latin-finds-cyrillic"),
    pytest.param("AK 7709", "АК 7709", id="latin-with-space-finds-cyrillic"),
    pytest.param("ак7709", "АК 7709", id="lower-case-cyrillic"),
    pytest.param("870412", "۸۷۰۴۱۲", id="ascii-finds-persian-digits"),
    pytest.param("۵۴۰۲۱۱۷", "5402117", id="persian-finds-ascii-digits"),
    pytest.param("٣", "3", id="arabic-indic-digit"),
    pytest.param("zx11-210374", "ZX11-210374", id="case"),
    pytest.param("71 85", "7185", id="headstamp-space"),
    pytest.param("71/85", "7185", id="headstamp-slash"),
    pytest.param("17/85/71", "17-85-71", id="lot-slashes"),
    pytest.param("17 85 71", "17-85-71", id="lot-spaces"),
    pytest.param("ＺＸ１１–２１０３７１", "ZX11-210371", id="full-width-and-en-dash"),
    pytest.param("FC7_0009412", "FC7.0009412", id="underscore-and-dot"),
    pytest.param("12\u200c87", "1287", id="zero-width-non-joiner"),
])
def test_readings_typed_differently_fold_to_the_same_marking(typed: str, marked: str) -> None:
    assert fold(typed) == fold(marked)


def test_folded_serials_read_as_plain_upper_case_ascii() -> None:
    assert fold("АК 7709") == "AK7709"
    assert fold("۸۷۰۴۱۲") == "870412"
    assert fold("ЕВ 4410") == "EB4410"
    assert fold("71 85") == fold("71/85") == fold("7185") == "7185"


def test_every_cyrillic_look_alike_folds_to_its_latin_letter() -> None:
    assert fold("АВЕКМНОРСТХУ") == "ABEKMHOPCTXY"
    assert fold("авекмнорстху") == "ABEKMHOPCTXY"


def test_cyrillic_letters_without_a_latin_twin_are_kept() -> None:
    assert fold("НЖ 1182") == "HЖ1182"
    assert fold("Л 104417") == "Л104417"


def test_unknown_character_mark_is_kept_in_place() -> None:
    assert fold("17?402?8") == "17?402?8"
    assert fold("17 ? 402-?8") == "17?402?8"


def test_different_lots_do_not_fold_together() -> None:
    assert fold("2-86-190") != fold("2-86-188")


@pytest.mark.parametrize(("typed", "marked"), [
    pytest.param("24017747", "24O17747", id="letter-O-for-zero"),
    pytest.param("24017747", "24D17747", id="D-for-zero"),
    pytest.param("24017747", "24Q17747", id="Q-for-zero"),
    pytest.param("ZX11-210371", "ZXII-2IO37I", id="I-for-one"),
    pytest.param("ZX11-210371", "zxll-2lo37l", id="lower-l-for-one"),
    pytest.param("1000", "7000", id="seven-for-one"),
    pytest.param("HX-S5-11840", "HX-55-11840", id="S-for-five"),
    pytest.param("NV004418", "NV00441B", id="B-for-eight"),
    pytest.param("Z2", "22", id="Z-for-two"),
    pytest.param("G6", "66", id="G-for-six"),
    pytest.param("24017747", "24 O17-747", id="confusable-and-separators"),
])
def test_transcription_confusables_share_a_key(typed: str, marked: str) -> None:
    assert fold(typed) != fold(marked)
    assert confusable_key(typed) == confusable_key(marked)


def test_confusable_key_keeps_other_characters_apart() -> None:
    assert confusable_key("24017747") != confusable_key("24017748")
    assert confusable_key("17?402?8") == "11?402?8"
