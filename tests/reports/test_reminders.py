"""Report due-date reminders: stages, idempotence, publishing, acknowledgement."""
from __future__ import annotations

import asyncio
from datetime import date

from sanic import Sanic
from sqlalchemy import func, select

from desk.events import InMemoryEventBus
from reports.models import ReportReminder
from reports.reminders import TOPIC, reminders_due, run_reminders, working_days_until
from storage.db import Database
from tests.reports.conftest import fixed_working_day

SUPERVISOR = {"x-test-role": "supervisor"}


def test_working_days_until() -> None:
    assert working_days_until(date(2026, 11, 6), date(2026, 11, 13), fixed_working_day) == 5
    assert working_days_until(date(2026, 11, 13), date(2026, 11, 13), fixed_working_day) == 0
    assert working_days_until(date(2026, 11, 14), date(2026, 11, 13), fixed_working_day) is None


def test_stage_reached_on_each_day() -> None:
    # October 2026 is due on 13 November; the Q3 and 2025 reports are past due by then.
    stages = {day: [(r.period.key, r.working_days_before) for r in reminders_due(date(2026, 11, day), fixed_working_day)]
              for day in (2, 6, 10, 11, 13, 16)}
    assert stages == {2: [], 6: [("2026-10", 5)], 10: [("2026-10", 5)], 11: [("2026-10", 2)],
                      13: [("2026-10", 0)], 16: []}
    # Early October: September's monthly and the Q3 report are both coming up.
    assert {(r.period.key, r.working_days_before) for r in reminders_due(date(2026, 10, 8), fixed_working_day)} == {
        ("2026-Q3", 2), ("2026-09", 5)}


async def count(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(ReportReminder)) or 0)


async def test_reminders_are_stored_and_published_once(database: Database, event_bus: InMemoryEventBus) -> None:
    received: list[dict[str, object]] = []

    async def listen() -> None:
        async with event_bus.subscribe(TOPIC) as events:
            async for event in events:
                received.append(event)

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0)
    first = await run_reminders(database, event_bus, fixed_working_day, date(2026, 11, 6))
    again = await run_reminders(database, event_bus, fixed_working_day, date(2026, 11, 6))
    later_same_stage = await run_reminders(database, event_bus, fixed_working_day, date(2026, 11, 10))
    await asyncio.sleep(0)
    listener.cancel()
    assert [(r.period.key, r.working_days_before) for r in first] == [("2026-10", 5)]
    assert again == [] and later_same_stage == []
    assert await count(database) == 1
    assert len(received) == 1 and received[0]["type"] == "report_due" and received[0]["due_date"] == "2026-11-13"
    assert "Oktober 2026" in str(received[0]["message"])

    next_stage = await run_reminders(database, event_bus, fixed_working_day, date(2026, 11, 11))
    assert [r.working_days_before for r in next_stage] == [2]
    assert await count(database) == 2


async def test_concurrent_runs_store_one_reminder(database: Database, event_bus: InMemoryEventBus) -> None:
    results = await asyncio.gather(*(run_reminders(database, event_bus, fixed_working_day, date(2026, 11, 6))
                                     for _ in range(4)))
    assert sum(len(r) for r in results) == 1
    assert await count(database) == 1


async def test_acknowledge_and_list(app: Sanic, database: Database, event_bus: InMemoryEventBus) -> None:
    await run_reminders(database, event_bus, fixed_working_day, date(2026, 11, 6))
    _, listed = await app.asgi_client.get("/api/v1/report-reminders", headers=SUPERVISOR)
    [reminder] = listed.json["reminders"]
    assert reminder["period"] == "2026-10" and reminder["acknowledged_at"] is None
    _, dashboard = await app.asgi_client.get("/api/v1/dashboard", headers=SUPERVISOR)
    assert [r["id"] for r in dashboard.json["report_reminders"]] == [reminder["id"]]

    _, ack = await app.asgi_client.post(f"/api/v1/report-reminders/{reminder['id']}/ack", headers=SUPERVISOR)
    assert ack.status == 200 and ack.json["reminder"]["acknowledged_by"] == "test-supervisor"
    _, listed = await app.asgi_client.get("/api/v1/report-reminders", headers=SUPERVISOR)
    assert listed.json["reminders"] == []
    _, missing = await app.asgi_client.post("/api/v1/report-reminders/9999/ack", headers=SUPERVISOR)
    assert missing.status == 404 and missing.json["error"] == "not_found"
