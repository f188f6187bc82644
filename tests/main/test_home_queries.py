"""Every home page runs the same number of SQL queries with the small world of the home tests
and with 5,000 people, 2,000 cases and 80,000 actions (escalations, panels, MDTs and
invitations besides), built with bulk inserts in the test's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from panel.dates import london_today
from panel.extensions import db
from panel.models import (
    Action,
    ActionStatus,
    Agency,
    AttendeeResponse,
    Case,
    CaseStatus,
    Escalation,
    Involvement,
    LadderStep,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    Person,
    Referral,
    ReferralStatus,
    RiskLevel,
    User,
    utcnow,
)
from tests.conftest import PG_URL, page
from tests.html.conftest import load_demo
from tests.main import home_world

PEOPLE, CASES, ACTIONS = 5000, 2000, 80_000
ROLES = ("coordinator", "chair", "spoc", "deputy", "practitioner", "board", "admin")


def _ids(model, rows: list[dict]) -> list[int]:
    return list(db.session.scalars(sa.insert(model).returning(model.id, sort_by_parameter_order=True), rows))


def grow(world: home_world.World) -> None:
    """The big data, spread over the world's agencies and people so every list and count grows."""
    police, housing = world.agencies["police"], world.agencies["housing"]
    u = world.users
    now, today = utcnow(), london_today()
    statuses = [ReferralStatus.SUBMITTED, ReferralStatus.INFO_REQUESTED, ReferralStatus.DECLINED,
                ReferralStatus.WAITING, ReferralStatus.DRAFT, ReferralStatus.AWAITING_PANEL]
    people = _ids(Person, [{"given_name": f"Given{n}", "family_name": f"Family{n}", "postcode": "LU1 1AA"}
                           for n in range(PEOPLE)])
    referrals = _ids(Referral, [
        {"person_id": pid, "referring_agency_id": (police if n % 2 else housing).id,
         "created_by_id": u["practitioner"].id if n % 4 == 1 else None,
         "status": ReferralStatus.ACCEPTED if n < CASES else statuses[n % len(statuses)],
         "reference": None if n >= CASES and statuses[n % len(statuses)] == ReferralStatus.DRAFT else f"RB-{n:05d}",
         "risk_level": RiskLevel.HIGH, "needs": [], "desired_outcomes": [], "submitted_at": now - timedelta(minutes=n)}
        for n, pid in enumerate(people)])
    cases = _ids(Case, [
        {"reference": f"BIG-{n:05d}", "person_id": people[n], "referral_id": referrals[n],
         "lead_agency_id": (police if n % 2 else housing).id, "risk_level": list(RiskLevel)[n % 4],
         "accepted_on": today - timedelta(days=400), "closure_proposed_at": now if n % 5 == 1 else None,
         "status": CaseStatus.CLOSED if n % 3 == 0 else (CaseStatus.CLOSURE_PROPOSED if n % 5 == 1 else CaseStatus.ACTIVE)}
        for n in range(CASES)])
    db.session.execute(sa.insert(Involvement), [
        {"case_id": case_id, "agency_id": agency.id,
         "worker_user_id": u["practitioner"].id if agency is police and n % 7 == 0 else None}
        for n, case_id in enumerate(cases) for agency in ((police, housing) if n % 2 else (housing,))])
    assignees = [None, u["practitioner"].id, u["deputy"].id, u["spoc"].id]
    db.session.execute(sa.insert(Action), [
        {"case_id": cases[n % CASES], "description": f"Big action {n}", "agency_id": (police if n % 2 else housing).id,
         "assignee_id": assignees[n % 4], "due_on": today + timedelta(days=n % 40 - 20),
         "status": ActionStatus.OPEN if n % 5 else ActionStatus.DONE, "closed_at": None if n % 5 else now,
         "created_by_id": u["coordinator"].id}
        for n in range(ACTIONS)])
    some = list(db.session.scalars(sa.select(Action.id).where(Action.description.like("Big action %"))
                                   .order_by(Action.id).limit(3000)))
    db.session.execute(sa.insert(Escalation), [
        {"action_id": action_id, "step": [LadderStep.AGENCY, LadderStep.CHAIR, LadderStep.MANUAL_CHAIR][n % 3],
         "round": 1, "due_for": today, "at": now - timedelta(days=n % 3)}
        for n, action_id in enumerate(some)])
    meetings = _ids(Meeting, [
        {"kind": MeetingKind.PANEL, "starts_at": now - timedelta(days=40 + n), "ends_at": now - timedelta(days=40 + n)
         + timedelta(hours=2)} for n in range(30)] + [
        {"kind": MeetingKind.MDT, "case_id": cases[n * 2 + 1], "starts_at": now + timedelta(days=1 + n % 20),
         "ends_at": now + timedelta(days=1 + n % 20, hours=1)} for n in range(60)])
    db.session.execute(sa.insert(MeetingAttendee), [
        {"meeting_id": meeting_id, "user_id": user.id, "name": user.name, "email": user.email,
         "response": AttendeeResponse.NEEDS_ACTION}
        for meeting_id in meetings[30:] for user in (u["spoc"], u["practitioner"], u["deputy"])])
    db.session.commit()


def _queries(client, login_as, count_queries, world) -> dict[str, int]:
    out = {}
    for who in ROLES:
        login_as(world.users[who])
        client.get("/")  # compiled templates and cached statements, as in a running service
        with count_queries() as counter:
            response = client.get("/")
        assert response.status_code == 200, who
        out[who] = counter.count
    return out


@pytest.mark.skipif(bool(PG_URL), reason="a count of queries is the same on either database; building 80,000 actions "
                                         "takes minutes on PostgreSQL, so the big world is built on SQLite only")
def test_each_home_page_runs_the_same_queries_for_a_small_world_and_a_big_one(app, client, login_as,
                                                                            count_queries):
    world = home_world.build()
    db.session.commit()
    few = _queries(client, login_as, count_queries, world)

    grow(world)
    assert db.session.scalar(sa.select(sa.func.count(Action.id))) >= ACTIONS
    many = _queries(client, login_as, count_queries, world)

    assert many == few, (few, many)
    login_as(world.users["spoc"])
    home = page(client.get("/"))
    assert int(home.select_one("#today-overdue")["data-count"]) > 1000   # the big data is on the page's counts
    assert len(home.select("#our-cases tbody tr")) == 50                  # and its lists stay short
    login_as(world.users["coordinator"])
    assert len(page(client.get("/")).select("#mdt-replies tbody tr")) == 10


DEMO_USERS = {"coordinator": "coordinator@demo.invalid", "chair": "chair@demo.invalid",
              "spoc": "spoc.police@demo.invalid", "deputy": "deputy.probation@demo.invalid",
              "practitioner": "practitioner.health@demo.invalid", "board": "board@demo.invalid",
              "admin": "admin@demo.invalid"}


@pytest.mark.skipif(bool(PG_URL), reason="a count of queries is the same on either database; building 80,000 actions "
                                         "takes minutes on PostgreSQL, so the big world is built on SQLite only")
def test_the_same_queries_at_demo_size_and_with_the_big_data_added_to_it(app, client, login_as, count_queries):
    """The demo data (the deputy who acts for the absent probation SPoC among the users), then the
    same big data added to it."""
    load_demo(app)
    users = {who: db.session.scalar(sa.select(User).where(User.email == email)) for who, email in DEMO_USERS.items()}
    agencies = {code: db.session.scalar(sa.select(Agency).where(Agency.code == code)) for code in ("police", "housing")}
    world = home_world.World(agencies=agencies, users=users, cases={}, referrals={}, actions={})
    few = _queries(client, login_as, count_queries, world)

    grow(world)
    many = _queries(client, login_as, count_queries, world)

    assert many == few, (few, many)
