"""One refusal type, Invalid: what a person sees when the tracker says no."""
from __future__ import annotations

from panel_tracker.validation import Invalid
from tests.test_api import api_as, new_case


def test_a_refusal_names_its_fields_and_says_how_the_api_answers():
    rule = Invalid({"type": "Say what the item is."})
    unreadable = Invalid("Send a JSON object.", status=400)

    assert (rule.errors, rule.status, str(rule)) == ({"type": "Say what the item is."}, 422,
                                                     "type: Say what the item is.")
    assert (unreadable.errors, unreadable.status) == ({"": "Send a JSON object."}, 400)


def test_a_script_sending_no_json_or_no_file_gets_400_in_the_one_error_shape(world):
    expert = api_as(world, "expert")
    case = new_case(expert)

    not_json = expert.post("/cases", data="ref=YEM-2024-002")
    no_file = expert.post(f"/cases/{case['id']}/photos", data={"caption": "x"}, content_type="multipart/form-data")

    assert (not_json.status_code, not_json.get_json()) == (
        400, {"errors": {"": "Send a JSON object with Content-Type: application/json."}})
    assert (no_file.status_code, list(no_file.get_json()["errors"])) == (400, ["file"])
