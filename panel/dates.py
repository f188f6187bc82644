"""London time, working days and bank holidays in England and Wales, and GOV.UK date formatting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# Times are stored in UTC and shown, typed and scheduled in London time (DESIGN §3).
LONDON = ZoneInfo("Europe/London")
DAY_STARTS = time(9, 0)
DAY_ENDS = time(17, 0)
_TIME = re.compile(r"([0-9]{1,2})[:.]([0-9]{2})")


# -- London time ---------------------------------------------------------------------------

def london_today(now: datetime | None = None) -> date:
    """Today's date in London (or the London date of `now`, an aware datetime)."""
    return (now or datetime.now(timezone.utc)).astimezone(LONDON).date()


def parse_time(text: str) -> time | None:
    """"14:30", "9:05" or "14.30" (24-hour clock) as a time; None if it is not a real time."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


class SkippedTime(ValueError):
    """The local time did not exist: the clocks went forward over it."""


def london_to_utc(day: date, at: time) -> datetime:
    """A Europe/London wall-clock date and time as an aware UTC datetime.

    In the hour skipped when the clocks go forward there is no such time: SkippedTime.
    In the hour repeated when they go back, the first (British Summer Time) is taken, as a
    worker writing it up the same day would mean.
    """
    local = datetime.combine(day, at, tzinfo=LONDON)  # fold=0: the earlier of two
    utc = local.astimezone(timezone.utc)
    if utc.astimezone(LONDON).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise SkippedTime(f"{at:%H:%M} did not happen on {day.day} {day:%B %Y} because the clocks went forward")
    return utc


# -- Working days and hours: Monday to Friday outside bank holidays, 09:00-17:00 London time --

@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # England's bank holidays (Wales shares them), from the `holidays` package, not a hand-kept list.
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


# -- GOV.UK style ----------------------------------------------------------------------------

def govuk_date(value: date | datetime | None) -> str:
    """14 January 2027 (a datetime is first moved to Europe/London)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON)
    return f"{value.day} {value:%B %Y}"


def html_datetime(value: date | datetime | None) -> str:
    """The value of an HTML <time datetime>: a date as 2027-01-14, a moment in UTC to the whole
    second as 2027-01-14T14:05:09Z (HTML allows at most three fractional digits; none are needed)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def govuk_time(value: datetime | None) -> str:
    """2:05pm, 10am, midday or midnight, in Europe/London."""
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    if local.hour == 12 and local.minute == 0:
        return "midday"
    if local.hour == 0 and local.minute == 0:
        return "midnight"
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    return f"{hour}{suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d}{suffix}"


def govuk_datetime(value: datetime | None) -> str:
    """14 January 2027 at 2:05pm, in Europe/London."""
    if value is None:
        return ""
    return f"{govuk_date(value.astimezone(LONDON))} at {govuk_time(value)}"


# ---- the dates an export covers ------------------------------------------------------------


def twelve_months_to(today: date) -> date:
    """The first day of the 12 months that end today: the day after the same date a year ago
    (1 March after 29 February)."""
    return today.replace(year=today.year - 1, day=min(today.day, 28) if today.month == 2 else today.day) \
        + timedelta(days=1)


@dataclass(frozen=True)
class DateRange:
    """The London dates an export covers, both inclusive; None is open (from the first entry, or
    up to now). `default` marks the last 12 months, given when no dates were asked for."""

    start: date | None
    end: date | None
    default: bool = False

    @classmethod
    def of(cls, start: date | None, end: date | None, *, everything: bool, today: date) -> DateRange:
        """The dates asked for; with none, every date if `everything`, else the last 12 months."""
        if start is None and end is None and not everything:
            return cls(twelve_months_to(today), None, default=True)
        return cls(start, end)

    def utc_bounds(self) -> tuple[datetime | None, datetime | None]:
        """London midnight at the start of `start` and at the end of `end` (exclusive), in UTC."""
        last = None if self.end is None or self.end == date.max else self.end + timedelta(days=1)
        return tuple(None if day is None else datetime.combine(day, time(0), tzinfo=LONDON).astimezone(timezone.utc)
                     for day in (self.start, last))  # type: ignore[return-value]

    def words(self) -> str:
        """"in the last 12 months (since 8 December 2025)", "on any date", "from 1 January 2026 to ..."."""
        if self.default:
            return f"in the last 12 months (since {govuk_date(self.start)})"
        if self.start and self.end:
            if self.start == self.end:
                return f"on {govuk_date(self.start)}"
            return f"from {govuk_date(self.start)} to {govuk_date(self.end)}"
        if self.start:
            return f"on or after {govuk_date(self.start)}"
        if self.end:
            return f"on or before {govuk_date(self.end)}"
        return "on any date"

    def summary(self) -> str:
        """For the export's audit entry: "last 12 months: 2025-12-08 to now", "all dates", ..."""
        if self.start is None and self.end is None:
            return "all dates"
        dates = f"{self.start.isoformat() if self.start else 'the first'} to {self.end.isoformat() if self.end else 'now'}"
        return f"last 12 months: {dates}" if self.default else dates
