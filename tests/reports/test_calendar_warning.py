"""The "no calendar for year X" warning is on the supervisor dashboard, not only in the logs."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sanic import Sanic

from desk.config import REPO_ROOT
from storage.db import Database
from tests.reports.conftest import ticket
from tickets.calendar import WIB, DeskCalendar, ExtraDaysOff, WorkingCalendar
from desk.services import core_services
from tickets.context import build_context, install_context, ticket_context

SUPERVISOR = {"x-test-role": "supervisor"}
CALENDAR = REPO_ROOT / "tickets" / "calendar" / "id_extra_days_off.yml"


def _use(app: Sanic, now: datetime, calendar_file: Path = CALENDAR) -> None:
    services = core_services(app)
    ctx = build_context(services.settings, services.events)
    # A fresh calendar: the cached one remembers years other tests counted days in.
    ctx.calendar = DeskCalendar(WorkingCalendar(ExtraDaysOff.load(calendar_file)), ctx.lender.office_hours)
    ctx.now = lambda: now  # type: ignore[method-assign]
    install_context(app, ctx)


async def _warnings(app: Sanic) -> tuple[str, list[dict]]:
    _, page = await app.asgi_client.get("/dashboard", headers=SUPERVISOR)
    _, data = await app.asgi_client.get("/api/v1/dashboard", headers=SUPERVISOR)
    assert page.status == 200 and data.status == 200
    return page.text, data.json["calendar_warnings"]


async def test_no_warning_while_every_needed_year_is_entered(app: Sanic) -> None:
    _use(app, datetime(2026, 6, 1, 9, tzinfo=WIB))
    page, warnings = await _warnings(app)
    assert warnings == [] and 'data-testid="calendar-warning"' not in page


async def test_an_open_ticket_with_a_deadline_in_a_missing_year_warns(app: Sanic, database: Database) -> None:
    _use(app, datetime(2026, 6, 1, 9, tzinfo=WIB))
    async with database.transaction() as session:
        session.add(ticket(status="in_progress", resolution_due=datetime(2027, 1, 8, 23, 59, tzinfo=WIB)))
        session.add(ticket(status="resolved", resolution_due=datetime(2028, 1, 8, 23, 59, tzinfo=WIB)))
    page, warnings = await _warnings(app)
    assert [(w["year"], w["reason"]) for w in warnings] == [(2027, "open_tickets")]  # closed ones do not count
    assert 'data-testid="calendar-warning"' in page
    assert "tahun 2027 masih sementara (provisional)" in page and "tickets/calendar/id_extra_days_off.yml" in page


async def test_new_complaints_reaching_next_year_warn_and_entering_the_year_clears_it(app: Sanic,
                                                                                    tmp_path: Path) -> None:
    _use(app, datetime(2026, 11, 30, 9, tzinfo=WIB))
    _, warnings = await _warnings(app)
    assert [(w["year"], w["reason"]) for w in warnings] == [(2027, "horizon")]
    entered = tmp_path / "days_off.yml"
    shipped = CALENDAR.read_text(encoding="utf-8")
    assert "    provisional: true\n" in shipped
    # test only: the provisional 2027 entry standing for one made from the signed SKB
    entered.write_text(shipped.replace("    provisional: true\n", ""), encoding="utf-8")
    _use(app, datetime(2026, 11, 30, 9, tzinfo=WIB), entered)
    page, warnings = await _warnings(app)
    assert warnings == [] and 'data-testid="calendar-warning"' not in page


async def test_a_coming_year_the_desk_already_counted_days_in_warns(app: Sanic) -> None:
    _use(app, datetime(2026, 6, 1, 9, tzinfo=WIB))
    working = ticket_context(app).calendar.working
    working.is_working_day(datetime(2028, 3, 1).date())  # e.g. a long extension counted into 2028
    working.is_working_day(datetime(2024, 3, 1).date())  # an old report's period: no warning
    _, warnings = await _warnings(app)
    assert [(w["year"], w["reason"]) for w in warnings] == [(2028, "counted")]


async def test_the_shipped_2027_entry_is_provisional_and_the_dashboard_says_so(app: Sanic, tmp_path: Path) -> None:
    """2027 is entered without its SKB (not found): fixed-by-law days only, and the warning says provisional."""
    _use(app, datetime(2026, 11, 30, 9, tzinfo=WIB))
    page, warnings = await _warnings(app)
    assert [(w["year"], w["reason"], w["provisional"]) for w in warnings] == [(2027, "horizon", True)]
    assert "Kalender hari kerja tahun 2027 masih sementara (provisional)" in page
    assert "tanpa cuti bersama" in warnings[0]["message"]
    working = ticket_context(app).calendar.working
    assert working.is_provisional(2027) and not working.covers(2027) and working.covers(2026)
    assert not working.is_working_day(datetime(2027, 6, 1).date())  # Hari Lahir Pancasila, fixed by law
    # Without the marker the same entry counts as a signed decree: no warning for 2027.
    unmarked = tmp_path / "days_off.yml"
    unmarked.write_text(CALENDAR.read_text(encoding="utf-8").replace("    provisional: true\n", ""), encoding="utf-8")
    _use(app, datetime(2026, 11, 30, 9, tzinfo=WIB), unmarked)
    _, warnings = await _warnings(app)
    assert warnings == []
