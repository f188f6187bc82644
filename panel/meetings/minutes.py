"""Attendance and minutes of a monthly panel.

Attendance: every agency with a SPoC is expected. Per agency the coordinator records present,
apologies with or without a written update, or absent; who attended and who deputised; and
the attendee's acknowledgement of the confidentiality statement. An agency's acting SPoC may
send their own agency's apologies (with or without a written update) before the panel starts.

Minutes are recorded against the agenda items: notes, decisions made through the services
that already exist (accept or decline a referral, change a risk level, approve or return a
closure; each appends a line to the item's `decision` and the service writes the chronology),
actions agreed (created with the meeting's id), and what became of the last panel's actions.
The chair finalises the minutes; from then on every service here refuses a change, and a
correction is a recorded amendment (who, when, why) shown beneath the original, of which the
SPoCs, the attendees and the coordinators are told by a link-only email. Finalising stores the
minutes record (panel.meetings.record): the minutes page and their PDF are shown from that copy
for ever after, whatever later happens to the cases, agencies and actions. Draft minutes are
built from the data as at the panel.

Services flush but never commit and write the audit trail. Emails carry the date and a link
only, never case details. The read models (minutes_view, attendance_history) run a fixed
number of queries whatever the data size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from panel import audit, notify
from panel.actions import services as action_services
from panel.auth.policy import OPERATIONS, acts_as_spoc, can_view_referral, case_access
from panel.cases import services as case_services
from panel.extensions import db
from panel.dates import govuk_date, LONDON, london_today
from panel.forms.errors import ServiceError
from panel.meetings.agenda import previous_panel
from panel.meetings.record import (
    MinutesRecord,
    RecordAction,
    RecordAttendance,
    RecordCase,
    RecordItem,
    RecordLastAction,
    minutes_record,
    take_snapshot,
)
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Agency,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    AuditAction,
    Case,
    DeclineReason,
    CaseStatus,
    Involvement,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    MeetingStatus,
    MinutesAmendment,
    Referral,
    RiskChange,
    RiskLevel,
    Role,
    User,
    utcnow,
)
from panel.referrals import rules, services as referral_services

NAME_MAX = 120            # as the attendance columns
LONG = rules.LONG         # 5,000: a reason or rationale, as the referral and case forms
UPDATE_MAX = 5000         # a written update
NOTES_MAX = 10000         # an item's notes
AMENDMENT_MAX = 5000
AMENDMENT_REASON_MAX = 1000  # as the column
HISTORY_PANELS = 6
LAST_ACTION_OUTCOMES = (ActionStatus.DONE, ActionStatus.NOT_POSSIBLE, ActionStatus.NOT_DONE)
SPOC_STATUSES = (AttendanceStatus.APOLOGIES_WITH_UPDATE, AttendanceStatus.APOLOGIES)
REPEAT_WINDOW = timedelta(minutes=10)  # the same form sent twice within this is one change




def panel_day(meeting: Meeting) -> date:
    """The meeting's date in London (the date the minutes and decisions carry)."""
    return meeting.starts_at.astimezone(LONDON).date()


def minutes_link(meeting_id: int) -> str:
    return f"{current_app.config['PUBLIC_URL']}/meetings/{meeting_id}/minutes"


def _open_for_minutes(meeting: Meeting) -> None:
    """Refuse a change to the minutes of a finalised or cancelled panel."""
    if meeting.kind != MeetingKind.PANEL:
        raise ServiceError("Minutes are kept for monthly panels only")
    if meeting.status == MeetingStatus.CANCELLED:
        raise ServiceError("This panel was cancelled, so it has no attendance or minutes")
    if meeting.minutes_finalised_at is not None:
        raise ServiceError(f"The minutes of this panel were finalised on {govuk_date(meeting.minutes_finalised_at)}, "
                           "so they can no longer be changed. Record an amendment instead")


def _text(value: str, label: str, limit: int, *, field: str, required: str = "") -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if required and not value:
        raise ServiceError(required, field=field)
    if len(value) > limit:
        raise ServiceError(f"{label} must be {limit:,} characters or fewer", field=field)
    return value


# ---- attendance ---------------------------------------------------------------------------


def expected_agencies(meeting: Meeting | None = None) -> list[Agency]:
    """Every agency with a SPoC (agencies have no active flag: one without a SPoC is not expected)."""
    return list(db.session.scalars(
        sa.select(Agency).where(Agency.spoc_id.is_not(None))
        .options(sa.orm.joinedload(Agency.spoc), sa.orm.joinedload(Agency.deputy_spoc)).order_by(Agency.name)))


def ensure_attendance_rows(meeting: Meeting, *, by: User | None = None) -> int:
    """An attendance row for every expected agency of an open panel (unique per meeting and
    agency; a row made by someone else at the same moment is left alone). Returns how many it made."""
    if meeting.kind != MeetingKind.PANEL or meeting.cancelled or meeting.finalised:
        return 0
    have = set(db.session.scalars(sa.select(Attendance.agency_id).where(Attendance.meeting_id == meeting.id)))
    made = 0
    for agency in expected_agencies(meeting):
        if agency.id in have:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(Attendance(meeting_id=meeting.id, agency_id=agency.id))
        except IntegrityError:  # made by a concurrent request
            continue
        made += 1
    if made:
        audit.record(AuditAction.CREATE, "attendance", meeting.id, summary={"rows": made}, user=by)
    return made


def attendance_row(meeting: Meeting, agency: Agency) -> Attendance:
    """The agency's row for the meeting, made if it has none (an agency without a SPoC that
    came all the same is recorded too). Flushes."""
    row = db.session.scalar(sa.select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                        Attendance.agency_id == agency.id))
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = Attendance(meeting_id=meeting.id, agency_id=agency.id)
            db.session.add(row)
    except IntegrityError:  # made by a concurrent request
        row = db.session.scalar(sa.select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                            Attendance.agency_id == agency.id))
    return row  # type: ignore[return-value]


def attendance_rows(meeting: Meeting) -> list[Attendance]:
    """The meeting's attendance rows with their agencies (and SPoCs), by agency name. While the
    panel is open, an expected agency with no row yet is shown by an unsaved "Not recorded" row:
    reading writes nothing (the rows are made when attendance is recorded, or at finalising)."""
    rows = list(db.session.scalars(
        sa.select(Attendance).join(Attendance.agency).where(Attendance.meeting_id == meeting.id)
        .options(sa.orm.contains_eager(Attendance.agency).joinedload(Agency.spoc),
                 sa.orm.contains_eager(Attendance.agency).joinedload(Agency.deputy_spoc))
        .order_by(Agency.name, Attendance.id)))
    if meeting.kind != MeetingKind.PANEL or meeting.cancelled or meeting.finalised:
        return rows
    have = {row.agency_id for row in rows}
    for agency in expected_agencies(meeting):
        if agency.id not in have:
            placeholder = Attendance(meeting_id=meeting.id, agency_id=agency.id)
            sa.orm.attributes.set_committed_value(placeholder, "agency", agency)  # never joins the session
            rows.append(placeholder)
    return sorted(rows, key=lambda row: (row.agency.name, row.id or 0))


def can_send_apologies(user: User, agency_id: int, meeting: Meeting, now: datetime | None = None) -> bool:
    """An agency's acting SPoC, for their own agency, before an open panel starts."""
    now = now or utcnow()
    return (user.role == Role.SPOC and user.agency_id == agency_id and acts_as_spoc(user)
            and meeting.kind == MeetingKind.PANEL and not meeting.cancelled and not meeting.finalised
            and now < meeting.starts_at)


def record_attendance(row: Attendance, *, status: AttendanceStatus | None, by: User, attendee_name: str = "",
                      deputised_by: str = "", written_update: str = "", confidentiality_acknowledged: bool = False,
                      now: datetime | None = None) -> Attendance:
    """Record an agency's attendance. The coordinator records any status for any agency; an
    acting SPoC only their own agency's apologies, before the panel starts. Names and the
    acknowledgement belong to attendees (present); the written update to apologies with one."""
    meeting = row.meeting
    _open_for_minutes(meeting)
    now = now or utcnow()
    if by.role == Role.COORDINATOR:
        allowed: tuple[AttendanceStatus, ...] = tuple(AttendanceStatus)
    elif can_send_apologies(by, row.agency_id, meeting, now):
        allowed = SPOC_STATUSES
    else:
        raise ServiceError("You cannot record attendance for this agency")
    if status is None or status not in allowed:
        raise ServiceError("Select whether the agency attended" if by.role == Role.COORDINATOR
                           else "Select whether you are sending a written update", field="status")
    attendee_name = _text(attendee_name, "Who attended", NAME_MAX, field="attendee_name")
    deputised_by = _text(deputised_by, "Who deputised", NAME_MAX, field="deputised_by")
    written_update = _text(written_update, "The written update", UPDATE_MAX, field="written_update")
    present = status == AttendanceStatus.PRESENT
    if present and not (attendee_name or deputised_by):
        raise ServiceError("Enter who attended, or who deputised for the SPoC", field="attendee_name")
    if status == AttendanceStatus.APOLOGIES_WITH_UPDATE and not written_update:
        raise ServiceError("Enter the written update", field="written_update")
    row.status = status
    row.attendee_name = attendee_name if present else ""
    row.deputised_by = deputised_by if present else ""
    row.confidentiality_acknowledged = bool(confidentiality_acknowledged) if present else False
    row.written_update = written_update if status == AttendanceStatus.APOLOGIES_WITH_UPDATE else ""
    row.recorded_at, row.recorded_by_id = now, by.id
    db.session.flush()
    audit.record(AuditAction.UPDATE, "attendance", row.id,
                 summary={"meeting": meeting.id, "agency": row.agency_id, "status": str(status),
                          "acknowledged": row.confidentiality_acknowledged}, user=by)
    return row


@dataclass(frozen=True)
class AttendanceEntry:
    """One agency's row of the attendance sheet as sent (status as the form's value, "" for none)."""
    status: str = ""
    attendee_name: str = ""
    deputised_by: str = ""
    written_update: str = ""
    confidentiality_acknowledged: bool = False


def sheet_entry(row: Attendance) -> AttendanceEntry:
    """What the attendance sheet shows for a row (pre-filled from apologies already sent)."""
    return AttendanceEntry(row.status.value if row.status else "", row.attendee_name or "", row.deputised_by or "",
                           row.written_update or "", bool(row.confidentiality_acknowledged))


def record_attendance_sheet(meeting: Meeting, entries: dict[int, AttendanceEntry], *, by: User,
                            now: datetime | None = None) -> tuple[int, dict[str, str]]:
    """Record every expected agency's attendance from one form, through record_attendance (the
    same rules as one agency's). An agency left without an answer is left as it was; a row sent
    back unchanged (apologies the SPoC sent, a double submission) is not written again. Returns
    (rows changed, problems keyed "<field>-<agency id>"); with any problem the caller rolls back."""
    _open_for_minutes(meeting)
    if by.role != Role.COORDINATOR:
        raise ServiceError("You cannot record attendance for this panel")
    statuses = {s.value: s for s in AttendanceStatus}
    changed, problems = 0, {}
    for row in attendance_rows(meeting):
        entry = entries.get(row.agency_id)
        if entry is None:
            continue
        if not entry.status:
            if entry.attendee_name or entry.deputised_by or entry.written_update or entry.confidentiality_acknowledged:
                problems[f"status-{row.agency_id}"] = "Select whether the agency attended"
            continue
        status = statuses.get(entry.status)
        if status is None:
            problems[f"status-{row.agency_id}"] = "Select whether the agency attended"
            continue
        if row.id is not None and _same_entry(sheet_entry(row), entry, status):
            continue
        saved = row if row.id is not None else attendance_row(meeting, row.agency)
        try:
            record_attendance(saved, status=status, by=by, attendee_name=entry.attendee_name,
                              deputised_by=entry.deputised_by, written_update=entry.written_update,
                              confidentiality_acknowledged=entry.confidentiality_acknowledged, now=now)
        except ServiceError as problem:
            problems[f"{problem.field or 'status'}-{row.agency_id}"] = problem.message
            continue
        changed += 1
    return changed, problems


def _same_entry(saved: AttendanceEntry, sent: AttendanceEntry, status: AttendanceStatus) -> bool:
    """Whether the sent row records what is saved (fields that do not belong to the status ignored)."""
    present = status == AttendanceStatus.PRESENT
    with_update = status == AttendanceStatus.APOLOGIES_WITH_UPDATE

    def norm(entry: AttendanceEntry) -> tuple:
        return (entry.status,
                entry.attendee_name.strip() if present else "", entry.deputised_by.strip() if present else "",
                entry.written_update.replace("\r\n", "\n").strip() if with_update else "",
                entry.confidentiality_acknowledged if present else False)
    return norm(saved) == norm(sent)


@dataclass
class HistoryRow:
    agency: Agency
    statuses: list[AttendanceStatus | None]  # one per panel, in the panels' order

    def count(self, *statuses: AttendanceStatus) -> int:
        return sum(1 for s in self.statuses if s in statuses)

    @property
    def absent(self) -> int:
        return self.count(AttendanceStatus.ABSENT)

    @property
    def apologies(self) -> int:
        return self.count(AttendanceStatus.APOLOGIES, AttendanceStatus.APOLOGIES_WITH_UPDATE)

    @property
    def present(self) -> int:
        return self.count(AttendanceStatus.PRESENT)


@dataclass
class AttendanceHistory:
    panels: list[Meeting]        # oldest first
    rows: list[HistoryRow]       # by agency name


def attendance_history(last: int = HISTORY_PANELS, now: datetime | None = None) -> AttendanceHistory:
    """Each agency's attendance at the last `last` panels held (two queries): the agencies
    expected now, and any other agency with a row at one of those panels."""
    now = now or utcnow()
    panels = list(db.session.scalars(
        sa.select(Meeting).where(Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
                                 Meeting.starts_at <= now)
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc()).limit(last)))
    panels.reverse()
    ids = [m.id for m in panels]
    column = {meeting_id: index for index, meeting_id in enumerate(ids)}
    joined = sa.and_(Attendance.agency_id == Agency.id, Attendance.meeting_id.in_(ids or [-1]))
    results = db.session.execute(
        sa.select(Agency, Attendance.meeting_id, Attendance.status).outerjoin(Attendance, joined)
        .where(sa.or_(Agency.spoc_id.is_not(None), Attendance.id.is_not(None)))
        .order_by(Agency.name, Agency.id)).all()
    rows: dict[int, HistoryRow] = {}
    for agency, meeting_id, status in results:
        row = rows.setdefault(agency.id, HistoryRow(agency=agency, statuses=[None] * len(ids)))
        if meeting_id is not None:
            row.statuses[column[meeting_id]] = status
    return AttendanceHistory(panels=panels, rows=list(rows.values()))


# ---- minutes: notes and decisions --------------------------------------------------------------


def _append_decision(item: AgendaItem, line: str) -> None:
    item.decision = f"{item.decision}\n{line}".strip() if item.decision else line


def record_item_minutes(item: AgendaItem, *, notes: str, by: User) -> bool:
    """Replace the item's notes. Returns True when they changed."""
    _open_for_minutes(item.meeting)
    if by.role != Role.COORDINATOR:
        raise ServiceError("Only the coordinator records the minutes")
    notes = _text(notes, "The notes", NOTES_MAX, field="notes")
    if notes == item.notes:
        return False
    item.notes = notes
    db.session.flush()
    audit.record(AuditAction.UPDATE, "agenda_item", item.id, summary={"meeting": item.meeting_id, "notes": True}, user=by)
    return True


def can_decide(user: User, item: AgendaItem) -> bool:
    """Referrals: the coordinator or the chair. Risk levels: the coordinator. Closures: the chair
    (as on the case's closure page)."""
    if item.kind == AgendaItemKind.REFERRAL:
        return user.role in OPERATIONS
    if item.kind == AgendaItemKind.CASE:
        return user.role == Role.COORDINATOR
    if item.kind == AgendaItemKind.CLOSURE:
        return user.role == Role.CHAIR
    return False


def decision_open(item: AgendaItem, case: Case | None) -> bool:
    """Is there still a decision to record on this item? A referral the panel has not yet
    accepted or declined, an active case's risk level, or a closure still proposed."""
    if item.kind == AgendaItemKind.REFERRAL:
        return item.referral is not None and item.referral.status in referral_services.DECISION_STATUSES
    if item.kind == AgendaItemKind.CASE:
        return case is not None and case.status == CaseStatus.ACTIVE
    if item.kind == AgendaItemKind.CLOSURE:
        return case is not None and case.status == CaseStatus.CLOSURE_PROPOSED
    return False


def lead_agencies() -> list[Agency]:
    """Every agency, by name: the choice of lead agency when a referral is accepted at panel."""
    return list(db.session.scalars(sa.select(Agency).order_by(Agency.name)))


def repeats_risk_decision(case: Case, *, by: User, level: RiskLevel, reason: str) -> bool:
    """The same risk change sent twice (a double click): the case already has the level, and
    this user's last change set it with the same reason a moment ago. The second is not an error."""
    if level != case.risk_level:
        return False
    last = db.session.scalar(sa.select(RiskChange).where(RiskChange.case_id == case.id)
                             .order_by(RiskChange.id.desc()).limit(1))
    return (last is not None and last.by_id == by.id and last.to_level == level and last.reason == reason
            and utcnow() - last.at < REPEAT_WINDOW)


def _deciding(item: AgendaItem, kind: AgendaItemKind, by: User) -> None:
    _open_for_minutes(item.meeting)
    if item.kind != kind:
        raise ServiceError("That decision does not belong to this agenda item")
    if not can_decide(by, item):
        raise ServiceError("You cannot record this decision")


def decide_referral(item: AgendaItem, *, accept: bool, by: User, lead_agency: Agency | None = None,
                    rationale: str = "", signposting: str = "", reason_kind: DeclineReason | None = None) -> Case | None:
    """Accept (with a lead agency) or decline (with a rationale and, for the Board's reports,
    the kind of reason) the item's referral at panel, through the referral services. Raises
    their ServiceError as it is."""
    _deciding(item, AgendaItemKind.REFERRAL, by)
    referral = item.referral
    if accept:
        if lead_agency is None:
            raise ServiceError("Select the lead agency", field="lead_agency_id")
        case = referral_services.accept(referral, by=by, lead_agency=lead_agency, today=panel_day(item.meeting))
        _append_decision(item, f"Accepted; lead agency {lead_agency.name}; case {case.reference}")
    else:
        rationale = _text(rationale, "The reason", LONG, field="rationale",
                          required="Enter why the panel declined the referral")
        signposting = _text(signposting, "Signposting", LONG, field="signposting")
        referral_services.decline(referral, by=by, rationale=rationale, signposting=signposting, at_panel=True,
                                  reason_kind=reason_kind)
        case = None
        _append_decision(item, f"Declined: {rationale}")
    db.session.flush()
    audit.record(AuditAction.UPDATE, "agenda_item", item.id,
                 summary={"meeting": item.meeting_id, "decision": "accepted" if accept else "declined"}, user=by)
    return case


def decide_risk(item: AgendaItem, *, level: RiskLevel, reason: str, by: User) -> RiskChange:
    """Change the case's risk level through the case services, with the reason."""
    _deciding(item, AgendaItemKind.CASE, by)
    case = item.case
    if level == case.risk_level:
        raise ServiceError(f"The risk level is already {level.label.lower()}. Select a different level", field="level")
    reason = _text(reason, "The reason for the change", LONG, field="reason",
                   required="Enter the reason for changing the risk level")
    old = case.risk_level
    change = case_services.change_risk(case, level=level, reason=reason, by=by)
    _append_decision(item, f"Risk level changed from {old.label} to {level.label}: {reason}")
    db.session.flush()
    audit.record(AuditAction.UPDATE, "agenda_item", item.id,
                 summary={"meeting": item.meeting_id, "decision": "risk", "risk_level": str(level)}, user=by)
    return change  # type: ignore[return-value]


def decide_closure(item: AgendaItem, *, approve: bool, by: User, reason: str = "") -> None:
    """Approve the closure (dated the panel's London date) or return it with a reason, through
    the case services, which check the closure checklist."""
    _deciding(item, AgendaItemKind.CLOSURE, by)
    case = item.case
    if approve:
        case_services.approve_closure(case, panel_date=panel_day(item.meeting), by=by)
        _append_decision(item, "Closure approved; case closed")
    else:
        reason = _text(reason, "The reason", 1000, field="reason", required="Enter why the closure is being returned")
        case_services.return_closure(case, reason=reason, by=by)
        _append_decision(item, f"Closure returned: {reason}")
    db.session.flush()
    audit.record(AuditAction.UPDATE, "agenda_item", item.id,
                 summary={"meeting": item.meeting_id, "decision": "closure_approved" if approve else "closure_returned"},
                 user=by)


# ---- actions agreed, and the last panel's actions -------------------------------------------


def item_case(item: AgendaItem) -> Case | None:
    """The case an item's actions are for: the item's case, or the case a referral item's
    referral became when it was accepted."""
    if item.case is not None:
        return item.case
    if item.kind == AgendaItemKind.REFERRAL and item.referral_id is not None:
        return db.session.scalar(sa.select(Case).where(Case.referral_id == item.referral_id)
                                 .options(sa.orm.selectinload(Case.involvements).joinedload(Involvement.agency)))
    return None


def item_actions(meeting: Meeting, case: Case | None) -> list[Action]:
    """The actions agreed at this panel on the item's case, with their agency and assignee."""
    if case is None:
        return []
    return list(db.session.scalars(
        sa.select(Action).where(Action.meeting_id == meeting.id, Action.case_id == case.id)
        .options(sa.orm.joinedload(Action.agency), sa.orm.joinedload(Action.assignee)).order_by(Action.id)))


def add_item_action(item: AgendaItem, *, description: str, agency: Agency, due_on: date, by: User,
                    assignee: User | None = None, today: date | None = None) -> Action:
    """An action agreed against the item, on its case, carrying the meeting's id. The same
    action sent twice (a double click) is made once."""
    _open_for_minutes(item.meeting)
    if by.role != Role.COORDINATOR:
        raise ServiceError("Only the coordinator records the actions agreed")
    case = item_case(item)
    if case is None:
        raise ServiceError("Actions are agreed on a case. Accept the referral first" if item.kind == AgendaItemKind.REFERRAL
                           else "Actions are agreed on a case, and this item is not about one")
    description = (description or "").strip()
    same = db.session.scalar(sa.select(Action).where(
        Action.case_id == case.id, Action.meeting_id == item.meeting_id, Action.created_by_id == by.id,
        Action.description == description, Action.agency_id == agency.id, Action.due_on == due_on,
        Action.created_at >= utcnow() - REPEAT_WINDOW).limit(1))
    if same is not None:
        return same
    return action_services.create_action(case, description=description, agency=agency, due_on=due_on, by=by,
                                         assignee=assignee, meeting_id=item.meeting_id, today=today)


def last_panel_open_actions(meeting: Meeting) -> tuple[Meeting | None, list[Action]]:
    """The previous panel and its actions still open, to record at this panel."""
    previous = previous_panel(meeting)
    if previous is None:
        return None, []
    return previous, list(db.session.scalars(
        sa.select(Action).where(Action.meeting_id == previous.id, Action.status == ActionStatus.OPEN)
        .options(sa.orm.joinedload(Action.agency), sa.orm.joinedload(Action.assignee),
                 sa.orm.joinedload(Action.case).selectinload(Case.involvements))
        .order_by(Action.due_on, Action.id)))


def record_last_action(meeting: Meeting, action: Action, *, status: ActionStatus, note: str, by: User) -> ActionUpdate | None:
    """Record what became of one of the last panel's actions: done, not possible because
    circumstances changed, or not done by the agency (through the action services). Returns
    None when the action already has that status (the form sent twice)."""
    _open_for_minutes(meeting)
    if by.role != Role.COORDINATOR:
        raise ServiceError("Only the coordinator records the minutes")
    previous = previous_panel(meeting)
    if previous is None or action.meeting_id != previous.id:
        raise ServiceError("That action was not agreed at the last panel")
    if status not in LAST_ACTION_OUTCOMES:
        raise ServiceError("Select done, not possible, or not done")
    if action.status == status:
        return None
    note = note or f"Recorded at the panel of {govuk_date(panel_day(meeting))}"
    return action_services.update_action(action, by=by, status=status, note=note)


def record_last_actions(meeting: Meeting, outcomes: list[tuple[Action, ActionStatus, str]], *, by: User) -> int:
    """Record what became of several of the last panel's actions at once (each through
    record_last_action). Returns how many were sent. An error names the outcome field of the
    action it is about (outcome_<id>); none sent is an error with no field."""
    if not outcomes:
        raise ServiceError("Select what happened to at least one action")
    for action, status, note in outcomes:
        try:
            record_last_action(meeting, action, status=status, note=note, by=by)
        except ServiceError as problem:
            raise ServiceError(problem.message, field=f"outcome_{action.id}") from None
    return len(outcomes)


def recorded_last_actions(previous: Meeting | None) -> list[Action]:
    """The last panel's actions whose outcome has been recorded, by due date."""
    if previous is None:
        return []
    return list(db.session.scalars(
        sa.select(Action).where(Action.meeting_id == previous.id, Action.status != ActionStatus.OPEN)
        .options(sa.orm.joinedload(Action.agency), sa.orm.joinedload(Action.case)).order_by(Action.due_on, Action.id)))


# ---- finalising and amendments -----------------------------------------------------------------


def finalise(meeting: Meeting, *, by: User, now: datetime | None = None) -> None:
    """The chair finalises the minutes: from now on they are read-only. Emails every expected
    agency's acting SPoC, every attendee with an account and the coordinators the date and a
    link, nothing more (_minutes_recipients)."""
    now = now or utcnow()
    if by.role != Role.CHAIR:
        raise ServiceError("Only the panel chair finalises the minutes")
    _open_for_minutes(meeting)
    if now < meeting.starts_at:
        raise ServiceError("The panel has not started yet, so its minutes cannot be finalised")
    ensure_attendance_rows(meeting, by=by)  # the record names every expected agency, "Not recorded" or not
    meeting.minutes_finalised_at, meeting.minutes_finalised_by_id = now, by.id
    db.session.flush()
    snapshot = take_snapshot(meeting, by=by, now=now)  # what they say is kept as it is from now on
    audit.record(AuditAction.UPDATE, "meeting", meeting.id,
                 summary={"minutes_finalised": True, "snapshot": snapshot.id}, user=by)
    day = govuk_date(panel_day(meeting))
    service = current_app.config["SERVICE_NAME"]
    for email in _minutes_recipients(meeting):
        notify.queue_email(
            to=email, subject=f"Panel minutes finalised: {day}",
            body=(f"The minutes of the panel held on {day} have been finalised.\n\n"
                  f"Sign in to read them: {minutes_link(meeting.id)}\n\n"
                  f"This email is from {service}. Do not reply with personal information."))


def _minutes_agency_ids(meeting: Meeting) -> set[int]:
    """Every expected agency, and any other with an attendance row: their SPoCs are told."""
    return {a.id for a in expected_agencies(meeting)} | set(db.session.scalars(
        sa.select(Attendance.agency_id).where(Attendance.meeting_id == meeting.id)))


def _minutes_recipients(meeting: Meeting) -> list[str]:
    """Who is told the minutes were finalised or amended (issue 17): the SPoCs, the coordinators,
    and every attendee on the panel's list who has an account (named workers and other non-SPoC
    attendees), at their account's address. Externals (no account) are not sent minutes."""
    attendees = set(db.session.scalars(
        sa.select(User.email).join(MeetingAttendee, MeetingAttendee.user_id == User.id).where(
            MeetingAttendee.meeting_id == meeting.id, MeetingAttendee.removed_at.is_(None), User.active.is_(True))))
    to = case_services.spoc_emails(_minutes_agency_ids(meeting)) | attendees | case_services.coordinator_emails()
    return sorted(e for e in to if e)


def _tell_amended(meeting: Meeting) -> None:
    """The SPoCs, the panel's attendees with an account and the coordinators are told the minutes
    were amended: the date and a link, never what was amended or why (that may be about the adult)."""
    day = govuk_date(panel_day(meeting))
    service = current_app.config["SERVICE_NAME"]
    for email in _minutes_recipients(meeting):
        notify.queue_email(
            to=email, subject=f"Panel minutes amended: {day}",
            body=(f"An amendment has been recorded to the minutes of the panel held on {day}.\n\n"
                  f"Sign in to read it: {minutes_link(meeting.id)}\n\n"
                  f"This email is from {service}. Do not reply with personal information."))


def amend(meeting: Meeting, *, item: AgendaItem | None, text: str, reason: str, by: User,
          now: datetime | None = None) -> MinutesAmendment:
    """A correction to finalised minutes, kept beside the original with who made it and why.
    The same amendment sent twice is kept once."""
    if by.role not in OPERATIONS:
        raise ServiceError("Only the coordinator or the chair amends the minutes")
    if meeting.minutes_finalised_at is None:
        raise ServiceError("The minutes have not been finalised yet, so change them directly")
    if item is not None and item.meeting_id != meeting.id:
        raise ServiceError("Select an item of this panel’s agenda", field="item")
    text = _text(text, "The amendment", AMENDMENT_MAX, field="text", required="Enter the amendment")
    reason = _text(reason, "The reason", AMENDMENT_REASON_MAX, field="reason", required="Enter why the minutes are being amended")
    now = now or utcnow()
    about = (MinutesAmendment.agenda_item_id == item.id) if item else MinutesAmendment.agenda_item_id.is_(None)
    same = db.session.scalar(sa.select(MinutesAmendment).where(
        MinutesAmendment.meeting_id == meeting.id, MinutesAmendment.by_id == by.id, about,
        MinutesAmendment.text == text, MinutesAmendment.reason == reason,
        MinutesAmendment.at >= now - REPEAT_WINDOW).limit(1))
    if same is not None:
        return same
    amendment = MinutesAmendment(meeting_id=meeting.id, agenda_item_id=item.id if item else None, at=now,
                                 by_id=by.id, text=text, reason=reason)
    db.session.add(amendment)
    db.session.flush()
    audit.record(AuditAction.CREATE, "minutes_amendment", amendment.id,
                 summary={"meeting": meeting.id, "item": item.id if item else None}, user=by)
    _tell_amended(meeting)
    return amendment


# ---- what the minutes page and the printed minutes show ---------------------------------------


@dataclass
class ItemMinutes:
    """An item of the minutes record as one viewer may read it."""

    item: RecordItem
    full: bool                      # False: the restricted view (reference, initials, risk, agencies)
    amendments: list[MinutesAmendment] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.item.title

    @property
    def case(self) -> RecordCase | None:
        return self.item.case

    @property
    def actions(self) -> tuple[RecordAction, ...]:
        return self.item.actions

    @property
    def about_person(self) -> bool:
        return self.item.about_person


@dataclass
class LastAction:
    action: RecordLastAction
    full: bool = True

    @property
    def status(self) -> ActionStatus:
        return self.action.status


@dataclass
class MinutesView:
    """The minutes record (stored once finalised, built as at the panel before) with what this
    viewer may read in full, and the amendments recorded since."""

    meeting: Meeting
    record: MinutesRecord
    items: list[ItemMinutes]
    last_actions: list[LastAction]
    amendments: list[MinutesAmendment]   # about the minutes as a whole

    @property
    def attendance(self) -> tuple[RecordAttendance, ...]:
        return self.record.attendance

    @property
    def attendance_counts(self) -> dict[str, int]:
        return self.record.attendance_counts

    @property
    def previous(self) -> datetime | None:
        """When the panel before was held (its actions are reviewed), or None."""
        return self.record.previous_starts_at


def minutes_view(meeting: Meeting, viewer: User, today: date | None = None) -> MinutesView:
    """Everything the minutes page and the printed minutes show, in a fixed number of queries.
    What the minutes say comes from the record (panel.meetings.record); who may read each item
    in full is decided now: coordinators and chairs see everything; a SPoC sees items about
    cases their agency is not involved in (and referrals they may not open) in the restricted
    form only."""
    today = today or london_today()
    record = minutes_record(meeting)
    by_item = _amendments_by_item(meeting)
    everything = viewer.role in OPERATIONS
    involved, referrals = ({}, {}) if everything else _access_facts(record)
    items = [ItemMinutes(item=item, full=everything or _item_in_full(item, involved, referrals, viewer, today),
                         amendments=by_item.get(item.id, [])) for item in record.agenda]
    last_actions = [LastAction(action=last, full=everything or case_access(
        viewer, involved.get(last.case_id, set()), today) == "full") for last in record.last_actions]
    return MinutesView(meeting=meeting, record=record, items=items, last_actions=last_actions,
                       amendments=by_item.get(None, []))


def _access_facts(record: MinutesRecord) -> tuple[dict[int, set[int]], dict[int, Referral]]:
    """The agencies involved now in the record's cases, and its referrals (two queries): need to
    know is decided on today's involvement, whatever the record shows."""
    case_ids = {i.case.id for i in record.agenda if i.case} | {a.case_id for a in record.last_actions}
    involved: dict[int, set[int]] = {}
    for case_id, agency_id in db.session.execute(
            sa.select(Involvement.case_id, Involvement.agency_id).where(Involvement.case_id.in_(case_ids or [-1]))):
        involved.setdefault(case_id, set()).add(agency_id)
    referral_ids = [i.referral.id for i in record.agenda if i.referral]
    referrals = {r.id: r for r in db.session.scalars(sa.select(Referral).where(Referral.id.in_(referral_ids or [-1])))}
    return involved, referrals


def _amendments_by_item(meeting: Meeting) -> dict[int | None, list[MinutesAmendment]]:
    """The amendments by agenda item id; those about the minutes as a whole under None."""
    by_item: dict[int | None, list[MinutesAmendment]] = {}
    for amendment in db.session.scalars(
            sa.select(MinutesAmendment).where(MinutesAmendment.meeting_id == meeting.id)
            .options(sa.orm.joinedload(MinutesAmendment.by)).order_by(MinutesAmendment.id)):
        by_item.setdefault(amendment.agenda_item_id, []).append(amendment)
    return by_item


def _item_in_full(item: RecordItem, involved: dict[int, set[int]], referrals: dict[int, Referral], viewer: User,
                  today: date) -> bool:
    """May a SPoC read this item in full, or only in the restricted form?"""
    case = item.case
    if item.kind == AgendaItemKind.REFERRAL and item.referral is not None:
        referral = referrals.get(item.referral.id)
        return referral is not None and can_view_referral(viewer, referral, today) and (
            case is None or case_access(viewer, involved.get(case.id, set()), today) == "full")
    if case is not None:
        return case_access(viewer, involved.get(case.id, set()), today) == "full"
    return item.kind != AgendaItemKind.ESCALATIONS  # escalations name cases and agencies
