"""Report annexes compiled to PDF: numbering, captions, source lines, the as-at table, Arabic
text, and nothing withheld in any form (text, pixels, metadata, bookmarks), per edition;
builds kept as versions and reused; submission freezes; the CLI contracts.

One world (``annex_world``): a public case with three items — A public (its source details
panel-only), B committee, C panel — a public photo of A with a marking box, a panel photo
of A, a trace request sent before the cut-off and answered after it, and a report whose
annex 1 (public) holds text, an item sheet, a figure, a table of items and the as-at
table; annex 2 is panel-only and annex 3 committee.
"""
from __future__ import annotations

import io
import subprocess
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlmodel import select

from panel_tracker.annexes import builds, services
from panel_tracker.annexes.models import AnnexBuild, BuildFormat, BuildState, Edition, Publication, Report
from panel_tracker.cases import services as cases
from panel_tracker.classification import Classification
from panel_tracker.db import get_session
from panel_tracker.evidence.services import photo_store, receive_photo
from panel_tracker.traces import services as traces
from panel_tracker.validation import Invalid
from tests.imagefactory import photographic_jpeg

CUT_OFF = date(2025, 6, 30)
SECRETS = ("PANELSERIAL-99", "PANEL-ITEM-NOTE", "SOURCE-NOTE-XYZ", "SECRET-CAPTION", "SECRET ANNEX TITLE",
           "Secret recovery place")
COMMITTEE_ONLY = ("COMMSERIAL-77", "COMMITTEE ANNEX TITLE")


def _photo(db, world, tmp_path, item, seed, caption, level, source_line=""):
    path = photographic_jpeg(tmp_path / f"p{seed}.jpg", 900, 600, seed=seed)
    with open(path, "rb") as f:
        photo = receive_photo(db, world.panel, f, filename=f"IMG_{seed}.JPG", actor=None, case_id=item.case_id,
                              item_id=item.id, caption=caption, source_line=source_line,
                              source="Confidential informant Z").photo
    photo.classification = level
    db.add(photo)
    return photo


@pytest.fixture
def annex_world(world, tmp_path):
    db = get_session()
    case = cases.create_case(db, world.panel, {"ref": "YEM-2025-001", "title": "Seizure at sea"}, None)
    case.classification = Classification.PUBLIC
    a = cases.create_item(db, case, {"category": "small_arm", "type": "assault rifle", "make_marked": "Factory 66",
                                     "model": "Type 56-1", "serial": "24017731", "serial_legibility": "intact", "quantity": 1,
                                     "notes": "SOURCE-NOTE-XYZ", "recovered_place": "Secret recovery place"}, None)
    a.classification, a.source_classification = Classification.PUBLIC, Classification.PANEL
    b = cases.create_item(db, case, {"category": "ammunition", "type": "cartridges", "lot": "COMMSERIAL-77",
                                     "quantity": 400}, None)
    b.classification = Classification.COMMITTEE
    c = cases.create_item(db, case, {"category": "uav", "type": "UAV engine", "serial": "PANELSERIAL-99", "serial_legibility": "intact",
                                     "other_marks": "PANEL-ITEM-NOTE", "quantity": 1}, None)
    c.classification = Classification.PANEL
    for item in (a, b, c):
        db.add(item)
    marking = cases.add_marking(db, a, {"text": "ZX11-210371", "kind": "serial", "location": "receiver"}, None)
    arabic = cases.add_marking(db, a, {"text": "موتور ۸۷۰۴۱۲", "kind": "other", "location": "plate"}, None)
    assert arabic.id
    public_photo = _photo(db, world, tmp_path, a, 1, "Serial on the receiver", Classification.PUBLIC,
                          "Source: Panel, 12 March 2025")
    secret_photo = _photo(db, world, tmp_path, a, 2, "SECRET-CAPTION", Classification.PANEL)
    cases.link_marking_photo(db, marking, public_photo, (0.1, 0.2, 0.3, 0.2), None)
    chn = traces.state_addressee(db, world.panel, "CHN", None)
    letter = traces.draft_letter(db, world.panel, {"kind": "trace_request", "addressee_id": chn.id}, None,
                                 item_ids=[a.id])
    traces.send_letter(db, letter, None, sent_on=date(2025, 3, 1), today=date(2025, 9, 1))
    traces.record_reply(db, letter, None, received_on=date(2025, 8, 1), summary="Exported in 2009.", complete=True,
                        today=date(2025, 9, 1))
    letter.classification = Classification.PUBLIC
    db.add(letter)

    report = services.create_report(db, world.panel, {"title": "Final report 2025", "kind": "final",
                                                      "cut_off": CUT_OFF.isoformat()}, None)
    annex = services.add_annex(db, report, {"title": "Small arms seized at sea", "classification": "public",
                                            "intro": "The serial is shown in [[fig:closeup]]; see also "
                                                     "[[table:items]] and [[fig:sheet-c]]."}, None)
    add = lambda kind, **values: services.add_block(db, report, annex, {"kind": kind, "classification": "public",
                                                                        **values}, None)
    add("text", settings={"text": "The Panel inspected **three** items."})
    add("item_sheet", key="sheet-a", settings={"item": a.item_ref, "boxes": True})
    add("item_sheet", key="sheet-c", settings={"item": c.item_ref})
    add("photo_figure", key="closeup", caption="Markings of the rifle",
        settings={"photo_ids": f"{public_photo.id} {secret_photo.id}", "boxes": True})
    add("item_table", key="items", caption="Items seized", settings={"items": f"{a.item_ref} {b.item_ref} {c.item_ref}"})
    add("trace_status")
    services.add_annex(db, report, {"title": "SECRET ANNEX TITLE", "classification": "panel",
                                    "intro": "Panel eyes only."}, None)
    committee = services.add_annex(db, report, {"title": "COMMITTEE ANNEX TITLE", "classification": "committee"},
                                   None)
    services.add_block(db, report, committee, {"kind": "item_sheet", "classification": "committee",
                                               "settings": {"item": b.item_ref}}, None)
    db.commit()
    return {"report": report, "annex": annex, "a": a, "b": b, "c": c, "public_photo": public_photo,
            "secret_photo": secret_photo, "letter": letter}


def _build(world, report, edition, fmt="pdf", annex_id=None, clearance=Classification.PANEL) -> tuple[AnnexBuild, bytes]:
    db = get_session()
    build = builds.request_build(db, world.panel, report, annex_id, Edition(edition), BuildFormat(fmt), None,
                                 clearance)
    db.commit()
    builds.run_build(build.id)
    db.expire_all()
    build = db.get(AnnexBuild, build.id)
    assert build.state == BuildState.DONE, build.error
    return build, builds.file_path(world.panel.code, build).read_bytes()


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _outline_titles(reader: PdfReader) -> list[str]:
    out = []

    def walk(entries):
        for entry in entries:
            if isinstance(entry, list):
                walk(entry)
            else:
                out.append(entry.title)

    walk(reader.outline)
    return out


def _signature(image: Image.Image) -> list[int]:
    return list(image.convert("L").resize((16, 16), Image.Resampling.BOX).tobytes())


def _distance(a: list[int], b: list[int]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


def test_public_edition_numbers_captions_sources_and_withholds(world, annex_world, tmp_path):
    _, pdf = _build(world, annex_world["report"], "public")
    text = _text(pdf, tmp_path)
    # Numbering: annex 1; figures 1.1 (sheet A) and 1.2 (the figure); the sheet of panel item C
    # is withheld, so no number is skipped; tables 1.1 (items) and 1.2 (trace status).
    for expected in ("Annex 1", "Small arms seized at sea", "Figure 1.1", "Figure 1.2", "Table 1.1", "Table 1.2",
                     "Markings of the rifle", "Items seized", "Source: Panel, 12 March 2025"):
        assert expected in text, expected
    assert "Figure 1.3" not in text
    # Cross-references resolve to the edition's numbers; one to a withheld figure says so.
    assert "The serial is shown in Figure 1.2; see also Table 1.1 and (not included in this edition)." in \
        " ".join(text.split())
    # Withheld material is absent and its place noted.
    for secret in SECRETS + COMMITTEE_ONLY:
        assert secret not in text, secret
    assert "An item sheet withheld from this edition." in text
    assert "1 photograph withheld from this edition." in text
    assert "2 items withheld from this edition." in text
    assert "Annex 2 is not included in this edition." in text
    assert "Annex 3 is not included in this edition." in text
    # The as-at table: sent before the cut-off, answered after it.
    assert "Status of trace requests as at 30 June 2025" in text
    flat = " ".join(text.split())
    assert "No response as at 30 June 2025" in flat
    assert "As at 30 June 2025: 1 sent, 0 acknowledged, 0 replied, 0 items traced, 1 with no response." in flat
    # The header says DRAFT until the symbol is known; no marking on a public edition.
    assert "DRAFT" in text and "ONLY" not in text
    _nothing_withheld_in_images_metadata_or_bookmarks(world, annex_world, pdf)
    _arabic_is_extractable_and_fonts_are_noto(pdf, text, tmp_path)


def test_panel_and_committee_editions_carry_their_material_and_marking_on_every_page(world, annex_world, tmp_path):
    _, panel_pdf = _build(world, annex_world["report"], "panel")
    panel_text = _text(panel_pdf, tmp_path)
    for secret in ("PANELSERIAL-99", "PANEL-ITEM-NOTE", "SOURCE-NOTE-XYZ", "SECRET-CAPTION", "SECRET ANNEX TITLE",
                   "COMMSERIAL-77"):
        assert secret in panel_text, secret
    # Source identities appear in no edition, not even the panel's.
    assert "Confidential informant Z" not in panel_text and "IMG_2.JPG" not in panel_text
    _, committee_pdf = _build(world, annex_world["report"], "committee")
    reader = PdfReader(io.BytesIO(committee_pdf))
    assert len(reader.pages) >= 3
    for page in reader.pages:
        assert "COMMITTEE ONLY" in page.extract_text()
    committee_text = _text(committee_pdf, tmp_path)
    assert "COMMSERIAL-77" in committee_text and "COMMITTEE ANNEX TITLE" in committee_text
    assert not any(secret in committee_text for secret in SECRETS)
    for page in PdfReader(io.BytesIO(panel_pdf)).pages:
        assert "PANEL ONLY" in page.extract_text()



def _nothing_withheld_in_images_metadata_or_bookmarks(world, annex_world, pdf):
    reader = PdfReader(io.BytesIO(pdf))
    store = photo_store()
    signature = {key: _signature(Image.open(store.derivative_path(world.panel.code, annex_world[key].sha256, "large")))
                 for key in ("public_photo", "secret_photo")}
    raw_images = [image.data for page in reader.pages for image in page.images]
    embedded = [Image.open(io.BytesIO(data)) for data in raw_images]
    assert embedded, "the public photo is printed"
    nearest = {key: min(_distance(_signature(im), sig) for im in embedded) for key, sig in signature.items()}
    assert nearest["public_photo"] < 12, nearest  # the public photo is there (boxes drawn on it)
    assert nearest["secret_photo"] > 25, nearest  # the withheld one is not, by decoded pixels
    # Print derivatives at ~200 dpi for their printed size (150 mm at most: 1,181 px), never
    # the originals (whose EXIF would travel with them).
    originals = {store.original_path(world.panel.code, annex_world[key].sha256).read_bytes()
                 for key in ("public_photo", "secret_photo")}
    assert not originals & set(raw_images)
    assert all(max(im.size) <= 1181 and not im.getexif() for im in embedded), [im.size for im in embedded]
    # Document metadata: a title, no author or subject; no XMP; bookmarks only of what is shown.
    info = {key: str(value) for key, value in (reader.metadata or {}).items()}
    assert set(info) <= {"/Title", "/Producer", "/Creator", "/CreationDate", "/ModDate"}, info
    assert "Final report 2025" in info.get("/Title", "")
    assert reader.xmp_metadata is None
    titles = _outline_titles(reader)
    assert "Annex 1" in titles and "Small arms seized at sea" in titles
    blob = " ".join(titles) + " ".join(info.values())
    assert not any(secret in blob for secret in SECRETS + COMMITTEE_ONLY)
    # No stream of the file carries a withheld string (metadata, names, alt text...).
    for number in range(1, len(reader.xref_objStm) + 200):
        try:
            obj = reader.get_object(number)
        except Exception:  # noqa: BLE001 - not every number is an object
            continue
        raw = obj.get_data() if hasattr(obj, "get_data") else str(obj).encode("utf-8", "replace")
        for secret in SECRETS:
            assert secret.encode() not in raw and secret.encode("utf-16-be") not in raw


def _arabic_is_extractable_and_fonts_are_noto(pdf, text, tmp_path):
    assert "۸۷۰۴۱۲" in text
    assert "موتور" in text or "روتوم" in text  # shaped Arabic; pdftotext may give visual order
    (tmp_path / "f.pdf").write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "f.pdf")], capture_output=True, text=True).stdout
    assert "Noto" in fonts and "Arabic" in fonts


def test_an_unchanged_rebuild_reuses_the_file_and_a_change_makes_a_new_version(world, annex_world):
    first, pdf = _build(world, annex_world["report"], "public")
    again, same = _build(world, annex_world["report"], "public")
    assert again.reused_from_id == first.id and again.sha256 == first.sha256 and same == pdf
    assert again.inputs_hash == first.inputs_hash and len(first.inputs_hash) == 64
    db = get_session()
    cases.update_item(db, annex_world["a"], {"serial": "24017799"}, None)
    db.commit()
    changed, _ = _build(world, annex_world["report"], "public")
    assert changed.reused_from_id is None and changed.inputs_hash != first.inputs_hash
    # A panel-only change does not reach the public edition's inputs: reused again.
    cases.update_item(db, annex_world["c"], {"serial": "PANELSERIAL-98"}, None)
    db.commit()
    unchanged, _ = _build(world, annex_world["report"], "public")
    assert unchanged.reused_from_id == changed.id


def test_an_edition_above_the_builders_clearance_is_refused(world, annex_world):
    with pytest.raises(Invalid) as refused:
        builds.request_build(get_session(), world.panel, annex_world["report"], None, Edition.PANEL, BuildFormat.PDF,
                             None, Classification.COMMITTEE)
    assert refused.value.status == 403


def test_submission_freezes_the_annexes_and_records_where_items_were_published(world, annex_world, tmp_path):
    db = get_session()
    report = annex_world["report"]
    services.submit(db, world.panel, report, None)
    db.commit()
    a, b, c = annex_world["a"], annex_world["b"], annex_world["c"]
    cases.update_item(db, a, {"serial": "CHANGED-AFTER"}, None)
    db.commit()
    _, pdf = _build(world, report, "public", annex_id=annex_world["annex"].id)
    text = _text(pdf, tmp_path)
    assert "24017731" in text and "CHANGED-AFTER" not in text
    with pytest.raises(Invalid) as frozen:
        services.add_annex(db, report, {"title": "Late"}, None)
    assert frozen.value.status == 409
    published = {p.item_id: p for p in db.exec(select(Publication).where(Publication.report_id == report.id)).all()}
    assert published[a.id].edition == Edition.PUBLIC and published[a.id].annex_number == 1
    assert published[b.id].edition == Edition.COMMITTEE  # in annex 1's table (committee) and annex 3
    assert published[c.id].edition == Edition.PANEL
    # The symbol, known later, still reaches the publication records.
    services.update_report(db, report, {"symbol": "S/2025/123"}, None)
    db.commit()
    db.refresh(published[a.id])
    assert published[a.id].citation == "S/2025/123, annex 1"
    with pytest.raises(Invalid):
        services.update_report(db, report, {"title": "Renamed"}, None)


def test_block_settings_name_only_this_panels_records(world, annex_world):
    db = get_session()
    other_case = cases.create_case(db, world.other_panel, {"ref": "LBY-2025-001"}, None)
    other_item = cases.create_item(db, other_case, {"category": "small_arm", "type": "rifle", "quantity": 1}, None)
    db.commit()
    for settings in ({"item": other_item.item_ref}, {"item": other_item.id}):
        with pytest.raises(Invalid) as refused:
            services.add_block(db, annex_world["report"], annex_world["annex"],
                               {"kind": "item_sheet", "settings": settings}, None)
        assert "No item" in refused.value.errors["settings"]
    with pytest.raises(Invalid):
        services.add_block(db, annex_world["report"], annex_world["annex"],
                           {"kind": "item_sheet", "key": "sheet-a", "settings": {"item": annex_world["b"].item_ref}},
                           None)


def test_reordering_annexes_renumbers_them_and_their_figures(world, annex_world, tmp_path):
    db = get_session()
    report = annex_world["report"]
    ids = [a.id for a in services.annexes_of(db, report)]
    services.order_annexes(db, report, [ids[2], ids[0], ids[1]], None)
    db.commit()
    _, pdf = _build(world, report, "committee")
    text = _text(pdf, tmp_path)
    assert text.index("COMMITTEE ANNEX TITLE") < text.index("Small arms seized at sea")
    assert "Figure 2.1" in text and "Table 2.1" in text and "Annex 3 is not included" in text
    with pytest.raises(Invalid):
        services.order_annexes(db, report, ids[:2], None)


def test_cli_build_and_quick_follow_their_contract(world, annex_world, runner, tmp_path):
    report = annex_world["report"]
    out = tmp_path / "annex1.pdf"
    result = runner.invoke(args=["annex", "build", "--panel", "YEM", "--report", str(report.id), "--annex", "1",
                                 "--edition", "public", "--format", "pdf", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out} (pdf, public edition, ")
    assert "Annex 1" in _text(out.read_bytes(), tmp_path)
    missing = runner.invoke(args=["annex", "build", "--panel", "YEM", "--report", str(report.id), "--annex", "9",
                                  "--edition", "public", "--format", "pdf", "--out", str(out)])
    assert missing.exit_code == 2 and "has no annex 9" in missing.output
    other = runner.invoke(args=["annex", "build", "--panel", "LBY", "--report", str(report.id), "--edition", "public",
                                "--format", "pdf", "--out", str(out)])
    assert other.exit_code == 2
    quick = tmp_path / "quick.pdf"
    result = runner.invoke(args=["annex", "quick", "--panel", "YEM", "--case", "YEM-2025-001", "--edition", "public",
                                 "--format", "pdf", "--out", str(quick)])
    assert result.exit_code == 0, result.output
    text = _text(quick.read_bytes(), tmp_path)
    assert "Seizure at sea" in text and "24017731" in text
    assert not any(secret in text for secret in SECRETS + COMMITTEE_ONLY)
    assert get_session().get(Report, report.id).submitted_at is None


def _wait_for(build_id: int, seconds: float = 120) -> AnnexBuild:
    import time

    db = get_session()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.expire_all()
        build = db.get(AnnexBuild, build_id)
        if build.state in (BuildState.DONE, BuildState.FAILED):
            return build
        db.rollback()
        time.sleep(0.2)
    raise AssertionError("the build did not finish")


def test_without_redis_a_build_runs_on_a_thread_and_reports_progress(world, annex_world):
    db = get_session()
    build = builds.request_build(db, world.panel, annex_world["report"], annex_world["annex"].id, Edition.PUBLIC,
                                 BuildFormat.PDF, None, Classification.PANEL)
    db.commit()
    builds.start(build)  # returns at once
    done = _wait_for(build.id)
    assert done.state == BuildState.DONE and done.progress == 100 and done.pages >= 2
    assert builds.file_path(world.panel.code, done).read_bytes().startswith(b"%PDF")


def test_with_redis_a_build_is_queued_and_a_worker_process_runs_it(world, annex_world):
    import uuid

    from rq import Queue, SimpleWorker

    from tests.factories import REDIS_URL as url
    from tests.factories import redis_or_skip

    connection = redis_or_skip()
    world.app.config["REDIS_URL"] = url
    name = world.app.config["JOBS_QUEUE"] = f"pt-test-{uuid.uuid4().hex[:12]}"
    queue = Queue(name, connection=connection)
    try:
        db = get_session()
        build = builds.request_build(db, world.panel, annex_world["report"], annex_world["annex"].id,
                                     Edition.PUBLIC, BuildFormat.PDF, None, Classification.PANEL)
        db.commit()
        builds.start(build)
        assert queue.count == 1
        assert SimpleWorker([queue], connection=connection).work(burst=True)  # builds its own app
        done = _wait_for(build.id, 5)
        assert done.state == BuildState.DONE, done.error
        assert builds.file_path(world.panel.code, done).read_bytes().startswith(b"%PDF")
    finally:
        ids = set(queue.job_ids) | set(queue.finished_job_registry.get_job_ids()) | set(
            queue.failed_job_registry.get_job_ids())
        for job_id in ids:
            connection.delete(f"rq:job:{job_id}", f"rq:results:{job_id}")
        queue.delete(delete_jobs=True)
        for key in connection.scan_iter(f"rq:*{name}*"):
            connection.delete(key)


def test_with_the_panel_setting_off_new_reports_print_no_withheld_notes(world, annex_world):
    from panel_tracker.annexes import compose
    from panel_tracker.auth.services import update_panel_settings

    db = get_session()
    update_panel_settings(db, world.panel, name=world.panel.name, regime="", settings={"annex_withheld_notes": False})
    report = services.create_report(db, world.panel, {"title": "Mid-term update", "kind": "midterm",
                                                      "cut_off": "2025-01-31"}, None)
    annex = services.add_annex(db, report, {"title": "Items", "classification": "public"}, None)
    services.add_block(db, report, annex, {"kind": "item_table", "classification": "public",
                                           "settings": {"items": f"{annex_world['a'].item_ref} {annex_world['c'].item_ref}"}},
                       None)
    services.add_annex(db, report, {"title": "SECRET ANNEX TITLE", "classification": "panel"}, None)
    db.commit()
    assert report.show_withheld_notes is False and annex_world["report"].show_withheld_notes is True
    doc = builds.report_document(db, world.panel, report, Edition.PUBLIC)
    flat = repr(doc)
    assert "from this edition" not in flat and "not included" not in flat and "SECRET" not in flat
    assert doc["annexes"][0]["parts"][0]["rows"] == [[annex_world["a"].item_ref, "assault rifle", "Factory 66",
                                                      "Type 56-1", "", "24017731", "", "", "1"]]
    assert doc["annexes"][1]["withheld"] and doc["annexes"][1]["number"] == 2
    panel_doc = compose.document(db, world.panel, report, compose.report_annexes(db, report), Edition.PANEL,
                                 compose.edition_reader(world.panel.id, Edition.PANEL))
    assert len(panel_doc["annexes"][0]["parts"][0]["rows"]) == 2


def test_a_build_left_unfinished_by_a_stopped_process_is_shown_failed(world, annex_world):
    from datetime import timedelta

    from panel_tracker.db import utcnow

    db = get_session()
    build = builds.request_build(db, world.panel, annex_world["report"], None, Edition.PUBLIC, BuildFormat.PDF,
                                 None, Classification.PANEL)
    build.created_at = utcnow() - timedelta(hours=3)  # asked for, then the server stopped
    fresh = builds.request_build(db, world.panel, annex_world["report"], None, Edition.PUBLIC, BuildFormat.DOCX,
                                 None, Classification.PANEL)
    db.commit()
    page = world.client("expert").get(f"/reports/{annex_world['report'].id}").get_data(as_text=True)
    assert "Interrupted: the process building it stopped. Build it again." in page
    db.expire_all()
    assert db.get(AnnexBuild, build.id).state == BuildState.FAILED
    assert db.get(AnnexBuild, fresh.id).state == BuildState.QUEUED  # a recent one may still be running


# ------------------------------------------------------------------ a quick annex from the case page


def _case_id(world) -> int:
    from panel_tracker.cases.models import Case

    return get_session().exec(select(Case.id).where(Case.panel_id == world.panel.id, Case.ref == "YEM-2025-001")).one()


@pytest.mark.app_config(ANNEX_BUILD_SYNC=True)
def test_an_expert_builds_a_quick_annex_from_the_case_page_and_downloads_each_edition(world, annex_world, tmp_path):
    from panel_tracker.audit.models import AuditRecord

    case_id = _case_id(world)
    expert = world.client("expert")
    page = expert.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Annex of this case's item sheets" in page and 'value="panel"' in page and "No build yet." in page

    refused = expert.post(f"/reports/cases/{case_id}/builds", data={"edition": "secret", "format": "pdf"})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "Choose an edition your role may read" in body and "Seizure at sea" in body  # the case page again
    assert get_session().exec(select(AnnexBuild)).all() == []

    texts = {}
    for edition in ("public", "panel"):
        response = expert.post(f"/reports/cases/{case_id}/builds", data={"edition": edition, "format": "pdf"})
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case_id}#quick-annex")
        build = get_session().exec(select(AnnexBuild).order_by(AnnexBuild.id.desc())).first()
        assert build.state == BuildState.DONE, build.error
        assert (build.case_id, build.report_id, build.annex_id, build.edition.value) == (case_id, None, None, edition)
        download = expert.get(f"/reports/builds/{build.id}/download")
        assert download.status_code == 200 and download.mimetype == "application/pdf"
        assert f"YEM-2025-001_item-sheets_{edition}.pdf" in download.headers["Content-Disposition"]
        texts[edition] = _text(download.get_data(), tmp_path)
        download.close()
        audit = get_session().exec(select(AuditRecord).where(AuditRecord.action == "annex.build",
                                                             AuditRecord.object_id == build.id)).one()
        assert audit.actor_id == world.users["expert"].id and "Quick annex of case YEM-2025-001" in audit.object_label
    assert "Seizure at sea" in texts["public"] and "24017731" in texts["public"]
    assert not any(secret in texts["public"] for secret in SECRETS + COMMITTEE_ONLY)
    assert "PANELSERIAL-99" in texts["panel"] and "COMMSERIAL-77" in texts["panel"]
    assert "PANEL ONLY" in texts["panel"].upper()

    page = expert.get(f"/cases/{case_id}").get_data(as_text=True)
    assert page.count("/download") == 2 and "Item sheets of the case" in page
    states = expert.get(f"/reports/cases/{case_id}/builds.json").json["builds"]
    assert [(s["state"], s["finished"]) for s in states] == [("done", True), ("done", True)]


@pytest.mark.app_config(ANNEX_BUILD_SYNC=True)
def test_a_viewer_gets_no_quick_annex_form_nor_a_panel_edition_and_another_panel_gets_404(world, annex_world):
    case_id = _case_id(world)
    expert = world.client("expert")
    for edition in ("public", "panel"):
        assert expert.post(f"/reports/cases/{case_id}/builds", data={"edition": edition, "format": "pdf"}
                           ).status_code == 302
    public, panel = get_session().exec(select(AnnexBuild).order_by(AnnexBuild.id)).all()

    viewer = world.client("viewer")
    page = viewer.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Build annex</button>" not in page
    assert f"/reports/builds/{public.id}/download" in page and f"/reports/builds/{panel.id}/download" not in page
    assert [b["id"] for b in viewer.get(f"/reports/cases/{case_id}/builds.json").json["builds"]] == [public.id]
    download = viewer.get(f"/reports/builds/{public.id}/download")
    assert download.status_code == 200 and download.get_data().startswith(b"%PDF")
    download.close()
    assert viewer.get(f"/reports/builds/{panel.id}/download").status_code == 404
    assert viewer.post(f"/reports/cases/{case_id}/builds", data={"edition": "public", "format": "pdf"}
                       ).status_code == 403

    outsider = world.client(user=world.outsider)
    assert outsider.post(f"/reports/cases/{case_id}/builds", data={"edition": "public", "format": "pdf"}
                         ).status_code == 404
    assert outsider.get(f"/reports/cases/{case_id}/builds.json").status_code == 404
    assert outsider.get(f"/reports/builds/{public.id}/download").status_code == 404
    assert len(get_session().exec(select(AnnexBuild)).all()) == 2


def test_the_audit_record_of_a_quick_annex_is_classified_as_its_case_too(world, annex_world):
    from panel_tracker.audit.models import AuditRecord
    from panel_tracker.cases.models import Case

    db = get_session()
    case = db.get(Case, _case_id(world))
    case.classification = Classification.PANEL
    db.add(case)
    build = builds.request_quick_build(db, world.panel, case, Edition.PUBLIC, BuildFormat.PDF, None,
                                       Classification.PANEL)
    db.commit()
    record = db.exec(select(AuditRecord).where(AuditRecord.action == "annex.build",
                                               AuditRecord.object_id == build.id)).one()
    assert "YEM-2025-001" in record.object_label and record.classification == Classification.PANEL


def _nearest(pdf: bytes, photo: Image.Image) -> float:
    """How close the embedded image nearest to ``photo`` is to it, by decoded pixels."""
    signature = _signature(photo)
    return min((_distance(_signature(im.image), signature)
                for page in PdfReader(io.BytesIO(pdf)).pages for im in page.images), default=255)


def test_purging_a_photo_withdraws_every_build_that_prints_it_and_keeps_the_others(world, annex_world, tmp_path):
    from panel_tracker.audit.models import AuditRecord
    from panel_tracker.evidence.services import purge_photo

    report, secret = annex_world["report"], annex_world["secret_photo"]
    panel_build, panel_pdf = _build(world, report, "panel")
    reused, _ = _build(world, report, "panel")
    docx_build, _ = _build(world, report, "panel", "docx")
    public_build, public_pdf = _build(world, report, "public")  # the panel-only photo is not in it
    assert reused.reused_from_id == panel_build.id
    store = photo_store()
    with Image.open(store.derivative_path(world.panel.code, secret.sha256, "large")) as im:
        secret_pixels = im.copy()
    assert _nearest(panel_pdf, secret_pixels) < 12 and _nearest(public_pdf, secret_pixels) > 25

    db = get_session()
    purge_photo(db, db.get(type(secret), secret.id), world.panel, world.users["admin"], "Shows a witness's face")
    db.commit()

    db.expire_all()
    for build in (panel_build, reused, docx_build):
        build = db.get(AnnexBuild, build.id)
        assert build.state == BuildState.FAILED and build.error.startswith("Withdrawn: photo ")
        assert not builds.file_path(world.panel.code, build).exists()
    assert {r.object_id for r in db.exec(select(AuditRecord).where(AuditRecord.action == "annex.withdraw")).all()} \
        == {panel_build.id, reused.id, docx_build.id}
    kept = db.get(AnnexBuild, public_build.id)
    assert kept.state == BuildState.DONE and builds.file_path(world.panel.code, kept).read_bytes() == public_pdf

    expert = world.client("expert")
    response = expert.get(f"/reports/builds/{panel_build.id}/download")
    assert response.status_code == 302
    page = expert.get(response.headers["Location"]).get_data(as_text=True)
    assert "That build failed: Withdrawn: photo" in page
    download = expert.get(f"/reports/builds/{public_build.id}/download")
    assert download.status_code == 200
    download.close()

    rebuilt, pdf = _build(world, report, "panel")  # built again, without the photo
    assert rebuilt.reused_from_id is None and _nearest(pdf, secret_pixels) > 25


def test_a_photo_purged_while_a_build_runs_withdraws_that_build(world, annex_world, monkeypatch):
    from panel_tracker.evidence.services import purge_photo

    report, secret = annex_world["report"], annex_world["secret_photo"]
    render = builds.render

    def render_then_purge(document, panel, fmt, progress=None):
        out = render(document, panel, fmt, progress)  # the photo is in the file being written
        with world.app.app_context():
            db = get_session()
            purge_photo(db, db.get(type(secret), secret.id), db.get(type(panel), panel.id), None, "Personal data")
            db.commit()
        return out

    monkeypatch.setattr(builds, "render", render_then_purge)
    db = get_session()
    build = builds.request_build(db, world.panel, report, None, Edition.PANEL, BuildFormat.PDF, None,
                                 Classification.PANEL)
    db.commit()
    builds.run_build(build.id)
    db.expire_all()
    build = db.get(AnnexBuild, build.id)
    assert build.state == BuildState.FAILED and "purged" in build.error
    assert not builds.file_path(world.panel.code, build).exists()
