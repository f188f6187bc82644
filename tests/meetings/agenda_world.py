"""Builders for the agenda, page and PDF tests: agencies with SPoCs, staff, a panel, open cases
of every risk level with actions (some overdue), referrals either side of the cut-off."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from panel.extensions import db
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    AgencyKind,
    Case,
    Meeting,
    MeetingKind,
    ReferralStatus,
    RiskLevel,
    Role,
    User,
    utcnow,
)
from panel.dates import LONDON
from tests import factories
from tests.cases.helpers import create_case

RISKS = [RiskLevel.MEDIUM, RiskLevel.CRITICAL, RiskLevel.LOW, RiskLevel.HIGH]


@dataclass
class World:
    host: Agency
    police: Agency
    housing: Agency
    health: Agency
    coordinator: User
    chair: User
    police_spoc: User
    housing_spoc: User
    health_spoc: User
    practitioner: User
    board: User
    admin: User
    meeting: Meeting
    cases: list[Case] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)


def panel_meeting(starts_at: datetime | None = None, *, cutoff_days: int = 7, minutes: int = 150,
                  **kwargs) -> Meeting:
    """A monthly panel (ten days from now at 10am London time unless told), 2.5 hours long by default."""
    # 10:00 London, not 10:00 UTC: in British Summer Time that would be 11am on the page
    starts_at = starts_at or london(utcnow().astimezone(LONDON).date() + timedelta(days=10), 10)
    meeting = Meeting(kind=MeetingKind.PANEL, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
                      cutoff_on=starts_at.astimezone(LONDON).date() - timedelta(days=cutoff_days), **kwargs)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def add_actions(case: Case, agency: Agency, count: int, *, today: date, overdue_every: int = 3,
                assignee: User | None = None) -> list[Action]:
    """`count` open actions; every `overdue_every`-th is past its due date."""
    actions = []
    for n in range(count):
        due = today - timedelta(days=5 + n) if n % overdue_every == 0 else today + timedelta(days=7 + n)
        actions.append(Action(case_id=case.id, description=f"Action {n + 1} for {case.reference}", agency_id=agency.id,
                              assignee_id=assignee.id if assignee else None, due_on=due, status=ActionStatus.OPEN))
    db.session.add_all(actions)
    db.session.flush()
    return actions


def build(*, cases: int = 4, actions: int = 6, starts_at: datetime | None = None, today: date | None = None) -> World:
    """Agencies, staff, a panel, `cases` open cases (risk levels mixed, the police involved in the
    first half only) and `actions` open actions spread over them."""
    today = today or utcnow().astimezone(LONDON).date()
    host = factories.create_agency(code="host", name="Host Council", kind=AgencyKind.LOCAL_AUTHORITY)
    police = factories.create_agency(code="police", name="Police Service", kind=AgencyKind.POLICE)
    housing = factories.create_agency(code="housing", name="Housing Trust", kind=AgencyKind.HOUSING)
    health = factories.create_agency(code="health", name="Health Trust", kind=AgencyKind.MENTAL_HEALTH)
    coordinator = factories.create_user(role=Role.COORDINATOR, agency=host, email="coordinator@test.invalid",
                                        name="Casey Coordinator")
    chair = factories.create_user(role=Role.CHAIR, agency=host, email="chair@test.invalid", name="Chris Chair")
    police_spoc = factories.create_user(role=Role.SPOC, agency=police, email="spoc.police@test.invalid",
                                        name="Pat Police")
    housing_spoc = factories.create_user(role=Role.SPOC, agency=housing, email="spoc.housing@test.invalid",
                                         name="Harper Housing")
    health_spoc = factories.create_user(role=Role.SPOC, agency=health, email="spoc.health@test.invalid",
                                        name="Hana Health")
    police.spoc, housing.spoc, health.spoc = police_spoc, housing_spoc, health_spoc
    practitioner = factories.create_user(role=Role.PRACTITIONER, agency=police, email="practitioner@test.invalid")
    board = factories.create_user(role=Role.BOARD, agency=host, email="board@test.invalid")
    admin = factories.create_user(role=Role.ADMIN, agency=host, email="admin@test.invalid")
    meeting = panel_meeting(starts_at)
    world = World(host, police, housing, health, coordinator, chair, police_spoc, housing_spoc, health_spoc,
                  practitioner, board, admin, meeting)
    for n in range(cases):
        lead = housing if n % 2 else health
        involved = (police,) if n < (cases + 1) // 2 else ()
        case = create_case(lead=lead, involved=involved, risk=RISKS[n % len(RISKS)],
                           given_name=f"Given{n}", family_name=f"Family{n}")
        case.accepted_on = today - timedelta(days=30 + n)
        world.cases.append(case)
    rows = []
    for n in range(actions):
        case = world.cases[n % len(world.cases)]
        overdue = n % 3 == 0
        rows.append(Action(case_id=case.id, description=f"Action {n + 1} for {case.reference}",
                           agency_id=case.lead_agency_id, due_on=today + timedelta(days=-4 if overdue else 9),
                           status=ActionStatus.OPEN))
    db.session.add_all(rows)
    world.actions = rows
    db.session.flush()
    return world


def awaiting_referral(agency: Agency, *, submitted_at: datetime, given_name: str = "Robin",
                      family_name: str = "Referred"):
    return factories.create_referral(agency=agency, status=ReferralStatus.AWAITING_PANEL, submitted_at=submitted_at,
                                     given_name=given_name, family_name=family_name)


def london(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).astimezone(timezone.utc)
