"""The Board's figures, from hand-built records at known London times (the period is April to
June 2026, in British Summer Time, so 23:30 UTC is already the next day in London): each report's
counts, medians and ranges, and the queries: a fixed number whatever the data size."""

from __future__ import annotations

from datetime import date

import pytest

from panel.extensions import db
from panel.models import (
    ActionStatus,
    AgeBand,
    AttendanceStatus,
    DeclineReason,
    Disability,
    LadderStep,
    OutcomeReview,
    RiskLevel,
)
from panel.reports import figures, pack
from panel.reports.figures import Stats
from panel.reports.periods import Period
from tests import factories
from tests.reports import board_world as w
from tests.reports.board_world import at, utc

PERIOD = Period(date(2026, 4, 1), date(2026, 6, 30), "April to June 2026")


@pytest.fixture
def agencies(app, db):
    return w.agencies("Agency A", "Agency B", "Agency C")


def test_occupancy_each_week_from_the_dated_decisions_and_the_cases(agencies):
    a = agencies[0]
    first = w.referral(a, at(date(2026, 3, 20)), ("to_panel", "awaiting_panel", at(date(2026, 3, 25))),
                       ("accepted", "accepted", at(date(2026, 4, 8), 11)))
    w.case(first, a, accepted_on=date(2026, 4, 8), closed_on=date(2026, 5, 20))
    w.referral(a, at(date(2026, 4, 15)), ("promoted", "submitted", at(date(2026, 5, 21))),
               ("declined", "declined", at(date(2026, 6, 5))), first="waiting")
    w.referral(a, at(date(2026, 4, 2)), ("withdrawn", "withdrawn", at(date(2026, 4, 3))))
    # withdrawn at 23:30 UTC on Tuesday 7 April: 00:30 on the 8th in London, so still open at the week's end
    w.referral(a, at(date(2026, 4, 6)), ("withdrawn", "withdrawn", utc(date(2026, 4, 7), 23, 30)))

    weeks = figures.occupancy(PERIOD, figures.Days())

    assert [wk.start for wk in weeks][:3] == [date(2026, 4, 1), date(2026, 4, 8), date(2026, 4, 15)]
    assert weeks[-1].start == date(2026, 6, 24) and weeks[-1].end == date(2026, 6, 30)
    assert [wk.places for wk in weeks] == [2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert [wk.waiting for wk in weeks] == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


def test_referral_outcomes_are_as_they_stood_at_the_end_of_the_period(agencies):
    a, b, _ = agencies
    w.referral(a, at(date(2026, 4, 2)), ("to_panel", "awaiting_panel", at(date(2026, 4, 5))),
               ("accepted", "accepted", at(date(2026, 4, 20))))
    w.referral(a, at(date(2026, 6, 25)), ("declined", "declined", at(date(2026, 7, 3))))  # decided after: open
    w.referral(a, at(date(2026, 5, 1)), ("declined", "declined", at(date(2026, 5, 6))),
               signposting="The community mental health team.", reason_kind=DeclineReason.NOT_CRITICAL)
    w.referral(a, at(date(2026, 5, 2)), ("declined", "declined", at(date(2026, 5, 7))),
               reason_kind=DeclineReason.SINGLE_AGENCY)
    w.referral(a, at(date(2026, 5, 3)), first="waiting")
    w.referral(a, at(date(2026, 5, 4)), ("withdrawn", "withdrawn", at(date(2026, 5, 9))))
    w.referral(a, at(date(2026, 3, 30)), ("declined", "declined", at(date(2026, 4, 9))))  # submitted before
    factories.create_referral(agency=b, status="awaiting_panel", submitted_at=at(date(2026, 6, 1)))  # no decisions

    report = _report()

    referrals = report.table("referrals")
    assert referrals.rows == ["Agency A", "Agency B"]
    assert referrals.values == [[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]]
    declined = report.table("declined")
    assert declined.values[:2] == [[1, 0], [0, 1]] and sum(map(sum, declined.values)) == 2


def test_time_to_decision_median_and_range_in_london_days(agencies):
    a = agencies[0]
    w.referral(a, at(date(2026, 4, 1)), ("accepted", "accepted", at(date(2026, 4, 3), 11)))
    # submitted 23:30 UTC on 31 May: 1 June in London, so ten days to 11 June
    w.referral(a, utc(date(2026, 5, 31), 23, 30), ("accepted", "accepted", at(date(2026, 6, 11), 11)))
    w.referral(a, at(date(2026, 4, 10)), ("declined_at_panel", "declined", at(date(2026, 4, 14))))
    w.referral(a, at(date(2026, 6, 1)), ("declined", "declined", at(date(2026, 6, 21))))
    w.referral(a, at(date(2026, 4, 1)), ("withdrawn", "withdrawn", at(date(2026, 4, 9))))       # not a decision
    w.referral(a, at(date(2026, 3, 1)), ("declined", "declined", at(date(2026, 3, 31))))        # decided before

    stats = figures.decision_days(PERIOD, figures.Days())

    assert stats["accepted"] == Stats(number=2, median=6.0, shortest=2, longest=10)
    assert stats["declined"] == Stats(number=2, median=12.0, shortest=4, longest=20)
    assert stats["all"] == Stats(number=4, median=7.0, shortest=2, longest=20)


def test_time_in_the_pathway_and_risk_at_entry_and_closure_for_cases_closed_in_the_period(agencies):
    a = agencies[0]

    def closed(risk_in: RiskLevel, accepted: date, closed_on: date | None, risk_out: RiskLevel, **kw):
        made = w.referral(a, at(accepted - (date(2026, 1, 2) - date(2026, 1, 1))), risk=risk_in)
        return w.case(made, a, accepted_on=accepted, closed_on=closed_on, risk_now=risk_out, **kw)

    closed(RiskLevel.CRITICAL, date(2026, 1, 1), date(2026, 4, 15), RiskLevel.MEDIUM)                  # 104 days
    closed(RiskLevel.HIGH, date(2026, 3, 1), date(2026, 5, 1), RiskLevel.LOW, non_engagement=True)    # 61
    closed(RiskLevel.CRITICAL, date(2026, 2, 1), date(2026, 6, 30), RiskLevel.MEDIUM)                 # 149
    closed(RiskLevel.CRITICAL, date(2026, 2, 1), date(2026, 7, 1), RiskLevel.LOW)                     # after
    closed(RiskLevel.HIGH, date(2026, 2, 1), None, RiskLevel.HIGH)                                    # open

    days = figures.pathway_days(PERIOD, figures.Days())
    risk = figures.risk_at_entry_and_closure(PERIOD)

    assert days["risk_reduced"] == Stats(number=2, median=126.5, shortest=104, longest=149)
    assert days["non_engagement"] == Stats(number=1, median=61.0, shortest=61, longest=61)
    assert days["all"] == Stats(number=3, median=104.0, shortest=61, longest=149)
    assert risk == {("critical", "medium"): 2, ("high", "low"): 1}


def test_repeat_referrals_are_three_or_more_in_the_twelve_months_up_to_one_in_the_period(agencies):
    a = agencies[0]
    repeat, spread, once, before, twice = (w.person() for _ in range(5))
    for day in (date(2025, 7, 1), date(2026, 1, 10), date(2026, 5, 5)):
        w.referral(a, at(day), who=repeat)
    for day in (date(2025, 3, 1), date(2025, 11, 1), date(2026, 4, 10)):   # the first is over 365 days earlier
        w.referral(a, at(day), who=spread)
    w.referral(a, at(date(2026, 6, 2)), who=once)
    factories.create_referral(agency=a, status="draft", person=once)       # a draft is no referral
    for day in (date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)):  # none in the period
        w.referral(a, at(day), who=before)
    for day in (date(2024, 6, 1), date(2026, 4, 2), date(2026, 6, 3)):
        w.referral(a, at(day), who=twice)

    assert figures.repeat_referrals(PERIOD, figures.Days()) == (1, 3)


def test_actions_due_in_the_period_and_what_became_of_them_by_its_end(agencies):
    a, b, _ = agencies
    made = w.case(w.referral(a, at(date(2026, 3, 1))), a, accepted_on=date(2026, 3, 10))
    w.action(made, a, date(2026, 5, 10), ActionStatus.DONE, at(date(2026, 5, 9)))
    w.action(made, a, date(2026, 5, 10), ActionStatus.DONE, utc(date(2026, 5, 10), 23, 30))  # the 11th in London
    w.action(made, a, date(2026, 6, 1), ActionStatus.NOT_DONE, at(date(2026, 6, 5)))
    w.action(made, a, date(2026, 6, 20), ActionStatus.DONE, at(date(2026, 7, 2)))   # done after the period
    w.action(made, a, date(2026, 6, 30))
    w.action(made, a, date(2026, 3, 30), ActionStatus.DONE, at(date(2026, 3, 29)))  # due before
    w.action(made, b, date(2026, 4, 15), ActionStatus.CANCELLED, at(date(2026, 4, 10)))
    w.action(made, b, date(2026, 4, 20), ActionStatus.NOT_POSSIBLE, at(date(2026, 4, 19)))

    counts = figures.actions_due(PERIOD, figures.Days())

    assert counts == {(a.id, "Agency A", "on_time"): 1, (a.id, "Agency A", "late"): 1,
                      (a.id, "Agency A", "not_done"): 1, (a.id, "Agency A", "open"): 2,
                      (b.id, "Agency B", "cancelled"): 1, (b.id, "Agency B", "not_possible"): 1}


def test_escalations_by_agency_and_rung_taken_in_the_period(agencies):
    a, b, _ = agencies
    made = w.case(w.referral(a, at(date(2026, 3, 1))), a, accepted_on=date(2026, 3, 10))
    late, undone, early = (w.action(made, a, date(2026, 5, 8)), w.action(made, a, date(2026, 6, 1)),
                           w.action(made, b, date(2026, 3, 30)))
    w.rung(late, LadderStep.REMINDER, at(date(2026, 5, 5), 7))
    w.rung(late, LadderStep.OVERDUE, at(date(2026, 5, 11), 7))
    for step, day in ((LadderStep.REMINDER, 27), (LadderStep.OVERDUE, 2), (LadderStep.AGENCY, 8),
                      (LadderStep.CHAIR, 15)):
        w.rung(undone, step, at(date(2026, 5 if day == 27 else 6, day), 7))
    w.rung(undone, LadderStep.MANUAL_CHAIR, utc(date(2026, 6, 30), 23, 30))  # 1 July in London
    w.rung(early, LadderStep.REMINDER, at(date(2026, 3, 25), 7))

    assert figures.escalations(PERIOD) == {(a.id, "Agency A", "reminder"): 2, (a.id, "Agency A", "overdue"): 2,
                                           (a.id, "Agency A", "agency"): 1, (a.id, "Agency A", "chair"): 1}


def test_msp_outcomes_reviewed_in_the_period(agencies):
    a = agencies[0]
    made = w.case(w.referral(a, at(date(2026, 3, 1))), a, accepted_on=date(2026, 3, 10))
    for review, day in ((OutcomeReview.ACHIEVED, date(2026, 4, 1)), (OutcomeReview.ACHIEVED, date(2026, 6, 30)),
                        (OutcomeReview.PARTLY_ACHIEVED, date(2026, 5, 5)), (OutcomeReview.NOT_ACHIEVED, date(2026, 5, 6)),
                        (OutcomeReview.ACHIEVED, date(2026, 3, 31)), (OutcomeReview.OPEN, None)):
        w.outcome(made, review, day)

    assert figures.msp_outcomes(PERIOD) == {"achieved": 2, "partly_achieved": 1, "not_achieved": 1}


def test_attendance_comes_from_the_finalised_minutes_record(agencies):
    a, b, c = agencies
    may = w.panel(date(2026, 5, 13), {a: AttendanceStatus.PRESENT, b: AttendanceStatus.ABSENT, c: None})
    w.panel(date(2026, 6, 10), {a: AttendanceStatus.APOLOGIES_WITH_UPDATE, b: AttendanceStatus.PRESENT})
    w.panel(date(2026, 6, 24), {a: AttendanceStatus.ABSENT}, finalised=False)
    w.panel(date(2026, 3, 11), {a: AttendanceStatus.ABSENT})
    # a row changed after the minutes were signed off does not change what they record
    may.attendance[0].status = AttendanceStatus.ABSENT
    db.session.flush()

    assert figures.attendance(PERIOD) == {
        (a.id, "Agency A", "present"): 1, (a.id, "Agency A", "apologies_with_update"): 1,
        (b.id, "Agency B", "absent"): 1, (b.id, "Agency B", "present"): 1, (c.id, "Agency C", None): 1}


def test_equality_groups_what_referrers_typed_without_showing_it(agencies):
    a = agencies[0]
    people = [
        dict(gender="Female ", ethnicity="White and Black Caribbean", first_language="english", interpreter_needed=False,
             disability=Disability.YES),
        dict(gender="man", ethnicity="Pakistani", first_language="Polish", interpreter_needed=True),
        dict(gender="", ethnicity="Black African", first_language="", interpreter_needed=None,
             disability=Disability.NO),
        dict(gender="Agender", ethnicity="Arab", first_language="English (UK)", disability=Disability.NOT_SAID),
        dict(gender="Non-binary", ethnicity="White British", first_language="English"),
    ]
    bands = [AgeBand.AGE_25_34, None, AgeBand.AGE_85_PLUS, AgeBand.AGE_85_PLUS, AgeBand.AGE_18_24]
    for values, band in zip(people, bands, strict=True):
        w.referral(a, at(date(2026, 5, 1)), who=w.person(**values), age_band=band)
    # linked to an earlier person record: counted as the referrer described them
    linked = w.referral(a, at(date(2026, 5, 2)), who=w.person(gender="Male"), age_band=AgeBand.AGE_45_54)
    linked.referred_person_id = w.person(gender="Female").id
    w.referral(a, at(date(2026, 3, 1)), who=w.person(gender="Male"))  # before the period
    db.session.flush()

    counts = figures.equality(PERIOD)

    def heading(name):
        return {group: n for (h, group), n in counts.items() if h == name}

    assert heading("gender") == {"female": 2, "male": 1, "not_recorded": 1, "other": 1, "non_binary": 1}
    assert heading("ethnicity") == {"mixed": 1, "asian": 1, "black": 1, "other": 1, "white": 1, "not_recorded": 1}
    assert heading("language") == {"english": 3, "other": 1, "not_recorded": 2}
    assert heading("interpreter") == {"not_needed": 1, "needed": 1, "not_recorded": 4}
    assert heading("disability") == {"yes": 1, "no": 1, "not_said": 1, "not_recorded": 3}
    assert heading("age") == {"25_34": 1, "not_recorded": 1, "85_plus": 2, "18_24": 1, "45_54": 1}


def test_the_age_band_is_the_one_kept_at_submission_not_worked_out_from_the_date_of_birth(app, db):
    """Retention erases the date of birth; the Board's past figures must not change when it does."""
    from panel.referrals import services

    user = factories.create_user()
    referral = factories.create_referral(by=user, status="draft", date_of_birth=date(1990, 6, 1))
    services.submit(referral, by=user, today=date(2026, 5, 31))
    referral.submitted_at = at(date(2026, 5, 31))
    assert referral.age_band == AgeBand.AGE_35_44  # 35 the day before their 36th birthday
    referral.person.date_of_birth = None            # as retention leaves it
    db.session.flush()

    assert figures.equality(PERIOD)[("age", "35_44")] == 1


def _report():
    report = pack.Report(period=PERIOD, cap=15, made_at=at(date(2026, 7, 1)),
                         sections=pack.tables_for(figures.compute(PERIOD), 15))
    pack.protect_all(report.tables)
    return report


def _lots(agencies, n: int) -> None:
    """n of everything, over the period."""
    a, b, c = agencies
    for i in range(n):
        day = date(2026, 4, 1 + i % 28)
        agency = (a, b, c)[i % 3]
        made = w.referral(agency, at(day), ("to_panel", "awaiting_panel", at(day, 11)),
                          ("accepted", "accepted", at(date(2026, 5, 1 + i % 28))))
        closed = w.case(made, agency, accepted_on=date(2026, 5, 1 + i % 28), closed_on=date(2026, 6, 1 + i % 28))
        done = w.action(closed, agency, date(2026, 5, 10 + i % 15), ActionStatus.DONE, at(date(2026, 5, 9)))
        w.rung(done, LadderStep.REMINDER, at(date(2026, 5, 5), 7))
        w.outcome(closed, OutcomeReview.ACHIEVED, date(2026, 6, 1))
        w.referral(agency, at(day), ("declined", "declined", at(day, 15)), signposting="Elsewhere.")
    for month in (4, 5, 6):
        w.panel(date(2026, month, 8), {a: AttendanceStatus.PRESENT, b: AttendanceStatus.ABSENT})


def test_the_figures_take_the_same_number_of_queries_for_a_little_data_and_a_lot(agencies, count_queries):
    _lots(agencies, 1)
    figures.Days()  # registers the SQLite functions: not a query
    with count_queries() as small:
        little = figures.compute(PERIOD)
    _lots(agencies, 40)
    with count_queries() as large:
        lot = figures.compute(PERIOD)

    assert small.count == large.count == figures.QUERIES
    assert sum(lot.outcomes.values()) == 82 > sum(little.outcomes.values()) == 2
