"""Shared fixtures: settings, a fresh database (SQLite or PostgreSQL), the event bus.

Run the suite against PostgreSQL with ``pytest --db=postgres``; ``make test``
runs it on both engines.
"""
from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from desk.config import Settings
from desk.events import InMemoryEventBus
from desk.logging import quiet_third_parties
from storage.db import Database
from aduan.registry import metadata
from tests.support.log_scan import LeakScanner
from tests.support.services import ensure_postgres

PG_ADMIN_URL = os.environ.get("ADUAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


LIVE_DIR = Path(__file__).resolve().parent / "live"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=["sqlite", "postgres"], default="sqlite",
                     help="database engine the suite runs on")
    parser.addoption("--live", action="store_true", default=False,
                     help="also collect tests/live: the live-stack conversation suite (make test-conversations)")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/live starts Rasa, the action server and the desk: only ``--live`` runs collect it."""
    if not config.getoption("--live") and (collection_path == LIVE_DIR or LIVE_DIR in collection_path.parents):
        return True
    return None


# -- every log line of the run is scanned for secrets and unmasked personal data ----------

_SCANNER = LeakScanner()


def pytest_configure(config: pytest.Config) -> None:
    """Send every record of the session, at DEBUG, through the production formatter into the scanner."""
    root = logging.getLogger()
    root.addHandler(_SCANNER)
    root.setLevel(logging.DEBUG)
    quiet_third_parties()  # as in production: libraries at WARNING


def pytest_runtest_setup(item: pytest.Item) -> None:
    _SCANNER.current_test = item.nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any log line leaked; the report names the test and the line."""
    if _SCANNER.leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _SCANNER.leaks:
        terminalreporter.write_line(f"log scan: {_SCANNER.lines} log lines, no secret or unmasked personal data")
        return
    terminalreporter.section("log scan: leaks", red=True)
    for leak in _SCANNER.leaks[:50]:
        terminalreporter.write_line(f"{leak.test}: {leak.what}: {leak.line}")
    terminalreporter.write_line(f"{len(_SCANNER.leaks)} leaking log line(s) in {_SCANNER.lines}")


@pytest.fixture(autouse=True)
def _untouched_sanic() -> Iterator[None]:
    """Give Sanic's HTTP class its original methods back after each test.

    At start-up Sanic rewrites methods of its shared ``Http`` class for the app
    being started ("touch-up"), removing signal dispatches the app has no
    handler for. Production runs one app per process; a test process starts
    many, and an app without the ``http.lifecycle.exception`` handler of
    ``desk.http_errors`` left the class without that dispatch for every later
    app (test_body_limit.py failed after test_periodic.py). In test mode Sanic
    keeps each original as ``_<name>``.
    """
    yield
    from sanic.touchup.service import TouchUp

    for target, name in TouchUp._registry:
        original = getattr(target, f"_{name}", None)
        if original is not None:
            setattr(target, name, original)


@pytest.fixture(scope="session")
def db_engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session")
def pg_database_url(db_engine_name: str) -> Iterator[str | None]:
    """A throw-away PostgreSQL database for this test session (None on SQLite)."""
    if db_engine_name != "postgres":
        yield None
        return
    ensure_postgres()
    import asyncpg  # only needed here

    name = f"aduan_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql://", "postgres://")

    async def _create() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    async def _drop() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(_create())
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_drop())


@pytest.fixture
def database_url(tmp_path: Path, pg_database_url: str | None) -> str:
    """The URL of an empty database for one test."""
    if pg_database_url:
        return pg_database_url
    return f"sqlite:///{tmp_path / 'aduan.db'}"


@pytest.fixture
async def database(database_url: str, pg_database_url: str | None) -> AsyncIterator[Database]:
    """A database with every table, empty at the start of the test.

    SQLite gets a new file per test. PostgreSQL keeps one database per session
    and empties it with one TRUNCATE, because dropping and creating every table
    for each of several hundred tests costs minutes of DDL.
    """
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)  # checkfirst: a no-op once the tables exist
        if pg_database_url:
            tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            await conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    yield db
    await db.dispose()
    if pg_database_url:
        await _check_no_connections_left(pg_database_url)


async def _check_no_connections_left(url: str, wait_seconds: float = 1.0) -> None:
    """Fail the finished test if a connection to the session's database is still open.

    Everything a test opens is closed by the end of it: its engines are disposed,
    an app's by the app's stop hooks (``aduan.app.create_app``), which the ASGI
    client runs after every request. A connection left open is orphaned when the
    test's event loop closes, and a few hundred of them exhaust PostgreSQL's
    max_connections and fail unrelated tests later in the run; so this test
    fails, naming what the connections last ran, and they are ended here. A
    connection being closed can be listed for a moment: it gets ``wait_seconds``.
    """
    import asyncpg  # only needed on PostgreSQL

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://"))
    try:
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while True:
            left = await conn.fetch("SELECT pid, state, left(query, 80) AS query FROM pg_stat_activity "
                                    "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
            if not left or asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.02)
        if left:
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
    finally:
        await conn.close()
    if left:
        shown = "; ".join(f"{row['state']}: {row['query']!r}" for row in left)
        pytest.fail(f"the test left {len(left)} connection(s) to the database open ({shown})", pytrace=False)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own database, fixed secrets, demo mode on."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        desk_service_token="test-service-token",
        session_secret="test-session-secret-0123456789",
        twilio_auth_token="test-twilio-auth-token",
        telegram_secret_token="test-telegram-secret",
        inapp_signing_secret="test-inapp-signing-secret-0123456789",
        rasa_url="http://127.0.0.1:9",  # nothing listens: tests that need a bot start a fake
    )


CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, never a downloaded one; these flags keep it off the network.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright, for tests marked ``browser``."""
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's Chromium is missing: run `make browser-setup`")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def event_bus() -> InMemoryEventBus:
    return InMemoryEventBus()
