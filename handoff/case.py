"""One case: a conversation, its handoff and its ticket, linked by id.

A complaint is one case although it crosses from the bot to a person. The
handoff row carries the ticket's id (``handoffs.ticket_id``), so every console
action on the conversation can move the ticket in the same transaction
(``handoff.actions``). The link is made:

* when the handoff is queued with a ticket number (the bot's complaint, fraud
  and threat handoffs; ``handoff.queue.enqueue_handoff`` and the one-statement
  write in ``handoff.fastpath``), the number read as borrowers type it;
* when the handoff names no number but the conversation already has an open
  ticket (a complaint filed earlier, a desk-side ``bot_failed`` handoff):
  ``case_ticket`` finds it through ``ticket_conversations`` and links it on
  first use, so the fast path stays one statement;
* when an agent opens a ticket from the chat (``handoff.actions.open_ticket``).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Handoff
from tickets import service as ticket_service
from tickets.models import Ticket, TicketConversation
from tickets.numbers import InvalidTicketNumber, parse_number
from tickets.workflow import OPEN


async def ticket_by_number(session: AsyncSession, number: str | None) -> Ticket | None:
    """The ticket ``number`` names (typed loosely is fine), or None."""
    if not number:
        return None
    try:
        canonical = parse_number(str(number))
    except InvalidTicketNumber:
        canonical = str(number).strip()
    return await session.scalar(select(Ticket).where(Ticket.number == canonical))


async def open_ticket_of_conversation(session: AsyncSession, conversation_id: int) -> Ticket | None:
    """The newest open ticket raised or discussed in the conversation, or None."""
    return await session.scalar(
        select(Ticket).join(TicketConversation, TicketConversation.ticket_id == Ticket.id)
        .where(TicketConversation.conversation_id == conversation_id, Ticket.status.in_(OPEN))
        .order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(1))


async def case_ticket(session: AsyncSession, handoff: Handoff | None) -> Ticket | None:
    """The ticket of the handoff's case, linking the conversation's open ticket when none is linked yet.

    In the caller's transaction; the new link is flushed with the caller's
    other changes. None when the conversation has no ticket.
    """
    if handoff is None:
        return None
    if handoff.ticket_id is not None:
        return await session.get(Ticket, handoff.ticket_id)
    ticket = await open_ticket_of_conversation(session, handoff.conversation_id)
    if ticket is not None:
        handoff.ticket_id = ticket.id
        handoff.category = handoff.category or ticket.category
    return ticket


async def follow_holder(session: AsyncSession, handoff: Handoff, holder_id: int, actor_id: int) -> None:
    """The case's open ticket follows the conversation to the person who now holds it.

    Pick-up, transfer and take-over call it; the ticket's history gets an
    ``assigned`` event (``tickets.service.assign``). Closed tickets and a
    ticket already with that person are left alone. Raises ``TicketError``.
    """
    ticket = await case_ticket(session, handoff)
    if ticket is None or ticket.status not in OPEN or ticket.assignee_id == holder_id:
        return
    await ticket_service.assign(session, ticket, holder_id, ticket_service.Actor.staff(actor_id))
