"""Builders for the attendance and minutes tests: a host council (coordinator and chair), two
partner agencies with SPoCs, one agency without a SPoC, a panel (by default under way now), the
panel before it with an open action, an active case, a case proposed for closure and a referral
awaiting the panel, with the agenda built from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from panel.extensions import db
from panel.meetings.agenda import sync_agenda
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    AgendaItem,
    AgendaItemKind,
    AgencyKind,
    Case,
    CaseStatus,
    Meeting,
    MeetingKind,
    Referral,
    RiskLevel,
    Role,
    User,
    utcnow,
)
from panel.dates import LONDON
from tests import factories
from tests.cases.helpers import create_case


def panel(starts_at: datetime, *, minutes: int = 150) -> Meeting:
    meeting = Meeting(kind=MeetingKind.PANEL, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
                      cutoff_on=starts_at.astimezone(LONDON).date())
    db.session.add(meeting)
    db.session.flush()
    return meeting


@dataclass
class World:
    host: Agency
    police: Agency
    housing: Agency
    nospoc: Agency
    coordinator: User
    chair: User
    police_spoc: User
    housing_spoc: User
    practitioner: User
    meeting: Meeting
    previous: Meeting
    case: Case
    closing: Case
    referral: Referral
    last_action: Action

    def item(self, kind: AgendaItemKind) -> AgendaItem:
        return next(i for i in self.meeting.items if i.kind == kind)

    @property
    def today(self) -> date:
        return utcnow().astimezone(LONDON).date()


def build(*, starts_in: timedelta = -timedelta(hours=1), agenda: bool = True) -> World:
    """The panel starts `starts_in` from now (by default it began an hour ago)."""
    host = factories.create_agency(code="host", name="Host Council", kind=AgencyKind.LOCAL_AUTHORITY)
    police = factories.create_agency(code="police", name="Police", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Housing", kind=AgencyKind.HOUSING)
    nospoc = factories.create_agency(code="fire", name="Fire and Rescue", kind=AgencyKind.FIRE)
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=host, name="Casey Coordinator",
                                        email="coordinator@test.invalid")
    chair = factories.create_user(role=Role.CHAIR, agency=host, name="Charlie Chair", email="chair@test.invalid")
    police_spoc = factories.create_user(role=Role.SPOC, agency=police, name="Pat Police", email="police.spoc@test.invalid")
    housing_spoc = factories.create_user(role=Role.SPOC, agency=housing, name="Harper Housing",
                                         email="housing.spoc@test.invalid")
    practitioner = factories.create_user(role=Role.PRACTITIONER, agency=police, email="worker@test.invalid")
    police.spoc, housing.spoc = police_spoc, housing_spoc
    host.spoc = coordinator  # the host council is expected too
    starts = (utcnow() + starts_in).replace(microsecond=0)
    meeting = panel(starts)
    previous = panel(starts - timedelta(days=28))
    case = create_case(lead=police, involved=(housing,), risk=RiskLevel.HIGH, given_name="Zebedee",
                       family_name="Quaintly")
    closing = create_case(lead=housing, risk=RiskLevel.LOW, status=CaseStatus.CLOSURE_PROPOSED,
                          given_name="Ottoline", family_name="Vexley")
    referral = factories.create_referral(agency=police, status="awaiting_panel", given_name="Rowena",
                                         family_name="Thistlewood", submitted_at=starts - timedelta(days=10))
    last_action = Action(case_id=case.id, meeting_id=previous.id, description="Arrange a joint visit with housing",
                         agency_id=police.id, due_on=starts.astimezone(LONDON).date() - timedelta(days=3),
                         status=ActionStatus.OPEN, created_by_id=coordinator.id)
    db.session.add(last_action)
    db.session.flush()
    if agenda:
        sync_agenda(meeting, by=coordinator)
    db.session.flush()
    return World(host=host, police=police, housing=housing, nospoc=nospoc, coordinator=coordinator, chair=chair,
                 police_spoc=police_spoc, housing_spoc=housing_spoc, practitioner=practitioner, meeting=meeting,
                 previous=previous, case=case, closing=closing, referral=referral, last_action=last_action)
