"""The escalation ladder as pure functions of an action's due date, on England and Wales
working days (panel.workdays, bank holidays from the `holidays` package).

With the default settings an open action gets, once each per ladder round:
  a reminder 3 working days before the due date (to the assignee, else the SPoC);
  an overdue notice the next working day after it (to the SPoC and the coordinators);
  escalation to the agency's escalation contact at 5 working days overdue;
  escalation to the chair at 10 working days overdue (and onto the next panel's agenda).
A reminder that was not sent by the due date is skipped: it would arrive after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Mapping

from panel.models import LadderStep
from panel.dates import add_working_days

AUTOMATIC: tuple[LadderStep, ...] = (LadderStep.REMINDER, LadderStep.OVERDUE, LadderStep.AGENCY, LadderStep.CHAIR)


@dataclass(frozen=True)
class Offsets:
    """Working days: the reminder before the due date; the other rungs after it."""

    reminder_before: int = 3
    overdue_after: int = 1
    agency_after: int = 5
    chair_after: int = 10

    @classmethod
    def from_config(cls, config: Mapping) -> Offsets:
        return cls(
            reminder_before=int(config.get("ACTION_REMINDER_WORKING_DAYS", 3)),
            overdue_after=int(config.get("ACTION_OVERDUE_WORKING_DAYS", 1)),
            agency_after=int(config.get("ACTION_AGENCY_ESCALATION_WORKING_DAYS", 5)),
            chair_after=int(config.get("ACTION_CHAIR_ESCALATION_WORKING_DAYS", 10)),
        )


def step_dates(due_on: date, offsets: Offsets) -> dict[LadderStep, date]:
    """The London date on which each automatic rung falls for this due date."""
    return dict(zip(AUTOMATIC, _step_dates(due_on, offsets), strict=True))


@lru_cache(maxsize=4096)
def _step_dates(due_on: date, offsets: Offsets) -> tuple[date, date, date, date]:
    # cached: the daily sweep asks for the same few hundred due dates thousands of times
    return (add_working_days(due_on, -offsets.reminder_before), add_working_days(due_on, offsets.overdue_after),
            add_working_days(due_on, offsets.agency_after), add_working_days(due_on, offsets.chair_after))


@dataclass(frozen=True)
class Plan:
    """What the sweep does today for one action: the rungs to take now, and the next one."""

    due_now: tuple[LadderStep, ...]
    next_step: LadderStep | None
    next_on: date | None


def plan(due_on: date, today: date, offsets: Offsets, start: LadderStep | None = LadderStep.REMINDER) -> Plan:
    """Rungs from `start` onwards (the earlier ones are done) that fall on or before `today`,
    and the first rung after today. `start` None means the ladder is finished."""
    if start is None or start not in AUTOMATIC:
        return Plan((), None, None)
    dates = step_dates(due_on, offsets)
    due_now: list[LadderStep] = []
    for step in AUTOMATIC[AUTOMATIC.index(start):]:
        if step == LadderStep.REMINDER and today > due_on:
            continue  # too late to remind: the overdue notice follows instead
        if dates[step] <= today:
            due_now.append(step)
        else:
            return Plan(tuple(due_now), step, dates[step])
    return Plan(tuple(due_now), None, None)


def first_step(due_on: date, today: date, offsets: Offsets) -> tuple[LadderStep | None, date | None]:
    """Where a new ladder round starts: the first rung, which the next sweep takes if its date
    has already come (a reminder whose date has passed is still sent if the due date has not)."""
    if today > due_on:
        dates = step_dates(due_on, offsets)
        return LadderStep.OVERDUE, dates[LadderStep.OVERDUE]
    return LadderStep.REMINDER, add_working_days(due_on, -offsets.reminder_before)
