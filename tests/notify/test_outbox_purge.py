"""Sent emails are not kept for ever: the outbox's copy (addresses, reply links) is deleted
OUTBOX_KEEP_SENT_DAYS after sending by the daily `outbox-purge` job; pending, sending and failed
emails are never deleted, and the outbox page says how long sent mail is kept."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from panel.extensions import db
from panel.models import OutboxMessage, OutboxStatus, utcnow
from panel.notify.delivery import purge_sent
from panel.scheduler import JOBS
from tests.conftest import page


def _message(status: OutboxStatus, sent_days_ago: int | None, subject: str) -> None:
    now = utcnow()
    db.session.add(OutboxMessage(
        to_addr="someone@test.invalid", subject=subject, body_text="A link", status=status,
        created_at=now - timedelta(days=(sent_days_ago or 0) + 1),
        sent_at=now - timedelta(days=sent_days_ago) if sent_days_ago is not None else None))


def test_sent_emails_older_than_the_setting_are_deleted_and_nothing_else(app, db):
    _message(OutboxStatus.SENT, 45, "old sent")
    _message(OutboxStatus.SENT, 31, "just too old")
    _message(OutboxStatus.SENT, 29, "recent sent")
    _message(OutboxStatus.FAILED, None, "failed long ago")
    _message(OutboxStatus.PENDING, None, "pending")
    db.session.commit()

    assert purge_sent() == {"deleted": 2}
    assert purge_sent() == {"deleted": 0}  # a second run changes nothing

    kept = set(db.session.scalars(sa.select(OutboxMessage.subject)))
    assert kept == {"recent sent", "failed long ago", "pending"}
    assert JOBS["outbox-purge"].path == "panel.notify.delivery:purge_sent"


def test_the_setting_is_read_and_the_page_says_so(app, db, client, login_as):
    app.config["OUTBOX_KEEP_SENT_DAYS"] = 7
    _message(OutboxStatus.SENT, 8, "a week and a day")
    _message(OutboxStatus.SENT, 6, "six days")
    db.session.commit()

    assert purge_sent() == {"deleted": 1}
    login_as("admin")
    text = page(client.get("/admin/outbox")).get_text(" ", strip=True)
    assert "deleted 7 days after it was sent" in text and "Sent in the last 7 days 1" in text
