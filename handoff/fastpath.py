"""The handoff hot path: the bot's last replies, human mode and the queue entry in one write.

``handoff.queue.enqueue_handoff`` inside the router's ORM transaction costs
eight round trips on PostgreSQL (BEGIN, number the conversation, insert the
reply, queue it, switch the mode, look for an open handoff, insert it,
COMMIT), each a trip through a busy event loop while 100 handoffs arrive at
once. Here the same rows are written by one statement on PostgreSQL and by
one call on the SQLite writer's thread, so the console learns about the
handoff as soon as the bot asked for it.

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

import json
import logging
from dataclasses import dataclass
from functools import partial
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from desk.messages import OutboundMessage
from desk.sqlite_fastpath import SqliteInboundWriter, _sqlite_time
from desk.store import ConversationRow, MessageRow, attached
from handoff import hours
from handoff.models import HandoffStatus, Role
from handoff.queue import _field, effective_priority, enqueue_handoff
from storage.base import UTCDateTime
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


# One statement: number and switch the conversation, store and queue the replies,
# queue the handoff unless one is open. Atomic on its own (autocommit).
_HAND_OFF_PG = text(f"""
WITH c AS (
    UPDATE conversations SET last_seq = last_seq + :k, last_message_at = :now, mode = 'human'
     WHERE id = :conversation_id
 RETURNING id, channel, sender, last_seq
), r AS (
    SELECT t.text, t.payload, t.n
      FROM unnest(CAST(:texts AS text[]), CAST(:payloads AS text[])) WITH ORDINALITY AS t(text, payload, n)
), m AS (
    INSERT INTO messages (conversation_id, seq, channel, direction, author, text, payload, created_at)
    SELECT c.id, c.last_seq - :k + r.n, c.channel, 'out', :author, r.text, CAST(r.payload AS json), :now
      FROM c CROSS JOIN r
    RETURNING id, seq, conversation_id
), o AS (
    INSERT INTO outbox (message_id, conversation_id, channel, recipient, status, attempts, next_attempt_at,
                        created_at)
    SELECT m.id, m.conversation_id, c.channel, c.sender, 'pending', 0, :now, :now FROM m CROSS JOIN c
    RETURNING id
), t AS (
    SELECT id, category FROM tickets WHERE number = CAST(:ticket_number AS varchar)
), h AS (
    INSERT INTO handoffs (conversation_id, ticket_id, reason, priority, category, summary, status, queue_role,
                          requested_at)
    SELECT c.id, (SELECT id FROM t), :reason, :priority,
           COALESCE(CAST(:category AS varchar), (SELECT category FROM t)), CAST(:summary AS json),
           '{HandoffStatus.WAITING.value}', '{Role.AGENT.value}', :now
      FROM c
     WHERE NOT EXISTS (SELECT 1 FROM handoffs WHERE conversation_id = :conversation_id AND status IN {_OPEN})
    RETURNING id
)
SELECT 'm' AS kind, m.id, m.seq FROM m
UNION ALL SELECT 'h', h.id, 0 FROM h
UNION ALL SELECT 't', t.id, 0 FROM t
UNION ALL SELECT 'c', c.id, 0 FROM c
""").bindparams(bindparam("now", type_=UTCDateTime()))


async def _write_pg(conn: AsyncConnection, conversation_id: int, replies: list[tuple[str, dict[str, Any]]],
                    new: NewHandoff, created_at: datetime) -> Written | None:
    rows = (await conn.execute(_HAND_OFF_PG, {
        "k": len(replies), "now": created_at, "conversation_id": conversation_id, "author": Author.BOT.value,
        "texts": [t for t, _ in replies], "payloads": [json.dumps(p) for _, p in replies],
        "ticket_number": new.ticket_number, "reason": new.reason, "priority": new.priority,
        "category": new.category, "summary": json.dumps(new.summary),
    })).all()
    if not any(kind == "c" for kind, _, _ in rows):
        return None  # the conversation is gone: let the reference path say so
    return Written(sorted((i, s) for kind, i, s in rows if kind == "m"),
                   next((i for kind, i, _ in rows if kind == "h"), None), any(kind == "t" for kind, _, _ in rows))


_INSERT_OUT = (
    "INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, "
    "created_at) VALUES (?, ?, ?, NULL, 'out', ?, ?, ?, ?)"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (message_id, conversation_id, channel, recipient, status, attempts, next_attempt_at, "
    "created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)"
)
_INSERT_HANDOFF = (
    "INSERT INTO handoffs (conversation_id, ticket_id, reason, priority, category, summary, status, queue_role, "
    f"requested_at) SELECT ?, ?, ?, ?, ?, ?, '{HandoffStatus.WAITING.value}', '{Role.AGENT.value}', ? "
    f"WHERE NOT EXISTS (SELECT 1 FROM handoffs WHERE conversation_id = ? AND status IN {_OPEN})"
)


def _write_sqlite(conn: Connection, conversation_id: int, channel: str, recipient: str,
                  replies: list[tuple[str, dict[str, Any]]], new: NewHandoff, created_at: datetime) -> Written | None:
    """The same writes on the SQLite writer's connection and thread (its transaction: ``writer.run``)."""
    now = _sqlite_time(created_at)
    bumped = conn.exec_driver_sql("UPDATE conversations SET last_seq = last_seq + ?, last_message_at = ?, "
                                  "mode = 'human' WHERE id = ? RETURNING last_seq",
                                  (len(replies), now, conversation_id)).first()
    if bumped is None:
        return None
    stored = []
    for n, (body, payload) in enumerate(replies):
        seq = bumped[0] - len(replies) + 1 + n
        message_id = conn.exec_driver_sql(_INSERT_OUT, (conversation_id, seq, channel, Author.BOT.value, body,
                                                        json.dumps(payload), now)).lastrowid
        conn.exec_driver_sql(_INSERT_OUTBOX, (message_id, conversation_id, channel, recipient, now, now))
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
    try:
        if db.is_sqlite:
            if sqlite_writer is None:
                return None
            written = await sqlite_writer.run(partial(_write_sqlite, conversation_id=conversation.id,
                                                      channel=conversation.channel, recipient=conversation.sender,
                                                      replies=rows, new=new, created_at=created_at))
        else:
            async with db.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                written = await _write_pg(conn, conversation.id, rows, new, created_at)
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
