"""The ``aduan`` command line. Each part adds its own subcommands.

A part that has commands keeps them in ``<part>/cli.py`` with a
``register(subparsers)`` function that adds subparsers whose ``func`` takes
the parsed arguments and returns an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Parts whose cli module registers subcommands, in help order.
PARTS = ("desk.commands", "connectors.cli", "handoff.cli", "tickets.cli", "reports.cli", "privacy.cli")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every part's subcommands."""
    parser = argparse.ArgumentParser(prog="aduan", description="Aduan desk service")
    sub = parser.add_subparsers(dest="command", required=True)
    for part in PARTS:
        try:
            module = importlib.import_module(part)
        except ModuleNotFoundError as exc:
            if exc.name and (part == exc.name or part.startswith(exc.name + ".")):  # no commands (yet)
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aduan`` (and ``python -m desk.cli``)."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
