"""Checks every calendar file the tests produce: the wire format (CRLF only, lines folded at 75
octets), three independent parsers (icalendar, `ical` and vobject with validation) reading back
the same UID, SEQUENCE, times and text, and the iTIP METHOD rules.

`ical` invents a missing UID or DTSTAMP, so UID and DTSTAMP are checked on the raw lines too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import icalendar
import vobject
from ical.calendar_stream import IcsCalendarStream


@dataclass
class ParsedEvent:
    uid: str
    sequence: int
    start: datetime
    end: datetime
    stamp: datetime
    status: str | None
    summary: str
    location: str
    description: str
    url: str
    organizer: str
    attendees: list[tuple[str, dict[str, str]]]


@dataclass
class Parsed:
    method: str | None
    events: list[ParsedEvent]
    calendar: icalendar.Calendar
    lines: list[str] = field(default_factory=list)   # unfolded content lines

    @property
    def event(self) -> ParsedEvent:
        assert len(self.events) == 1, f"expected one VEVENT, found {len(self.events)}"
        return self.events[0]


def wire_lines(ics: bytes) -> list[bytes]:
    """The physical lines: CRLF line ends only, none longer than 75 octets (UTF-8)."""
    assert ics.endswith(b"\r\n"), "the file must end with CRLF"
    body = ics.replace(b"\r\n", b"")
    assert b"\n" not in body, "bare LF line end"
    assert b"\r" not in body, "bare CR"
    physical = ics.split(b"\r\n")[:-1]
    for line in physical:
        assert len(line) <= 75, f"line of {len(line)} octets: {line!r}"
        line.decode("utf-8")  # folding never splits a character
    return physical


def unfold(ics: bytes) -> list[str]:
    out: list[bytes] = []
    for line in wire_lines(ics):
        if line[:1] in (b" ", b"\t"):
            out[-1] += line[1:]
        else:
            out.append(line)
    return [line.decode("utf-8") for line in out]


def _utc(value: datetime) -> datetime:
    assert value.tzinfo is not None, "times must be in UTC"
    assert value.utcoffset().total_seconds() == 0, "times must be in UTC"
    return value.astimezone(timezone.utc)


def parse(ics: bytes) -> Parsed:
    """Parse with all three parsers, check they agree, and return what icalendar read."""
    assert isinstance(ics, bytes), "read calendars as bytes (text mode would turn CRLF into LF)"
    lines = unfold(ics)
    names = [line.split(":", 1)[0].split(";", 1)[0] for line in lines]
    assert "BEGIN:VTIMEZONE" not in lines and "BEGIN:VALARM" not in lines
    for line in lines:
        name = line.split(":", 1)[0]
        if name in ("DTSTART", "DTEND", "DTSTAMP"):
            assert line.endswith("Z") and ";" not in name, f"{line} is not UTC"
        assert not name.startswith(("DTSTART;", "DTEND;")), f"{line}: no TZID or VALUE=DATE"
    assert names.count("BEGIN") == names.count("END")
    assert sum(1 for line in lines if line.startswith("UID:")) == sum(1 for line in lines if line == "BEGIN:VEVENT")
    assert sum(1 for line in lines if line.startswith("DTSTAMP:")) == sum(1 for line in lines if line == "BEGIN:VEVENT")

    text = ics.decode("utf-8")
    # 1. icalendar
    calendar = icalendar.Calendar.from_ical(ics)
    method = str(calendar["METHOD"]) if "METHOD" in calendar else None
    events = []
    for ev in calendar.walk("VEVENT"):
        attendees = ev.get("ATTENDEE", [])
        attendees = attendees if isinstance(attendees, list) else [attendees]
        events.append(ParsedEvent(
            uid=str(ev["UID"]), sequence=int(ev.get("SEQUENCE", 0)),
            start=_utc(ev["DTSTART"].dt), end=_utc(ev["DTEND"].dt), stamp=_utc(ev["DTSTAMP"].dt),
            status=str(ev["STATUS"]) if "STATUS" in ev else None, summary=str(ev.get("SUMMARY", "")),
            location=str(ev.get("LOCATION", "")), description=str(ev.get("DESCRIPTION", "")),
            url=str(ev.get("URL", "")), organizer=str(ev.get("ORGANIZER", "")),
            attendees=[(str(a), {k: str(v) for k, v in a.params.items()}) for a in attendees]))
    assert not calendar.get_missing_tzids()

    # 2. ical (allenporter/ical): pydantic models
    other = IcsCalendarStream.calendar_from_ics(text)
    assert len(other.events) == len(events)
    for mine, theirs in zip(events, other.events, strict=True):
        assert theirs.uid == mine.uid
        assert (theirs.sequence or 0) == mine.sequence
        assert _utc(theirs.dtstart) == mine.start and _utc(theirs.dtend) == mine.end
        assert _utc(theirs.dtstamp) == mine.stamp
        assert (theirs.summary or "") == mine.summary
        assert (theirs.location or "") == mine.location
        assert (theirs.description or "") == mine.description
        assert len(theirs.attendees) == len(mine.attendees)
        assert [a.uri for a in theirs.attendees] == [a for a, _ in mine.attendees]
        assert (str(theirs.status.value) if theirs.status else None) == mine.status

    # 3. vobject, validating
    parsed = vobject.readOne(text, validate=True)
    vevents = parsed.contents.get("vevent", [])
    assert len(vevents) == len(events)
    assert (parsed.method.value if "method" in parsed.contents else None) == method
    for mine, theirs in zip(events, vevents, strict=True):
        assert theirs.uid.value == mine.uid
        assert int(theirs.sequence.value) == mine.sequence
        assert _utc(theirs.dtstart.value) == mine.start and _utc(theirs.dtend.value) == mine.end
        assert _utc(theirs.dtstamp.value) == mine.stamp
        assert theirs.summary.value == mine.summary
        assert (theirs.location.value if "location" in theirs.contents else "") == mine.location
        assert (theirs.description.value if "description" in theirs.contents else "") == mine.description
        assert len(theirs.contents.get("attendee", [])) == len(mine.attendees)
    return Parsed(method=method, events=events, calendar=calendar, lines=lines)


def check_method_rules(parsed: Parsed) -> None:
    """RFC 5546 for what we send: REQUEST and CANCEL carry ORGANIZER and at least one ATTENDEE
    (CUTYPE, ROLE, PARTSTAT=NEEDS-ACTION, RSVP=TRUE); a REQUEST is never STATUS:CANCELLED; a
    PUBLISH (feed) has no ATTENDEE; nothing has a VALARM or VTIMEZONE."""
    assert parsed.method in ("REQUEST", "CANCEL", "PUBLISH")
    for event in parsed.events:
        assert event.end > event.start
        if parsed.method == "PUBLISH":
            assert event.attendees == []
            continue
        assert event.organizer.startswith("mailto:")
        assert event.attendees, "an iTIP message needs at least one ATTENDEE"
        for address, params in event.attendees:
            assert address.startswith("mailto:")
            assert params["CUTYPE"] == "INDIVIDUAL"
            assert params["ROLE"] in ("REQ-PARTICIPANT", "OPT-PARTICIPANT", "CHAIR")
            assert params["PARTSTAT"] == "NEEDS-ACTION"
            assert params["RSVP"] == "TRUE"
        if parsed.method == "REQUEST":
            assert event.status != "CANCELLED"
        else:
            assert event.status in ("CANCELLED", None)


def attendee_emails(event: ParsedEvent) -> list[str]:
    return [address.removeprefix("mailto:") for address, _ in event.attendees]
