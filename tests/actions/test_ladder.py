"""The escalation ladder as pure functions: the rungs' dates on England and Wales working days
(bank holidays and weekends skipped), what the sweep takes on a given London day, and where a
new ladder round starts. Real 2027 dates: Easter (Good Friday 26 March, Easter Monday 29 March),
the late-May bank holiday (31 May) and Christmas, with the weekends around them."""

from __future__ import annotations

from datetime import date

import pytest

from panel.actions.ladder import AUTOMATIC, Offsets, Plan, first_step, plan, step_dates
from panel.models import LadderStep as S

DEFAULT = Offsets()


def d(month: int, day: int, year: int = 2027) -> date:
    return date(year, month, day)


def test_the_rungs_come_in_order_and_the_defaults_are_the_issues_numbers():
    assert AUTOMATIC == (S.REMINDER, S.OVERDUE, S.AGENCY, S.CHAIR)
    assert DEFAULT == Offsets(reminder_before=3, overdue_after=1, agency_after=5, chair_after=10)
    assert Offsets.from_config({}) == DEFAULT


def test_offsets_come_from_the_settings():
    config = {"ACTION_REMINDER_WORKING_DAYS": "2", "ACTION_OVERDUE_WORKING_DAYS": 2,
              "ACTION_AGENCY_ESCALATION_WORKING_DAYS": "4", "ACTION_CHAIR_ESCALATION_WORKING_DAYS": 8}
    assert Offsets.from_config(config) == Offsets(2, 2, 4, 8)
    assert step_dates(d(4, 14), Offsets.from_config(config)) == {
        S.REMINDER: d(4, 12), S.OVERDUE: d(4, 16), S.AGENCY: d(4, 20), S.CHAIR: d(4, 26)}


@pytest.mark.parametrize("due, expected", [
    # due the Tuesday after Easter: the reminder skips Easter Monday, the weekend and Good Friday
    (d(3, 30), {S.REMINDER: d(3, 23), S.OVERDUE: d(3, 31), S.AGENCY: d(4, 6), S.CHAIR: d(4, 13)}),
    # due on Good Friday itself (a bank holiday): overdue the Tuesday after Easter Monday
    (d(3, 26), {S.REMINDER: d(3, 23), S.OVERDUE: d(3, 30), S.AGENCY: d(4, 5), S.CHAIR: d(4, 12)}),
    # due the Friday before the late-May bank holiday (Monday 31 May)
    (d(5, 28), {S.REMINDER: d(5, 25), S.OVERDUE: d(6, 1), S.AGENCY: d(6, 7), S.CHAIR: d(6, 14)}),
    # due after it: the reminder falls before the long weekend
    (d(6, 3), {S.REMINDER: d(5, 28), S.OVERDUE: d(6, 4), S.AGENCY: d(6, 10), S.CHAIR: d(6, 17)}),
    # due the Friday before the clocks go back (Sunday 31 October): no bank holiday, just a weekend
    (d(10, 29), {S.REMINDER: d(10, 26), S.OVERDUE: d(11, 1), S.AGENCY: d(11, 5), S.CHAIR: d(11, 12)}),
    # over Christmas: 27 and 28 December 2027 and 3 January 2028 are substitute bank holidays
    (d(12, 29), {S.REMINDER: d(12, 22), S.OVERDUE: d(12, 30), S.AGENCY: date(2028, 1, 6),
                 S.CHAIR: date(2028, 1, 13)}),
])
def test_each_rung_falls_on_a_working_day_counted_in_working_days(due, expected):
    assert step_dates(due, DEFAULT) == expected
    assert all(day.weekday() < 5 for day in expected.values())


def test_before_the_reminder_nothing_is_due_and_the_next_rung_is_the_reminder():
    assert plan(d(3, 30), d(3, 15), DEFAULT) == Plan((), S.REMINDER, d(3, 23))
    assert plan(d(3, 30), d(3, 22), DEFAULT) == Plan((), S.REMINDER, d(3, 23))


def test_each_rung_is_taken_on_its_day_and_points_to_the_next():
    due = d(3, 30)
    assert plan(due, d(3, 23), DEFAULT) == Plan((S.REMINDER,), S.OVERDUE, d(3, 31))
    assert plan(due, d(3, 31), DEFAULT, start=S.OVERDUE) == Plan((S.OVERDUE,), S.AGENCY, d(4, 6))
    assert plan(due, d(4, 6), DEFAULT, start=S.AGENCY) == Plan((S.AGENCY,), S.CHAIR, d(4, 13))
    assert plan(due, d(4, 13), DEFAULT, start=S.CHAIR) == Plan((S.CHAIR,), None, None)


def test_between_rungs_nothing_is_due_even_over_the_bank_holiday_weekend():
    due = d(3, 30)
    for day in (d(3, 24), d(3, 26), d(3, 27), d(3, 28), d(3, 29), d(3, 30)):
        assert plan(due, day, DEFAULT, start=S.OVERDUE) == Plan((), S.OVERDUE, d(3, 31)), day


def test_a_reminder_missed_on_its_day_is_still_sent_before_the_due_date_and_on_it():
    due = d(3, 30)
    assert plan(due, d(3, 25), DEFAULT) == Plan((S.REMINDER,), S.OVERDUE, d(3, 31))
    assert plan(due, due, DEFAULT) == Plan((S.REMINDER,), S.OVERDUE, d(3, 31))


def test_a_reminder_is_never_sent_after_the_due_date():
    due = d(3, 30)
    # the day after the due date: the overdue notice is tomorrow, the reminder is dropped
    assert plan(due, d(3, 31), DEFAULT) == Plan((S.OVERDUE,), S.AGENCY, d(4, 6))
    # due on Good Friday, swept over the weekend: no reminder, the overdue notice waits for Tuesday
    assert plan(d(3, 26), d(3, 27), DEFAULT) == Plan((), S.OVERDUE, d(3, 30))


def test_a_sweep_that_missed_days_catches_up_every_rung_due_in_order():
    due = d(3, 30)
    assert plan(due, d(4, 6), DEFAULT) == Plan((S.OVERDUE, S.AGENCY), S.CHAIR, d(4, 13))
    assert plan(due, d(4, 20), DEFAULT) == Plan((S.OVERDUE, S.AGENCY, S.CHAIR), None, None)
    assert plan(due, d(4, 20), DEFAULT, start=S.AGENCY) == Plan((S.AGENCY, S.CHAIR), None, None)


@pytest.mark.parametrize("start", [None, S.MANUAL_AGENCY, S.MANUAL_CHAIR])
def test_a_finished_ladder_or_a_manual_step_plans_nothing(start):
    assert plan(d(3, 30), d(5, 1), DEFAULT, start=start) == Plan((), None, None)


def test_a_new_round_starts_at_the_reminder_even_when_its_date_has_passed():
    # set on Thursday 1 April, due Tuesday 6 April: the reminder date (1 April) is today
    assert first_step(d(4, 6), d(4, 1), DEFAULT) == (S.REMINDER, d(4, 1))
    # set on Friday 2 April, due Tuesday 6 April: the reminder date has gone, it is still to come
    step, on = first_step(d(4, 6), d(4, 2), DEFAULT)
    assert (step, on) == (S.REMINDER, d(4, 1))
    assert plan(d(4, 6), d(4, 3), DEFAULT, start=step) == Plan((S.REMINDER,), S.OVERDUE, d(4, 7))
    # due today
    assert first_step(d(4, 6), d(4, 6), DEFAULT) == (S.REMINDER, d(4, 1))
    # far ahead
    assert first_step(d(6, 3), d(4, 6), DEFAULT) == (S.REMINDER, d(5, 28))


def test_a_round_started_after_the_due_date_begins_with_the_overdue_notice():
    assert first_step(d(3, 30), d(4, 2), DEFAULT) == (S.OVERDUE, d(3, 31))

