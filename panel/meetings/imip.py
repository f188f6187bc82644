"""Reading a calendar's answer to an invitation (an iTIP REPLY, RFC 5546, sent by email as RFC
6047 says) out of an email message, as pure functions.

What the clients send differs (the notes behind this are in the README's "Replies"):
- Google Calendar: multipart/mixed { alternative { text, html, text/calendar;method=REPLY },
  invite.ics as application/ics } — the same VCALENDAR twice; From is the attendee, Sender is
  Google; sometimes a VALARM inside the VEVENT.
- Outlook / Exchange: multipart/alternative { text, html, text/calendar } at the top level, the
  calendar 8bit or base64; no ORGANIZER; Windows time zone names; `MAILTO:` in capitals.
- Thunderbird: multipart/mixed { alternative { text, text/calendar }, invite.ics }, 8bit.
- Apple Calendar: an .ics attachment with no `method=` parameter, quoted-printable.
So: every part is looked at (never inside an attached message: a bounce quotes our REQUEST);
text/calendar, application/ics and any *.ics count; METHOD is read from the calendar itself; the
lines are unfolded before parsing; names and values are compared without regard to case; copies
of the same reply count once and copies that disagree are refused.

A reply is taken only from the attendee it answers for: the message's From must be the
ATTENDEE's address (a reply forwarded, or written by someone else, is refused), which also picks
the right ATTENDEE when a client lists more than one. ORGANIZER is not needed (Outlook leaves it
out). Nothing here looks at the database: panel.meetings.replies matches the UID to a meeting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage, Message
from email.utils import getaddresses

from icalendar.parser import Contentline

CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})
ANSWERS = frozenset({"ACCEPTED", "TENTATIVE", "DECLINED"})
MESSAGE_ID_MAX = 250


class NotAReply(Exception):
    """The message is not a reply the service can take; it is left for a person. `reason` is
    a fixed phrase (no addresses, no content), fit for a log line or a count."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forged(NotAReply):
    """The reply does not come from the attendee it answers for."""


@dataclass(frozen=True)
class Event:
    """What one VEVENT of a calendar says, as far as a reply needs."""

    uid: str
    sequence: int
    dtstamp: datetime | None
    attendees: tuple[tuple[str, str], ...]   # (address, PARTSTAT), in the calendar's order
    recurrence: bool
    failed_status: bool                       # a REQUEST-STATUS that is not 2.x


@dataclass(frozen=True)
class Reply:
    """An attendee's answer: for the meeting with this UID, to the invitation at this SEQUENCE,
    made at DTSTAMP (UTC)."""

    uid: str
    sequence: int
    dtstamp: datetime
    attendee: str          # the address, lower case, without mailto:
    partstat: str          # ACCEPTED, TENTATIVE or DECLINED
    message_id: str = ""


def address(value: str) -> str:
    """A calendar user address as an email address: `mailto:` (any case) off, trimmed, lower case."""
    value = value.strip()
    if value[:7].lower() == "mailto:":
        value = value[7:]
    return value.strip().lower()


def calendar_parts(message: Message) -> list[tuple[bytes, str]]:
    """The decoded body and charset of every calendar part, in order; never inside an attached
    message (message/rfc822 in a bounce or a forward) or a delivery report."""
    found: list[tuple[bytes, str]] = []

    def walk(part: Message) -> None:
        kind = part.get_content_type()
        if kind.startswith("message/") or kind == "multipart/report":
            return
        if part.is_multipart():
            for sub in part.get_payload():
                walk(sub)
            return
        filename = (part.get_filename() or "").lower()
        if kind in CALENDAR_TYPES or filename.endswith(".ics"):
            body = part.get_payload(decode=True)
            if body:
                found.append((body, part.get_content_charset() or "utf-8"))

    walk(message)
    return found


def _text(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return body.decode("utf-8", errors="replace")


def _lines(text: str) -> list[str]:
    """Content lines, unfolded (CRLF, LF or CR line ends; a fold is a line end and a space or tab)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\n ", "").replace("\n\t", "")
    return [line for line in text.split("\n") if line.strip()]


def _stamp(value: str) -> datetime | None:
    value = value.strip()
    try:
        return datetime.strptime(value[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def read_calendar(text: str) -> tuple[str, list[Event]]:
    """The calendar's METHOD (upper case, "" if none) and its VEVENTs. Properties of components
    inside a VEVENT (a VALARM's ATTENDEE) are not the event's."""
    method, events, stack = "", [], []
    current: dict = {}
    for line in _lines(text):
        try:
            name, params, value = Contentline(line).parts()
        except ValueError:
            continue  # a line that is not a content line: nothing a reply needs can be in it
        name = name.upper()
        if name == "BEGIN":
            stack.append(value.strip().upper())
            if stack[-1] == "VEVENT":
                current = {"uid": "", "sequence": "0", "dtstamp": None, "attendees": [], "recurrence": False,
                           "failed": False}
            continue
        if name == "END":
            if stack and stack[-1] == "VEVENT":
                events.append(_event(current))
            if stack:
                stack.pop()
            continue
        if stack == ["VCALENDAR"] and name == "METHOD":
            method = value.strip().upper()
        elif stack[-1:] == ["VEVENT"]:
            _property(current, name, params, value)
    return method, events


def _property(event: dict, name: str, params, value: str) -> None:
    if name == "UID":
        event["uid"] = value.strip()
    elif name == "SEQUENCE":
        event["sequence"] = value.strip()
    elif name == "DTSTAMP":
        event["dtstamp"] = _stamp(value)
    elif name == "ATTENDEE":
        event["attendees"].append((address(value), str(params.get("PARTSTAT", "NEEDS-ACTION")).strip().upper()))
    elif name == "RECURRENCE-ID":
        event["recurrence"] = True
    elif name == "REQUEST-STATUS" and not value.strip().startswith("2."):
        event["failed"] = True


def _event(raw: dict) -> Event:
    try:
        sequence = int(raw["sequence"])
    except ValueError:
        sequence = -1
    return Event(uid=raw["uid"], sequence=sequence, dtstamp=raw["dtstamp"], attendees=tuple(raw["attendees"]),
                 recurrence=raw["recurrence"], failed_status=raw["failed"])


def sender(message: Message) -> str:
    """The one From address, lower case ("" if there is not exactly one)."""
    addresses = [a for _, a in getaddresses(message.get_all("From", [])) if a]
    return addresses[0].strip().lower() if len(addresses) == 1 else ""


def _the_event(message: Message) -> Event:
    """The one reply the message carries, however many copies of it there are."""
    parts = calendar_parts(message)
    if not parts:
        raise NotAReply("no calendar in the message")
    methods, events = set(), set()
    for body, charset in parts:
        method, found = read_calendar(_text(body, charset))
        methods.add(method)
        events.update(found)
    if methods != {"REPLY"}:
        raise NotAReply("not a calendar reply" if "REPLY" not in methods else "calendar parts that disagree")
    if len(events) != 1:
        raise NotAReply("no reply, more than one, or copies that disagree")
    event = events.pop()
    if not event.uid or event.sequence < 0 or event.dtstamp is None:
        raise NotAReply("a reply without a UID, SEQUENCE or DTSTAMP the service can read")
    if event.recurrence:
        raise NotAReply("a reply to one occurrence of a repeating event")
    if event.failed_status:
        raise NotAReply("the attendee's calendar reported a problem with the invitation")
    return event


def read_reply(message: EmailMessage | Message) -> Reply:
    """The attendee's answer in an email. Raises NotAReply (left for a person) when the message
    is not one REPLY the service can take, and Forged when From is not the ATTENDEE."""
    event = _the_event(message)
    sent_by = sender(message)
    answers = [partstat for who, partstat in event.attendees if who == sent_by and sent_by]
    if not answers:
        raise Forged("the sender is not the attendee who replied")
    if len(set(answers)) != 1 or answers[0] not in ANSWERS:
        raise NotAReply("an answer other than accepted, tentative or declined")
    message_id = " ".join(str(message.get("Message-ID", "")).split())[:MESSAGE_ID_MAX]
    assert event.dtstamp is not None  # checked by _the_event
    return Reply(uid=event.uid, sequence=event.sequence, dtstamp=event.dtstamp, attendee=sent_by,
                 partstat=answers[0], message_id=message_id)
