"""The conversation store's write path: open conversations and append ordered messages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from storage.base import UTCDateTime, utcnow
from storage.models import Conversation, ConversationMode, Message

# A borrower's rating (handoff.rating) can only follow a handoff that was closed.
# The hot path reads this in the statement that stores the message, so the rating
# hook (which keeps the actual rule) only runs for conversations where it can apply.
# The literal is ``handoff.models.HandoffStatus.CLOSED`` (a test keeps them equal).
CLOSED_HANDOFF_STATUS = "closed"
CLOSED_HANDOFF_EXISTS_SQL = (
    "EXISTS (SELECT 1 FROM handoffs h WHERE h.conversation_id = {id} AND h.status = '"
    + CLOSED_HANDOFF_STATUS + "')"
)


async def find_or_open_conversation(
    session: AsyncSession, channel: str, sender: str, *, sender_name: str | None = None
) -> Conversation:
    """Return the conversation for (channel, sender), creating it if there is none.

    Two requests racing to open the same conversation are settled by the
    unique constraint: the loser re-reads the winner's row.
    """
    found = await session.scalar(
        select(Conversation).where(Conversation.channel == channel, Conversation.sender == sender)
    )
    if found is not None:
        return found
    conv = Conversation(channel=channel, sender=sender, sender_name=sender_name)
    try:
        async with session.begin_nested():
            session.add(conv)
            await session.flush()
    except Exception:  # IntegrityError from a concurrent insert
        found = await session.scalar(
            select(Conversation).where(Conversation.channel == channel, Conversation.sender == sender)
        )
        if found is None:
            raise
        return found
    return conv


async def next_seq(session: AsyncSession, conversation_id: int) -> int:
    """Allocate the next message sequence number of a conversation.

    The UPDATE … RETURNING takes the row lock, so concurrent writers to one
    conversation are serialised and numbers are gap-free and strictly ordered.
    """
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1, last_message_at=utcnow())
        .returning(Conversation.last_seq)
    )
    return int(result.scalar_one())


async def append_message(
    session: AsyncSession,
    conversation: Conversation,
    *,
    direction: str,
    author: str,
    text: str,
    payload: dict[str, Any] | None = None,
    external_id: str | None = None,
    agent_id: int | None = None,
    created_at: datetime | None = None,
) -> Message:
    """Append one message at the end of ``conversation`` (flushes, does not commit)."""
    seq = await next_seq(session, conversation.id)
    return await insert_message(session, conversation, seq, direction=direction, author=author, text=text,
                                payload=payload, external_id=external_id, agent_id=agent_id,
                                created_at=created_at)


async def insert_message(
    session: AsyncSession,
    conversation: Conversation,
    seq: int,
    *,
    direction: str,
    author: str,
    text: str,
    payload: dict[str, Any] | None = None,
    external_id: str | None = None,
    agent_id: int | None = None,
    created_at: datetime | None = None,
) -> Message:
    """Insert a message with a ``seq`` already allocated by ``next_seq`` or ``lock_for_append``."""
    message = Message(
        created_at=created_at or utcnow(),
        conversation_id=conversation.id,
        seq=seq,
        channel=conversation.channel,
        external_id=external_id,
        direction=direction,
        author=author,
        agent_id=agent_id,
        text=text,
        payload=payload or {},
    )
    session.add(message)
    await session.flush()
    return message


async def lock_for_append(
    session: AsyncSession, channel: str, sender: str, *, customer_id: str | None = None
) -> Conversation | None:
    """Lock the conversation of (channel, sender) and allocate its next ``seq`` in one statement.

    The hot path of every inbound message: one UPDATE … RETURNING finds the
    conversation, takes its row lock, bumps ``last_seq`` (the allocated number,
    read back as ``conversation.last_seq``) and, when the channel vouches for
    the borrower, records ``customer_id``. None when the conversation does not
    exist yet (then use ``find_or_open_conversation`` and ``next_seq``).
    """
    values: dict[str, Any] = {"last_seq": Conversation.last_seq + 1, "last_message_at": utcnow()}
    if customer_id:
        values["customer_id"] = customer_id
    result = await session.scalars(
        update(Conversation)
        .where(Conversation.channel == channel, Conversation.sender == sender)
        .values(**values)
        .returning(Conversation),
        execution_options={"synchronize_session": False},
    )
    return result.one_or_none()


async def set_mode(session: AsyncSession, conversation: Conversation, mode: str) -> None:
    """Switch who answers the conversation (``bot`` or ``human``), in the caller's transaction.

    The handoff part calls this with ``bot`` when it closes a handoff, so the
    bot answers the borrower's next message again.
    """
    if mode not in (ConversationMode.BOT.value, ConversationMode.HUMAN.value):
        raise ValueError(f"unknown conversation mode: {mode!r}")
    await session.execute(update(Conversation).where(Conversation.id == conversation.id).values(mode=mode))
    # Reflect the change without marking the object dirty (no second UPDATE at flush).
    set_committed_value(conversation, "mode", mode)


async def has_closed_handoff(session: AsyncSession, conversation_id: int) -> bool:
    """True when the conversation has a closed handoff (only then can a message be a rating)."""
    query = text("SELECT " + CLOSED_HANDOFF_EXISTS_SQL.format(id=":conversation_id"))
    return bool(await session.scalar(query, {"conversation_id": conversation_id}))


async def conversation_by_public_id(session: AsyncSession, public_id: str) -> Conversation | None:
    """The conversation Rasa and the action server know as ``public_id``, or None."""
    return await session.scalar(select(Conversation).where(Conversation.public_id == public_id))


@dataclass(slots=True)
class ConversationRow:
    """A conversation as the hot path reads it: plain attributes, no ORM bookkeeping.

    Building ORM objects cost more CPU than the database write itself on the
    fast paths; ``to_orm`` makes a detached ``Conversation`` when a slower path
    (handoff, holding reply, rating) needs one for ``session.add``.
    """

    id: int
    public_id: str
    channel: str
    sender: str
    sender_name: str | None
    customer_id: str | None
    mode: str
    last_seq: int
    created_at: datetime
    last_message_at: datetime
    has_closed_handoff: bool = False
    """Read with the row: whether a handoff of this conversation was closed (rating possible)."""

    def to_orm(self) -> Conversation:
        """A detached ``Conversation`` with these values (``session.add`` attaches it without SQL)."""
        conversation = Conversation(
            id=self.id, public_id=self.public_id, channel=self.channel, sender=self.sender,
            sender_name=self.sender_name, customer_id=self.customer_id, mode=self.mode,
            last_seq=self.last_seq, created_at=self.created_at, last_message_at=self.last_message_at,
        )
        make_transient_to_detached(conversation)
        return conversation


@dataclass(slots=True)
class MessageRow:
    """A stored message as the hot path returns it (same attribute names as ``Message``)."""

    id: int
    conversation_id: int
    seq: int
    channel: str
    external_id: str | None
    direction: str
    author: str
    agent_id: int | None
    text: str
    payload: dict[str, Any]
    created_at: datetime


def attached(session: AsyncSession, conversation: Conversation | ConversationRow) -> Conversation:
    """The ORM conversation, attached to ``session`` (no SQL), from either form."""
    orm = conversation.to_orm() if isinstance(conversation, ConversationRow) else conversation
    session.add(orm)
    return orm


# One round trip for the common case on PostgreSQL: lock and number the
# conversation, insert the message, read both back. Runs outside an explicit
# transaction (one statement is atomic), so there is no BEGIN/COMMIT either.
_APPEND_INBOUND_PG = text("""
WITH c AS (
    UPDATE conversations
       SET last_seq = last_seq + 1, last_message_at = :now,
           customer_id = COALESCE(:customer_id, customer_id)
     WHERE channel = :channel AND sender = :sender
 RETURNING id, public_id, channel, sender, sender_name, customer_id, mode, last_seq, created_at
), m AS (
    INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, created_at)
    SELECT c.id, c.last_seq, c.channel, :external_id, :direction, :author, :text, :payload, :now FROM c
    RETURNING id, conversation_id
)
SELECT m.id AS message_id, c.id, c.public_id, c.channel, c.sender, c.sender_name, c.customer_id, c.mode,
       c.last_seq, c.created_at, """ + CLOSED_HANDOFF_EXISTS_SQL.format(id="c.id") + """ AS has_closed_handoff
  FROM m JOIN c ON c.id = m.conversation_id
""").bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("payload", type_=JSON()),
)


async def append_inbound_one_statement(
    conn: AsyncConnection,
    channel: str,
    sender: str,
    *,
    external_id: str,
    text: str,
    payload: dict[str, Any],
    author: str,
    customer_id: str | None,
    created_at: datetime,
) -> tuple[ConversationRow, MessageRow] | None:
    """PostgreSQL fast path of storing an inbound message in an existing conversation.

    Returns the conversation and message as plain rows, or None when the
    conversation does not exist yet.
    Raises ``IntegrityError`` for a duplicate ``(channel, external_id)``.
    """
    row = (await conn.execute(_APPEND_INBOUND_PG, {
        "now": created_at, "customer_id": customer_id, "channel": channel, "sender": sender,
        "external_id": external_id, "direction": "in", "author": author, "text": text, "payload": payload,
    })).first()
    if row is None:
        return None
    conversation = ConversationRow(
        row.id, row.public_id, row.channel, row.sender, row.sender_name, row.customer_id, row.mode,
        row.last_seq, row.created_at, created_at, bool(row.has_closed_handoff),
    )
    message = MessageRow(row.message_id, row.id, row.last_seq, row.channel, external_id, "in", author, None,
                         text, payload, created_at)
    return conversation, message


_APPEND_OUTBOUND_PG = text("""
WITH c AS (
    UPDATE conversations SET last_seq = last_seq + :k, last_message_at = :now
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
)
SELECT m.id, m.seq FROM m ORDER BY m.seq
""").bindparams(bindparam("now", type_=UTCDateTime()))


async def append_outbound_one_statement(
    conn: AsyncConnection,
    conversation: Conversation | ConversationRow,
    replies: list[tuple[str, dict[str, Any]]],
    *,
    author: str,
    created_at: datetime,
) -> list[MessageRow]:
    """PostgreSQL fast path of ``desk.outbox.enqueue`` for several replies: one statement.

    Numbers, stores and queues every reply atomically; returns the stored messages as rows.
    """
    import json

    rows = (await conn.execute(_APPEND_OUTBOUND_PG, {
        "k": len(replies), "now": created_at, "conversation_id": conversation.id, "author": author,
        "texts": [t for t, _ in replies], "payloads": [json.dumps(p) for _, p in replies],
    })).all()
    return [
        MessageRow(message_id, conversation.id, seq, conversation.channel, None, "out", author, None, body,
                   payload, created_at)
        for (message_id, seq), (body, payload) in zip(rows, replies, strict=True)
    ]
