"""The SQLite conversation store: every hot write is one hop to one writer thread, grouped.

aiosqlite runs every cursor call on its own thread, so one statement costs
several thread hand-offs; on a busy two-core machine each hand-off waits for
the scheduler. This store keeps one plain ``sqlite3`` connection on one
dedicated thread and runs the whole "lock, number, insert, commit" of an
inbound message there in a single call; messages that arrive while one batch
is written go together in the next transaction (group commit, a savepoint
each). Bot replies with their outbox rows, and a batch of handoffs, are one
hop each too. The rare operations use the shared SQLAlchemy code
(``desk.store.sql``).

``run(fn)`` runs any synchronous SQLAlchemy Core function in one write
transaction on the same thread (the outbox worker's claim and record use it):
writes of the hot path and of the worker then queue in one FIFO in the process
instead of meeting at SQLite's file lock, where the loser sleeps in SQLite's
busy handler (1, 2, 5, 10… ms) and the borrower waits with it.

SQLite has one writer: the desk runs on it as one process (``aduan serve``
with one worker). Several processes on one file would still be correct (the
file lock serialises them) but are not what this store is tuned for.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from desk import pii
from desk.handoff_request import HandoffQueue
from desk.messages import OutboundMessage
from desk.outbox import notify_enqueued
from desk.store import ConversationRecord, DuplicateMessage, InboundState, MessageRecord, NewInbound, StoredInbound
from desk.store.orm import CLOSED_HANDOFF_EXISTS_SQL
from desk.store.sql import HandoffItem, HandoffWritten, SqlConversationStore
from storage.db import Database
from storage.models import ConversationMode, new_public_id

T = TypeVar("T")
# At most this many inbound messages per transaction (bounds the time one commit holds the writer).
MAX_BATCH = 128

_OPEN_HANDOFF = "('waiting', 'assigned')"  # handoff.models.HandoffStatus WAITING, ASSIGNED

# ?1 now, ?2 customer id, ?3 channel, ?4 sender key (desk.pii), ?5 lease owner, ?6 lease until. The lease is taken
# in bot mode unless another owner holds a live one (desk.store.sql.lease_is_free says the same).
_TAKE = "?5 IS NOT NULL AND mode = 'bot' AND (lease_until IS NULL OR lease_until <= ?1 OR lease_owner = ?5)"
_UPDATE = (
    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ?1, "
    "customer_id = COALESCE(?2, customer_id), "
    f"lease_owner = CASE WHEN {_TAKE} THEN ?5 ELSE lease_owner END, "
    f"lease_until = CASE WHEN {_TAKE} THEN ?6 ELSE lease_until END "
    "WHERE channel = ?3 AND sender_key = ?4 "
    "RETURNING id, public_id, channel, sender_enc, sender_name, customer_id, mode, last_seq, created_at, "
    "?5 IS NOT NULL AND mode = 'bot' AND lease_owner IS ?5 AND lease_until IS ?6"
)
# A borrower's first message opens the conversation in the same writer-thread transaction. Through
# the ORM (aiosqlite, another connection) the opening met the writer thread at SQLite's file lock
# and slept in its busy handler: a burst of new conversations waited seconds (issue 17, item 3).
# ?1 public id, ?2 channel, ?3 sender key, ?4 sender name, ?5 now, ?6 sender ciphertext. DO NOTHING:
# another process won.
_OPEN = (
    "INSERT INTO conversations (public_id, channel, sender_key, sender_name, mode, last_seq, created_at, "
    "last_message_at, sender_enc) VALUES (?1, ?2, ?3, ?4, 'bot', 0, ?5, ?5, ?6) "
    "ON CONFLICT (channel, sender_key) DO NOTHING"
)
_CLOSED_HANDOFF = "SELECT " + CLOSED_HANDOFF_EXISTS_SQL.format(id="?")
_INSERT = (
    "INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, "
    "created_at, state, attempts, text_enc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# ?1 replies, ?2 now, ?3 conversation, ?4 owner giving its lease back (or NULL).
_GIVE_BACK = ("lease_owner = CASE WHEN lease_owner = ?4 THEN NULL ELSE lease_owner END, "
              "lease_until = CASE WHEN lease_owner = ?4 THEN NULL ELSE lease_until END")
_BUMP = (f"UPDATE conversations SET last_seq = last_seq + ?1, last_message_at = ?2, {_GIVE_BACK} "
         "WHERE id = ?3 RETURNING last_seq")
_BUMP_TO_PEOPLE = (f"UPDATE conversations SET last_seq = last_seq + ?1, last_message_at = ?2, mode = 'human', "
                   f"{_GIVE_BACK} WHERE id = ?3 RETURNING last_seq")
_INSERT_OUTBOUND = (
    "INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, "
    "created_at, reply_to_id, attempts, text_enc) VALUES (?, ?, ?, NULL, 'out', ?, ?, ?, ?, ?, 0, ?)"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (message_id, conversation_id, channel, recipient_enc, status, attempts, next_attempt_at, "
    "created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)"
)
_FINISH = "UPDATE messages SET state = ? WHERE id = ? AND state = 'received'"
# The same, keeping the bot's NLU reading on the answered message (issue #16) in the replies' transaction:
# a write of its own cost every bot-path message one more writer-thread hop and transaction.
_FINISH_WITH_PAYLOAD = "UPDATE messages SET state = ?, payload = ? WHERE id = ? AND state = 'received'"
_INSERT_HANDOFF = (
    "INSERT INTO handoffs (conversation_id, ticket_id, reason, priority, category, summary, summary_enc, status, "
    "queue_role, requested_at) SELECT ?, ?, ?, ?, ?, ?, ?, 'waiting', 'agent', ? "
    f"WHERE NOT EXISTS (SELECT 1 FROM handoffs WHERE conversation_id = ? AND status IN {_OPEN_HANDOFF})"
)


def sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite ``DateTime`` writes (UTC, no offset; see ``storage.base.UTCDateTime``)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


@dataclass(slots=True)
class _Append:
    """One inbound message waiting for the writer thread, and what became of it."""

    new: NewInbound
    future: asyncio.Future[Any]
    outcome: Any = None
    error: BaseException | None = None


class SqliteConversationStore(SqlConversationStore):
    """The conversation store on a SQLite file (one process; see the module docstring)."""

    def __init__(self, db: Database, handoff: HandoffQueue) -> None:
        super().__init__(db, handoff)
        path = make_url(db.url).database
        if not path or path == ":memory:":
            raise ValueError("the SQLite conversation store needs a database file")
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._sa_engine: Engine | None = None
        self._sa_conn: Connection | None = None
        # Inbound messages waiting for the next group commit; touched on the event loop only.
        self._queue: list[_Append] = []
        self._draining = False

    # -- the writer thread's connection ---------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- inbound: group commit ---------------------------------------------------------------

    def _append_one(self, conn: sqlite3.Connection, new: NewInbound) -> tuple[Any, int, bool] | None:
        """Store one message inside the caller's transaction, opening its conversation if it is new."""
        now = sqlite_time(new.created_at)
        until = sqlite_time(new.lease_until) if new.lease_until is not None else None
        key = new.key_of()
        params = (now, new.customer_id, new.channel, key, new.lease_owner, until)
        row = conn.execute(_UPDATE, params).fetchone()
        if row is None:
            # Encrypted only here, when the conversation opens: its later messages cost no cipher work.
            sealed = pii.keyring().encrypt(pii.sender_kind(new.channel), new.sender)
            conn.execute(_OPEN, (new_public_id(), new.channel, key, new.sender_name, now, sealed))
            row = conn.execute(_UPDATE, params).fetchone()
            if row is None:
                return None
        state = InboundState.RECEIVED if row[6] == ConversationMode.BOT.value else InboundState.QUEUED_FOR_PEOPLE
        text, sealed_text = pii.seal_text(new.text)
        cursor = conn.execute(_INSERT, (row[0], row[7], new.channel, new.external_id, "in", new.author, text,
                                        json.dumps(new.payload), now, state.value, 1 if row[9] else 0,
                                        sealed_text))
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
                    item.outcome = self._append_one(conn, item.new)
                except sqlite3.Error as exc:
                    if alone:
                        raise
                    conn.execute("ROLLBACK TO message")
                    item.error = _wrap(exc, item.new)
                if not alone:
                    conn.execute("RELEASE message")
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting message
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for item in batch:
                item.outcome, item.error = None, _wrap(exc, item.new)
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

    async def _append_inbound_fast(self, new: NewInbound) -> StoredInbound | None:
        item = _Append(new, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        self._start_batch()
        result = await item.future
        if result is None:
            return None
        row, message_id, closed_handoff = result
        leased = bool(row[9])
        conversation = ConversationRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                                          _parse_time(row[8]), new.created_at, closed_handoff, new.sender)
        state = InboundState.RECEIVED if row[6] == ConversationMode.BOT.value else InboundState.QUEUED_FOR_PEOPLE
        message = MessageRecord(message_id, row[0], row[7], new.channel, new.external_id, "in", new.author, None,
                                new.text, new.payload, new.created_at, state.value, 1 if leased else 0)
        return StoredInbound(conversation, message, leased)

    # -- replies --------------------------------------------------------------------------

    def _append_outbound(self, conversation_id: int, channel: str, recipient: str | None,
                         replies: list[tuple[str, dict[str, Any]]], author: str,
                         created_at: datetime, in_reply_to: int | None, owner: str | None,
                         in_reply_to_payload: dict[str, Any] | None = None) -> list[tuple[int, int]]:
        conn = self._connect()
        now = sqlite_time(created_at)
        conn.execute("BEGIN IMMEDIATE")
        try:
            (last,) = conn.execute(_BUMP, (len(replies), now, conversation_id, owner)).fetchone()
            out = []
            for n, (body, payload) in enumerate(replies):
                seq = last - len(replies) + 1 + n
                text, sealed_text = pii.seal_text(body)
                cursor = conn.execute(_INSERT_OUTBOUND, (conversation_id, seq, channel, author, text,
                                                         json.dumps(payload), now, in_reply_to, sealed_text))
                message_id = int(cursor.lastrowid or 0)
                conn.execute(_INSERT_OUTBOX, (message_id, conversation_id, channel, recipient, now, now))
                out.append((message_id, seq))
            if in_reply_to is not None and in_reply_to_payload is not None:
                conn.execute(_FINISH_WITH_PAYLOAD, (InboundState.ANSWERED.value, json.dumps(in_reply_to_payload),
                                                    in_reply_to))
            elif in_reply_to is not None:
                conn.execute(_FINISH, (InboundState.ANSWERED.value, in_reply_to))
            conn.execute("COMMIT")
            return out
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def append_replies(self, conversation: ConversationRecord, replies: Sequence[OutboundMessage], *,
                             author: str, created_at: datetime, in_reply_to: int | None = None,
                             owner: str | None = None,
                             in_reply_to_payload: dict[str, Any] | None = None) -> list[MessageRecord]:
        bodies = [(r.text, r.to_payload()) for r in replies]
        ids = await self._on_writer(self._append_outbound, conversation.id, conversation.channel,
                                    conversation.sender_enc, bodies, author, created_at, in_reply_to, owner,
                                    in_reply_to_payload)
        notify_enqueued(self.db.engine)
        return [
            MessageRecord(message_id, conversation.id, seq, conversation.channel, None, "out", author, None, text,
                          payload, created_at, reply_to_id=in_reply_to)
            for (message_id, seq), (text, payload) in zip(ids, bodies, strict=True)
        ]

    # -- handoffs --------------------------------------------------------------------------

    async def _write_handoffs(self, items: list[HandoffItem]) -> list[HandoffWritten | None]:
        return await self.run(lambda conn: [_write_handoff(conn, item) for item in items])

    # -- generic writes --------------------------------------------------------------------

    def _sa_connection(self) -> Connection:
        """A SQLAlchemy connection over the same ``sqlite3`` connection (writer thread only)."""
        if self._sa_conn is None:
            raw = self._connect()
            engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)

            # The driver is in autocommit mode (isolation_level=None); SQLAlchemy's
            # documented recipe: emit the BEGIN ourselves, IMMEDIATE to take the write lock.
            # Straight on the driver's connection: through exec_driver_sql it cost a full
            # SQLAlchemy execution (context, events, result) on every outbox claim and record.
            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                raw.execute("BEGIN IMMEDIATE")

            self._sa_engine, self._sa_conn = engine, engine.connect()
        return self._sa_conn

    def _run(self, fn: Callable[[Connection], T]) -> T:
        conn = self._sa_connection()
        with conn.begin():
            return fn(conn)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        return await self._on_writer(self._run, fn)

    async def close(self) -> None:
        """Close the writer's connection (reopened on next use; the idle thread ends with the process)."""
        await self._on_writer(self._close)

    def _close(self) -> None:
        if self._sa_conn is not None:
            self._sa_conn.close()
            self._sa_conn = None
        if self._sa_engine is not None:
            self._sa_engine.dispose()
            self._sa_engine = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _wrap(exc: BaseException, new: NewInbound) -> BaseException:
    """``DuplicateMessage`` for a constraint violation of the message insert (the only one it can meet:
    ``seq`` is allocated under the writer's transaction)."""
    if isinstance(exc, sqlite3.IntegrityError):
        duplicate = DuplicateMessage(new.channel, new.sender, new.external_id)
        duplicate.__cause__ = exc
        return duplicate
    return exc


def _write_handoff(conn: Connection, item: HandoffItem) -> HandoffWritten | None:
    """One handoff's writes on the writer's connection, inside the batch's transaction."""
    now = sqlite_time(item.created_at)
    k = len(item.replies)
    bumped = conn.exec_driver_sql(_BUMP_TO_PEOPLE, (k, now, item.conversation_id, item.owner)).first()
    if bumped is None:
        return None
    stored = []
    for n, (body, payload) in enumerate(item.replies):
        seq = bumped[0] - k + 1 + n
        text, sealed_text = pii.seal_text(body)
        message_id = conn.exec_driver_sql(_INSERT_OUTBOUND, (item.conversation_id, seq, item.channel, item.author,
                                                             text, json.dumps(payload), now,
                                                             item.in_reply_to, sealed_text)).lastrowid
        conn.exec_driver_sql(_INSERT_OUTBOX, (message_id, item.conversation_id, item.channel, item.recipient,
                                              now, now))
        stored.append((int(message_id or 0), seq))
    row = item.row
    ticket = None
    if row.ticket_number:
        ticket = conn.exec_driver_sql("SELECT id, category FROM tickets WHERE number = ?",
                                      (row.ticket_number,)).first()
    cursor = conn.exec_driver_sql(_INSERT_HANDOFF, (
        item.conversation_id, ticket[0] if ticket else None, row.reason, row.priority,
        row.category or (ticket[1] if ticket else None), json.dumps(row.summary), row.summary_enc, now,
        item.conversation_id))
    handoff_id = int(cursor.lastrowid or 0) if cursor.rowcount == 1 else None
    if item.in_reply_to is not None:
        conn.exec_driver_sql(_FINISH, (InboundState.QUEUED_FOR_PEOPLE.value, item.in_reply_to))
    return HandoffWritten(stored, handoff_id, ticket is not None)
