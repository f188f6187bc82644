"""The job "calendar-replies" against a real IMAP server (Dovecot on 127.0.0.1, started by the
tests): REPLYs shaped as Google Calendar, Outlook, Thunderbird and Apple Calendar send them are
APPENDed to the organiser's mailbox and recorded once each; a reply to an older SEQUENCE is kept,
marked and never overwrites a newer answer; forged replies and everything else are left unread
for a person; two runs at once record each reply once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.extensions import db
from panel.meetings import invitations, mailbox
from panel.models import (
    AttendeeResponse,
    AuditEvent,
    CalendarReply,
    MeetingAttendee,
    ResponseSource,
    Role,
    utcnow,
)
from panel.scheduler import JOBS, run_job
from tests import factories
from tests.cases.helpers import create_case
from tests.meetings import reply_messages as rm
from tests.meetings.imap_server import dovecot  # noqa: F401  (the fixture)
from tests.meetings.invite_world import SETTINGS, external, make_meeting

SEEN = "\\Seen"
EMPTY = {"recorded": 0, "kept": 0, "outdated": 0, "already recorded": 0, "left unread": 0}


@pytest.fixture
def app_config(dovecot):  # noqa: F811
    return {**SETTINGS, **dovecot.settings()}


@pytest.fixture
def mailbox_(dovecot):  # noqa: F811
    dovecot.empty()
    return dovecot


@pytest.fixture
def world(app):
    police = factories.create_agency(name="Police")
    spoc = factories.create_user(role=Role.SPOC, agency=police, name="Sam Spoc", email="sam.spoc@police.test")
    case = create_case(lead=police)
    meeting = make_meeting(case, start=utcnow() + timedelta(days=10))
    invitations.invite(meeting, [invitations.Person.of(spoc), external("Dr Ash Example", "gp@surgery.test", "Surgery"),
                                 external("Sam Carter", "sam.carter@outlook.test", "Charity"),
                                 external("Jo Bird", "jo.bird@example.org", "Housing")], by=None)
    db.session.commit()
    people = {a.email: a for a in meeting.attendees}
    return {"meeting": meeting, "uid": meeting.ical_uid, "people": people, "spoc": spoc}


def _answer(world, email: str, **changes) -> rm.Answer:
    return rm.Answer(uid=world["uid"], attendee=email, start=world["meeting"].starts_at, **changes)


def _replies(attendee_id: int | None = None) -> list[CalendarReply]:
    query = sa.select(CalendarReply).order_by(CalendarReply.id)
    if attendee_id is not None:
        query = query.where(CalendarReply.attendee_id == attendee_id)
    return list(db.session.scalars(query))


def _attendee(attendee_id: int) -> MeetingAttendee:
    db.session.expire_all()
    return db.session.get(MeetingAttendee, attendee_id)


CASES = [  # client, who replies, their answer
    ("google", "gp@surgery.test", "ACCEPTED"),
    ("outlook", "sam.carter@outlook.test", "DECLINED"),
    ("thunderbird", "jo.bird@example.org", "TENTATIVE"),
    ("apple", "sam.spoc@police.test", "ACCEPTED"),
]


@pytest.mark.parametrize(("client", "who", "partstat"), CASES, ids=[c[0] for c in CASES])
def test_each_clients_reply_is_recorded_once_and_marked_read(app, world, mailbox_, client, who, partstat):
    answer = _answer(world, who, partstat=partstat)
    uid = mailbox_.append(rm.CLIENTS[client](answer))
    attendee_id = world["people"][who].id

    assert mailbox.read_replies() == {**EMPTY, "recorded": 1}

    attendee = _attendee(attendee_id)
    assert attendee.response == AttendeeResponse(partstat.lower())
    assert attendee.response_source == ResponseSource.CALENDAR
    assert (attendee.response_sequence, attendee.response_stamp) == (0, answer.dtstamp)
    assert attendee.response_at is not None
    [row] = _replies()
    assert (row.attendee_id, row.sequence, row.dtstamp, row.outdated, row.applied) == (attendee_id, 0, answer.dtstamp,
                                                                                     False, True)
    assert row.message_id.startswith("<")
    assert SEEN in mailbox_.flags(uid)

    # run again: nothing unread is left to read, nothing changes
    assert mailbox.read_replies() == EMPTY
    # the same reply again in another message (a copy, a resend): recorded once all the same
    again = mailbox_.append(rm.CLIENTS[client](answer.but(message_id="<a-second-copy@example.org>")))
    assert mailbox.read_replies() == {**EMPTY, "already recorded": 1}
    assert len(_replies()) == 1 and SEEN in mailbox_.flags(again)
    audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "calendar_reply")).all()
    assert len(audited) == 1 and who not in str(audited[0].summary)


def test_every_client_in_one_mailbox_is_recorded_once_each(app, world, mailbox_):
    uids = [mailbox_.append(rm.CLIENTS[client](_answer(world, who, partstat=partstat))) for client, who, partstat in CASES]

    assert mailbox.read_replies() == {**EMPTY, "recorded": 4}

    assert sorted((r.attendee_id, r.response.value) for r in _replies()) == sorted(
        (world["people"][who].id, partstat.lower()) for _, who, partstat in CASES)
    assert all(SEEN in mailbox_.flags(uid) for uid in uids)


def test_a_reply_to_an_older_sequence_is_kept_marked_and_never_overwrites_a_newer_answer(app, world, mailbox_, client,
                                                                                         login_as):
    gp = world["people"]["gp@surgery.test"]
    meeting, first = world["meeting"], rm.Answer.dtstamp
    mailbox_.append(rm.google(_answer(world, gp.email, partstat="ACCEPTED", dtstamp=first)))
    assert mailbox.read_replies()["recorded"] == 1

    meeting.starts_at += timedelta(hours=2)   # moved: SEQUENCE 1 goes to everyone
    meeting.ends_at += timedelta(hours=2)
    invitations.changed(meeting, by=None)
    db.session.commit()
    assert _attendee(gp.id).invited_sequence == 1

    mailbox_.append(rm.outlook(_answer(world, gp.email, partstat="DECLINED", sequence=1,
                                       dtstamp=first + timedelta(hours=1))))
    assert mailbox.read_replies()["recorded"] == 1
    # late and out of order: an answer to version 0 made after it, and an older one to version 1
    late = mailbox_.append(rm.thunderbird(_answer(world, gp.email, partstat="ACCEPTED", sequence=0,
                                                  dtstamp=first + timedelta(hours=2))))
    stale = mailbox_.append(rm.thunderbird(_answer(world, gp.email, partstat="TENTATIVE", sequence=1,
                                                   dtstamp=first + timedelta(minutes=30),
                                                   message_id="<stale@example.org>")))

    assert mailbox.read_replies() == {**EMPTY, "outdated": 1, "kept": 1}

    attendee = _attendee(gp.id)
    assert attendee.response == AttendeeResponse.DECLINED and attendee.response_sequence == 1
    assert [(r.sequence, r.response, r.outdated, r.applied) for r in _replies(gp.id)] == [
        (0, AttendeeResponse.ACCEPTED, False, True), (1, AttendeeResponse.DECLINED, False, True),
        (0, AttendeeResponse.ACCEPTED, True, False), (1, AttendeeResponse.TENTATIVE, False, False)]
    outdated = [r for r in _replies(gp.id) if r.outdated]
    assert [(r.sequence, r.response, r.applied) for r in outdated] == [(0, AttendeeResponse.ACCEPTED, False)]
    kept = [r for r in _replies(gp.id) if not r.outdated and not r.applied]
    assert [(r.sequence, r.response) for r in kept] == [(1, AttendeeResponse.TENTATIVE)]
    assert SEEN in mailbox_.flags(late) and SEEN in mailbox_.flags(stale)

    # the coordinator sees the answer that counts, and the late reply to the earlier version
    login_as(factories.create_user(role=Role.COORDINATOR))
    html = client.get(f"/meetings/{meeting.id}/mdt").get_data(as_text=True)
    assert "earlier version" in html and f'id="earlier-reply-{gp.id}"' in html


def test_a_reply_to_an_older_sequence_with_no_answer_on_file_is_marked_and_not_counted(app, world, mailbox_):
    gp, meeting = world["people"]["gp@surgery.test"], world["meeting"]
    invitations.changed(meeting, by=None)   # SEQUENCE 1 sent before any answer
    db.session.commit()
    mailbox_.append(rm.google(_answer(world, gp.email, partstat="ACCEPTED", sequence=0)))

    assert mailbox.read_replies() == {**EMPTY, "outdated": 1}

    assert _attendee(gp.id).response == AttendeeResponse.NEEDS_ACTION
    [row] = _replies()
    assert row.outdated and not row.applied


def test_forged_replies_are_ignored_and_left_unread(app, world, mailbox_):
    gp = world["people"]["gp@surgery.test"]
    forged = [
        # From someone else, answering for the GP
        mailbox_.append(rm.thunderbird(_answer(world, gp.email, partstat="DECLINED", sender="mallory@example.net"))),
        mailbox_.append(rm.google(_answer(world, gp.email, partstat="DECLINED", sender="gp@surgery.test.evil.example"))),
        # From an address that is not on the meeting's list, answering for itself
        mailbox_.append(rm.outlook(_answer(world, "stranger@example.net", partstat="ACCEPTED"))),
    ]

    assert mailbox.read_replies() == {**EMPTY, "left unread": 3}

    assert _replies() == []
    assert _attendee(gp.id).response == AttendeeResponse.NEEDS_ACTION
    for uid in forged:
        flags = mailbox_.flags(uid)
        assert SEEN not in flags and mailbox.CHECKED in flags
    assert mailbox.read_replies() == EMPTY   # not read again every five minutes
    assert all(SEEN not in mailbox_.flags(uid) for uid in forged)


def test_messages_that_are_not_replies_are_left_unread(app, world, mailbox_):
    gp = world["people"]["gp@surgery.test"]
    uids = [
        mailbox_.append(rm.plain_email(gp.email)),
        mailbox_.append(rm.out_of_office(gp.email)),
        mailbox_.append(rm.bounce(rm.google_calendar(_answer(world, gp.email)))),
        mailbox_.append(rm.counter(_answer(world, gp.email))),
        mailbox_.append(rm.google(rm.Answer(uid="not-one-of-ours@google.com", attendee=gp.email))),
    ]

    assert mailbox.read_replies() == {**EMPTY, "left unread": 5}

    assert _replies() == [] and _attendee(gp.id).response == AttendeeResponse.NEEDS_ACTION
    assert all(SEEN not in mailbox_.flags(uid) for uid in uids)


def test_a_reply_after_a_cancellation_or_from_someone_taken_off_is_kept_but_changes_nothing(app, world, mailbox_):
    jo, meeting = world["people"]["jo.bird@example.org"], world["meeting"]
    invitations.remove(meeting, jo, by=None)
    db.session.commit()
    # Thunderbird sends DECLINED when the cancellation deletes the event
    uid = mailbox_.append(rm.thunderbird(_answer(world, jo.email, partstat="DECLINED", sequence=1)))

    assert mailbox.read_replies() == {**EMPTY, "kept": 1}

    assert _attendee(jo.id).response == AttendeeResponse.NEEDS_ACTION
    assert SEEN in mailbox_.flags(uid)


def test_without_imap_server_the_job_does_nothing(app, world):
    app.config["IMAP_SERVER"] = ""
    assert mailbox.read_replies() == {}


def test_the_job_runs_every_five_minutes_from_the_scheduler(app, world, mailbox_):
    assert JOBS["calendar-replies"].path == "panel.meetings.mailbox:read_replies"
    assert JOBS["calendar-replies"].trigger == {"trigger": "interval", "minutes": 5}
    mailbox_.append(rm.google(_answer(world, "gp@surgery.test")))

    assert run_job("calendar-replies").startswith("calendar-replies: recorded 1, ")


@pytest.mark.real_commits
def test_two_runs_at_once_record_each_reply_once(app, world, mailbox_):
    uids = [mailbox_.append(rm.CLIENTS[client](_answer(world, who, partstat=partstat))) for client, who, partstat in CASES]
    db.session.commit()  # no transaction open here while the runs write (SQLite's write lock)
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                results.append(mailbox.read_replies())
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(results) == 2

    db.session.remove()
    assert sum(r["recorded"] for r in results) == 4
    assert sum(r["left unread"] for r in results) == 0
    rows = db.session.execute(sa.select(CalendarReply.attendee_id, CalendarReply.sequence, CalendarReply.dtstamp)).all()
    assert len(rows) == len(set(rows)) == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.object_type == "calendar_reply")) == 4
    assert all(SEEN in mailbox_.flags(uid) for uid in uids)
