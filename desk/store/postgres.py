"""The PostgreSQL conversation store: single statements, and multi-row batches for bursts.

Every hot write is one autocommit statement (atomic on its own: no BEGIN or
COMMIT round trips): an inbound message (lock and number the conversation,
insert the message, read both back; the first messages of new conversations
add one statement that opens them all, and are written again), plain bot
replies with their outbox rows, and a batch of handoffs (number and switch
each conversation, store and queue its replies, queue its handoff unless one
is open). The rare operations use the shared SQLAlchemy code
(``desk.store.sql``).

Group commit of inbound messages. One statement per message costs, under
load, a pool checkout, SQLAlchemy's execution set-up, a round
trip, a statement for the server to plan and run, and a WAL flush — on two
cores shared with the server. The store keeps that statement for a message
that arrives alone, and stores the messages that arrive while a write is in
flight together in the next one: a single multi-row statement (one round trip,
one commit). Nobody is answered before that commit.

The rules the single statement keeps hold for the batch:

* a batch holds at most one message per conversation and per
  ``(channel, sender, external_id)``; a later one waits for the next batch, so a
  conversation's messages are numbered in arrival order and a repeated
  delivery meets its first copy in the table;
* a message already stored in its conversation (same ``external_id``) is not written
  and its caller gets ``DuplicateMessage``, as with the single statement (no
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
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, Connection, bindparam, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from desk import pii
from desk.handoff_request import HandoffQueue
from desk.messages import OutboundMessage
from desk.outbox import notify_enqueued
from desk.store import ConversationRecord, DuplicateMessage, InboundState, MessageRecord, NewInbound, StoredInbound
from desk.store.orm import CLOSED_HANDOFF_EXISTS_SQL
from desk.store.sql import HandoffItem, HandoffWritten, SqlConversationStore
from storage.base import UTCDateTime
from storage.db import Database
from storage.models import ConversationMode, new_public_id

T = TypeVar("T")
log = logging.getLogger(__name__)

# At most this many messages in one statement (bounds one commit's size and lock set).
MAX_BATCH = 128

# SQLSTATEs after which the batch is written again message by message.
_RETRY_ALONE = {"23505", "40P01"}  # unique_violation, deadlock_detected

_OPEN_HANDOFF = "('waiting', 'assigned')"  # handoff.models.HandoffStatus WAITING, ASSIGNED

# One round trip for the common case: lock and number the conversation, insert
# the message, read both back.
# The lease is taken in bot mode unless another owner holds a live one (desk.store.sql.lease_is_free).
_TAKE = ("CAST(:owner AS text) IS NOT NULL AND mode = 'bot' AND "
         "(lease_until IS NULL OR lease_until <= :now OR lease_owner = CAST(:owner AS text))")
_APPEND_INBOUND = text("""
WITH c AS (
    UPDATE conversations
       SET last_seq = last_seq + 1, last_message_at = :now,
           customer_id = COALESCE(:customer_id, customer_id),
           lease_owner = CASE WHEN """ + _TAKE + """ THEN CAST(:owner AS text) ELSE lease_owner END,
           lease_until = CASE WHEN """ + _TAKE + """ THEN :until ELSE lease_until END
     WHERE channel = :channel AND sender_key = :sender_key
 RETURNING id, public_id, channel, sender_enc, sender_name, customer_id, mode, last_seq, created_at,
           (mode = 'bot' AND CAST(:owner AS text) IS NOT NULL
            AND lease_owner IS NOT DISTINCT FROM CAST(:owner AS text)
            AND lease_until IS NOT DISTINCT FROM :until) AS leased
), m AS (
    INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, created_at,
                          state, attempts, text_enc)
    SELECT c.id, c.last_seq, c.channel, :external_id, 'in', :author, :text, :payload, :now,
           CASE WHEN c.mode = 'bot' THEN 'received' ELSE 'queued_for_people' END, CASE WHEN c.leased THEN 1 ELSE 0 END,
           CAST(:text_enc AS text)
      FROM c
    RETURNING id, conversation_id
)
SELECT m.id AS message_id, c.id, c.public_id, c.channel, c.sender_enc, c.sender_name, c.customer_id, c.mode,
       c.last_seq, c.created_at, c.leased,
       """ + CLOSED_HANDOFF_EXISTS_SQL.format(id="c.id") + """ AS has_closed_handoff
  FROM m JOIN c ON c.id = m.conversation_id
""").bindparams(bindparam("now", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime()),
                bindparam("payload", type_=JSON()))

# Opens the conversations of first messages in one statement, as the ORM's
# find_or_open_conversation would (a racing instance's row wins; ON CONFLICT
# leaves it alone). Sealed senders are computed by the caller.
_OPEN_CONVERSATIONS = text("""
INSERT INTO conversations (public_id, channel, sender_key, sender_name, mode, last_seq, created_at,
                           last_message_at, sender_enc)
SELECT t.public_id, t.channel, t.sender_key, t.sender_name, 'bot', 0, t.created_at, t.created_at, t.sender_enc
  FROM unnest(CAST(:public_ids AS text[]), CAST(:channels AS text[]), CAST(:sender_keys AS text[]),
              CAST(:sender_names AS text[]), CAST(:created AS timestamptz[]), CAST(:sender_encs AS text[]))
       AS t(public_id, channel, sender_key, sender_name, created_at, sender_enc)
ON CONFLICT (channel, sender_key) DO NOTHING
""")

# Each input row is numbered (n); duplicates of stored messages are left out
# before any seq is allocated; one conversation appears at most once per batch
# (the writer makes sure), so UPDATE … FROM matches each row once.
# The duplicate check is a LIMIT 1 lookup per row, which PostgreSQL can only run
# as a probe of messages' unique (conversation_id, external_id) index. asyncpg
# prepares this statement and the server caches a generic plan made when the
# tables were small; written as a plain anti-join, that plan was a hash join
# over a sequential scan of all of ``messages``, kept while the table grew (until
# an autoanalyze), so every batch read every stored message (issue #12's human-path
# p99 on PostgreSQL; bench/desk/RESULTS.md).
_APPEND_INBOUND_BATCH = text("""
WITH i AS (
    SELECT * FROM unnest(CAST(:channels AS text[]), CAST(:senders AS text[]), CAST(:external_ids AS text[]),
                         CAST(:texts AS text[]), CAST(:payloads AS text[]), CAST(:authors AS text[]),
                         CAST(:customer_ids AS text[]), CAST(:created AS timestamptz[]), CAST(:owners AS text[]),
                         CAST(:untils AS timestamptz[]), CAST(:text_encs AS text[]))
           WITH ORDINALITY AS t(channel, sender, external_id, text, payload, author, customer_id, created_at,
                                owner, until, text_enc, n)
), fresh AS (
    SELECT i.* FROM i
     WHERE NOT EXISTS (SELECT 1 FROM conversations xc,
                              LATERAL (SELECT 1 FROM messages x
                                        WHERE x.conversation_id = xc.id AND x.external_id = i.external_id
                                        LIMIT 1) stored
                        WHERE xc.channel = i.channel AND xc.sender_key = i.sender)
), c AS (
    UPDATE conversations cv
       SET last_seq = cv.last_seq + 1, last_message_at = f.created_at,
           customer_id = COALESCE(f.customer_id, cv.customer_id),
           lease_owner = CASE WHEN f.owner IS NOT NULL AND cv.mode = 'bot' AND (cv.lease_until IS NULL
                              OR cv.lease_until <= f.created_at OR cv.lease_owner = f.owner)
                              THEN f.owner ELSE cv.lease_owner END,
           lease_until = CASE WHEN f.owner IS NOT NULL AND cv.mode = 'bot' AND (cv.lease_until IS NULL
                              OR cv.lease_until <= f.created_at OR cv.lease_owner = f.owner)
                              THEN f.until ELSE cv.lease_until END
      FROM fresh f
     WHERE cv.channel = f.channel AND cv.sender_key = f.sender
 RETURNING f.n, cv.id, cv.public_id, cv.channel, cv.sender_enc, cv.sender_name, cv.customer_id, cv.mode,
           cv.last_seq, cv.created_at,
           (f.owner IS NOT NULL AND cv.mode = 'bot' AND cv.lease_owner IS NOT DISTINCT FROM f.owner
            AND cv.lease_until IS NOT DISTINCT FROM f.until) AS leased
), m AS (
    INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, created_at,
                          state, attempts, text_enc)
    SELECT c.id, c.last_seq, f.channel, f.external_id, 'in', f.author, f.text, CAST(f.payload AS json),
           f.created_at, CASE WHEN c.mode = 'bot' THEN 'received' ELSE 'queued_for_people' END,
           CASE WHEN c.leased THEN 1 ELSE 0 END, f.text_enc
      FROM c JOIN fresh f ON f.n = c.n
    RETURNING id, conversation_id
)
SELECT i.n, f.n IS NULL AS duplicate, m.id AS message_id, c.id, c.public_id, c.channel, c.sender_enc,
       c.sender_name, c.customer_id, c.mode, c.last_seq, c.created_at, c.leased,
       """ + CLOSED_HANDOFF_EXISTS_SQL.format(id="c.id") + """ AS has_closed_handoff
  FROM i
  LEFT JOIN fresh f ON f.n = i.n
  LEFT JOIN c ON c.n = i.n
  LEFT JOIN m ON m.conversation_id = c.id
 ORDER BY i.n
""")

# A lease ``:owner`` holds is given back in the write that stores the outcome.
_GIVE_BACK = ("lease_owner = CASE WHEN lease_owner = CAST(:owner AS text) THEN NULL ELSE lease_owner END, "
              "lease_until = CASE WHEN lease_owner = CAST(:owner AS text) THEN NULL ELSE lease_until END")
_APPEND_OUTBOUND = text("""
WITH c AS (
    UPDATE conversations SET last_seq = last_seq + :k, last_message_at = :now, """ + _GIVE_BACK + """
     WHERE id = :conversation_id
 RETURNING id, channel, sender_enc, last_seq
), r AS (
    SELECT t.text, t.payload, t.text_enc, t.n
      FROM unnest(CAST(:texts AS text[]), CAST(:payloads AS text[]), CAST(:text_encs AS text[]))
           WITH ORDINALITY AS t(text, payload, text_enc, n)
), m AS (
    INSERT INTO messages (conversation_id, seq, channel, direction, author, text, payload, created_at, reply_to_id,
                          attempts, text_enc)
    SELECT c.id, c.last_seq - :k + r.n, c.channel, 'out', :author, r.text, CAST(r.payload AS json), :now,
           CAST(:in_reply_to AS int), 0, r.text_enc
      FROM c CROSS JOIN r
    RETURNING id, seq, conversation_id
), o AS (
    INSERT INTO outbox (message_id, conversation_id, channel, recipient_enc, status, attempts, next_attempt_at,
                        created_at)
    SELECT m.id, m.conversation_id, c.channel, c.sender_enc, 'pending', 0, :now, :now FROM m CROSS JOIN c
    RETURNING id
), f AS (
    -- The bot's NLU reading (issue #16) is kept on the answered message here, not in a write of its own.
    UPDATE messages SET state = 'answered', payload = COALESCE(CAST(:in_reply_to_payload AS json), payload)
     WHERE id = CAST(:in_reply_to AS int) AND state = 'received' AND EXISTS (SELECT 1 FROM c)
)
SELECT m.id, m.seq FROM m ORDER BY m.seq
""").bindparams(bindparam("now", type_=UTCDateTime()))

# A whole batch of handoffs in one statement.
_HAND_OFF = text(f"""
WITH req AS (
    SELECT r.*
      FROM unnest(CAST(:cids AS int[]), CAST(:ks AS int[]), CAST(:nows AS timestamptz[]),
                  CAST(:reasons AS text[]), CAST(:priorities AS text[]), CAST(:categories AS text[]),
                  CAST(:summaries AS text[]), CAST(:ticket_numbers AS text[]), CAST(:authors AS text[]),
                  CAST(:in_reply_tos AS int[]), CAST(:owners AS text[]), CAST(:summary_encs AS text[]))
           AS r(cid, k, now, reason, priority, category, summary, ticket_number, author, in_reply_to, owner,
                summary_enc)
), c AS (
    UPDATE conversations SET last_seq = last_seq + req.k, last_message_at = req.now, mode = 'human',
           lease_owner = CASE WHEN lease_owner = req.owner THEN NULL ELSE lease_owner END,
           lease_until = CASE WHEN lease_owner = req.owner THEN NULL ELSE lease_until END
      FROM req WHERE conversations.id = req.cid
 RETURNING conversations.id, conversations.channel, conversations.sender_enc, conversations.last_seq, req.k, req.now,
           req.author, req.in_reply_to
), rep AS (
    SELECT * FROM unnest(CAST(:rcids AS int[]), CAST(:rns AS int[]), CAST(:rtexts AS text[]),
                         CAST(:rpayloads AS text[]), CAST(:rtext_encs AS text[])) AS x(cid, n, text, payload, text_enc)
), m AS (
    INSERT INTO messages (conversation_id, seq, channel, direction, author, text, payload, created_at, reply_to_id,
                          attempts, text_enc)
    SELECT c.id, c.last_seq - c.k + rep.n, c.channel, 'out', c.author, rep.text, CAST(rep.payload AS json), c.now,
           c.in_reply_to, 0, rep.text_enc
      FROM c JOIN rep ON rep.cid = c.id
    RETURNING id, seq, conversation_id
), f AS (
    UPDATE messages SET state = 'queued_for_people'
      FROM c WHERE messages.id = c.in_reply_to AND messages.state = 'received'
), o AS (
    INSERT INTO outbox (message_id, conversation_id, channel, recipient_enc, status, attempts, next_attempt_at,
                        created_at)
    SELECT m.id, m.conversation_id, c.channel, c.sender_enc, 'pending', 0, c.now, c.now
      FROM m JOIN c ON c.id = m.conversation_id
    RETURNING id
), t AS (
    SELECT req.cid, tickets.id, tickets.category FROM req JOIN tickets ON tickets.number = req.ticket_number
), h AS (
    INSERT INTO handoffs (conversation_id, ticket_id, reason, priority, category, summary, summary_enc, status,
                          queue_role, requested_at)
    SELECT c.id, t.id, req.reason, req.priority, COALESCE(req.category, t.category), CAST(req.summary AS json),
           req.summary_enc, 'waiting', 'agent', c.now
      FROM c JOIN req ON req.cid = c.id LEFT JOIN t ON t.cid = c.id
     WHERE NOT EXISTS (SELECT 1 FROM handoffs o WHERE o.conversation_id = c.id AND o.status IN {_OPEN_HANDOFF})
    RETURNING id, conversation_id
)
SELECT 'm' AS kind, m.conversation_id AS cid, m.id, m.seq FROM m
UNION ALL SELECT 'h', h.conversation_id, h.id, 0 FROM h
UNION ALL SELECT 't', t.cid, t.id, 0 FROM t
UNION ALL SELECT 'c', c.id, c.id, 0 FROM c
""")

Stored = StoredInbound | None


@dataclass(slots=True)
class _Append:
    """One inbound message waiting for the writer, and its caller's future."""

    new: NewInbound
    future: asyncio.Future[Stored]


class PostgresConversationStore(SqlConversationStore):
    """The conversation store on PostgreSQL (any number of desk instances on one database)."""

    def __init__(self, db: Database, handoff: HandoffQueue, *, max_batch: int = MAX_BATCH) -> None:
        super().__init__(db, handoff)
        self._engine: AsyncEngine = db.engine
        self._max_batch = max_batch
        # Touched on the event loop only; one inbound write in flight at a time.
        self._pending: list[_Append] = []
        self._writer: asyncio.Task[None] | None = None

    async def _autocommit(self, fn: Callable[[AsyncConnection], Any]) -> Any:
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await fn(conn)

    # -- inbound: one statement, or a batch ---------------------------------------------------

    async def _append_inbound_fast(self, new: NewInbound) -> Stored:
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending.append(_Append(new, future))
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

    def _take(self) -> list[_Append]:
        """The next batch in arrival order: at most one message per conversation and per
        delivery; the others keep their place for the next batch."""
        batch: list[_Append] = []
        rest: list[_Append] = []
        conversations: set[tuple[str, str]] = set()
        deliveries: set[tuple[str, str, str]] = set()
        for item in self._pending:
            new = item.new
            conversation, delivery = (new.channel, new.sender), (new.channel, new.sender, new.external_id)
            if len(batch) >= self._max_batch or conversation in conversations or delivery in deliveries:
                rest.append(item)
            else:
                batch.append(item)
            # Marked even when deferred, so nothing later in the same conversation overtakes it.
            conversations.add(conversation)
            deliveries.add(delivery)
        self._pending = rest
        return batch

    async def _write(self, batch: list[_Append]) -> None:
        """Write ``batch`` and answer every caller in it."""
        if len(batch) == 1:
            await self._write_alone(batch[0])
            return
        try:
            results = await self._autocommit(lambda conn: _append_inbound_batch(conn, batch))
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
        first = [item for item, result in zip(batch, results, strict=True) if result is None]
        if first:
            opened = dict(zip((id(item) for item in first), await self._open_first(first), strict=True))
            results = [opened.get(id(item), result) for item, result in zip(batch, results, strict=True)]
        for item, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                _settle(item.future, exc=result)
            else:
                _settle(item.future, result)

    async def _open_first(self, items: list[_Append]) -> list[Stored | BaseException]:
        """First messages of new conversations: open them all in one statement and store them,
        rather than one ORM transaction each (about ten round trips, each waiting for a pooled
        connection when many conversations start at once). If that fails, every item is None and
        ``append_inbound``'s ORM path opens them one by one."""
        try:
            return await self._autocommit(lambda conn: _open_and_append(conn, items))
        except Exception as exc:  # noqa: BLE001 - the ORM path is the fallback
            log.warning("opening %d new conversations in one statement failed (%s); opening them one by one",
                        len(items), type(exc).__name__)
            return [None] * len(items)

    async def _write_alone(self, item: _Append) -> None:
        try:
            result = await self._autocommit(lambda conn: _append_inbound_one(conn, item.new))
            if result is None:
                result = (await self._open_first([item]))[0]
        except IntegrityError as exc:
            duplicate = DuplicateMessage(item.new.channel, item.new.sender, item.new.external_id)
            duplicate.__cause__ = exc
            _settle(item.future, exc=duplicate)
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            _settle(item.future, exc=exc)
        else:
            if isinstance(result, BaseException):
                _settle(item.future, exc=result)
            else:
                _settle(item.future, result)

    # -- replies and handoffs --------------------------------------------------------------

    async def append_replies(self, conversation: ConversationRecord, replies: Sequence[OutboundMessage], *,
                             author: str, created_at: datetime, in_reply_to: int | None = None,
                             owner: str | None = None,
                             in_reply_to_payload: dict[str, Any] | None = None) -> list[MessageRecord]:
        bodies = [(r.text, r.to_payload()) for r in replies]
        sealed = [pii.seal_text(body) for body, _ in bodies]
        params = {"k": len(bodies), "now": created_at, "conversation_id": conversation.id, "author": author,
                  "texts": [t for t, _ in sealed], "text_encs": [e for _, e in sealed],
                  "payloads": [json.dumps(p) for _, p in bodies],
                  "in_reply_to": in_reply_to, "owner": owner,
                  "in_reply_to_payload": None if in_reply_to_payload is None else json.dumps(in_reply_to_payload)}

        async def write(conn: AsyncConnection) -> list[Any]:
            return list((await conn.execute(_APPEND_OUTBOUND, params)).all())

        rows = await self._autocommit(write)
        notify_enqueued(self._engine)
        return [
            MessageRecord(message_id, conversation.id, seq, conversation.channel, None, "out", author, None, body,
                          payload, created_at, reply_to_id=in_reply_to)
            for (message_id, seq), (body, payload) in zip(rows, bodies, strict=True)
        ]

    async def _write_handoffs(self, items: list[HandoffItem]) -> list[HandoffWritten | None]:
        return await self._autocommit(lambda conn: _write_handoffs(conn, items))

    # -- generic writes --------------------------------------------------------------------

    async def run(self, fn: Callable[[Connection], T]) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn)

    async def close(self) -> None:
        """Nothing of its own to release: the pool belongs to the ``Database``."""


async def _append_inbound_one(conn: AsyncConnection, new: NewInbound) -> Stored:
    """One message in one autocommit statement; None when the conversation does not exist yet.
    Raises ``IntegrityError`` for a repeated delivery."""
    text, text_enc = pii.seal_text(new.text)
    row = (await conn.execute(_APPEND_INBOUND, {
        "now": new.created_at, "customer_id": new.customer_id, "channel": new.channel, "sender_key": new.key_of(),
        "external_id": new.external_id, "author": new.author, "text": text, "text_enc": text_enc,
        "payload": new.payload,
        "owner": new.lease_owner, "until": new.lease_until,
    })).first()
    if row is None:
        return None
    return _stored(row, new)


async def _append_inbound_batch(conn: AsyncConnection, batch: list[_Append]) -> list[Stored | BaseException]:
    """Store ``batch`` in one autocommit statement; per message: the stored rows, None (no such
    conversation) or ``DuplicateMessage``."""
    news = [a.new for a in batch]
    sealed = [pii.seal_text(n.text) for n in news]
    rows = (await conn.execute(_APPEND_INBOUND_BATCH, {
        "channels": [n.channel for n in news], "senders": [n.key_of() for n in news],
        "external_ids": [n.external_id for n in news], "texts": [t for t, _ in sealed],
        "text_encs": [e for _, e in sealed],
        "payloads": [json.dumps(n.payload) for n in news], "authors": [n.author for n in news],
        "customer_ids": [n.customer_id for n in news], "created": [n.created_at for n in news],
        "owners": [n.lease_owner for n in news], "untils": [n.lease_until for n in news],
    })).all()
    out: list[Stored | BaseException] = []
    for new, row in zip(news, rows, strict=True):
        if row.duplicate:
            out.append(DuplicateMessage(new.channel, new.sender, new.external_id))
        elif row.id is None:
            out.append(None)
        else:
            out.append(_stored(row, new))
    return out


async def _open_and_append(conn: AsyncConnection, items: list[_Append]) -> list[Stored | BaseException]:
    """Open the conversations of ``items`` (first messages) and store the messages again; a message
    whose conversation still cannot be found stays None (the caller's ORM path handles it)."""
    news = [i.new for i in items]
    await conn.execute(_OPEN_CONVERSATIONS, {
        "public_ids": [new_public_id() for _ in news], "channels": [n.channel for n in news],
        "sender_keys": [n.key_of() for n in news], "sender_names": [n.sender_name for n in news],
        "created": [n.created_at for n in news],
        # Encrypted only here, when the conversation opens: its later messages cost no cipher work.
        "sender_encs": [pii.keyring().encrypt(pii.sender_kind(n.channel), n.sender) for n in news],
    })
    if len(items) == 1:
        try:
            return [await _append_inbound_one(conn, news[0])]
        except IntegrityError as exc:
            duplicate = DuplicateMessage(news[0].channel, news[0].sender, news[0].external_id)
            duplicate.__cause__ = exc
            return [duplicate]
    return await _append_inbound_batch(conn, items)


def _stored(row: Any, new: NewInbound) -> StoredInbound:
    conversation = ConversationRecord(
        row.id, row.public_id, row.channel, row.sender_enc, row.sender_name, row.customer_id, row.mode,
        row.last_seq, row.created_at, new.created_at, bool(row.has_closed_handoff), new.sender,
    )
    leased = bool(row.leased)
    state = InboundState.RECEIVED if row.mode == ConversationMode.BOT.value else InboundState.QUEUED_FOR_PEOPLE
    message = MessageRecord(row.message_id, row.id, row.last_seq, row.channel, new.external_id, "in", new.author,
                            None, new.text, new.payload, new.created_at, state.value, 1 if leased else 0)
    return StoredInbound(conversation, message, leased)


async def _write_handoffs(conn: AsyncConnection, items: list[HandoffItem]) -> list[HandoffWritten | None]:
    sealed = [pii.seal_text(body) for i in items for body, _ in i.replies]
    rows = (await conn.execute(_HAND_OFF, {
        "cids": [i.conversation_id for i in items], "ks": [len(i.replies) for i in items],
        "nows": [i.created_at for i in items], "reasons": [i.row.reason for i in items],
        "priorities": [i.row.priority for i in items], "categories": [i.row.category for i in items],
        "summaries": [json.dumps(i.row.summary) for i in items],
        "summary_encs": [i.row.summary_enc for i in items],
        "ticket_numbers": [i.row.ticket_number for i in items], "authors": [i.author for i in items],
        "in_reply_tos": [i.in_reply_to for i in items], "owners": [i.owner for i in items],
        "rcids": [i.conversation_id for i in items for _ in i.replies],
        "rns": [n for i in items for n in range(1, len(i.replies) + 1)],
        "rtexts": [t for t, _ in sealed], "rtext_encs": [e for _, e in sealed],
        "rpayloads": [json.dumps(p) for i in items for _, p in i.replies],
    })).all()
    by_id: dict[int, list[Any]] = {}
    for row in rows:
        by_id.setdefault(row.cid, []).append(row)
    out: list[HandoffWritten | None] = []
    for item in items:
        mine = by_id.get(item.conversation_id, [])
        if not any(r.kind == "c" for r in mine):
            out.append(None)  # the conversation is gone: let the reference path say so
            continue
        out.append(HandoffWritten(sorted((r.id, r.seq) for r in mine if r.kind == "m"),
                                  next((r.id for r in mine if r.kind == "h"), None),
                                  any(r.kind == "t" for r in mine)))
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
