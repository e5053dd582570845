"""The dialect-specific expressions give the same answers on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from reports.sql import Bucket, local_bucket, seconds_between
from storage.db import Database
from tests.reports.conftest import ticket
from tickets.models import Ticket


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


CASES = [
    # UTC moment            → WIB day,      week (Monday), month
    (utc(2026, 10, 4, 17, 30), "2026-10-05", "2026-10-05", "2026-10-01"),  # Mon 00:30 WIB
    (utc(2026, 10, 4, 16, 30), "2026-10-04", "2026-09-28", "2026-10-01"),  # Sun 23:30 WIB
    (utc(2026, 9, 30, 17, 0), "2026-10-01", "2026-09-28", "2026-10-01"),   # Thu 00:00 WIB
    (utc(2026, 9, 30, 16, 59, 59), "2026-09-30", "2026-09-28", "2026-09-01"),
    (utc(2027, 1, 3, 17, 0), "2027-01-04", "2027-01-04", "2027-01-01"),
]


@pytest.mark.parametrize("bucket,column", [(Bucket.DAY, 1), (Bucket.WEEK, 2), (Bucket.MONTH, 3)])
async def test_local_bucket(database: Database, bucket: Bucket, column: int) -> None:
    async with database.transaction() as session:
        session.add_all(ticket(number=f"B{i}", received_at=case[0]) for i, case in enumerate(CASES))
    async with database.session() as session:
        expr = local_bucket(Ticket.received_at, bucket, session.get_bind().dialect.name)
        rows = (await session.execute(select(Ticket.number, expr).order_by(Ticket.number))).all()
    assert [str(value) for _, value in rows] == [case[column] for case in CASES]


async def test_seconds_between(database: Database) -> None:
    received = utc(2026, 10, 4, 23, 59, 30)
    async with database.transaction() as session:
        session.add(ticket(received_at=received, first_responded_at=received + timedelta(minutes=90, seconds=15)))
    async with database.session() as session:
        expr = seconds_between(Ticket.first_responded_at, Ticket.received_at, session.get_bind().dialect.name)
        value = (await session.execute(select(expr))).scalar_one()
    assert float(value) == pytest.approx(5415.0, abs=0.01)


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError):
        local_bucket(Ticket.received_at, Bucket.DAY, "mysql")


def test_bucket_keys_cover_the_window_in_wib() -> None:
    from reports.metrics import Window, bucket_keys

    now = utc(2026, 11, 22, 18, 0)  # Monday 23 November 01:00 WIB
    days = bucket_keys(Window(now=now, days=7, bucket=Bucket.DAY))
    assert days[0] == "2026-11-16" and days[-1] == "2026-11-23" and len(days) == 8
    weeks = bucket_keys(Window(now=now, days=21, bucket=Bucket.WEEK))
    assert weeks == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    months = bucket_keys(Window(now=now, days=90, bucket=Bucket.MONTH))
    assert months == ["2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01"]
