"""SQLite fast path for the hot writes (inbound message, bot replies, outbox rounds): one thread hop each.

aiosqlite runs every cursor call on its own thread, so one statement costs
several thread hand-offs; on a busy two-core machine each hand-off waits for
the scheduler. This module keeps one plain ``sqlite3`` connection on one
dedicated thread and runs the whole "lock, number, insert, commit" of an
inbound message there in a single call. It writes the same rows, in the same
formats, as the SQLAlchemy path (``desk.store``), which remains the reference
and handles everything else (new conversations, numbered choices).

``run(fn)`` runs any synchronous SQLAlchemy Core function in one write
transaction on the same thread (the outbox worker's claim and record use it):
writes of the hot path and of the worker then queue in one FIFO in the process
instead of meeting at SQLite's file lock, where the loser sleeps in SQLite's
busy handler (1, 2, 5, 10… ms) and the borrower waits with it.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from desk.store import CLOSED_HANDOFF_EXISTS_SQL, ConversationRow, MessageRow
from storage.models import Conversation

_UPDATE = (
    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ?, "
    "customer_id = COALESCE(?, customer_id) WHERE channel = ? AND sender = ? "
    "RETURNING id, public_id, channel, sender, sender_name, customer_id, mode, last_seq, created_at"
)
_CLOSED_HANDOFF = "SELECT " + CLOSED_HANDOFF_EXISTS_SQL.format(id="?")
_INSERT = (
    "INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


T = TypeVar("T")
# At most this many inbound messages per transaction (bounds the time one commit holds the writer).
MAX_BATCH = 128


@dataclass(slots=True)
class _Append:
    """One inbound message waiting for the writer thread, and what became of it."""

    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    outcome: Any = None
    error: BaseException | None = None


def _wrap(exc: BaseException) -> BaseException:
    """SQLAlchemy's ``IntegrityError`` for a constraint violation (what the router expects)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(_INSERT, None, exc)
    return exc


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
        # Inbound messages waiting for the next group commit; touched on the event loop only.
        self._queue: list[_Append] = []
        self._draining = False

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn

    def _append_one(self, conn: sqlite3.Connection, channel: str, sender: str, external_id: str, text: str,
                    payload: dict[str, Any], author: str, customer_id: str | None,
                    created_at: datetime) -> tuple[Any, int, bool] | None:
        """Store one message inside the caller's transaction; None when the conversation is new."""
        now = _sqlite_time(created_at)
        row = conn.execute(_UPDATE, (now, customer_id, channel, sender)).fetchone()
        if row is None:
            return None
        cursor = conn.execute(_INSERT, (row[0], row[7], channel, external_id, "in", author, text,
                                        json.dumps(payload), now))
        (closed_handoff,) = conn.execute(_CLOSED_HANDOFF, (row[0],)).fetchone()
        return row, int(cursor.lastrowid or 0), bool(closed_handoff)

    def _append_batch(self, batch: list[_Append]) -> list[_Append]:
        """Group commit: every waiting message in one transaction, each in its own savepoint.

        A duplicate (or any failure of one message) rolls back to its savepoint
        and fails only that message; if the commit fails, every message of the
        batch fails and none is answered as stored.
        """
        conn = self._connect()
        alone = len(batch) == 1
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in batch:
                if not alone:
                    conn.execute("SAVEPOINT message")
                try:
                    item.outcome = self._append_one(conn, *item.args)
                except sqlite3.Error as exc:
                    if alone:
                        raise
                    conn.execute("ROLLBACK TO message")
                    item.error = _wrap(exc)
                if not alone:
                    conn.execute("RELEASE message")
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting message
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for item in batch:
                item.outcome, item.error = None, _wrap(exc)
        return batch

    def _finish(self, done: Future[list[_Append]], batch: list[_Append]) -> None:
        """On the event loop: answer the batch's callers, then start the next batch if any."""
        failure = done.exception()
        for item in batch:
            if item.future.done():  # the caller was cancelled; its message may still be stored
                continue
            error = item.error or failure
            if error is not None:
                item.future.set_exception(error)
            else:
                item.future.set_result(item.outcome)
        self._draining = False
        self._start_batch()

    def _start_batch(self) -> None:
        if self._draining or not self._queue:
            return
        batch = self._queue[:MAX_BATCH]
        del self._queue[:MAX_BATCH]
        self._draining = True
        loop = asyncio.get_running_loop()
        done = self._executor.submit(self._append_batch, batch)
        done.add_done_callback(lambda f: loop.call_soon_threadsafe(self._finish, f, batch))

    async def append(self, channel: str, sender: str, *, external_id: str, text: str,
                     payload: dict[str, Any], author: str, customer_id: str | None,
                     created_at: datetime) -> tuple[ConversationRow, MessageRow] | None:
        """Like ``desk.store.append_inbound_one_statement``, for SQLite.

        Messages arriving while a batch is being written wait and go together in
        the next one (group commit); each caller is answered after its commit.
        Raises ``IntegrityError`` for a duplicate ``(channel, external_id)``.
        """
        item = _Append((channel, sender, external_id, text, payload, author, customer_id, created_at),
                       asyncio.get_running_loop().create_future())
        self._queue.append(item)
        self._start_batch()
        result = await item.future
        if result is None:
            return None
        row, message_id, closed_handoff = result
        conversation = ConversationRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                                       _parse_time(row[8]), created_at, closed_handoff)
        message = MessageRow(message_id, row[0], row[7], channel, external_id, "in", author, None, text,
                             payload, created_at)
        return conversation, message

    def _sa_connection(self) -> Connection:
        """A SQLAlchemy connection over the same ``sqlite3`` connection (writer thread only)."""
        if self._sa_conn is None:
            raw = self._connect()
            engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)

            # The driver is in autocommit mode (isolation_level=None); SQLAlchemy's
            # documented recipe: emit the BEGIN ourselves, IMMEDIATE to take the write lock.
            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

            self._sa_engine, self._sa_conn = engine, engine.connect()
        return self._sa_conn

    def _run(self, fn: Callable[[Connection], T]) -> T:
        conn = self._sa_connection()
        with conn.begin():
            return fn(conn)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(connection)`` in one write transaction on the writer thread; return its result.

        ``fn`` is synchronous SQLAlchemy Core code (it may also run under
        ``AsyncConnection.run_sync`` on PostgreSQL); committed when it returns,
        rolled back when it raises.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, fn)

    async def append_outbound(self, conversation: Conversation | ConversationRow,
                              replies: list[tuple[str, dict[str, Any]]],
                              *, author: str, created_at: datetime) -> list[MessageRow]:
        """Store bot replies and queue them in the outbox: one transaction, one thread hop."""
        return await _append_outbound_async(self, conversation, replies, author=author, created_at=created_at)

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
# Shared with handoff.fastpath, which writes the bot's last replies the same way.
INSERT_OUTBOUND_SQL = (
    "INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, "
    "created_at) VALUES (?, ?, ?, NULL, 'out', ?, ?, ?, ?)"
)
INSERT_OUTBOX_SQL = (
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
            cursor = conn.execute(INSERT_OUTBOUND_SQL, (conversation_id, seq, channel, author, text,
                                                json.dumps(payload), now))
            message_id = int(cursor.lastrowid or 0)
            conn.execute(INSERT_OUTBOX_SQL, (message_id, conversation_id, channel, recipient, now, now))
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


