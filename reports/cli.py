"""``aduan report``, ``aduan report-reminders`` and ``aduan load-synthetic``."""
from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from sqlalchemy.exc import DBAPIError

# Every table the synthetic year touches must be known to Base.metadata for --create-tables.
import handoff.models  # noqa: F401
import reports.models  # noqa: F401
import storage.models  # noqa: F401
import tickets.models  # noqa: F401
from desk.config import Settings
from desk.events import build_event_bus
from reports.document import due_rules
from reports.periods import PeriodError, parse_period
from reports.reminders import Reminder, run_reminders
from reports.service import FORMATS, ReportService
from reports.synthetic import load_year
from reports.workdays import working_day_checker
from storage.base import Base
from storage.db import Database, run_with_database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the reports subcommands to the ``aduan`` parser."""
    report = sub.add_parser("report", help="write the complaint report for a period (XLSX, CSV, HTML)")
    report.add_argument("--period", required=True, help="2026-10 (month), 2026-Q3 (quarter) or 2022 (year)")
    report.add_argument("--out", type=Path, default=Path("var/reports"), help="output folder (default var/reports)")
    report.add_argument("--format", default=",".join(FORMATS),
                        help=f"comma-separated formats among {', '.join(FORMATS)} (default all)")
    report.set_defaults(func=cmd_report)

    remind = sub.add_parser("report-reminders",
                            help="store and publish report due-date reminders (idempotent; run daily or hourly)")
    remind.add_argument("--today", type=date.fromisoformat, help="pretend today is YYYY-MM-DD (WIB)")
    remind.set_defaults(func=cmd_reminders)

    synth = sub.add_parser("load-synthetic",
                           help="replace one year of synthetic complaints (the published 2022 distribution)")
    synth.add_argument("--year", type=int, default=2022)
    synth.add_argument("--seed", type=int, default=2022)
    synth.add_argument("--create-tables", action="store_true",
                       help="create missing tables first (scratch databases only; production uses migrations)")
    synth.set_defaults(func=cmd_load_synthetic)


def cmd_report(args: argparse.Namespace) -> int:
    try:
        period = parse_period(args.period)
    except PeriodError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    if not formats or set(formats) - set(FORMATS):
        print(f"error: --format takes {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    settings = Settings()

    async def write(db: Database) -> list[Path]:
        service = ReportService.from_settings(db, settings, working_day_checker(settings))
        return await service.write(period, args.out, formats)

    try:
        paths = run_with_database(settings.database_url, write)
    except DBAPIError as exc:
        return _database_error(exc)
    for path in paths:
        print(path)
    return 0


def cmd_reminders(args: argparse.Namespace) -> int:
    settings = Settings()

    async def remind(db: Database) -> list[Reminder]:
        # With REDIS_URL set the reminders reach the running desks' dashboards; else only the table has them.
        events = build_event_bus(settings)
        try:
            return await run_reminders(db, events, working_day_checker(settings), args.today,
                                       rules=due_rules(settings))
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                await close()

    created = run_with_database(settings.database_url, remind)
    for reminder in created:
        print(reminder.message)
    print(f"{len(created)} new reminder(s)")
    return 0


def cmd_load_synthetic(args: argparse.Namespace) -> int:
    settings = Settings()

    async def load(db: Database) -> int:
        if args.create_tables:
            async with db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
        async with db.transaction() as session:
            return await load_year(session, args.year, seed=args.seed)

    try:
        count = run_with_database(settings.database_url, load)
    except DBAPIError as exc:
        return _database_error(exc)
    print(f"{count} synthetic complaints loaded for {args.year}")
    return 0


def _database_error(exc: DBAPIError) -> int:
    print(f"error: database: {exc.orig}. Run the migrations first (alembic upgrade head), "
          "or pass --create-tables to load-synthetic for a scratch database.", file=sys.stderr)
    return 1
