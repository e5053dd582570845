"""The handoff part as the conversation store calls it: the rules of a new queue entry.

``handoff.queue.enqueue_handoff`` inside an ORM transaction costs eight round
trips on PostgreSQL (BEGIN, number the conversation, insert the reply, queue
it, switch the mode, look for an open handoff, insert it, COMMIT). The
conversation store (``desk.store``) writes the bot's last replies, the mode
switch and the new handoff row in one write instead; this module gives it the
row, resolved by the same rules as ``enqueue_handoff`` (which stays the
reference and handles the rest): the priority floor, the defaults, the
ticket named by number.

At most one open handoff per conversation is enforced by the partial unique
index ``uq_handoffs_open_conversation``: when the conversation already has
one, the store's write inserts none and the store merges the request into it
with ``enqueue``; when another desk instance raced it, the index refuses the
write and the store takes the reference path. Out of office hours the
borrower gets a notice; ``plan`` returns None so that ``enqueue`` sends it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from desk.handoff_request import HandoffRequest, HandoffRow
from handoff import hours
from handoff.models import Handoff
from handoff.queue import effective_priority, enqueue_handoff
from storage.models import Conversation
from storage.sealed import values


def plan_row(request: HandoffRequest) -> HandoffRow:
    """The new handoff row ``enqueue_handoff`` would insert for ``request`` (same defaults and floor)."""
    reason = str(request.reason or "complex_case")
    category = request.category or None
    summary = dict(request.summary or {})
    ticket_number = request.ticket_number or summary.get("ticket_number")
    if ticket_number:
        ticket_number = str(ticket_number)
        summary.setdefault("ticket_number", ticket_number)
    # Sealed here, once per handoff, like every ORM write of the column (storage.sealed).
    stored = values(Handoff, "summary", summary)
    return HandoffRow(reason, effective_priority(request.priority, category, reason), category,
                      stored["summary"], ticket_number or None, stored["summary_enc"])


class QueueHandoffs:
    """The ``desk.handoff_request.HandoffQueue`` of the handoff part (the application root passes it in)."""

    def plan(self, request: HandoffRequest, channel: str, at: datetime) -> HandoffRow | None:
        """The row for the one-write handoff; None out of office hours, when the desk's notice must go too
        (it goes with ``enqueue``) — not when the bot's reply already told the hours (``hours_told``)."""
        if not request.hours_told and hours.out_of_hours_notice(channel, at):
            return None
        return plan_row(request)

    async def enqueue(self, session: AsyncSession, conversation: Conversation, request: HandoffRequest) -> Any:
        """``handoff.queue.enqueue_handoff``, in the caller's transaction."""
        return await enqueue_handoff(session, conversation, request)

