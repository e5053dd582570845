"""The outbox: every outbound message is stored and queued in one transaction.

``enqueue`` is the only way a reply leaves the desk. The worker that sends
queued items lives in ``desk.outbox_worker``; it polls, and it is also nudged
in-process the moment a transaction that enqueued something commits (see
``on_enqueue_commit``), so a reply leaves within milliseconds.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from desk.messages import OutboundMessage
from desk.store.orm import append_message
from storage.models import Conversation, Direction, Message, OutboxItem

_ENQUEUED = "aduan.outbox_enqueued"
# Callbacks per engine, so two databases in one process (tests) never nudge each other.
_commit_callbacks: weakref.WeakKeyDictionary[Engine, list[Callable[[], None]]] = weakref.WeakKeyDictionary()


async def enqueue(
    session: AsyncSession,
    conversation: Conversation,
    message: OutboundMessage,
    *,
    author: str,
    agent_id: int | None = None,
    in_reply_to: int | None = None,
    template_only: bool = False,
) -> tuple[Message, OutboxItem]:
    """Store ``message`` in ``conversation`` and queue it for its channel (no commit).

    ``in_reply_to``: the inbound message this one answers (``Message.reply_to_id``).
    ``template_only``: send ``message.template`` even inside the customer-care
    window (an agent chose the template; ``desk.window.choose_form``).
    """
    if template_only and message.template is None:
        raise ValueError("template_only needs a message with a template")
    stored = await append_message(
        session,
        conversation,
        direction=Direction.OUTBOUND.value,
        author=author,
        text=message.text,
        payload=message.to_payload(),
        agent_id=agent_id,
        reply_to_id=in_reply_to,
    )
    item = OutboxItem(
        message_id=stored.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        recipient_enc=conversation.sender_enc,
        template_only=template_only,
    )
    session.add(item)
    await session.flush()
    session.sync_session.info[_ENQUEUED] = True
    return stored, item


def on_enqueue_commit(engine: AsyncEngine, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after every commit on ``engine`` that enqueued an outbox item.

    Returns a function that removes the callback. The callback runs inside the
    commit, on the event loop's thread: it must be quick and must not raise
    (the outbox worker's ``nudge`` sets an ``asyncio.Event``).
    """
    callbacks = _commit_callbacks.setdefault(engine.sync_engine, [])
    callbacks.append(callback)

    def remove() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return remove


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if not session.info.pop(_ENQUEUED, False):
        return
    bind = session.get_bind()
    engine = bind.engine if hasattr(bind, "engine") else bind
    for callback in list(_commit_callbacks.get(engine, ())):
        callback()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_ENQUEUED, None)


def notify_enqueued(engine: AsyncEngine) -> None:
    """Run the commit callbacks of ``engine`` after a write that bypassed the ORM session."""
    for callback in list(_commit_callbacks.get(engine.sync_engine, ())):
        callback()
