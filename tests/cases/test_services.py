"""Rules of the case record: risk history, staff safety, agencies, engagement, insight, outcomes, closure."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from panel.cases import services
from panel.models import (
    CaseEvent,
    CaseNotice,
    CaseStatus,
    EngagementMethod,
    EngagementOutcome,
    OutboxMessage,
    OutcomeReview,
    RiskChange,
    RiskLevel,
    Role,
    StaffSafetyKind,
)
from panel.forms.errors import ServiceError
from tests import factories
from tests.cases.helpers import create_case

UTC = timezone.utc


@pytest.fixture
def coordinator(db):
    return factories.create_user(role=Role.COORDINATOR, email="coord@test.invalid")


def _emails(db):
    return db.session.execute(sa.select(OutboxMessage)).scalars().all()


def test_a_risk_change_needs_a_reason_and_is_kept_in_the_history(db, coordinator):
    case = create_case()
    with pytest.raises(ValueError):
        services.change_risk(case, level=RiskLevel.HIGH, reason="  ", by=coordinator)
    services.change_risk(case, level=RiskLevel.HIGH, reason="Settled in new flat", by=coordinator)
    change = db.session.execute(sa.select(RiskChange)).scalar_one()
    assert (change.from_level, change.to_level, change.by_id) == (RiskLevel.CRITICAL, RiskLevel.HIGH, coordinator.id)
    assert case.risk_level == RiskLevel.HIGH
    assert db.session.execute(sa.select(CaseEvent.kind)).scalars().all() == ["risk"]
    assert services.change_risk(case, level=RiskLevel.HIGH, reason="same", by=coordinator) is None


def test_staff_safety_flags_are_active_until_cleared(db, coordinator):
    case = create_case()
    flag = services.set_staff_safety_flag(case, kind=StaffSafetyKind.HOSTILITY, details="Dog at the door",
                                          by=coordinator)
    assert [f.id for f in services.active_flags(case.id)] == [flag.id]
    services.clear_staff_safety_flag(flag, case, by=coordinator)
    assert services.active_flags(case.id) == []


def test_adding_an_agency_tells_its_acting_spoc_without_personal_data(db, coordinator):
    case = create_case(given_name="Zebedee", family_name="Quaintly")
    housing = factories.create_agency(code="housing-x")
    spoc = factories.create_user(role=Role.SPOC, agency=housing, email="spoc@test.invalid")
    deputy = factories.create_user(role=Role.SPOC, agency=housing, email="deputy@test.invalid")
    housing.spoc, housing.deputy_spoc = spoc, deputy
    factories.mark_spoc_absent(housing)
    services.add_agency(case, agency=housing, named_worker="Jo Worker", has_rapport=True, by=coordinator)
    [email] = _emails(db)
    assert email.to_addr == "deputy@test.invalid"  # the deputy acts while the SPoC is absent
    assert case.reference in email.body_text
    for secret in ("Zebedee", "Quaintly", "LU1 2AB", "9434765919", "1980"):
        assert secret not in email.body_text + email.subject
    with pytest.raises(ServiceError):
        services.add_agency(case, agency=housing, named_worker="", has_rapport=False, by=coordinator)


def test_out_of_hours_is_derived_from_london_working_hours_and_bank_holidays(db, coordinator):
    case = create_case()
    weekday_morning = datetime(2026, 7, 7, 9, 30, tzinfo=UTC)  # 10:30 BST, a Tuesday
    evening = datetime(2026, 7, 7, 17, 30, tzinfo=UTC)  # 18:30 BST
    christmas = datetime(2025, 12, 25, 11, 0, tzinfo=UTC)
    results = [services.record_attempt(case, agency=case.lead_agency, method=EngagementMethod.PHONE,
                                       occurred_at=when, outcome=EngagementOutcome.NO_ANSWER, by=coordinator).out_of_hours
               for when in (weekday_morning, evening, christmas)]
    assert results == [False, True, True]


def test_an_attempt_in_the_future_is_refused(db, coordinator):
    case = create_case()
    with pytest.raises(ValueError):
        services.record_attempt(case, agency=case.lead_agency, method=EngagementMethod.PHONE,
                                occurred_at=datetime.now(UTC) + timedelta(hours=1),
                                outcome=EngagementOutcome.ENGAGED, by=coordinator)


def _visit(case, by, outcome, days_ago):
    return services.record_attempt(case, agency=case.lead_agency, method=EngagementMethod.HOME_VISIT,
                                   occurred_at=datetime.now(UTC) - timedelta(days=days_ago), outcome=outcome, by=by)


def test_two_missed_planned_visits_in_a_row_raise_one_notice(db, coordinator):
    lead = factories.create_agency(code="lead-x")
    lead.spoc = factories.create_user(role=Role.SPOC, agency=lead, email="lead.spoc@test.invalid")
    case = create_case(lead=lead)
    _visit(case, coordinator, EngagementOutcome.NOT_IN, 10)
    assert db.session.execute(sa.select(sa.func.count()).select_from(CaseNotice)).scalar_one() == 0
    _visit(case, coordinator, EngagementOutcome.MISSED_APPOINTMENT, 8)
    _visit(case, coordinator, EngagementOutcome.NOT_IN, 6)  # a third miss: still one notice
    assert db.session.execute(sa.select(sa.func.count()).select_from(CaseNotice)).scalar_one() == 1
    assert sorted(m.to_addr for m in _emails(db)) == ["coord@test.invalid", "lead.spoc@test.invalid"]
    _visit(case, coordinator, EngagementOutcome.ENGAGED, 4)  # the run ends
    _visit(case, coordinator, EngagementOutcome.NOT_IN, 3)
    _visit(case, coordinator, EngagementOutcome.NOT_IN, 2)  # a new run: a new notice
    assert db.session.execute(sa.select(sa.func.count()).select_from(CaseNotice)).scalar_one() == 2


def test_insight_is_kept_as_dated_versions(db, coordinator):
    case = create_case()
    services.record_insight(case, answers={"most_settled": "Mornings"}, by=coordinator)
    services.record_insight(case, answers={"most_settled": "Mornings, after breakfast"}, by=coordinator)
    from panel.models import InsightVersion

    versions = db.session.execute(sa.select(InsightVersion.most_settled).order_by(InsightVersion.id)).scalars().all()
    assert versions == ["Mornings", "Mornings, after breakfast"]


def _ready_for_closure(case, coordinator, step_down):
    services.change_risk(case, level=RiskLevel.MEDIUM, reason="Risk reduced", by=coordinator)
    outcome = services.add_outcome(case, words="I want my own front door", asked=True, expressed=True, by=coordinator)
    services.review_outcome(outcome, case, review=OutcomeReview.ACHIEVED, on=date.today(), by=coordinator)


def test_closure_checklist_lists_what_is_unmet(db, coordinator):
    case = create_case()
    check = services.closure_check(case)
    assert not check.ready
    assert any("Risk is critical" in item for item in check.unmet)
    assert "Name the step-down agency" in check.unmet
    assert any("desired outcomes" in item for item in check.unmet)


def test_non_engagement_closure_needs_suffolks_persistence_record(db, coordinator):
    step_down = factories.create_agency(code="asc-x")
    case = create_case()
    _ready_for_closure(case, coordinator, step_down)
    services.propose_closure(case, rationale="Would not engage despite persistent efforts", for_non_engagement=True,
                             step_down_agency=step_down, accepted_by="Pat Lead", accepted_on=date.today(),
                             by=coordinator)
    check = services.closure_check(case)
    assert "Only 0 phone attempts: at least three are needed" in check.unmet
    assert "No letter sent" in check.unmet and "No home visit" in check.unmet
    base = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
    for hours in (0, 2, 9):  # the last at 19:00: out of hours
        services.record_attempt(case, agency=case.lead_agency, method=EngagementMethod.PHONE,
                                occurred_at=base + timedelta(hours=hours), outcome=EngagementOutcome.NO_ANSWER,
                                by=coordinator)
    for method in (EngagementMethod.LETTER, EngagementMethod.HOME_VISIT):
        services.record_attempt(case, agency=case.lead_agency, method=method, occurred_at=base + timedelta(days=1),
                                outcome=EngagementOutcome.NOT_IN, by=coordinator)
    assert services.closure_check(case).ready


def test_approval_closes_the_case_frees_a_place_and_tells_people(app, db, coordinator):
    from panel import pathway

    chair = factories.create_user(role=Role.CHAIR)
    step_down = factories.create_agency(code="asc-y")
    case = create_case()
    _ready_for_closure(case, coordinator, step_down)
    before = pathway.occupancy().used
    with pytest.raises(ServiceError):
        services.approve_closure(case, panel_date=date.today(), by=chair)  # not proposed yet
    services.propose_closure(case, rationale="Risk reduced; housing stable", for_non_engagement=False,
                             step_down_agency=step_down, accepted_by="Pat Lead", accepted_on=date.today(),
                             by=coordinator)
    services.approve_closure(case, panel_date=date.today(), by=chair)
    assert case.status == CaseStatus.CLOSED
    assert pathway.occupancy().used == before - 1
    assert "coord@test.invalid" in {m.to_addr for m in _emails(db)}


def test_a_closure_that_is_not_ready_cannot_be_approved_and_can_be_returned(db, coordinator):
    chair = factories.create_user(role=Role.CHAIR)
    case = create_case()
    services.propose_closure(case, rationale="x", for_non_engagement=False, step_down_agency=None, accepted_by="",
                             accepted_on=None, by=coordinator)
    with pytest.raises(ServiceError, match="not ready"):
        services.approve_closure(case, panel_date=date.today(), by=chair)
    services.return_closure(case, reason="Risk still critical", by=chair)
    assert case.status == CaseStatus.ACTIVE


def test_reopening_takes_a_place_within_the_cap(app, db, coordinator):
    case = create_case(status=CaseStatus.CLOSED)
    app.config["CASE_CAP"] = 1
    create_case()  # the only place is now used
    with pytest.raises(ServiceError, match="full"):
        services.reopen(case, reason="Risk escalated again", by=coordinator)
    app.config["CASE_CAP"] = 2
    services.reopen(case, reason="Risk escalated again", by=coordinator)
    assert case.status == CaseStatus.ACTIVE


def test_today_is_londons_today_even_when_the_server_clock_says_yesterday(db, coordinator):
    """At 23:30 UTC on 30 June it is already 1 July in London: a review dated 1 July is today, not
    the future, whatever the server's own time zone; 2 July is still refused."""
    case = create_case()
    outcome = services.add_outcome(case, words="To keep my flat", asked=True, expressed=True, by=coordinator)
    with time_machine.travel(datetime(2027, 6, 30, 23, 30, tzinfo=timezone.utc), tick=False):
        with pytest.raises(ValueError, match="today or in the past"):
            services.review_outcome(outcome, case, review=OutcomeReview.ACHIEVED, on=date(2027, 7, 2), by=coordinator)
        services.review_outcome(outcome, case, review=OutcomeReview.ACHIEVED, on=date(2027, 7, 1), by=coordinator)
    assert outcome.reviewed_on == date(2027, 7, 1)
