"""The monthly panel's schedule: the rule, bank holidays, the cut-off, London time stored as UTC,
idempotent creation that keeps hand-made changes, and the "panel-schedule" job."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
import time_machine

from panel.meetings import panels
from panel.meetings.schedule import PanelRule, cutoff_for, ensure_panels, nth_weekday, panel_day
from panel.models import AuditAction, AuditEvent, Meeting, MeetingKind, MeetingStatus, Role
from panel.scheduler import JOBS
from tests import factories

UTC = timezone.utc


def _panels(db) -> list[Meeting]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Meeting).order_by(Meeting.starts_at)))


def _days(meetings) -> list[date]:
    return [m.starts_at.astimezone(UTC).date() for m in meetings]


# ---- the rule, as pure functions ------------------------------------------------------------


def test_nth_and_last_weekday_of_a_month():
    assert nth_weekday(2027, 1, 2, 2) == date(2027, 1, 13)      # second Wednesday
    assert nth_weekday(2027, 5, 0, 1) == date(2027, 5, 3)       # first Monday
    assert nth_weekday(2027, 5, 0, 4) == date(2027, 5, 24)      # fourth Monday
    assert nth_weekday(2027, 5, 0, -1) == date(2027, 5, 31)     # last Monday
    assert nth_weekday(2027, 12, 4, -1) == date(2027, 12, 31)   # last Friday of the year


def test_a_panel_on_a_bank_holiday_moves_to_the_next_working_day():
    first_monday = PanelRule(weekday=0, week_of_month=1)
    assert panel_day(2027, 5, first_monday) == date(2027, 5, 4)      # 3 May 2027: Early May bank holiday
    assert panel_day(2027, 6, first_monday) == date(2027, 6, 7)      # an ordinary Monday stays
    last_monday = PanelRule(weekday=0, week_of_month=-1)
    assert panel_day(2027, 5, last_monday) == date(2027, 6, 1)       # 31 May 2027: Spring bank holiday
    assert panel_day(2027, 8, last_monday) == date(2027, 8, 31)      # 30 August 2027: Summer bank holiday
    assert panel_day(2027, 3, last_monday) == date(2027, 3, 30)      # 29 March 2027: Easter Monday
    # 27 and 28 December 2027 are the substitute days for Christmas and Boxing Day
    assert panel_day(2027, 12, last_monday) == date(2027, 12, 29)


def test_the_cut_off_is_five_working_days_before_and_skips_bank_holidays():
    rule = PanelRule()
    assert cutoff_for(date(2027, 1, 13), rule) == date(2027, 1, 6)
    # 4 May 2027: five working days back passes over the bank holiday on 3 May and the weekend
    assert cutoff_for(date(2027, 5, 4), rule) == date(2027, 4, 26)
    # 1 April 2027: Easter Monday 29 March and Good Friday 26 March are not working days
    assert cutoff_for(date(2027, 4, 1), rule) == date(2027, 3, 23)


def test_the_rule_comes_from_the_settings(app):
    app.config.update(PANEL_WEEKDAY=0, PANEL_WEEK_OF_MONTH=-1, PANEL_START="13:30", PANEL_END="16:00",
                      PANEL_CUTOFF_WORKING_DAYS=3, PANELS_AHEAD=6, PANEL_LOCATION="Town Hall")
    from panel.meetings.schedule import rule

    assert rule() == PanelRule(weekday=0, week_of_month=-1, start=time(13, 30), end=time(16, 0),
                               cutoff_working_days=3, ahead=6, location="Town Hall")
    app.config["PANEL_START"] = "not a time"
    assert rule().start == time(10, 0)


# ---- making the panels -----------------------------------------------------------------------


def test_twelve_second_wednesdays_are_made_ahead(app, db):
    created = ensure_panels(date(2027, 1, 1))
    db.session.commit()

    meetings = _panels(db)
    assert len(created) == len(meetings) == 12
    assert [m.starts_at.astimezone(UTC).date() for m in meetings] == [
        date(2027, 1, 13), date(2027, 2, 10), date(2027, 3, 10), date(2027, 4, 14), date(2027, 5, 12),
        date(2027, 6, 9), date(2027, 7, 14), date(2027, 8, 11), date(2027, 9, 8), date(2027, 10, 13),
        date(2027, 11, 10), date(2027, 12, 8)]
    assert all(m.starts_at.astimezone(UTC).weekday() == 2 for m in meetings)
    assert [m.series_key for m in meetings][:2] == ["panel-2027-01", "panel-2027-02"]
    assert meetings[0].cutoff_on == date(2027, 1, 6)
    assert all(m.kind == MeetingKind.PANEL and m.status == MeetingStatus.SCHEDULED for m in meetings)
    assert all(m.length_minutes == 150 for m in meetings)
    assert len({m.ical_uid for m in meetings}) == 12
    audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "meeting")).one()
    assert audit.action == AuditAction.CREATE and "panel-2027-12" in audit.summary


def test_this_months_panel_is_not_made_once_its_day_has_passed(app, db):
    ensure_panels(date(2027, 1, 14))
    db.session.commit()
    days = _days(_panels(db))
    assert days[0] == date(2027, 2, 10) and days[-1] == date(2028, 1, 12) and len(days) == 12


def test_a_panel_on_its_own_day_is_made(app, db):
    ensure_panels(date(2027, 1, 13))
    db.session.commit()
    assert _days(_panels(db))[0] == date(2027, 1, 13)


def test_bank_holiday_panels_are_moved_when_made(app, db):
    app.config.update(PANEL_WEEKDAY=0, PANEL_WEEK_OF_MONTH=1)
    ensure_panels(date(2027, 4, 20))
    db.session.commit()
    meetings = _panels(db)
    may = next(m for m in meetings if m.series_key == "panel-2027-05")
    assert may.starts_at.astimezone(UTC).date() == date(2027, 5, 4)   # Tuesday, after the bank holiday
    assert may.cutoff_on == date(2027, 4, 26)


def test_times_are_london_wall_clock_stored_as_utc(app, db):
    ensure_panels(date(2027, 1, 1))
    db.session.commit()
    meetings = {m.series_key: m for m in _panels(db)}
    january, july = meetings["panel-2027-01"], meetings["panel-2027-07"]
    assert january.starts_at == datetime(2027, 1, 13, 10, 0, tzinfo=UTC)     # GMT: London = UTC
    assert january.ends_at == datetime(2027, 1, 13, 12, 30, tzinfo=UTC)
    assert july.starts_at == datetime(2027, 7, 14, 9, 0, tzinfo=UTC)         # BST: London = UTC + 1
    assert july.ends_at == datetime(2027, 7, 14, 11, 30, tzinfo=UTC)
    raw = dict(db.session.execute(sa.text("SELECT series_key, starts_at FROM meetings")).all())
    assert str(raw["panel-2027-01"]).startswith("2027-01-13 10:00:00")
    assert str(raw["panel-2027-07"]).startswith("2027-07-14 09:00:00")


def test_making_the_panels_again_adds_nothing(app, db):
    ensure_panels(date(2027, 1, 1))
    db.session.commit()
    assert ensure_panels(date(2027, 1, 1)) == []
    assert ensure_panels(date(2027, 1, 5)) == []
    db.session.commit()
    assert len(_panels(db)) == 12
    # a month later the window has moved on by one panel, and only that one is added
    added = ensure_panels(date(2027, 1, 20))
    db.session.commit()
    assert [m.series_key for m in added] == ["panel-2028-01"]
    assert len(_panels(db)) == 13


def test_moved_and_cancelled_panels_keep_their_changes(app, db):
    coordinator = factories.create_user(role=Role.COORDINATOR)
    ensure_panels(date(2027, 1, 1))
    db.session.commit()
    meetings = {m.series_key: m for m in _panels(db)}
    march, april = meetings["panel-2027-03"], meetings["panel-2027-04"]
    now = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)
    panels.move_panel(march, starts_at=datetime(2027, 3, 11, 14, 0, tzinfo=UTC),
                      ends_at=datetime(2027, 3, 11, 16, 0, tzinfo=UTC), reason="The hall is booked", by=coordinator,
                      now=now)
    panels.cancel_panel(april, reason="Easter holidays", by=coordinator, now=now)
    db.session.commit()

    assert ensure_panels(date(2027, 1, 1)) == []
    ensure_panels(date(2027, 2, 1))
    db.session.commit()

    meetings = {m.series_key: m for m in _panels(db)}
    assert sum(1 for key in meetings if key == "panel-2027-03") == 1
    assert meetings["panel-2027-03"].starts_at == datetime(2027, 3, 11, 14, 0, tzinfo=UTC)
    assert meetings["panel-2027-03"].moved_reason == "The hall is booked"
    assert meetings["panel-2027-03"].cutoff_on == date(2027, 3, 4)
    assert meetings["panel-2027-04"].status == MeetingStatus.CANCELLED
    assert meetings["panel-2027-04"].starts_at == datetime(2027, 4, 14, 9, 0, tzinfo=UTC)


# ---- the job -----------------------------------------------------------------------------------


def test_the_schedule_job_is_in_the_job_table():
    assert JOBS["panel-schedule"].path == "panel.meetings.schedule:schedule_job"
    assert JOBS["panel-schedule"].trigger == {"trigger": "cron", "hour": 6, "minute": 30}


def test_run_job_panel_schedule_makes_the_panels_once(app, db):
    now = datetime(2027, 6, 20, 5, 30, tzinfo=UTC)
    runner = app.test_cli_runner()
    with time_machine.travel(now, tick=False):
        first = runner.invoke(args=["panel", "run-job", "panel-schedule"])
        again = runner.invoke(args=["panel", "run-job", "panel-schedule"])

    assert first.exit_code == 0, first.output
    assert "panel-schedule: created 12" in first.output
    assert "panel-schedule: created 0" in again.output
    days = _days(_panels(db))
    assert days[0] == date(2027, 7, 14) and days[-1] == date(2028, 6, 14) and len(days) == 12


def test_a_panel_is_moved_within_the_month_not_out_of_the_window(app, db):
    """The rule's day for each month is where the window is counted, so a month whose panel
    moves into the next month (31 May 2027 to 1 June) still has exactly one panel."""
    app.config.update(PANEL_WEEKDAY=0, PANEL_WEEK_OF_MONTH=-1)
    ensure_panels(date(2027, 5, 1))
    db.session.commit()
    meetings = {m.series_key: m for m in _panels(db)}
    assert meetings["panel-2027-05"].starts_at.date() == date(2027, 6, 1)
    assert meetings["panel-2027-06"].starts_at.date() == date(2027, 6, 28)
    assert len(meetings) == 12
    assert all(later.starts_at - earlier.starts_at > timedelta(days=20)
               for earlier, later in zip(_panels(db), _panels(db)[1:], strict=False))
