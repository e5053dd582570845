"""The contract of desk.store.ConversationStore, run against the engine under test (--db=sqlite|postgres).

Every engine must pass the same tests: what the interface's docstrings promise
(atomic writes, gap-free numbering, one named duplicate error, frozen records)
is checked here once, not per engine.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from aduan.services import build_store
from desk.handoff_request import HandoffRequest
from desk.messages import Button, OutboundMessage
from desk.store import (
    ConversationRecord,
    ConversationStore,
    DuplicateMessage,
    MessageRecord,
    NewInbound,
    StoredInbound,
)
from handoff.fastpath import QueueHandoffs
from handoff.models import Handoff
from storage.models import Conversation, Message, OutboxItem
from tests.support.pii import opened_sender

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
async def real_store(database) -> AsyncIterator[ConversationStore]:
    """The store as the app builds it, with the handoff part."""
    store = build_store(database, QueueHandoffs())
    yield store
    await store.close()


def new(text: str = "halo", *, external_id: str = "e1", sender: str = "+6281200000001", channel: str = "whatsapp",
        **kw) -> NewInbound:
    return NewInbound(channel=channel, sender=sender, external_id=external_id, text=text, payload={},
                      created_at=NOW, **kw)


async def rows(database, model, *where) -> int:
    async with database.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)))


async def test_append_inbound_opens_then_appends_with_gap_free_numbers(real_store, database) -> None:
    first = await real_store.append_inbound(new("satu", external_id="a"))
    second = await real_store.append_inbound(new("dua", external_id="b"))
    assert isinstance(first, StoredInbound) and isinstance(second.conversation, ConversationRecord)
    assert type(first.message) is type(second.message) is MessageRecord  # new and existing: one type
    assert first.conversation.id == second.conversation.id
    assert (first.message.seq, second.message.seq) == (1, 2)
    assert second.conversation.last_seq == 2 and second.conversation.mode == "bot"
    async with database.session() as s:
        stored = (await s.execute(select(Message.id, Message.seq, Message.text).order_by(Message.seq))).all()
    assert [tuple(r) for r in stored] == [(first.message.id, 1, "satu"), (second.message.id, 2, "dua")]


async def test_records_are_frozen(real_store) -> None:
    stored = await real_store.append_inbound(new())
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.conversation.mode = "human"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.message.text = "x"  # type: ignore[misc]


async def test_duplicate_raises_the_named_error_and_writes_nothing(real_store, database) -> None:
    await real_store.append_inbound(new(external_id="dup"))
    with pytest.raises(DuplicateMessage) as caught:
        await real_store.append_inbound(new("lagi", external_id="dup"))
    assert caught.value.external_id == "dup"
    assert await rows(database, Message) == 1
    async with database.session() as s:
        assert await s.scalar(select(Conversation.last_seq)) == 1  # no number was used up
    # A duplicate of a new conversation's first message, racing it, is refused the same way.
    results = await asyncio.gather(*(real_store.append_inbound(new(external_id="first", sender="+6281299"))
                                     for _ in range(4)), return_exceptions=True)
    assert sum(isinstance(r, StoredInbound) for r in results) == 1
    assert all(isinstance(r, DuplicateMessage) for r in results if not isinstance(r, StoredInbound))


async def test_concurrent_appends_keep_arrival_order_and_numbers(real_store, database) -> None:
    await real_store.append_inbound(new(external_id="open"))
    results = await asyncio.gather(*(real_store.append_inbound(new(f"m{k}", external_id=f"c{k}"))
                                     for k in range(25)))
    assert [r.message.seq for r in results] == list(range(2, 27))
    async with database.session() as s:
        seqs = list(await s.scalars(select(Message.seq).order_by(Message.seq)))
    assert seqs == list(range(1, 27))


async def test_customer_and_numbered_choice_are_recorded_in_the_write(real_store) -> None:
    stored = await real_store.append_inbound(new(channel="inapp", sender="CUST-1", customer_id="CUST-1"))
    assert stored.conversation.customer_id == "CUST-1"
    await real_store.append_replies(stored.conversation, [OutboundMessage("Pilih:", (Button("A", "/a"),
                                                                                     Button("B", "/b")))],
                                    author="bot", created_at=NOW)
    choice = await real_store.append_inbound(new("2", channel="inapp", sender="CUST-1", external_id="e2",
                                                 may_be_numbered_choice=True))
    assert choice.message.payload == {"button_payload": "/b"} and choice.bot_text == "/b"


async def test_append_replies_stores_and_queues_each_reply(real_store, database) -> None:
    stored = await real_store.append_inbound(new())
    replies = [OutboundMessage("satu"), OutboundMessage("dua", (Button("Ya", "/affirm"),))]
    records = await real_store.append_replies(stored.conversation, replies, author="bot", created_at=NOW)
    assert [(m.seq, m.text, m.direction, m.author) for m in records] == [(2, "satu", "out", "bot"),
                                                                          (3, "dua", "out", "bot")]
    async with database.session() as s:
        outbox = [(r.message_id, opened_sender(r.channel, r.recipient_enc), r.status) for r in (await s.execute(
            select(OutboxItem.message_id, OutboxItem.channel, OutboxItem.recipient_enc, OutboxItem.status)
            .order_by(OutboxItem.id))).all()]
        payload = await s.scalar(select(Message.payload).where(Message.id == records[1].id))
    assert [tuple(o) for o in outbox] == [(m.id, "+6281200000001", "pending") for m in records]
    assert payload == {"buttons": [{"title": "Ya", "payload": "/affirm"}]} == records[1].payload


async def test_hand_off_switches_mode_and_queues_in_one_write(real_store, database) -> None:
    stored = await real_store.append_inbound(new())
    records = await real_store.hand_off(stored.conversation, [OutboundMessage("Baik Kak")],
                                        HandoffRequest(reason="fraud", priority="low"), author="bot",
                                        created_at=NOW)
    assert [m.seq for m in records] == [2]
    conversation = await real_store.conversation_by_public_id(stored.conversation.public_id)
    assert conversation is not None and conversation.mode == "human"
    async with database.session() as s:
        handoff = await s.scalar(select(Handoff))
    assert (handoff.reason, handoff.priority, handoff.status) == ("fraud", "high", "waiting")
    assert await rows(database, OutboxItem) == 1


async def test_hand_off_reference_path_when_the_queue_plans_nothing(store, handoff_queue, database) -> None:
    """The fake queue plans no row: the store takes the ORM path and calls ``enqueue`` in it."""
    stored = await store.append_inbound(new())
    await store.hand_off(stored.conversation, [OutboundMessage("Baik Kak")], HandoffRequest(reason="x"),
                         author="system", created_at=NOW)
    assert [(cid, r.reason) for cid, r in handoff_queue.calls] == [(stored.conversation.id, "x")]
    conversation = await store.conversation_by_public_id(stored.conversation.public_id)
    assert conversation is not None and conversation.mode == "human"


async def test_answer_with_stores_the_hooks_reply_or_nothing(real_store, database) -> None:
    stored = await real_store.append_inbound(new())

    async def silent(session, conversation):
        return None

    async def thanks(session, conversation):
        assert conversation.id == stored.conversation.id
        return OutboundMessage("Terima kasih")

    assert await real_store.answer_with(stored.conversation, silent, author="system", created_at=NOW) is None
    reply, record = await real_store.answer_with(stored.conversation, thanks, author="system", created_at=NOW)
    assert reply.text == record.text == "Terima kasih" and record.seq == 2
    assert await rows(database, OutboxItem) == 1


async def test_mode_customer_and_look_ups(real_store) -> None:
    stored = await real_store.append_inbound(new())
    conversation = stored.conversation
    with pytest.raises(ValueError):
        await real_store.set_mode(conversation.id, "robot")
    await real_store.set_mode(conversation.id, "human")
    assert await real_store.record_verified_customer(conversation.public_id, "CUST-9") is True
    assert await real_store.record_verified_customer("no-such-conversation", "CUST-9") is False
    found = await real_store.conversation_by_public_id(conversation.public_id)
    assert found is not None and (found.mode, found.customer_id) == ("human", "CUST-9")
    assert await real_store.conversation_by_public_id("nope") is None
    again = await real_store.inbound_by_external_id("whatsapp", new().key_of(), "e1")
    assert again is not None and again.message.id == stored.message.id and not again.leased
    other = new(sender="+6281200000002").key_of()
    assert await real_store.inbound_by_external_id("whatsapp", other, "e1") is None


async def test_run_commits_or_rolls_back(real_store, database) -> None:
    def add(conn):
        conn.execute(insert(Conversation.__table__).values(public_id="p" * 32, channel="telegram", sender_key="k42",
                                                           mode="bot", last_seq=0, created_at=NOW,
                                                           last_message_at=NOW))
        return "done"

    def add_then_fail(conn):
        add(conn)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await real_store.run(add_then_fail)
    assert await rows(database, Conversation) == 0
    assert await real_store.run(add) == "done"
    assert await rows(database, Conversation) == 1


def test_status_literals_in_the_engines_match_the_handoff_model() -> None:
    from desk.store import postgres, sqlite
    from desk.store.orm import CLOSED_HANDOFF_STATUS
    from handoff.models import HandoffStatus, Role

    opened = f"('{HandoffStatus.WAITING.value}', '{HandoffStatus.ASSIGNED.value}')"
    assert postgres._OPEN_HANDOFF == sqlite._OPEN_HANDOFF == opened
    assert CLOSED_HANDOFF_STATUS == HandoffStatus.CLOSED.value
    assert f"'{HandoffStatus.WAITING.value}', '{Role.AGENT.value}'" in sqlite._INSERT_HANDOFF


async def test_dedup_is_per_conversation_in_its_own_columns(real_store, database) -> None:
    """The same provider id from two senders is two messages (the sender is never glued into the id)."""
    a = await real_store.append_inbound(new(channel="inapp", sender="X", external_id="x:m1"))
    b = await real_store.append_inbound(new(channel="inapp", sender="X:x", external_id="m1"))
    c = await real_store.append_inbound(new(channel="inapp", sender="Y", external_id="x:m1"))
    assert len({a.conversation.id, b.conversation.id, c.conversation.id}) == 3
    with pytest.raises(DuplicateMessage):
        await real_store.append_inbound(new(channel="inapp", sender="Y", external_id="x:m1"))
    assert await rows(database, Message) == 3


LATER = NOW + timedelta(minutes=1)


async def test_processing_state_and_the_lease(real_store) -> None:
    """Stored ``received`` with the lease; an outcome finishes it and gives the lease back."""
    stored = await real_store.append_inbound(new(lease_owner="A", lease_until=LATER))
    assert stored.leased and (stored.message.state, stored.message.attempts) == ("received", 1)
    # Another instance meanwhile: stored, but the lease is A's.
    other = await real_store.append_inbound(new(external_id="e2", lease_owner="B", lease_until=LATER))
    assert not other.leased and (other.message.state, other.message.attempts) == ("received", 0)
    busy = await real_store.claim(other.message.id, owner="B", lease_until=LATER, now=NOW)
    assert busy is not None and not busy.leased and busy.message.attempts == 0
    replies = await real_store.append_replies(stored.conversation, [OutboundMessage("ok")], author="bot",
                                              created_at=NOW, in_reply_to=stored.message.id, owner="A")
    assert replies[0].reply_to_id == stored.message.id
    assert [m.id for m in await real_store.replies_to(stored.message.id)] == [replies[0].id]
    finished = await real_store.inbound_by_external_id("whatsapp", new().key_of(), "e1")
    assert finished is not None and finished.message.state == "answered"
    # A's lease is back: B takes it and counts its first attempt.
    taken = await real_store.claim(other.message.id, owner="B", lease_until=LATER, now=NOW)
    assert taken is not None and taken.leased and taken.message.attempts == 1
    # A finished message is never taken again.
    again = await real_store.claim(stored.message.id, owner="C", lease_until=LATER, now=LATER)
    assert again is not None and not again.leased and again.message.state == "answered"
    await real_store.hand_off(taken.conversation, [], HandoffRequest(reason="x"), author="bot", created_at=NOW,
                              in_reply_to=taken.message.id, owner="B")
    queued = await real_store.inbound_by_external_id("whatsapp", new().key_of(), "e2")
    assert queued is not None and queued.message.state == "queued_for_people"
    # In human mode a message is queued for people at once, and takes no lease.
    human = await real_store.append_inbound(new(external_id="e3", lease_owner="A", lease_until=LATER))
    assert not human.leased and human.message.state == "queued_for_people"


async def test_an_expired_lease_is_taken_over_and_failures_are_recorded(real_store) -> None:
    stored = await real_store.append_inbound(new(lease_owner="A", lease_until=LATER))
    assert await real_store.unfinished(stored_before=LATER, now=NOW) == []  # A's lease is live
    assert [u.message_id for u in await real_store.unfinished(stored_before=LATER, now=LATER)] == [
        stored.message.id]
    assert await real_store.unfinished(stored_before=NOW, now=LATER) == []  # not old enough
    taken = await real_store.claim(stored.message.id, owner="B", lease_until=LATER + timedelta(minutes=1), now=LATER)
    assert taken is not None and taken.leased and taken.message.attempts == 2
    await real_store.record_failure(stored.message.id, owner="B", error="RuntimeError: boom")
    failed = await real_store.claim(stored.message.id, owner="C", lease_until=LATER, now=NOW)
    assert failed is not None and failed.leased and failed.message.attempts == 3
    assert failed.message.last_error == "RuntimeError: boom"
    assert await real_store.claim(10**9, owner="C", lease_until=LATER, now=NOW) is None
