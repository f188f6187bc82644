"""Working days and hours in England and Wales: Monday to Friday outside bank holidays,
09:00-17:00 Europe/London. Bank holidays come from the `holidays` package, not a hand-kept list."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
DAY_STARTS = time(9, 0)
DAY_ENDS = time(17, 0)


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # England's bank holidays; Wales shares them.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_bank_holiday(day: date) -> bool:
    return day in _bank_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def is_working_hours(moment: datetime) -> bool:
    """True on a working day between 09:00 and 17:00 London time (17:00 itself is out of hours)."""
    local = moment.astimezone(LONDON)
    return is_working_day(local.date()) and DAY_STARTS <= local.time() < DAY_ENDS


def add_working_days(day: date, count: int) -> date:
    """The date `count` working days after (or, if negative, before) `day`."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def next_working_day(day: date) -> date:
    """The first working day on or after `day`."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day
