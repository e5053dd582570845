"""Alembic environment: one migration history for every model of the desk service."""
from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from aduan.registry import metadata
from desk.config import Settings
from storage.db import Database

config = context.config
target_metadata = metadata


def _url() -> str:
    # An explicit -x url=… or sqlalchemy.url wins (tests); otherwise DATABASE_URL.
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    ) or Settings().database_url


def render_item(type_: str, obj: object, autogen_context) -> str | bool:  # type: ignore[no-untyped-def]
    """Render our UTC column type as a plain timezone-aware DateTime in migrations.

    The UTC handling is Python-side only; the database column is the same.
    """
    from storage.base import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # Batch mode lets ALTER TABLE work on SQLite too.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    db = Database(_url())
    async with db.engine.connect() as connection:
        if db.is_sqlite:
            # Batch mode rebuilds a SQLite table (copy, drop, rename). With foreign keys on, dropping
            # the old conversations table would cascade-delete every message and outbox row, so they
            # are off for the migration (SQLite's documented procedure for altering a table; the
            # PRAGMA only takes effect outside a transaction, hence before any migration runs).
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        await connection.run_sync(_run)
        await connection.commit()
    await db.dispose()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:  # called from code that already holds a connection
        _run(connectable)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
