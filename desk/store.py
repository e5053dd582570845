"""The conversation store's write path: open conversations and append ordered messages."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import utcnow
from storage.models import Conversation, Message


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
) -> Message:
    """Append one message at the end of ``conversation`` (flushes, does not commit)."""
    seq = await next_seq(session, conversation.id)
    message = Message(
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
