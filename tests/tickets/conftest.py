"""Fixtures of the tickets suite: the demo lender's calendar and a ticket context."""
from __future__ import annotations

import pytest

from desk.config import REPO_ROOT
from tickets.calendar import DeskCalendar, ExtraDaysOff, WorkingCalendar
from tickets.lender import load_lender

CALENDAR_FILE = REPO_ROOT / "tickets" / "calendar" / "id_extra_days_off.yml"


@pytest.fixture(scope="session")
def working_calendar() -> WorkingCalendar:
    return WorkingCalendar(ExtraDaysOff.load(CALENDAR_FILE))


@pytest.fixture(scope="session")
def desk_calendar(working_calendar: WorkingCalendar) -> DeskCalendar:
    return DeskCalendar(working_calendar, load_lender(REPO_ROOT / "lender" / "demo.yml").office_hours)
