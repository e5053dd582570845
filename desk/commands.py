"""The desk's own ``aduan`` subcommands: ``serve`` and ``migrate``."""
from __future__ import annotations

import argparse
from functools import partial

from desk.config import REPO_ROOT, Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve`` and ``migrate`` to the ``aduan`` command line."""
    serve = sub.add_parser("serve", help="run the desk service (Sanic) on DESK_HOST:DESK_PORT")
    serve.add_argument("--host", default=None, help="override DESK_HOST")
    serve.add_argument("--port", type=int, default=None, help="override DESK_PORT")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (default 1; more than one needs PostgreSQL and REDIS_URL)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(func=cmd_migrate)

    seed = sub.add_parser("seed-demo", help="load demo data of every part (only with DEMO_MODE=true)")
    seed.set_defaults(func=cmd_seed_demo)

    logins = sub.add_parser("demo-logins", help="print the demo staff logins and sample borrowers")
    logins.set_defaults(func=cmd_demo_logins)


# Parts that may ship demo data: ``<part>.demo`` with ``async def seed_demo(db, settings)``
# (idempotent) and/or ``def demo_logins(settings) -> list[str]``.
DEMO_PARTS = ("handoff.demo", "tickets.demo", "connectors.demo", "reports.demo")


def _demo_modules() -> list[object]:
    import importlib

    modules = []
    for name in DEMO_PARTS:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue
            raise
    return modules


def _factory(name: str) -> object:
    from desk.app import create_app
    from desk.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, name=name)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the desk service until interrupted."""
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    settings = Settings()
    host = args.host or settings.desk_host
    port = args.port or settings.desk_port
    loader = AppLoader(factory=partial(_factory, "aduan"))
    app = loader.load()
    app.prepare(host=host, port=port, workers=max(1, args.workers), access_log=args.access_log,
                single_process=args.workers <= 1, motd=False)
    if args.workers <= 1:
        Sanic.serve_single(primary=app)
    else:
        Sanic.serve(primary=app, app_loader=loader)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database schema up to date."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    command.upgrade(config, args.revision)
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Run every part's idempotent demo seeding; refuse outside demo mode."""
    import asyncio
    import sys

    from storage.db import Database

    settings = Settings()
    if not settings.demo_mode:
        print("seed-demo refused: DEMO_MODE is off (this would put demo accounts in production)",
              file=sys.stderr)
        return 2

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            for module in _demo_modules():
                seed = getattr(module, "seed_demo", None)
                if seed is not None:
                    await seed(db, settings)
                    print(f"seeded {module.__name__}")
        finally:
            await db.dispose()

    asyncio.run(run())
    return 0


def cmd_demo_logins(args: argparse.Namespace) -> int:
    """Print what a demo user needs: staff logins (from the parts) and the SAMPLE borrowers."""
    from lending.demo import DemoLendingCore

    settings = Settings()
    lines: list[str] = []
    for module in _demo_modules():
        logins = getattr(module, "demo_logins", None)
        if logins is not None:
            lines.extend(logins(settings))
    lines.append("  Sample borrowers (fictional) for the identity check: name / phone / loan id")
    core = DemoLendingCore()
    for account, phone in core.sample_identities():
        loan = account.loans[0].loan_id if account.loans else account.applications[0].application_id
        lines.append(f"    {account.full_name} / {phone} / {loan}")
    print("\n".join(lines))
    return 0
