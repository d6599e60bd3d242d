"""The search analysis, rule by rule: the tokenisers index and query share."""
from __future__ import annotations

import pytest

from panel_tracker.search import analysis as a


def test_words_fold_each_word_and_keep_every_word_no_stop_words():
    assert a.words("The rifle, 7.62x39mm (AK-pattern); a") == ["THE", "RIFLE", "762X39MM", "AKPATTERN", "A"]


def test_fold_with_map_points_back_to_the_characters_as_typed():
    folded, where = a.fold_with_map("ZX11-210371")
    assert folded == "ZX11210371"
    assert where[4] == 5  # the "2" after the dash


def test_fragments_are_indexed_as_substrings_of_four_and_five_and_looked_up_by_windows():
    subs = a.substrings("24017731")
    assert {"1773", "2401", "01773", "17731"} <= subs
    assert "177" not in subs and "017731" not in subs  # longer ones: by their windows
    assert a.fragment_terms("017731") == ["01773", "17731"]
    assert a.substrings("X" * 21) == set()  # long free text is searched by words


def test_one_typo_in_a_short_code_is_found_through_the_deletion_neighbourhoods():
    stored = a.stored_deletions(a.confusable_key("HЖ 1182"))
    assert stored & a.query_deletions(a.confusable_key("HЖ 1183"))  # substitution
    assert stored & a.query_deletions(a.confusable_key("HЖ 11822"))  # one extra
    assert stored & a.query_deletions(a.confusable_key("HЖ 182"))  # one missing (6 characters)


def test_one_typo_in_a_longer_code_is_found_through_an_intact_window():
    stored = a.substrings(a.confusable_key("HX-S5-11840"))
    assert stored & set(a.typo_windows(a.confusable_key("HX-S5-11846")))


def test_typos_in_long_codes_are_found_through_an_intact_window():
    stored = a.substrings("ZX11210371")
    assert a.stored_deletions("ZX11210371") == set()
    assert stored & set(a.typo_windows("ZX11219372"))  # two substitutions
    assert a.allowed_edits("ZX112103") == 1 and a.allowed_edits("ZX11") == 0


def _edited(code: str, filler: str) -> set[str]:
    """Every reading one substitution, insertion or deletion away from ``code``."""
    return ({code[:i] + filler + code[i + 1:] for i in range(len(code))}
            | {code[:i] + filler + code[i:] for i in range(len(code) + 1)}
            | {code[:i] + code[i + 1:] for i in range(len(code))})


def _is_typo_candidate(stored: str, typed: str) -> bool:
    """What the index gives a typo query as candidates (query.py), for one stored code."""
    if (a.stored_deletions(stored) | a.end_terms(stored)) & (a.query_deletions(typed) | a.query_end_terms(typed)):
        return True
    return bool(a.substrings(stored) & set(a.typo_windows(typed)))


@pytest.mark.parametrize("stored", ["HX458120", "HX4581209", "HX45812095", "HX458120956", "HX4581209563",
                                    "HX458120956317", "HX4581209563172", "HX45812095631728",
                                    "HX45812095631",
                                    # 8 and 9 characters, reached by two-edit queries through their
                                    # end terms and windows only: digits, repeats, a common start
                                    "24017731", "240177312", "11111111", "111111111", "11111112",
                                    "ZX112103", "ZX1121037", "A1A1A1A1", "A1A1A1A1A", "AAAA1111",
                                    "1234AAAAA"])
@pytest.mark.parametrize("fillers", ["WV", "first and last"])
def test_every_reading_within_the_typos_forgiven_is_a_candidate(stored, fillers):
    # two typos spread evenly over 10 or 11 characters (HX4W8120V5: runs of 3, 3 and 2)
    # leave no intact run of 4: they used to be missed. The typed characters are new ones
    # (W, V) or the code's own (its first and last: an extra 1 in 11111111 shifts nothing)
    first, second = "WV" if fillers == "WV" else (stored[0], stored[-1])
    readings = {two for one in _edited(stored, first) for two in _edited(one, second)}
    forgiven = [typed for typed in readings
                if a.edit_distance(stored, typed, 2) <= a.allowed_edits(typed)]
    assert "HX4W8120V5" in forgiven or len(stored) != 10 or fillers != "WV"
    assert any(len(typed) >= a.FUZZY_TWO for typed in forgiven) or len(stored) < 8
    assert [typed for typed in forgiven if not _is_typo_candidate(stored, typed)] == []


@pytest.mark.parametrize("stored", ["HX45", "HX458", "HX4581", "2401773", "24017731", "240177312", "11111",
                                    "A1A1A1", "1234AAAAA", "ЕК3317"])
def test_every_reading_one_edit_away_is_a_candidate_of_a_query_looking_up_one_term_per_pair(stored):
    # a one-edit query of 7 characters or more looks up itself and itself less each pair
    # of characters (5 terms for 7 characters, not 8), a shorter one itself and its
    # one-deletions: every substitution, insertion and deletion, by a new character or
    # the code's own, still meets the stored code's terms
    readings = set().union(*(_edited(stored, filler) for filler in ("W", stored[0], stored[-1], "7")))
    forgiven = [typed for typed in readings if a.edit_distance(stored, typed, 1) == 1 <= a.allowed_edits(typed)]
    assert forgiven
    assert [typed for typed in forgiven if not _is_typo_candidate(stored, typed)] == []
    assert len(a.query_deletions(stored)) <= (len(stored) // 2 + 2 if len(stored) >= a.PAIRS_FROM else len(stored) + 1)
    assert len(a.query_deletions("1234567")) == 5


@pytest.mark.parametrize("typed", ["ZX11231426", "ZX112314267", "FC76211661"])
def test_a_query_of_two_edits_looks_up_end_terms_not_deletion_terms(typed):
    # codes of 8 and 9 characters have end terms, as the longer ones: a query of 10 or 11
    # looks up 8 terms, not 62-78 (38-46 of them its one- and two-deletions, almost
    # always absent) nor one set per stored length (28): its c and s terms, and the e
    # terms of the second typos the lengths from n - 2 to n + 2 allow
    looked_up = a.query_deletions(typed) | a.query_end_terms(typed)
    assert not [term for term in looked_up if term.startswith("1:")]
    kinds = sorted(term.split(":")[0] for term in looked_up)
    assert kinds == ["c", "e0", "e1", "e1", "e1", "e2", "e2", "s"]
    assert a.end_terms("ZX112103") and a.end_terms("ZX1121037")
    # codes two shorter and two longer, with no run of 5 left intact, meet them
    shorter = typed[:3] + typed[4:7] + typed[8:]
    longer = typed[:3] + "W" + typed[3:7] + "V" + typed[7:]
    for stored in (shorter, longer):
        assert not a.substrings(stored) & set(a.typo_windows(typed))
        assert a.end_terms(stored) & looked_up
    # one-edit queries (5-9 characters) still meet the stored codes' one-deletion terms
    assert a.query_deletions("ZX112104") & a.stored_deletions("ZX112103")
    assert a.query_deletions("ZX112103") & a.stored_deletions("ZX1121037")


@pytest.mark.parametrize(("x", "y", "distance"), [
    ("HXS511840", "HXS511846", 1), ("ZX11210371", "ZX1121037", 1), ("ABCDEF", "ABXDEFG", 2), ("AAAA", "BBBB", 3),
])
def test_edit_distance_counts_insertions_deletions_and_substitutions(x, y, distance):
    assert a.edit_distance(x, y, 2) == distance


def test_a_reading_with_unknown_characters_is_found_by_its_longest_readable_run():
    pattern = a.unknown_pattern_term("17?402?8")
    assert pattern == "8@3:402"
    assert a.unknown_matches("17?402?8", "17340258")
    assert not a.unknown_matches("17?402?8", "1734025")


def _fits(pattern: str, reading: str) -> bool:
    return a.wildcard_regex(pattern).match(reading) is not None


def test_a_query_with_unknown_characters_fits_a_reading_with_others_unknown():
    assert _fits("17?402?8", "17?402?8")
    assert _fits("1?340258", "17?40258")  # unreadable on either side
    assert a.unknown_pattern_term("17?40258") == "8@3:40258"
    assert not _fits("1?340258", "17?40358")
    assert _fits("17?4?258", "1?340258") and not _fits("17?4?258", "1?340358")  # a "?" inside the run
    assert not _fits("17?402?8", "17?402?")


def test_wildcards_become_anchored_patterns():
    assert _fits("2401*", "24017731")
    assert not _fits("2401*", "12401773")
    assert _fits("24?17*", "24O17747")
    assert _fits("[A]^*", "[A]^1") and not _fits("[A]^*", "A^1")  # characters special to a regex are themselves
    assert a.literal_runs("24*17?47") == ["24", "17", "47"]


def test_a_wildcard_fits_a_reading_with_an_unknown_character_wherever_it_falls():
    assert _fits("RX459*", "RX45?12")  # the reading's "?" may be the query's 9
    assert _fits("R?459*", "RX45?12") and _fits("*5?12", "RX45?12") and _fits("RX45?1*", "RX45?12")
    assert not _fits("RX4592*", "RX45?12")  # the 2 meets the reading's 1
    assert not _fits("RX459*", "RX46912") and not _fits("RX459*", "RX4?")  # too short
    readings = "RX45?12\nRX46?12\nRX4?9\nRX45912\n"  # a string of readings, one a line
    assert a.wildcard_lines_regex("RX459*").findall(readings) == ["RX45?12", "RX4?9", "RX45912"]
    assert a.wildcard_lines_regex("RX4?9??").findall(readings) == ["RX45?12", "RX46?12", "RX45912"]


@pytest.mark.parametrize(("typed", "key"), [
    ("LOT 17-85-71", "17-85-71"), ("17/85/71", "17-85-71"), ("17 85 71", "17-85-71"), ("2-86-188", "2-86-188"),
    ("28-61-88", "28-61-88"), ("lot D-2214", "D-2214"),
])
def test_lots_compare_by_their_groups_with_the_lot_prefix_removed(typed, key):
    assert a.lot_key(typed) == key


def test_lots_with_the_same_digits_in_other_groups_differ():
    assert a.lot_key("2-86-188") != a.lot_key("28-61-88")


@pytest.mark.parametrize(("serial", "run"), [
    ("24O17747", ("", 24017747, 8)), ("НЖ 1190", ("HЖ", 1190, 4)), ("6914072", ("", 6914072, 7)),
    ("ZX11-210371", ("ZX", 11210371, 8)), ("17?402?8", None), ("", None),
])
def test_serial_runs_take_the_last_digits_with_only_o_repaired(serial, run):
    assert a.serial_run(serial) == run


@pytest.mark.parametrize(("query", "lot", "fits"), [
    ("2-86-188", "2-86-188", True), ("86-188", "2-86-188", True), ("6-18", "2-86-188", True),
    ("28-61-88", "2-86-188", False), ("2-86-190", "2-86-188", False), ("286188", "2-86-188", True),
    ("LOT 17/85/71", "17-85-71", True),
    # groups with unreadable characters or wildcards line up the same way
    ("2-86-1?8", "2-86-188", True),
    ("28-61-8?", "2-86-188", False),
    ("2-8?-188", "28-61-88", False),
    ("?-86-188", "2-86-188", True),
    ("2-86-18*", "2-86-188", True),
    ("17-85-*", "LOT 17-85-71", True),
    ("*-61-88", "2-86-188", False),
    ("8?-18", "2-86-188", True),
])
def test_a_lot_typed_in_groups_must_line_up_with_the_lots_groups(query, lot, fits):
    assert a.lot_groups_fit(query, lot) is fits


def _all_strings(alphabet: str, longest: int) -> list[str]:
    import itertools

    return [""] + ["".join(p) for n in range(1, longest + 1) for p in itertools.product(alphabet, repeat=n)]


def _levenshtein(x: str, y: str) -> int:
    """The textbook table: the reference the search's edit distances are checked against."""
    row = list(range(len(y) + 1))
    for i, cx in enumerate(x, 1):
        before, row[0] = row[0], i
        for j, cy in enumerate(y, 1):
            before, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, before + (cx != cy))
    return row[-1]


def test_distance_from_a_query_is_the_edit_distance_to_every_reading():
    # every pair over a small alphabet (every shape of edit), Cyrillic included, capped
    # at one more than the limit
    strings = _all_strings("AB0", 5) + ["ЖБ7", "ЖБ", "Ж7", "AЖB0"]
    for query in strings[::7] + ["ЖБ7"]:
        distances = {limit: a.distance_from(query, limit) for limit in (1, 2, 3)}
        for reading in strings:
            true = _levenshtein(query, reading)
            for limit, distance in distances.items():
                assert distance(reading) == a.edit_distance(query, reading, limit) == min(true, limit + 1), \
                    (query, reading, limit)


def test_codes_of_one_length_give_every_code_within_the_edits_at_once():
    strings = _all_strings("AB0Ж", 4)
    for length in range(1, 5):
        codes = [s for s in strings if len(s) == length]
        same_length = a.SameLengthCodes(codes)
        for query in strings[::11]:
            for limit in (1, 2):
                expected = {n: _levenshtein(query, code) for n, code in enumerate(codes)
                            if _levenshtein(query, code) <= limit}
                assert dict(same_length.within(query, limit)) == expected, (query, length, limit)


def test_the_key_of_many_folded_lines_is_the_key_of_each_line():
    lines = "\n".join(["24O17747", "ZX1I-2S", "ЖБ7DQ", "ÄÖ0OLI"] * 100)
    assert a.key_of_folded(lines).split("\n") == [a.key_of_folded(line) for line in lines.split("\n")]


def test_the_table_of_readings_with_unknown_characters_gives_the_lines_a_query_fits():
    from array import array

    from panel_tracker.search.query import _UnknownTable

    readings = ["17?40258", "1??40258", "17?40358", "????????", "I7?4O25B", "27?40258"]
    table = _UnknownTable.of(readings, array("i", range(100, 100 + len(readings))))
    key = a.key_of_folded("17740258")
    fits = [readings[line] for line in table.fit(key)]
    # the lines the anchored pattern over the keys finds (what a query used to compile)
    assert [table.keys[line * 9:line * 9 + 8] for line in table.fit(key)] \
        == a.wildcard_lines_regex(key).findall(table.keys)
    assert fits == ["17?40258", "1??40258", "????????", "I7?4O25B"]  # the confusables by their key
    assert [table.owners[line] for line in table.fit(key)] == [100, 101, 103, 104]
    assert table.fit(a.key_of_folded("99999999")) == [3]  # only the unreadable one


def test_ascii_text_folds_as_the_unicode_rules_fold_it():
    """ASCII readings take a faster path (a table of bytes): the same result, character
    by character and on readings mixing what is kept and dropped."""
    import random
    import unicodedata

    def by_the_rules(text: str) -> str:
        return unicodedata.normalize("NFKC", text).casefold().upper().translate(a._FOLD_TABLE)

    for code in range(128):
        assert a.fold.__wrapped__(chr(code)) == by_the_rules(chr(code)), repr(chr(code))
    rng = random.Random(3)
    for _ in range(2000):
        text = "".join(chr(rng.randrange(128)) for _ in range(rng.randrange(1, 30)))
        assert a.fold.__wrapped__(text) == by_the_rules(text), repr(text)
    assert a.fold("zx11-231 426/b.\t_x") == "ZX11231426BX"
    assert a.key_of_folded("ZX11-0OISB") == "2X11-00158" and a.key_of_folded("АК7") == "АК1"
