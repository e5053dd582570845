"""``aduan privacy-tick`` (alerts on the rights and breach clocks), ``aduan privacy-retention``, and
``aduan relationship-ended`` / ``relationship-resumed`` (the lender's core's event, by hand or from a file)."""
from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from pathlib import Path

from attachments.config import AttachmentSettings
from attachments.runtime import build_file_store
from desk.config import Settings
from privacy.context import PrivacyContext, build_privacy_context
from privacy.errors import PrivacyError
from privacy.jobs import daily
from privacy.relationships import parse_when, record_ended, record_resumed
from privacy.scheduler import tick
from storage.base import utcnow
from storage.db import Database
from tickets.context import build_context


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the privacy subcommands to the ``aduan`` command line."""
    parser = subparsers.add_parser("privacy-tick", help="raise due alerts on the 72-hour clocks of rights requests and breaches once")
    parser.set_defaults(func=_tick)
    retention = subparsers.add_parser(
        "privacy-retention", help="anonymise what the retention schedule says is due, and held erasures whose hold ended")
    retention.set_defaults(func=_retention)
    ended = subparsers.add_parser(
        "relationship-ended", help="record that customers' relationships with the lender ended (identity records "
                                   "are kept 5 years from then); audited")
    ended.add_argument("customer_id", nargs="?", help="the lender's customer id")
    ended.add_argument("--at", help="when: YYYY-MM-DD (00:00 WIB) or an ISO date-time with offset; default now")
    ended.add_argument("--file", type=Path, help="a CSV with the columns customer_id,ended_at (a backfill)")
    ended.set_defaults(func=_relationship_ended)
    resumed = subparsers.add_parser(
        "relationship-resumed", help="the customer has a relationship again: keep its identity records; audited")
    resumed.add_argument("customer_id")
    resumed.set_defaults(func=_relationship_resumed)


def _context(settings: Settings) -> PrivacyContext:
    return build_privacy_context(settings, build_context(settings), build_file_store(AttachmentSettings()))


def _tick(args: argparse.Namespace) -> int:
    settings = Settings()

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            report = await tick(db, _context(settings))
        finally:
            await db.dispose()
        for kind, count in sorted(report.raised.items()):
            print(f"{kind}\t{count}")
        print(f"total\t{report.total}\terrors\t{report.errors}")
        return 1 if report.errors else 0

    return asyncio.run(run())


def _retention(args: argparse.Namespace) -> int:
    settings = Settings()

    async def run() -> int:
        db = Database(settings.database_url)
        ctx = _context(settings)
        try:
            report = await daily(db, ctx)
        finally:
            await db.dispose()
        for kind, count in sorted(report.anonymised.items()):
            print(f"{kind}\t{count}")
        print(f"total\t{sum(report.anonymised.values())}")
        return 0

    return asyncio.run(run())


def _ended_rows(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    if args.file is not None:
        with args.file.open(encoding="utf-8", newline="") as fh:
            return [(row["customer_id"].strip(), (row.get("ended_at") or "").strip() or None)
                    for row in csv.DictReader(fh) if (row.get("customer_id") or "").strip()]
    if not args.customer_id:
        raise SystemExit("give a customer id or --file")
    return [(args.customer_id, args.at)]


def _relationship_ended(args: argparse.Namespace) -> int:
    settings = Settings()
    rows = _ended_rows(args)

    now = utcnow()
    events = []
    for customer_id, when in rows:  # every line checked before anything is written: all or nothing
        try:
            events.append((customer_id, parse_when(when, now)))
        except PrivacyError as exc:
            print(f"refused, nothing recorded: {customer_id}: {exc.message}", file=sys.stderr)
            return 2

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                for customer_id, ended_at in events:
                    await record_ended(session, customer_id, ended_at, source="cli", actor_id=None, now=now)
        finally:
            await db.dispose()
        print(f"recorded\t{len(events)}")
        return 0

    return asyncio.run(run())


def _relationship_resumed(args: argparse.Namespace) -> int:
    settings = Settings()

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                resumed = await record_resumed(session, args.customer_id, source="cli", actor_id=None)
        finally:
            await db.dispose()
        print("resumed" if resumed else "no end was recorded for this customer")
        return 0

    return asyncio.run(run())
