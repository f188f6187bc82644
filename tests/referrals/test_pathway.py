"""panel.pathway: occupancy, its words, admission at the cap, references and the waiting list."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from panel import pathway
from panel.extensions import db
from panel.models import Case, CaseStatus, Pathway, Person, Referral, ReferralStatus, RiskLevel
from tests import factories

_seq = itertools.count(1)


@pytest.fixture
def app_config():
    return {"CASE_CAP": 3}


@pytest.fixture
def agency(app):
    return factories.create_agency()


def make_referral(agency, status: ReferralStatus, *, risk: RiskLevel = RiskLevel.HIGH,
                  submitted_at: datetime | None = None) -> Referral:
    n = next(_seq)
    referral = Referral(status=status, person=Person(given_name=f"Given{n}", family_name="Family"),
                        referring_agency_id=agency.id, risk_level=risk, needs=["housing"], desired_outcomes=[],
                        submitted_at=submitted_at, reference=None if status == ReferralStatus.DRAFT else f"R-T-{n}")
    db.session.add(referral)
    db.session.flush()
    return referral


def make_case(agency, status: CaseStatus) -> Case:
    referral = make_referral(agency, ReferralStatus.ACCEPTED)
    case = Case(reference=f"CASPA-T-{next(_seq)}", person=referral.person, referral=referral, status=status,
                lead_agency=agency, risk_level=RiskLevel.HIGH, accepted_on=date.today())
    db.session.add(case)
    db.session.flush()
    return case


# ---- occupancy -------------------------------------------------------------------------


def test_occupancy_counts_open_referrals_and_open_cases_only(agency):
    for status in ReferralStatus:
        make_referral(agency, status)
    for status in CaseStatus:
        make_case(agency, status)

    occupancy = pathway.occupancy()

    # submitted, info_requested, awaiting_panel; not draft, waiting, declined, withdrawn or accepted
    assert occupancy.referrals == 3
    # active and closure_proposed; not closed (their accepted referrals do not count again)
    assert occupancy.cases == 2
    assert occupancy.used == 5
    assert occupancy.cap == 3


@pytest.mark.parametrize("status, counts", [
    (ReferralStatus.DRAFT, False), (ReferralStatus.SUBMITTED, True), (ReferralStatus.INFO_REQUESTED, True),
    (ReferralStatus.AWAITING_PANEL, True), (ReferralStatus.ACCEPTED, False), (ReferralStatus.DECLINED, False),
    (ReferralStatus.WITHDRAWN, False), (ReferralStatus.WAITING, False),
])
def test_each_referral_status(agency, status, counts):
    make_referral(agency, status)

    assert pathway.occupancy().referrals == int(counts)


@pytest.mark.parametrize("status, counts", [
    (CaseStatus.ACTIVE, True), (CaseStatus.CLOSURE_PROPOSED, True), (CaseStatus.CLOSED, False),
])
def test_each_case_status(agency, status, counts):
    make_case(agency, status)

    occupancy = pathway.occupancy()
    assert (occupancy.cases, occupancy.referrals) == (int(counts), 0)


def test_an_empty_pathway(app):
    occupancy = pathway.occupancy()

    assert (occupancy.used, occupancy.free, occupancy.full) == (0, 3, False)
    assert occupancy.words == "0 of 3 places used"


def test_occupancy_is_one_query(agency, count_queries):
    make_referral(agency, ReferralStatus.SUBMITTED)
    with count_queries() as counter:
        pathway.occupancy()
    assert counter.count == 1


def test_the_words_on_the_dashboard():
    occupancy = pathway.Occupancy(referrals=4, cases=9, cap=15)

    assert occupancy.words == "13 of 15 places used"
    assert (occupancy.used, occupancy.free, occupancy.full) == (13, 2, False)


def test_full_at_and_past_the_cap():
    assert pathway.Occupancy(referrals=5, cases=10, cap=15).full
    over = pathway.Occupancy(referrals=6, cases=10, cap=15)  # e.g. after the cap was lowered
    assert over.full and over.free == 0
    assert over.words == "16 of 15 places used"


def test_the_cap_comes_from_config(app):
    assert pathway.cap() == 3
    app.config["CASE_CAP"] = "7"
    assert pathway.cap() == 7


# ---- admission -------------------------------------------------------------------------


def test_admit_status_at_the_boundary(agency):
    make_referral(agency, ReferralStatus.SUBMITTED)
    make_case(agency, CaseStatus.ACTIVE)
    make_referral(agency, ReferralStatus.WAITING)
    make_referral(agency, ReferralStatus.DECLINED)
    pathway.lock()

    assert pathway.admit_status() == ReferralStatus.SUBMITTED  # 2 of 3: one place left
    make_referral(agency, ReferralStatus.AWAITING_PANEL)
    assert pathway.admit_status() == ReferralStatus.WAITING     # 3 of 3
    make_case(agency, CaseStatus.CLOSURE_PROPOSED)
    assert pathway.admit_status() == ReferralStatus.WAITING     # 4 of 3


def test_lock_returns_the_pathway_row(app):
    row = pathway.lock()

    assert isinstance(row, Pathway) and row.id == 1


def test_lock_makes_the_row_when_it_is_missing(app):
    db.session.execute(sa.delete(Pathway))
    db.session.flush()

    row = pathway.lock()

    assert row.id == 1 and row.next_referral_number == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(Pathway)).scalar_one() == 1


# ---- references ------------------------------------------------------------------------


def test_referral_references_count_up_and_never_reset(app):
    row = pathway.lock()

    assert pathway.next_referral_reference(row, date(2027, 3, 1)) == "R-2027-00001"
    assert pathway.next_referral_reference(row, date(2027, 12, 31)) == "R-2027-00002"
    assert pathway.next_referral_reference(row, date(2028, 1, 1)) == "R-2028-00003"
    db.session.commit()
    assert db.session.get(Pathway, 1).next_referral_number == 4


def test_case_references_count_from_1_each_year(app):
    row = pathway.lock()

    assert pathway.next_case_reference(row, date(2027, 1, 5)) == "CASPA-2027-001"
    assert pathway.next_case_reference(row, date(2027, 6, 5)) == "CASPA-2027-002"
    assert pathway.next_case_reference(row, date(2027, 12, 31)) == "CASPA-2027-003"
    assert pathway.next_case_reference(row, date(2028, 1, 1)) == "CASPA-2028-001"
    assert pathway.next_case_reference(row, date(2028, 2, 1)) == "CASPA-2028-002"


def test_case_numbers_past_999_keep_counting(app):
    row = pathway.lock()
    row.next_case_year, row.next_case_number = 2027, 1000

    assert pathway.next_case_reference(row, date(2027, 5, 1)) == "CASPA-2027-1000"


# ---- the waiting list ------------------------------------------------------------------


def test_the_waiting_list_is_most_urgent_first_then_longest_waiting(agency):
    start = datetime(2027, 1, 1, 9, 0, tzinfo=timezone.utc)

    def waiting(risk: RiskLevel, days: int) -> int:
        return make_referral(agency, ReferralStatus.WAITING, risk=risk,
                             submitted_at=start + timedelta(days=days)).id

    high_oldest = waiting(RiskLevel.HIGH, 0)
    critical_newest = waiting(RiskLevel.CRITICAL, 5)
    high_newest = waiting(RiskLevel.HIGH, 6)
    critical_oldest = waiting(RiskLevel.CRITICAL, 1)
    high_middle = waiting(RiskLevel.HIGH, 3)
    make_referral(agency, ReferralStatus.SUBMITTED, risk=RiskLevel.CRITICAL, submitted_at=start)
    make_referral(agency, ReferralStatus.DECLINED, risk=RiskLevel.CRITICAL, submitted_at=start)

    assert [r.id for r in pathway.waiting_list()] == [
        critical_oldest, critical_newest, high_oldest, high_middle, high_newest]


def test_the_waiting_list_breaks_ties_by_id(agency):
    at = datetime(2027, 1, 1, tzinfo=timezone.utc)
    first = make_referral(agency, ReferralStatus.WAITING, submitted_at=at).id
    second = make_referral(agency, ReferralStatus.WAITING, submitted_at=at).id

    assert [r.id for r in pathway.waiting_list()] == [first, second]


def test_the_waiting_list_loads_agency_and_person_in_one_query(agency, count_queries):
    for n in range(5):
        make_referral(agency, ReferralStatus.WAITING, submitted_at=datetime(2027, 1, n + 1, tzinfo=timezone.utc))
    db.session.commit()

    with count_queries() as counter:
        names = [(r.person.given_name, r.referring_agency.name) for r in pathway.waiting_list()]
    assert len(names) == 5
    assert counter.count == 1


def test_an_empty_waiting_list(app):
    assert pathway.waiting_list() == []
