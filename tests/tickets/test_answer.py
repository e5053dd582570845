"""The borrower's answer to a resolution counts: accept, dispute (reopen or escalate per lender), next step."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select, update

from handoff.models import Handoff
from storage.base import utcnow
from desk.store import append_message
from storage.models import Conversation, OutboxItem
from tests.tickets.conftest import BOT_AUTH, make_conversation
from tests.tickets.test_scheduler import AGENT, new_ticket
from tickets import service
from tickets.models import TicketEvent
from tickets.lender import DisputePolicy


async def _closed(database, ctx, conv, *, reject: bool = False):  # type: ignore[no-untyped-def]
    t = await new_ticket(database, ctx, conv, key=uuid.uuid4().hex)
    async with database.transaction() as s:
        ticket = await service.get_ticket(s, t.number)
        if reject:
            await service.reject(s, ctx, ticket, "not_our_product", None, AGENT,
                                 closure=service.Closure(cause="kesalahan_sistem"))
        else:
            await service.resolve(s, ctx, ticket, service.Outcome(kind="explanation",
                                                                  explanation="Dana sudah kembali."), AGENT,
                                  closure=service.Closure(cause="kesalahan_sistem"))
    return t


async def _answer(app, conv, answer: str, **extra):  # type: ignore[no-untyped-def]
    _, res = await app.asgi_client.post("/api/v1/tickets/answer", headers=BOT_AUTH,
                                        json={"conversation_id": conv.public_id, "answer": answer, **extra})
    return res


async def _kinds(database, ticket_id: int) -> list[str]:
    async with database.session() as s:
        return list(await s.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id)
                                    .order_by(TicketEvent.seq)))


async def _outbox(database) -> int:
    async with database.session() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxItem)))


async def test_a_dispute_reopens_the_ticket_and_names_the_next_step(app, database, ticket_ctx,
                                                                   wa_conversation) -> None:
    t = await _closed(database, ticket_ctx, wa_conversation)
    queued = await _outbox(database)
    res = await _answer(app, wa_conversation, "dispute", text="saya tidak setuju, dana belum masuk")
    assert res.status == 200, res.text
    assert res.json["outcome"] == "reopened" and res.json["status"] == "in_progress"
    assert "kami buka kembali" in res.json["reply_text"] and "LAPS SJK" in res.json["reply_text"]
    assert "kontak157.ojk.go.id" in res.json["reply_text"]  # from the lender file
    assert (await _kinds(database, t.id))[-2:] == ["settlement_refused", "status_changed"]
    assert await _outbox(database) == queued  # the bot sends the reply; nothing twice
    async with database.session() as s:
        ticket = await service.get_ticket(s, t.number)
    assert ticket.reopen_count == 1 and ticket.closed_at is None


async def test_a_lender_that_escalates_disputes_sends_the_ticket_up(app, database, ticket_ctx,
                                                                    wa_conversation) -> None:
    ticket_ctx.lender = ticket_ctx.lender.model_copy(update={"disputes": DisputePolicy(on_dispute="escalate")})
    t = await _closed(database, ticket_ctx, wa_conversation)
    res = await _answer(app, wa_conversation, "dispute", ticket_number=t.number.lower())
    assert res.status == 200 and res.json["outcome"] == "escalated" and res.json["status"] == "escalated"
    assert (await _kinds(database, t.id))[-4:] == ["settlement_refused", "status_changed", "escalated",
                                                   "status_changed"]


async def test_accepting_and_disputing_a_rejection_are_recorded(app, database, ticket_ctx, wa_conversation) -> None:
    t = await _closed(database, ticket_ctx, wa_conversation)
    res = await _answer(app, wa_conversation, "accept")
    assert res.json["outcome"] == "accepted" and res.json["status"] == "resolved"
    assert (await _kinds(database, t.id))[-1] == "settlement_accepted"
    # A later complaint of the same borrower was rejected: without a number the newest closed one is answered.
    other = wa_conversation
    rejected = await _closed(database, ticket_ctx, other, reject=True)
    res = await _answer(app, other, "dispute")
    assert res.json["outcome"] == "rejection_disputed" and res.json["status"] == "rejected"
    assert "LAPS SJK" in res.json["reply_text"]
    res = await _answer(app, other, "next_step")
    assert res.json["outcome"] == "next_step" and "LAPS SJK" in res.json["reply_text"]
    assert (await _kinds(database, rejected.id))[-2:] == ["rejection_disputed", "next_step_requested"]


async def test_answers_are_checked(app, database, ticket_ctx, wa_conversation) -> None:
    assert (await _answer(app, wa_conversation, "accept")).status == 404  # nothing resolved yet
    await _closed(database, ticket_ctx, wa_conversation)
    assert (await _answer(app, wa_conversation, "maybe")).status == 422
    stranger = await make_conversation(database, "telegram")
    t = await _closed(database, ticket_ctx, wa_conversation)
    res = await _answer(app, stranger, "dispute", ticket_number=t.number)
    assert res.status == 403
    _, res = await app.asgi_client.post("/api/v1/tickets/answer", json={"conversation_id": "x", "answer": "accept"})
    assert res.status == 401


async def test_only_an_unanswered_notice_is_pending(app, database, ticket_ctx, wa_conversation) -> None:
    """Once the borrower accepted, a later "tidak setuju" finds no pending notice (404) and reopens nothing."""
    t = await _closed(database, ticket_ctx, wa_conversation)
    res = await _answer(app, wa_conversation, "accept")
    assert res.status == 200 and res.json["outcome"] == "accepted"
    assert res.json["rating_open"] is False  # no chat with a person to rate in this case
    res = await _answer(app, wa_conversation, "dispute", text="saya tidak setuju")
    assert res.status == 404, res.text
    async with database.session() as s:
        assert (await service.get_ticket(s, t.number)).status == "resolved"
    # A disputed rejection is answered too; a new resolution of a reopened ticket is pending again.
    rejected = await _closed(database, ticket_ctx, wa_conversation, reject=True)
    assert (await _answer(app, wa_conversation, "next_step")).json["ticket_number"] == rejected.number
    assert (await _answer(app, wa_conversation, "dispute")).json["outcome"] == "rejection_disputed"
    assert (await _answer(app, wa_conversation, "dispute")).status == 404
    again = await _closed(database, ticket_ctx, wa_conversation)
    assert (await _answer(app, wa_conversation, "dispute")).json["outcome"] == "reopened"
    async with database.transaction() as s:
        ticket = await service.get_ticket(s, again.number)
        await service.resolve(s, ticket_ctx, ticket, service.Outcome(kind="explanation", explanation="Sudah."),
                              AGENT, closure=service.Closure(cause="kesalahan_sistem"))
    res = await _answer(app, wa_conversation, "accept")
    assert res.json["ticket_number"] == again.number and res.json["outcome"] == "accepted"


async def test_accepting_asks_for_a_rating_only_when_a_closed_chat_is_unrated(app, database, ticket_ctx,
                                                                             wa_conversation) -> None:
    await _closed(database, ticket_ctx, wa_conversation)
    async with database.transaction() as s:
        s.add(Handoff(conversation_id=wa_conversation.id, status="closed", reason="complaint",
                      priority="medium", closed_at=utcnow()))
    res = await _answer(app, wa_conversation, "accept")
    assert res.json["outcome"] == "accepted" and res.json["rating_open"] is True
    async with database.transaction() as s:
        await s.execute(update(Handoff).where(Handoff.conversation_id == wa_conversation.id).values(rating=4))
    await _closed(database, ticket_ctx, wa_conversation)
    assert (await _answer(app, wa_conversation, "accept")).json["rating_open"] is False  # already rated


async def test_a_bare_yes_or_no_answers_the_notice_only_while_it_was_the_last_thing_said(
        app, database, ticket_ctx, wa_conversation) -> None:
    t = await _closed(database, ticket_ctx, wa_conversation)
    async with database.transaction() as s:
        conv = await s.get(Conversation, wa_conversation.id)
        await append_message(s, conv, direction="out", author="bot", text="Ada lagi yang bisa saya bantu?")
    res = await _answer(app, wa_conversation, "dispute", text="tidak", only_if_last=True)
    assert res.status == 404  # "tidak" answered the bot's question, not the resolution
    async with database.session() as s:
        assert (await service.get_ticket(s, t.number)).status == "resolved"
    again = await _closed(database, ticket_ctx, wa_conversation)  # its notice is now the last message
    res = await _answer(app, wa_conversation, "dispute", text="tidak", only_if_last=True)
    assert res.status == 200 and res.json["ticket_number"] == again.number
