"""The periodic report's definitions, checked on hand-made tickets at the edges of a period."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from reports.periods import parse_period
from reports.queries import period_report
from storage.db import Database
from tests.reports.conftest import ticket


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


HOUR = timedelta(hours=1)


def october_tickets() -> dict[str, object]:
    """Tickets around October 2026 (WIB: 30 Sep 17:00 UTC to 31 Oct 17:00 UTC)."""
    return {
        # Received 1 Oct 01:00 WIB (still 30 Sep in UTC): October's. Never answered.
        "A": ticket(received_at=utc(2026, 9, 30, 18), resolution_due=utc(2026, 11, 20)),
        # Received 30 Sep 23:59 WIB: September's, still open.
        "B": ticket(received_at=utc(2026, 9, 30, 16, 59), resolution_due=utc(2026, 11, 20),
                    first_responded_at=utc(2026, 10, 1)),
        "C": ticket(received_at=utc(2026, 10, 10), first_responded_at=utc(2026, 10, 10, 1),
                    status="resolved", closed_at=utc(2026, 10, 20)),
        # Carried over and resolved late.
        "D": ticket(received_at=utc(2026, 9, 1), resolution_due=utc(2026, 9, 29), status="resolved",
                    closed_at=utc(2026, 10, 5), first_responded_at=utc(2026, 9, 1, 2)),
        # Rejected in the period; answered a day after the first-response deadline.
        "E": ticket(received_at=utc(2026, 10, 12), first_responded_at=utc(2026, 10, 15),
                    status="rejected", closed_at=utc(2026, 10, 15), rejection_ground="not_our_product"),
        # Received in October, resolved in November: in process at October's end.
        "F": ticket(received_at=utc(2026, 10, 20), first_responded_at=utc(2026, 10, 20, 2),
                    status="resolved", closed_at=utc(2026, 11, 3)),
        # Closed before October: not in October's report at all.
        "G": ticket(received_at=utc(2026, 8, 1), status="resolved", closed_at=utc(2026, 9, 10)),
        # Received 1 Nov 00:30 WIB: November's.
        "H": ticket(received_at=utc(2026, 10, 31, 17, 30)),
        # Carried over, still open, resolution deadline passed in October.
        "I": ticket(received_at=utc(2026, 9, 10), status="in_progress", resolution_due=utc(2026, 10, 8),
                    first_responded_at=utc(2026, 9, 10, 1)),
        # Fraud on Telegram with negative publicity, resolved 31 Oct 23:59 WIB.
        "J": ticket(received_at=utc(2026, 10, 2), category="fraud", channel="telegram", product="paylater",
                    cause="kesalahan_sistem", negative_publicity=True, first_responded_at=utc(2026, 10, 2, 1),
                    status="resolved", closed_at=utc(2026, 10, 31, 16, 59), resolution_due=utc(2026, 11, 5)),
        # Reopened: status back in progress with a stale closed_at from September.
        "K": ticket(received_at=utc(2026, 9, 5), status="in_progress", closed_at=utc(2026, 9, 20),
                    first_responded_at=utc(2026, 9, 5, 1)),
    }


async def load(database: Database, tickets: dict[str, object]) -> None:
    async with database.transaction() as session:
        session.add_all(tickets.values())


async def test_october_counts_follow_the_documented_definitions(database: Database) -> None:
    await load(database, october_tickets())
    async with database.session() as session:
        report = await period_report(session, parse_period("2026-10"))
    t = report.totals
    assert t.received == 5            # A C E F J
    assert t.carried_over == 4        # B D I K
    assert t.resolved == 3            # C D J
    assert t.not_resolved == 1        # E
    assert t.in_process == 5          # A B F I K
    assert t.carried_over + t.received - t.resolved - t.not_resolved == t.in_process
    assert t.negative_publicity == 1  # J
    assert (t.resolution_sla_met, t.resolution_sla_breached) == (3, 3)  # C E J | D I K
    assert (t.first_response_met, t.first_response_breached) == (3, 2)  # C F J | A E

    by_category = dict(report.by_category())
    assert list(by_category) == ["payment", "fraud", "unethical_collection", "relief",
                                 "phone_change", "app", "other"]
    assert by_category["fraud"].received == 1 and by_category["fraud"].resolved == 1
    assert by_category["payment"].received == 4 and by_category["relief"].received == 0
    assert dict(report.by_channel())["telegram"].negative_publicity == 1
    causes = dict(report.by_cause())
    assert causes["kesalahan_sistem"].received == 1 and causes["unknown"].received == 4
    rows = {(p, c): n for p, c, n in report.by_product_category()}
    assert set(rows) == {("paylater", "fraud"), ("pinjaman_tunai", "payment")}


async def test_november_sees_what_october_left_open(database: Database) -> None:
    await load(database, october_tickets())
    async with database.session() as session:
        october = await period_report(session, parse_period("2026-10"))
        november = await period_report(session, parse_period("2026-11"))
    assert november.totals.carried_over == october.totals.in_process
    assert november.totals.received == 1   # H
    assert november.totals.resolved == 1   # F


async def test_quarter_and_year_cover_their_months(database: Database) -> None:
    await load(database, october_tickets())
    async with database.session() as session:
        months = [await period_report(session, parse_period(f"2026-{m}")) for m in (10, 11, 12)]
        quarter = await period_report(session, parse_period("2026-Q4"))
        year = await period_report(session, parse_period("2026"))
    assert quarter.totals.received == sum(m.totals.received for m in months) == 6
    assert quarter.totals.resolved == sum(m.totals.resolved for m in months)
    assert quarter.totals.carried_over == months[0].totals.carried_over
    assert year.totals.received == 11 and year.totals.carried_over == 0


async def test_empty_database_gives_zero_rows_for_every_category(database: Database) -> None:
    async with database.session() as session:
        report = await period_report(session, parse_period("2026-Q1"))
    assert report.totals.received == 0
    assert len(report.by_category()) == 7
    assert report.totals.resolution_sla_rate is None
