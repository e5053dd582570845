"""The handoff hot path: the bot's last replies, human mode and the queue entry in one write.

``handoff.queue.enqueue_handoff`` inside the router's ORM transaction costs
eight round trips on PostgreSQL (BEGIN, number the conversation, insert the
reply, queue it, switch the mode, look for an open handoff, insert it,
COMMIT), each a trip through a busy event loop while 100 handoffs arrive at
once. Here the same rows are written by one statement on PostgreSQL and by
one call on the SQLite writer's thread, so the console learns about the
handoff as soon as the bot asked for it. Handoffs that arrive while one such
write is under way are grouped into the next (``_GroupCommit``).

Same rules as ``enqueue_handoff`` (that function stays the reference and
handles the rest): priority floor, the ticket named by number, category from
the ticket. At most one open handoff per conversation is enforced by the
partial unique index ``uq_handoffs_open_conversation``: when the conversation
already has one, the statement inserts none and the caller merges the request
into it with ``enqueue_handoff``; when another desk instance raced us, the
index refuses the statement and nothing was written. Out of office hours the
borrower gets a notice; that rare path goes through ``enqueue_handoff`` too.
"""
from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from desk.messages import OutboundMessage
from desk.sqlite_fastpath import INSERT_OUTBOUND_SQL, INSERT_OUTBOX_SQL, SqliteInboundWriter, _sqlite_time
from desk.store import ConversationRow, MessageRow, attached
from handoff import hours
from handoff.models import HandoffStatus, Role
from handoff.queue import _field, effective_priority, enqueue_handoff
from storage.models import Author, Conversation

log = logging.getLogger(__name__)

_OPEN = f"('{HandoffStatus.WAITING.value}', '{HandoffStatus.ASSIGNED.value}')"


@dataclass(frozen=True, slots=True)
class NewHandoff:
    """What ``enqueue_handoff`` would put in a new handoff row, resolved before writing."""

    reason: str
    priority: str
    category: str | None
    summary: dict[str, Any]
    ticket_number: str | None

    @classmethod
    def from_request(cls, request: Any) -> NewHandoff:
        """The same defaults and priority floor as ``enqueue_handoff``."""
        reason = str(_field(request, "reason") or "complex_case")
        category = _field(request, "category") or None
        summary = dict(_field(request, "summary") or {})
        ticket_number = _field(request, "ticket_number") or summary.get("ticket_number")
        if ticket_number:
            ticket_number = str(ticket_number)
            summary.setdefault("ticket_number", ticket_number)
        return cls(reason, effective_priority(_field(request, "priority"), category, reason), category, summary,
                   ticket_number or None)


@dataclass(frozen=True, slots=True)
class Written:
    messages: list[tuple[int, int]]  # (message id, seq) of the stored replies, in order
    handoff_id: int | None           # None: an open handoff already existed, nothing inserted
    ticket_found: bool


# One statement for a whole batch of handoffs: number and switch each conversation,
# store and queue its replies, queue its handoff unless one is open. Atomic on its own
# (autocommit); one round trip and one commit however many handoffs arrived together.
_HAND_OFF_PG = text(f"""
WITH req AS (
    SELECT r.*
      FROM unnest(CAST(:cids AS int[]), CAST(:ks AS int[]), CAST(:nows AS timestamptz[]),
                  CAST(:reasons AS text[]), CAST(:priorities AS text[]), CAST(:categories AS text[]),
                  CAST(:summaries AS text[]), CAST(:ticket_numbers AS text[]))
           AS r(cid, k, now, reason, priority, category, summary, ticket_number)
), c AS (
    UPDATE conversations SET last_seq = last_seq + req.k, last_message_at = req.now, mode = 'human'
      FROM req WHERE conversations.id = req.cid
 RETURNING conversations.id, conversations.channel, conversations.sender, conversations.last_seq, req.k, req.now
), rep AS (
    SELECT * FROM unnest(CAST(:rcids AS int[]), CAST(:rns AS int[]), CAST(:rtexts AS text[]),
                         CAST(:rpayloads AS text[])) AS x(cid, n, text, payload)
), m AS (
    INSERT INTO messages (conversation_id, seq, channel, direction, author, text, payload, created_at)
    SELECT c.id, c.last_seq - c.k + rep.n, c.channel, 'out', :author, rep.text, CAST(rep.payload AS json), c.now
      FROM c JOIN rep ON rep.cid = c.id
    RETURNING id, seq, conversation_id
), o AS (
    INSERT INTO outbox (message_id, conversation_id, channel, recipient, status, attempts, next_attempt_at,
                        created_at)
    SELECT m.id, m.conversation_id, c.channel, c.sender, 'pending', 0, c.now, c.now
      FROM m JOIN c ON c.id = m.conversation_id
    RETURNING id
), t AS (
    SELECT req.cid, tickets.id, tickets.category FROM req JOIN tickets ON tickets.number = req.ticket_number
), h AS (
    INSERT INTO handoffs (conversation_id, ticket_id, reason, priority, category, summary, status, queue_role,
                          requested_at)
    SELECT c.id, t.id, req.reason, req.priority, COALESCE(req.category, t.category), CAST(req.summary AS json),
           '{HandoffStatus.WAITING.value}', '{Role.AGENT.value}', c.now
      FROM c JOIN req ON req.cid = c.id LEFT JOIN t ON t.cid = c.id
     WHERE NOT EXISTS (SELECT 1 FROM handoffs o WHERE o.conversation_id = c.id AND o.status IN {_OPEN})
    RETURNING id, conversation_id
)
SELECT 'm' AS kind, m.conversation_id AS cid, m.id, m.seq FROM m
UNION ALL SELECT 'h', h.conversation_id, h.id, 0 FROM h
UNION ALL SELECT 't', t.cid, t.id, 0 FROM t
UNION ALL SELECT 'c', c.id, c.id, 0 FROM c
""")


@dataclass(frozen=True, slots=True)
class _Item:
    """One handoff waiting for the next batch write."""

    conversation_id: int
    channel: str
    recipient: str
    replies: list[tuple[str, dict[str, Any]]]
    new: NewHandoff
    created_at: datetime


async def _write_pg(conn: AsyncConnection, items: list[_Item]) -> list[Written | None]:
    rows = (await conn.execute(_HAND_OFF_PG, {
        "cids": [i.conversation_id for i in items], "ks": [len(i.replies) for i in items],
        "nows": [i.created_at for i in items], "reasons": [i.new.reason for i in items],
        "priorities": [i.new.priority for i in items], "categories": [i.new.category for i in items],
        "summaries": [json.dumps(i.new.summary) for i in items],
        "ticket_numbers": [i.new.ticket_number for i in items],
        "rcids": [i.conversation_id for i in items for _ in i.replies],
        "rns": [n for i in items for n in range(1, len(i.replies) + 1)],
        "rtexts": [t for i in items for t, _ in i.replies],
        "rpayloads": [json.dumps(p) for i in items for _, p in i.replies],
        "author": Author.BOT.value,
    })).all()
    by_id: dict[int, list[Any]] = {}
    for row in rows:
        by_id.setdefault(row.cid, []).append(row)
    out: list[Written | None] = []
    for item in items:
        mine = by_id.get(item.conversation_id, [])
        if not any(r.kind == "c" for r in mine):
            out.append(None)  # the conversation is gone: let the reference path say so
            continue
        out.append(Written(sorted((r.id, r.seq) for r in mine if r.kind == "m"),
                           next((r.id for r in mine if r.kind == "h"), None), any(r.kind == "t" for r in mine)))
    return out


_INSERT_HANDOFF = (
    "INSERT INTO handoffs (conversation_id, ticket_id, reason, priority, category, summary, status, queue_role, "
    f"requested_at) SELECT ?, ?, ?, ?, ?, ?, '{HandoffStatus.WAITING.value}', '{Role.AGENT.value}', ? "
    f"WHERE NOT EXISTS (SELECT 1 FROM handoffs WHERE conversation_id = ? AND status IN {_OPEN})"
)


def _write_sqlite_batch(conn: Connection, items: list[_Item]) -> list[Written | None]:
    """A batch on the SQLite writer's connection and thread, in one transaction (``writer.run``)."""
    return [_write_sqlite(conn, i.conversation_id, i.channel, i.recipient, i.replies, i.new, i.created_at)
            for i in items]


def _write_sqlite(conn: Connection, conversation_id: int, channel: str, recipient: str,
                  replies: list[tuple[str, dict[str, Any]]], new: NewHandoff, created_at: datetime) -> Written | None:
    """One handoff's writes on the SQLite writer's connection."""
    now = _sqlite_time(created_at)
    bumped = conn.exec_driver_sql("UPDATE conversations SET last_seq = last_seq + ?, last_message_at = ?, "
                                  "mode = 'human' WHERE id = ? RETURNING last_seq",
                                  (len(replies), now, conversation_id)).first()
    if bumped is None:
        return None
    stored = []
    for n, (body, payload) in enumerate(replies):
        seq = bumped[0] - len(replies) + 1 + n
        message_id = conn.exec_driver_sql(INSERT_OUTBOUND_SQL, (conversation_id, seq, channel, Author.BOT.value, body,
                                                        json.dumps(payload), now)).lastrowid
        conn.exec_driver_sql(INSERT_OUTBOX_SQL, (message_id, conversation_id, channel, recipient, now, now))
        stored.append((int(message_id or 0), seq))
    ticket = None
    if new.ticket_number:
        ticket = conn.exec_driver_sql("SELECT id, category FROM tickets WHERE number = ?",
                                      (new.ticket_number,)).first()
    cursor = conn.exec_driver_sql(_INSERT_HANDOFF, (
        conversation_id, ticket[0] if ticket else None, new.reason, new.priority,
        new.category or (ticket[1] if ticket else None), json.dumps(new.summary), now, conversation_id))
    handoff_id = int(cursor.lastrowid or 0) if cursor.rowcount == 1 else None
    return Written(stored, handoff_id, ticket is not None)


# Batches written at once: a first handoff never waits for another batch's round trip, and
# beyond this many the arrivals group into the next batch.
WRITERS = 3


class _GroupCommit:
    """Handoff writes of one database, grouped: while one batch is being written the next one
    gathers, so a burst of handoffs costs a few round trips and commits instead of one each, and
    holds one pooled connection instead of queueing for many."""

    def __init__(self, db: Any, sqlite_writer: SqliteInboundWriter | None) -> None:
        self.db = db
        self.sqlite_writer = sqlite_writer
        self.loop = asyncio.get_running_loop()
        self.pending: list[tuple[_Item, asyncio.Future[Written | None]]] = []
        self.writers: set[asyncio.Task[None]] = set()

    async def submit(self, item: _Item) -> Written | None:
        """Queue ``item`` for the next batch; its result (IntegrityError when another instance raced it)."""
        future: asyncio.Future[Written | None] = asyncio.get_running_loop().create_future()
        self.pending.append((item, future))
        if len(self.writers) < WRITERS:
            task = asyncio.create_task(self._drain())
            self.writers.add(task)
            task.add_done_callback(self.writers.discard)
        return await future

    async def _drain(self) -> None:
        while self.pending:
            batch = self._take()
            try:
                results = await self._write([item for item, _ in batch])
            except IntegrityError:
                # Someone else queued one of these conversations meanwhile: the database refused the
                # whole batch, so write them one by one and let only the loser fall back.
                for item, future in batch:
                    try:
                        (result,) = await self._write([item])
                    except Exception as exc:  # noqa: BLE001 - handed to the caller
                        _settle(future, exc=exc)
                    else:
                        _settle(future, result)
                continue
            except Exception as exc:  # noqa: BLE001 - every caller sees the failure
                for _, future in batch:
                    _settle(future, exc=exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result)

    def _take(self) -> list[tuple[_Item, asyncio.Future[Written | None]]]:
        """The pending handoffs, at most one per conversation (a later one waits for the next batch)."""
        batch, rest, seen = [], [], set()
        for entry in self.pending:
            (rest if entry[0].conversation_id in seen else batch).append(entry)
            seen.add(entry[0].conversation_id)
        self.pending = rest
        return batch

    async def _write(self, items: list[_Item]) -> list[Written | None]:
        if self.db.is_sqlite:
            assert self.sqlite_writer is not None
            return await self.sqlite_writer.run(partial(_write_sqlite_batch, items=items))
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await _write_pg(conn, items)


def _settle(future: asyncio.Future[Written | None], result: Written | None = None, *,
            exc: BaseException | None = None) -> None:
    if future.done():
        return  # the caller went away (cancelled)
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


_groups: weakref.WeakKeyDictionary[Any, _GroupCommit] = weakref.WeakKeyDictionary()


def _group(db: Any, sqlite_writer: SqliteInboundWriter | None) -> _GroupCommit:
    group = _groups.get(db)
    if group is None or group.sqlite_writer is not sqlite_writer or group.loop is not asyncio.get_running_loop():
        group = _groups[db] = _GroupCommit(db, sqlite_writer)
    return group


async def hand_off(db: Any, sqlite_writer: SqliteInboundWriter | None,
                   conversation: Conversation | ConversationRow, replies: list[OutboundMessage],
                   request: Any, created_at: datetime) -> list[MessageRow] | None:
    """Store the bot's ``replies``, switch ``conversation`` to people and queue it, in one write.

    Returns the stored replies, or None when this path does not apply (SQLite
    in memory, out of office hours, a concurrent handoff from another
    instance, a vanished conversation): then nothing was written and the
    caller uses the reference path (``enqueue_handoff`` in a transaction).
    """
    if hours.out_of_hours_notice(conversation.channel, created_at):
        return None  # the notice and its summary flag: the reference path
    new = NewHandoff.from_request(request)
    rows = [(r.text, r.to_payload()) for r in replies]
    if db.is_sqlite and sqlite_writer is None:
        return None
    item = _Item(conversation.id, conversation.channel, conversation.sender, rows, new, created_at)
    try:
        written = await _group(db, sqlite_writer).submit(item)
    except IntegrityError:
        log.info("concurrent handoff of conversation %s; taking the reference path", conversation.public_id)
        return None
    if written is None:
        return None
    if new.ticket_number and not written.ticket_found:
        log.warning("handoff names unknown ticket %s; kept in the summary only", new.ticket_number)
    if written.handoff_id is None:
        # Already queued or with an agent: raise its priority and fill the gaps, like enqueue_handoff does.
        async with db.transaction() as session:
            await enqueue_handoff(session, attached(session, conversation), request)
    return [MessageRow(message_id, conversation.id, seq, conversation.channel, None, "out", Author.BOT.value, None,
                       body, payload, created_at)
            for (message_id, seq), (body, payload) in zip(written.messages, rows, strict=True)]
