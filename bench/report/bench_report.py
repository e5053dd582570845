"""Benchmark: report and dashboard queries over one million tickets in PostgreSQL.

Creates a throw-away database with a unique name, creates the tables from the
models, loads 1,000,000 synthetic tickets with COPY (asyncpg
``copy_records_to_table``), runs the report queries a few times and prints a
table of timings, then drops the database. Talks only to 127.0.0.1.

    make bench-report            # or: .venv/bin/python -m bench.report.bench_report --rows 1000000
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from reports.metrics import Window, dashboard_data
from reports.periods import parse_period
from reports.queries import period_report
from reports.synthetic import CAUSES, CHANNELS, PRODUCTS, PUBLISHED_2022
from storage.db import Database
from aduan.registry import metadata
from tickets.models import Ticket

ADMIN_URL = os.environ.get("ADUAN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_SECONDS = 3.0
YEARS = (2023, 2024, 2025, 2026)


COLUMNS = ["number", "category", "priority", "status", "channel", "form", "complainant_type", "full_name",
           "product", "chronology", "received_at", "clock_started_at", "first_response_due", "resolution_due",
           "first_responded_at", "closed_at", "sla_policy", "escalation_level", "cause", "negative_publicity",
           "created_at", "updated_at"]
CHUNK = 100_000


def copy_columns() -> tuple[list[str], tuple[Any, ...]]:
    """The COPY column list: ``COLUMNS`` plus every other NOT NULL column, with its default.

    COPY writes only the columns it is given and never runs SQLAlchemy's
    Python-side defaults, so a NOT NULL column added by a later migration would
    make the load fail (``extension_count`` did). Columns with a scalar default
    are filled with it; any other NOT NULL column stops the benchmark with its
    name, so ``chunks`` can be taught to generate it.
    """
    names, values = list(COLUMNS), []
    for column in Ticket.__table__.columns:
        if column.name in COLUMNS or column.nullable or column.primary_key or column.server_default is not None:
            continue
        default = column.default
        if default is None or not default.is_scalar:
            raise SystemExit(f"bench_report: tickets.{column.name} is NOT NULL without a scalar default; "
                             "generate it in chunks()")
        names.append(column.name)
        values.append(default.arg)
    return names, tuple(values)


def chunks(total: int, seed: int = 7) -> Iterator[list[tuple[Any, ...]]]:
    """``total`` tickets over four years with the 2022 category mix, in COPY-ready chunks.

    Drawn in bulk (``random.choices(k=…)``) because a per-row generator is the
    slowest part of a million-row load. The last year keeps 4 % open; 5 % are rejected.
    """
    rng = random.Random(seed)
    cats, cat_w = list(PUBLISHED_2022), list(PUBLISHED_2022.values())
    pick = lambda pairs, k: rng.choices([v for v, _ in pairs], [w for _, w in pairs], k=k)  # noqa: E731
    day = timedelta(days=1)
    first = datetime(YEARS[0], 1, 1, tzinfo=timezone.utc) - timedelta(hours=7)
    span = (datetime(YEARS[-1] + 1, 1, 1, tzinfo=timezone.utc) - timedelta(hours=7) - first).total_seconds()
    last_year_start = datetime(YEARS[-1], 1, 1, tzinfo=timezone.utc) - timedelta(hours=7)
    serial = 0
    while serial < total:
        k = min(CHUNK, total - serial)
        category = rng.choices(cats, cat_w, k=k)
        channel, product, cause = pick(CHANNELS, k), pick(PRODUCTS, k), pick(CAUSES, k)
        rows: list[tuple[Any, ...]] = []
        for i in range(k):
            serial += 1
            received = first + timedelta(seconds=int(rng.random() * span))
            roll = rng.random()
            responded = received + timedelta(minutes=5 + int(rng.random() * 2400))
            if roll < 0.04 and received >= last_year_start:
                status, closed = "in_progress", None
            else:
                status = "rejected" if roll < 0.09 else "resolved"
                closed = received + day * (0.2 + rng.random() * (38 if roll > 0.96 else 20))
            rows.append((f"BENCH-{serial:08d}", category[i], "medium", status, channel[i], "written", "user",
                         "Peminjam Sintetis", product[i], "Data sintetis.", received, received, received + 2 * day,
                         received + 28 * day, responded, closed, "pojk-18-2018", "agent", cause[i],
                         roll > 0.99, received, closed or received))
        yield rows


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return samples[0], statistics.median(samples[1:] or samples), max(samples)


async def main(rows: int, runs: int) -> int:
    name = f"aduan_bench_{uuid.uuid4().hex[:10]}"
    admin_dsn = ADMIN_URL.replace("postgresql://", "postgres://")
    try:
        admin = await asyncpg.connect(admin_dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"error: cannot reach PostgreSQL at {ADMIN_URL} ({exc}); set ADUAN_BENCH_PG", file=sys.stderr)
        return 2
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        generate = copy = 0.0
        conn = await asyncpg.connect(url.replace("postgresql://", "postgres://"))
        # Building the secondary indexes once after COPY is far cheaper than updating them per row.
        indexes = [CreateIndex(ix).compile(dialect=postgresql.dialect()) for ix in Ticket.__table__.indexes]
        try:
            for ix in Ticket.__table__.indexes:
                await conn.execute(f'DROP INDEX "{ix.name}"')
            columns, defaults = copy_columns()
            source = chunks(rows)
            while True:
                t0 = time.perf_counter()
                batch = next(source, None)
                generate += time.perf_counter() - t0
                if batch is None:
                    break
                t0 = time.perf_counter()
                records = [row + defaults for row in batch] if defaults else batch
                await conn.copy_records_to_table("tickets", records=records, columns=columns)
                copy += time.perf_counter() - t0
            t0 = time.perf_counter()
            for ddl in indexes:
                await conn.execute(str(ddl))
            await conn.execute("ANALYZE tickets")
            copy += time.perf_counter() - t0
        finally:
            await conn.close()

        async def report(key: str) -> Callable[[], Awaitable[Any]]:
            async def run() -> Any:
                async with db.session() as session:
                    return await period_report(session, parse_period(key))
            return run

        async def dashboard() -> Any:
            async with db.session() as session:
                now = datetime(2026, 12, 31, 12, tzinfo=timezone.utc)
                return await dashboard_data(session, Window(now=now, days=30))

        async with db.session() as session:
            check = await period_report(session, parse_period("2026-Q3"))
        results = [
            ("generate rows (Python)", generate, None, None),
            ("COPY + CREATE INDEX + ANALYZE", copy, None, None),
        ]
        for label, fn in [("quarterly report 2026-Q3", await report("2026-Q3")),
                          ("quarterly report 2024-Q2", await report("2024-Q2")),
                          ("monthly report 2026-10", await report("2026-10")),
                          ("annual report 2025", await report("2025")),
                          ("dashboard JSON (30 days)", dashboard)]:
            first, median, worst = await timed(fn, runs)
            results.append((label, first, median, worst))
    finally:
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print(f"\nReport benchmark: {rows:,} tickets in PostgreSQL ({runs} runs per query)")
    print(f"{'step':<32} {'first s':>9} {'median s':>9} {'max s':>9}")
    print("-" * 62)
    for label, first, median, worst in results:
        cells = [f"{first:9.3f}"] + [f"{v:9.3f}" if v is not None else f"{'':>9}" for v in (median, worst)]
        print(f"{label:<32} {' '.join(cells)}")
    quarterly = max(r[3] for r in results if r[0].startswith("quarterly"))  # type: ignore[type-var]
    verdict = "OK" if quarterly < TARGET_SECONDS else "SLOWER THAN TARGET"
    print(f"\nquarterly report worst case {quarterly:.3f} s (target < {TARGET_SECONDS:.0f} s): {verdict}")
    print(f"2026-Q3 check: received {check.totals.received:,}, resolved {check.totals.resolved:,}, "
          f"in process at end {check.totals.in_process:,}")
    return 0 if quarterly < TARGET_SECONDS else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rows, args.runs)))
