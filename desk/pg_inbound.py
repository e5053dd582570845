"""PostgreSQL group commit of inbound messages: one statement and one commit for a burst.

On PostgreSQL every inbound message of an existing conversation is one
autocommit statement (``desk.store.append_inbound_one_statement``). Under load
that is, per message, a pool checkout, SQLAlchemy's execution set-up, a round
trip, a statement for the server to plan and run, and a WAL flush — on two
cores shared with the server. This writer keeps that statement for a message
that arrives alone, and stores the messages that arrive while a write is in
flight together in the next one: a single multi-row statement (one round trip,
one commit). Nobody is answered before that commit.

The rules the single statement keeps hold for the batch:

* a batch holds at most one message per conversation and per
  ``(channel, external_id)``; a later one waits for the next batch, so a
  conversation's messages are numbered in arrival order and a repeated
  delivery meets its first copy in the table;
* a message whose ``(channel, external_id)`` is already stored is not written
  and its caller gets ``IntegrityError``, as with the single statement (no
  ``seq`` is allocated for it, so numbers stay gap-free);
* if the database refuses the whole statement because another desk instance
  stored one of these messages (unique violation) or locked the same
  conversations in the other order (deadlock), every message is written again
  on its own, and only the loser sees the error;
* any other failure fails every message of the batch: none is answered as stored.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from desk.store import CLOSED_HANDOFF_EXISTS_SQL, ConversationRow, MessageRow, append_inbound_one_statement

# At most this many messages in one statement (bounds one commit's size and lock set).
MAX_BATCH = 128

# SQLSTATEs after which the batch is written again message by message.
_RETRY_ALONE = {"23505", "40P01"}  # unique_violation, deadlock_detected

# Each input row is numbered (n); duplicates of stored messages are left out
# before any seq is allocated; one conversation appears at most once per batch
# (the writer makes sure), so UPDATE … FROM matches each row once.
_APPEND_BATCH_PG = text("""
WITH i AS (
    SELECT * FROM unnest(CAST(:channels AS text[]), CAST(:senders AS text[]), CAST(:external_ids AS text[]),
                         CAST(:texts AS text[]), CAST(:payloads AS text[]), CAST(:authors AS text[]),
                         CAST(:customer_ids AS text[]), CAST(:created AS timestamptz[]))
           WITH ORDINALITY AS t(channel, sender, external_id, text, payload, author, customer_id, created_at, n)
), fresh AS (
    SELECT i.* FROM i
     WHERE NOT EXISTS (SELECT 1 FROM messages x WHERE x.channel = i.channel AND x.external_id = i.external_id)
), c AS (
    UPDATE conversations cv
       SET last_seq = cv.last_seq + 1, last_message_at = f.created_at,
           customer_id = COALESCE(f.customer_id, cv.customer_id)
      FROM fresh f
     WHERE cv.channel = f.channel AND cv.sender = f.sender
 RETURNING f.n, cv.id, cv.public_id, cv.channel, cv.sender, cv.sender_name, cv.customer_id, cv.mode,
           cv.last_seq, cv.created_at
), m AS (
    INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, created_at)
    SELECT c.id, c.last_seq, f.channel, f.external_id, 'in', f.author, f.text, CAST(f.payload AS json),
           f.created_at
      FROM c JOIN fresh f ON f.n = c.n
    RETURNING id, conversation_id
)
SELECT i.n, f.n IS NULL AS duplicate, m.id AS message_id, c.id, c.public_id, c.channel, c.sender,
       c.sender_name, c.customer_id, c.mode, c.last_seq, c.created_at,
       """ + CLOSED_HANDOFF_EXISTS_SQL.format(id="c.id") + """ AS has_closed_handoff
  FROM i
  LEFT JOIN fresh f ON f.n = i.n
  LEFT JOIN c ON c.n = i.n
  LEFT JOIN m ON m.conversation_id = c.id
 ORDER BY i.n
""")

Stored = tuple[ConversationRow, MessageRow] | None


@dataclass(slots=True)
class _Append:
    """One inbound message waiting for the writer, and its caller's future."""

    channel: str
    sender: str
    external_id: str
    text: str
    payload: dict[str, Any]
    author: str
    customer_id: str | None
    created_at: datetime
    future: asyncio.Future[Stored]


class PgInboundWriter:
    """Stores inbound messages of existing conversations, grouping concurrent ones (PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        # Touched on the event loop only; one write in flight at a time.
        self._pending: list[_Append] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, channel: str, sender: str, *, external_id: str, text: str,
                     payload: dict[str, Any], author: str, customer_id: str | None,
                     created_at: datetime) -> Stored:
        """Like ``desk.store.append_inbound_one_statement``; answered after the commit.

        Returns None when the conversation does not exist yet (nothing written).
        Raises ``IntegrityError`` for a duplicate ``(channel, external_id)``.
        """
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending.append(_Append(channel, sender, external_id, text, payload, author, customer_id,
                                     created_at, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._take()
            try:
                await self._write(batch)
            except BaseException:
                # Cancelled (the loop is shutting down): nobody may wait forever.
                for item in batch:
                    if not item.future.done():
                        item.future.cancel()
                raise

    async def _write(self, batch: list[_Append]) -> None:
        """Write ``batch`` and answer every caller in it."""
        if len(batch) == 1:
            await self._write_alone(batch[0])
            return
        try:
            results = await self._write_batch(batch)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in _RETRY_ALONE:
                _fail(batch, exc)
                return
            # Another instance raced us on one of these rows: nothing of the batch
            # was written; each message alone, so only the loser sees the error.
            for item in batch:
                await self._write_alone(item)
            return
        except Exception as exc:  # noqa: BLE001 - every caller sees the failure
            _fail(batch, exc)
            return
        for item, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                _settle(item.future, exc=result)
            else:
                _settle(item.future, result)

    def _take(self) -> list[_Append]:
        """The next batch in arrival order: at most one message per conversation and per
        ``(channel, external_id)``; the others keep their place for the next batch."""
        batch: list[_Append] = []
        rest: list[_Append] = []
        conversations: set[tuple[str, str]] = set()
        deliveries: set[tuple[str, str]] = set()
        for item in self._pending:
            conversation, delivery = (item.channel, item.sender), (item.channel, item.external_id)
            if len(batch) >= self._max_batch or conversation in conversations or delivery in deliveries:
                rest.append(item)
            else:
                batch.append(item)
            # Marked even when deferred, so nothing later in the same conversation overtakes it.
            conversations.add(conversation)
            deliveries.add(delivery)
        self._pending = rest
        return batch

    async def _write_alone(self, item: _Append) -> None:
        try:
            async with self._engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                result = await append_inbound_one_statement(
                    conn, item.channel, item.sender, external_id=item.external_id, text=item.text,
                    payload=item.payload, author=item.author, customer_id=item.customer_id,
                    created_at=item.created_at)
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            _settle(item.future, exc=exc)
        else:
            _settle(item.future, result)

    async def _write_batch(self, batch: list[_Append]) -> list[Stored | BaseException]:
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await append_inbound_batch(conn, batch)


async def append_inbound_batch(conn: AsyncConnection, batch: list[_Append]) -> list[Stored | BaseException]:
    """Store ``batch`` in one autocommit statement; per message: the rows, None (no such
    conversation) or ``IntegrityError`` (already stored)."""
    rows = (await conn.execute(_APPEND_BATCH_PG, {
        "channels": [a.channel for a in batch], "senders": [a.sender for a in batch],
        "external_ids": [a.external_id for a in batch], "texts": [a.text for a in batch],
        "payloads": [json.dumps(a.payload) for a in batch], "authors": [a.author for a in batch],
        "customer_ids": [a.customer_id for a in batch], "created": [a.created_at for a in batch],
    })).all()
    out: list[Stored | BaseException] = []
    for item, row in zip(batch, rows, strict=True):
        if row.duplicate:
            out.append(IntegrityError("duplicate (channel, external_id) in an inbound batch",
                                      {"channel": item.channel, "external_id": item.external_id},
                                      Exception("already stored")))
        elif row.id is None:
            out.append(None)
        else:
            conversation = ConversationRow(
                row.id, row.public_id, row.channel, row.sender, row.sender_name, row.customer_id, row.mode,
                row.last_seq, row.created_at, item.created_at, bool(row.has_closed_handoff),
            )
            out.append((conversation, MessageRow(row.message_id, row.id, row.last_seq, row.channel,
                                                 item.external_id, "in", item.author, None, item.text,
                                                 item.payload, item.created_at)))
    return out


def _settle(future: asyncio.Future[Stored], result: Stored = None, *, exc: BaseException | None = None) -> None:
    if future.done():
        return  # the caller went away (cancelled); its message may still be stored
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _fail(batch: list[_Append], exc: BaseException) -> None:
    for item in batch:
        _settle(item.future, exc=exc)
