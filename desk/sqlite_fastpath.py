"""SQLite fast path for the hot writes (inbound message, bot replies): one thread hop instead of a dozen.

aiosqlite runs every cursor call on its own thread, so one statement costs
several thread hand-offs; on a busy two-core machine each hand-off waits for
the scheduler. This module keeps one plain ``sqlite3`` connection on one
dedicated thread and runs the whole "lock, number, insert, commit" of an
inbound message there in a single call. It writes the same rows, in the same
formats, as the SQLAlchemy path (``desk.store``), which remains the reference
and handles everything else (new conversations, numbered choices).
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from desk.store import ConversationRow, MessageRow
from storage.models import Conversation

T = TypeVar("T")

_UPDATE = (
    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ?, "
    "customer_id = COALESCE(?, customer_id) WHERE channel = ? AND sender = ? "
    "RETURNING id, public_id, channel, sender, sender_name, customer_id, mode, last_seq, created_at"
)
_INSERT = (
    "INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _sqlite_time(value: datetime) -> str:
    # The format SQLAlchemy's SQLite DateTime writes (UTC, no offset; see storage.base.UTCDateTime).
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


class SqliteInboundWriter:
    """Stores inbound messages of existing conversations with one call on one thread."""

    def __init__(self, database_url: str) -> None:
        path = make_url(database_url).database
        if not path or path == ":memory:":
            raise ValueError("the SQLite fast path needs a database file")
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-inbound")
        self._conn: sqlite3.Connection | None = None
        self._sa_engine: Engine | None = None
        self._sa_conn: Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn

    def _append(self, channel: str, sender: str, external_id: str, text: str, payload: dict[str, Any],
                author: str, customer_id: str | None, created_at: datetime) -> tuple[Any, int] | None:
        conn = self._connect()
        now = _sqlite_time(created_at)
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(_UPDATE, (now, customer_id, channel, sender)).fetchone()
            if row is None:
                conn.execute("ROLLBACK")
                return None
            cursor = conn.execute(_INSERT, (row[0], row[7], channel, external_id, "in", author, text,
                                            json.dumps(payload), now))
            conn.execute("COMMIT")
            return row, int(cursor.lastrowid or 0)
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK")
            raise IntegrityError(_INSERT, None, exc) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def append(self, channel: str, sender: str, *, external_id: str, text: str,
                     payload: dict[str, Any], author: str, customer_id: str | None,
                     created_at: datetime) -> tuple[ConversationRow, MessageRow] | None:
        """Like ``desk.store.append_inbound_one_statement``, for SQLite."""
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, self._append, channel, sender, external_id,
                                            text, payload, author, customer_id, created_at)
        if result is None:
            return None
        row, message_id = result
        conversation = ConversationRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                                       _parse_time(row[8]), created_at)
        message = MessageRow(message_id, row[0], row[7], channel, external_id, "in", author, None, text,
                             payload, created_at)
        return conversation, message

    async def append_outbound(self, conversation: Conversation | ConversationRow,
                              replies: list[tuple[str, dict[str, Any]]],
                              *, author: str, created_at: datetime) -> list[MessageRow]:
        """Store bot replies and queue them in the outbox: one transaction, one thread hop."""
        return await _append_outbound_async(self, conversation, replies, author=author, created_at=created_at)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` in one write transaction on the writer thread; return its result.

        ``fn`` is synchronous SQLAlchemy Core code on this writer's own
        connection; committed when it returns, rolled back when it raises.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, fn)

    def _run(self, fn: Callable[[Connection], T]) -> T:
        if self._sa_conn is None:
            raw = self._connect()
            engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                # The driver runs in autocommit mode: take the write lock ourselves.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

            self._sa_engine, self._sa_conn = engine, engine.connect()
        with self._sa_conn.begin():
            return fn(self._sa_conn)

    def close(self) -> None:
        """Close the connection (reopened on next use; the idle thread ends with the process)."""
        def _close() -> None:
            if self._sa_conn is not None:
                self._sa_conn.close()
                self._sa_conn = None
            if self._sa_engine is not None:
                self._sa_engine.dispose()
                self._sa_engine = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(_close).result()


_BUMP = "UPDATE conversations SET last_seq = last_seq + ?, last_message_at = ? WHERE id = ? RETURNING last_seq"
_INSERT_OUT = (
    "INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, "
    "created_at) VALUES (?, ?, ?, NULL, 'out', ?, ?, ?, ?)"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (message_id, conversation_id, channel, recipient, status, attempts, next_attempt_at, "
    "created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)"
)


def _append_outbound(self: SqliteInboundWriter, conversation_id: int, channel: str, recipient: str,
                     replies: list[tuple[str, dict[str, Any]]], author: str,
                     created_at: datetime) -> list[tuple[int, int]]:
    conn = self._connect()
    now = _sqlite_time(created_at)
    conn.execute("BEGIN IMMEDIATE")
    try:
        (last,) = conn.execute(_BUMP, (len(replies), now, conversation_id)).fetchone()
        out = []
        for n, (text, payload) in enumerate(replies):
            seq = last - len(replies) + 1 + n
            cursor = conn.execute(_INSERT_OUT, (conversation_id, seq, channel, author, text,
                                                json.dumps(payload), now))
            message_id = int(cursor.lastrowid or 0)
            conn.execute(_INSERT_OUTBOX, (message_id, conversation_id, channel, recipient, now, now))
            out.append((message_id, seq))
        conn.execute("COMMIT")
        return out
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


async def _append_outbound_async(self: SqliteInboundWriter, conversation: Conversation | ConversationRow,
                                 replies: list[tuple[str, dict[str, Any]]], *, author: str,
                                 created_at: datetime) -> list[MessageRow]:
    """Store bot replies and queue them in the outbox, one transaction, one thread hop."""
    loop = asyncio.get_running_loop()
    ids = await loop.run_in_executor(self._executor, _append_outbound, self, conversation.id,
                                     conversation.channel, conversation.sender, replies, author, created_at)
    return [
        MessageRow(message_id, conversation.id, seq, conversation.channel, None, "out", author, None, text,
                   payload, created_at)
        for (message_id, seq), (text, payload) in zip(ids, replies, strict=True)
    ]


