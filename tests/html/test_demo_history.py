"""The demo data reads as history: chronology entries are dated when things happened (not at
load time), and the demo's emails are recorded as sent, so the first outbox run sends none."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from panel.extensions import db
from panel.models import CaseEvent, OutboxMessage, OutboxStatus, utcnow
from tests.html.conftest import load_demo


def test_demo_chronology_entries_carry_when_they_happened(app):
    started = utcnow() - timedelta(seconds=1)
    load_demo(app)

    at_load = list(db.session.scalars(sa.select(CaseEvent).where(CaseEvent.at >= started)))
    # only what the demo does today: the upcoming MDT booked now
    assert [e.summary for e in at_load if not e.summary.startswith("MDT scheduled")] == []
    assert len(at_load) <= 1
    mdt_events = list(db.session.scalars(sa.select(CaseEvent).where(CaseEvent.kind == "meeting")))
    assert len(mdt_events) >= 3
    actions = list(db.session.scalars(sa.select(CaseEvent).where(CaseEvent.summary.like("Action % agreed%"))))
    assert actions and all(e.at < started for e in actions)


def test_the_demos_emails_are_recorded_as_sent_not_queued(app):
    load_demo(app)

    by_status = dict(db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)).all())
    assert by_status.get(OutboxStatus.PENDING, 0) == 0
    assert by_status.get(OutboxStatus.SENT, 0) > 50
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.sent_at.is_(None))) == 0
