"""What a viewer must never see, and what must never be written in a user's name.

Each test was first written against a leak a review found (sightings, items of hidden
cases, photo pages, import updates, history masking, export EXIF and GPS, audit records
written by cross-site GETs); they keep those leaks closed."""
import io

from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.cases.models import Case, Item
from panel_tracker.db import get_session
from panel_tracker.evidence.models import Photo
from tests.imagefactory import photographic_jpeg


def mk_case(client, ref="YEM-2024-017", title="Dhow interdiction"):
    r = client.post("/cases/new", data={"ref": ref, "title": title, "status": "open", "country_of_seizure": "YEM"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return get_session().exec(select(Case).where(Case.ref == ref)).one()


def mk_item(client, case, **extra):
    data = {"category": "small_arm", "type": "rifle", "quantity": "1", **extra}
    r = client.post(f"/cases/{case.id}/items/new", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    s = get_session()
    s.expire_all()
    return s.exec(select(Item).order_by(Item.id.desc())).first()


def classify(client, url, level, field="classification"):
    r = client.post(url, data={"level": level, "field": field, "confirm_public": "y" if level == "public" else ""})
    assert r.status_code == 302


def upload(client, case, jpeg, item_id="", **fields):
    data = {"files": [(io.BytesIO(jpeg), "IMG_0001.JPG")], "source": "Informant K via WhatsApp",
            "is_original": "yes", "item_id": str(item_id), **fields}
    r = client.post(f"/cases/{case.id}/photos/upload", data=data, content_type="multipart/form-data")
    r.get_data()
    r.close()
    assert r.status_code == 302, r.get_data(as_text=True)
    s = get_session()
    s.expire_all()
    return s.exec(select(Photo).order_by(Photo.id.desc())).first()


def jpeg_bytes(tmp_path, seed=0):
    return photographic_jpeg(tmp_path / f"IMG_{seed}.JPG", 720, 540, seed=seed).read_bytes()


# ---------------------------------------------------------------- F1 sightings
def test_sightings_never_name_an_item_the_viewer_may_not_see(world):
    expert = world.client("expert")
    c = mk_case(expert)
    classify(expert, f"/cases/{c.id}/classify", "committee")
    secret = mk_item(expert, c, type="SECRET-TYPE-covert-shipment", serial="AB123", serial_legibility="intact")   # stays panel-only
    shown = mk_item(expert, c, type="rifle", serial="AB123", serial_legibility="intact")
    classify(expert, f"/items/{shown.id}/classify", "committee")
    r = expert.post(f"/items/{shown.id}/sighting", data={"sighting_of": secret.item_ref})
    assert r.status_code == 302
    viewer = world.client("viewer")
    assert viewer.get(f"/items/{secret.id}").status_code == 404       # the panel-only item is hidden ...
    page = viewer.get(f"/items/{shown.id}").get_data(as_text=True)
    hist = viewer.get(f"/items/{shown.id}/history").get_data(as_text=True)
    problems = []
    if "SECRET-TYPE-covert-shipment" in page: problems.append("panel-only item's ref+type shown under Sightings")
    if secret.item_ref in hist: problems.append("panel-only item's ref shown in item history (item.link_sighting)")
    assert not problems, problems


# ---------------------------------------------------------------- F2 items of panel-only cases
def test_an_item_in_a_hidden_case_is_hidden_everywhere(world):
    expert = world.client("expert")
    c = mk_case(expert, ref="YEM-2024-099", title="covert")   # the case stays panel-only
    it = mk_item(expert, c, type="MANPADS-gripstock")
    classify(expert, f"/items/{it.id}/classify", "committee")
    viewer = world.client("viewer")
    assert viewer.get(f"/cases/{c.id}").status_code == 404
    assert viewer.get(f"/items/{it.id}").status_code == 404
    listing = viewer.get("/items").get_data(as_text=True)
    by_case = viewer.get("/items?case=YEM-2024-099").get_data(as_text=True)
    with viewer.get("/items/export?format=csv") as response:
        csv = response.get_data(as_text=True)
    dash = viewer.get("/dashboard").get_data(as_text=True)
    hist = viewer.get(f"/items/{it.id}/history")
    problems = []
    if hist.status_code == 200: problems.append(f"/items/{it.id}/history answers 200 (show_item answers 404)")
    if "MANPADS-gripstock" in listing: problems.append("/items lists it")
    if "MANPADS-gripstock" in by_case or "0 found" not in by_case:
        problems.append("/items?case= confirms the panel-only case")
    if "YEM-2024-099" in csv: problems.append("items CSV export holds it with its case_ref")
    if "<strong>1</strong> items" in dash: problems.append("dashboard counts it")
    assert not problems, problems


# ---------------------------------------------------------------- F3 photo page
def test_a_photo_of_a_hidden_item_is_not_served_and_receipts_sources_are_for_experts(world, tmp_path):
    expert = world.client("expert")
    c = mk_case(expert, ref="YEM-2024-050")                     # panel-only case
    it = mk_item(expert, c, type="rifle")                       # panel-only item
    p = upload(expert, c, jpeg_bytes(tmp_path), item_id=it.id)
    classify(expert, f"/photos/{p.id}/classify", "committee")   # only the photo is committee
    viewer = world.client("viewer")
    page = viewer.get(f"/photos/{p.id}")
    img = viewer.get(f"/photos/{p.id}/large.jpg")
    html = page.get_data(as_text=True)
    problems = []
    if page.status_code == 200: problems.append("photo of a panel-only item in a panel-only case is served")
    if img.status_code == 200: problems.append("its derivative is served")
    if "YEM-2024-050" in html: problems.append("case ref and item ref of hidden objects in crumbs")
    if "Informant K via WhatsApp" in html or "IMG_0001.JPG" in html:
        problems.append("receipt source/filename (withheld from exports below panel level) shown to viewer")
    assert not problems, problems


def test_receipt_sources_are_withheld_from_viewers_on_a_visible_photo(world, tmp_path):
    expert = world.client("expert")
    c = mk_case(expert)
    classify(expert, f"/cases/{c.id}/classify", "committee")
    p = upload(expert, c, jpeg_bytes(tmp_path))
    classify(expert, f"/photos/{p.id}/classify", "committee")
    html = world.client("viewer").get(f"/photos/{p.id}").get_data(as_text=True)
    assert "Informant K via WhatsApp" not in html


# ---------------------------------------------------------------- F4 import --update declassifies silently
def test_import_update_never_changes_what_may_be_published(world, tmp_path):
    expert = world.client("expert")
    c = mk_case(expert)
    classify(expert, f"/cases/{c.id}/classify", "committee")
    it = mk_item(expert, c, type="rifle", notes="Informant A says dhow", recovered_place="Safe house 3")
    assert it.classification.value == "panel"
    from panel_tracker.cases import import_format
    header = ",".join(import_format.COLUMNS)
    row = {n: "" for n in import_format.COLUMNS}
    row.update(case_ref=c.ref, item_ref=it.item_ref, category="small_arm", type="rifle", quantity="1",
               source_confidential="no", notes="Informant A says dhow", recovered_place="Safe house 3")
    f = tmp_path / "x.csv"
    f.write_text(header + "\r\n" + ",".join(row[n] for n in import_format.COLUMNS) + "\r\n", encoding="utf-8")
    r = expert.post("/items/import", data={"file": (io.BytesIO(f.read_bytes()), "x.csv"), "update": "y",
                                           "mapping_id": ""}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    upload_id = r.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    r = expert.post(f"/items/import/{upload_id}/commit")
    assert r.status_code == 302
    s = get_session(); s.expire_all()
    it = s.get(Item, it.id)
    classify_recs = s.exec(select(AuditRecord).where(AuditRecord.object_type == "item",
                                                     AuditRecord.action == "item.classify")).all()
    viewer_html = world.client("viewer").get(f"/items/{it.id}").get_data(as_text=True)
    assert it.classification.value == "panel", (
        f"now {it.classification.value}/{it.source_classification.value}; classify audit records: {len(classify_recs)}; "
        f"viewer sees source: {'Safe house 3' in viewer_html}")


# ---------------------------------------------------------------- F5 history uses the classification at write time
def test_history_masks_by_todays_classification_when_it_is_stricter(world):
    expert = world.client("expert")
    c = mk_case(expert)
    classify(expert, f"/cases/{c.id}/classify", "committee")
    it = mk_item(expert, c, type="rifle")
    classify(expert, f"/items/{it.id}/classify", "committee")
    classify(expert, f"/items/{it.id}/classify", "public", field="source_classification")
    s = get_session(); s.expire_all(); it = s.get(Item, it.id)
    r = expert.post(f"/items/{it.id}/edit", data={"item_ref": it.item_ref, "category": "small_arm", "type": "rifle", "quantity": "1",
                                                  "notes": "Informant A, phone +967-1-234", "inspection_id": ""})
    assert r.status_code == 302, r.get_data(as_text=True)
    # the expert realises the source is sensitive and withholds it
    classify(expert, f"/items/{it.id}/classify", "panel", field="source_classification")
    viewer = world.client("viewer")
    assert "Informant A" not in viewer.get(f"/items/{it.id}").get_data(as_text=True)  # page: Withheld
    hist = viewer.get(f"/items/{it.id}/history").get_data(as_text=True)
    assert "Informant A" not in hist, "history still shows the now panel-only notes"


# ---------------------------------------------------------------- (negative) open redirect after login
def test_login_next_is_never_an_open_redirect(world):
    c = world.app.test_client()
    u = world.users["viewer"]
    for nxt in ("/\\evil.example/x", "/\t/evil.example/x", "//evil.example", "/.//evil.example", "https://evil.example"):
        r = c.post("/login", data={"email": u.email, "password": "correct horse battery staple", "next": nxt})
        loc = r.headers.get("Location", "")
        assert not loc.startswith("//") and "://" not in loc and "\\" not in loc, loc
        c.post("/logout")


# ---------------------------------------------------------------- F7 unlink audit record is PUBLIC
def test_unlinking_a_panel_only_photo_is_masked_in_a_viewers_history(world, tmp_path):
    from panel_tracker.cases.models import Marking, MarkingPhoto
    expert = world.client("expert")
    c = mk_case(expert)
    classify(expert, f"/cases/{c.id}/classify", "committee")
    it = mk_item(expert, c)
    classify(expert, f"/items/{it.id}/classify", "committee")
    p = upload(expert, c, jpeg_bytes(tmp_path), item_id=it.id)            # photo stays panel-only
    expert.post(f"/items/{it.id}/markings/new", data={"text": "66", "kind": "factory_code", "legibility": "intact",
                                                        "symbol_shape": "triangle", "script": ""})
    s = get_session(); s.expire_all()
    m = s.exec(select(Marking)).one()
    expert.post(f"/markings/{m.id}/photos", data={"photo_id": str(p.id), "box_x": "0.123", "box_y": "0.456",
                                                   "box_w": "0.1", "box_h": "0.1"})
    s.expire_all()
    link = s.exec(select(MarkingPhoto)).one()
    expert.post(f"/marking-photos/{link.id}/delete")
    hist = world.client("viewer").get(f"/items/{it.id}/history").get_data(as_text=True)
    assert "0.456" not in hist, "box (and photo id) of a panel-only photo shown to the viewer via marking.unlink_photo"


# ---------------------------------------------------------------- F8 EXIF in a viewer's ZIP export
def test_a_viewers_zip_carries_no_exif_that_names_people_or_cameras(world, tmp_path):
    import json, zipfile
    from PIL import Image
    im = Image.new("RGB", (64, 48), (120, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Canon"; exif[0x0110] = "EOS 90D"; exif[0x013B] = "Informant Ahmed"   # Artist
    exif.get_ifd(0x8769)[0xA431] = "SN-0042-XYZ"                                       # BodySerialNumber
    exif.get_ifd(0x8769)[0xA430] = "Camera owner: Ahmed"                               # CameraOwnerName
    buf = io.BytesIO(); im.save(buf, "JPEG", exif=exif)
    expert = world.client("expert")
    c = mk_case(expert)
    classify(expert, f"/cases/{c.id}/classify", "committee")
    it = mk_item(expert, c)
    classify(expert, f"/items/{it.id}/classify", "committee")
    p = upload(expert, c, buf.getvalue(), item_id=it.id)
    classify(expert, f"/photos/{p.id}/classify", "committee")
    viewer = world.client("viewer")
    with viewer.get(f"/cases/{c.id}/export?format=zip") as response:
        z = zipfile.ZipFile(io.BytesIO(response.data))
    blob = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".json"))
    assert "Informant Ahmed" not in blob and "SN-0042-XYZ" not in blob, \
        "viewer export holds Artist / BodySerialNumber / CameraOwnerName (API gives viewers no exif at all)"


# ---------------------------------------------------------------- F9 GET that writes the audit log
def test_no_other_site_can_write_gps_or_download_records_in_a_users_name(world, tmp_path):
    expert = world.client("expert")
    c = mk_case(expert)
    p = upload(expert, c, jpeg_bytes(tmp_path))
    s = get_session()
    before = len(s.exec(select(AuditRecord)).all())
    # what a top-level cross-site navigation (SameSite=Lax sends the cookie) does:
    assert expert.get(f"/photos/{p.id}/gps", headers={"Referer": "https://evil.example/"}).status_code == 405
    assert expert.get(f"/photos/{p.id}/original", headers={"Referer": "https://evil.example/"}).status_code == 405
    assert expert.get(f"/cases/{c.id}/export?format=zip&originals=1",
                      headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert expert.get(f"/cases/{c.id}/export?format=csv",
                      headers={"Referer": "https://evil.example/"}).status_code == 403
    s.close()
    after = len(s.exec(select(AuditRecord)).all())
    assert after == before, f"{after - before} audit records forged by cross-site GETs"


# ---------------------------------------------------------------- F10 items of a deleted case
def test_items_of_a_deleted_case_leave_the_lists(world):
    expert = world.client("expert")
    c = mk_case(expert)
    mk_item(expert, c, type="ZZ-deleted-case-item")
    expert.post(f"/cases/{c.id}/delete", data={"reason": "duplicate"})
    listing = expert.get("/items").get_data(as_text=True)
    assert "ZZ-deleted-case-item" not in listing


# ---------------------------------------------------------------- F11 GPS through an export is not audited per photo
def test_gps_in_an_export_is_audited_like_a_gps_view(world, tmp_path):
    import zipfile
    expert = world.client("expert")
    c = mk_case(expert)
    it = mk_item(expert, c)
    p = upload(expert, c, jpeg_bytes(tmp_path), item_id=it.id)
    assert p.gps_lat is not None
    with expert.get(f"/cases/{c.id}/export?format=zip") as response:
        z = zipfile.ZipFile(io.BytesIO(response.data))
    blob = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".json"))
    assert f"{p.gps_lat}"[:6] in blob            # GPS is in the export (by design for experts) ...
    s = get_session(); s.expire_all()
    views = s.exec(select(AuditRecord).where(AuditRecord.action == "photo.view_gps")).all()
    assert views, "... but no photo.view_gps record: the GPS audit is bypassed by exporting"


# ---------------------------------------------------------------- 7.13 a photo of a hidden item through a marking link
def test_a_public_photo_of_a_panel_item_linked_to_a_public_items_marking_stays_out_of_the_viewers_zip(world, tmp_path):
    import json, zipfile
    from panel_tracker.cases import services
    from panel_tracker.cases.models import MarkingKind
    expert = world.client("expert")
    c = mk_case(expert)
    classify(expert, f"/cases/{c.id}/classify", "public")
    shown = mk_item(expert, c, type="rifle", serial="AB123", serial_legibility="intact")
    classify(expert, f"/items/{shown.id}/classify", "public")
    hidden = mk_item(expert, c, type="HIDDEN-launcher")                 # stays panel-only
    p = upload(expert, c, jpeg_bytes(tmp_path), item_id=hidden.id, caption="CAPTION-OF-HIDDEN-ITEM")
    classify(expert, f"/photos/{p.id}/classify", "public")              # the photo itself is public
    s = get_session()
    marking = services.add_marking(s, s.get(Item, shown.id), {"text": "AB123", "kind": MarkingKind.SERIAL},
                                   world.users["expert"])
    services.link_marking_photo(s, marking, s.get(Photo, p.id), (0.1, 0.2, 0.3, 0.4), world.users["expert"])
    s.commit()
    viewer = world.client("viewer")
    assert viewer.get(f"/photos/{p.id}").status_code == 404            # the page says it does not exist ...
    with viewer.get(f"/cases/{c.id}/export?format=zip") as response:   # ... and so must the export
        z = zipfile.ZipFile(io.BytesIO(response.data))
    names = z.namelist()
    [item_json] = [json.loads(z.read(n)) for n in names if n.startswith("items/")]
    blob = "".join(z.read(n).decode() for n in names if n.endswith(".json"))
    problems = []
    if any(p.sha256 in n for n in names): problems.append("the hidden item's photo file is in the ZIP")
    if p.sha256 in blob or "CAPTION-OF-HIDDEN-ITEM" in blob: problems.append("its metadata is in the JSON")
    if item_json["markings"][0]["photos"]: problems.append("the marking names the photo")
    if "serial_key" in item_json: problems.append("the internal serial_key is exported")
    assert not problems, problems


# ---------------------------------------------------------------- 7.11 ids and wording of hidden objects
def test_a_viewer_learns_nothing_of_a_hidden_inspection_or_first_sighting(world):
    from tests.test_api import api_as
    expert = world.client("expert")
    c = mk_case(expert)
    classify(expert, f"/cases/{c.id}/classify", "committee")
    r = expert.post(f"/cases/{c.id}/inspections/new", data={"inspected_on": "2024-03-12", "place": "Port",
                                                            "access_mode": "physical"})
    assert r.status_code == 302
    from panel_tracker.cases.models import Inspection
    inspection = get_session().exec(select(Inspection)).one()           # stays panel-only
    first = mk_item(expert, c, type="rifle", serial="AB123", serial_legibility="intact")   # stays panel-only
    later = mk_item(expert, c, type="rifle", serial="AB123", serial_legibility="intact",
                    inspection_id=str(inspection.id))
    classify(expert, f"/items/{later.id}/classify", "committee")
    assert expert.post(f"/items/{later.id}/sighting", data={"sighting_of": first.item_ref}).status_code == 302
    viewer = world.client("viewer")
    assert viewer.get(f"/items/{first.id}").status_code == 404
    assert viewer.get(f"/inspections/{inspection.id}/edit").status_code in (403, 404)
    seen = api_as(world, "viewer").get(f"/items/{later.id}").get_json()
    listed = api_as(world, "viewer").get("/items").get_json()["items"]
    page = viewer.get(f"/items/{later.id}").get_data(as_text=True)
    problems = []
    if seen["sighting_of_id"] is not None: problems.append("API item names the hidden first sighting's id")
    if seen["inspection_id"] is not None: problems.append("API item names the hidden inspection's id")
    if any(i["sighting_of_id"] or i["inspection_id"] for i in listed): problems.append("API list names them")
    if "Another sighting" in page: problems.append("the item page says there is another sighting")
    assert not problems, problems
    full = api_as(world, "expert").get(f"/items/{later.id}").get_json()   # the expert still sees both
    assert (full["sighting_of_id"], full["inspection_id"]) == (first.id, inspection.id)
