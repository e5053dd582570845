"""``aduan privacy-tick`` (alerts on the rights and breach clocks) and ``aduan privacy-retention``."""
from __future__ import annotations

import argparse
import asyncio

from attachments.config import AttachmentSettings
from attachments.runtime import build_file_store
from desk.config import Settings
from privacy.context import PrivacyContext, build_privacy_context
from privacy.jobs import daily
from privacy.scheduler import tick
from storage.db import Database
from tickets.context import build_context


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the privacy subcommands to the ``aduan`` command line."""
    parser = subparsers.add_parser("privacy-tick", help="raise due alerts on the 72-hour clocks of rights requests and breaches once")
    parser.set_defaults(func=_tick)
    retention = subparsers.add_parser(
        "privacy-retention", help="anonymise what the retention schedule says is due, and held erasures whose hold ended")
    retention.set_defaults(func=_retention)


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
