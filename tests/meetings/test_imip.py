"""Reading a calendar REPLY out of an email (panel.meetings.imip), as each client sends it: the
part found wherever it sits and however it is encoded, copies counted once, and everything that
is not one reply from the attendee it answers for refused."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest

from panel.meetings import imip
from tests.meetings import reply_messages as rm

UID = "0f3c2a7d9e8b4c1a@panel"
ANSWER = rm.Answer(uid=UID, attendee="sam.carter@example.org", partstat="TENTATIVE", sequence=3)


def _read(raw: bytes) -> imip.Reply:
    return imip.read_reply(email.message_from_bytes(raw, policy=email.policy.default))


@pytest.mark.parametrize("client", sorted(rm.CLIENTS))
@pytest.mark.parametrize("partstat", ["ACCEPTED", "TENTATIVE", "DECLINED"])
def test_each_clients_reply_gives_the_uid_sequence_dtstamp_attendee_and_answer(client, partstat):
    reply = _read(rm.CLIENTS[client](ANSWER.but(partstat=partstat)))

    assert (reply.uid, reply.sequence, reply.attendee, reply.partstat) == (UID, 3, "sam.carter@example.org", partstat)
    assert reply.dtstamp == datetime(2027, 3, 20, 9, 32, 56, tzinfo=timezone.utc)
    assert reply.message_id.startswith("<") and reply.message_id.endswith(">")


def test_outlooks_base64_part_capital_mailto_and_missing_organizer_are_read():
    raw = rm.outlook(ANSWER, encoding="base64", mailto="MAILTO")
    assert b"ORGANIZER" not in raw and b"BEGIN:VCALENDAR" not in raw  # all of it is in base64

    assert _read(raw).attendee == "sam.carter@example.org"


def test_addresses_are_compared_without_regard_to_case():
    raw = rm.thunderbird(ANSWER.but(attendee="Sam.Carter@Example.ORG"))
    assert _read(raw).attendee == "sam.carter@example.org"


def test_an_attendee_inside_googles_valarm_is_not_the_one_who_replied():
    assert _read(rm.google(ANSWER, valarm=True)).partstat == "TENTATIVE"


def test_a_forged_reply_is_refused_as_forged():
    with pytest.raises(imip.Forged):
        _read(rm.thunderbird(ANSWER.but(sender="mallory@example.net")))


def test_copies_that_disagree_are_refused():
    raw = rm.thunderbird(ANSWER)
    calendar = rm.thunderbird_calendar(ANSWER)
    disagreeing = raw.replace(calendar.encode(), calendar.replace("PARTSTAT=TENTATIVE", "PARTSTAT=DECLINED").encode(), 1)
    assert disagreeing != raw

    with pytest.raises(imip.NotAReply, match="disagree"):
        _read(disagreeing)


@pytest.mark.parametrize("raw", [
    rm.plain_email(),
    rm.out_of_office("sam.carter@example.org"),
    rm.bounce(rm.google_calendar(ANSWER)),
    rm.counter(ANSWER),
], ids=["plain", "out-of-office", "bounce", "counter"])
def test_messages_that_are_not_replies_are_refused(raw):
    with pytest.raises(imip.NotAReply) as refused:
        _read(raw)
    assert not isinstance(refused.value, imip.Forged)


def test_an_answer_that_is_not_accepted_tentative_or_declined_is_refused():
    with pytest.raises(imip.NotAReply, match="answer other than"):
        _read(rm.thunderbird(ANSWER.but(partstat="DELEGATED")))


def test_a_reply_to_one_occurrence_and_a_failed_request_status_are_refused():
    calendar = rm.thunderbird_calendar(ANSWER)
    for extra in ("RECURRENCE-ID:20270325T100000Z", "REQUEST-STATUS:3.7;Invalid calendar user"):
        changed = calendar.replace("SEQUENCE:3\r\n", f"SEQUENCE:3\r\n{extra}\r\n")
        raw = rm.thunderbird(ANSWER).replace(calendar.encode(), changed.encode())
        with pytest.raises(imip.NotAReply):
            _read(raw)


def test_a_reply_without_dtstamp_is_refused():
    calendar = rm.thunderbird_calendar(ANSWER)
    raw = rm.thunderbird(ANSWER).replace(calendar.encode(), calendar.replace("DTSTAMP:20270320T093256Z\r\n", "").encode())
    with pytest.raises(imip.NotAReply, match="DTSTAMP"):
        _read(raw)
