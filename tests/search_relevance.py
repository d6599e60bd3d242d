"""The marking search's relevance set on the sample data (tests/data/sample/items.csv)
and a few readings the sample lacks (tests/data/relevance_items.csv: a partial serial
and serials of 3 characters): each query with the item refs it must return and those it
must not (hard negatives included: near-miss lots, serials one confusable and one typo
apart, panel-only items a viewer must not see). Used by tests/test_search_relevance.py."""
from __future__ import annotations

from pathlib import Path

ITEM_FILES = [Path(__file__).parent / "data" / "sample" / "items.csv",
              Path(__file__).parent / "data" / "relevance_items.csv"]

# (query, must return, must not return, reader): refs are item refs, short-handed below.
A, B, C = "YEM-2023-004", "YEM-2023-011", "YEM-2024-002"
D, E, F = "YEM-2024-009", "YEM-2024-017", "YEM-2024-021"
G, H, J, K = "YEM-2024-030", "YEM-2025-003", "YEM-2025-008", "YEM-2025-012"
L = "YEM-2024-040"  # relevance_items.csv: RX4-5?12, RX4-6912, 123, 1X3, 1234, I23

TYPE56_RUN = {f"{A}/01", f"{A}/02", f"{A}/03", f"{F}/01", f"{F}/02", f"{J}/01"}
LOT_178571 = {f"{A}/08", f"{B}/04", f"{C}/04"}

CASES: list[tuple[str, set[str], set[str], str]] = [
    # exact readings
    ("24017734", {f"{A}/02"}, set(), "expert"),
    ("24017731", {f"{A}/01"}, {f"{H}/02"}, "expert"),
    ("6914072", {f"{A}/05"}, set(), "expert"),
    ("8031177", {f"{A}/04"}, set(), "expert"),
    ("ZX11-210371", {f"{C}/01"}, set(), "expert"),
    ("FC7-0009412", {f"{C}/03"}, set(), "expert"),
    ("HX-S5-11840", {f"{D}/03"}, set(), "expert"),
    ("RX4-00917", {f"{E}/01"}, {f"{E}/02"}, "expert"),
    ("NV004418", {f"{G}/06"}, set(), "expert"),
    ("5610447", {f"{F}/03"}, set(), "expert"),
    ("6701448", {f"{B}/06"}, set(), "expert"),
    ("6300915", {f"{G}/03"}, set(), "expert"),
    ("17440281", {f"{H}/02"}, {f"{H}/03"}, "expert"),
    ("GN7B-04471", {f"{D}/04"}, set(), "expert"),
    # folded: case, separators, scripts of letters and digits
    ("zx11-210374", {f"{C}/02"}, set(), "expert"),
    ("ZX11210371", {f"{C}/01"}, set(), "expert"),
    ("zx 11 210371", {f"{C}/01"}, set(), "expert"),
    ("HX S5 11840", {f"{D}/03"}, set(), "expert"),
    ("hx.s5.11840", {f"{D}/03"}, set(), "expert"),
    ("fc7/0009412", {f"{C}/03"}, set(), "expert"),
    ("EK3317", {f"{B}/01"}, set(), "expert"),
    ("ek 3317", {f"{B}/01"}, set(), "expert"),
    ("AK 7709", {f"{F}/04"}, set(), "expert"),
    ("AK7709", {f"{F}/04"}, set(), "expert"),
    ("TH 0517", {f"{A}/09"}, set(), "expert"),
    ("EB4410", {f"{F}/06"}, set(), "expert"),
    ("НЖ 1182", {f"{B}/03"}, {f"{J}/02"}, "expert"),
    ("HЖ1190", {f"{J}/02"}, {f"{B}/03"}, "expert"),
    ("Л104417", {f"{G}/01"}, set(), "expert"),
    ("ИА-2209", {f"{H}/04"}, set(), "expert"),
    ("870412", {f"{D}/01"}, set(), "expert"),
    ("۸۷۰۴۱۲", {f"{D}/01"}, set(), "expert"),
    ("160338", {f"{H}/06"}, set(), "expert"),
    ("۵۴۰۲۱۱۷", {f"{H}/05"}, {f"{J}/03"}, "expert"),
    ("5402117", {f"{H}/05"}, {f"{J}/03"}, "expert"),  # 5401177: a 1/7 confusable and a typo apart
    ("٥٤٠٢١١٧", {f"{H}/05"}, set(), "expert"),
    # confusables O/0/D/Q, I/l/1/7, S/5, B/8, Z/2, G/6
    ("24017747", {f"{J}/01"}, set(), "expert"),
    ("24O17731", {f"{A}/01"}, set(), "expert"),
    ("24D17734", {f"{A}/02"}, set(), "expert"),
    ("24Q17738", {f"{A}/03"}, set(), "expert"),
    ("24OI7736", {f"{F}/01"}, set(), "expert"),
    ("24017l42", {f"{F}/02"}, set(), "expert"),
    ("HX-55-11840", {f"{D}/03"}, set(), "expert"),
    ("HX-S5-II84O", {f"{D}/03"}, set(), "expert"),
    ("NV0044I8", {f"{G}/06"}, set(), "expert"),
    ("GNTB-04477", set(), {f"{D}/04"}, "expert"),  # T is no confusable of 7: two edits at 9
    ("6N7B-04471", {f"{D}/04"}, set(), "expert"),
    ("GN78-04471", {f"{D}/04"}, set(), "expert"),
    ("2X11-210371", {f"{C}/01"}, set(), "expert"),
    ("S6I0447", {f"{F}/03"}, set(), "expert"),
    # fragments from the middle (4+)
    ("1773", {f"{A}/01", f"{A}/02", f"{A}/03", f"{F}/01"}, {f"{F}/02"}, "expert"),
    ("0177", {f"{A}/01", f"{A}/02", f"{A}/03", f"{F}/01", f"{F}/02", f"{J}/01"}, set(), "expert"),
    ("210371", {f"{C}/01"}, {f"{C}/02"}, "expert"),
    ("4402", {f"{H}/02"}, set(), "expert"),
    ("09412", {f"{C}/03"}, set(), "expert"),
    ("S5-118", {f"{D}/03"}, set(), "expert"),
    ("3317", {f"{B}/01"}, set(), "expert"),
    ("0441", {f"{D}/04"}, set(), "expert"),
    # unreadable characters
    ("17340258", {f"{B}/02"}, set(), "expert"),
    ("17?402?8", {f"{B}/02"}, set(), "expert"),
    ("24?17731", {f"{A}/01"}, {f"{A}/02"}, "expert"),
    ("2401773?", {f"{A}/01", f"{A}/02", f"{A}/03", f"{F}/01"}, {f"{F}/02"}, "expert"),
    ("ZX11-21037?", {f"{C}/01", f"{C}/02"}, set(), "expert"),
    # codes of 3 characters or fewer (factory codes, years): the pattern's length, never longer
    ("3?6", {f"{B}/02", f"{H}/02", f"{H}/03"}, {f"{H}/06"}, "expert"),
    ("1?8", {f"{G}/02", f"{J}/04"}, {f"{A}/06", f"{A}/08", f"{B}/04"}, "expert"),
    ("?88", {f"{G}/02", f"{J}/04"}, {f"{B}/05", f"{G}/05"}, "expert"),
    ("4?", {f"{A}/06", f"{C}/06"}, {f"{A}/01", f"{A}/05"}, "expert"),
    ("1?3", {f"{L}/03", f"{L}/04", f"{L}/06"}, {f"{L}/05"}, "expert"),  # I23: a confusable
    ("?23", {f"{L}/03", f"{L}/06"}, {f"{L}/04", f"{L}/05"}, "expert"),
    # a "?" on the stored side (RX4-5?12): any one character, for every kind of query
    ("RX4-5912", {f"{L}/01"}, set(), "expert"),
    ("RX4-59?2", {f"{L}/01"}, {f"{L}/02"}, "expert"),
    ("RX4-59*", {f"{L}/01"}, {f"{L}/02"}, "expert"),
    ("RX4-S9*", {f"{L}/01"}, {f"{L}/02"}, "expert"),
    ("R?4-59*", {f"{L}/01"}, {f"{L}/02"}, "expert"),
    ("RX4-592*", set(), {f"{L}/01", f"{L}/02"}, "expert"),  # its 2 meets the stored reading's 1
    # wildcards
    ("2401*", TYPE56_RUN, {f"{H}/02"}, "expert"),
    ("*0917", {f"{E}/01"}, {f"{E}/02"}, "expert"),
    ("ZX11*", {f"{C}/01", f"{C}/02"}, set(), "expert"),
    ("RX4-009*", {f"{E}/01", f"{E}/02"}, set(), "expert"),
    ("1744*", {f"{H}/02", f"{H}/03"}, set(), "expert"),
    # typos: one for 5+, two for 10+
    ("HX-S5-11846", {f"{D}/03"}, set(), "expert"),
    ("ZX11-21037", {f"{C}/01", f"{C}/02"}, set(), "expert"),
    ("ZX11-2103711", {f"{C}/01"}, set(), "expert"),
    ("FC7-0009421", {f"{C}/03"}, set(), "expert"),  # two edits (transposition) at 10+
    ("FC7-0019422", {f"{C}/03"}, set(), "expert"),
    ("6701449", {f"{B}/06"}, set(), "expert"),
    ("630915", {f"{G}/03"}, set(), "expert"),
    ("7709", {f"{F}/04"}, set(), "expert"),
    ("1234", set(), {f"{F}/04"}, "expert"),  # too short for a typo
    # lots, headstamps, import marks and the near-miss lots
    ("71 85", LOT_178571, set(), "expert"),
    ("71/85", LOT_178571, set(), "expert"),
    ("7185", LOT_178571, set(), "expert"),
    ("17-85-71", LOT_178571, set(), "expert"),
    ("17/85/71", LOT_178571, set(), "expert"),
    ("lot:17-85-71", LOT_178571, {f"{F}/05"}, "expert"),
    ("lot:2-86-188", {f"{G}/02", f"{G}/05"}, {f"{J}/04"}, "expert"),
    ("lot:2-86-190", {f"{J}/04"}, {f"{G}/02", f"{G}/05"}, "expert"),
    ("2-86-190", {f"{J}/04"}, {f"{G}/02", f"{G}/05"}, "expert"),
    ("28-61-88", set(), {f"{G}/02", f"{G}/05"}, "expert"),  # same digits, other groups
    ("86-188", {f"{G}/02", f"{G}/05"}, {f"{J}/04"}, "expert"),
    ("2-86-1?8", {f"{G}/02", f"{G}/05"}, {f"{J}/04"}, "expert"),  # groups with a pattern line up too
    ("28-61-8?", set(), {f"{G}/02", f"{G}/05"}, "expert"),
    ("lot:28-6?-88", set(), {f"{G}/02", f"{G}/05"}, "expert"),
    ("2-86-1*", {f"{G}/02", f"{G}/05", f"{J}/04"}, set(), "expert"),
    ("lot:05-98", {f"{A}/06", f"{A}/07", f"{C}/06"}, set(), "expert"),
    ("headstamp:41 98", {f"{A}/06", f"{C}/06"}, {f"{A}/07"}, "expert"),
    ("headstamp:188/86", {f"{G}/02", f"{J}/04"}, {f"{G}/05"}, "expert"),
    ("SAHIL TRD ADEN", {f"{H}/05"}, set(), "expert"),
    ("import:sahil trd aden", {f"{H}/05"}, set(), "expert"),
    ("lot:D-2214", {f"{E}/05"}, set(), "expert"),
    ("12-87-Ф", {f"{G}/04"}, set(), "expert"),
    # fields, filters and boolean
    ("country:IRN", {f"{A}/06", f"{A}/07", f"{C}/06", f"{D}/01", f"{D}/02", f"{H}/06"}, {f"{A}/01"}, "expert"),
    ("model:PKM", {f"{B}/03", f"{J}/02"}, {f"{B}/01"}, "expert"),
    ("factory:386", {f"{B}/02", f"{H}/02", f"{H}/03"}, {f"{A}/01"}, "expert"),
    ("serial:24017734", {f"{A}/02"}, set(), "expert"),
    ("category:uav country:IRN", {f"{D}/01", f"{D}/02"}, {f"{A}/06"}, "expert"),
    ("24017731 OR 24017734", {f"{A}/01", f"{A}/02"}, set(), "expert"),
    ("factory:66 AND NOT case:YEM-2023-004", {f"{F}/01", f"{F}/02", f"{F}/03", f"{J}/01"}, {f"{A}/01"}, "expert"),
    ("model:\"Type 56-1\" -case:YEM-2024-021", {f"{A}/01", f"{J}/01"}, {f"{F}/01"}, "expert"),
    # words of free text
    ("ZX AERO", {f"{C}/05"}, set(), "expert"),
    ("7.62x39mm", {f"{A}/01"}, set(), "expert"),
    ("Type 56-1", TYPE56_RUN | {f"{F}/03"}, set(), "expert"),
    ("PGO-7V", {f"{A}/09"}, set(), "expert"),
    ("RPG-7V", {f"{F}/04"}, set(), "expert"),
    ("boxer", {f"{D}/01"}, set(), "expert"),
    # what a viewer must not see (YEM-2025-008 and some items are panel-only)
    ("24017747", set(), {f"{J}/01"}, "viewer"),
    ("1190", set(), {f"{J}/02"}, "viewer"),
    ("lot:2-86-190", set(), {f"{J}/04"}, "viewer"),
    ("RX4-00917", set(), {f"{E}/01"}, "viewer"),
    ("GN7B-04471", set(), {f"{D}/04"}, "viewer"),
    ("2401*", {f"{A}/01", f"{A}/02", f"{A}/03", f"{F}/01", f"{F}/02"}, {f"{J}/01"}, "viewer"),
    ("EK3317", {f"{B}/01"}, set(), "viewer"),
]
