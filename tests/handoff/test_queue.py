"""Queue order, pick-up races, round-robin under capacity, out-of-hours notice."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from desk.auth import StaffUser
from handoff import hours, queue
from handoff.models import Handoff, HandoffStatus, User
from storage.base import utcnow
from storage.models import Message, OutboxItem
from tests.handoff.conftest import get_handoff
from tickets.models import Ticket


async def _ticket(database, number: str, first_response_due) -> None:
    async with database.transaction() as session:
        session.add(Ticket(number=number, category="payment", channel="inapp", full_name="Budi Santoso",
                           product="pinjaman_tunai", chronology="x", first_response_due=first_response_due,
                           resolution_due=first_response_due + timedelta(days=20)))


async def test_queue_orders_by_priority_then_sla_then_wait(database, handed_off) -> None:
    now = utcnow()
    await _ticket(database, "DCI-1", now + timedelta(hours=30))
    await _ticket(database, "DCI-2", now + timedelta(hours=2))
    low, _ = await handed_off(priority="low")
    medium_old, _ = await handed_off(priority="medium")
    medium_late_sla, _ = await handed_off(priority="medium", ticket_number="DCI-1")
    medium_soon_sla, _ = await handed_off(priority="medium", ticket_number="DCI-2")
    urgent, _ = await handed_off(priority="urgent")
    medium_new, _ = await handed_off(priority="medium")
    async with database.session() as session:
        entries = await queue.waiting(session)
    assert [e.public_id for e in entries] == [urgent, medium_soon_sla, medium_late_sla, medium_old, medium_new, low]
    assert entries[1].sla_due is not None and entries[1].ticket_number == "DCI-2"


async def test_fraud_and_collection_threats_are_never_below_high(database, handed_off) -> None:
    _, fraud = await handed_off(priority="low", category="fraud")
    _, threat = await handed_off(priority="medium", category=None, reason="collection_threat")
    assert (await get_handoff(database, fraud)).priority == "high"
    assert (await get_handoff(database, threat)).priority == "high"


async def test_a_second_handoff_of_a_queued_conversation_reuses_it(database, handed_off) -> None:
    public_id, first = await handed_off(sender="same", priority="low")
    _, second = await handed_off(sender="same", priority="urgent")
    assert first == second
    assert (await get_handoff(database, first)).priority == "urgent"


async def test_concurrent_pick_up_has_exactly_one_winner(database, handed_off, make_user) -> None:
    _, handoff_id = await handed_off()
    agents = [StaffUser(await make_user(f"agent{i}"), f"agent{i}", f"Agent{i}", "agent") for i in range(8)]

    async def grab(agent: StaffUser) -> int | None:
        try:
            async with database.transaction() as session:
                await queue.pick_up(session, agent, handoff_id)
            return agent.id
        except queue.PickUpRefused:
            return None

    results = await asyncio.gather(*(grab(a) for a in agents))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    handoff = await get_handoff(database, handoff_id)
    assert handoff.status == HandoffStatus.ASSIGNED.value and handoff.assigned_to == winners[0]


async def test_pick_up_refuses_a_taken_conversation(database, handed_off, make_user) -> None:
    _, handoff_id = await handed_off()
    a = StaffUser(await make_user("a"), "a", "A", "agent")
    b = StaffUser(await make_user("b"), "b", "B", "agent")
    async with database.transaction() as session:
        await queue.pick_up(session, a, handoff_id)
    try:
        async with database.transaction() as session:
            await queue.pick_up(session, b, handoff_id)
    except queue.PickUpRefused:
        pass
    else:
        raise AssertionError("a second agent took an assigned conversation")


async def test_round_robin_respects_capacity_and_availability(database, handed_off, make_user) -> None:
    a = await make_user("a", available=True, capacity=2)
    b = await make_user("b", available=True, capacity=1)
    await make_user("away", available=False, capacity=10)
    for _ in range(5):
        await handed_off()
    assigned = await queue.auto_assign(database)
    assert len(assigned) == 3
    who = [user_id for _, user_id in assigned]
    assert who[:2] in ([a, b], [b, a])  # alternates: each gets one before anyone gets a second
    assert who.count(a) == 2 and who.count(b) == 1
    async with database.session() as session:
        waiting = await session.scalar(select(func.count()).select_from(Handoff)
                                       .where(Handoff.status == "waiting"))
        assert waiting == 2
        assert await queue.agent_load(session, a) == 2
    # Nothing more until someone frees a slot.
    assert await queue.auto_assign(database) == []


async def test_round_robin_under_concurrency_never_exceeds_capacity(database, handed_off, make_user) -> None:
    ids = [await make_user(f"ag{i}", available=True, capacity=3) for i in range(3)]
    for _ in range(15):
        await handed_off()
    results = await asyncio.gather(*(queue.auto_assign(database) for _ in range(4)))
    assert sum(len(r) for r in results) == 9
    async with database.session() as session:
        for user_id in ids:
            assert await queue.agent_load(session, user_id) == 3
        taken = await session.scalar(select(func.count(func.distinct(Handoff.id)))
                                     .where(Handoff.status == "assigned"))
        assert taken == 9


async def test_specialist_queue_is_for_specialists(database, handed_off, make_user) -> None:
    _, handoff_id = await handed_off()
    async with database.transaction() as session:
        await session.execute(update(Handoff).where(Handoff.id == handoff_id).values(queue_role="specialist"))
    agent = StaffUser(await make_user("a"), "a", "A", "agent")
    spec = StaffUser(await make_user("s", "specialist"), "s", "S", "specialist")
    async with database.session() as session:
        assert await queue.waiting(session, roles=frozenset({"agent"})) == []
    try:
        async with database.transaction() as session:
            await queue.pick_up(session, agent, handoff_id)
        raise AssertionError("an agent took a specialist escalation")
    except queue.PickUpRefused:
        pass
    async with database.transaction() as session:
        await queue.pick_up(session, spec, handoff_id)


async def test_out_of_hours_handoff_tells_the_borrower_when_a_person_answers(database, handed_off) -> None:
    from datetime import datetime, timezone

    class Closed:
        def is_open(self, channel, at):
            return False

        def next_open(self, channel, at):
            return datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 09:00 WIB

        def hours_text(self, channel):
            return "Senin–Jumat 09.00–17.00 WIB"

    hours.configure(Closed())
    public_id, handoff_id = await handed_off()
    async with database.session() as session:
        handoff = await session.get(Handoff, handoff_id)
        texts = list(await session.scalars(select(Message.text).where(Message.conversation_id == handoff.conversation_id,
                                                                        Message.author == "system")))
        queued = await session.scalar(select(func.count()).select_from(OutboxItem)
                                      .where(OutboxItem.conversation_id == handoff.conversation_id))
    assert handoff.status == "waiting"
    assert len(texts) == 1 and "Senin, 23 November 2026 pukul 09.00 WIB" in texts[0]
    assert queued == 1


async def test_without_a_calendar_the_handoff_still_queues(database, handed_off) -> None:
    class Broken:
        def is_open(self, channel, at):
            raise RuntimeError("calendar file missing")

    hours.configure(Broken())
    _, handoff_id = await handed_off()
    assert (await get_handoff(database, handoff_id)).status == "waiting"


async def test_availability_toggle(client, sign_in, database) -> None:
    ani = await sign_in("ani")
    await client.post("/console/availability", ani, {"available": "1"})
    async with database.session() as session:
        assert (await session.get(User, ani.id)).available is True
    await client.post("/console/availability", ani, {"available": "0"})
    async with database.session() as session:
        assert (await session.get(User, ani.id)).available is False
