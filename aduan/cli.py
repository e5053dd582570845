"""The ``aduan`` command line: the root's own commands and every part's, in one list.

A part that has commands keeps them in ``<part>/cli.py`` with a
``register(subparsers)`` function that adds subparsers whose ``func`` takes
the parsed arguments and returns an exit code.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import aduan.commands
import connectors.cli
import handoff.cli
import privacy.cli
import reports.cli
import tickets.cli


def build_parser() -> argparse.ArgumentParser:
    """The parser with every part's subcommands, in help order."""
    parser = argparse.ArgumentParser(prog="aduan", description="Aduan desk service")
    sub = parser.add_subparsers(dest="command", required=True)
    aduan.commands.register(sub)   # serve, migrate, seed-demo, demo-logins
    connectors.cli.register(sub)   # telegram-webhook
    handoff.cli.register(sub)      # staff accounts, nlu-export-reviewed
    tickets.cli.register(sub)      # tickets-tick, tickets-days-off
    reports.cli.register(sub)      # report, report-reminders, load-synthetic
    privacy.cli.register(sub)      # privacy-tick, privacy-retention
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aduan`` (and ``python -m aduan.cli``)."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
