"""What the router hands to the human queue when a conversation needs a person.

The queue itself (``handoff.queue.enqueue_handoff``) belongs to the handoff
part; this module only names the request and the enqueuer's signature, so the
router can be tested with a fake and the handoff part can be built beside it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation

# Reasons the bot may give (docs/architecture.md) plus the desk's own.
BOT_UNAVAILABLE = "bot_unavailable"
BOT_FAILED = "bot_failed"


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """Why and how urgently a conversation joins the human queue."""

    reason: str
    priority: str = "medium"
    category: str | None = None
    summary: dict[str, Any] | None = None
    ticket_number: str | None = None

    @classmethod
    def from_custom(cls, handoff: dict[str, Any]) -> HandoffRequest:
        """Build a request from a bot reply's ``custom.handoff`` object (lenient: the bot is another process)."""
        summary = handoff.get("summary")
        if summary is not None and not isinstance(summary, dict):
            summary = {"text": str(summary)}
        return cls(
            reason=str(handoff.get("reason") or "complex_case"),
            priority=str(handoff.get("priority") or "medium"),
            category=handoff.get("category") or None,
            summary=summary,
            ticket_number=handoff.get("ticket_number") or None,
        )


class HandoffEnqueuer(Protocol):
    """Puts a conversation in the human queue inside the caller's transaction (no commit)."""

    async def __call__(self, session: AsyncSession, conversation: Conversation,
                       request: HandoffRequest) -> Any: ...


async def insert_handoff_row(session: AsyncSession, conversation: Conversation,
                             request: HandoffRequest) -> Any:
    """The minimal enqueuer used until ``handoff.queue`` exists: one waiting ``Handoff`` row."""
    from handoff.models import Handoff

    summary = dict(request.summary or {})
    if request.ticket_number:
        summary.setdefault("ticket_number", request.ticket_number)
    row = Handoff(conversation_id=conversation.id, reason=request.reason,
                  priority=request.priority, category=request.category, summary=summary)
    session.add(row)
    await session.flush()
    return row


def default_enqueuer() -> HandoffEnqueuer:
    """``handoff.queue.enqueue_handoff`` when the handoff part provides it, else the minimal one."""
    try:
        from handoff.queue import enqueue_handoff  # type: ignore[import-not-found]
    except ImportError as exc:
        if exc.name not in ("handoff.queue", "handoff"):
            raise  # handoff.queue exists but is broken: fail loudly at start-up
        return insert_handoff_row
    return enqueue_handoff  # type: ignore[no-any-return]
