"""Issue 7, finding 2: login throttling per (account, address) and per address, counted
atomically in the database, by the real client address behind trusted proxies."""
from __future__ import annotations

import http.client
import threading
import urllib.parse

import pytest

from tests.factories import PASSWORD

WRONG = "not the right password"


def post_login(app, email: str, password: str, address: str = "127.0.0.1", **headers):
    return app.test_client().post("/login", data={"email": email, "password": password},
                                  environ_base={"REMOTE_ADDR": address}, headers=headers)


@pytest.mark.app_config(LOGIN_MAX_FAILURES=100, LOGIN_MAX_FAILURES_PER_IP=4)
def test_logging_into_ones_own_account_buys_no_more_guesses_at_others(app, world):
    attacker = world.users["viewer"]  # has an account of their own
    victims = [world.users[r].email for r in ("expert", "coordinator", "admin")] + ["nobody@un.example"]
    checked = 0
    for round_ in range(4):
        for victim in victims[:2]:
            if post_login(app, victim, WRONG).status_code == 200:
                checked += 1
        post_login(app, attacker.email, PASSWORD)  # a success from the same address
    assert checked == 4  # the address's limit, whatever the successes in between


@pytest.mark.app_config(LOGIN_MAX_FAILURES=3)
def test_the_owner_is_not_locked_out_from_everywhere(app, world):
    expert = world.users["expert"].email
    for _ in range(3):
        assert post_login(app, expert, WRONG, "203.0.113.9").status_code == 200
    refused = post_login(app, expert, PASSWORD, "203.0.113.9")
    assert refused.status_code == 429 and "Too many failed attempts" in refused.get_data(as_text=True)
    assert post_login(app, expert, PASSWORD, "198.51.100.20").status_code == 302  # from their own network


@pytest.mark.app_config(LOGIN_MAX_FAILURES=100, LOGIN_MAX_FAILURES_PER_IP=3, TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_each_client_is_counted_by_its_own_address(app, world):
    proxy = "10.0.0.2"
    for victim in ("expert", "coordinator", "admin"):
        post_login(app, world.users[victim].email, WRONG, proxy, **{"X-Forwarded-For": "203.0.113.9"})
    assert post_login(app, world.users["viewer"].email, PASSWORD, proxy,
                      **{"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    assert post_login(app, world.users["viewer"].email, PASSWORD, proxy,
                      **{"X-Forwarded-For": "198.51.100.20"}).status_code == 302


@pytest.mark.app_config(LOGIN_MAX_FAILURES=100, LOGIN_MAX_FAILURES_PER_IP=3)
def test_without_trusted_proxies_a_forwarded_for_header_is_ignored(app, world):
    for n, victim in enumerate(("expert", "coordinator", "admin")):
        post_login(app, world.users[victim].email, WRONG, "203.0.113.9", **{"X-Forwarded-For": f"192.0.2.{n}"})
    assert post_login(app, world.users["viewer"].email, PASSWORD, "203.0.113.9",
                      **{"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def test_a_bad_trusted_proxies_setting_stops_start_up(database, tmp_path):
    from panel_tracker import ConfigError
    from tests.conftest import make_test_app

    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        make_test_app(database, tmp_path / "instance", TRUSTED_PROXIES="yes")




@pytest.mark.app_config(LOGIN_MAX_FAILURES=5)
def test_twenty_parallel_guesses_let_at_most_five_through(app, world, live_port):
    body = urllib.parse.urlencode({"email": world.users["expert"].email, "password": WRONG})
    start = threading.Barrier(20)
    statuses = []

    def guess():
        conn = http.client.HTTPConnection("127.0.0.1", live_port, timeout=60)
        start.wait()
        conn.request("POST", "/login", body=body, headers={
            "Host": "localhost", "Content-Type": "application/x-www-form-urlencoded"})
        statuses.append(conn.getresponse().status)
        conn.close()

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(statuses) == 20
    assert statuses.count(200) == 5 and statuses.count(429) == 15, sorted(statuses)
