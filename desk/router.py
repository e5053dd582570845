"""The router: stores every inbound message first, then hands it to the bot or to a human.

Contract (implemented by ``Router.receive``):

1. Store the inbound message, deduplicated by ``(channel, external_id)``. A
   duplicate returns ``ReceiveResult(duplicate=True, ...)`` and does nothing else.
2. Find or open the conversation (``desk.store.find_or_open_conversation``).
3. Bot mode: send to Rasa (``desk.botclient``), store each reply through
   ``desk.outbox.enqueue``; a reply carrying ``custom.handoff`` switches the
   conversation to human mode and queues it (``handoff.queue.enqueue_handoff``).
   Rasa down or slow: a holding reply, the conversation joins the human queue.
4. Human mode: publish the message to the console's event topic.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from desk.messages import OutboundMessage


@dataclass(frozen=True)
class ReceiveResult:
    """What the router did with one inbound message."""

    duplicate: bool
    conversation_public_id: str
    message_id: int | None
    mode: str
    replies: list[OutboundMessage] = field(default_factory=list)
    """Replies produced synchronously (bot mode), for channels that answer in the response body."""
    reply_message_ids: list[int] = field(default_factory=list)
