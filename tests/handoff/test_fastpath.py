"""The store's one-write handoff (rows planned by handoff.fastpath) writes what enqueue_handoff would,
on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from aduan.services import build_store
from desk.botclient import BotClient
from desk.events import InMemoryEventBus
from desk.handoff_request import HandoffRequest
from desk.messages import Channel, InboundMessage, OutboundMessage
from desk.router import Router
from desk.store import ConversationStore, MessageRecord
from handoff import hours, queue
from handoff.fastpath import QueueHandoffs
from handoff.models import Handoff, HandoffStatus
from storage.base import utcnow
from storage.db import Database
from storage.models import Conversation, Message, OutboxItem
from tests.desk.fake_rasa import FakeRasa
from tickets.models import Ticket


@pytest.fixture
async def writer(database: Database) -> AsyncIterator[ConversationStore]:
    """The store of the engine under test, with the handoff part as the app wires it."""
    store = build_store(database, QueueHandoffs())
    yield store
    await store.close()


async def hand_off(store: ConversationStore, conversation: Conversation, replies: list[OutboundMessage],
                   request: dict[str, Any], at: Any) -> list[MessageRecord]:
    record = await store.conversation_by_public_id(conversation.public_id)
    assert record is not None
    return await store.hand_off(record, replies, HandoffRequest(**request), author="bot", created_at=at)


async def _conversation(database: Database) -> Conversation:
    """A bot-mode conversation with one inbound message (seq 1)."""
    async with database.transaction() as session:
        conv = Conversation(channel="whatsapp", sender=f"+62811{uuid.uuid4().int % 10**7:07d}")
        session.add(conv)
        await session.flush()
        conv.last_seq = 1
        session.add(Message(conversation_id=conv.id, seq=1, channel="whatsapp", direction="in", author="borrower",
                            text="sambungkan ke agen", payload={}, external_id=uuid.uuid4().hex))
    return conv


async def _ticket(database: Database, number: str, category: str) -> int:
    async with database.transaction() as session:
        ticket = Ticket(number=number, category=category, channel="whatsapp", full_name="Budi Santoso",
                        product="pinjaman_tunai", chronology="x", first_response_due=utcnow() + timedelta(hours=2),
                        resolution_due=utcnow() + timedelta(days=20))
        session.add(ticket)
        await session.flush()
        return ticket.id


async def _handoffs(database: Database, conversation_id: int) -> list[Handoff]:
    async with database.session() as session:
        return list(await session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)))


REPLY = OutboundMessage(text="Baik Kak, saya sambungkan ke petugas CS.")


class Closed:
    """Office hours closed now, open again in ten hours (``handoff.hours.configure``)."""

    def is_open(self, channel: str | None, at: Any) -> bool:
        return False

    def next_open(self, channel: str | None, at: Any) -> Any:
        return at + timedelta(hours=10)

    def hours_text(self, channel: str | None) -> str:
        return "Senin–Jumat 08.00–17.00 WIB"


async def _mode_and_texts(database: Database, conversation_id: int) -> tuple[str, list[str]]:
    """The conversation's mode and its messages' texts in order."""
    async with database.session() as session:
        mode = (await session.get(Conversation, conversation_id)).mode
        texts = list(await session.scalars(select(Message.text).where(Message.conversation_id == conversation_id)
                                           .order_by(Message.seq)))
    return mode, texts


async def test_one_write_stores_replies_switches_mode_and_queues(database, writer) -> None:
    conv = await _conversation(database)
    ticket_id = await _ticket(database, "DCI-9", "unethical_collection")
    stored = await hand_off(writer, conv, [REPLY], {
        "reason": "request_human", "priority": "low", "category": None,
        "summary": {"intent": "request_human"}, "ticket_number": "DCI-9"}, utcnow())
    assert [(m.seq, m.text, m.author) for m in stored] == [(2, REPLY.text, "bot")]
    async with database.session() as session:
        row = await session.get(Conversation, conv.id)
        assert (row.mode, row.last_seq) == ("human", 2)
        messages = (await session.execute(select(Message.seq, Message.direction, Message.text)
                                          .where(Message.conversation_id == conv.id).order_by(Message.seq))).all()
        assert [tuple(m) for m in messages] == [(1, "in", "sambungkan ke agen"), (2, "out", REPLY.text)]
        outbox = list(await session.scalars(select(OutboxItem).where(OutboxItem.conversation_id == conv.id)))
        assert [(o.message_id, o.status, o.recipient_enc) for o in outbox] == \
            [(stored[0].id, "pending", conv.sender_enc)]
    (handoff,) = await _handoffs(database, conv.id)
    assert handoff.status == HandoffStatus.WAITING.value and handoff.queue_role == "agent"
    assert handoff.ticket_id == ticket_id
    assert handoff.category == "unethical_collection"  # from the ticket when the bot gave none
    assert handoff.priority == "low"  # the floor looks at the request's own category and reason, as before
    assert handoff.summary == {"intent": "request_human", "ticket_number": "DCI-9"}
    async with database.session() as session:
        entries = await queue.waiting(session)
    assert [e.handoff_id for e in entries] == [handoff.id]


async def test_priority_floor_for_fraud(database, writer) -> None:
    conv = await _conversation(database)
    await hand_off(writer, conv, [], {"reason": "fraud", "priority": "low"}, utcnow())
    (handoff,) = await _handoffs(database, conv.id)
    assert handoff.priority == "high"


async def test_an_open_handoff_is_merged_not_duplicated(database, writer) -> None:
    conv = await _conversation(database)
    await hand_off(writer, conv, [REPLY], {"reason": "request_human", "priority": "low"}, utcnow())
    stored = await hand_off(writer, conv, [REPLY],
                            {"reason": "request_human", "priority": "urgent", "category": "payment",
                             "summary": {"more": 1}}, utcnow())
    assert [m.seq for m in stored] == [3]  # the reply is stored all the same
    (handoff,) = await _handoffs(database, conv.id)
    assert (handoff.priority, handoff.category) == ("urgent", "payment")
    assert handoff.summary["more"] == 1


async def test_out_of_office_hours_takes_the_reference_path(database, writer) -> None:
    hours.configure(Closed())
    conv = await _conversation(database)
    stored = await hand_off(writer, conv, [REPLY], {"reason": "request_human"}, utcnow())
    assert [m.text for m in stored] == [REPLY.text]
    (handoff,) = await _handoffs(database, conv.id)
    assert handoff.summary.get("out_of_hours_notice") is True  # enqueue_handoff ran, and sent its notice
    mode, texts = await _mode_and_texts(database, conv.id)
    assert mode == "human"
    assert texts[1] == REPLY.text and len(texts) == 3  # the inbound message, the reply, the notice


async def test_out_of_office_hours_the_bot_told_are_not_told_twice(database, writer) -> None:
    """The bot's handoff reply already named the hour a person answers: the desk adds no second notice."""
    hours.configure(Closed())
    conv = await _conversation(database)
    stored = await hand_off(writer, conv, [REPLY], {"reason": "request_human", "hours_told": True}, utcnow())
    assert [m.text for m in stored] == [REPLY.text]
    (handoff,) = await _handoffs(database, conv.id)
    assert handoff.status == "waiting" and "out_of_hours_notice" not in handoff.summary
    mode, texts = await _mode_and_texts(database, conv.id)
    assert mode == "human"
    assert texts[1:] == [REPLY.text]  # the reply only, no system notice after it


def test_out_of_hours_a_handoff_whose_reply_told_the_hours_keeps_the_one_write_path() -> None:
    """The plan leaves the one-write path out of hours only to send the notice; told, there is none to send."""
    hours.configure(Closed())
    plan = QueueHandoffs().plan
    assert plan(HandoffRequest(reason="request_human"), "whatsapp", utcnow()) is None
    assert plan(HandoffRequest(reason="request_human", hours_told=True), "whatsapp", utcnow()) is not None


def test_only_a_literal_true_from_the_bot_silences_the_notice() -> None:
    assert HandoffRequest.from_custom({"reason": "x", "hours_told": True}).hours_told is True
    for value in ("true", 1, None, "yes"):
        assert HandoffRequest.from_custom({"reason": "x", "hours_told": value}).hours_told is False
    assert HandoffRequest.from_custom({"reason": "x"}).hours_told is False


async def test_the_database_refuses_a_second_open_handoff(database) -> None:
    conv = await _conversation(database)
    async with database.transaction() as session:
        session.add(Handoff(conversation_id=conv.id, reason="request_human", summary={}))
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add(Handoff(conversation_id=conv.id, reason="request_human", summary={}))
    # A closed one does not count.
    async with database.transaction() as session:
        await session.execute(update(Handoff).where(Handoff.conversation_id == conv.id).values(status="closed"))
        session.add(Handoff(conversation_id=conv.id, reason="request_human", summary={}))


async def test_concurrent_handoffs_of_one_conversation_leave_one_open(database, database_url, writer) -> None:
    """Two desk instances (own pools, own writers, no shared lock) hand off the same conversation at once."""
    conv = await _conversation(database)
    other = Database(database_url)
    other_writer = build_store(other, QueueHandoffs())
    copies = []
    for _ in range(4):  # each call has its own copy of the row, as each request does
        async with database.session() as session:
            copies.append(await session.get(Conversation, conv.id))
    try:
        results = await asyncio.gather(*(
            hand_off(w, c, [], {"reason": "request_human"}, utcnow())
            for w, c in zip([writer, other_writer] * 2, copies, strict=True)))
    finally:
        await other_writer.close()
        await other.dispose()
    assert len(results) == 4
    async with database.session() as session:
        open_count = await session.scalar(select(func.count()).select_from(Handoff).where(
            Handoff.conversation_id == conv.id, Handoff.status.in_(queue.OPEN_STATUSES)))
    assert open_count == 1


async def test_a_burst_is_written_in_batches(database, writer) -> None:
    convs = [await _conversation(database) for _ in range(12)]
    stored = await asyncio.gather(*(hand_off(writer, c, [REPLY, REPLY], {"reason": "request_human"},
                                             utcnow()) for c in convs))
    assert all([m.seq for m in s] == [2, 3] for s in stored)
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Handoff)) == 12
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) == 24
        modes = set(await session.scalars(select(Conversation.mode)))
    assert modes == {"human"}


async def test_router_publishes_the_queue_event_first(database, writer) -> None:
    def bot(body: dict[str, Any]) -> list[dict[str, Any]]:
        if body["message"] != "sambungkan ke agen":
            return [{"recipient_id": body["sender"], "text": "Halo Kak"}]
        return [{"recipient_id": body["sender"], "text": REPLY.text},
                {"recipient_id": body["sender"], "custom": {"handoff": {"reason": "request_human",
                                                                        "priority": "medium"}}}]

    rasa = FakeRasa(bot)
    await rasa.start()
    client = BotClient(rasa.url, timeout_seconds=2.0)
    events = InMemoryEventBus()
    router = Router(store=writer, bot=client, events=events)
    try:
        await router.receive(InboundMessage(channel=Channel.WHATSAPP, sender="+628110000001", external_id="a",
                                            text="halo", received_at=utcnow()))
        async with events.subscribe("queue") as stream:
            result = await router.receive(InboundMessage(channel=Channel.WHATSAPP, sender="+628110000001",
                                                         external_id="b", text="sambungkan ke agen",
                                                         received_at=utcnow()))
            kinds = []
            for _ in range(3):  # the handoff, then the borrower's message and the bot's reply
                kinds.append((await asyncio.wait_for(anext(stream), 1))["type"])
    finally:
        await client.aclose()
        await rasa.stop()
    assert result.mode == "human" and [r.text for r in result.replies] == [REPLY.text]
    assert kinds == ["handoff", "message", "message"]
    async with database.session() as session:
        conv = await session.scalar(select(Conversation).where(Conversation.public_id == result.conversation_public_id))
        assert conv.mode == "human"
        assert await session.scalar(select(func.count()).select_from(OutboxItem)
                                    .where(OutboxItem.conversation_id == conv.id)) == 2  # "halo" answer + handoff reply
    (handoff,) = await _handoffs(database, conv.id)
    assert handoff.status == "waiting"


def test_round_robin_plan_interleaves_and_respects_roles() -> None:
    agent, spec = frozenset({"agent"}), frozenset({"agent", "specialist"})
    plan = queue._round_robin(
        [1, 2, 3], {1: 2, 2: 1, 3: 2}, {1: agent, 2: agent, 3: spec},
        [(10, "agent"), (11, "specialist"), (12, "agent"), (13, "agent"), (14, "agent"), (15, "agent")])
    # 10 → 1 (longest ago), 11 → 3 (only the specialist may), 12 → 2, 13 → 1, 14 → 3; everyone is full.
    assert plan == [(10, 1), (11, 3), (12, 2), (13, 1), (14, 3)]
