"""One case from chat to ticket: the handoff knows its ticket, and console actions move it."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from desk.store import append_message, find_or_open_conversation
from handoff.queue import enqueue_handoff
from handoff.models import Handoff
from storage.models import Conversation, Message
from tickets import service
from tickets.models import Ticket, TicketAlert, TicketEvent
from tickets.scheduler import tick
from tests.handoff.conftest import get_handoff

FETCH = {"X-Requested-With": "fetch"}


async def _conversation(database, channel: str = "whatsapp") -> Conversation:
    async with database.transaction() as session:
        conv = await find_or_open_conversation(session, channel, "+6281234567890" if channel == "whatsapp"
                                               else uuid.uuid4().hex[:10], sender_name="Budi Santoso")
        await append_message(session, conv, direction="in", author="borrower", text="sudah bayar belum lunas",
                             external_id=uuid.uuid4().hex)
    return conv


async def _file(database, services, conv: Conversation, category: str = "payment") -> Ticket:
    data = service.NewTicket(conversation_id=conv.public_id, channel=conv.channel, category=category,
                             full_name="Budi Santoso", phone="081234567890", product="pinjaman_tunai",
                             chronology="Sudah bayar tanggal 10, status belum lunas.")
    return (await service.create_ticket(database, services.tickets, data, uuid.uuid4().hex)).ticket


async def _hand_off(database, conv: Conversation, ticket_number: str | None = None) -> int:
    async with database.transaction() as session:
        conv = await session.get(Conversation, conv.id)
        conv.mode = "human"
        handoff = await enqueue_handoff(session, conv, {"reason": "request_human", "priority": "medium",
                                                        "summary": {"intent": "request_human"},
                                                        "ticket_number": ticket_number})
        return handoff.id


async def _events(database, ticket_id: int) -> list[TicketEvent]:
    async with database.session() as session:
        return list(await session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                          .order_by(TicketEvent.seq)))


async def _ticket(database, ticket_id: int) -> Ticket:
    async with database.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def test_a_handoff_without_a_number_joins_the_conversations_open_complaint(database, services) -> None:
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    handoff_id = await _hand_off(database, conv)  # "sambungkan ke agen" after the complaint: no number given
    handoff = await get_handoff(database, handoff_id)
    assert handoff.ticket_id == ticket.id and handoff.category == "payment"


async def test_a_number_typed_loosely_still_links_the_ticket(database, services) -> None:
    conv = await _conversation(database)
    other = await _conversation(database, "inapp")
    ticket = await _file(database, services, other)
    loose = ticket.number.lower().replace("-", " ")
    handoff = await get_handoff(database, await _hand_off(database, conv, loose))
    assert handoff.ticket_id == ticket.id and handoff.summary["ticket_number"] == ticket.number


async def test_console_work_moves_the_ticket_of_the_case(client, sign_in, database, services) -> None:
    ani = await sign_in("ani")
    sari = await sign_in("sari", "specialist")
    conv = await _conversation(database)
    handoff_id = await _hand_off(database, conv)
    # The complaint reaches the desk after the handoff was written (as the one-statement fast path
    # writes it, without a number): the case still finds its ticket.
    ticket = await _file(database, services, conv)
    public_id = conv.public_id
    async with database.transaction() as session:
        from handoff.models import CannedResponse
        session.add(CannedResponse(title="Tiket", body="Tiket Anda {nomor_tiket} sedang kami proses, {nama}.",
                                   approved=True))
    async with database.session() as session:
        canned_id = await session.scalar(select(CannedResponse.id))

    assert (await client.post(f"/console/c/{public_id}/pickup", ani, headers=FETCH)).status == 200
    assert (await get_handoff(database, handoff_id)).ticket_id == ticket.id
    assert (await _ticket(database, ticket.id)).assignee_id == ani.id

    r = await client.post(f"/console/c/{public_id}/reply", ani, {"canned_id": str(canned_id)}, headers=FETCH)
    assert r.status == 200, r.text
    async with database.session() as session:
        sent = await session.scalar(select(Message.text).where(Message.conversation_id == conv.id,
                                                               Message.author == "agent"))
    assert sent == f"Tiket Anda {ticket.number} sedang kami proses, Budi Santoso."
    answered = await _ticket(database, ticket.id)
    assert answered.first_responded_at is not None
    # The first-response clock stopped: no overdue alert once its deadline passes.
    report = await tick(database, services.tickets, answered.first_response_due + timedelta(minutes=1))
    assert "first_response_overdue" not in report.raised
    async with database.session() as session:
        kinds = set(await session.scalars(select(TicketAlert.kind).where(TicketAlert.ticket_id == ticket.id)))
    assert "first_response_overdue" not in kinds

    # Agents escalate to specialists, not to departments (the staff API's rule).
    refused = await client.post(f"/console/c/{public_id}/transfer", ani, {"to": "finance"}, headers=FETCH)
    assert refused.status == 403
    assert (await get_handoff(database, handoff_id)).department is None
    assert (await client.post(f"/console/c/{public_id}/transfer", ani, {"to": str(sari.id)},
                              headers=FETCH)).status == 200
    assert (await _ticket(database, ticket.id)).assignee_id == sari.id
    r = await client.post(f"/console/c/{public_id}/transfer", sari, {"to": "finance"}, headers=FETCH)
    assert r.status == 200, r.text
    moved = await _ticket(database, ticket.id)
    assert (moved.status, moved.escalation_level, moved.department) == ("escalated", "department", "finance")
    assert (await get_handoff(database, handoff_id)).department == "finance"

    assert (await client.post(f"/console/c/{public_id}/close", sari, {"summary": "Diteruskan ke keuangan."},
                              headers=FETCH)).status == 200
    events = await _events(database, ticket.id)
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["created", "receipt_issued"]
    assert kinds[2:] == ["assigned", "first_response", "assigned", "escalated", "status_changed",
                         "conversation_closed"]
    assert events[3].actor == f"user:{ani.id}"
    assert events[5].data["department"] == "finance"
    assert (await _ticket(database, ticket.id)).status == "escalated"  # closing the chat does not settle it


async def test_a_refused_ticket_change_leaves_the_conversation_as_it_was(client, sign_in, database, services
                                                                          ) -> None:
    sari = await sign_in("sari", "specialist")
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    handoff_id = await _hand_off(database, conv, ticket.number)
    assert (await client.post(f"/console/c/{conv.public_id}/pickup", sari, headers=FETCH)).status == 200
    async with database.transaction() as session:
        t = await session.get(Ticket, ticket.id)
        t.status = "rejected"
    r = await client.post(f"/console/c/{conv.public_id}/transfer", sari, {"to": "legal"}, headers=FETCH)
    assert r.status == 409
    assert (await get_handoff(database, handoff_id)).department is None  # all or nothing


async def test_an_agent_opens_a_ticket_from_the_chat(client, sign_in, database, services) -> None:
    ani = await sign_in("ani")
    conv = await _conversation(database)
    handoff_id = await _hand_off(database, conv)
    public_id = conv.public_id
    assert (await client.post(f"/console/c/{public_id}/pickup", ani, headers=FETCH)).status == 200
    page = await client.get(f"/console/c/{public_id}", ani)
    assert 'data-testid="open-ticket"' in page.text
    r = await client.post(f"/console/c/{public_id}/ticket", ani,
                          {"category": "payment", "chronology": "Sudah bayar 10 Nov, belum lunas."}, headers=FETCH)
    assert r.status == 200, r.text
    handoff = await get_handoff(database, handoff_id)
    ticket = await _ticket(database, handoff.ticket_id)
    assert ticket.status == "received" and ticket.channel == "whatsapp" and ticket.assignee_id == ani.id
    assert ticket.clear_phone() == "+6281234567890" and ticket.chronology == "Sudah bayar 10 Nov, belum lunas."
    assert ticket.first_responded_at is None  # the receipt is the desk's acknowledgement, not an answer
    async with database.session() as session:
        texts = list(await session.scalars(select(Message.text).where(Message.conversation_id == conv.id,
                                                                      Message.direction == "out")))
    assert any(ticket.number in text for text in texts)
    again = await client.post(f"/console/c/{public_id}/ticket", ani, {"category": "payment", "chronology": "x"},
                              headers=FETCH)
    assert again.status == 409
    panel = await client.get(f"/console/c/{public_id}", ani)
    assert ticket.number in panel.text and 'data-testid="open-ticket"' not in panel.text
