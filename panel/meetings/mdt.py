"""Case MDT meetings: scheduling, rescheduling, the attendee list, cancelling, and the notes,
decisions and actions recorded against the case.

An MDT is a Meeting of kind MDT tied to one case. Everyone on its list hears of every change of
time, place or status through panel.meetings.invitations (a calendar invitation per attendee,
sent through the outbox; SEQUENCE goes up only for those changes). The purpose stays in the
app: it is never put in an invitation. Notes and decisions live on one agenda item of kind
"other" titled "MDT discussion", as panel minutes do; actions agreed at the MDT are ordinary
actions (panel.actions.services.create_action) carrying the meeting's id, so they join the
action log and its escalation ladder.

Services flush but never commit. Every change is audited and written to the case chronology.
Times are typed as Europe/London wall-clock times and stored in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from panel import audit
from panel.actions.services import create_action
from panel.cases.services import add_event, change_risk
from panel.dates import LONDON, SkippedTime, govuk_date, govuk_datetime, london_to_utc, london_today
from panel.extensions import db
from panel.forms.errors import ServiceError
from panel.forms.text import clean_text
from panel.meetings import invitations
from panel.meetings.invitations import Person
from panel.models import (
    Action,
    Agency,
    AgendaItem,
    AgendaItemKind,
    AttendeeResponse,
    AuditAction,
    Case,
    CaseStatus,
    Involvement,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    MeetingStatus,
    RiskLevel,
    User,
    utcnow,
)

LOCATION_MAX = 200      # the column
URL_MAX = 500           # the column
PURPOSE_MAX = 2000
REASON_MAX = 500        # the column
NOTES_MAX = 10000
DECISION_MAX = 5000
DISCUSSION_TITLE = "MDT discussion"
REPEAT_WINDOW = timedelta(minutes=10)   # the same form sent again within this is not saved twice




class AlreadyScheduled(ServiceError):
    """The same MDT was scheduled by the same person a moment ago (the form sent twice)."""

    def __init__(self, meeting: Meeting) -> None:
        super().__init__("This MDT had already been scheduled")
        self.meeting = meeting


# ---- checks -----------------------------------------------------------------------------------


def meeting_times(day: date, start: time, end: time, *, now: datetime) -> tuple[datetime, datetime]:
    """The London wall-clock date and times as UTC instants; the MDT must end after it starts
    and start in the future."""
    try:
        starts_at = london_to_utc(day, start)
    except SkippedTime as skipped:
        raise ServiceError(f"Enter a real start time: {skipped}", field="start") from None
    try:
        ends_at = london_to_utc(day, end)
    except SkippedTime as skipped:
        raise ServiceError(f"Enter a real end time: {skipped}", field="end") from None
    if ends_at <= starts_at:
        raise ServiceError("The end time must be after the start time", field="end")
    if day < now.astimezone(LONDON).date():
        raise ServiceError("The date of the MDT must be today or in the future", field="day")
    if starts_at <= now:
        raise ServiceError("The start time has passed: enter a later time or another date", field="start")
    return starts_at, ends_at


def url_problem(url: str) -> str | None:
    """An online meeting link must be a plain https:// address of at most URL_MAX characters."""
    if len(url) > URL_MAX:
        return f"The online link must be {URL_MAX} characters or fewer"
    if any(ch.isspace() or not ch.isprintable() or ch in '<>"\'`\\' for ch in url):
        return "The online link must not include spaces, quotes or the characters < and >"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "Enter the online link as a full address starting with https://"
    if parts.scheme != "https" or not url.lower().startswith("https://") or not parts.hostname \
            or "." not in parts.hostname or parts.username or parts.password:
        return "Enter the online link as a full address starting with https://"
    return None


def checked_place(location: str, online_url: str, *, meeting: str = "MDT") -> tuple[str, str]:
    """A meeting's place and online link, cleaned; raises ServiceError naming the field when the
    place is too long, the link is not a plain https:// address, or neither is given."""
    location, online_url = clean_text(location), clean_text(online_url)
    if len(location) > LOCATION_MAX:
        raise ServiceError(f"The place must be {LOCATION_MAX} characters or fewer", field="location")
    if online_url and (problem := url_problem(online_url)):
        raise ServiceError(problem, field="online_url")
    if not location and not online_url:
        raise ServiceError(f"Enter where the {meeting} will be, an online link, or both", field="location")
    return location, online_url


def _purpose(purpose: str) -> str:
    purpose = clean_text(purpose, multiline=True)
    if not purpose:
        raise ServiceError("Enter the purpose of the MDT", field="purpose")
    if len(purpose) > PURPOSE_MAX:
        raise ServiceError(f"The purpose must be {PURPOSE_MAX:,} characters or fewer", field="purpose")
    return purpose


def _check_mdt(meeting: Meeting) -> None:
    if meeting.kind != MeetingKind.MDT or meeting.case is None:
        raise ServiceError("This is not a case MDT")


def _check_open(meeting: Meeting, now: datetime, doing: str) -> None:
    """A scheduled MDT that has not started yet, on a case that is not closed."""
    _check_mdt(meeting)
    if meeting.cancelled:
        raise ServiceError(f"This MDT has been cancelled, so it cannot be {doing}")
    if meeting.starts_at <= now:
        raise ServiceError(f"This MDT has already started, so it cannot be {doing}")


def _check_case_open(case: Case, doing: str) -> None:
    if case.status == CaseStatus.CLOSED:
        raise ServiceError(f"This case is closed, so {doing}. A coordinator can reopen it first")


def when_text(meeting: Meeting) -> str:
    """"14 January 2027 at 2pm to 3:30pm", UK time."""
    return f"{govuk_datetime(meeting.starts_at)} to {govuk_datetime(meeting.ends_at).split(' at ', 1)[1]}"


_when = when_text


def _invite(meeting: Meeting, people: list[Person], by: User, now: datetime) -> list[MeetingAttendee]:
    try:
        return invitations.invite(meeting, _as_users(people), by=by, now=now)
    except ServiceError as problem:  # about someone on the list: shown by the attendees
        raise ServiceError(problem.message, field="attendees") from None


def _as_users(people: list[Person]) -> list[Person]:
    """Someone typed in by email who has an account is invited as that user (so the meeting is
    in their calendar feed). One query."""
    emails = {p.email.strip().lower() for p in people if p.user_id is None}
    if not emails:
        return people
    users = {u.email.lower(): u for u in db.session.scalars(
        sa.select(User).where(sa.func.lower(User.email).in_(emails), User.active.is_(True))
        .options(sa.orm.joinedload(User.agency)))}
    out = []
    for person in people:
        user = users.get(person.email.strip().lower()) if person.user_id is None else None
        out.append(Person.of(user, role=person.role) if user is not None else person)
    return out


# ---- scheduling and changing ------------------------------------------------------------------


def schedule_mdt(case: Case, *, day: date, start: time, end: time, location: str, online_url: str, purpose: str,
                 attendees: list[Person], by: User, now: datetime | None = None) -> Meeting:
    """Schedule an MDT for the case and invite the attendees (one invitation each).

    Raises ServiceError (with the field it is about), or AlreadyScheduled when the same person
    scheduled the same MDT a moment ago.
    """
    now = now or utcnow()
    _check_case_open(case, "no MDT can be scheduled")
    starts_at, ends_at = meeting_times(day, start, end, now=now)
    location, online_url = checked_place(location, online_url)
    purpose = _purpose(purpose)
    if not attendees:
        raise ServiceError("Choose at least one person to invite", field="attendees")
    earlier = db.session.scalar(sa.select(Meeting).where(
        Meeting.kind == MeetingKind.MDT, Meeting.case_id == case.id, Meeting.status == MeetingStatus.SCHEDULED,
        Meeting.starts_at == starts_at, Meeting.ends_at == ends_at, Meeting.created_by_id == by.id,
        Meeting.created_at >= now - REPEAT_WINDOW).limit(1))
    if earlier is not None:
        raise AlreadyScheduled(earlier)
    meeting = Meeting(kind=MeetingKind.MDT, status=MeetingStatus.SCHEDULED, case=case, starts_at=starts_at,
                      ends_at=ends_at, location=location, online_url=online_url, purpose=purpose,
                      created_at=now, created_by_id=by.id)
    db.session.add(meeting)
    db.session.flush()
    audit.record(AuditAction.CREATE, "meeting", meeting.id, user=by, summary={
        "kind": "mdt", "case": case.reference, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
    add_event(case, "meeting", f"MDT scheduled for {_when(meeting)}", by=by, ref_type="meeting", ref_id=meeting.id)
    _invite(meeting, attendees, by, now)
    return meeting


def reschedule_mdt(meeting: Meeting, *, day: date, start: time, end: time, location: str, online_url: str,
                   purpose: str | None = None, by: User, now: datetime | None = None) -> list[str]:
    """Change the date, times, place or purpose. Returns what changed ("time", "place",
    "purpose"); nothing changed is not an error (the same form sent twice). Only a change of
    time or place raises SEQUENCE and sends everyone the updated invitation."""
    now = now or utcnow()
    _check_open(meeting, now, "changed")
    _check_case_open(meeting.case, "its MDTs cannot be changed")
    starts_at, ends_at = meeting_times(day, start, end, now=now)
    location, online_url = checked_place(location, online_url)
    purpose = meeting.purpose if purpose is None else _purpose(purpose)
    changed: list[str] = []
    before = {"starts_at": meeting.starts_at.isoformat(), "ends_at": meeting.ends_at.isoformat(),
              "location": meeting.location, "online_url": meeting.online_url}
    if (starts_at, ends_at) != (meeting.starts_at, meeting.ends_at):
        changed.append("time")
    if (location, online_url) != (meeting.location, meeting.online_url):
        changed.append("place")
    if purpose != meeting.purpose:
        changed.append("purpose")
    if not changed:
        return []
    old_when = _when(meeting)
    meeting.starts_at, meeting.ends_at = starts_at, ends_at
    meeting.location, meeting.online_url, meeting.purpose = location, online_url, purpose
    db.session.flush()
    after = {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "location": location,
             "online_url": online_url}
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, user=by,
                 summary={"changed": changed, "before": before, "after": after})
    if "time" in changed or "place" in changed:
        invitations.changed(meeting, by=by, now=now)
    if "time" in changed:
        summary = f"MDT moved from {old_when} to {_when(meeting)}"
    elif "place" in changed:
        summary = f"MDT on {_when(meeting)}: place or online link changed"
    else:
        summary = f"MDT on {_when(meeting)}: purpose updated"
    add_event(meeting.case, "meeting", summary, by=by, ref_type="meeting", ref_id=meeting.id)
    return changed


def add_attendees(meeting: Meeting, people: list[Person], *, by: User, now: datetime | None = None) -> list[MeetingAttendee]:
    """Invite more people (each gets the invitation; people already on the list are skipped)."""
    now = now or utcnow()
    _check_open(meeting, now, "changed")
    _check_case_open(meeting.case, "its MDTs cannot be changed")
    if not people:
        raise ServiceError("Choose someone to invite, or enter an external attendee’s details", field="attendees")
    return _invite(meeting, people, by, now)


def remove_attendee(meeting: Meeting, attendee: MeetingAttendee, *, by: User, now: datetime | None = None) -> None:
    """Take someone off the list: they get a cancellation, everyone else the shorter list."""
    now = now or utcnow()
    _check_open(meeting, now, "changed")
    invitations.remove(meeting, attendee, by=by, now=now)


def record_response(meeting: Meeting, attendee: MeetingAttendee, response: AttendeeResponse, *, by: User,
                    now: datetime | None = None) -> bool:
    """Record what an attendee said (attending, not attending, tentative). True if it changed."""
    _check_mdt(meeting)
    if attendee.meeting_id != meeting.id or not attendee.current:
        raise ServiceError("That person is not on the list for this MDT")
    if attendee.response == response:
        return False
    invitations.record_response(attendee, response, by=by, now=now)
    return True


def cancel_mdt(meeting: Meeting, *, reason: str, by: User, now: datetime | None = None) -> int:
    """Cancel the MDT: everyone on the list gets the cancellation. Returns how many were told."""
    now = now or utcnow()
    _check_open(meeting, now, "cancelled")
    reason = clean_text(reason, multiline=True)
    if not reason:
        raise ServiceError("Enter why the MDT is cancelled", field="reason")
    if len(reason) > REASON_MAX:
        raise ServiceError(f"The reason must be {REASON_MAX} characters or fewer", field="reason")
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancelled_reason = reason
    db.session.flush()
    audit.record(AuditAction.UPDATE, "meeting", meeting.id, user=by, summary={"cancelled": True, "reason": reason})
    told = invitations.cancelled(meeting, by=by, now=now)
    add_event(meeting.case, "meeting", f"MDT on {_when(meeting)} cancelled: {reason}", by=by,
              ref_type="meeting", ref_id=meeting.id)
    return told


# ---- notes, decisions and actions ------------------------------------------------------------


def discussion(meeting: Meeting) -> AgendaItem | None:
    """The MDT's one agenda item, which holds its notes and decisions (None until first saved)."""
    return db.session.scalar(sa.select(AgendaItem).where(
        AgendaItem.meeting_id == meeting.id, AgendaItem.kind == AgendaItemKind.OTHER,
        AgendaItem.title == DISCUSSION_TITLE).order_by(AgendaItem.id).limit(1))


def _check_held(meeting: Meeting, now: datetime, doing: str) -> None:
    _check_mdt(meeting)
    if meeting.cancelled:
        raise ServiceError(f"This MDT was cancelled, so {doing}")
    if meeting.starts_at > now:
        raise ServiceError(f"This MDT has not started yet, so {doing}. Come back once it has begun")
    _check_case_open(meeting.case, doing)


def save_minutes(meeting: Meeting, *, notes: str, decision: str, risk_level: RiskLevel | None = None,
                 risk_reason: str = "", by: User, now: datetime | None = None) -> list[str]:
    """Record the MDT's notes and decisions, and change the case's risk level if it decided
    to (a reason is needed). Returns what changed: "notes", "decision", "risk_level"."""
    now = now or utcnow()
    _check_held(meeting, now, "no notes can be recorded")
    case = meeting.case
    notes, decision = clean_text(notes, multiline=True), clean_text(decision, multiline=True)
    risk_reason = clean_text(risk_reason, multiline=True)
    if len(notes) > NOTES_MAX:
        raise ServiceError(f"The notes must be {NOTES_MAX:,} characters or fewer", field="notes")
    if len(decision) > DECISION_MAX:
        raise ServiceError(f"The decisions must be {DECISION_MAX:,} characters or fewer", field="decision")
    new_level = risk_level is not None and risk_level != case.risk_level
    if new_level and not risk_reason:
        raise ServiceError("Enter the reason for changing the risk level", field="risk_reason")
    if len(risk_reason) > PURPOSE_MAX:
        raise ServiceError(f"The reason must be {PURPOSE_MAX:,} characters or fewer", field="risk_reason")
    item = discussion(meeting)
    first = item is None or not (item.notes or item.decision)
    changed = [name for name, value in (("notes", notes), ("decision", decision))
               if value != (getattr(item, name) if item is not None else "")]
    if changed:
        if item is None:
            item = AgendaItem(meeting_id=meeting.id, position=1, kind=AgendaItemKind.OTHER, title=DISCUSSION_TITLE,
                              case_id=case.id, minutes=meeting.length_minutes, added_by_id=by.id)
            db.session.add(item)
        item.notes, item.decision = notes, decision
        db.session.flush()
        audit.record(AuditAction.UPDATE, "agenda_item", item.id, user=by,
                     summary={"meeting": meeting.id, "case": case.reference, "fields": changed})
        what = "held: notes and decisions recorded" if first else "notes and decisions updated"
        add_event(case, "meeting", f"MDT on {govuk_date(meeting.starts_at)} {what}", by=by,
                  ref_type="meeting", ref_id=meeting.id)
    if new_level:
        change_risk(case, level=risk_level, reason=f"Agreed at the MDT on {govuk_date(meeting.starts_at)}: "
                                                   f"{risk_reason}", by=by)
        changed.append("risk_level")
    return changed


def add_mdt_action(meeting: Meeting, *, description: str, agency: Agency, due_on: date, by: User,
                   assignee: User | None = None, now: datetime | None = None) -> Action:
    """An action agreed at the MDT: an ordinary action on the case, carrying the meeting's id,
    so it joins the action log and its reminders and escalations."""
    now = now or utcnow()
    _check_held(meeting, now, "no actions can be added to it")
    today = london_today(now)
    try:
        return create_action(meeting.case, description=description, agency=agency, due_on=due_on, by=by,
                             assignee=assignee, meeting_id=meeting.id, today=today)
    except ServiceError as problem:  # the notes form names the action's fields action_*
        raise ServiceError(problem.message, field=f"action_{problem.field or 'description'}") from None


def just_added_action(meeting: Meeting, *, description: str, agency_id: int, due_on: date, by: User,
                      now: datetime | None = None) -> Action | None:
    """The same action added at this MDT by this user a moment ago (the form sent twice)."""
    now = now or utcnow()
    return db.session.scalar(sa.select(Action).where(
        Action.meeting_id == meeting.id, Action.created_by_id == by.id, Action.agency_id == agency_id,
        Action.due_on == due_on, Action.description == clean_text(description, multiline=True),
        Action.created_at >= now - REPEAT_WINDOW).limit(1))


# ---- queries ------------------------------------------------------------------------------------


def load_mdt(meeting_id: int) -> Meeting | None:
    """An MDT with its case and attendee list (two queries), or None."""
    return db.session.scalar(
        sa.select(Meeting).where(Meeting.id == meeting_id, Meeting.kind == MeetingKind.MDT,
                                 Meeting.case_id.is_not(None))
        .options(sa.orm.joinedload(Meeting.case), sa.orm.selectinload(Meeting.attendees)))


@dataclass
class CaseMeetings:
    upcoming: list[Meeting]
    past: list[Meeting]
    cancelled: list[Meeting]
    counts: dict[int, tuple[int, int]]   # meeting id: (invited, attending)


def case_mdts(case_id: int, now: datetime | None = None) -> CaseMeetings:
    """The case's MDTs: upcoming (soonest first), past and cancelled (latest first), with how
    many are invited and attending. One query whatever the number (none, too, so a case without
    MDTs reads as many queries as a case with them)."""
    now = now or utcnow()
    current = sa.and_(MeetingAttendee.meeting_id == Meeting.id, MeetingAttendee.removed_at.is_(None))
    invited = sa.select(sa.func.count()).where(current).correlate(Meeting).scalar_subquery()
    attending = (sa.select(sa.func.count()).where(current, MeetingAttendee.response == AttendeeResponse.ACCEPTED)
                 .correlate(Meeting).scalar_subquery())
    rows = db.session.execute(sa.select(Meeting, invited, attending).where(
        Meeting.kind == MeetingKind.MDT, Meeting.case_id == case_id).order_by(Meeting.starts_at.desc(), Meeting.id)).all()
    meetings = [m for m, _, _ in rows]
    upcoming = sorted((m for m in meetings if not m.cancelled and m.ends_at >= now), key=lambda m: m.starts_at)
    past = [m for m in meetings if not m.cancelled and m.ends_at < now]
    cancelled = [m for m in meetings if m.cancelled]
    return CaseMeetings(upcoming, past, cancelled, {m.id: (int(n), int(yes)) for m, n, yes in rows})


def attendee_counts(meeting_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not meeting_ids:
        return {}
    rows = db.session.execute(
        sa.select(MeetingAttendee.meeting_id, sa.func.count(),
                  sa.func.sum(sa.case((MeetingAttendee.response == AttendeeResponse.ACCEPTED, 1), else_=0)))
        .where(MeetingAttendee.meeting_id.in_(meeting_ids), MeetingAttendee.removed_at.is_(None))
        .group_by(MeetingAttendee.meeting_id))
    return {meeting_id: (int(invited), int(attending or 0)) for meeting_id, invited, attending in rows}


def mdt_actions(meeting_id: int) -> list[Action]:
    return list(db.session.scalars(
        sa.select(Action).where(Action.meeting_id == meeting_id)
        .options(sa.orm.joinedload(Action.agency), sa.orm.joinedload(Action.assignee)).order_by(Action.id)))


def next_meeting(case: Case, now: datetime | None = None) -> Meeting | None:
    """The case's next meeting: its next MDT, or the next monthly panel (every open case is on
    each panel's agenda), whichever comes first. One query."""
    now = now or utcnow()
    which = sa.and_(Meeting.kind == MeetingKind.MDT, Meeting.case_id == case.id)
    if case.status != CaseStatus.CLOSED:
        which = sa.or_(which, Meeting.kind == MeetingKind.PANEL)
    return db.session.scalar(sa.select(Meeting).where(
        which, Meeting.status == MeetingStatus.SCHEDULED, Meeting.ends_at > now)
        .order_by(Meeting.starts_at, Meeting.id).limit(1))


@dataclass(frozen=True)
class Invitable:
    """Someone from an involved agency who can be invited, and why they are listed."""

    user: User
    why: str

    @property
    def label(self) -> str:
        return f"{self.user.name}, {self.why}, {self.user.agency.name}"


def invitable_users(case: Case) -> list[Invitable]:
    """The involved agencies' acting SPoCs and the named workers who have accounts, active, each
    once. One query."""
    involvements = db.session.scalars(
        sa.select(Involvement).where(Involvement.case_id == case.id).options(
            sa.orm.joinedload(Involvement.agency).joinedload(Agency.spoc).joinedload(User.agency),
            sa.orm.joinedload(Involvement.agency).joinedload(Agency.deputy_spoc).joinedload(User.agency),
            sa.orm.joinedload(Involvement.worker).joinedload(User.agency))).unique()
    found: dict[int, Invitable] = {}
    for inv in involvements:
        spoc = inv.agency.acting_spoc
        if spoc is not None and spoc.active and spoc.id not in found:
            found[spoc.id] = Invitable(spoc, "deputy SPoC" if inv.agency.spoc_absent and spoc is inv.agency.deputy_spoc
                                       else "SPoC")
        worker = inv.worker
        if worker is not None and worker.active and worker.id not in found:
            found[worker.id] = Invitable(worker, "named worker")
    return sorted(found.values(), key=lambda i: (i.user.agency.name.lower(), i.why != "SPoC", i.user.name.lower()))
