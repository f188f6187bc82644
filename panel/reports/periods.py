"""The period a Board report covers: two London dates, both included, and the ones offered ready
made (the last complete quarter, the quarters before it, the financial year to date and the
last complete financial year, April to March)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from panel.dates import govuk_date, london_to_utc

EARLIEST = date(2000, 1, 1)
LONGEST_YEARS = 5
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@dataclass(frozen=True)
class Period:
    start: date
    end: date                # the last day, included
    name: str = ""           # "April to June 2027", "Financial year 2026 to 2027"

    @property
    def start_utc(self) -> datetime:
        """The start of the first day, London time, as UTC."""
        return london_to_utc(self.start, time(0, 0))

    @property
    def end_utc(self) -> datetime:
        """The start of the day after the last, London time, as UTC (the period is before it)."""
        return london_to_utc(self.end + timedelta(days=1), time(0, 0))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def words(self) -> str:
        return f"{govuk_date(self.start)} to {govuk_date(self.end)}"

    @property
    def title(self) -> str:
        return f"{self.name} ({self.words})" if self.name else self.words

    def weeks(self) -> list[tuple[date, date]]:
        """Seven-day weeks from the first day; the last may be shorter."""
        out = []
        day = self.start
        while day <= self.end:
            out.append((day, min(day + timedelta(days=6), self.end)))
            day += timedelta(days=7)
        return out

    def query(self) -> dict[str, str]:
        """The period as the stable address gives it: ?from=YYYY-MM-DD&to=YYYY-MM-DD."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    def slug(self) -> str:
        return f"{self.start.isoformat()}-to-{self.end.isoformat()}"


def quarter(day: date) -> Period:
    """The calendar quarter holding `day` (financial quarters share its months)."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = (date(day.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)) - timedelta(days=1)
    return Period(start, end, f"{MONTHS[first_month - 1]} to {MONTHS[first_month + 1]} {day.year}")


def last_complete_quarter(today: date) -> Period:
    return quarter(quarter(today).start - timedelta(days=1))


def financial_year(day: date) -> Period:
    """April to March: the financial year holding `day`."""
    first = day.year if day.month >= 4 else day.year - 1
    return Period(date(first, 4, 1), date(first + 1, 3, 31), f"Financial year {first} to {first + 1}")


def default(today: date) -> Period:
    return last_complete_quarter(today)


def presets(today: date) -> list[Period]:
    """The periods offered ready made: the last four complete quarters, the financial year to
    date and the last complete financial year."""
    quarters = [last_complete_quarter(today)]
    for _ in range(3):
        quarters.append(quarter(quarters[-1].start - timedelta(days=1)))
    this_year = financial_year(today)
    to_date = Period(this_year.start, today, f"{this_year.name} to date")
    return quarters + [to_date, financial_year(this_year.start - timedelta(days=1))]


def named(start: date, end: date, today: date) -> Period:
    """The period between two dates, named when it is one of the presets (or any quarter or
    financial year)."""
    for candidate in (*presets(today), quarter(start), financial_year(start)):
        if (candidate.start, candidate.end) == (start, end):
            return candidate
    return Period(start, end)


def problem(start: date, end: date, today: date) -> tuple[str, str] | None:
    """Why two dates do not make a period a report can cover, as (field, message), or None."""
    if start < EARLIEST:
        return "from", f"The start date must be on or after {govuk_date(EARLIEST)}"
    if end < start:
        return "to", "The end date must be the same as or after the start date"
    if end > today:
        return "to", "The end date must be today or in the past"
    if end >= date(start.year + LONGEST_YEARS, start.month, 1) + timedelta(days=start.day - 1):
        return "to", f"The period must be {LONGEST_YEARS} years or shorter"
    return None
