"""Session-level helpers of the conversation store, for writes inside a caller's ORM transaction.

The router's writes go through ``desk.store.ConversationStore``; these
functions serve the code that already holds a transaction and must write a
message in it (``desk.outbox.enqueue`` for agent replies, tickets, closing a
handoff) and the SQLAlchemy defaults in ``desk.store.sql``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from storage.base import utcnow
from storage.models import Conversation, ConversationMode, Message, sealed_sender

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

    ``sender`` is the clear address; the row holds its key and ciphertext
    (``storage.models.sealed_sender``). Two requests racing to open the same
    conversation are settled by the unique constraint: the loser re-reads the
    winner's row.
    """
    sealed = sealed_sender(channel, sender)
    key = sealed["sender_key"]
    found = await session.scalar(
        select(Conversation).where(Conversation.channel == channel, Conversation.sender_key == key)
    )
    if found is not None:
        return found
    conv = Conversation(channel=channel, sender_name=sender_name, **sealed)
    try:
        async with session.begin_nested():
            session.add(conv)
            await session.flush()
    except Exception:  # IntegrityError from a concurrent insert
        found = await session.scalar(
            select(Conversation).where(Conversation.channel == channel, Conversation.sender_key == key)
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
    reply_to_id: int | None = None,
    seq: int | None = None,
    state: str | None = None,
    attempts: int = 0,
) -> Message:
    """Append one message at the end of ``conversation`` (flushes, does not commit).

    ``seq`` is a number the caller already allocated in this transaction
    (``lock_for_append``); None allocates the next one (``next_seq``).
    ``state`` and ``attempts`` are an inbound message's processing state
    (``desk.store.InboundState``).
    """
    if seq is None:
        seq = await next_seq(session, conversation.id)
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
        reply_to_id=reply_to_id,
        state=state,
        attempts=attempts,
    )
    session.add(message)
    await session.flush()
    return message


async def lock_for_append(
    session: AsyncSession, channel: str, sender_key: str, *, customer_id: str | None = None
) -> Conversation | None:
    """Lock the conversation of (channel, sender key) and allocate its next ``seq`` in one statement.

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
        .where(Conversation.channel == channel, Conversation.sender_key == sender_key)
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


def detached_conversation(record: Any) -> Conversation:
    """A detached ``Conversation`` with the values of a ``ConversationRecord`` (``session.add`` attaches it
    without SQL), for hooks of the handoff part that take the ORM object."""
    conversation = Conversation(
        id=record.id, public_id=record.public_id, channel=record.channel, sender_enc=record.sender_enc,
        sender_name=record.sender_name, customer_id=record.customer_id, mode=record.mode,
        last_seq=record.last_seq, created_at=record.created_at, last_message_at=record.last_message_at,
    )
    make_transient_to_detached(conversation)
    return conversation
