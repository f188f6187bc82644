"""Builders for the Board reports' tests: referrals with dated decisions, cases, actions, rungs of
the ladder, outcomes and panels with finalised minutes, each at the moment a test gives."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone

from panel.dates import london_to_utc
from panel.extensions import db
from panel.meetings.record import take_snapshot
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    Attendance,
    AttendanceStatus,
    Case,
    CaseStatus,
    Escalation,
    LadderStep,
    Meeting,
    MeetingKind,
    OutcomeReview,
    Person,
    PersonalOutcome,
    Referral,
    ReferralDecision,
    ReferralStatus,
    RiskLevel,
    User,
)
from tests import factories

_n = itertools.count(1)


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """London wall-clock time as UTC."""
    return london_to_utc(day, time(hour, minute))


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.utc)


def person(**values) -> Person:
    n = next(_n)
    fields = {"given_name": "Board", "family_name": f"Person{n}", "date_of_birth": date(1980, 1, 1)}
    fields.update(values)
    made = Person(**fields)
    db.session.add(made)
    db.session.flush()
    return made


def referral(agency: Agency, submitted: datetime, *steps: tuple[str, str, datetime], who: Person | None = None,
             first: str = "submitted", risk: RiskLevel = RiskLevel.HIGH, signposting: str = "",
             reason_kind=None, age_band=None) -> Referral:
    """A referral submitted at `submitted` (to `first`: submitted or waiting), then each step
    (outcome, new status, when). Its status is the last step's."""
    n = next(_n)
    made = Referral(reference=f"R-BOARD-{n:05d}", status=ReferralStatus.DRAFT, person=who or person(),
                    referring_agency_id=agency.id, needs=["housing"], desired_outcomes=[], risk_level=risk,
                    submitted_at=submitted, age_band=age_band)
    db.session.add(made)
    db.session.flush()
    status = "draft"
    for outcome, to, when in (("submitted", first, submitted), *steps):
        declined = to == "declined"
        db.session.add(ReferralDecision(
            referral_id=made.id, outcome=outcome, from_status=status, to_status=to, at=when,
            signposting=signposting if declined else "", signposted=declined and bool(signposting),
            reason_kind=reason_kind if declined else None))
        status = to
        if to in ("accepted", "declined", "withdrawn"):
            made.decided_at = when
    made.status = ReferralStatus(status)
    db.session.flush()
    return made


def case(made: Referral, lead: Agency, accepted_on: date, closed_on: date | None = None, *,
         risk_now: RiskLevel = RiskLevel.MEDIUM, non_engagement: bool = False) -> Case:
    n = next(_n)
    made_case = Case(reference=f"CASPA-2026-{n:03d}", person_id=made.person_id, referral_id=made.id,
                     status=CaseStatus.CLOSED if closed_on else CaseStatus.ACTIVE, lead_agency_id=lead.id,
                     risk_level=risk_now, accepted_on=accepted_on, closed_on=closed_on,
                     closure_for_non_engagement=non_engagement)
    db.session.add(made_case)
    db.session.flush()
    return made_case


def action(on: Case, agency: Agency, due: date, status: ActionStatus = ActionStatus.OPEN,
           closed: datetime | None = None) -> Action:
    made = Action(case_id=on.id, description="An action", agency_id=agency.id, due_on=due, status=status,
                  closed_at=closed)
    db.session.add(made)
    db.session.flush()
    return made


def rung(of: Action, step: LadderStep, when: datetime, round_: int = 1) -> Escalation:
    made = Escalation(action_id=of.id, step=step, round=round_, due_for=when.date(), at=when)
    db.session.add(made)
    db.session.flush()
    return made


def outcome(on: Case, review: OutcomeReview, reviewed_on: date | None) -> PersonalOutcome:
    made = PersonalOutcome(case_id=on.id, words="Words", review=review, reviewed_on=reviewed_on)
    db.session.add(made)
    db.session.flush()
    return made


def panel(day: date, attendance: dict[Agency, AttendanceStatus | None], *, finalised: bool = True,
          chair: User | None = None) -> Meeting:
    """A monthly panel on `day` with attendance recorded, its minutes finalised (and their record
    kept) two days later unless told not to."""
    meeting = Meeting(kind=MeetingKind.PANEL, starts_at=at(day, 10), ends_at=at(day, 12, 30))
    db.session.add(meeting)
    db.session.flush()
    for agency, status in attendance.items():
        db.session.add(Attendance(meeting_id=meeting.id, agency_id=agency.id, status=status))
    db.session.flush()
    if finalised:
        when = at(day + timedelta(days=2), 9)
        meeting.minutes_finalised_at = when
        take_snapshot(meeting, by=chair, now=when)
    return meeting


def agencies(*names: str) -> list[Agency]:
    return [factories.create_agency(name=name) for name in names]
