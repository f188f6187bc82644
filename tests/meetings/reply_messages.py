"""Calendar REPLY emails shaped as Google Calendar, Outlook (Exchange Online), Thunderbird and Apple
Calendar send them, for the calendar-replies tests.

Reconstructed from the captured messages and client sources summarised in the project's research
on calendar replies (structure, headers, property order and encodings as each client sends them;
names, dates and ids invented):
- Google: multipart/mixed { alternative { text/plain base64 flowed, text/html QP,
  text/calendar;method=REPLY 7bit }, application/ics invite.ics base64 } — the VCALENDAR twice;
  From and Reply-To the attendee, Sender Google, Auto-Submitted: auto-generated; CN=the address,
  X-NUM-GUESTS=0, the ATTENDEE line folded; optionally a VALARM (Google sometimes adds one).
- Outlook: multipart/alternative { text/plain QP, text/html QP, text/calendar 8bit or base64 } at
  the top level; METHOD first; a VTIMEZONE with a Windows name and local DTSTART/DTEND; the
  prefix repeated in SUMMARY;LANGUAGE=; no ORGANIZER; optionally `MAILTO:` in capitals.
- Thunderbird: multipart/mixed { alternative { text/plain 8BIT, text/calendar;method=REPLY 8BIT },
  application/ics invite.ics 8BIT } with fixed boundaries and lower-case header names.
- Apple Calendar (Mail): multipart/alternative { text/plain, mixed { text/html, an .ics attachment
  with no method= parameter, quoted-printable, a fold inside ROLE } }.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
ORGANIZER = "panel@panel.test"


@dataclass(frozen=True)
class Answer:
    """What the attendee's calendar says."""

    uid: str
    attendee: str                 # the address
    partstat: str = "ACCEPTED"
    sequence: int = 0
    dtstamp: datetime = datetime(2027, 3, 20, 9, 32, 56, tzinfo=UTC)
    name: str = "Sam Carter"
    start: datetime = datetime(2027, 3, 25, 10, 0, tzinfo=UTC)
    minutes: int = 60
    summary: str = "MDT meeting – case CASPA-2026-001"
    message_id: str = ""
    sender: str = ""              # the From address, if not the attendee (a forgery)

    def but(self, **changes) -> Answer:
        return replace(self, **changes)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    @property
    def from_address(self) -> str:
        return self.sender or self.attendee


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (CRLF and a space), as RFC 5545 says."""
    data, out = line.encode("utf-8"), []
    while len(data) > 75:
        cut = 75 if not out else 74
        while cut and (data[cut] & 0xC0) == 0x80:  # never inside a UTF-8 character
            cut -= 1
        out.append(data[:cut])
        data = data[cut:]
    out.append(data)
    return "\r\n ".join(part.decode("utf-8") for part in out)


def _calendar(lines: list[str]) -> str:
    return "".join(_fold(line) + "\r\n" for line in lines)


def _b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def _message(headers: list[str], body: str) -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


# ---- Google Calendar ------------------------------------------------------------------------------

def google_calendar(a: Answer, *, valarm: bool = False) -> str:
    lines = [
        "BEGIN:VCALENDAR", "PRODID:-//Google Inc//Google Calendar 70.9054//EN", "VERSION:2.0", "CALSCALE:GREGORIAN",
        "METHOD:REPLY", "BEGIN:VEVENT", f"DTSTART:{_utc(a.start)}", f"DTEND:{_utc(a.end)}", f"DTSTAMP:{_utc(a.dtstamp)}",
        f"ORGANIZER;CN=Panel coordinator:mailto:{ORGANIZER}", f"UID:{a.uid}",
        f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={a.partstat};CN={a.attendee};X-NUM-GUESTS=0:mailto:{a.attendee}",
        "CREATED:20270318T142147Z", "DESCRIPTION:", f"LAST-MODIFIED:{_utc(a.dtstamp - timedelta(seconds=1))}", "LOCATION:",
        f"SEQUENCE:{a.sequence}", "STATUS:CONFIRMED", f"SUMMARY:{a.summary}", "TRANSP:OPAQUE",
    ]
    if valarm:  # Google sometimes adds one, with an ATTENDEE of its own for an email alarm
        lines += ["BEGIN:VALARM", "ACTION:EMAIL", "DESCRIPTION:Reminder", "SUMMARY:Reminder",
                  "ATTENDEE:mailto:someone.else@gmail.com", "TRIGGER:-P0DT0H30M0S", "END:VALARM"]
    return _calendar(lines + ["END:VEVENT", "END:VCALENDAR"])


def google(a: Answer, *, valarm: bool = False) -> bytes:
    calendar = google_calendar(a, valarm=valarm)
    verb = {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentatively accepted"}[a.partstat]
    outer, inner = "0000000000007d3a1d05f2b1c9e0", "0000000000007d3a1c05f2b1c9df"
    text = _b64(f"{a.attendee} has {verb.lower()} this invitation.\r\n".encode())
    body = "\r\n".join([
        f"--{outer}", f'Content-Type: multipart/alternative; boundary="{inner}"', "",
        f"--{inner}", 'Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes',
        "Content-Transfer-Encoding: base64", "", text,
        f"--{inner}", 'Content-Type: text/html; charset="UTF-8"', "Content-Transfer-Encoding: quoted-printable", "",
        f"<strong>{a.attendee} has {verb.lower()} this invitation.</strong>",
        f"--{inner}", 'Content-Type: text/calendar; charset="UTF-8"; method=REPLY', "Content-Transfer-Encoding: 7bit",
        "", calendar, f"--{inner}--",
        f"--{outer}", 'Content-Type: application/ics; name="invite.ics"', 'Content-Disposition: attachment; filename="invite.ics"',
        "Content-Transfer-Encoding: base64", "", _b64(calendar.encode()),
        f"--{outer}--", "",
    ])
    return _message([
        f"From: {a.from_address}", f"Reply-To: {a.from_address}",
        "Sender: Google Calendar <calendar-notification@google.com>", "Auto-Submitted: auto-generated",
        f"Message-ID: {a.message_id or '<0000000000007d3a1f05f2b1c9e2@google.com>'}",
        "Date: Sat, 20 Mar 2027 09:32:56 +0000",
        f"Subject: {verb}: {a.summary} @ Thu 25 Mar 2027 10am - 11am (GMT) (Panel coordinator)",
        f"To: Panel coordinator <{ORGANIZER}>", "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{outer}"',
    ], body)


# ---- Outlook / Exchange Online --------------------------------------------------------------------

def outlook_calendar(a: Answer, *, mailto: str = "mailto") -> str:
    local = timedelta(hours=1) if 3 < a.start.month < 11 else timedelta(0)   # near enough for the tests' dates
    start, end = (a.start + local).strftime("%Y%m%dT%H%M%S"), (a.end + local).strftime("%Y%m%dT%H%M%S")
    verb = {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentative"}[a.partstat]
    return _calendar([
        "BEGIN:VCALENDAR", "METHOD:REPLY", "PRODID:Microsoft Exchange Server 2010", "VERSION:2.0",
        "BEGIN:VTIMEZONE", "TZID:GMT Standard Time",
        "BEGIN:STANDARD", "DTSTART:16010101T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0000",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:16010101T010000", "TZOFFSETFROM:+0000", "TZOFFSETTO:+0100",
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3", "END:DAYLIGHT", "END:VTIMEZONE",
        "BEGIN:VEVENT", f"ATTENDEE;PARTSTAT={a.partstat};CN={a.name}:{mailto}:{a.attendee}",
        "COMMENT;LANGUAGE=en-GB:\\n",
        f"UID:{a.uid}", f"SUMMARY;LANGUAGE=en-GB:{verb}: {a.summary}",
        f"DTSTART;TZID=GMT Standard Time:{start}", f"DTEND;TZID=GMT Standard Time:{end}",
        "CLASS:PUBLIC", "PRIORITY:5", f"DTSTAMP:{_utc(a.dtstamp)}", "TRANSP:OPAQUE", "STATUS:CONFIRMED",
        f"SEQUENCE:{a.sequence}", "LOCATION;LANGUAGE=en-GB:", "X-MICROSOFT-CDO-APPT-SEQUENCE:" + str(a.sequence),
        "END:VEVENT", "END:VCALENDAR",
    ])


def outlook(a: Answer, *, encoding: str = "8bit", mailto: str = "mailto") -> bytes:
    calendar = outlook_calendar(a, mailto=mailto)
    verb = {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentative"}[a.partstat]
    boundary = "_000_AS8P251MB0958A1B2C3D4E5F6_"
    part = _b64(calendar.encode()) if encoding == "base64" else calendar
    body = "\r\n".join([
        f"--{boundary}", 'Content-Type: text/plain; charset="us-ascii"', "Content-Transfer-Encoding: quoted-printable",
        "", "",
        f"--{boundary}", 'Content-Type: text/html; charset="us-ascii"', "Content-Transfer-Encoding: quoted-printable",
        "", "<html><body></body></html>",
        f"--{boundary}", 'Content-Type: text/calendar; charset="utf-8"; method=REPLY',
        f"Content-Transfer-Encoding: {encoding}", "", part,
        f"--{boundary}--", "",
    ])
    return _message([
        f"From: {a.name} <{a.from_address}>", f"To: Panel coordinator <{ORGANIZER}>",
        f"Subject: {verb}: {a.summary}", f"Thread-Topic: {a.summary}", "Date: Sat, 20 Mar 2027 09:32:56 +0000",
        f"Message-ID: {a.message_id or '<AS8P251MB0958A1B2C3D4E5F6@AS8P251MB0958.EURP251.PROD.OUTLOOK.COM>'}",
        "X-MS-Has-Attach:", "X-MS-TNEF-Correlator:",
        f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0",
    ], body)


# ---- Thunderbird ----------------------------------------------------------------------------------

def thunderbird_calendar(a: Answer) -> str:
    return _calendar([
        "BEGIN:VCALENDAR", "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN", "VERSION:2.0", "METHOD:REPLY",
        "BEGIN:VEVENT", "CREATED:20270320T093000Z", f"LAST-MODIFIED:{_utc(a.dtstamp)}", f"DTSTAMP:{_utc(a.dtstamp)}",
        f"UID:{a.uid}", f"SUMMARY:{a.summary}", f"ORGANIZER;CN=Panel coordinator:mailto:{ORGANIZER}",
        f"ATTENDEE;PARTSTAT={a.partstat};CN={a.name};CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT:mailto:{a.attendee}",
        f"DTSTART:{_utc(a.start)}", f"DTEND:{_utc(a.end)}", f"SEQUENCE:{a.sequence}",
        "END:VEVENT", "END:VCALENDAR",
    ])


def thunderbird(a: Answer) -> bytes:
    calendar = thunderbird_calendar(a)
    verb = {"ACCEPTED": "Accepted", "DECLINED": "Invitation Declined", "TENTATIVE": "Tentative"}.get(a.partstat, "Invitation Reply")
    outer, inner = "Boundary_(ID_qyG4ZdjoAsiZ+Jo19dCbWQ)", "Boundary_(ID_ryU4ZdJoASiZ+Jo21dCbwA)"
    body = "\r\n".join([
        "", f"--{outer}", "Content-type: multipart/alternative;", f' boundary="{inner}"', "", "",
        f"--{inner}", "Content-type: text/plain; charset=UTF-8", "Content-transfer-encoding: 8BIT", "",
        f"{a.name} <{a.attendee}> has {'accepted' if a.partstat != 'DECLINED' else 'declined'} your event invitation.", "", "",
        f"--{inner}", "Content-type: text/calendar; method=REPLY; charset=UTF-8", "Content-transfer-encoding: 8BIT", "",
        calendar, "", f"--{inner}--", "",
        f"--{outer}", "Content-type: application/ics; name=invite.ics", "Content-transfer-encoding: 8BIT",
        "Content-disposition: attachment; filename=invite.ics", "", calendar, "", f"--{outer}--", "",
    ])
    return _message([
        "MIME-version: 1.0", f"From: {a.name} <{a.from_address}>",
        f"Message-ID: {a.message_id or '<5b2f0c1e-3a4d-4e8b-9c61-7d0e2f1a9b34@example.org>'}",
        f"To: {ORGANIZER}", "Date: Sat, 20 Mar 2027 09:32:56 +0000", f"Subject: {verb}: {a.summary}",
        f'Content-type: multipart/mixed; boundary="{outer}"',
    ], body)


# ---- Apple Calendar (Mail) -----------------------------------------------------------------------

def _apple_quoted_printable(text: str) -> str:
    """Quoted-printable as Apple Mail wrote the .ics: each line end encoded (=0D=0A) then a soft
    break, long lines broken with soft breaks, never inside an =XX escape."""
    out = []
    for line in text.split("\r\n")[:-1]:
        encoded = "".join(ch if 33 <= ord(ch) <= 126 and ch != "=" else "".join(f"={b:02X}" for b in ch.encode())
                          for ch in line) + "=0D=0A"
        while len(encoded) > 75:
            cut = 75
            while "=" in (encoded[cut - 1], encoded[cut - 2]):
                cut -= 1
            out.append(encoded[:cut] + "=")
            encoded = encoded[cut:]
        out.append(encoded + "=")
    return "\r\n".join(out)


def apple(a: Answer) -> bytes:
    calendar = _calendar([
        "BEGIN:VCALENDAR", "PRODID:-//Apple Inc.//iCal 3.0//EN", "CALSCALE:GREGORIAN", "VERSION:2.0", "METHOD:REPLY",
        "BEGIN:VEVENT", f"SEQUENCE:{a.sequence}", f"DTSTART:{_utc(a.start)}", f"UID:{a.uid}",
        f'ORGANIZER;CN="Panel coordinator":mailto:{ORGANIZER}', f"DTSTAMP:{_utc(a.dtstamp)}", f"SUMMARY:{a.summary}",
        f'ATTENDEE;CN="{a.attendee}";CUTYPE=INDIVIDUAL;PARTSTAT={a.partstat};ROLE=REQ-PARTICIPANT:mailto:{a.attendee}',
        "CREATED:20270320T093306Z", f"DTEND:{_utc(a.end)}", "END:VEVENT", "END:VCALENDAR",
    ])
    qp = _apple_quoted_printable(calendar)
    body = "\r\n".join([
        "", "--Apple-Mail-1--253014167", "Content-Type: text/plain; charset=US-ASCII; format=flowed; delsp=yes",
        "Content-Transfer-Encoding: 7bit", "", f"{a.name} has accepted your iCal event invitation.",
        "--Apple-Mail-1--253014167", "Content-Type: multipart/mixed; boundary=Apple-Mail-2--253014167", "", "",
        "--Apple-Mail-2--253014167", "Content-Type: text/html; charset=US-ASCII", "Content-Transfer-Encoding: 7bit", "",
        f"<html><body>{a.name} has accepted your iCal event invitation.</body></html>",
        "--Apple-Mail-2--253014167", "Content-Disposition: attachment; filename=iCal-20270320-093311.ics",
        'Content-Type: text/calendar; x-unix-mode=0644; name="iCal-20270320-093311.ics"',
        "Content-Transfer-Encoding: quoted-printable", "", qp, "", "--Apple-Mail-2--253014167--", "",
        "--Apple-Mail-1--253014167--", "",
    ])
    return _message([
        "Date: Sat, 20 Mar 2027 09:33:14 +0000", f"From: {a.name} <{a.from_address}>",
        f"Subject: Event accepted: {a.summary}", f"To: Panel coordinator <{ORGANIZER}>",
        f"Message-id: {a.message_id or '<1983F777-BE86-4B98-881E-06D938E60920@example.net>'}",
        "MIME-version: 1.0 (Apple Message framework v928.1)", "X-Mailer: Apple Mail (2.928.1)",
        "Content-type: multipart/alternative; boundary=Apple-Mail-1--253014167", "X-Mail-Calendar-Part: Yes",
    ], body)


CLIENTS = {"google": google, "outlook": outlook, "thunderbird": thunderbird, "apple": apple}


# ---- messages that are not replies the service can take ---------------------------------------------

def plain_email(sender: str = "someone@example.org") -> bytes:
    return _message([f"From: {sender}", f"To: {ORGANIZER}", "Subject: About Thursday", "Message-ID: <plain@example.org>",
                     "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"], "Can we talk about Thursday?\r\n")


def out_of_office(sender: str) -> bytes:
    return _message([f"From: {sender}", f"To: {ORGANIZER}", "Subject: Automatic reply: Invitation",
                     "Auto-Submitted: auto-replied", "Message-ID: <ooo@example.org>", "MIME-Version: 1.0",
                     "Content-Type: text/plain; charset=utf-8"], "I am out of the office until Monday.\r\n")


def bounce(request_calendar: str) -> bytes:
    """A delivery failure quoting our REQUEST (whose ATTENDEE lines carry PARTSTATs)."""
    boundary = "dsn-boundary-1"
    body = "\r\n".join([
        f"--{boundary}", "Content-Type: text/plain; charset=us-ascii", "", "Delivery has failed.", "",
        f"--{boundary}", "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.org", "",
        "Final-Recipient: rfc822; gone@example.org", "Action: failed", "Status: 5.1.1", "",
        f"--{boundary}", "Content-Type: message/rfc822", "",
        f"From: {ORGANIZER}", "To: gone@example.org", "Subject: Invitation", "MIME-Version: 1.0",
        "Content-Type: text/calendar; method=REPLY; charset=UTF-8", "", request_calendar,
        f"--{boundary}--", "",
    ])
    return _message(["From: Mail Delivery System <MAILER-DAEMON@example.org>", f"To: {ORGANIZER}",
                     "Subject: Undelivered Mail Returned to Sender", "Message-ID: <dsn@example.org>", "MIME-Version: 1.0",
                     f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"'], body)


def counter(a: Answer) -> bytes:
    """A "propose a new time" (METHOD:COUNTER): not an answer."""
    calendar = thunderbird_calendar(a).replace("METHOD:REPLY", "METHOD:COUNTER")
    return _message([f"From: {a.name} <{a.attendee}>", f"To: {ORGANIZER}", f"Subject: New Time Proposed: {a.summary}",
                     "Message-ID: <counter@example.org>", "MIME-Version: 1.0",
                     "Content-Type: text/calendar; method=COUNTER; charset=UTF-8"], calendar)
