"""The database handle: one async engine and its session factory per process."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


T = TypeVar("T")

# A pooled connection unused this long is pinged before use (see ping_idle_connections).
PING_AFTER_IDLE_SECONDS = 10.0


def async_url(url: str) -> str:
    """Map a plain database URL onto the async driver the desk uses.

    Operators write ``postgresql://…`` or ``sqlite:///…``; the desk needs
    ``postgresql+asyncpg`` and ``sqlite+aiosqlite``.
    """
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    elif u.drivername == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    return u.render_as_string(hide_password=False)


class Database:
    """Owns the engine; hands out sessions and transactions."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 20,
                 ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # hide_parameters: a failed statement's error (and so a logged traceback) must not
        # carry its parameters, which include borrowers' message texts.
        kwargs: dict[str, object] = {"echo": echo, "hide_parameters": True}
        if not self.is_sqlite:
            kwargs.update(pool_size=pool_size, max_overflow=0)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            ping_idle_connections(self.engine.sync_engine, ping_after_idle_seconds)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session without an implicit commit; the caller commits."""
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed on success, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def run_with_database(url: str, job: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``job(db)`` to its end in a new event loop, on a ``Database`` for ``url``; return what it returns.

    The command line's way to the database (the ``aduan`` subcommands,
    ``python -m handoff.nlu_review``): the connections are closed when the job
    ends, also when it raises, before the loop is.
    """
    async def main() -> T:
        db = Database(url)
        try:
            return await job(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout only if it sat idle for ``idle_seconds``.

    ``pool_pre_ping`` pings at every checkout; with asyncpg that is a
    BEGIN / ";" / ROLLBACK (three round trips), more than the one statement that
    stores a message, on every message. A connection that was used a moment ago
    is alive as far as a ping could tell, so only idle ones are checked; a dead
    one raises ``DisconnectionError`` and the pool connects afresh. If the server
    goes away between two busy moments, the next statement fails, SQLAlchemy
    drops the whole pool, and that one request is answered 503 (providers and the
    app retry): nothing is taken without being stored.
    """
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure means: do not use this connection
            raise DisconnectionError(f"idle connection failed its ping: {type(exc).__name__}") from exc


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers run beside the single writer; the busy timeout makes
    # concurrent writers wait instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
