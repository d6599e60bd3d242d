"""Experts' scripts log items at the same time, each leaving the number to the tracker.

A real threaded HTTP server on the test database (SQLite and PostgreSQL), and twenty
clients posting at once over real sockets: every one gets its item, numbered in turn.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from sqlmodel import select

from panel_tracker.cases.models import Item
from panel_tracker.db import get_session
from tests.test_api import api_as, new_case

CLIENTS = 20




@pytest.mark.app_config(SERVER_NAME=None)
def test_twenty_experts_logging_items_at_once_all_get_consecutive_numbers(world, live_port):
    live_url = f"http://127.0.0.1:{live_port}"
    expert = api_as(world, "expert")
    case = new_case(expert, "YEM-2024-017")
    token = expert.headers["Authorization"]
    start = threading.Barrier(CLIENTS)
    answers: list[tuple[int, dict]] = []

    def log_item(n: int) -> None:
        body = json.dumps({"category": "small_arm", "type": f"assault rifle no. {n}"}).encode()
        request = urllib.request.Request(f"{live_url}/api/v1/cases/{case['id']}/items", data=body, method="POST",
                                         headers={"Authorization": token, "Content-Type": "application/json"})
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers.append((response.status, json.load(response)))
        except urllib.error.HTTPError as refused:
            answers.append((refused.code, {"body": refused.read().decode(errors="replace")[:300]}))

    threads = [threading.Thread(target=log_item, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not any(thread.is_alive() for thread in threads), "a client is stuck"

    failures = [answer for answer in answers if answer[0] != 201]
    assert failures == [], f"{len(failures)} of {CLIENTS} creates failed: {failures[:3]}"
    refs = sorted(body["item_ref"] for _, body in answers)
    assert refs == [f"YEM-2024-017/{n:02d}" for n in range(1, CLIENTS + 1)]
    stored = get_session().exec(select(Item.item_ref).where(Item.case_id == case["id"])).all()
    assert sorted(stored) == refs
