"""The record of a panel's minutes: what the minutes page and their PDF show, as plain data.

`build_minutes_record(meeting_id)` reads the database and writes nothing (no audit, no flush):
it is the one place that decides what the minutes say, for the minutes page, the printed
minutes and any other feature that reports on a panel (the chair's pack, board reports).
`minutes_record(meeting)` is what those features call: the stored copy once the chair has
finalised the minutes (minutes_snapshots, written by `take_snapshot` and never changed),
the record built from the data before that.

What the record holds, and as at when:
- the facts of each case as presented at the panel: the risk level at the panel's start (from
  the risk history), the agencies involved by the end of the panel's day (an agency added later
  is not shown; a case accepted at the panel keeps the agencies it was accepted with), the lead
  agency and the person's initials; a case that entered the pathway after the panel's day is not
  on its minutes (unless minutes were written against it);
- what was minuted: the agenda as held (in order), notes, decisions, the actions agreed with
  their text, owner and due date, attendance, and the last panel's actions with what became of
  them: as recorded up to the finalising (a due date or outcome changed afterwards is not shown),
  or up to now for a draft.

The queries name their columns (no whole rows are loaded), so the migration that snapshots
minutes finalised before this existed (0007) can run the same builder on its own connection,
against the tables as they were then. A fixed number of queries whatever the data size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from panel.dates import LONDON
from panel.extensions import db
from panel.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Agency,
    AgendaItem,
    AgendaItemKind,
    Attendance,
    AttendanceStatus,
    Case,
    Involvement,
    Meeting,
    MeetingKind,
    MeetingStatus,
    MinutesSnapshot,
    Person,
    Referral,
    ReferralStatus,
    RiskChange,
    RiskLevel,
    User,
    utcnow,
)

VERSION = 1
CASE_KINDS = (AgendaItemKind.CASE, AgendaItemKind.CLOSURE)
PERSON_KINDS = (AgendaItemKind.REFERRAL, AgendaItemKind.CASE, AgendaItemKind.CLOSURE)
# A case accepted at the panel keeps the agencies its involvements were made with (in the same
# transaction as the case; the margin allows for SQLite's one-second CURRENT_TIMESTAMP).
ACCEPTED_WITH = timedelta(minutes=1)

# Aliases made once: a fresh aliased() per call costs SQLAlchemy a column adaptation per
# attribute named (about a millisecond a query here), where the SQL itself takes a tenth of that.
_FINALISER = aliased(User, name="finaliser")
_ASSIGNEE = aliased(User, name="assignee")
_REFERRER = aliased(Agency, name="referrer")
_LEAD = aliased(Agency, name="lead")
_REFERRED = aliased(Person, name="referred")
_CASE_PERSON = aliased(Person, name="case_person")


# ---- the record -------------------------------------------------------------------------------


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class RecordCase:
    id: int
    reference: str
    initials: str
    risk_level: RiskLevel            # as presented: at the panel's start
    lead_agency: str
    agencies: tuple[str, ...]        # involved by the end of the panel's day, by name

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reference": self.reference, "initials": self.initials,
                "risk_level": str(self.risk_level), "lead_agency": self.lead_agency, "agencies": list(self.agencies)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordCase:
        return cls(id=data["id"], reference=data["reference"], initials=data["initials"],
                   risk_level=RiskLevel(data["risk_level"]), lead_agency=data["lead_agency"],
                   agencies=tuple(data["agencies"]))


@dataclass(frozen=True)
class RecordReferral:
    id: int
    reference: str
    initials: str
    referring_agency: str
    status: ReferralStatus

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reference": self.reference, "initials": self.initials,
                "referring_agency": self.referring_agency, "status": str(self.status)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordReferral:
        return cls(id=data["id"], reference=data["reference"], initials=data["initials"],
                   referring_agency=data["referring_agency"], status=ReferralStatus(data["status"]))


@dataclass(frozen=True)
class RecordAction:
    """An action agreed at the panel: its text, owner (agency, and the person if named) and due date."""

    id: int
    case_id: int
    description: str
    agency: str
    assignee: str
    due_on: date

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "case_id": self.case_id, "description": self.description, "agency": self.agency,
                "assignee": self.assignee, "due_on": _iso(self.due_on)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordAction:
        return cls(id=data["id"], case_id=data["case_id"], description=data["description"], agency=data["agency"],
                   assignee=data["assignee"], due_on=date.fromisoformat(data["due_on"]))


@dataclass(frozen=True)
class RecordItem:
    """One agenda item as held, with its minutes."""

    id: int
    number: int
    kind: AgendaItemKind
    title: str
    notes: str
    decisions: tuple[str, ...]
    case: RecordCase | None = None          # the item's case, or the case its referral became
    referral: RecordReferral | None = None
    actions: tuple[RecordAction, ...] = ()  # agreed at this panel on the case (under its first item)

    @property
    def about_person(self) -> bool:
        return self.kind in PERSON_KINDS

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "kind": str(self.kind), "title": self.title,
                "notes": self.notes, "decisions": list(self.decisions),
                "case": self.case.to_json() if self.case else None,
                "referral": self.referral.to_json() if self.referral else None,
                "actions": [a.to_json() for a in self.actions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordItem:
        return cls(id=data["id"], number=data["number"], kind=AgendaItemKind(data["kind"]), title=data["title"],
                   notes=data["notes"], decisions=tuple(data["decisions"]),
                   case=RecordCase.from_json(data["case"]) if data["case"] else None,
                   referral=RecordReferral.from_json(data["referral"]) if data["referral"] else None,
                   actions=tuple(RecordAction.from_json(a) for a in data["actions"]))


@dataclass(frozen=True)
class RecordAttendance:
    agency_id: int
    agency: str
    status: AttendanceStatus | None
    attendee_name: str
    deputised_by: str
    acknowledged: bool

    @property
    def status_label(self) -> str:
        return self.status.label if self.status else "Not recorded"

    @property
    def acknowledgement(self) -> str:
        if self.acknowledged:
            return "Acknowledged"
        return "Not acknowledged" if self.status == AttendanceStatus.PRESENT else "Not applicable"

    def to_json(self) -> dict[str, Any]:
        return {"agency_id": self.agency_id, "agency": self.agency, "status": str(self.status) if self.status else None,
                "attendee_name": self.attendee_name, "deputised_by": self.deputised_by,
                "acknowledged": self.acknowledged}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordAttendance:
        return cls(agency_id=data["agency_id"], agency=data["agency"],
                   status=AttendanceStatus(data["status"]) if data["status"] else None,
                   attendee_name=data["attendee_name"], deputised_by=data["deputised_by"],
                   acknowledged=data["acknowledged"])


@dataclass(frozen=True)
class RecordLastAction:
    """One of the previous panel's actions and what had become of it."""

    id: int
    case_id: int
    case_reference: str
    description: str
    agency: str
    due_on: date
    status: ActionStatus
    note: str = ""
    at: datetime | None = None

    @property
    def outcome(self) -> str:
        return "Still open" if self.status == ActionStatus.OPEN else self.status.label

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "case_id": self.case_id, "case_reference": self.case_reference,
                "description": self.description, "agency": self.agency, "due_on": _iso(self.due_on),
                "status": str(self.status), "note": self.note, "at": _iso(self.at)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordLastAction:
        return cls(id=data["id"], case_id=data["case_id"], case_reference=data["case_reference"],
                   description=data["description"], agency=data["agency"], due_on=date.fromisoformat(data["due_on"]),
                   status=ActionStatus(data["status"]), note=data["note"], at=_datetime(data["at"]))


@dataclass(frozen=True)
class MinutesRecord:
    """Everything the minutes of one panel show (amendments apart, which are kept beside it)."""

    meeting_id: int
    starts_at: datetime
    ends_at: datetime
    location: str
    made_at: datetime                      # when this record was built
    finalised_at: datetime | None
    finalised_by: str                      # the chair's name, "" if unknown
    previous_starts_at: datetime | None    # the panel before, whose actions are reviewed
    attendance: tuple[RecordAttendance, ...] = ()
    last_actions: tuple[RecordLastAction, ...] = ()
    agenda: tuple[RecordItem, ...] = ()
    version: int = VERSION

    @property
    def finalised(self) -> bool:
        return self.finalised_at is not None

    @property
    def panel_date(self) -> date:
        return self.starts_at.astimezone(LONDON).date()

    @property
    def attendance_counts(self) -> dict[str, int]:
        out = {s.label: 0 for s in AttendanceStatus}
        out["Not recorded"] = 0
        for row in self.attendance:
            out[row.status_label] += 1
        return {k: v for k, v in out.items() if v}

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "meeting_id": self.meeting_id, "starts_at": _iso(self.starts_at),
                "ends_at": _iso(self.ends_at), "location": self.location, "made_at": _iso(self.made_at),
                "finalised_at": _iso(self.finalised_at), "finalised_by": self.finalised_by,
                "previous_starts_at": _iso(self.previous_starts_at),
                "attendance": [a.to_json() for a in self.attendance],
                "last_actions": [a.to_json() for a in self.last_actions],
                "agenda": [i.to_json() for i in self.agenda]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MinutesRecord:
        if data.get("version") != VERSION:
            raise ValueError(f"minutes record version {data.get('version')!r} is not {VERSION}")
        return cls(meeting_id=data["meeting_id"], starts_at=_datetime(data["starts_at"]),  # type: ignore[arg-type]
                   ends_at=_datetime(data["ends_at"]), location=data["location"],  # type: ignore[arg-type]
                   made_at=_datetime(data["made_at"]), finalised_at=_datetime(data["finalised_at"]),  # type: ignore[arg-type]
                   finalised_by=data["finalised_by"], previous_starts_at=_datetime(data["previous_starts_at"]),
                   attendance=tuple(RecordAttendance.from_json(a) for a in data["attendance"]),
                   last_actions=tuple(RecordLastAction.from_json(a) for a in data["last_actions"]),
                   agenda=tuple(RecordItem.from_json(i) for i in data["agenda"]))


# ---- reading the record -------------------------------------------------------------------------


def stored_minutes_record(meeting_id: int) -> MinutesRecord | None:
    """The snapshot taken when the minutes were finalised, or None (one query)."""
    document = db.session.scalar(sa.select(MinutesSnapshot.document).where(MinutesSnapshot.meeting_id == meeting_id))
    return MinutesRecord.from_json(document) if document is not None else None


def minutes_record(meeting: Meeting, now: datetime | None = None, *, stored: Any = None) -> MinutesRecord:
    """What the minutes of this panel say: the stored copy once finalised, else built from the
    data as at the panel. Reads only. `stored`: the stored copy's JSON document, when the caller
    read it already (panel.meetings.agenda reads the previous panel's with the panel)."""
    if meeting.minutes_finalised_at is not None and stored is not None:
        return MinutesRecord.from_json(stored)
    if meeting.minutes_finalised_at is not None:
        stored = stored_minutes_record(meeting.id)
        if stored is not None:
            return stored
    return build_minutes_record(meeting.id, now=now)


def reviewed_last_actions(meeting: Meeting, previous: Meeting, now: datetime | None = None) -> tuple[RecordLastAction, ...]:
    """The previous panel's actions as this panel's minutes review them: minutes_record(meeting)
    .last_actions, without building the rest of the record (the chair's pack needs only these):
    the stored copy's once finalised, else read as at now (two queries)."""
    if meeting.minutes_finalised_at is not None:
        stored = stored_minutes_record(meeting.id)
        if stored is not None:
            return stored.last_actions
    cutoff = meeting.minutes_finalised_at or now or utcnow()
    return _last_actions(_Facts(session=db.session, meeting=meeting, cutoff=cutoff, day_end=cutoff), previous.id)


def take_snapshot(meeting: Meeting, *, by: User | None, source: str = "finalised",
                  now: datetime | None = None) -> MinutesSnapshot:
    """Store the record of finalised minutes (once: an existing snapshot is returned as it is). Flushes."""
    existing = db.session.scalar(sa.select(MinutesSnapshot).where(MinutesSnapshot.meeting_id == meeting.id))
    if existing is not None:
        return existing
    db.session.flush()  # the finalising, so the record carries it
    record = build_minutes_record(meeting.id, now=now)
    snapshot = MinutesSnapshot(meeting_id=meeting.id, version=record.version, source=source,
                               taken_at=now or utcnow(), taken_by_id=by.id if by else None, document=record.to_json())
    try:
        with db.session.begin_nested():
            db.session.add(snapshot)
    except IntegrityError:  # taken by a concurrent request (one per meeting): theirs stands
        return db.session.scalars(sa.select(MinutesSnapshot).where(MinutesSnapshot.meeting_id == meeting.id)).one()
    return snapshot


# ---- building the record ------------------------------------------------------------------------


@dataclass
class _Facts:
    """What the builder read, before it is put together."""

    session: Session
    meeting: Any                     # the meeting's row (named columns)
    cutoff: datetime                 # recorded content counts up to here: the finalising, or now
    day_end: datetime                # the end of the panel's London day
    cases: dict[int, Any] = field(default_factory=dict)
    accepted: dict[int, int] = field(default_factory=dict)   # referral id -> case id
    referrals: dict[int, Any] = field(default_factory=dict)
    agencies: dict[int, list[Any]] = field(default_factory=dict)
    risks: dict[int, list[Any]] = field(default_factory=dict)
    agreed: dict[int, list[RecordAction]] = field(default_factory=dict)


def build_minutes_record(meeting_id: int, *, session: Session | None = None,
                         now: datetime | None = None) -> MinutesRecord:
    """The minutes of a panel as they stand, built from the data (see the module's notes for
    what is taken as at when). Writes nothing. `session` lets the migration run it on its own
    connection."""
    session = session or db.session
    now = now or utcnow()
    finaliser = _FINALISER
    meeting = session.execute(
        sa.select(Meeting.id, Meeting.starts_at, Meeting.ends_at, Meeting.location, Meeting.minutes_finalised_at,
                  Meeting.status, finaliser.name.label("finalised_by"))
        .outerjoin(finaliser, finaliser.id == Meeting.minutes_finalised_by_id).where(Meeting.id == meeting_id)).one()
    day = meeting.starts_at.astimezone(LONDON).date()
    facts = _Facts(session=session, meeting=meeting, cutoff=meeting.minutes_finalised_at or now,
                   day_end=datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=LONDON))
    items = session.execute(
        sa.select(AgendaItem.id, AgendaItem.kind, AgendaItem.title, AgendaItem.referral_id, AgendaItem.case_id,
                  AgendaItem.notes, AgendaItem.decision)
        .where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position, AgendaItem.id)).all()
    _read_cases(facts, items)
    _read_agreed(facts)
    previous = session.execute(
        sa.select(Meeting.id, Meeting.starts_at).where(
            Meeting.kind == MeetingKind.PANEL, Meeting.status == MeetingStatus.SCHEDULED,
            Meeting.starts_at < meeting.starts_at, Meeting.id != meeting_id)
        .order_by(Meeting.starts_at.desc()).limit(1)).first()
    return MinutesRecord(
        meeting_id=meeting.id, starts_at=meeting.starts_at, ends_at=meeting.ends_at, location=meeting.location or "",
        made_at=now, finalised_at=meeting.minutes_finalised_at, finalised_by=meeting.finalised_by or "",
        previous_starts_at=previous.starts_at if previous else None,
        attendance=_attendance(facts), last_actions=_last_actions(facts, previous.id) if previous else (),
        agenda=_agenda(facts, items, day))


def _read_cases(facts: _Facts, items: list[Any]) -> None:
    """The cases and referrals the items are about (and the cases referrals became), their
    agencies and risk histories: five queries."""
    s = facts.session
    referral_ids = [i.referral_id for i in items if i.referral_id]
    referrer, person = _REFERRER, _REFERRED
    for row in s.execute(
            sa.select(Referral.id, Referral.reference, Referral.status, referrer.name.label("agency"),
                      person.given_name, person.family_name)
            .join(referrer, referrer.id == Referral.referring_agency_id).join(person, person.id == Referral.person_id)
            .where(Referral.id.in_(referral_ids or [-1]))):
        facts.referrals[row.id] = row
    lead, person = _LEAD, _CASE_PERSON
    for row in s.execute(
            sa.select(Case.id, Case.reference, Case.referral_id, Case.risk_level, Case.accepted_on, Case.created_at,
                      lead.name.label("lead_agency"), person.given_name, person.family_name)
            .join(lead, lead.id == Case.lead_agency_id).join(person, person.id == Case.person_id)
            .where(sa.or_(Case.id.in_([i.case_id for i in items if i.case_id] or [-1]),
                          Case.referral_id.in_(referral_ids or [-1])))):
        facts.cases[row.id] = row
        facts.accepted[row.referral_id] = row.id
    case_ids = list(facts.cases) or [-1]
    for row in s.execute(
            sa.select(Involvement.case_id, Involvement.created_at, Agency.name)
            .join(Agency, Agency.id == Involvement.agency_id).where(Involvement.case_id.in_(case_ids))):
        facts.agencies.setdefault(row.case_id, []).append(row)
    for row in s.execute(
            sa.select(RiskChange.case_id, RiskChange.from_level, RiskChange.to_level, RiskChange.at)
            .where(RiskChange.case_id.in_(case_ids)).order_by(RiskChange.at, RiskChange.id)):
        facts.risks.setdefault(row.case_id, []).append(row)


def _read_agreed(facts: _Facts) -> None:
    """The actions agreed at this panel, by case, each due date as at the cutoff (two queries)."""
    s = facts.session
    assignee = _ASSIGNEE
    rows = s.execute(
        sa.select(Action.id, Action.case_id, Action.description, Action.due_on, Agency.name.label("agency"),
                  assignee.name.label("assignee"))
        .join(Agency, Agency.id == Action.agency_id).outerjoin(assignee, assignee.id == Action.assignee_id)
        .where(Action.meeting_id == facts.meeting.id).order_by(Action.id)).all()
    later = _first_due_changes_after(s, [r.id for r in rows], facts.cutoff)
    for row in rows:
        due = later.get(row.id, row.due_on)
        facts.agreed.setdefault(row.case_id, []).append(RecordAction(
            id=row.id, case_id=row.case_id, description=row.description, agency=row.agency,
            assignee=row.assignee or "", due_on=due))


def _first_due_changes_after(s: Session, action_ids: list[int], cutoff: datetime) -> dict[int, date]:
    """The due date each action had at the cutoff, for those whose due date changed after it."""
    out: dict[int, date] = {}
    for action_id, old_due in s.execute(
            sa.select(ActionUpdate.action_id, ActionUpdate.old_due_on)
            .where(ActionUpdate.action_id.in_(action_ids or [-1]), ActionUpdate.old_due_on.is_not(None),
                   ActionUpdate.at > cutoff).order_by(ActionUpdate.at.desc(), ActionUpdate.id.desc())):
        out[action_id] = old_due  # the earliest change after the cutoff wins (read last)
    return out


def _initials(given: str | None, family: str | None) -> str:
    return "".join(p[0].upper() for p in (given, family) if p)


def risk_as_at(current: RiskLevel, changes: list[Any], moment: datetime) -> RiskLevel:
    """The risk level at a moment, from the dated changes (oldest first): the last change made by
    then; before any change, the level the first one changed from (or, for a case that did not
    yet exist, the level it started with)."""
    before = [c for c in changes if c.at <= moment]
    if before:
        return before[-1].to_level
    if changes:
        return changes[0].from_level or changes[0].to_level
    return current


def _case(facts: _Facts, case_id: int | None) -> RecordCase | None:
    row = facts.cases.get(case_id) if case_id else None
    if row is None:
        return None
    until = max(facts.day_end, row.created_at + ACCEPTED_WITH)
    agencies = sorted({a.name for a in facts.agencies.get(row.id, []) if a.created_at <= until})
    return RecordCase(id=row.id, reference=row.reference, initials=_initials(row.given_name, row.family_name),
                      risk_level=risk_as_at(row.risk_level, facts.risks.get(row.id, []), facts.meeting.starts_at),
                      lead_agency=row.lead_agency, agencies=tuple(agencies))


def _referral(facts: _Facts, referral_id: int | None) -> RecordReferral | None:
    row = facts.referrals.get(referral_id) if referral_id else None
    if row is None:
        return None
    return RecordReferral(id=row.id, reference=row.reference or "", initials=_initials(row.given_name, row.family_name),
                          referring_agency=row.agency, status=row.status)


def item_title(kind: AgendaItemKind, title: str, case_reference: str | None, referral_reference: str | None) -> str:
    """An agenda item's heading in the minutes: "New referral R-...", "Case CASPA-...", "Closure of case ..."."""
    if kind == AgendaItemKind.REFERRAL and referral_reference is not None:
        return f"New referral {referral_reference}"
    if kind == AgendaItemKind.CASE and case_reference is not None:
        return f"Case {case_reference}"
    if kind == AgendaItemKind.CLOSURE and case_reference is not None:
        return f"Closure of case {case_reference}"
    return title or kind.value.replace("_", " ").capitalize()


def _agenda(facts: _Facts, items: list[Any], day: date) -> tuple[RecordItem, ...]:
    out: list[RecordItem] = []
    placed: set[int] = set()
    for item in items:
        row = facts.cases.get(item.case_id) if item.case_id else None
        if item.kind in CASE_KINDS and row is not None and row.accepted_on > day and not (item.notes or item.decision):
            continue  # not in the pathway at the panel's date: put on the agenda by mistake
        case_id = item.case_id or (facts.accepted.get(item.referral_id) if item.referral_id else None)
        case, referral = _case(facts, case_id), _referral(facts, item.referral_id)
        actions: tuple[RecordAction, ...] = ()
        if case is not None and case.id not in placed:
            placed.add(case.id)  # a case on two items (accepted, then its own item) lists them once
            actions = tuple(facts.agreed.get(case.id, []))
        out.append(RecordItem(
            id=item.id, number=len(out) + 1, kind=item.kind, title=item_title(item.kind, item.title, case and case.reference, referral and referral.reference),
            notes=item.notes or "", decisions=tuple(line for line in (item.decision or "").split("\n") if line),
            case=case, referral=referral, actions=actions))
    return tuple(out)


def _attendance(facts: _Facts) -> tuple[RecordAttendance, ...]:
    """Every agency with an attendance row; while the panel is open, every expected agency (one
    with a SPoC) too, "Not recorded" until it is (finalising makes their rows)."""
    meeting = facts.meeting
    joined = sa.and_(Attendance.agency_id == Agency.id, Attendance.meeting_id == meeting.id)
    shown = Attendance.id.is_not(None)
    if meeting.minutes_finalised_at is None and meeting.status != MeetingStatus.CANCELLED:
        shown = sa.or_(shown, Agency.spoc_id.is_not(None))
    rows = facts.session.execute(
        sa.select(Agency.id.label("agency_id"), Agency.name, Attendance.status, Attendance.attendee_name,
                  Attendance.deputised_by, Attendance.confidentiality_acknowledged)
        .outerjoin(Attendance, joined).where(shown)
        .order_by(Agency.name, Attendance.id))
    return tuple(RecordAttendance(agency_id=r.agency_id, agency=r.name, status=r.status,
                                  attendee_name=r.attendee_name or "", deputised_by=r.deputised_by or "",
                                  acknowledged=bool(r.confidentiality_acknowledged)) for r in rows)


@lru_cache(maxsize=1)
def _last_actions_statement() -> sa.Select:
    return (sa.select(Action.id, Action.case_id, Case.reference, Action.description, Action.due_on, Action.status,
                      Action.closed_at, Agency.name.label("agency"), ActionUpdate.id.label("update_id"),
                      ActionUpdate.at, ActionUpdate.note, ActionUpdate.new_status, ActionUpdate.old_due_on)
            .join(Case, Case.id == Action.case_id).join(Agency, Agency.id == Action.agency_id)
            .outerjoin(ActionUpdate, ActionUpdate.action_id == Action.id)
            .where(Action.meeting_id == sa.bindparam("previous_id"))
            .order_by(Action.due_on, Action.id, ActionUpdate.id))


def _last_actions(facts: _Facts, previous_id: int) -> tuple[RecordLastAction, ...]:
    """The previous panel's actions, each with its status as at the cutoff (one query: each
    action's row once per update of it, in the updates' order, or once with none)."""
    rows: list[Any] = []
    updates: dict[int, list[Any]] = {}
    for row in facts.session.execute(_last_actions_statement(), {"previous_id": previous_id}):
        if not rows or rows[-1].id != row.id:
            rows.append(row)
        if row.update_id is not None:
            updates.setdefault(row.id, []).append(row)
    out = []
    for row in rows:
        mine = updates.get(row.id, [])
        status, note, at = status_as_at(row.status, row.closed_at, mine, facts.cutoff)
        due = next((u.old_due_on for u in mine if u.old_due_on is not None and u.at > facts.cutoff), row.due_on)
        out.append(RecordLastAction(id=row.id, case_id=row.case_id, case_reference=row.reference,
                                    description=row.description, agency=row.agency, due_on=due, status=status,
                                    note=note, at=at))
    return tuple(out)


def status_as_at(current: ActionStatus, closed_at: datetime | None, updates: list[Any],
                 cutoff: datetime) -> tuple[ActionStatus, str, datetime | None]:
    """An action's status, the note that set it and when, as at the cutoff: its updates decide,
    and an action closed with no update at all counts as closed from when it closed."""
    status, note, at = ActionStatus.OPEN, "", None
    for update in updates:
        if update.new_status is not None and update.at <= cutoff:
            status, note, at = update.new_status, update.note, update.at
    if status == ActionStatus.OPEN and current != ActionStatus.OPEN and not updates \
            and closed_at is not None and closed_at <= cutoff:
        status, at = current, closed_at
    return status, note, at
