"""Working days and hours in England and Wales, bank holidays and British Summer Time included."""

from datetime import date, datetime, timezone

from panel.dates import add_working_days, is_bank_holiday, is_working_day, is_working_hours, next_working_day


def test_bank_holidays_come_from_the_holidays_package():
    assert is_bank_holiday(date(2026, 12, 25))
    assert is_bank_holiday(date(2026, 12, 28))  # Boxing Day substitute (26th is a Saturday)
    assert is_bank_holiday(date(2027, 5, 3))  # early May bank holiday
    assert not is_bank_holiday(date(2027, 5, 4))


def test_weekends_and_bank_holidays_are_not_working_days():
    assert is_working_day(date(2026, 11, 23))  # Monday
    assert not is_working_day(date(2026, 11, 28))  # Saturday
    assert not is_working_day(date(2026, 12, 25))


def test_adding_working_days_skips_christmas_and_weekends():
    assert add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 24)
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    assert add_working_days(date(2026, 12, 29), -1) == date(2026, 12, 24)
    assert next_working_day(date(2026, 12, 25)) == date(2026, 12, 29)


def test_working_hours_follow_london_time_across_british_summer_time():
    # 08:30 UTC is 09:30 in summer (BST) but 08:30 in winter (GMT).
    assert is_working_hours(datetime(2027, 7, 6, 8, 30, tzinfo=timezone.utc))
    assert not is_working_hours(datetime(2027, 1, 5, 8, 30, tzinfo=timezone.utc))
    # 16:30 UTC is 17:30 BST: out of hours in summer, in hours in winter.
    assert not is_working_hours(datetime(2027, 7, 6, 16, 30, tzinfo=timezone.utc))
    assert is_working_hours(datetime(2027, 1, 5, 16, 30, tzinfo=timezone.utc))


def test_bank_holiday_daytime_is_out_of_hours():
    assert not is_working_hours(datetime(2026, 12, 25, 11, 0, tzinfo=timezone.utc))
