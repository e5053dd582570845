"""Ticket use cases: numbers, history, the rules every change must follow."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from storage.models import Message, OutboxItem
from tests.tickets.conftest import NOW, complaint
from tickets import service
from tickets.calendar import WIB
from tickets.errors import ExtensionNotAllowed, ForbiddenTransition, InvalidRequest, TicketNotFound
from tickets.models import Ticket, TicketEvent
from tickets.numbers import InvalidTicketNumber, check_digit, format_number, parse_number
from tickets.service import Actor, NewTicket, Outcome

AGENT = Actor.staff(1)


async def create(database, ctx, conv, key="k1", **over) -> Ticket:
    result = await service.create_ticket(database, ctx, NewTicket.model_validate(complaint(conv.public_id, **over)),
                                         key)
    return result.ticket


async def change(database, number, fn, *args):
    async with database.transaction() as s:
        t = await service.get_ticket(s, number, for_update=True)
        await fn(s, t, *args)
        return t


async def history(database, ticket) -> list[TicketEvent]:
    async with database.session() as s:
        return list(await s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                    .order_by(TicketEvent.seq)))


# --- numbers ------------------------------------------------------------------------------

def test_number_format_and_check_digit() -> None:
    number = format_number("DCI", NOW.date(), 42)
    assert number == f"DCI-261119-0042-{check_digit('2611190042')}"
    assert parse_number(number.lower().replace("-", " ")) == number
    assert parse_number(number.replace("0", "O")) == number  # letter O typed for zero


@pytest.mark.parametrize("typo", ["swap", "digit"])
def test_number_typos_are_caught(typo) -> None:
    number = format_number("DCI", NOW.date(), 1234)
    digits = number.replace("-", "")[3:]
    if typo == "swap":  # swap two neighbouring digits that differ
        i = next(i for i in range(len(digits) - 2) if digits[i] != digits[i + 1])
        wrong = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:]
    else:
        wrong = digits[:5] + str((int(digits[5]) + 1) % 10) + digits[6:]
    with pytest.raises(InvalidTicketNumber):
        parse_number("DCI" + wrong)


async def test_create_sets_number_clocks_history_and_links_conversation(database, ticket_ctx,
                                                                        wa_conversation) -> None:
    t = await create(database, ticket_ctx, wa_conversation)
    assert t.number == format_number("DCI", NOW.date(), 1)
    assert t.clear_phone() == "+6281234567890"
    # Thu 19 Nov 2026 10:00: first response Fri 20 (1), Mon 23 (2); written: 20 working days, no holidays
    # in between: Nov 20 (1), 23-27 (2-6), 30 (7), Dec 1-4 (8-11), 7-11 (12-16), 14-17 (17-20).
    assert t.first_response_due == datetime(2026, 11, 23, 23, 59, 59, tzinfo=WIB)
    assert t.resolution_due == datetime(2026, 12, 17, 23, 59, 59, tzinfo=WIB)
    events = await history(database, t)
    assert [e.kind for e in events] == ["created", "receipt_issued"]
    assert [e.seq for e in events] == [1, 2]
    async with database.session() as s:
        assert [c.public_id for c in await service.conversations_of(s, t)] == [wa_conversation.public_id]


async def test_same_idempotency_key_gives_the_same_ticket(database, ticket_ctx, wa_conversation) -> None:
    first = await create(database, ticket_ctx, wa_conversation, key="same")
    again = await service.create_ticket(database, ticket_ctx,
                                        NewTicket.model_validate(complaint(wa_conversation.public_id)), "same")
    assert again.created is False and again.ticket.number == first.number
    other = await create(database, ticket_ctx, wa_conversation, key="other")
    assert other.number == format_number("DCI", NOW.date(), 2)  # the replay used no number


@pytest.mark.parametrize("category", ["fraud", "unethical_collection"])
async def test_fraud_and_collector_threats_are_never_below_high(database, ticket_ctx, wa_conversation,
                                                                category) -> None:
    t = await create(database, ticket_ctx, wa_conversation, category=category, priority="low")
    assert t.priority == "high"
    with pytest.raises(InvalidRequest, match="never below high"):
        await change(database, t.number, service.change_priority, "medium", AGENT)
    await change(database, t.number, service.change_priority, "urgent", AGENT)


async def test_collection_threat_reason_raises_priority(database, ticket_ctx, wa_conversation) -> None:
    t = await create(database, ticket_ctx, wa_conversation, category="other", priority="low",
                     reason="collection_threat")
    assert t.priority == "high"


def test_complaint_needs_the_required_fields() -> None:
    with pytest.raises(ValueError, match="phone number or an e-mail"):
        NewTicket.model_validate(complaint("c", phone=None, email=None))
    with pytest.raises(ValueError, match="valid Indonesian number"):
        NewTicket.model_validate(complaint("c", phone="12"))
    with pytest.raises(ValueError):
        NewTicket.model_validate(complaint("c", category="weather"))


# --- forbidden changes -----------------------------------------------------------------------

@pytest.fixture
async def ticket(database, ticket_ctx, wa_conversation) -> Ticket:
    return await create(database, ticket_ctx, wa_conversation)


async def test_resolving_a_rejected_ticket_is_refused(database, ticket_ctx, ticket) -> None:
    await change(database, ticket.number, lambda s, t: service.reject(s, ticket_ctx, t, "not_our_product",
                                                                      None, AGENT, closure=service.Closure(cause="kesalahan_sistem")))
    with pytest.raises(ForbiddenTransition, match="cannot resolve .* it is rejected"):
        await change(database, ticket.number, lambda s, t: service.resolve(
            s, ticket_ctx, t, Outcome(kind="explanation", explanation="x"), AGENT, closure=service.Closure(cause="kesalahan_sistem")))


async def test_rejecting_without_a_ground_is_refused(database, ticket_ctx, ticket) -> None:
    for ground in (None, "we_do_not_like_it"):
        with pytest.raises(InvalidRequest, match="one of the grounds"):
            await change(database, ticket.number, lambda s, t: service.reject(s, ticket_ctx, t, ground, None,
                                                                              AGENT, closure=service.Closure(cause="kesalahan_sistem")))
    async with database.session() as s:
        assert (await service.get_ticket(s, ticket.number)).status == "received"


async def test_rejection_is_sent_to_the_borrower_with_the_reason(database, ticket_ctx, ticket) -> None:
    await change(database, ticket.number, lambda s, t: service.reject(
        s, ticket_ctx, t, "documents_not_supplied", "Bukti transfer belum dikirim.", AGENT, closure=service.Closure(cause="kesalahan_sistem")))
    async with database.session() as s:
        msg = await s.scalar(select(Message).order_by(Message.id.desc()))
        assert await s.scalar(select(func.count()).select_from(OutboxItem)) == 1
    assert ticket.number in msg.text
    assert "dokumen pendukung" in msg.text and "Bukti transfer belum dikirim." in msg.text
    assert "LAPS SJK" in msg.text


async def test_a_second_extension_is_refused(database, ticket_ctx, ticket) -> None:
    t = await change(database, ticket.number, lambda s, t: service.extend(s, ticket_ctx, t, "perlu konfirmasi bank",
                                                                          AGENT))
    # Written, from Thu 17 Dec 2026 + 20 working days: Dec 18 (1), 21-23 (2-4), [24 cb, 25],
    # 28-31 (5-8), [Jan 1], Jan 4 (9), [5 Isra Mi'raj], 6-8 (10-12), 11-15 (13-17), 18-20 (18-20).
    assert t.resolution_due == datetime(2027, 1, 20, 23, 59, 59, tzinfo=WIB)
    with pytest.raises(ExtensionNotAllowed, match="already extended 1 time"):
        await change(database, ticket.number, lambda s, t: service.extend(s, ticket_ctx, t, "lagi", AGENT))


async def test_escalating_a_closed_ticket_is_refused(database, ticket_ctx, ticket) -> None:
    await change(database, ticket.number, lambda s, t: service.resolve(
        s, ticket_ctx, t, Outcome(kind="explanation", explanation="Dana sudah masuk."), AGENT, closure=service.Closure(cause="kesalahan_sistem")))
    with pytest.raises(ForbiddenTransition, match="cannot escalate .* it is resolved"):
        await change(database, ticket.number, service.escalate, "specialist", None, None, AGENT)
    with pytest.raises(ForbiddenTransition):
        await change(database, ticket.number, lambda s, t: service.extend(s, ticket_ctx, t, "x", AGENT))
    with pytest.raises(ForbiddenTransition):
        await change(database, ticket.number, service.assign, None, AGENT)


async def test_escalation_only_goes_up_and_feedback_comes_back(database, ticket_ctx, ticket) -> None:
    await change(database, ticket.number, service.escalate, "specialist", None, "cek mutasi", AGENT)
    with pytest.raises(ForbiddenTransition, match="escalation only goes up"):
        await change(database, ticket.number, service.escalate, "specialist", None, None, AGENT)
    with pytest.raises(InvalidRequest, match="names one of"):
        await change(database, ticket.number, service.escalate, "department", "marketing", None, AGENT)
    await change(database, ticket.number, service.escalate, "department", "finance", None, AGENT)
    await change(database, ticket.number, service.escalate, "department", "it", None, AGENT)  # re-routed
    t = await change(database, ticket.number, service.feedback, "Dana sudah dikembalikan", AGENT)
    assert (t.status, t.escalation_level) == ("in_progress", "agent")
    with pytest.raises(ForbiddenTransition, match="not escalated"):
        await change(database, ticket.number, service.feedback, "again", AGENT)
    kinds = [e.kind for e in await history(database, ticket)]
    assert kinds.count("escalated") == 3 and "feedback" in kinds


async def test_starting_twice_is_refused(database, ticket) -> None:
    await change(database, ticket.number, service.start_work, AGENT)
    with pytest.raises(ForbiddenTransition, match="cannot start"):
        await change(database, ticket.number, service.start_work, AGENT)


async def test_refused_settlement_reopens_and_points_to_laps(database, ticket_ctx, ticket) -> None:
    with pytest.raises(ForbiddenTransition, match="no settlement"):
        await change(database, ticket.number, lambda s, t: service.settlement_answer(s, ticket_ctx, t, False, None,
                                                                                     AGENT))
    offer = Outcome(kind="offer", apology="", service_fix="Sistem pembayaran diperbaiki",
                    compensation_amount="150000")
    t = await change(database, ticket.number, lambda s, t: service.resolve(s, ticket_ctx, t, offer, AGENT,
                                                                                 closure=service.Closure(cause="kesalahan_sistem")))
    assert t.status == "resolved" and t.outcome["compensation_amount"] == "150000"
    t = await change(database, ticket.number, lambda s, t: service.settlement_answer(
        s, ticket_ctx, t, False, "kurang", AGENT))
    assert (t.status, t.reopen_count, t.closed_at) == ("in_progress", 1, None)
    async with database.session() as s:
        last = await s.scalar(select(Message).order_by(Message.id.desc()))
    assert "LAPS SJK" in last.text and "pengadilan" in last.text


def test_outcome_needs_content() -> None:
    with pytest.raises(ValueError, match="explanation text"):
        Outcome(kind="explanation")
    with pytest.raises(ValueError, match="apology, a service fix"):
        Outcome(kind="offer")
    with pytest.raises(ValueError):
        Outcome(kind="offer", compensation_amount="-5")


async def test_unknown_or_mistyped_number_is_not_found(database, ticket) -> None:
    async with database.session() as s:
        with pytest.raises(TicketNotFound):
            await service.get_ticket(s, format_number("DCI", NOW.date(), 999))
        with pytest.raises(TicketNotFound):
            await service.get_ticket(s, "DCI-261119-0001-0" if not ticket.number.endswith("0")
                                     else "DCI-261119-0001-1")


async def test_history_has_no_gaps(database, ticket_ctx, ticket) -> None:
    await change(database, ticket.number, service.start_work, AGENT)
    await change(database, ticket.number, service.add_note, "telepon nasabah", AGENT)
    await change(database, ticket.number, lambda s, t: service.message_borrower(s, t, "Halo Kak", AGENT,
                                                                                ctx=ticket_ctx))
    events = await history(database, ticket)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].data.get("first_response") is True
    assert {e.actor for e in events[2:]} == {"user:1"}


async def test_every_ticket_message_names_the_template_it_needs_outside_the_whatsapp_window(
        database, ticket_ctx, ticket) -> None:
    await change(database, ticket.number, lambda s, t: service.extend(s, ticket_ctx, t, "perlu konfirmasi bank",
                                                                      AGENT))
    await change(database, ticket.number, lambda s, t: service.reject(
        s, ticket_ctx, t, "documents_not_supplied", "Bukti transfer belum dikirim.", AGENT,
        closure=service.Closure(cause="kesalahan_sistem")))
    async with database.session() as s:
        sent = list(await s.scalars(select(Message).join(OutboxItem, OutboxItem.message_id == Message.id)
                                    .order_by(Message.id)))
    templates = [(m.payload["template"]["key"], m.payload["template"]["variables"]) for m in sent]
    assert [key for key, _ in templates] == ["extension_notice", "rejection"]
    for (_, variables), message in zip(templates, sent):
        assert variables == {"ticket_number": ticket.number, "summary": message.text}
