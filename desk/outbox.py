"""The outbox: every outbound message is stored and queued in one transaction.

``enqueue`` is the only way a reply leaves the desk. The worker that sends
queued items lives in ``desk.outbox_worker``.
"""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from desk.messages import OutboundMessage
from desk.store import append_message
from storage.models import Conversation, Direction, Message, OutboxItem


async def enqueue(
    session: AsyncSession,
    conversation: Conversation,
    message: OutboundMessage,
    *,
    author: str,
    agent_id: int | None = None,
) -> tuple[Message, OutboxItem]:
    """Store ``message`` in ``conversation`` and queue it for its channel (no commit)."""
    stored = await append_message(
        session,
        conversation,
        direction=Direction.OUTBOUND.value,
        author=author,
        text=message.text,
        payload=message.to_payload(),
        agent_id=agent_id,
    )
    item = OutboxItem(
        message_id=stored.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        recipient=conversation.sender,
    )
    session.add(item)
    await session.flush()
    return stored, item
