"""The relevance set (tests/search_relevance.py) on the sample data: every must-return ref
found, no must-not ref returned; recall and precision printed with -s."""
from __future__ import annotations

from panel_tracker.classification import Classification
from panel_tracker.search import query
from tests.search_relevance import CASES, ITEM_FILES

CLEARANCE = {"expert": Classification.PANEL, "viewer": Classification.COMMITTEE}


def judge(panel) -> tuple[float, float, list[str]]:
    """(recall, precision over judged refs, failures) of the whole set."""
    found_must = total_must = returned_must_not = 0
    failures = []
    for text, must, must_not, reader in CASES:
        refs = {h.item_ref for h in query.search(panel, text, clearance=CLEARANCE[reader], limit=None).hits}
        found_must += len(must & refs)
        total_must += len(must)
        returned_must_not += len(must_not & refs)
        if must - refs or must_not & refs:
            failures.append(f"{text!r} ({reader}): misses {sorted(must - refs)}, wrongly returns {sorted(must_not & refs)}")
    recall = found_must / total_must
    precision = found_must / ((found_must + returned_must_not) or 1)
    return recall, precision, failures


def test_the_relevance_set_is_large_enough_and_has_hard_negatives():
    assert len(CASES) >= 80
    assert sum(1 for _q, _m, must_not, _r in CASES if must_not) >= 25
    assert any(reader == "viewer" for *_rest, reader in CASES)


def test_every_query_of_the_relevance_set_finds_what_it_must_and_nothing_it_must_not(world, runner, capsys):
    for path in ITEM_FILES:
        result = runner.invoke(args=["items", "import", str(path), "--panel", "YEM"])
        assert result.exit_code == 0, result.output
    recall, precision, failures = judge(world.panel)
    with capsys.disabled():
        print(f"\nrelevance set: {len(CASES)} queries, recall {recall:.3f}, precision {precision:.3f}")
    assert not failures, "\n".join(failures)
