"""``aduan tickets-tick`` (run the scheduler once) and ``aduan tickets-days-off`` (check the calendar)."""
from __future__ import annotations

import argparse
from datetime import date, timedelta

from desk.config import Settings
from storage.db import run_with_database
from tickets.calendar import load_working_calendar
from tickets.context import build_context
from tickets.scheduler import tick


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the tickets subcommands to the ``aduan`` command line."""
    tick = subparsers.add_parser("tickets-tick", help="raise due SLA alerts, status updates and reminders once")
    tick.set_defaults(func=_tick)
    days = subparsers.add_parser("tickets-days-off", help="list the days off of a year (holidays + cuti bersama)")
    days.add_argument("year", type=int, nargs="?", default=date.today().year)
    days.set_defaults(func=_days_off)


def _tick(args: argparse.Namespace) -> int:
    settings = Settings()
    return run_with_database(settings.database_url, lambda db: tick(db, build_context(settings))).print()


def _days_off(args: argparse.Namespace) -> int:
    settings = Settings()
    cal = load_working_calendar(settings.calendar_file)
    if args.year not in cal.extra.years:
        print(f"WARNING: {settings.calendar_file} has no collective leave for {args.year}: update it")
    day = date(args.year, 1, 1)
    while day.year == args.year:
        name = cal.holiday_name(day)
        if name:
            print(f"{day.isoformat()}\t{day:%a}\t{name}")
        day += timedelta(days=1)
    return 0
