"""Attendance and minutes pages (filled in by the minutes work)."""
