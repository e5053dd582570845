"""Which days count as working days for report due dates.

The desk has one working-day calendar, ``tickets.calendar``; reports only
receive an ``is_working_day(date) -> bool`` built here from the settings.
"""
from __future__ import annotations

import importlib
from datetime import date

from desk.config import Settings
from reports.periods import IsWorkingDay


def working_day_checker(settings: Settings) -> IsWorkingDay:
    """The desk calendar's working-day test for these settings."""
    try:
        desk_calendar = importlib.import_module("tickets.calendar")  # lands with the tickets part
    except ModuleNotFoundError as exc:
        if exc.name != "tickets.calendar":
            raise
        return _fallback_checker()
    return desk_calendar.working_day_checker(settings)  # type: ignore[attr-defined,no-any-return]


def _fallback_checker() -> IsWorkingDay:
    # Until tickets.calendar is merged: Monday–Friday minus Indonesian national
    # holidays (no collective leave days).
    import holidays

    national = holidays.country_holidays("ID")

    def is_working_day(day: date) -> bool:
        return day.weekday() < 5 and day not in national

    return is_working_day
