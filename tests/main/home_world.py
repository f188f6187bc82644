"""A small world for the home pages: three agencies (police, whose SPoC is Sam with Dee as
deputy and Pat a practitioner; housing; an outside agency), referrals in every state, cases
the police are in and one they are not, actions overdue, due this week, escalated today and to
the chair, the next panel with apologies and invitations, a panel held whose minutes are not
final, and an MDT to come with replies outstanding. Everything is relative to London's today."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from panel.dates import london_today
from panel.extensions import db
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    Attendance,
    AttendanceStatus,
    AttendeeResponse,
    Case,
    CaseStatus,
    Escalation,
    Involvement,
    LadderStep,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    Referral,
    RiskLevel,
    Role,
    User,
    utcnow,
)
from tests import factories
from tests.cases.helpers import create_case
from tests.meetings.agenda_world import london


@dataclass
class World:
    agencies: dict[str, Agency]
    users: dict[str, User]
    cases: dict[str, Case]
    referrals: dict[str, Referral]
    actions: dict[str, Action]
    meetings: dict[str, Meeting] = field(default_factory=dict)


def _action(case: Case, agency: Agency, due_in: int, *, by: User, assignee: User | None = None,
            status: ActionStatus = ActionStatus.OPEN, text: str = "An action") -> Action:
    action = Action(case_id=case.id, description=text, agency_id=agency.id, assignee_id=assignee.id if assignee else None,
                    due_on=london_today() + timedelta(days=due_in), status=status, created_by_id=by.id,
                    closed_at=utcnow() if status != ActionStatus.OPEN else None)
    db.session.add(action)
    db.session.flush()
    return action


def _escalate(action: Action, step: LadderStep, at: datetime) -> Escalation:
    escalation = Escalation(action_id=action.id, step=step, round=1, due_for=london_today(), at=at)
    db.session.add(escalation)
    db.session.flush()
    return escalation


def _attendee(meeting: Meeting, name: str, email: str, *, user: User | None = None,
              response: AttendeeResponse = AttendeeResponse.NEEDS_ACTION, removed: bool = False) -> MeetingAttendee:
    attendee = MeetingAttendee(meeting_id=meeting.id, user_id=user.id if user else None, name=name, email=email,
                               response=response, removed_at=utcnow() if removed else None, invited_sequence=0)
    db.session.add(attendee)
    db.session.flush()
    return attendee


def build() -> World:
    host = factories.create_agency(code="home-host", name="Home Council")
    police = factories.create_agency(code="home-police", name="Home Police")
    housing = factories.create_agency(code="home-housing", name="Home Housing")
    outside = factories.create_agency(code="home-outside", name="Home Outside")
    u = {
        "coordinator": factories.create_user(role=Role.COORDINATOR, agency=host, name="Cora Coordinator"),
        "chair": factories.create_user(role=Role.CHAIR, agency=host, name="Chas Chair"),
        "spoc": factories.create_user(role=Role.SPOC, agency=police, name="Sam Spoc", email="sam@police.test"),
        "deputy": factories.create_user(role=Role.SPOC, agency=police, name="Dee Deputy", email="dee@police.test"),
        "practitioner": factories.create_user(role=Role.PRACTITIONER, agency=police, name="Pat Worker",
                                              email="pat@police.test"),
        "housing spoc": factories.create_user(role=Role.SPOC, agency=housing, name="Hana Housing"),
        "outside spoc": factories.create_user(role=Role.SPOC, agency=outside, name="Otto Outside"),
        "board": factories.create_user(role=Role.BOARD, agency=host),
        "admin": factories.create_user(role=Role.ADMIN, agency=host),
    }
    police.spoc, police.deputy_spoc, police.escalation_contact = u["spoc"], u["deputy"], u["spoc"]
    housing.spoc, outside.spoc = u["housing spoc"], u["outside spoc"]
    db.session.flush()

    refer = factories.create_referral
    referrals = {
        "police submitted": refer(agency=police, by=u["spoc"], given_name="Quin", family_name="Zephyr"),
        "housing submitted": refer(agency=housing, given_name="Hal", family_name="Yarrow"),
        "waiting": refer(agency=housing, status="waiting", given_name="Wyn", family_name="Waite"),
        "pat's info": refer(agency=police, by=u["practitioner"], status="info_requested", given_name="Ira",
                            family_name="Ingle"),
        "housing info": refer(agency=housing, status="info_requested", given_name="Ivo", family_name="Ives"),
        "pat's awaiting": refer(agency=police, by=u["practitioner"], status="awaiting_panel", given_name="Ada",
                                family_name="Arden"),
        "pat's draft": refer(agency=police, by=u["practitioner"], status="draft", given_name="Dot", family_name="Drafte"),
    }
    cases = {
        "ours": create_case(lead=police, involved=(housing,), risk=RiskLevel.CRITICAL, given_name="Olive",
                            family_name="Ourcase"),
        "theirs": create_case(lead=housing, risk=RiskLevel.HIGH, given_name="Thea", family_name="Theirs"),
        "closing": create_case(lead=outside, involved=(police,), risk=RiskLevel.MEDIUM,
                               status=CaseStatus.CLOSURE_PROPOSED, given_name="Cleo", family_name="Closing"),
        "closed": create_case(lead=police, status=CaseStatus.CLOSED, given_name="Cal", family_name="Closed"),
    }
    cases["closing"].closure_proposed_at = utcnow() - timedelta(days=2)
    ours = db.session.scalar(db.select(Involvement).where(Involvement.case_id == cases["ours"].id,
                                                          Involvement.agency_id == police.id))
    ours.worker_user_id, ours.named_worker = u["practitioner"].id, "Pat Worker"

    by = u["coordinator"]
    actions = {
        "overdue": _action(cases["ours"], police, -3, by=by),
        "pat overdue": _action(cases["ours"], police, -1, by=by, assignee=u["practitioner"]),
        "pat due today": _action(cases["closing"], police, 0, by=by, assignee=u["practitioner"]),
        "later": _action(cases["ours"], police, 30, by=by),
        "done": _action(cases["ours"], police, -5, by=by, status=ActionStatus.DONE),
        "housing overdue": _action(cases["ours"], housing, -8, by=by),
        "theirs overdue": _action(cases["theirs"], housing, -2, by=by),
    }
    _escalate(actions["overdue"], LadderStep.AGENCY, utcnow())                      # escalated today
    _escalate(actions["housing overdue"], LadderStep.CHAIR, utcnow() - timedelta(days=2))
    _escalate(actions["theirs overdue"], LadderStep.MANUAL_CHAIR, utcnow() - timedelta(days=1))
    acknowledged = _escalate(actions["later"], LadderStep.MANUAL_CHAIR, utcnow() - timedelta(days=1))
    acknowledged.acknowledged_at, acknowledged.acknowledged_by_id = utcnow(), u["chair"].id

    today = london_today()
    panel = Meeting(kind=MeetingKind.PANEL, starts_at=london(today + timedelta(days=10), 10),
                    ends_at=london(today + timedelta(days=10), 12, 30), cutoff_on=today + timedelta(days=3))
    held = Meeting(kind=MeetingKind.PANEL, starts_at=london(today - timedelta(days=20), 10),
                   ends_at=london(today - timedelta(days=20), 12, 30), cutoff_on=today - timedelta(days=27))
    final = Meeting(kind=MeetingKind.PANEL, starts_at=london(today - timedelta(days=50), 10),
                    ends_at=london(today - timedelta(days=50), 12, 30), cutoff_on=today - timedelta(days=57),
                    minutes_finalised_at=utcnow() - timedelta(days=40))
    mdt = Meeting(kind=MeetingKind.MDT, case_id=cases["ours"].id, starts_at=london(today + timedelta(days=3), 14),
                  ends_at=london(today + timedelta(days=3), 15))
    db.session.add_all([panel, held, final, mdt])
    db.session.flush()
    db.session.add_all([Attendance(meeting_id=panel.id, agency_id=police.id,
                                   status=AttendanceStatus.APOLOGIES_WITH_UPDATE, written_update="Our update"),
                        Attendance(meeting_id=panel.id, agency_id=housing.id, status=AttendanceStatus.APOLOGIES)])
    for user in (u["spoc"], u["housing spoc"], u["chair"]):
        _attendee(panel, user.name, user.email, user=user, response=AttendeeResponse.ACCEPTED)
    _attendee(panel, u["deputy"].name, u["deputy"].email, user=u["deputy"], removed=True)
    _attendee(mdt, u["spoc"].name, u["spoc"].email, user=u["spoc"])
    _attendee(mdt, u["practitioner"].name, u["practitioner"].email, user=u["practitioner"])
    _attendee(mdt, u["housing spoc"].name, u["housing spoc"].email, user=u["housing spoc"],
              response=AttendeeResponse.ACCEPTED)
    _attendee(mdt, "Dr Gee", "gp@surgery.test")
    _attendee(mdt, "Gone Person", "gone@surgery.test", removed=True)
    db.session.flush()
    return World(agencies={"host": host, "police": police, "housing": housing, "outside": outside}, users=u,
                 cases=cases, referrals=referrals, actions=actions,
                 meetings={"panel": panel, "held": held, "final": final, "mdt": mdt})
