"""The iCalendar builders (panel.meetings.ical) as pure functions: the METHOD rules, UID and
SEQUENCE, UTC times across the clock changes, the wire format and escaping, and hostile text.
Every file is also read by `ical` and vobject (validating) besides icalendar (tests/meetings/ics_checks.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from panel.meetings import ical
from tests.meetings.ics_checks import attendee_emails, check_method_rules, parse, unfold, wire_lines

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
ORGANIZER = ical.Invitee(email="panel@panel.test", name="Panel coordinator")
NOW = datetime(2027, 3, 1, 8, 15, 30, tzinfo=UTC)


def london(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def details(**changes) -> ical.EventDetails:
    base = ical.EventDetails(
        uid="0f3c2a9e5b7d4c1aa8e6f00112233445@panel", sequence=0,
        start=london(2027, 3, 25), end=london(2027, 3, 25, 11, 30),
        summary="MDT meeting – case CASPA-2027-001",
        description="Multi-agency meeting. The papers and details are on the panel platform (sign-in needed):\n"
                    "https://panel.test/meetings/7",
        location="Room 2, Town Hall; Luton", url="https://panel.test/meetings/7",
        attendees=(ical.Invitee("spoc@police.test", "Dana Police", "REQ-PARTICIPANT"),
                   ical.Invitee("chair@council.test", "Chris Chair", "CHAIR"),
                   ical.Invitee("worker@nhs.test", "Wyn Worker", "OPT-PARTICIPANT")))
    return replace(base, **changes)


def test_a_request_has_organizer_and_each_attendee_with_cutype_role_partstat_and_rsvp():
    parsed = parse(ical.request(details(), organizer=ORGANIZER, now=NOW))

    assert parsed.method == "REQUEST"
    check_method_rules(parsed)
    event = parsed.event
    assert event.organizer == "mailto:panel@panel.test"
    assert attendee_emails(event) == ["spoc@police.test", "chair@council.test", "worker@nhs.test"]
    assert [p["ROLE"] for _, p in event.attendees] == ["REQ-PARTICIPANT", "CHAIR", "OPT-PARTICIPANT"]
    assert all(p["CUTYPE"] == "INDIVIDUAL" and p["PARTSTAT"] == "NEEDS-ACTION" and p["RSVP"] == "TRUE"
               for _, p in event.attendees)
    assert event.status == "CONFIRMED"
    assert "METHOD:REQUEST" in parsed.lines


def test_cancelling_the_meeting_says_status_cancelled_to_everyone():
    parsed = parse(ical.cancel(details(sequence=1), organizer=ORGANIZER, now=NOW))

    assert parsed.method == "CANCEL"
    check_method_rules(parsed)
    assert parsed.event.status == "CANCELLED"
    assert len(parsed.event.attendees) == 3


def test_taking_one_person_off_the_list_cancels_for_them_only_and_without_status():
    removed = details().attendees[2]
    parsed = parse(ical.cancel(details(sequence=1), organizer=ORGANIZER, now=NOW, removed=(removed,)))

    assert parsed.method == "CANCEL"
    check_method_rules(parsed)
    assert parsed.event.status is None
    assert not any(line.startswith("STATUS") for line in parsed.lines)
    assert attendee_emails(parsed.event) == ["worker@nhs.test"]


def test_uid_is_kept_and_sequence_starts_at_0_and_only_goes_up_across_invite_update_and_cancel():
    invite = parse(ical.request(details(), organizer=ORGANIZER, now=NOW)).event
    update = parse(ical.request(details(sequence=1, start=london(2027, 4, 1), end=london(2027, 4, 1, 11)),
                                organizer=ORGANIZER, now=NOW + timedelta(days=1))).event
    cancel = parse(ical.cancel(details(sequence=2), organizer=ORGANIZER, now=NOW + timedelta(days=2))).event

    assert invite.uid == update.uid == cancel.uid == details().uid
    assert [invite.sequence, update.sequence, cancel.sequence] == [0, 1, 2]
    assert invite.stamp < update.stamp < cancel.stamp


@time_machine.travel(datetime(2027, 6, 14, 9, 30, 5, tzinfo=UTC), tick=False)
def test_dtstamp_is_now_in_utc_even_when_now_is_given_in_london_time():
    now = datetime.now(LONDON)  # 10:30:05 BST
    parsed = parse(ical.request(details(), organizer=ORGANIZER, now=now))

    assert "DTSTAMP:20270614T093005Z" in parsed.lines
    assert parsed.event.stamp == datetime(2027, 6, 14, 9, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(("day", "utc_start"), [
    ((2027, 3, 25), "20270325T100000Z"),   # GMT: the clocks go forward on 28 March 2027
    ((2027, 4, 1), "20270401T090000Z"),    # BST
    ((2027, 10, 29), "20271029T090000Z"),  # still BST: the clocks go back on 31 October 2027
    ((2027, 11, 1), "20271101T100000Z"),   # GMT again
])
def test_a_10am_london_meeting_is_written_in_utc_across_the_clock_changes(day, utc_start):
    start = london(*day)
    parsed = parse(ical.request(details(start=start, end=start + timedelta(hours=1)), organizer=ORGANIZER, now=NOW))

    assert f"DTSTART:{utc_start}" in parsed.lines
    assert parsed.event.start == start.astimezone(UTC)
    assert parsed.event.end - parsed.event.start == timedelta(hours=1)
    assert parsed.event.start.astimezone(LONDON).hour == 10
    assert not any("TZID" in line or "VTIMEZONE" in line for line in parsed.lines)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        ical.request(details(start=datetime(2027, 3, 25, 10)), organizer=ORGANIZER, now=NOW)


def test_no_alarm_no_timezone_and_location_and_url_are_there():
    for ics in (ical.request(details(), organizer=ORGANIZER, now=NOW),
                ical.cancel(details(), organizer=ORGANIZER, now=NOW),
                ical.feed([details()], organizer=ORGANIZER, now=NOW, name="Panel meetings")):
        assert b"VALARM" not in ics and b"VTIMEZONE" not in ics
        event = parse(ics).event
        assert event.location == "Room 2, Town Hall; Luton"
        assert event.url == "https://panel.test/meetings/7"


def test_crlf_only_and_every_line_at_most_75_octets_even_with_en_dashes():
    long = details(summary="MDT meeting – case CASPA-2027-001 – " + "–" * 60,
                   description="Über – " * 40, location="Room – " * 30)
    for ics in (ical.request(long, organizer=ORGANIZER, now=NOW), ical.cancel(long, organizer=ORGANIZER, now=NOW)):
        physical = wire_lines(ics)
        assert any(len(line) > 70 for line in physical)  # long lines were folded, not avoided
        assert any(line.startswith(b" ") for line in physical)
        parsed = parse(ics)
        assert parsed.event.description == "Über – " * 40
        assert parsed.event.summary.startswith("MDT meeting – case")


def test_commas_semicolons_and_backslashes_are_escaped_and_read_back_unchanged():
    text = "Room 2, Town Hall; Luton \\ annexe"
    parsed = parse(ical.request(details(location=text, description="Bring: a, b; c\nand d"),
                                organizer=ORGANIZER, now=NOW))

    location = next(line for line in parsed.lines if line.startswith("LOCATION"))
    description = next(line for line in parsed.lines if line.startswith("DESCRIPTION"))
    assert location == "LOCATION:Room 2\\, Town Hall\\; Luton \\\\ annexe"
    assert description == "DESCRIPTION:Bring: a\\, b\\; c\\nand d"
    assert parsed.event.location == text
    assert parsed.event.description == "Bring: a, b; c\nand d"


def test_attendee_names_with_quotes_newlines_and_control_characters_are_made_safe():
    hostile = ical.Invitee("ann@agency.test", 'Ann "The Boss"\r\nATTENDEE:mailto:evil@x.test\x07\x1b;ROLE=CHAIR')
    parsed = parse(ical.request(details(attendees=(hostile,)), organizer=ORGANIZER, now=NOW))

    [(address, params)] = parsed.event.attendees
    assert address == "mailto:ann@agency.test"
    assert params["CN"] == "Ann The Boss ATTENDEE:mailto:evil@x.test ;ROLE=CHAIR"
    assert params["ROLE"] == "REQ-PARTICIPANT"
    body = b"".join(wire_lines(ical.request(details(attendees=(hostile,)), organizer=ORGANIZER, now=NOW)))
    assert not any(byte < 0x20 or byte == 0x7F for byte in body)


@pytest.mark.parametrize("field", ["location", "description", "summary", "url"])
def test_a_line_break_in_any_text_cannot_add_a_property(field):
    hostile = {"location": "Room 1\r\nATTENDEE:mailto:evil@x.test", "summary": "MDT\r\nATTENDEE:mailto:evil@x.test",
               "description": "Notes\r\nATTENDEE:mailto:evil@x.test\nORGANIZER:mailto:evil@x.test\rSTATUS:CANCELLED",
               "url": "https://panel.test/meetings/7\r\nATTENDEE:mailto:evil@x.test"}[field]
    try:
        ics = ical.request(details(**{field: hostile}), organizer=ORGANIZER, now=NOW)
    except ValueError:
        assert field == "url"  # icalendar 7.3 refuses a line break in a URI outright
        return
    parsed = parse(ics)

    assert attendee_emails(parsed.event) == ["spoc@police.test", "chair@council.test", "worker@nhs.test"]
    assert parsed.event.organizer == "mailto:panel@panel.test"
    assert parsed.event.status == "CONFIRMED"
    assert not any(line.startswith(("ATTENDEE:", "ORGANIZER:mailto:evil")) for line in parsed.lines)
    assert "evil@x.test" in getattr(parsed.event, field)  # kept as text, harmlessly


def test_a_request_needs_someone_to_invite():
    with pytest.raises(ValueError):
        ical.request(details(attendees=()), organizer=ORGANIZER, now=NOW)


def test_a_feed_is_publish_without_attendees_and_asks_to_be_refreshed_hourly():
    second = details(uid="second@panel", sequence=4, start=london(2027, 11, 1), end=london(2027, 11, 1, 12))
    ics = ical.feed([details(), second], organizer=ORGANIZER, now=NOW, name="Panel meetings")
    parsed = parse(ics)

    assert parsed.method == "PUBLISH"
    check_method_rules(parsed)
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in parsed.lines
    assert "X-PUBLISHED-TTL:PT1H" in parsed.lines
    assert [(e.uid, e.sequence) for e in parsed.events] == [(details().uid, 0), ("second@panel", 4)]
    assert not any(line.startswith("ATTENDEE") for line in unfold(ics))
