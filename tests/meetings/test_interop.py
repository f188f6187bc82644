"""Interoperability: the invitations through a real SMTP server (aiosmtpd) with the MIME checked
part by part, and the same calendars stored in a real CalDAV server (Radicale, with the `caldav`
client): an update replaces the event, time-range searches across the March and October clock
changes, a cancellation stored as cancelled."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import caldav
import icalendar
import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import invitations
from panel.models import MeetingStatus, OutboxMessage, OutboxStatus, Role
from panel.notify import deliver_due
from tests import factories
from tests.cases.helpers import create_case
from tests.meetings.invite_world import SETTINGS, external, london, make_meeting, outbox, parsed
from tests.notify.smtp_server import SmtpSink, free_port

UTC = timezone.utc


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def app_config(smtp_port):
    return {**SETTINGS, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_TIMEOUT": 5}


@pytest.fixture
def smtp_server(smtp_port):
    sink = SmtpSink(smtp_port).start()
    yield sink
    sink.stop()


def _life_of_an_mdt():
    """Invite three, move the meeting across the clock change, take one off, cancel it."""
    coordinator = factories.create_user(role=Role.COORDINATOR)
    spoc = factories.create_user(role=Role.SPOC, email="sam@police.test", name="Sam Spoc")
    meeting = make_meeting(create_case(), start=london(2027, 3, 26), location="Room 2, Town Hall; Luton")
    people = [invitations.Person.of(spoc), external("Hana Housing", "hana@housing.test"),
              external("Wyn Worker", "wyn@nhs.test", "NHS")]
    added = invitations.invite(meeting, people, by=coordinator)
    meeting.starts_at, meeting.ends_at = london(2027, 3, 29), london(2027, 3, 29, 11)
    invitations.changed(meeting, by=coordinator)
    invitations.remove(meeting, added[2], by=coordinator)
    meeting.status = MeetingStatus.CANCELLED
    invitations.cancelled(meeting, by=coordinator)
    db.session.commit()
    return meeting


def test_every_invitation_arrives_by_smtp_as_mixed_alternative_text_and_calendar_with_the_ics_attached(app, smtp_server):
    meeting = _life_of_an_mdt()
    rows = {m.id: (m.to_addr, m.calendar, m.calendar_method) for m in outbox()}
    assert len(rows) == 3 + 3 + 3 + 2  # invite, update, removal (1 CANCEL + 2 REQUEST), cancel
    db.session.rollback()  # delivery commits in its own transactions

    counts = deliver_due()

    assert counts["sent"] == len(rows) and counts["failed"] == counts["retrying"] == 0
    received = smtp_server.wait_for(len(rows))
    assert len(received) == len(rows)
    methods_seen = set()
    for message in received:
        email = message_from_bytes(message.content, policy=policy.default)
        row_id = int(email["Message-ID"].split(".")[1])
        to_addr, stored, method = rows[row_id]
        # the envelope and the header name that attendee only
        assert message.rcpt_tos == [to_addr]
        assert email["To"] == to_addr
        assert message.mail_from == "panel@panel.test"
        assert email["From"] == SETTINGS["MAIL_FROM"]
        # multipart/mixed: first child multipart/alternative (text, calendar), then the attachment
        assert email.get_content_type() == "multipart/mixed"
        alternative, attachment = list(email.iter_parts())
        assert alternative.get_content_type() == "multipart/alternative"
        text, calendar = list(alternative.iter_parts())
        assert text.get_content_type() == "text/plain"
        assert text.get_content_charset() == "utf-8"
        assert f"https://panel.test/meetings/{meeting.id}" in text.get_content()
        assert calendar.get_content_type() == "text/calendar"
        assert calendar.get_param("method") == method == icalendar.Calendar.from_ical(stored)["METHOD"]
        assert calendar.get_param("charset") == "UTF-8"
        assert calendar["Content-Transfer-Encoding"] == "base64"
        assert calendar.get_content_disposition() is None
        ics = calendar.get_payload(decode=True)
        assert ics == stored.encode("utf-8")  # byte for byte: CRLF and folding survive
        assert attachment.get_content_type() == "application/ics"
        assert attachment.get_param("name") == "invite.ics"
        assert attachment.get_content_disposition() == "attachment"
        assert attachment.get_filename() == "invite.ics"
        assert attachment.get_payload(decode=True) == ics
        # and what arrived still passes every parser and the METHOD rules
        row = OutboxMessage(calendar=ics.decode("utf-8"), calendar_method=method)
        event = parsed(row).event
        assert to_addr in [a.removeprefix("mailto:") for a, _ in event.attendees]
        assert event.uid == meeting.ical_uid
        methods_seen.add(method)
    assert methods_seen == {"REQUEST", "CANCEL"}
    assert set(db.session.scalars(sa.select(OutboxMessage.status))) == {OutboxStatus.SENT}


# ---- CalDAV -----------------------------------------------------------------------------------


def _for_caldav(ics: str) -> str:
    """A calendar object resource has no METHOD (RFC 4791 §4.1)."""
    calendar = icalendar.Calendar.from_ical(ics)
    calendar.pop("METHOD")
    return calendar.to_ical().decode("utf-8")


def _last_calendar(meeting, method: str, to: str) -> str:
    rows = [m for m in outbox() if m.calendar_method == method and m.to_addr == to]
    row = rows[-1]
    event = parsed(row).event
    assert event.uid == meeting.ical_uid
    return row.calendar


@pytest.fixture
def dav(radicale):
    with caldav.DAVClient(url=radicale, username="coordinator", password="unused") as client:
        yield client.principal().make_calendar(name=f"panel-{uuid.uuid4().hex[:8]}")


def _component(resource) -> icalendar.Event:
    [event] = icalendar.Calendar.from_ical(resource.data).walk("VEVENT")
    return event


def _found(calendar, start: datetime, end: datetime) -> set[str]:
    return {str(_component(r)["UID"]) for r in calendar.search(start=start, end=end, event=True)}


def test_an_update_replaces_the_stored_event_and_a_cancellation_is_stored_as_cancelled(app, dav):
    meeting = make_meeting(create_case(), start=london(2027, 3, 26))
    invitations.invite(meeting, [external("Hana Housing", "hana@housing.test")], by=None)
    db.session.commit()
    dav.add_event(_for_caldav(_last_calendar(meeting, "REQUEST", "hana@housing.test")), increase_seqno=False)

    meeting.starts_at, meeting.ends_at = london(2027, 3, 29), london(2027, 3, 29, 11)
    invitations.changed(meeting, by=None)
    db.session.commit()
    stored = dav.event_by_uid(meeting.ical_uid)
    stored.data = _for_caldav(_last_calendar(meeting, "REQUEST", "hana@housing.test"))
    stored.save(increase_seqno=False)

    [only] = dav.events()
    event = _component(only)
    assert str(event["UID"]) == meeting.ical_uid
    assert int(event["SEQUENCE"]) == 1
    assert event["DTSTART"].dt == datetime(2027, 3, 29, 9, tzinfo=UTC)  # 10:00 BST
    assert "METHOD" not in icalendar.Calendar.from_ical(only.data)

    meeting.status = MeetingStatus.CANCELLED
    invitations.cancelled(meeting, by=None)
    db.session.commit()
    stored = dav.event_by_uid(meeting.ical_uid)
    stored.data = _for_caldav(_last_calendar(meeting, "CANCEL", "hana@housing.test"))
    stored.save(increase_seqno=False)

    [only] = dav.events()
    event = _component(only)
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) == 2
    assert str(event["UID"]) == meeting.ical_uid


def test_a_time_range_search_finds_meetings_either_side_of_the_march_and_october_clock_changes(app, dav):
    days = {  # a 10:00-11:00 London meeting each day, and where it falls in UTC
        (2027, 3, 26): datetime(2027, 3, 26, 10, tzinfo=UTC),   # GMT
        (2027, 3, 29): datetime(2027, 3, 29, 9, tzinfo=UTC),    # BST (the clocks went forward on the 28th)
        (2027, 10, 29): datetime(2027, 10, 29, 9, tzinfo=UTC),  # BST
        (2027, 11, 1): datetime(2027, 11, 1, 10, tzinfo=UTC),   # GMT (the clocks went back on 31 October)
    }
    uids = {}
    for day in days:
        meeting = make_meeting(create_case(), start=london(*day))
        invitations.invite(meeting, [external("Hana Housing", "hana@housing.test")], by=None)
        db.session.commit()
        dav.add_event(_for_caldav(_last_calendar(meeting, "REQUEST", "hana@housing.test")), increase_seqno=False)
        uids[day] = meeting.ical_uid
    assert len(dav.events()) == 4

    minute = timedelta(minutes=1)
    for day, start in days.items():
        # the first minute of the meeting, in UTC: found, and only that meeting
        assert _found(dav, start, start + minute) == {uids[day]}, day
        # just after it ends: nothing
        end = start + timedelta(hours=1)
        assert _found(dav, end, end + timedelta(hours=2)) == set(), day
        # the hour before it: nothing (a meeting written an hour out, the clock-change mistake,
        # fails this or the first search)
        assert _found(dav, start - timedelta(hours=1), start) == set(), day
    # the whole of each clock-change week finds both meetings of that week
    assert _found(dav, datetime(2027, 3, 25, tzinfo=UTC), datetime(2027, 3, 31, tzinfo=UTC)) == {
        uids[(2027, 3, 26)], uids[(2027, 3, 29)]}
    assert _found(dav, datetime(2027, 10, 28, tzinfo=UTC), datetime(2027, 11, 3, tzinfo=UTC)) == {
        uids[(2027, 10, 29)], uids[(2027, 11, 1)]}
