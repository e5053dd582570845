"""``aduan privacy-tick`` (alerts on the rights and breach clocks) and ``aduan privacy-retention``."""
from __future__ import annotations

import argparse

from attachments.config import AttachmentSettings
from attachments.runtime import build_file_store
from desk.config import Settings
from privacy.context import PrivacyContext, build_privacy_context
from privacy.jobs import daily
from privacy.scheduler import tick
from storage.db import run_with_database
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
    return run_with_database(settings.database_url, lambda db: tick(db, _context(settings))).print()


def _retention(args: argparse.Namespace) -> int:
    settings = Settings()
    report = run_with_database(settings.database_url, lambda db: daily(db, _context(settings)))
    for kind, count in sorted(report.anonymised.items()):
        print(f"{kind}\t{count}")
    print(f"total\t{sum(report.anonymised.values())}")
    return 0
