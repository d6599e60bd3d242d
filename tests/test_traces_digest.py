"""The coordinators' digest, sent to a real SMTP server the test starts (aiosmtpd)."""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from panel_tracker.db import get_session
from panel_tracker.traces import services
from tests.factories import make_member


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(app):
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_FROM="tracker@panel.example",
                      BASE_URL="https://tracker.panel.example")
    yield inbox
    controller.stop()


def test_each_coordinator_gets_counts_and_a_link_once_a_day(world, smtp, runner):
    from panel_tracker.cases.services import create_case, create_item

    db = get_session()
    second, _ = make_member(world.panel, "coordinator")
    case = create_case(db, world.panel, {"ref": "YEM-2024-001"}, None)
    item = create_item(db, case, {"category": "small_arm", "type": "rifle", "serial": "SECRET-SERIAL",
                                  "serial_legibility": "intact", "quantity": 1}, None)
    today = datetime.now(timezone.utc).date()
    addressee = services.named_addressee(db, world.panel, "Secret Brokers Ltd", "ARE", None)
    overdue = services.draft_letter(db, world.panel, {"kind": "trace_request", "addressee_id": addressee.id}, None,
                                    item_ids=[item.id])
    services.send_letter(db, overdue, None, sent_on=today - timedelta(days=100))
    soon = services.draft_letter(db, world.panel, {"kind": "trace_request", "addressee_id": addressee.id}, None,
                                 item_ids=[item.id])
    services.send_letter(db, soon, None, sent_on=today - timedelta(days=20))  # acknowledgement due in 10 days
    db.commit()

    result = runner.invoke(args=["traces", "digest", "--panel", "YEM"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "sent 2 digest(s)"
    assert sorted(r for rcpt, _ in smtp.messages for r in rcpt) == sorted(
        [world.users["coordinator"].email, second.email])
    _, message = smtp.messages[0]
    body = message.get_content()
    assert message["Subject"] == "[YEM] Letters: 1 overdue, 1 due in 14 days"
    assert "https://tracker.panel.example/traces/dashboard" in body
    for secret in ("Secret Brokers", "SECRET-SERIAL", overdue.ref, soon.ref, "ARE"):
        assert secret not in body and secret not in message["Subject"]

    again = runner.invoke(args=["traces", "digest", "--panel", "YEM"])
    assert again.exit_code == 0 and again.stdout.strip() == "sent 0 digest(s)"
    assert len(smtp.messages) == 2


def test_without_a_mail_server_the_digest_says_what_to_set(world, runner):
    result = runner.invoke(args=["traces", "digest", "--panel", "YEM"])
    assert result.exit_code == 1 and "PANEL_TRACKER_MAIL_SERVER" in result.stderr
