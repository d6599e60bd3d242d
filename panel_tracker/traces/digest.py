"""The coordinators' daily digest: how many letters are overdue and due soon, with a link.

The mail carries counts only — no addressee, item or reference — since mail leaves the
panel's control. Each coordinator gets one digest a day (``DigestSent``), so running the
command twice the same day sends nothing new. Mail goes through the SMTP server of
``MAIL_SERVER``/``MAIL_PORT`` (stdlib smtplib), from ``MAIL_FROM``; links use ``BASE_URL``.
"""
from __future__ import annotations

import smtplib
from datetime import date
from email.message import EmailMessage

from flask import current_app
from sqlmodel import Session, select

from .. import audit
from ..auth.models import Membership, Role, User
from ..classification import Classification
from ..db import utcnow
from . import policy, queries
from .models import DigestSent


class DigestError(RuntimeError):
    """The digest cannot be sent (no mail server configured, the server refused)."""


def counts(db: Session, panel, on: date) -> dict:
    rules = policy.Policy.of_panel(panel)
    facts = queries.letter_facts(db, queries.visible_letters(panel.id, Classification.PANEL))
    overdue = queries.overdue_list(facts, on, rules)
    return {"overdue": len(overdue),
            "overdue_reply": sum(1 for _, o in overdue if o.stage == "reply"),
            "overdue_acknowledgement": sum(1 for _, o in overdue if o.stage == "acknowledgement"),
            "due_soon": len(queries.due_soon(facts, on, rules))}


def compose(panel, figures: dict, link: str, on: date) -> tuple[str, str]:
    subject = f"[{panel.code}] Letters: {figures['overdue']} overdue, {figures['due_soon']} due in 14 days"
    body = (f"Correspondence of {panel.name} on {on.isoformat()}:\n\n"
            f"  {figures['overdue']} letter(s) overdue ({figures['overdue_reply']} awaiting a reply, "
            f"{figures['overdue_acknowledgement']} awaiting an acknowledgement)\n"
            f"  {figures['due_soon']} letter(s) falling due in the next 14 days\n\n"
            f"See them (after logging in): {link}\n")
    return subject, body


def send_digests(db: Session, panel, *, today: date | None = None) -> int:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        raise DigestError("no mail server: set PANEL_TRACKER_MAIL_SERVER (and MAIL_PORT, MAIL_FROM, BASE_URL)")
    on = today or utcnow().date()
    already = set(db.exec(select(DigestSent.user_id).where(DigestSent.panel_id == panel.id,
                                                            DigestSent.sent_on == on)))
    recipients = [user for user, member in db.exec(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .where(Membership.panel_id == panel.id, Membership.role == Role.COORDINATOR, User.active.is_(True)))
        if member.in_force(on) and user.id not in already]
    if not recipients:
        return 0
    figures = counts(db, panel, on)
    link = f"{(config.get('BASE_URL') or 'http://localhost:5000').rstrip('/')}/traces/dashboard"
    subject, body = compose(panel, figures, link, on)
    sent = 0
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25), timeout=30) as smtp:
            for user in recipients:
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = config["MAIL_FROM"], user.email, subject
                message.set_content(body)
                smtp.send_message(message)
                db.add(DigestSent(panel_id=panel.id, user_id=user.id, sent_on=on))
                audit.record(db, "digest.send", actor="cli", panel_id=panel.id, object_type="user",
                             object_id=user.id, label=user.email, after={"on": on, **figures},
                             classification=Classification.PANEL)
                db.commit()  # one digest sent is one digest recorded, even if the next one fails
                sent += 1
    except (OSError, smtplib.SMTPException) as exc:
        raise DigestError(f"the mail server {config['MAIL_SERVER']}:{config.get('MAIL_PORT')} refused or "
                          f"could not be reached ({exc}); {sent} digest(s) sent before that") from exc
    return sent
