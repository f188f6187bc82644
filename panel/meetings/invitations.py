"""Sending calendar invitations for meetings through the outbox, one email per attendee.

Every change that attendees must see goes through here, inside the transaction that makes it:
- invite(meeting, people): add attendees and send each a REQUEST at the current SEQUENCE;
- changed(meeting): after a change of time, place or status, raise SEQUENCE and send every
  current attendee the updated REQUEST;
- remove(meeting, attendee): raise SEQUENCE, send the removed person a CANCEL (no STATUS) and
  everyone else the REQUEST with the shorter list;
- cancelled(meeting): raise SEQUENCE and send every current attendee a CANCEL with
  STATUS:CANCELLED.
The organiser is the MAIL_FROM mailbox. Emails and calendars carry the case reference, the
time, the place and a link that needs sign-in, never anything about the adult.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app

from panel import audit, notify
from panel.auth.policy import OPERATIONS, case_access
from panel.extensions import db
from panel.dates import LONDON, govuk_date, london_today
from panel.forms.errors import ServiceError
from panel.meetings import ical, replies
from panel.models import (
    Agency,
    AttendeeResponse,
    AuditAction,
    Case,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    MeetingStatus,
    ResponseSource,
    Role,
    User,
    utcnow,
)

NAME_MAX = 120
EMAIL_MAX = 254




@dataclass(frozen=True)
class Person:
    """Someone to invite: a user, or an external person by name, agency and email."""

    email: str
    name: str
    agency_name: str = ""
    user_id: int | None = None
    role: str = "REQ-PARTICIPANT"

    @classmethod
    def of(cls, user: User, role: str = "REQ-PARTICIPANT") -> Person:
        return cls(email=user.email, name=user.name, agency_name=user.agency.name if user.agency else "",
                   user_id=user.id, role=role)


def organizer() -> ical.Invitee:
    name, address = parseaddr(current_app.config["MAIL_FROM"])
    return ical.Invitee(email=address or current_app.config["MAIL_FROM"],
                        name=name or f"{current_app.config['SERVICE_NAME']} coordinator")


def meeting_link(meeting: Meeting) -> str:
    return f"{current_app.config['PUBLIC_URL']}/meetings/{meeting.id}"


def summary(meeting: Meeting, case_reference: str | None = None) -> str:
    """The event title: the kind of meeting and, for an MDT, the case reference only."""
    if meeting.kind == MeetingKind.MDT:
        reference = case_reference or (meeting.case.reference if meeting.case else "")
        return f"MDT meeting – case {reference}".strip()
    name = current_app.config["SERVICE_NAME"].strip()
    # the service name once: "Panel monthly panel" says it twice, so a name that is itself a
    # panel gives "Monthly panel" (the sender already names the service)
    return "Monthly panel" if not name or "panel" in name.lower() else f"{name} monthly panel"


def details(meeting: Meeting, attendees: list[MeetingAttendee] | None = None) -> ical.EventDetails:
    """The event as invitations, the download and the feed describe it."""
    people = attendees if attendees is not None else [a for a in meeting.attendees if a.current]
    lines = ["Multi-agency meeting. The papers and details are on the panel platform (sign-in needed):",
             meeting_link(meeting)]
    if meeting.online_url:
        lines += ["", f"Join online: {_one_line(meeting.online_url)}"]
    location = meeting.location or ("Online" if meeting.online_url else "")
    return ical.EventDetails(
        uid=meeting.ical_uid, sequence=meeting.ical_sequence, start=meeting.starts_at, end=meeting.ends_at,
        summary=summary(meeting), description="\n".join(lines), location=location, url=meeting_link(meeting),
        attendees=tuple(ical.Invitee(email=a.email, name=a.name, role=a.role) for a in people))


def _when(meeting: Meeting) -> str:
    start = meeting.starts_at.astimezone(LONDON)
    end = meeting.ends_at.astimezone(LONDON)
    return f"{govuk_date(start.date())}, {start:%H:%M} to {end:%H:%M} (UK time)"


def _reply_lines(meeting: Meeting, attendee: MeetingAttendee) -> list[str]:
    """An invitation's "I can attend" and "I cannot attend" links (panel.meetings.replies): to a
    page behind sign-in for a user, a reply link of this email's own for anyone else."""
    urls = replies.reply_urls(meeting, attendee)
    how = ("sign-in needed" if attendee.user_id is not None
           else "no sign-in needed; the link works until the meeting ends and can change your reply")
    return [f"Tell us whether you can attend, in your calendar or with one of these links ({how}):",
            f"I can attend: {urls['accepted']}", f"I cannot attend: {urls['declined']}", ""]


def _email(meeting: Meeting, attendee: MeetingAttendee, calendar: bytes, method: str, headline: str,
           subject: str) -> None:
    body = "\n".join([
        f"Hello {attendee.name},", "", headline, "",
        f"When: {_when(meeting)}",
        f"Where: {where(meeting)}",
        *([f"Join online: {_one_line(meeting.online_url)}"] if meeting.online_url else []),
        "", f"Details (sign-in needed): {meeting_link(meeting)}", "",
        # only an invitation asks for a reply: someone taken off the list, or told of a
        # cancellation, is not asked whether they can attend
        *(_reply_lines(meeting, attendee) if method == "REQUEST" else []),
        "This email holds no personal information about the person the meeting is about.",
    ])
    day = govuk_date(meeting.starts_at.astimezone(LONDON).date())
    notify.queue_email(to=attendee.email, subject=f"{subject}: {summary(meeting)}, {day}",
                       body=body, calendar=calendar.decode("utf-8"), calendar_method=method)


def where(meeting: Meeting) -> str:
    """The place as an email says it: the place, "Online" (the link follows), or to be confirmed."""
    return _one_line(meeting.location) or ("Online" if meeting.online_url else "To be confirmed")


def _one_line(value: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def _send_requests(meeting: Meeting, to: list[MeetingAttendee], headline: str, now: datetime,
                   subject: str = "Updated invitation") -> int:
    current = [a for a in meeting.attendees if a.current]
    if not to or not current:
        return 0
    calendar = ical.request(details(meeting, current), organizer=organizer(), now=now)
    for attendee in to:
        _email(meeting, attendee, calendar, "REQUEST", headline, subject)
        attendee.invited_sequence = meeting.ical_sequence
    return len(to)


def _clean_person(person: Person) -> Person:
    email = person.email.strip().lower()
    name = " ".join("".join(ch if ch.isprintable() else " " for ch in person.name).split())
    agency = " ".join("".join(ch if ch.isprintable() else " " for ch in person.agency_name).split())
    if not name:
        raise ServiceError("Enter the person’s name")
    if len(name) > NAME_MAX or len(agency) > NAME_MAX:
        raise ServiceError(f"Names must be {NAME_MAX} characters or fewer")
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or len(email) > EMAIL_MAX or any(ch.isspace() or ch in '<>",;:()[]\\' for ch in email):
        raise ServiceError("Enter an email address in the correct format, like name@example.gov.uk")
    return Person(email=email, name=name, agency_name=agency, user_id=person.user_id, role=person.role)


def invite(meeting: Meeting, people: list[Person], *, by: User | None, now: datetime | None = None) -> list[MeetingAttendee]:
    """Add people to the meeting (again, if they had been removed) and send each the REQUEST.
    Someone already on the list is not invited twice. Flushes."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise ServiceError("This meeting has been cancelled")
    now = now or utcnow()
    by_email = {a.email: a for a in meeting.attendees}
    added: list[MeetingAttendee] = []
    for person in people:
        person = _clean_person(person)
        existing = by_email.get(person.email)
        if existing is not None and existing.current:
            continue
        if existing is not None:
            existing.removed_at, existing.response, existing.response_at = None, AttendeeResponse.NEEDS_ACTION, None
            existing.response_source = existing.response_sequence = existing.response_stamp = None
            existing.name, existing.agency_name = person.name, person.agency_name
            added.append(existing)
            continue
        attendee = MeetingAttendee(meeting=meeting, user_id=person.user_id, name=person.name,
                                   agency_name=person.agency_name, email=person.email, role=person.role, added_at=now)
        db.session.add(attendee)
        by_email[person.email] = attendee
        added.append(attendee)
    if added:
        if any(a.invited_sequence is not None and a.invited_sequence >= meeting.ical_sequence for a in added):
            # someone taken off the list is back: their calendar holds our CANCEL at this
            # SEQUENCE, so their new REQUEST must be newer than it (RFC 5546 §2.1.4)
            meeting.ical_sequence += 1
        db.session.flush()
        _send_requests(meeting, added, "You are invited to this meeting.", now, subject="Invitation")
        audit.record(AuditAction.UPDATE, "meeting", meeting.id,
                     summary={"invited": [a.id for a in added], "sequence": meeting.ical_sequence}, user=by)
    return added


def panel_people() -> list[Person]:
    """Everyone expected at a monthly panel: the chairs (ROLE=CHAIR), the acting SPoC (the deputy
    while the SPoC is away) of every agency with a current information sharing agreement, and
    the coordinators (OPT-PARTICIPANT). Active users only; someone in two of these groups is
    invited once, in the first."""
    agencies = db.session.scalars(sa.select(Agency).options(
        sa.orm.joinedload(Agency.spoc).joinedload(User.agency),
        sa.orm.joinedload(Agency.deputy_spoc).joinedload(User.agency)).order_by(Agency.name)).unique()
    staff = list(db.session.scalars(sa.select(User).options(sa.orm.joinedload(User.agency)).where(
        User.role.in_([Role.CHAIR, Role.COORDINATOR]), User.active.is_(True)).order_by(User.name)))
    today = london_today()
    # an agency without a current information sharing agreement is not expected at a panel
    spocs = [a.acting_spoc for a in agencies
             if a.acting_spoc is not None and a.acting_spoc.active and a.isa_current(today)]
    people: dict[str, Person] = {}
    for users, role in (([u for u in staff if u.role == Role.CHAIR], "CHAIR"), (spocs, "REQ-PARTICIPANT"),
                        ([u for u in staff if u.role == Role.COORDINATOR], "OPT-PARTICIPANT")):
        for user in users:
            people.setdefault(user.email.strip().lower(), Person.of(user, role))
    return list(people.values())


def invite_panel(meeting: Meeting, *, by: User | None, now: datetime | None = None) -> list[MeetingAttendee]:
    """Invite everyone expected at a monthly panel who is not on its list yet (see panel_people):
    one REQUEST each, the panel's own UID. Sending again invites only newcomers. Flushes."""
    if meeting.kind != MeetingKind.PANEL:
        raise ServiceError("Only a monthly panel invites everyone expected")
    return invite(meeting, panel_people(), by=by, now=now)


def can_see(user: User, meeting: Meeting, today: date) -> bool:
    """Who may download a meeting's invitation: coordinators and chairs; anyone on its list;
    for an MDT, whoever has the full case record (panel.auth.policy.case_access)."""
    if user.role in OPERATIONS:
        return True
    if any(a.user_id == user.id and a.current for a in meeting.attendees):
        return True
    if meeting.kind == MeetingKind.MDT and meeting.case is not None:
        agency_ids = {inv.agency_id for inv in meeting.case.involvements}
        return case_access(user, agency_ids, today) == "full"
    return False


def changed(meeting: Meeting, *, by: User | None, now: datetime | None = None) -> int:
    """After a change of time or place: SEQUENCE up, the updated REQUEST to everyone on the list.
    The caller changes the meeting and calls this; it raises SEQUENCE itself (do not raise it too)."""
    if meeting.status == MeetingStatus.CANCELLED:
        raise ServiceError("This meeting has been cancelled")
    now = now or utcnow()
    meeting.ical_sequence += 1
    sent = _send_requests(meeting, [a for a in meeting.attendees if a.current],
                          "The meeting has changed. Your calendar will update when you open this invitation.", now)
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, summary={"sequence": meeting.ical_sequence, "updates_sent": sent}, user=by)
    return sent


def remove(meeting: Meeting, attendee: MeetingAttendee, *, by: User | None, now: datetime | None = None) -> None:
    """Take someone off the list: they get a CANCEL; the others the REQUEST with the new list."""
    if not attendee.current or attendee.meeting_id != meeting.id:
        raise ServiceError("That person is not on the list for this meeting")
    now = now or utcnow()
    meeting.ical_sequence += 1
    attendee.removed_at = now
    removed = ical.Invitee(email=attendee.email, name=attendee.name, role=attendee.role)
    calendar = ical.cancel(details(meeting), organizer=organizer(), now=now, removed=(removed,))
    _email(meeting, attendee, calendar, "CANCEL",
           "You are no longer needed at this meeting. It has been taken out of your calendar.", "Cancelled")
    attendee.invited_sequence = meeting.ical_sequence
    _send_requests(meeting, [a for a in meeting.attendees if a.current],
                   "The list of people invited to this meeting has changed.", now)
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, summary={"removed": attendee.id, "sequence": meeting.ical_sequence}, user=by)


def cancelled(meeting: Meeting, *, by: User | None, now: datetime | None = None) -> int:
    """The meeting is cancelled (its status already set): SEQUENCE up, CANCEL to everyone."""
    now = now or utcnow()
    meeting.ical_sequence += 1
    current = [a for a in meeting.attendees if a.current]
    if current:
        calendar = ical.cancel(details(meeting, current), organizer=organizer(), now=now)
        for attendee in current:
            _email(meeting, attendee, calendar, "CANCEL",
                   "This meeting has been cancelled. It has been taken out of your calendar.", "Cancelled")
            attendee.invited_sequence = meeting.ical_sequence
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, summary={"cancelled": True, "sequence": meeting.ical_sequence}, user=by)
    return len(current)


def record_response(attendee: MeetingAttendee, response: AttendeeResponse, *, by: User, now: datetime | None = None) -> None:
    """An attendee's answer, recorded by the coordinator or by the attendee themself (it answers
    the version of the invitation they were last sent: panel.meetings.replies.set_response)."""
    if not attendee.current:
        raise ServiceError("That person is not on the list for this meeting")
    if attendee.meeting.status == MeetingStatus.CANCELLED:
        raise ServiceError("This meeting has been cancelled")
    source = ResponseSource.ATTENDEE if attendee.user_id is not None and attendee.user_id == by.id \
        else ResponseSource.COORDINATOR
    replies.set_response(attendee, response, source=source, by=by, now=now)


def current_calendar(meeting: Meeting, now: datetime | None = None) -> bytes:
    """What /meetings/<id>/invite.ics serves: the REQUEST as it stands, or the CANCEL."""
    now = now or utcnow()
    current = [a for a in meeting.attendees if a.current]
    people = current or [a for a in meeting.attendees] or []
    if meeting.status == MeetingStatus.CANCELLED:
        if not people:
            return ical.publish([], organizer=organizer(), now=now)
        return ical.cancel(details(meeting, people), organizer=organizer(), now=now)
    if not current:
        # nobody invited yet: a single-event PUBLISH a person can add to their own calendar
        return ical.publish([details(meeting, [])], organizer=organizer(), now=now)
    return ical.request(details(meeting, current), organizer=organizer(), now=now)


def feed_meetings(user: User, since: datetime) -> list[Meeting]:
    """Meetings the user is invited to (and not removed from), not cancelled, from `since`."""
    return list(db.session.scalars(
        sa.select(Meeting).join(MeetingAttendee, MeetingAttendee.meeting_id == Meeting.id)
        .where(MeetingAttendee.user_id == user.id, MeetingAttendee.removed_at.is_(None),
               Meeting.status == MeetingStatus.SCHEDULED, Meeting.ends_at >= since)
        .options(sa.orm.joinedload(Meeting.case).load_only(Case.reference))
        .order_by(Meeting.starts_at)))


def user_feed(user: User, now: datetime | None = None) -> bytes:
    """The user's private feed: their meetings from 90 days ago on, the same UIDs and
    SEQUENCEs as the invitations, cancelled meetings left out."""
    now = now or utcnow()
    meetings = feed_meetings(user, now - timedelta(days=90))
    return ical.feed([details(m, []) for m in meetings], organizer=organizer(), now=now,
                     name=f"{current_app.config['SERVICE_NAME']} meetings")
