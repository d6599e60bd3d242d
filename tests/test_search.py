"""Marking search through the real pages, API and CLI, on the sample data: what users find,
what they may not see, and the index following every committed change."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest
from sqlmodel import select

from panel_tracker.auth.models import Membership
from panel_tracker.auth.services import create_token
from panel_tracker.cases.models import Case, Item
from panel_tracker.db import get_session
from panel_tracker.search import index as search_index
from panel_tracker.search import sync
from tests.conftest import SAMPLE

ITEM = {"category": "small_arm", "type": "assault rifle (AK-pattern)", "model": "Type 56-1", "quantity": "1",
        "serial": "24017731", "serial_legibility": "intact", "factory_code": "66", "calibre_marked": "7.62x39mm",
        "notes": "Informant A says it came by dhow"}


@pytest.fixture
def sample(world, runner):
    result = runner.invoke(args=["items", "import", str(SAMPLE / "items.csv"), "--panel", "YEM"])
    assert result.exit_code == 0, result.output
    return world


def _refs(html: str) -> list[str]:
    return re.findall(r'class="hit-ref"[^>]*>([^<]+)</a>', html)


def _item(ref: str) -> Item:
    return get_session().exec(select(Item).where(Item.item_ref == ref)).one()


def _case(ref: str) -> Case:
    return get_session().exec(select(Case).where(Case.ref == ref)).one()


def _api(world, role: str = "", *, user=None, panel=None):
    db = get_session()
    user = user or world.users[role]
    panel = panel or world.panel
    membership = db.exec(select(Membership).where(Membership.user_id == user.id,
                                                  Membership.panel_id == panel.id)).one()
    _, secret = create_token(db, user, membership, name="test", role=membership.role, days=30)
    db.commit()
    client = world.app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    return lambda method, path, **kw: getattr(client, method)(path, headers=headers, **kw)


# ------------------------------------------------------------------ the CLI contracts


def test_batch_cli_gives_one_result_per_line_in_the_contract_shape(sample, runner, tmp_path):
    lines = tmp_path / "serials.txt"
    lines.write_text("24017747\nEK3317\n\nHX-S5-11846\n۵۴۰۲۱۱۷\n", encoding="utf-8")
    result = runner.invoke(args=["search", "batch", str(lines), "--panel", "YEM", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert [r["query"] for r in answer] == ["24017747", "EK3317", "", "HX-S5-11846", "۵۴۰۲۱۱۷"]
    first = answer[0]["hits"][0]
    assert set(first) == {"item_ref", "case_ref", "field", "matched", "score"}
    assert (first["item_ref"], first["field"], first["matched"]) == ("YEM-2025-008/01", "serial", "24O17747")
    assert answer[1]["hits"][0]["matched"] == "ЕК 3317"
    assert answer[2]["hits"] == []
    assert answer[3]["hits"][0]["matched"] == "HX-S5-11840"
    assert answer[4]["hits"][0]["matched"] == "5402117"


def test_query_cli_ranks_the_exact_reading_before_confusable_fragment_and_typo(sample, runner):
    result = runner.invoke(args=["search", "query", "24017731", "--panel", "YEM", "--json", "--limit", "50"])
    hits = json.loads(result.output)
    assert hits[0]["item_ref"] == "YEM-2023-004/01" and hits[0]["matched"] == "24017731"
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h["item_ref"] for h in hits}) == len(hits)  # one hit per item
    filtered = json.loads(runner.invoke(args=["search", "query", "country:IRN category:uav", "--panel", "YEM",
                                              "--json"]).output)
    assert {(h["item_ref"], h["field"], h["matched"]) for h in filtered} == {
        ("YEM-2024-009/01", "country_attributed", "IRN"), ("YEM-2024-009/02", "country_attributed", "IRN")}


def test_a_lot_typed_in_groups_with_an_unreadable_digit_names_the_lot_it_found(sample, runner):
    """``2-86-1?8`` finds the 2-86-188 lots and each hit names the lot it matched (the
    contract's ``field`` and ``matched``); ``28-61-8?``, the same digits in other groups,
    finds neither, whether typed alone or in the lot field."""
    def hits(text):
        result = runner.invoke(args=["search", "query", text, "--panel", "YEM", "--json"])
        assert result.exit_code == 0, result.output
        return {(h["item_ref"], h["field"], h["matched"]) for h in json.loads(result.output)}

    assert hits("2-86-1?8") == {("YEM-2024-030/02", "lot", "2-86-188"), ("YEM-2024-030/05", "lot", "2-86-188")}
    assert not {ref for ref, _field, _matched in hits("28-61-8?") | hits("lot:28-6?-88")} \
        & {"YEM-2024-030/02", "YEM-2024-030/05"}


def test_patterns_cli_finds_the_planted_groups_and_keeps_near_miss_lots_apart(sample, runner):
    result = runner.invoke(args=["search", "patterns", "--panel", "YEM", "--json"])
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)
    kinds = {(g["kind"], tuple(g["item_refs"])) for g in groups}
    assert ("near_consecutive_serials", ("YEM-2023-004/01", "YEM-2023-004/02", "YEM-2023-004/03", "YEM-2024-021/01",
                                         "YEM-2024-021/02", "YEM-2025-008/01")) in kinds
    assert ("near_consecutive_serials", ("YEM-2023-011/03", "YEM-2025-008/02")) in kinds
    assert ("shared_lot", ("YEM-2023-004/08", "YEM-2023-011/04", "YEM-2024-002/04")) in kinds
    lots = [set(g["item_refs"]) for g in groups if g["kind"] == "shared_lot"]
    assert not any({"YEM-2024-030/02"} & g and {"YEM-2025-008/04"} & g for g in lots)  # 2-86-188 vs 2-86-190
    assert groups[-1]["kind"] == "shared_headstamp"  # headstamp-only groups rank last
    narrow = json.loads(runner.invoke(args=["search", "patterns", "--panel", "YEM", "--json", "--gap", "2",
                                            "--min-cases", "3"]).output)
    assert not any(g["kind"] == "near_consecutive_serials" for g in narrow)


def test_cli_with_an_unknown_panel_exits_2(app, runner, tmp_path):
    (tmp_path / "q.txt").write_text("1\n")
    assert runner.invoke(args=["search", "query", "x", "--panel", "NOPE"]).exit_code == 2
    assert runner.invoke(args=["search", "batch", str(tmp_path / "q.txt"), "--panel", "NOPE"]).exit_code == 2


# ------------------------------------------------------------------ the index follows every commit


def test_expert_edits_a_serial_and_search_finds_the_new_reading_at_once(world):
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    assert expert.post(f"/cases/{case.id}/items/new", data=ITEM).status_code == 302
    item = _item("YEM-2024-017/01")
    assert _refs(expert.get("/search?q=24O17731").get_data(as_text=True)) == ["YEM-2024-017/01"]
    response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": "ZX11-555123"})
    assert response.status_code == 302
    assert _refs(expert.get("/search?q=zx11555123").get_data(as_text=True)) == ["YEM-2024-017/01"]
    assert _refs(expert.get("/search?q=24017731").get_data(as_text=True)) == []


@pytest.mark.parametrize(("serial", "typed"), [
    ("ZX11-210371", "ZX14-210471"),  # 10 characters, typos at 4 and 8: no intact run of 4
    ("ZX11-2103715", "ZX14-2104715"),  # 11 characters, runs of 3, 3 and 3
    ("ZX11-2103715", "ZX14-21043715"),  # a wrong and an extra character
])
def test_two_typos_spread_over_a_ten_character_serial_still_find_it(world, serial, typed):
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    assert expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "serial": serial}).status_code == 302
    assert _refs(expert.get(f"/search?q={typed}").get_data(as_text=True)) == ["YEM-2024-017/01"]


# Partial serials typed as stored (benchmark: 12 of 1,000 distinct stored serials found
# nothing): a reading with "?" has no fragment or deletion terms, so a query with the same
# "?" went looking only among intact readings.
PARTIAL_SERIALS = (
    "RX4-59??2",  # a readable run of 4+ characters: candidates came from fragment windows only
    "69?2457",  # a short code with one "?": candidates came from deletion terms only
    "ОЕ 5?62",  # the same in Cyrillic, with confusables (О, Е) on both sides
    "?Е 332?",  # short runs only: every folded reading walked
)


def test_a_partial_serial_typed_as_stored_finds_its_item_first_as_the_exact_reading(world, runner, tmp_path):
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    for serial in PARTIAL_SERIALS + ("69?2458",):
        response = expert.post(f"/cases/{case.id}/items/new",
                               data={**ITEM, "serial": serial, "serial_legibility": "partial"})
        assert response.status_code == 302
    lines = tmp_path / "serials.txt"
    lines.write_text("\n".join(PARTIAL_SERIALS + ("69?245?", "ОЕ 5?6?", "RX4-5???2")) + "\n", encoding="utf-8")
    result = runner.invoke(args=["search", "batch", str(lines), "--panel", "YEM", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    for n, serial in enumerate(PARTIAL_SERIALS, start=1):
        first = answer[n - 1]["hits"][0]
        assert (first["item_ref"], first["field"], first["matched"]) == (f"YEM-2024-017/{n:02d}", "serial", serial)
        assert first["score"] >= 100  # the exact reading's tier
    assert "YEM-2024-017/05" not in {h["item_ref"] for h in answer[1]["hits"]}  # 69?2458 is not 69?2457
    # "?" on either side: the query's unreadable characters and the stored reading's
    assert {h["item_ref"] for h in answer[4]["hits"]} == {"YEM-2024-017/02", "YEM-2024-017/05"}
    assert "YEM-2024-017/03" in {h["item_ref"] for h in answer[5]["hits"]}
    assert [h["item_ref"] for h in answer[6]["hits"]] == ["YEM-2024-017/01"]  # a "?" inside its longest run
    assert _refs(expert.get("/search", query_string={"q": "RX4-59??2"}).get_data(as_text=True))[0] == "YEM-2024-017/01"


def test_typos_of_serials_sharing_a_common_window_are_found_from_its_code_list(world, monkeypatch):
    """A window of the query shared by many items (a model's serial prefix) is checked as
    the list of its codes, all at once: the same hits as one document at a time."""
    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    serials = ["ZX11-213288", "ZX11-213298", "ZX11-2130288", "ZX11-2132", "ZX11-215555", "ZX11-21328",
               "ZX11-213I88", "ZX1I-223288"]
    for serial in serials:
        assert expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "serial": serial}).status_code == 302
    typed = ["ZX11-213288", "ZX11-213289", "ZX11-2132888", "ZX11-21328", "ZX11-2I3288"]

    def hits():
        return {text: [(h.item_ref, h.score) for h in query.search(world.panel, text, clearance=Classification.PANEL,
                                                                    limit=None).hits] for text in typed}

    one_by_one = hits()
    # one or two edits away; not ZX11-215555, nor ZX1I-223288 (three, on the folded readings)
    assert {ref for ref, _score in one_by_one["ZX11-213289"]} == {
        f"YEM-2024-017/0{n}" for n in (1, 2, 3, 4, 6, 7)}
    monkeypatch.setattr(query, "COMMON_WINDOW", 2)
    search_index.close_searchers()  # no code list kept from before
    assert hits() == one_by_one
    assert any(data.derived.get("window_codes") for data in search_index.searcher_for(world.panel).segments.values())

    # The lists are kept with their segment: after a save the rebuilt segment's are used
    # again, and the document the save replaced in it is not found through them.
    search_index.rebuild(world.panel)
    assert hits() == one_by_one
    big = next(data for data in search_index.searcher_for(world.panel).segments.values()
               if data.derived.get("window_codes"))
    lists = dict(big.derived["window_codes"])
    item = _item("YEM-2024-017/02")  # ZX11-213298: one edit from ZX11-213289
    response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": "QM-700007"})
    assert response.status_code == 302
    after = hits()
    assert {ref for ref, _score in after["ZX11-213289"]} == {f"YEM-2024-017/0{n}" for n in (1, 3, 4, 6, 7)}
    assert any(data is big for data in search_index.searcher_for(world.panel).segments.values())
    assert all(big.derived["window_codes"][window] is listed for window, listed in lists.items())


def test_a_pattern_of_short_runs_finds_a_serial_saved_after_the_codes_were_scanned(world):
    """The codes scanned for patterns without a run of 4 are kept with the searcher: a
    save makes a new one, and the next search scans the new reading too."""
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    assert expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "serial": "17340258"}).status_code == 302
    assert _refs(expert.get("/search", query_string={"q": "17?4?2?8"}).get_data(as_text=True)) == ["YEM-2024-017/01"]
    assert expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "serial": "1IS4O2B8"}).status_code == 302
    assert _refs(expert.get("/search", query_string={"q": "17?4?2?8"}).get_data(as_text=True)) == [
        "YEM-2024-017/01", "YEM-2024-017/02"]


def _items_with_serials(world, *serials: str) -> None:
    """Items of case YEM-2024-017 numbered in the order of ``serials``."""
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    for serial in serials:
        legibility = "partial" if "?" in serial else "intact"
        response = expert.post(f"/cases/{case.id}/items/new",
                               data={**ITEM, "serial": serial, "serial_legibility": legibility})
        assert response.status_code == 302


def _hits(world, text: str) -> dict[str, tuple[str, str, float]]:
    """What the search service gives an expert: item ref → (field, matched, score)."""
    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    return {h.item_ref: (h.field, h.matched, h.score)
            for h in query.search(world.panel, text, clearance=Classification.PANEL, limit=None).hits}


def test_a_short_pattern_with_an_unreadable_character_finds_serials_of_its_length(world):
    """Codes under 4 characters have no deletion terms: ``1?3`` looked only there and
    found nothing. It is answered like any pattern without a run of 4 (a scan of the
    codes of its length), with the same folding and confusable tiers."""
    _items_with_serials(world, "123", "1x3", "I23", "1234", "12", "ZZ3")
    one = "YEM-2024-017/0"
    assert _hits(world, "1?3") == {f"{one}1": ("serial", "123", 60.5), f"{one}2": ("serial", "1x3", 60.5),
                                   f"{one}3": ("serial", "I23", 55.5)}  # I23 only as a confusable
    assert {ref: score for ref, (_f, _m, score) in _hits(world, "?23").items()} == {
        f"{one}1": 60.5, f"{one}3": 60.5, f"{one}6": 55.5}  # ZZ3: Z/2 a confusable
    assert set(_hits(world, "serial:1?3")) == {f"{one}1", f"{one}2", f"{one}3"}
    assert set(_hits(world, "1?")) == {f"{one}5"}
    assert set(_hits(world, "??3")) == {f"{one}1", f"{one}2", f"{one}3", f"{one}6"}
    assert set(_hits(world, "1?34")) == {f"{one}4"}  # four characters: found by deletion terms, as before


def test_a_fragment_is_told_as_typed_from_its_confusable_readings_in_the_same_item(world):
    """A fragment is looked up by its key: ``1234`` is in ``AB-1234-X`` as typed (60), in
    ``AB-I234-X`` and ``AB-7234-X`` only as a confusable (55: I/1, 7/1), and as typed in
    ``AB-I234-1234`` although that item also holds a confusable reading of it."""
    _items_with_serials(world, "AB-1234-X", "AB-I234-X", "AB-7234-X", "AB-I234-1234", "AB-5678-X")
    one = "YEM-2024-017/0"
    assert {ref: score for ref, (_f, _m, score) in _hits(world, "1234").items()} == {
        f"{one}1": 60.5, f"{one}2": 55.5, f"{one}3": 55.5, f"{one}4": 60.5}
    assert {ref: score for ref, (_f, _m, score) in _hits(world, "I234").items()} == {
        f"{one}1": 55.5, f"{one}2": 60.5, f"{one}3": 55.5, f"{one}4": 60.5}
    assert _hits(world, "1234")[f"{one}4"] == ("serial", "AB-I234-1234", 60.5)
    # ranked by what the query found, before the first page is explained
    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    first_two = query.search(world.panel, "1234", clearance=Classification.PANEL, limit=2).hits
    assert [hit.item_ref for hit in first_two] == [f"{one}1", f"{one}4"]


def test_readings_of_the_querys_key_rank_the_one_folded_as_typed_first(world):
    """Equal readings are looked up by their key; the item holding the query's folded
    form (90, or the exact reading) is ranked before the one holding only a confusable
    reading of it (80), whatever their references."""
    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    _items_with_serials(world, "24O17731", "24-017731", "24O1773I")
    one = "YEM-2024-017/0"
    first = query.search(world.panel, "24017731", clearance=Classification.PANEL, limit=1).hits
    assert [(hit.item_ref, hit.score) for hit in first] == [(f"{one}2", 90.5)]
    assert {ref: score for ref, (_f, _m, score) in _hits(world, "24017731").items()} == {
        f"{one}1": 80.5, f"{one}2": 90.5, f"{one}3": 80.5}


def test_free_text_of_the_querys_key_ranks_the_reading_folded_as_typed_first(world):
    """The same for a reading of several words that is not a code (a model): the item
    whose model folds as the query is ranked before the one whose model only shares its
    key, told from its stored readings (a model is not among the codes)."""
    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    for serial, model in (("AB-100001", "Type 56-I"), ("AB-100002", "Type 56-1")):
        response = expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "serial": serial, "model": model})
        assert response.status_code == 302
    one = "YEM-2024-017/0"
    first = query.search(world.panel, "TYPE 56-1", clearance=Classification.PANEL, limit=1).hits
    assert [(hit.item_ref, hit.field, hit.score) for hit in first] == [(f"{one}2", "model", 90.0)]


def test_a_wildcard_query_finds_a_stored_reading_whose_unreadable_character_fits_it(world):
    """A ``?`` in a stored reading is any one character, for wildcard queries too: the
    expert who could not read one character of ``RX4-5?12`` recorded a serial that
    ``RX4-59*`` may be. Ranked as a wildcard hit, below the exact and folded readings."""
    _items_with_serials(world, "RX4-5?12", "RX4-6912", "RX4-5912")
    partial, other, intact = (f"YEM-2024-017/0{n}" for n in (1, 2, 3))
    assert _hits(world, "RX4-59*") == {partial: ("serial", "RX4-5?12", 60.5), intact: ("serial", "RX4-5912", 60.5)}
    assert _hits(world, "RX4-S9*")[partial] == ("serial", "RX4-5?12", 55.5)  # S/5: a confusable
    assert set(_hits(world, "R?4-59*")) == {partial, intact}  # "?" on both sides, and a "*"
    assert set(_hits(world, "RX4-5?1*")) == {partial, intact}
    assert set(_hits(world, "*5?12")) == {partial, intact}
    assert set(_hits(world, "RX4-59?2")) == {partial, intact}  # "?" on both sides, no "*"
    plain = _hits(world, "RX4-5912")  # a plain query and a stored "?"
    assert plain[intact][2] > plain[partial][2] == 60.5 and plain[partial][:2] == ("serial", "RX4-5?12")
    assert other not in _hits(world, "RX4-59*") and other not in _hits(world, "RX4-59?2")
    assert set(_hits(world, "RX4-592*")) == set()  # the stored "?" is one character: the 2 meets its 1


@pytest.mark.parametrize("typed", ["*", "**", "serial:*"])
def test_a_query_of_wildcards_only_finds_every_item_with_a_reading_not_an_error(world, typed):
    _items_with_serials(world, "123", "RX4-5?12")
    assert set(_hits(world, typed)) == {"YEM-2024-017/01", "YEM-2024-017/02"}


def test_query_cli_gives_short_and_partial_serials_their_pattern_hits(world, runner):
    _items_with_serials(world, "RX4-5?12", "RX4-6912", "123", "1234")
    result = runner.invoke(args=["search", "query", "RX4-59*", "--panel", "YEM", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"item_ref": "YEM-2024-017/01", "case_ref": "YEM-2024-017",
                                          "field": "serial", "matched": "RX4-5?12", "score": 60.5}]
    result = runner.invoke(args=["search", "query", "1?3", "--panel", "YEM", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"item_ref": "YEM-2024-017/03", "case_ref": "YEM-2024-017",
                                          "field": "serial", "matched": "123", "score": 60.5}]


def test_a_marking_added_on_the_item_page_is_found_by_its_latin_look_alike(world):
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    item = _item("YEM-2024-017/01")
    response = expert.post(f"/items/{item.id}/markings/new", data={
        "text": "ЕК 3317", "kind": "serial", "location": "bolt", "legibility": "intact", "symbol_shape": "none"})
    assert response.status_code == 302
    page = expert.get("/search?q=EK3317").get_data(as_text=True)
    assert _refs(page) == ["YEM-2024-017/01"]
    assert "<mark>ЕК 3317</mark>" in page


def test_reclassifying_a_case_hides_its_items_from_a_viewers_search(sample):
    viewer, expert = sample.client("viewer"), sample.client("expert")
    assert "YEM-2023-004/02" in _refs(viewer.get("/search?q=24017734").get_data(as_text=True))
    case = _case("YEM-2023-004")
    assert expert.post(f"/cases/{case.id}/classify", data={"field": "classification", "level": "panel"}).status_code == 302
    page = viewer.get("/search?q=24017734").get_data(as_text=True)
    assert "YEM-2023-004" not in page
    assert "YEM-2023-004/02" in _refs(expert.get("/search?q=24017734").get_data(as_text=True))


def test_deleting_an_item_removes_it_from_every_search(sample):
    expert = sample.client("expert")
    item = _item("YEM-2023-004/02")
    assert expert.post(f"/items/{item.id}/delete", data={"reason": "entered twice"}).status_code == 302
    assert "YEM-2023-004/02" not in _refs(expert.get("/search?q=24017734").get_data(as_text=True))


def test_a_change_queued_while_another_writer_holds_the_index_is_not_lost(sample, monkeypatch):
    import threading

    monkeypatch.setattr(search_index, "LOCK_WAIT_SECONDS", 0.05)
    expert = sample.client("expert")
    item = _item("YEM-2023-004/02")
    db = get_session()
    sample.app.config["SEARCH_INDEX_ON_COMMIT"] = False  # this commit's change goes through the worker below
    item.serial = "RR-112233"
    db.add(item)
    db.commit()
    sample.app.config["SEARCH_INDEX_ON_COMMIT"] = True
    change = {"kind": "item", "object_id": item.id, "action": "item.update", "panel_id": sample.panel.id}

    def other_worker():  # cannot get the panel's lock in time, so it queues the change
        with sample.app.app_context():
            sync.apply_changes([change], app=sample.app)

    with search_index.panel_lock("YEM"):  # a long writer (a rebuild, say) elsewhere
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(10)
        assert not thread.is_alive()
        assert (search_index.search_root() / "YEM.pending").read_text().strip()
        assert _refs(expert.get("/search?q=RR112233").get_data(as_text=True)) == []
    # the next writer applies the queue first
    sync.apply_changes([{"kind": "case", "object_id": _case("YEM-2024-002").id, "action": "case.update",
                         "panel_id": sample.panel.id}])
    assert _refs(expert.get("/search?q=RR112233").get_data(as_text=True)) == ["YEM-2023-004/02"]
    assert not (search_index.search_root() / "YEM.pending").read_text().strip()


# ------------------------------------------------------------------ classification


def test_viewer_never_sees_a_panel_only_item_in_hits_or_counts(sample):
    viewer = sample.client("viewer")
    page = viewer.get("/search?q=24017747").get_data(as_text=True)
    assert "YEM-2025-008/01" not in page  # its case holds only confidential items: panel
    fragment = viewer.get("/search?q=1773").get_data(as_text=True)
    visible = [r for r in ("YEM-2023-004/01", "YEM-2023-004/02", "YEM-2023-004/03", "YEM-2024-021/01")
               if _item(r).classification.value != "panel"]
    assert sorted(_refs(fragment)) == sorted(visible)
    assert f"{len(visible)} item" in fragment
    expert_page = sample.client("expert").get("/search?q=24017747").get_data(as_text=True)
    assert "YEM-2025-008/01" in _refs(expert_page)


def test_source_notes_are_found_only_by_readers_cleared_for_them(world):
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    item = _item("YEM-2024-017/01")
    for url in (f"/cases/{case.id}/classify", f"/items/{item.id}/classify"):
        expert.post(url, data={"field": "classification", "level": "public", "confirm_public": "y"})
    viewer = world.client("viewer")
    assert _refs(viewer.get("/search?q=24017731").get_data(as_text=True)) == ["YEM-2024-017/01"]
    assert _refs(viewer.get("/search?q=informant").get_data(as_text=True)) == []
    assert "Informant" not in viewer.get("/search?q=24017731").get_data(as_text=True)
    page = expert.get("/search?q=informant").get_data(as_text=True)
    assert _refs(page) == ["YEM-2024-017/01"] and "<mark>Informant</mark>" in page


def test_a_caption_is_as_visible_as_its_photo(world, tmp_path):
    from tests.imagefactory import photographic_jpeg

    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    item = _item("YEM-2024-017/01")
    for url in (f"/cases/{case.id}/classify", f"/items/{item.id}/classify"):
        expert.post(url, data={"field": "classification", "level": "public", "confirm_public": "y"})
    jpeg = photographic_jpeg(tmp_path / "IMG_0001.JPG", 320, 240).read_bytes()
    response = expert.post(f"/cases/{case.id}/photos/upload", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(jpeg), "IMG_0001.JPG")], "source": "Panel inspection", "is_original": "yes",
        "item_id": str(item.id), "caption": "Receiver stamped with a kangaroo"})
    response.get_data()
    response.close()
    from panel_tracker.evidence.models import Photo

    photo = get_session().exec(select(Photo)).one()
    if not photo.caption:  # the upload form may not take a caption: set it on the photo page
        expert.post(f"/photos/{photo.id}/edit", data={"caption": "Receiver stamped with a kangaroo"})
    page = expert.get("/search?q=kangaroo").get_data(as_text=True)
    assert _refs(page) == ["YEM-2024-017/01"] and "caption" in page
    viewer = world.client("viewer")
    assert _refs(viewer.get("/search?q=kangaroo").get_data(as_text=True)) == []  # the photo is panel-only
    assert f"/photos/{photo.id}/thumb.jpg" not in viewer.get("/search?q=24017731").get_data(as_text=True)
    assert f"/photos/{photo.id}/thumb.jpg" in expert.get("/search?q=24017731").get_data(as_text=True)


def test_a_photo_moved_to_another_item_takes_its_caption_along(world, tmp_path):
    """The item a photo left is found from the index (its caption is in that item's
    document) and written again without it."""
    from tests.imagefactory import photographic_jpeg

    from panel_tracker.evidence.models import Photo

    _items_with_serials(world, "24017731", "24017732")
    expert = world.client("expert")
    case = _case("YEM-2024-017")
    one, two = _item("YEM-2024-017/01"), _item("YEM-2024-017/02")
    jpeg = photographic_jpeg(tmp_path / "IMG_0002.JPG", 320, 240).read_bytes()
    response = expert.post(f"/cases/{case.id}/photos/upload", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(jpeg), "IMG_0002.JPG")], "source": "Panel inspection", "is_original": "yes",
        "item_id": str(one.id)})
    response.get_data()
    response.close()
    photo = get_session().exec(select(Photo)).one()
    expert.post(f"/photos/{photo.id}/edit", data={"item_id": str(one.id), "caption": "Stamped with a wombat"})
    assert _refs(expert.get("/search?q=wombat").get_data(as_text=True)) == ["YEM-2024-017/01"]
    expert.post(f"/photos/{photo.id}/edit", data={"item_id": str(two.id), "caption": "Stamped with a wombat"})
    assert _refs(expert.get("/search?q=wombat").get_data(as_text=True)) == ["YEM-2024-017/02"]


# ------------------------------------------------------------------ one search everywhere


def test_items_and_cases_lists_filter_with_the_marking_search(sample):
    expert = sample.client("expert")
    items = expert.get("/items?q=24O17731").get_data(as_text=True)  # letter O typed
    assert "YEM-2023-004/01" in items and "1 found" in items.replace("<small>", "").replace("</small>", "")
    cases = expert.get("/cases?q=EK3317").get_data(as_text=True)
    assert "YEM-2023-011" in cases and "YEM-2023-004" not in cases


def test_api_items_q_and_search_endpoints_respect_the_tokens_clearance(sample):
    expert, viewer = _api(sample, "expert"), _api(sample, "viewer")
    listed = expert("get", "/api/v1/items?q=24O17747").get_json()
    assert [i["item_ref"] for i in listed["items"]] == ["YEM-2025-008/01"]
    assert viewer("get", "/api/v1/items?q=24O17747").get_json()["items"] == []
    found = expert("get", "/api/v1/search?q=24O17747").get_json()
    assert found["hits"][0]["item_ref"] == "YEM-2025-008/01" and found["total"] >= 1
    hidden = viewer("get", "/api/v1/search?q=24O17747").get_json()
    assert all(h["case_ref"] != "YEM-2025-008" for h in hidden["hits"])
    batch = expert("post", "/api/v1/search/batch", json={"lines": ["EK3317", ""]}).get_json()
    assert batch[0]["hits"][0]["item_ref"] == "YEM-2023-011/01" and batch[1]["hits"] == []
    groups = expert("get", "/api/v1/search/patterns?gap=10").get_json()
    assert any(g["kind"] == "shared_lot" for g in groups)
    bad = expert("get", "/api/v1/search?q=x&limit=0")
    assert bad.status_code == 422 and "limit" in bad.get_json()["errors"]
    assert expert("post", "/api/v1/search/batch", json={"lines": "nope"}).status_code == 422


def test_top_bar_has_the_search_box_on_every_page(sample):
    page = sample.client("viewer").get("/items").get_data(as_text=True)
    assert 'id="top-search"' in page and 'action="/search"' in page


def test_bad_filters_come_back_with_a_message_not_an_error(sample):
    response = sample.client("expert").get("/search?q=1773&recovered_from=2024-13-40")
    assert response.status_code == 422 and "2024-13-40 is not a possible date" in response.get_data(as_text=True)


def test_the_period_filters_are_iso_text_boxes_that_keep_what_was_typed_with_its_error(sample):
    """Like every date of the app (formutil.IsoDateField): text typed as YYYY-MM-DD whatever the
    browser's locale, not type="date"; a wrong one comes back as typed, its error beside it."""
    client = sample.client("expert")

    blank = client.get("/search").get_data(as_text=True)
    wrong = client.get("/search?q=1773&recovered_from=17/05/2024&recovered_to=2024-02-30")
    page = wrong.get_data(as_text=True)

    assert 'type="date"' not in blank
    for name in ("recovered_from", "recovered_to"):
        assert re.search(rf'<input[^>]*name="{name}"[^>]*placeholder="YYYY-MM-DD"', blank) or \
            re.search(rf'<input[^>]*placeholder="YYYY-MM-DD"[^>]*name="{name}"', blank), name
    assert wrong.status_code == 422
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*value="17/05/2024"|<input[^>]*value="17/05/2024"[^>]*aria-invalid="true"', page)
    assert 'id="recovered_from-error">“17/05/2024” is not a date; write it as YYYY-MM-DD' in page
    assert 'id="recovered_to-error">2024-02-30 is not a possible date' in page
    assert "Nothing you may see matches" not in page  # no search with a wrong period


# ------------------------------------------------------------------ batch, patterns, saved searches


def test_another_panels_admin_finds_nothing_of_this_panel_through_any_search_door(sample):
    """The admin of LBY searches YEM's markings through every door: the page, the batch,
    the pattern finder, the side-by-side comparison, the items list and the API. Each
    panel has its own index: nothing of YEM comes back, not even a count."""
    yem_item = _item("YEM-2025-008/01").id
    yem_ref = re.compile(r"YEM-\d{4}-\d{3}/\d+")  # an item reference (the case filter's example is no data)
    lby = sample.client(user=sample.outsider)
    for text in ("24O17747", "24017731", "lot:17-85-71", "EK 3317", "2401*", "*"):
        html = lby.get("/search", query_string={"q": text}).get_data(as_text=True)
        assert _refs(html) == [] and not yem_ref.search(html) and "0 items found" in html, text
    batch = lby.post("/search/batch", data={"lines": "24017747\nEK3317"}).get_data(as_text=True)
    assert not yem_ref.search(batch) and "2 lines, 0 with a match" in batch
    assert not yem_ref.search(lby.get("/search/patterns").get_data(as_text=True))
    assert lby.get(f"/search/compare?item={yem_item}").status_code == 404
    assert not yem_ref.search(lby.get("/items?q=24017731").get_data(as_text=True))
    api = _api(sample, user=sample.outsider, panel=sample.other_panel)
    found = api("get", "/api/v1/search?q=24017731").get_json()
    assert found["hits"] == [] and found["total"] == 0
    assert api("post", "/api/v1/search/batch", json={"lines": ["24017747"]}).get_json()[0]["hits"] == []
    assert api("get", "/api/v1/search/patterns").get_json() == []
    assert api("get", "/api/v1/items?q=24017731").get_json()["items"] == []


def test_batch_page_lists_each_line_and_downloads_csv(sample):
    expert = sample.client("expert")
    page = expert.post("/search/batch", data={"lines": "24017747\nnothing-like-this\nAK 7709", "limit": "5"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "YEM-2025-008/01" in html and "3 lines, 2 with a match" in html
    upload = expert.post("/search/batch", content_type="multipart/form-data", data={
        "file": (io.BytesIO("serial\n870412\n".encode()), "list.csv"), "download": "csv"})
    assert upload.mimetype == "text/csv"
    rows = upload.get_data(as_text=True).splitlines()
    assert rows[0] == "line,query,item_ref,case_ref,field,matched,score"
    assert any("YEM-2024-009/01" in row and "۸۷۰۴۱۲" in row for row in rows)
    empty = expert.post("/search/batch", data={"lines": "  \n"})
    assert empty.status_code == 422 and "Paste at least one serial" in empty.get_data(as_text=True)


def test_pattern_page_links_each_group_to_its_items_side_by_side(sample):
    expert = sample.client("expert")
    page = expert.get("/search/patterns").get_data(as_text=True)
    assert "near consecutive serials" in page and "17-85-71" in page
    ids = [_item(r).id for r in ("YEM-2023-004/08", "YEM-2023-011/04")]
    side = expert.get(f"/search/compare?item={ids[0]}&item={ids[1]}").get_data(as_text=True)
    assert "YEM-2023-004/08" in side and "YEM-2023-011/04" in side and "17-85-71" in side
    hidden = _item("YEM-2025-008/01").id
    assert sample.client("viewer").get(f"/search/compare?item={hidden}").status_code == 404
    viewer_page = sample.client("viewer").get("/search/patterns").get_data(as_text=True)
    assert "YEM-2025-008/01" not in viewer_page


def test_expert_saves_a_search_and_the_dashboard_tells_of_a_new_matching_item(sample):
    expert = sample.client("expert")
    response = expert.post("/search/saved", data={"name": "Type 56-1 run", "query": "serial:240177*",
                                                  "filters": "{}", "notify": "y"})
    assert response.status_code == 302
    assert "Type 56-1 run" in expert.get("/search/saved").get_data(as_text=True)
    assert "New items for your saved searches" not in expert.get("/dashboard").get_data(as_text=True)
    case = _case("YEM-2024-021")
    expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "serial": "24017750"})
    dashboard = expert.get("/dashboard").get_data(as_text=True)
    assert "Type 56-1 run</a>: 1 new item matches" in dashboard
    saved = re.search(r'href="/search/saved/(\d+)"', dashboard).group(1)
    assert expert.get(f"/search/saved/{saved}").status_code == 302
    assert "New items for your saved searches" not in expert.get("/dashboard").get_data(as_text=True)
    other = sample.client("coordinator")
    assert other.get(f"/search/saved/{saved}").status_code == 404  # someone else's
    assert expert.post("/search/saved", data={"name": "", "query": "x"}).status_code == 422


# ------------------------------------------------------------------ upkeep


def test_segments_written_by_saves_merge_into_one_that_still_finds_everything(sample):
    from whoosh import index as whoosh_index

    expert = sample.client("expert")
    item = _item("YEM-2023-004/02")
    assert "YEM-2023-004/02" in _refs(expert.get("/search?q=24017734").get_data(as_text=True))
    response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": "ZX11-555123"})
    assert response.status_code == 302
    ix = whoosh_index.open_dir(str(search_index.index_dir("YEM", sample.app)))
    assert len(ix._segments()) > 1
    ix.optimize()  # what the background merge does when saves pile up
    assert len(ix._segments()) == 1
    ix.close()
    assert _refs(expert.get("/search?q=zx11555123").get_data(as_text=True)) == ["YEM-2023-004/02"]
    assert "YEM-2023-004/02" not in _refs(expert.get("/search?q=24017734").get_data(as_text=True))


def test_a_missing_or_corrupt_index_is_rebuilt_with_a_log_line(sample, caplog):
    expert = sample.client("expert")
    search_index.close_searchers()
    search_index.remove_index("YEM")
    with caplog.at_level(logging.WARNING, logger="panel_tracker.search"):
        assert "YEM-2023-011/01" in _refs(expert.get("/search?q=EK3317").get_data(as_text=True))
    assert "search index of panel YEM is missing: rebuilding it from the database" in caplog.text
    search_index.close_searchers()
    for path in search_index.index_dir("YEM").glob("*.seg"):
        path.write_bytes(b"garbage")
    for path in search_index.index_dir("YEM").glob("_MAIN_*.toc"):
        path.write_bytes(b"garbage")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="panel_tracker.search"):
        assert "YEM-2023-011/01" in _refs(expert.get("/search?q=EK3317").get_data(as_text=True))
    assert "rebuilding it from the database" in caplog.text


def test_verify_reports_stale_items_and_rebuild_repairs_them(sample, runner):
    assert runner.invoke(args=["search", "verify", "--panel", "YEM"]).exit_code == 0
    db = get_session()
    with db.get_bind().begin() as conn:  # a change that bypassed the services (no audit, no feed)
        conn.exec_driver_sql("UPDATE item SET serial = 'ZZ999' WHERE item_ref = 'YEM-2023-004/02'")
    result = runner.invoke(args=["search", "verify", "--panel", "YEM"])
    assert result.exit_code == 1 and "stale: YEM-2023-004/02" in result.output
    rebuilt = runner.invoke(args=["search", "rebuild", "--panel", "YEM"])
    assert rebuilt.exit_code == 0 and "YEM: 70 documents indexed" in rebuilt.output
    assert runner.invoke(args=["search", "verify", "--panel", "YEM"]).exit_code == 0


def test_a_rebuild_in_parts_by_worker_processes_finds_what_a_rebuild_in_one_process_finds(sample, monkeypatch):
    """A big panel's rebuild is cut into parts, each made by its own process, all written
    into one segment: the same hits (refs, columns, readings, scores) for every query of
    the relevance set, for an expert and a viewer, and nothing missing or stale."""
    from panel_tracker.search import query
    from tests.search_relevance import CASES
    from tests.test_search_relevance import CLEARANCE

    def answers():
        return {(text, reader): [(h.item_ref, h.field, h.matched, h.score) for h in
                                 query.search(sample.panel, text, clearance=CLEARANCE[reader], limit=None).hits]
                for text, _must, _must_not, reader in CASES}

    search_index.rebuild(sample.panel)
    expected = answers()
    monkeypatch.setattr(search_index, "PARALLEL_FROM", 10)
    sample.app.config["SEARCH_REBUILD_PROCS"] = 3
    progress = []
    written = search_index.rebuild(sample.panel, progress=lambda done, total: progress.append((done, total)))
    assert len(search_index.searcher_for(sample.panel).ix._segments()) == 1  # the parts in one segment
    assert written == 70 and progress[-1] == (70, 70)
    assert answers() == expected
    assert search_index.verify(sample.panel).ok


def test_a_new_panel_with_nothing_indexed_yet_searches_to_no_hits(world):
    """A panel whose index has no segment yet (nothing logged): the page, the lists' text
    filter and the API answer with no hits, not an error."""
    expert = world.client("expert")
    page = expert.get("/search?q=24017731")
    assert page.status_code == 200
    assert expert.get("/items?q=24017731").status_code == 200
    assert expert.get("/cases?q=24017731").status_code == 200


def test_after_a_save_the_searcher_keeps_what_it_read_from_the_segments_the_save_left_alone(sample, monkeypatch):
    """A save adds a small segment and marks the edited item's old document deleted in
    its segment: the searcher opened after it takes over that segment's posting lists,
    term lists and column readers, and what it kept does not bring the old reading back."""
    monkeypatch.setattr(search_index, "POSTINGS_KEPT_FROM", 1)  # every posting list is kept
    expert = sample.client("expert")
    assert "YEM-2023-004/02" in _refs(expert.get("/search?q=24017734").get_data(as_text=True))
    before = search_index.searcher_for(sample.panel)
    kept = dict(before.segments)
    assert kept and all(data.postings for data in kept.values())
    item = _item("YEM-2023-004/02")
    response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": "ZX11-555123"})
    assert response.status_code == 302
    assert _refs(expert.get("/search?q=zx11555123").get_data(as_text=True)) == ["YEM-2023-004/02"]
    after = search_index.searcher_for(sample.panel)
    assert after is not before and len(after.segments) == len(kept) + 1
    assert all(after.segments[segment_id] is data for segment_id, data in kept.items())
    assert "YEM-2023-004/02" not in _refs(expert.get("/search?q=24017734").get_data(as_text=True))


def test_a_background_merge_folds_the_saves_small_segments_into_one(sample, monkeypatch):
    """Saves add a segment each; past MERGE_ABOVE_SEGMENTS a background merge folds every
    small one into one segment (not five at a time), and every edit is still found."""
    import threading

    monkeypatch.setattr(search_index, "MERGE_ABOVE_SEGMENTS", 4)
    monkeypatch.setattr(search_index, "SMALL_SEGMENT_DOCS", 10)  # the rebuilt segment (70 documents) is not small
    expert = sample.client("expert")
    items = get_session().exec(select(Item).where(Item.panel_id == sample.panel.id).order_by(Item.id).limit(5)).all()
    first = len(search_index.searcher_for(sample.panel).ix._segments())
    for n, item in enumerate(items):
        response = expert.post(f"/items/{item.id}/edit",
                               data={**ITEM, "item_ref": item.item_ref, "serial": f"QM-{n}0{n}0{n}0{n}"})
        assert response.status_code == 302
        for thread in threading.enumerate():
            if thread.name.startswith("search-merge-"):
                thread.join(30)
    segments = search_index.searcher_for(sample.panel).ix._segments()
    # the rebuilt segment, the first four saves' segments merged into one, the fifth's
    assert len(segments) == first + 2
    for n, item in enumerate(items):
        assert _refs(expert.get(f"/search?q=QM-{n}0{n}0{n}0{n}").get_data(as_text=True)) == [item.item_ref]


def test_a_save_while_a_merge_is_written_is_not_undone_by_the_merge(sample, monkeypatch):
    """The merged segment is written without the writer lock; an item saved again in the
    meantime (its document in one of the segments being merged now deleted) keeps only
    its newest reading once the merge is listed."""
    monkeypatch.setattr(search_index, "MERGE_ABOVE_SEGMENTS", 100)  # no merge but this test's
    monkeypatch.setattr(search_index, "SMALL_SEGMENT_DOCS", 10)
    expert = sample.client("expert")
    items = get_session().exec(select(Item).where(Item.panel_id == sample.panel.id).order_by(Item.id).limit(3)).all()

    def save(item, serial):
        response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": serial})
        assert response.status_code == 302

    for n, item in enumerate(items):
        save(item, f"QM-{n}0{n}0{n}0{n}")
    lock, saved = search_index.panel_lock, []

    def lock_after_a_save(*args, **kwargs):
        if not saved:  # the merged segment is written: a save lands before the merge takes the lock
            saved.append(True)
            save(items[0], "QM-7-77777")
        return lock(*args, **kwargs)

    monkeypatch.setattr(search_index, "panel_lock", lock_after_a_save)
    assert search_index.merge_small_segments("YEM", sample.app)
    assert saved
    assert len(search_index.searcher_for(sample.panel).ix._segments()) == 3  # rebuilt, merged, the last save's
    assert _refs(expert.get("/search?q=QM-7-77777").get_data(as_text=True)) == [items[0].item_ref]
    assert _refs(expert.get("/search?q=QM-0000000").get_data(as_text=True)) == []
    for n, item in list(enumerate(items))[1:]:
        assert _refs(expert.get(f"/search?q=QM-{n}0{n}0{n}0{n}").get_data(as_text=True)) == [item.item_ref]


def test_a_merge_of_segments_whose_documents_are_all_deleted_drops_them(sample, monkeypatch):
    """Segments left with no live document (an item saved twice, then taken out of the
    index) are dropped by the merge, not merged into an empty segment."""
    monkeypatch.setattr(search_index, "MERGE_ABOVE_SEGMENTS", 100)
    monkeypatch.setattr(search_index, "SMALL_SEGMENT_DOCS", 10)
    expert = sample.client("expert")
    item = _item("YEM-2023-004/02")
    for serial in ("QM-1010101", "QM-2020202"):
        response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": serial})
        assert response.status_code == 302
    first = len(search_index.searcher_for(sample.panel).ix._segments())
    with search_index.panel_lock("YEM"):
        search_index.write_documents(sample.panel, [], [f"item:{item.id}"])
    assert search_index.merge_small_segments("YEM", sample.app)
    assert len(search_index.searcher_for(sample.panel).ix._segments()) == first - 2
    assert _refs(expert.get("/search?q=QM-2020202").get_data(as_text=True)) == []
    assert "YEM-2023-011/01" in _refs(expert.get("/search?q=EK3317").get_data(as_text=True))


def test_the_codes_scanned_for_short_run_patterns_are_kept_per_segment_and_a_replaced_reading_drops_out(sample):
    """A save keeps the code tables of the segments it leaves alone (a fifth of a second
    to build at 100,000 items); the reading the save replaced, still in its old segment's
    table, is no longer found."""
    expert = sample.client("expert")
    item = _item("YEM-2023-004/02")
    assert "YEM-2023-004/02" in _refs(expert.get("/search", query_string={"q": "24?1?7?4"}).get_data(as_text=True))
    before = search_index.searcher_for(sample.panel)
    tables = {segment_id: data.derived["code_table"] for segment_id, data in before.segments.items()}
    response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": "9X1-5"})
    assert response.status_code == 302
    assert "YEM-2023-004/02" not in _refs(expert.get("/search", query_string={"q": "24?1?7?4"}).get_data(as_text=True))
    assert "YEM-2023-004/02" in _refs(expert.get("/search", query_string={"q": "9??5"}).get_data(as_text=True))
    after = search_index.searcher_for(sample.panel)
    assert all(after.segments[segment_id].derived["code_table"] is table for segment_id, table in tables.items())


def test_stored_unreadable_readings_are_kept_per_segment_found_by_plain_queries_and_dropped_when_replaced(world):
    """Readings with ``?`` have no fragment or typo terms: a plain query finds them from
    each segment's table of them, kept across saves. ``17?40258`` is what ``17740258``
    may be (a wildcard hit, 60) and what ``I7740258`` may be as a confusable (55); field
    syntax keeps to its column; the reading a save replaced no longer fits."""
    _items_with_serials(world, "17?40258", "17740258")
    one = "YEM-2024-017/0"
    assert _hits(world, "17740258") == {f"{one}1": ("serial", "17?40258", 60.5),
                                        f"{one}2": ("serial", "17740258", 100.5)}
    assert _hits(world, "I7740258")[f"{one}1"] == ("serial", "17?40258", 55.5)
    assert f"{one}1" not in _hits(world, "lot:17740258")
    assert f"{one}1" in _hits(world, "serial:17740258")
    before = search_index.searcher_for(world.panel)
    tables = {segment_id: data.derived["unknown_readings"] for segment_id, data in before.segments.items()}
    item = _item(f"{one}1")
    expert = world.client("expert")
    response = expert.post(f"/items/{item.id}/edit",
                           data={**ITEM, "item_ref": item.item_ref, "serial": "55?0", "serial_legibility": "partial"})
    assert response.status_code == 302
    assert f"{one}1" not in _hits(world, "17740258")
    assert _hits(world, "5530") == {f"{one}1": ("serial", "55?0", 60.5)}
    after = search_index.searcher_for(world.panel)
    assert after is not before
    assert all(after.segments[segment_id].derived["unknown_readings"] is table
               for segment_id, table in tables.items() if segment_id in after.segments)


def test_a_search_right_after_a_commit_in_the_same_clock_tick_sees_the_commit(sample):
    """The searcher is kept while the index folder is unchanged (one stat, not a listing
    of the folder). The folder's clock is coarse: a commit in the same tick as the last
    check leaves its modification time as it was, and must still be seen."""
    import os

    expert = sample.client("expert")
    search_index.searcher_for(sample.panel)
    checked = search_index.searcher_for(sample.panel)
    item = _item("YEM-2023-004/02")
    response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": "QX-4466"})
    assert response.status_code == 302
    cache = search_index._local.searchers
    last = next(cached for cached in cache.values() if cached.ix.storage.folder == checked.ix.storage.folder)
    assert last.seen_folder is not None  # the searcher as last checked (maybe during the request)...
    seen = last.seen_folder[1]
    last.seen_at = seen / 1e9  # ...in the tick of the folder's last change...
    os.utime(last.ix.storage.folder, ns=(seen, seen))  # ...and the commit in that tick too
    assert search_index.searcher_for(sample.panel) is not last
    assert _refs(expert.get("/search?q=QX4466").get_data(as_text=True)) == ["YEM-2023-004/02"]


def test_words_of_stricter_fields_are_found_when_a_segment_holds_too_many_to_keep_in_memory(world, monkeypatch):
    """A segment keeps the words of source notes and captions in memory to skip the
    look-ups of absent ones; past SMALL_FIELD_TERMS it looks them up as before. Either
    way only readers cleared for the notes find them."""
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "notes": "Seen by informant Kestrel"})
    item = _item("YEM-2024-017/01")
    for url in (f"/cases/{case.id}/classify", f"/items/{item.id}/classify"):
        expert.post(url, data={"field": "classification", "level": "public", "confirm_public": "y"})
    viewer = world.client("viewer")
    for limit in (20_000, 0):
        monkeypatch.setattr(search_index, "SMALL_FIELD_TERMS", limit)
        search_index.close_searchers()
        assert _refs(expert.get("/search?q=kestrel").get_data(as_text=True)) == ["YEM-2024-017/01"], limit
        assert _refs(expert.get("/search?q=osprey").get_data(as_text=True)) == []
        assert _refs(viewer.get("/search?q=kestrel").get_data(as_text=True)) == []
        assert _refs(viewer.get("/search?q=24017731").get_data(as_text=True)) == ["YEM-2024-017/01"]
    segments = search_index.searcher_for(world.panel).segments.values()
    assert all(data.small for data in segments)


def _saved_across_segments(sample) -> None:
    """Three saves after the import's rebuild: the items saved (the first by reference among
    them) get their documents in new segments, their old ones deleted; one item deleted."""
    expert = sample.client("expert")
    for ref, serial in (("YEM-2023-004/01", "QM-1010101"), ("YEM-2023-004/03", "QM-3030303")):
        item = _item(ref)
        response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": serial})
        assert response.status_code == 302
    item = _item("YEM-2023-004/02")
    assert expert.post(f"/items/{item.id}/delete", data={"reason": "entered twice"}).status_code == 302


def _by_tier_then_ref(run, scores: dict[int, float]) -> list[int]:
    """The order hits are ranked in, brute force: tier, then item reference as UTF-8 bytes
    read from the column document by document, then document number."""
    refs = run.column("item_ref")
    return sorted(scores, key=lambda docnum: (-scores[docnum], refs(docnum), docnum))


@pytest.mark.parametrize("slack", [256, 0])  # 0: walks of the reference orders fall short too
def test_the_hits_of_a_tier_come_by_item_reference_across_segments_for_any_stop(sample, monkeypatch, slack):
    """A tier of many hits is ranked from each segment's table of item references (built
    once per segment): the first hits of the tier by a walk of each segment's reference
    order, or all of them, in the order of a sort of the references read one by one."""
    import random

    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    monkeypatch.setattr(query, "SMALL_TIER", 0)  # the tables even for the sample's few hits
    monkeypatch.setattr(query, "WALK_SLACK", slack)
    _saved_across_segments(sample)
    run = query._run(sample.panel, Classification.PANEL)
    assert len(run.reader.leaf_readers()) >= 4  # the rebuild's segment and the saves'
    everything = query.evaluate(run, "*")
    assert len(everything) > 40 and len(set(everything.values())) == 1
    walks = []
    first_by_walk = query._first_by_walk
    monkeypatch.setattr(query, "_first_by_walk", lambda *a: walks.append(first_by_walk(*a)) or walks[-1])
    rng = random.Random(5)
    shuffled = list(everything.items())
    rng.shuffle(shuffled)  # the order the matchers found them in does not count
    two_tiers = {docnum: rng.choice([60, 60, 60, 55]) for docnum, _tier in shuffled}
    three_tiers = {docnum: rng.choice([90, 60, 55]) for docnum, _tier in shuffled}
    by_ref = _by_tier_then_ref(run, everything)
    late = {docnum: 60 if at >= len(by_ref) // 2 else 55 for at, docnum in enumerate(by_ref)}  # none among the first
    for scores in (everything, dict(shuffled), two_tiers, three_tiers, late):
        expected = _by_tier_then_ref(run, scores)
        for stop in [*range(len(scores) + 2), None]:
            assert query._ranked(run, scores, stop)[:stop] == expected[:stop], stop
    assert any(found is not None for found in walks)
    assert slack or any(found is None for found in walks)
    # a document without reference (a case: never a hit) would come first; no walk misses it
    case_doc = next(iter(run.docs("doctype", "case")))
    with_case = {**two_tiers, case_doc: 60}
    assert query._ranked(run, with_case, 3)[:3] == _by_tier_then_ref(run, with_case)[:3]
    assert query._ranked(run, with_case, 3)[0] == case_doc


def test_paging_through_a_tier_of_many_hits_gives_the_full_lists_order_without_replaced_or_deleted_items(
        sample, monkeypatch):
    """Pages of a many-hit query (offset and limit) are the slices of the whole ranking:
    each item once, in its saved version, a deleted item nowhere."""
    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    monkeypatch.setattr(query, "SMALL_TIER", 0)
    _saved_across_segments(sample)
    run = query._run(sample.panel, Classification.PANEL)
    ranked = _by_tier_then_ref(run, query.evaluate(run, "*"))
    refs = [run.stored(docnum)["item_ref"] for docnum in ranked]
    assert len(refs) == len(set(refs)) > 40
    assert "YEM-2023-004/02" not in refs and {"YEM-2023-004/01", "YEM-2023-004/03"} <= set(refs)
    assert refs == sorted(refs)  # one tier
    everything = query.search(sample.panel, "*", clearance=Classification.PANEL, limit=None)
    assert sorted(hit.item_ref for hit in everything.hits) == refs and everything.total == len(refs)
    for size in (1, 7, 20):
        paged = []
        for offset in range(0, len(refs) + size, size):
            hits = query.search(sample.panel, "*", clearance=Classification.PANEL, limit=size, offset=offset).hits
            # a page holds the slice of the ranking (shown by the score of the reading that matched)
            assert sorted(hit.item_ref for hit in hits) == refs[offset:offset + size]
            paged += hits
        assert sorted(hit.item_ref for hit in paged) == refs
        assert size > 1 or [hit.item_ref for hit in paged] == refs
    saved = {hit.item_ref: hit.matched for hit in everything.hits}
    assert saved["YEM-2023-004/01"] == "QM-1010101" and saved["YEM-2023-004/03"] == "QM-3030303"


def test_the_item_reference_tables_of_the_segments_a_save_left_alone_are_kept(sample, monkeypatch):
    """The reference table of a segment is read once: the searcher opened after a save
    takes over those of the segments it keeps, and ranks the new segment's items too."""
    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    monkeypatch.setattr(query, "SMALL_TIER", 0)
    expert = sample.client("expert")
    first = query.search(sample.panel, "*", clearance=Classification.PANEL, limit=3).hits
    assert [hit.item_ref for hit in first] == ["YEM-2023-004/01", "YEM-2023-004/02", "YEM-2023-004/03"]
    before = search_index.searcher_for(sample.panel)
    tables = {segment_id: data.derived["ref_order"] for segment_id, data in before.segments.items()}
    assert tables
    item = _item("YEM-2023-004/02")
    response = expert.post(f"/items/{item.id}/edit", data={**ITEM, "item_ref": item.item_ref, "serial": "QM-2020202"})
    assert response.status_code == 302
    hits = query.search(sample.panel, "*", clearance=Classification.PANEL, limit=3).hits
    assert [(hit.item_ref, hit.matched) for hit in hits][1] == ("YEM-2023-004/02", "QM-2020202")
    after = search_index.searcher_for(sample.panel)
    assert after is not before
    assert all(after.segments[segment_id].derived["ref_order"] is table for segment_id, table in tables.items())


def test_a_fragment_of_eight_is_checked_whole_on_the_codes_its_first_and_last_windows_find(world):
    """A fragment of 6 to 8 characters is looked up by its first and last windows of 5
    only, then checked whole on the codes found: a serial holding both windows apart is
    no hit, the fragment read through a confusable is a 55, the fragment itself a 60."""
    _items_with_serials(world, "AK2401773199", "AK40177X77319", "AK24O1773199", "24017731")
    one = "YEM-2024-017/0"
    assert _hits(world, "40177319") == {f"{one}1": ("serial", "AK2401773199", 60.5),
                                        f"{one}3": ("serial", "AK24O1773199", 55.5)}
    assert _hits(world, "4O177319")[f"{one}1"] == ("serial", "AK2401773199", 55.5)


def test_a_common_word_is_checked_on_the_rarer_words_documents_and_only_where_the_reader_may_look(world, monkeypatch):
    """Beside a rarer word, a word in thousands of documents is checked on the rarer
    word's documents (their readings' words), not read from its posting lists. The hits
    are the same either way, and a word of a reading stricter than the reader's clearance
    counts as absent."""
    from panel_tracker.classification import Classification
    from panel_tracker.search import query

    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "notes": "Seen by informant Kestrel"})
    expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "serial": "24017732", "model": "Kestrel"})
    expert.post(f"/cases/{case.id}/items/new", data={**ITEM, "serial": "24017733", "type": "pistol"})
    for url in (f"/cases/{case.id}/classify", *(f"/items/{_item(f'YEM-2024-017/0{n}').id}/classify" for n in (1, 2, 3))):
        expert.post(url, data={"field": "classification", "level": "public", "confirm_public": "y"})
    viewer = world.client("viewer")
    one, two = "YEM-2024-017/01", "YEM-2024-017/02"
    for common, ratio in ((query.COMMON_WORD, query.COMMON_WORD_RATIO), (0, 0)):  # (0, 0): always checked
        monkeypatch.setattr(query, "COMMON_WORD", common)
        monkeypatch.setattr(query, "COMMON_WORD_RATIO", ratio)
        assert _refs(expert.get("/search?q=rifle kestrel").get_data(as_text=True)) == [one, two], common
        assert _refs(expert.get("/search?q=kestrel pistol").get_data(as_text=True)) == []
        assert _refs(viewer.get("/search?q=rifle kestrel").get_data(as_text=True)) == [two]
        assert _refs(viewer.get("/search?q=assault informant").get_data(as_text=True)) == []
    run = query._run(world.panel, Classification.PUBLIC)
    noted = next(d for d in query.evaluate(query._run(world.panel, Classification.PANEL), "informant"))
    assert not query._holds_word(run, noted, "KESTREL") and query._holds_word(run, noted, "RIFLE")
    assert query._holds_word(query._run(world.panel, Classification.PANEL), noted, "KESTREL")


def test_words_found_in_different_readings_still_say_which_reading_matched(world):
    """``rifle dhow``: the type holds one word, the source notes the other. The hit names
    a reading holding one of them, highlighted, as every hit does (the CLI's ``field``
    is a column, never empty)."""
    expert = world.client("expert")
    expert.post("/cases/new", data={"ref": "YEM-2024-017", "status": "open"})
    case = _case("YEM-2024-017")
    expert.post(f"/cases/{case.id}/items/new", data=ITEM)
    assert _hits(world, "rifle dhow") == {"YEM-2024-017/01": ("type", "assault rifle (AK-pattern)", 70.0)}
    page = expert.get("/search?q=rifle dhow").get_data(as_text=True)
    assert _refs(page) == ["YEM-2024-017/01"] and "<mark>rifle</mark>" in page


def test_a_query_typed_in_groups_meets_a_lot_only_group_by_group_even_through_a_typo(world):
    """``В 139071`` (a serial, typed in two groups) is one typo from the lot ``13-90-71``
    folded, but its groups do not line up with the lot's: no hit (it used to be listed,
    naming no reading). Typed in one group it finds the lot; the serial it was typed for
    is found either way."""
    _items_with_serials(world, "В 139071", "ZZ-1")
    expert = world.client("expert")
    second = _item("YEM-2024-017/02")
    response = expert.post(f"/items/{second.id}/edit",
                           data={**ITEM, "item_ref": second.item_ref, "serial": "ZZ-1", "lot": "13-90-71"})
    assert response.status_code == 302
    one, two = "YEM-2024-017/01", "YEM-2024-017/02"
    assert _hits(world, "В 139071") == {one: ("serial", "В 139071", 100.5)}
    assert _hits(world, "b-139071") == {one: ("serial", "В 139071", 90.5)}
    assert _hits(world, "139071")[two] == ("lot", "13-90-71", 90.4)
    assert all(field for field, _matched, _score in _hits(world, "ОТ 3113").values())
