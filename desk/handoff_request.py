"""What the router hands to the human queue when a conversation needs a person.

The queue itself (``handoff.queue.enqueue_handoff``) belongs to the handoff
part; this module only names the request and the Protocols the core calls
(``HandoffQueue``, given to the conversation store by the application root),
so the router can be tested with a fake and the handoff part built beside it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation

# Reasons the bot may give (docs/architecture.md) plus the desk's own.
BOT_UNAVAILABLE = "bot_unavailable"
BOT_FAILED = "bot_failed"
# A message whose processing failed Router.max_attempts times (the reason is in the summary).
PROCESSING_FAILED = "processing_failed"


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """Why and how urgently a conversation joins the human queue."""

    reason: str
    priority: str = "medium"
    category: str | None = None
    summary: dict[str, Any] | None = None
    ticket_number: str | None = None
    hours_told: bool = False
    """The replies going out with the request already tell the borrower, outside office hours, when a
    person answers; the queue then adds no notice of its own (the borrower would read it twice)."""

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
            hours_told=handoff.get("hours_told") is True,
        )


class HandoffEnqueuer(Protocol):
    """Puts a conversation in the human queue inside the caller's transaction (no commit)."""

    async def __call__(self, session: AsyncSession, conversation: Conversation,
                       request: HandoffRequest) -> Any: ...


@dataclass(frozen=True, slots=True)
class HandoffRow:
    """The new handoff row a one-write handoff inserts, resolved by the handoff part's rules."""

    reason: str
    priority: str
    category: str | None
    summary: dict[str, Any]
    """As stored: phone numbers, NIK and e-mail in its strings masked."""
    ticket_number: str | None
    summary_enc: str | None = None
    """The original summary sealed, when masking changed it (``storage.sealed``)."""


class HandoffQueue(Protocol):
    """The handoff part as the conversation store sees it (``handoff.fastpath.QueueHandoffs``).

    The store writes the bot's last replies, the mode switch and the new queue
    entry in one write when ``plan`` gives it the row; otherwise, and to merge
    a request into a conversation's open handoff, it calls ``enqueue`` in its
    ORM transaction (the reference).
    """

    def plan(self, request: HandoffRequest, channel: str, at: datetime) -> HandoffRow | None:
        """The row to insert for ``request``; None when only ``enqueue`` may handle it (e.g. an
        out-of-office-hours notice must be sent too)."""
        ...

    async def enqueue(self, session: AsyncSession, conversation: Conversation, request: HandoffRequest) -> Any:
        """Queue the conversation in the caller's transaction (no commit): a new handoff, or the
        request merged into its open one."""
        ...
