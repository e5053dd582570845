"""Remind supervisors before a periodic report falls due (stored and published, idempotent).

For the latest finished month, quarter and year, a reminder is stored at
5 and 2 working days before the due date and on the due date itself. Each
(period, stage) is stored once — a unique key — so the job can run hourly on
every desk instance; only the instance that stores a reminder publishes it.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from desk.events import EventBus
from reports.models import ReportReminder
from reports.periods import DueRules, IsWorkingDay, Period, due_date, local_date, periods_ended_before
from storage.base import utcnow
from storage.db import Database
from tickets.calendar import working_days_between

log = logging.getLogger(__name__)

STAGES = (5, 2, 0)  # working days before the due date
TOPIC = "supervisors.alerts"


@dataclass(frozen=True)
class Reminder:
    period: Period
    due: date
    working_days_before: int

    @property
    def message(self) -> str:
        if self.working_days_before == 0:
            when = "hari ini"
        else:
            when = f"{self.working_days_before} hari kerja lagi ({self.due:%d-%m-%Y})"
        return (f"Laporan pengaduan {self.period.kind_label.lower()} {self.period.label} "
                f"wajib disampaikan ke OJK {when}.")

    def event(self) -> dict[str, object]:
        return {"type": "report_due", "period": self.period.key, "kind": self.period.kind.value,
                "due_date": self.due.isoformat(), "working_days_before": self.working_days_before,
                "message": self.message}


def working_days_until(today: date, due: date, is_working_day: IsWorkingDay) -> int | None:
    """Working days after ``today`` up to and including ``due``; None when ``due`` has passed."""
    if due < today:
        return None
    return working_days_between(is_working_day, today, due)


def reminders_due(today: date, is_working_day: IsWorkingDay, rules: DueRules = DueRules()) -> list[Reminder]:
    """The stage each not-yet-due report is at on ``today`` (at most one per period)."""
    out: list[Reminder] = []
    for period in periods_ended_before(today):
        due = due_date(period, is_working_day, rules)
        left = working_days_until(today, due, is_working_day)
        if left is None:
            continue
        reached = [stage for stage in STAGES if left <= stage]
        if reached:
            out.append(Reminder(period, due, min(reached)))
    return out


async def run_reminders(db: Database, events: EventBus, is_working_day: IsWorkingDay,
                        today: date | None = None, rules: DueRules = DueRules()) -> list[Reminder]:
    """Store and publish the reminders due today that were not stored before; return the new ones."""
    today = today or local_date(utcnow())
    created: list[Reminder] = []
    for reminder in reminders_due(today, is_working_day, rules):
        try:
            async with db.transaction() as session:
                exists = await session.scalar(select(ReportReminder.id).where(
                    ReportReminder.period_key == reminder.period.key,
                    ReportReminder.working_days_before == reminder.working_days_before))
                if exists is not None:
                    continue
                session.add(ReportReminder(
                    period_key=reminder.period.key, period_kind=reminder.period.kind.value,
                    due_date=reminder.due, working_days_before=reminder.working_days_before,
                    message=reminder.message))
        except IntegrityError:  # another instance stored it first
            continue
        created.append(reminder)
        await events.publish(TOPIC, reminder.event())
        log.info("report reminder stored: %s", reminder.message)
    return created


async def open_reminders(db: Database, limit: int = 20) -> list[ReportReminder]:
    """Reminders not yet acknowledged, the nearest due date first."""
    async with db.session() as session:
        rows = await session.scalars(
            select(ReportReminder).where(ReportReminder.acknowledged_at.is_(None))
            .order_by(ReportReminder.due_date, ReportReminder.working_days_before).limit(limit))
        return list(rows)


async def reminder_loop(db: Database, events: EventBus, is_working_day: IsWorkingDay,
                        interval_seconds: float, rules: DueRules = DueRules()) -> None:
    """Run ``run_reminders`` every ``interval_seconds`` until cancelled; errors are logged, not fatal."""
    while True:
        try:
            await run_reminders(db, events, is_working_day, rules=rules)
        except Exception:  # noqa: BLE001 - a database hiccup must not stop future reminders
            log.exception("report reminder run failed")
        await asyncio.sleep(interval_seconds)


def reminder_json(row: ReportReminder) -> dict[str, Any]:
    return {"id": row.id, "period": row.period_key, "kind": row.period_kind,
            "due_date": row.due_date.isoformat(), "working_days_before": row.working_days_before,
            "message": row.message, "created_at": _iso(row.created_at),
            "acknowledged_at": _iso(row.acknowledged_at), "acknowledged_by": row.acknowledged_by}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
