"""A single panel's life outside its agenda: moving it, cancelling it, publishing its agenda.

Everyone expected at a panel is told when it moves or is cancelled: the acting SPoC of every
agency (the deputy while the SPoC is away), the coordinators and the chairs. Those on the
panel's invitation list get the calendar update (panel.meetings.invitations, which also raises
the event's SEQUENCE); everyone else expected gets a plain email. Publishing the
agenda emails the SPoCs a link, once; sending it again is a deliberate second step. Emails say
the date and give the meeting's address, nothing else: never a case, a person or a reason.

The job "agenda-publish" (07:15 London, daily) publishes the agenda of every panel whose
referral cut-off has come, building it from the data first. Services flush but never commit;
the job commits its own work.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app

from panel import audit, notify
from panel.extensions import db
from panel.dates import LONDON, govuk_date, govuk_datetime
from panel.forms.errors import ServiceError
from panel.meetings import agenda, invitations
from panel.meetings.mdt import checked_place
from panel.meetings.schedule import cutoff_for, rule
from panel.models import Agency, AuditAction, Meeting, MeetingKind, MeetingStatus, Role, User, utcnow

REASON_MAX = 500




def meeting_link(meeting: Meeting) -> str:
    """The meeting page's stable address, built without a request so the job can use it."""
    return f"{current_app.config['PUBLIC_URL']}/meetings/{meeting.id}"


def spoc_users() -> list[User]:
    """The acting SPoC of every agency that has one (the deputy while the SPoC is marked absent)."""
    agencies = db.session.scalars(
        sa.select(Agency).options(sa.orm.joinedload(Agency.spoc), sa.orm.joinedload(Agency.deputy_spoc))
        .order_by(Agency.name))
    return [a.acting_spoc for a in agencies if a.acting_spoc is not None and a.acting_spoc.active]


def attendee_emails() -> list[str]:
    """Who is expected at a panel: every agency's acting SPoC, the coordinators and the chairs."""
    staff = db.session.scalars(sa.select(User.email).where(
        User.role.in_([Role.COORDINATOR, Role.CHAIR]), User.active.is_(True)))
    return sorted({u.email for u in spoc_users()} | set(staff))


def _email(addresses: list[str], subject: str, body: str) -> int:
    for address in addresses:
        notify.queue_email(to=address, subject=subject, body=body)
    return len(addresses)


def _calendar_told(sent: int, meeting: Meeting) -> set[str]:
    """Whoever is on the meeting's invitation list was just sent the calendar update (or
    cancellation) by panel.meetings.invitations; they are not emailed a second time."""
    return {a.email.lower() for a in meeting.attendees if a.current} if sent else set()


def _check_open(meeting: Meeting, doing: str) -> None:
    if meeting.kind != MeetingKind.PANEL:
        raise ServiceError(f"Only a monthly panel can be {doing}")
    if meeting.cancelled:
        raise ServiceError(f"This panel has been cancelled, so it cannot be {doing}")
    if meeting.finalised:
        raise ServiceError(f"The minutes of this panel are final, so it cannot be {doing}")


def _reason(reason: str, what: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ServiceError(f"Enter the reason for {what} the panel", field="reason")
    if len(reason) > REASON_MAX:
        raise ServiceError(f"The reason must be {REASON_MAX} characters or fewer", field="reason")
    return reason


def move_panel(meeting: Meeting, *, starts_at: datetime, ends_at: datetime, reason: str, by: User,
               now: datetime | None = None) -> int:
    """Move a panel to a new date and time (aware datetimes) and tell everyone expected.

    The referral cut-off moves with it (the rule's working days before the new date). Returns
    how many people were told. Raises ServiceError.
    """
    now = now or utcnow()
    _check_open(meeting, "moved")
    if meeting.starts_at <= now:
        raise ServiceError("This panel has already started, so it cannot be moved")
    reason = _reason(reason, "moving")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("move_panel() needs timezone-aware times")
    if ends_at <= starts_at:
        raise ServiceError("The panel must end after it starts", field="end_time")
    if starts_at <= now:
        raise ServiceError("The new date and time must be in the future", field="new_date")
    if starts_at.astimezone(LONDON).date() != ends_at.astimezone(LONDON).date():
        raise ServiceError("The panel must start and end on the same day", field="end_time")
    if starts_at == meeting.starts_at and ends_at == meeting.ends_at:
        raise ServiceError("The new date and times are the same as now. Enter a different date or time")
    before = {"starts_at": meeting.starts_at.isoformat(), "ends_at": meeting.ends_at.isoformat()}
    old_when = meeting.starts_at
    meeting.starts_at, meeting.ends_at = starts_at, ends_at
    meeting.cutoff_on = cutoff_for(starts_at.astimezone(LONDON).date(), rule())
    meeting.moved_reason = reason
    db.session.flush()
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, user=by, summary={
        "moved": [before, {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()}],
        "reason": reason})
    invited = _calendar_told(invitations.changed(meeting, by=by, now=now), meeting)  # raises SEQUENCE
    body = (f"The monthly panel that was on {govuk_datetime(old_when)} has moved to "
            f"{govuk_datetime(starts_at)} (UK time).\n\nSign in to see the details: {meeting_link(meeting)}")
    others = [e for e in attendee_emails() if e.lower() not in invited]
    return len(invited) + _email(others, f"Panel moved to {govuk_date(starts_at)}", body)


def cancel_panel(meeting: Meeting, *, reason: str, by: User, now: datetime | None = None) -> int:
    """Cancel a panel and tell everyone expected. Returns how many were told. Raises ServiceError."""
    now = now or utcnow()
    _check_open(meeting, "cancelled")
    if meeting.starts_at <= now:
        raise ServiceError("This panel has already started, so it cannot be cancelled")
    reason = _reason(reason, "cancelling")
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancelled_reason = reason
    db.session.flush()
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, user=by, summary={"cancelled": True, "reason": reason})
    invited = _calendar_told(invitations.cancelled(meeting, by=by, now=now), meeting)  # raises SEQUENCE
    body = (f"The monthly panel on {govuk_datetime(meeting.starts_at)} (UK time) has been cancelled.\n\n"
            f"Sign in to see the details: {meeting_link(meeting)}")
    others = [e for e in attendee_emails() if e.lower() not in invited]
    return len(invited) + _email(others, f"Panel on {govuk_date(meeting.starts_at)} cancelled", body)


def set_place(meeting: Meeting, *, location: str, online_url: str, by: User, now: datetime | None = None) -> int:
    """Set where a panel meets: a place, an online https:// link, or both. Everyone on its
    invitation list gets the updated invitation (SEQUENCE raised); everyone else expected is
    emailed the panel's address. Returns how many were told. Raises ServiceError naming the field."""
    now = now or utcnow()
    _check_open(meeting, "changed")
    if meeting.ends_at <= now:
        raise ServiceError("This panel is over, so its place cannot be changed")
    location, online_url = checked_place(location, online_url, meeting="panel")
    if (location, online_url) == (meeting.location, meeting.online_url):
        raise ServiceError("The place and online link are the same as now. Change one of them", field="location")
    before = {"location": meeting.location, "online_url": meeting.online_url}
    meeting.location, meeting.online_url = location, online_url
    db.session.flush()
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, user=by,
                 summary={"place": [before, {"location": location, "online_url": online_url}]})
    invited = _calendar_told(invitations.changed(meeting, by=by, now=now), meeting)  # raises SEQUENCE
    body = (f"The place of the monthly panel on {govuk_datetime(meeting.starts_at)} (UK time) has changed.\n\n"
            f"Sign in to see where it is: {meeting_link(meeting)}")
    others = [e for e in attendee_emails() if e.lower() not in invited]
    return len(invited) + _email(others, f"Panel on {govuk_date(meeting.starts_at)}: new place", body)


def publish_agenda(meeting: Meeting, *, by: User | None, again: bool = False, now: datetime | None = None) -> int | None:
    """Email every SPoC a link to the agenda and record that it is published.

    Returns how many were emailed, or None when the agenda was already published and `again`
    was not asked for (nothing is sent). Raises ServiceError for a cancelled or finalised panel.
    """
    _check_open(meeting, "published")
    if meeting.agenda_published_at is not None and not again:
        return None
    first = meeting.agenda_published_at is None
    meeting.agenda_published_at = now or utcnow()
    meeting.agenda_published_by_id = by.id if by is not None else None
    db.session.flush()
    spocs = sorted({u.email for u in spoc_users()})
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, user=by,
                 summary={"agenda_published": True, "again": not first, "told": len(spocs)})
    body = (f"The agenda for the monthly panel on {govuk_datetime(meeting.starts_at)} (UK time) is "
            f"ready.\n\nSign in to read it: {meeting_link(meeting)}")
    subject = f"Panel agenda for {govuk_date(meeting.starts_at)}" + ("" if first else " (sent again)")
    return _email(spocs, subject, body)


def sync_upcoming_agendas(now: datetime | None = None) -> dict[str, int]:
    """Job "agenda-sync" (every few minutes): bring the agenda of each panel that has not started
    in line with the data, so that no page has to on a GET. Idempotent: an agenda already up to
    date is left as it is."""
    now = now or utcnow()
    upcoming = list(db.session.scalars(
        sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
                                 Meeting.starts_at > now, Meeting.minutes_finalised_at.is_(None))
        .order_by(Meeting.starts_at)))
    changed = sum(1 for meeting in upcoming if agenda.sync_agenda(meeting))
    db.session.commit()
    return {"panels": len(upcoming), "changed": changed}


def publish_due_agendas(today: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """Job "agenda-publish" (daily): publish the agenda of each panel whose cut-off is today.

    A panel whose cut-off passed while the scheduler was down is caught up, as long as the
    panel has not started; an agenda already published (by hand or by an earlier run) is left
    alone, so running the job twice sends nothing twice.
    """
    now = now or utcnow()
    today = today or now.astimezone(LONDON).date()
    due = list(db.session.scalars(
        sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
                                 Meeting.cutoff_on <= today, Meeting.starts_at > now,
                                 Meeting.agenda_published_at.is_(None), Meeting.minutes_finalised_at.is_(None))
        .order_by(Meeting.starts_at)))
    told = 0
    for meeting in due:
        agenda.sync_agenda(meeting)
        told += publish_agenda(meeting, by=None, now=now) or 0
    db.session.commit()
    return {"published": len(due), "emails": told}
