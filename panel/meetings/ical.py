"""Calendar invitations (iTIP over email, RFC 5545/5546/6047) and feeds, as pure functions.

The rules, from the research behind them (see the README's "Calendar invitations"):
- One meeting is one event: its UID is made once and kept for ever; SEQUENCE starts at 0 and
  goes up on every change of time, place or status, and again on cancellation.
- METHOD:REQUEST for the invitation and every update; METHOD:CANCEL with STATUS:CANCELLED
  (same UID, SEQUENCE raised) for a cancellation. An attendee taken off the list gets a
  CANCEL of their own, without STATUS (RFC 5546 §3.2.5).
- DTSTAMP is now in UTC; DTSTART and DTEND are written in UTC (no VTIMEZONE, nothing for a
  client to get wrong across the clock change); ORGANIZER is the MAIL_FROM mailbox; one
  ATTENDEE per invitee with CUTYPE, ROLE, PARTSTAT=NEEDS-ACTION and RSVP=TRUE; no VALARM.
- Nothing about the adult: the summary names the case reference only; the description says
  the details are on the platform behind sign-in; the URL is the meeting's page.
Escaping, folding at 75 octets and CRLF line ends are the `icalendar` library's (7.3 or later).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from icalendar import CUTYPE, PARTSTAT, ROLE, Calendar, Event, vCalAddress, vDuration

PRODID = "-//Panel//Multi-agency safeguarding panel//EN"


@dataclass(frozen=True)
class Invitee:
    email: str
    name: str = ""
    role: str = "REQ-PARTICIPANT"   # or CHAIR, OPT-PARTICIPANT


@dataclass(frozen=True)
class EventDetails:
    """What an invitation says about a meeting. Build it with no personal data in it."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str = ""
    url: str = ""
    attendees: tuple[Invitee, ...] = field(default_factory=tuple)


def _clean(value: str, limit: int = 200) -> str:
    """One line, no control characters (CN values and summaries)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())[:limit]


def _address(invitee: Invitee) -> vCalAddress:
    return vCalAddress.new(invitee.email, cn=_clean(invitee.name.replace('"', "")) or None,
                           cutype=CUTYPE.INDIVIDUAL, role=getattr(ROLE, invitee.role.replace("-", "_")),
                           partstat=PARTSTAT.NEEDS_ACTION, rsvp=True)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("meeting times must be timezone-aware")
    return moment.astimezone(timezone.utc)


def _event(details: EventDetails, *, organizer: Invitee, now: datetime, status: str,
           attendees: tuple[Invitee, ...]) -> Event:
    event = Event.new(
        uid=details.uid,
        sequence=details.sequence,
        stamp=_utc(now),
        start=_utc(details.start),
        end=_utc(details.end),
        summary=_clean(details.summary),
        description=details.description,
        location=_clean(details.location, 500) or None,
        organizer=vCalAddress.new(organizer.email, cn=_clean(organizer.name) or None),
        attendees=[_address(a) for a in attendees],
        status=status,
        transparency="OPAQUE",
        classification="CONFIDENTIAL",
    )
    if details.url:
        event.add("url", details.url)
    return event


def _calendar(method: str | None, events: list[Event], *, name: str = "", refresh: timedelta | None = None) -> bytes:
    calendar = Calendar.new(prodid=PRODID, method=method) if method else Calendar.new(prodid=PRODID)
    calendar.pop("UID", None)  # an RFC 7986 calendar UID is not wanted in an iTIP message
    if name:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
    if refresh is not None:
        calendar.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", vDuration(refresh))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


def request(details: EventDetails, *, organizer: Invitee, now: datetime) -> bytes:
    """METHOD:REQUEST: the invitation, or an update of it (same UID, SEQUENCE as stored)."""
    if not details.attendees:
        raise ValueError("an invitation needs at least one attendee")
    return _calendar("REQUEST", [_event(details, organizer=organizer, now=now, status="CONFIRMED",
                                        attendees=details.attendees)])


def cancel(details: EventDetails, *, organizer: Invitee, now: datetime, removed: tuple[Invitee, ...] = ()) -> bytes:
    """METHOD:CANCEL. With `removed`, tells only those attendees they are off the list (no
    STATUS, per RFC 5546 §3.2.5); without, cancels the whole meeting (STATUS:CANCELLED)."""
    attendees = removed or details.attendees
    if not attendees:
        raise ValueError("a cancellation needs at least one attendee")
    event = _event(details, organizer=organizer, now=now, status="CANCELLED", attendees=attendees)
    if removed:
        event.pop("STATUS")
    return _calendar("CANCEL", [event])


def feed(events: list[EventDetails], *, organizer: Invitee, now: datetime, name: str,
         refresh: timedelta = timedelta(hours=1)) -> bytes:
    """A subscription feed (METHOD:PUBLISH, so no ATTENDEE): the same UIDs and SEQUENCEs as the
    invitations; cancelled meetings are left out by the caller."""
    out = []
    for details in events:
        out.append(_event(details, organizer=organizer, now=now, status="CONFIRMED", attendees=()))
    return _calendar("PUBLISH", out, name=name, refresh=refresh)


def publish(events: list[EventDetails], *, organizer: Invitee, now: datetime) -> bytes:
    """A one-off download (METHOD:PUBLISH, no ATTENDEE): the event(s) to add to a calendar once.
    No calendar name and no refresh hints (REFRESH-INTERVAL, X-PUBLISHED-TTL): those make calendar
    apps offer to subscribe, and belong to the private feed only."""
    return _calendar("PUBLISH", [_event(d, organizer=organizer, now=now, status="CONFIRMED", attendees=())
                                 for d in events])
