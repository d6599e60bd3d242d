"""Each user reads times in their own time zone (issue 9): chosen on the account page, named
on every time shown; stored times stay UTC, dates stay dates, exports keep UTC ISO times."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone

from sqlmodel import select

from panel_tracker.audit.models import AuditRecord
from panel_tracker.auth.models import User
from panel_tracker.cases.models import Item
from panel_tracker.cases.services import create_case, create_item
from panel_tracker.classification import Classification
from panel_tracker.db import get_session
from panel_tracker.templating import zone_name

NOON_UTC = datetime(2024, 5, 17, 12, 0, tzinfo=timezone.utc)


def _item_logged_at_noon_utc(world) -> Item:
    db = get_session()
    case = create_case(db, world.panel, {"ref": "YEM-2024-017", "title": "Port of Aden"}, None)
    item = create_item(db, case, {"category": "small_arm", "type": "assault rifle", "quantity": 1,
                                  "recovered_on": "2024-05-17"}, None)
    item.created_at, item.updated_at = NOON_UTC, None
    case.classification = item.classification = Classification.COMMITTEE
    db.add_all([case, item])
    db.commit()
    return item


def _choose(client, zone: str):
    return client.post("/account/time-zone", data={"time_zone": zone})


def test_a_user_in_aden_sees_15_00_for_a_record_made_at_noon_utc(world):
    _item_logged_at_noon_utc(world)
    expert, viewer = world.client("expert"), world.client("viewer")

    chosen = _choose(expert, "Asia/Aden")
    aden = expert.get("/dashboard").get_data(as_text=True)
    utc = viewer.get("/dashboard").get_data(as_text=True)

    assert chosen.status_code == 302 and chosen.headers["Location"].endswith("/account/security#time-zone")
    assert "17 May 2024, 15:00 UTC+3" in aden and "12:00" not in aden
    assert "17 May 2024, 12:00 UTC" in utc  # the default: UTC, named
    stored = get_session().exec(select(Item)).one().created_at
    assert stored == NOON_UTC and stored.utcoffset().total_seconds() == 0  # stored values stay UTC


def test_the_change_is_audited_and_shown_on_the_account_page(world):
    expert = world.client("expert")

    _choose(expert, "Asia/Aden")
    page = expert.get("/account/security").get_data(as_text=True)

    get_session().expire_all()
    user = get_session().get(User, world.users["expert"].id)
    record = get_session().exec(select(AuditRecord).where(AuditRecord.action == "user.time_zone")).one()
    assert user.time_zone == "Asia/Aden"
    assert record.object_id == user.id
    assert (json.loads(record.before), json.loads(record.after)) == ({"time_zone": "UTC"}, {"time_zone": "Asia/Aden"})
    assert 'value="Asia/Aden"' in page and "UTC+3" in page  # the sessions' times too
    assert 'src="/static/timezone.js"' in page and '<option value="America/New_York">' in page


def test_a_zone_that_is_not_an_iana_name_is_refused_next_to_the_field(world):
    expert = world.client("expert")

    response = _choose(expert, "Mars/Olympus_Mons")
    page = response.get_data(as_text=True)

    assert response.status_code == 422
    assert "“Mars/Olympus_Mons” is not a time zone we know" in page and 'value="Mars/Olympus_Mons"' in page
    get_session().expire_all()
    assert get_session().get(User, world.users["expert"].id).time_zone == "UTC"
    assert not get_session().exec(select(AuditRecord).where(AuditRecord.action == "user.time_zone")).all()


def test_dates_stay_dates_and_exports_keep_utc_iso_times(world):
    item = _item_logged_at_noon_utc(world)
    expert = world.client("expert")
    _choose(expert, "Pacific/Kiritimati")  # UTC+14: the next day already at noon UTC

    page = expert.get(f"/items/{item.id}").get_data(as_text=True)
    export = expert.get("/items/export?format=zip")
    data = export.get_data()
    export.close()  # the export's temporary file
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        text = "\n".join(bundle.read(name).decode("utf-8", "replace") for name in bundle.namelist()
                         if name.endswith((".json", ".csv")))

    assert "17 May 2024" in page and "18 May 2024" not in page  # the recovery date is a date
    assert "2024-05-17T12:00:00+00:00" in text and "+14:00" not in text  # UTC ISO, whoever exports


def test_zones_without_an_abbreviation_are_named_by_their_offset():
    from zoneinfo import ZoneInfo

    assert zone_name(NOON_UTC.astimezone(ZoneInfo("Asia/Aden"))) == "UTC+3"
    assert zone_name(NOON_UTC.astimezone(ZoneInfo("Asia/Kolkata"))) == "IST"
    assert zone_name(NOON_UTC.astimezone(ZoneInfo("Asia/Kathmandu"))) == "UTC+5:45"
    assert zone_name(NOON_UTC.astimezone(ZoneInfo("America/Caracas"))) == "UTC-4"
    assert zone_name(NOON_UTC.astimezone(ZoneInfo("Europe/Zurich"))) == "CEST"
    assert zone_name(NOON_UTC.astimezone(ZoneInfo("UTC"))) == "UTC"


def test_the_audit_log_filters_by_the_readers_days(world):
    """A record made at 22:30 UTC on 17 May was made on 18 May in Aden: the audit log's From
    and To days are the reader's days."""
    from panel_tracker import audit

    db = get_session()
    late = audit.record(db, "note.late", panel_id=world.panel.id, label="late evening in UTC")
    late.at = datetime(2024, 5, 17, 22, 30, tzinfo=timezone.utc)
    db.add(late)
    db.commit()
    coordinator, admin = world.client("coordinator"), world.client("admin")
    _choose(coordinator, "Asia/Aden")

    def shown(client, day: str) -> bool:
        page = client.get(f"/audit/?since={day}&until={day}&action=note.late").get_data(as_text=True)
        return "late evening in UTC" in page

    assert shown(coordinator, "2024-05-18") and not shown(coordinator, "2024-05-17")
    assert shown(admin, "2024-05-17") and not shown(admin, "2024-05-18")
