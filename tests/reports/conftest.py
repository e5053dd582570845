"""Fixtures of the reports suite: a fixed calendar, a ticket factory, an app with a test-only login."""
from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from sanic import Request, Sanic

from aduan.app import create_app
from aduan.services import Services
from desk.auth import StaffUser
from desk.config import Settings
from desk.events import InMemoryEventBus
from reports.api import ReportsPart
from reports.service import ReportService
from storage.db import Database
from tickets.models import Ticket

# A fixed calendar so due-date tests do not depend on the holidays package's data.
HOLIDAYS = {date(2026, 1, 1), date(2026, 4, 10), date(2026, 12, 25), date(2026, 12, 24),
            date(2027, 1, 1), date(2022, 12, 26), date(2023, 1, 2)}


def fixed_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


@pytest.fixture
def is_working_day() -> Callable[[date], bool]:
    return fixed_working_day


_serial = itertools.count(1)


def ticket(**overrides: Any) -> Ticket:
    """A ticket with every required column filled; override what the test is about."""
    received = overrides.pop("received_at", datetime(2026, 10, 5, 3, 0, tzinfo=timezone.utc))
    n = next(_serial)
    values: dict[str, Any] = dict(
        number=f"T-{uuid.uuid4().hex[:8]}-{n}", category="payment", channel="whatsapp",
        full_name="Peminjam Uji", product="pinjaman_tunai", chronology="uji", status="received",
        received_at=received, clock_started_at=received,
        first_response_due=received + timedelta(days=2), resolution_due=received + timedelta(days=28),
    )
    values.update(overrides)
    return Ticket(**values)


@pytest.fixture
def make_ticket() -> Callable[..., Ticket]:
    return ticket


@pytest.fixture
def reports_settings(settings: Settings) -> Settings:
    """The shared test settings with the in-process reminder job off."""
    return settings.model_copy(update={"report_reminder_interval_seconds": 0})


@pytest.fixture
def app(reports_settings: Settings, database: Database, event_bus: InMemoryEventBus) -> Sanic:
    """The desk app on the test database; header X-Test-Role signs in a user with that role (tests only)."""
    Sanic.test_mode = True
    # The same calendar as the due-date tests, injected the way the root accepts it.
    part = ReportsPart(service=ReportService.from_settings(database, reports_settings, fixed_working_day),
                       is_working_day=fixed_working_day)
    services = Services(settings=reports_settings, db=database, events=event_bus, reports=part)
    application = create_app(reports_settings, services, name=f"reports_{uuid.uuid4().hex[:8]}")

    @application.on_request(priority=100)
    async def test_login(request: Request) -> None:
        role = request.headers.get("x-test-role")
        if role:
            request.ctx.user = StaffUser(id=1, username=f"test-{role}", display_name="Uji", role=role)

    return application
