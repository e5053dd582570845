"""The scheduler raises each due thing once: alerts, status updates, reminders, LAPS SJK notices."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from storage.models import Message
from tests.tickets.conftest import complaint
from tickets import service
from tickets.calendar import WIB
from tickets.models import TicketAlert, TicketEvent
from tickets.scheduler import tick
from tickets.service import Actor, NewTicket
from tickets.sla import load_policy

AGENT = Actor.staff(1)


async def new_ticket(database, ctx, conv, key="k"):
    return (await service.create_ticket(database, ctx, NewTicket.model_validate(complaint(conv.public_id)),
                                        key)).ticket


async def count(database, model) -> int:
    async with database.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def test_first_response_alerts_once_then_overdue(database, ticket_ctx, wa_conversation, staff,
                                                       event_bus) -> None:
    t = await new_ticket(database, ticket_ctx, wa_conversation)
    async with database.transaction() as s:
        await service.assign(s, await service.get_ticket(s, t.number), staff["agent"].id, AGENT)
    # Received Thu 19 Nov; first response due Mon 23 Nov 23:59:59 WIB, alert from Fri 20 Nov 00:00.
    assert (await tick(database, ticket_ctx, datetime(2026, 11, 19, 23, tzinfo=WIB))).total == 0
    async with event_bus.subscribe("alerts") as events:
        report = await tick(database, ticket_ctx, datetime(2026, 11, 20, 9, tzinfo=WIB))
        assert report.raised == {"first_response_due_soon": 1}
        published = await events.__anext__()
    assert published["ticket_number"] == t.number
    assert published["recipients"] == {"user_ids": [staff["agent"].id], "roles": ["supervisor"]}
    again = await tick(database, ticket_ctx, datetime(2026, 11, 20, 9, 1, tzinfo=WIB))
    assert again.total == 0
    report = await tick(database, ticket_ctx, datetime(2026, 11, 24, 0, 0, tzinfo=WIB))
    assert report.raised == {"first_response_overdue": 1}
    assert (await tick(database, ticket_ctx, datetime(2026, 11, 24, 0, 1, tzinfo=WIB))).total == 0


async def test_status_update_every_five_working_days(database, ticket_ctx, wa_conversation) -> None:
    t = await new_ticket(database, ticket_ctx, wa_conversation)
    async with database.transaction() as s:
        ticket = await service.get_ticket(s, t.number)
        await service.start_work(s, ticket, AGENT)
        await service.message_borrower(s, ticket, "Kami cek ya Kak", AGENT, ctx=ticket_ctx)  # Thu 19 Nov
    before = await count(database, Message)
    # 5 working days after Thu 19 Nov: Nov 20, 23, 24, 25, 26 -> due Thu 26 Nov 23:59:59 WIB.
    assert "status_update" not in (await tick(database, ticket_ctx, datetime(2026, 11, 26, 23, tzinfo=WIB))).raised
    ticket_ctx.now = lambda: datetime(2026, 11, 27, 8, tzinfo=WIB)  # type: ignore[method-assign]
    report = await tick(database, ticket_ctx)
    assert report.raised.get("status_update") == 1
    assert (await tick(database, ticket_ctx)).raised.get("status_update") is None
    assert await count(database, Message) == before + 1
    async with database.session() as s:
        msg = await s.scalar(select(Message).order_by(Message.id.desc()))
    assert t.number in msg.text and "masih kami proses" in msg.text
    # The next one counts from Fri 27 Nov: Nov 30, Dec 1-4 -> due Fri 4 Dec.
    assert (await tick(database, ticket_ctx, datetime(2026, 12, 4, 12, tzinfo=WIB))).raised.get("status_update") is None
    assert (await tick(database, ticket_ctx, datetime(2026, 12, 5, 0, 0, tzinfo=WIB))).raised.get("status_update") == 1


async def test_department_gets_reminders(database, ticket_ctx, wa_conversation) -> None:
    t = await new_ticket(database, ticket_ctx, wa_conversation)
    async with database.transaction() as s:
        await service.escalate(s, await service.get_ticket(s, t.number), "department", "legal", None, AGENT)
    async with database.transaction() as s:  # escalated on Thu 19 Nov 10:00 WIB (events use the wall clock)
        event = await s.scalar(select(TicketEvent).where(TicketEvent.kind == "escalated"))
        event.created_at = datetime(2026, 11, 19, 10, tzinfo=WIB)
    # Every 2 working days: Fri 20 (1), Mon 23 (2) -> due Mon 23 Nov 23:59:59 WIB.
    assert (await tick(database, ticket_ctx, datetime(2026, 11, 23, 23, tzinfo=WIB))).raised.get(
        "department_reminder") is None
    ticket_ctx.now = lambda: datetime(2026, 11, 24, 0, 30, tzinfo=WIB)  # type: ignore[method-assign]
    report = await tick(database, ticket_ctx)
    assert report.raised.get("department_reminder") == 1
    assert (await tick(database, ticket_ctx)).raised.get("department_reminder") is None
    async with database.session() as s:
        alert = await s.scalar(select(TicketAlert).where(TicketAlert.kind == "department_reminder"))
    assert "department:legal" in alert.recipients["roles"]


async def test_laps_notice_after_final_deadline_under_pojk_22(database, ticket_ctx, wa_conversation) -> None:
    ticket_ctx.policy = load_policy("pojk-22-2023")
    t = await new_ticket(database, ticket_ctx, wa_conversation)
    async with database.transaction() as s:
        await service.extend(s, ticket_ctx, await service.get_ticket(s, t.number), "menunggu bank", AGENT)
    async with database.session() as s:
        t = await service.get_ticket(s, t.number)
    # Extended due date + 1 second: the borrower is pointed to LAPS SJK, once.
    after = t.resolution_due.replace(microsecond=0)
    from datetime import timedelta
    report = await tick(database, ticket_ctx, after + timedelta(seconds=1))
    assert report.raised.get("laps_notice") == 1
    assert (await tick(database, ticket_ctx, after + timedelta(hours=1))).raised.get("laps_notice") is None
    async with database.session() as s:
        msg = await s.scalar(select(Message).order_by(Message.id.desc()))
    assert "LAPS SJK" in msg.text


async def test_closed_tickets_raise_nothing(database, ticket_ctx, wa_conversation) -> None:
    t = await new_ticket(database, ticket_ctx, wa_conversation)
    async with database.transaction() as s:
        await service.reject(s, ticket_ctx, await service.get_ticket(s, t.number), "not_our_product", None, AGENT,
                             closure=service.Closure(cause="kesalahan_sistem"))
    assert (await tick(database, ticket_ctx, datetime(2027, 6, 1, tzinfo=WIB))).total == 0
