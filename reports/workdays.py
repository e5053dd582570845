"""Which days count as working days for report due dates.

The desk has one working-day calendar, ``tickets.calendar`` (national
holidays plus the configured collective leave); reports only receive its
``is_working_day(date) -> bool``.
"""
from __future__ import annotations

from desk.config import Settings
from reports.periods import IsWorkingDay
from tickets.calendar import load_working_calendar


def working_day_checker(settings: Settings) -> IsWorkingDay:
    """The desk calendar's working-day test for these settings (``CALENDAR_FILE``)."""
    return load_working_calendar(settings.calendar_file).is_working_day
