"""Builders for the invitation tests: meetings, the people to invite, and what the outbox holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import invitations
from panel.models import Meeting, MeetingKind, OutboxMessage
from tests.meetings.ics_checks import Parsed, check_method_rules, parse

LONDON = ZoneInfo("Europe/London")
SETTINGS = {"MAIL_FROM": "Panel coordinator <panel@panel.test>", "PUBLIC_URL": "https://panel.test"}


def london(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def make_meeting(case=None, *, kind: MeetingKind = MeetingKind.MDT, start: datetime | None = None,
                 minutes: int = 60, location: str = "Room 2, Town Hall", online_url: str = "",
                 series_key: str | None = None) -> Meeting:
    start = start or london(2027, 3, 25)
    meeting = Meeting(kind=kind, case=case, starts_at=start, ends_at=start + timedelta(minutes=minutes),
                      location=location, online_url=online_url, purpose="Agree a safety plan", series_key=series_key)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def external(name: str, email: str, agency: str = "Housing Trust") -> invitations.Person:
    return invitations.Person(email=email, name=name, agency_name=agency)


def outbox(after: int = 0) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id)))


def last_id() -> int:
    return db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0


def parsed(message: OutboxMessage) -> Parsed:
    """An outbox row's calendar, checked on the wire and by three parsers, with METHOD agreeing."""
    assert message.calendar is not None
    result = parse(message.calendar.encode("utf-8"))
    check_method_rules(result)
    assert result.method == message.calendar_method
    return result
