"""The monthly panel's schedule: a rule kept as settings, and the next twelve panels made ahead.

Default rule: the second Wednesday of each month, 10:00-12:30 Europe/London, with a referral
cut-off 5 working days before. A panel that falls on an England and Wales bank holiday moves
to the next working day. Each panel is its own meeting (its own calendar UID), keyed
"panel-YYYY-MM", so making them is idempotent: the job "panel-schedule" and the demo data call
ensure_panels() as often as they like. A panel that has been moved or cancelled by hand keeps
its changes: ensure_panels() only adds months that have no panel yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Mapping

import sqlalchemy as sa
from flask import current_app

from panel import audit
from panel.dates import LONDON, add_working_days, next_working_day
from panel.extensions import db
from panel.meetings import invitations
from panel.meetings.mdt import url_problem
from panel.models import AuditAction, Meeting, MeetingKind, utcnow


@dataclass(frozen=True)
class PanelRule:
    weekday: int = 2          # Wednesday
    week_of_month: int = 2    # the second one
    start: time = time(10, 0)
    end: time = time(12, 30)
    cutoff_working_days: int = 5
    ahead: int = 12
    location: str = ""
    online_url: str = ""

    @classmethod
    def from_config(cls, config: Mapping) -> PanelRule:
        def hhmm(value: str, default: time) -> time:
            try:
                hours, minutes = str(value).split(":")
                return time(int(hours), int(minutes))
            except ValueError:
                return default

        return cls(weekday=int(config.get("PANEL_WEEKDAY", 2)), week_of_month=int(config.get("PANEL_WEEK_OF_MONTH", 2)),
                   start=hhmm(config.get("PANEL_START", "10:00"), time(10, 0)),
                   end=hhmm(config.get("PANEL_END", "12:30"), time(12, 30)),
                   cutoff_working_days=int(config.get("PANEL_CUTOFF_WORKING_DAYS", 5)),
                   ahead=int(config.get("PANELS_AHEAD", 12)), location=str(config.get("PANEL_LOCATION", "")),
                   online_url=_link(str(config.get("PANEL_ONLINE_LINK", ""))))


def _link(url: str) -> str:
    """The default online link, if it is a plain https:// address (a bad setting is left out)."""
    url = url.strip()
    return url if url and url_problem(url) is None else ""


def rule() -> PanelRule:
    return PanelRule.from_config(current_app.config)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday of the month (n from 1); n of -1 (or 5) is the month's last one."""
    first = date(year, month, 1)
    if n in (-1, 5):
        following = date(year + (month == 12), month % 12 + 1, 1)
        last = following - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def panel_day(year: int, month: int, r: PanelRule) -> date:
    """The rule's day in that month, moved to the next working day if it is a bank holiday."""
    return next_working_day(nth_weekday(year, month, r.weekday, r.week_of_month))


def cutoff_for(day: date, r: PanelRule) -> date:
    return add_working_days(day, -r.cutoff_working_days)


def london(day: date, at: time) -> datetime:
    """A London wall-clock time as an aware datetime (GMT or BST as the day has it)."""
    return datetime.combine(day, at, tzinfo=LONDON)


def series_key(year: int, month: int) -> str:
    return f"panel-{year:04d}-{month:02d}"


def months_from(today: date, count: int) -> list[tuple[int, int]]:
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append((year, month))
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


def ensure_panels(today: date | None = None) -> list[Meeting]:
    """Make sure the next `ahead` panels exist (this month's too if it has not happened yet).
    Returns the panels it created. Flushes; the caller commits."""
    r = rule()
    today = today or utcnow().astimezone(LONDON).date()
    wanted = []
    for year, month in months_from(today, r.ahead + 1):
        day = panel_day(year, month, r)
        if day >= today:
            wanted.append((series_key(year, month), day))
    wanted = wanted[: r.ahead]
    existing = set(db.session.scalars(sa.select(Meeting.series_key).where(
        Meeting.series_key.in_([key for key, _ in wanted]))))
    created = []
    for key, day in wanted:
        if key in existing:
            continue
        meeting = Meeting(kind=MeetingKind.PANEL, series_key=key, starts_at=london(day, r.start),
                          ends_at=london(day, r.end), cutoff_on=cutoff_for(day, r), location=r.location,
                          online_url=r.online_url)
        db.session.add(meeting)
        created.append(meeting)
    if created:
        db.session.flush()
        audit.record(AuditAction.CREATE, "meeting", ",".join(str(m.id) for m in created)[:64],
                     summary={"panels": [m.series_key for m in created]})
    return created


def schedule_job() -> dict[str, int]:
    """Job "panel-schedule" (daily): keep twelve panels ahead, and send each new panel's calendar
    invitations to everyone expected (not from ensure_panels, so the demo data mails nobody)."""
    created = ensure_panels()
    invited = sum(len(invitations.invite_panel(meeting, by=None)) for meeting in created)
    db.session.commit()
    return {"created": len(created), "invited": invited}
