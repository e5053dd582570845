"""The root's own ``aduan`` subcommands: ``serve``, ``migrate``, ``seed-demo``, ``demo-logins``, and the PII
keys' ``pii-new-key``, ``pii-check`` and ``pii-rekey``."""
from __future__ import annotations

import argparse
import sys
from functools import partial

from alembic import command
from alembic.config import Config
from sanic import Sanic
from sanic.worker.loader import AppLoader

from aduan.app import create_app
from aduan.demo import demo_logins_text, seed_demo_staff
from aduan.pii_keys import check_keys, rekey, sealed_with
from desk import pii
from desk.config import REPO_ROOT, Settings
from desk.logging import configure_logging
from desk.workers import supervise
from storage.db import run_with_database


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

    seed = sub.add_parser("seed-demo", help="create the demo staff (only when DEMO_MODE is on)")
    seed.set_defaults(func=cmd_seed_demo)

    logins = sub.add_parser("demo-logins", help="print the demo staff logins")
    logins.set_defaults(func=cmd_demo_logins)

    new_key = sub.add_parser("pii-new-key", help="print a fresh PII key entry (id=base64) for PII_KEYS")
    new_key.add_argument("key_id", help="the new key's id, e.g. k2 (letters, digits, - or _)")
    new_key.set_defaults(func=cmd_pii_new_key)

    check = sub.add_parser("pii-check", help="check that the configured PII keys fit the database")
    check.set_defaults(func=cmd_pii_check)

    rekey_cmd = sub.add_parser("pii-rekey", help="re-seal phone numbers and addresses with the current PII key "
                                                 "and recompute their look-up keys (after a rotation; desk stopped)")
    rekey_cmd.set_defaults(func=cmd_pii_rekey)


def _factory(name: str) -> object:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, name=name)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the desk service until interrupted."""
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
        supervise(app)  # Sanic marks a dead worker failed but never replaces it
        Sanic.serve(primary=app, app_loader=loader)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database schema up to date."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    command.upgrade(config, args.revision)
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Create the demo staff; refuses outside demo mode so production never gets them."""
    settings = Settings()
    if not settings.demo_mode:
        print("seed-demo: DEMO_MODE is off; demo staff are never created in production", file=sys.stderr)
        return 2

    created = run_with_database(settings.database_url, seed_demo_staff)
    print(f"demo staff created: {', '.join(created)}" if created else "demo staff already present")
    return 0


def cmd_demo_logins(args: argparse.Namespace) -> int:
    """Print the demo logins (what `make run` shows)."""
    print(demo_logins_text() if Settings().demo_mode else "  (demo mode is off: no demo logins)")
    return 0


def _keyring(settings: Settings) -> pii.Keyring:
    ring = pii.load_keyring(settings.pii_keys, settings.pii_key_file, allow_dev=settings.demo_mode)
    pii.configure(ring)
    return ring


def cmd_pii_new_key(args: argparse.Namespace) -> int:
    """Print a new key entry; the operator puts it first in PII_KEYS (docs/privacy.md, "Keys and rotation")."""
    try:
        print(pii.new_key_entry(args.key_id))
    except pii.PiiKeyError as exc:
        print(f"pii-new-key: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_pii_check(args: argparse.Namespace) -> int:
    """Exit 0 when the configured keys fit the database, else 1 with the reason (names key ids only)."""
    settings = Settings()
    try:
        ring = _keyring(settings)
        run_with_database(settings.database_url, lambda db: check_keys(db, ring))
    except pii.PiiKeyError as exc:
        print(f"pii-check: {exc}", file=sys.stderr)
        return 1
    print(f"pii-check: keys fit the database (current key {ring.current_id})")
    return 0


def cmd_pii_rekey(args: argparse.Namespace) -> int:
    """Move every sealed value and look-up key to the current key; then the old key may be removed."""
    settings = Settings()
    try:
        ring = _keyring(settings)
        report = run_with_database(settings.database_url, lambda db: rekey(db, ring))
    except pii.PiiKeyError as exc:
        print(f"pii-rekey: {exc}", file=sys.stderr)
        return 1
    print(f"pii-rekey: current key {ring.current_id}; rows rewritten: {sealed_with(report.rewritten)}")
    return 0
