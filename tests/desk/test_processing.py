"""Durable inbound processing: no borrower message is left unanswered, whatever fails, on every engine.

A stored message carries its processing state; an unfinished one is resumed
by a redelivery or by the sweeper of any instance (the conversation's lease
keeps it to one at a time); three failed attempts send it to people; Rasa
answering with no message or with too many is a bot failure.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from aduan.services import build_store
from desk.botclient import MAX_REPLIES, BotClient
from desk.handoff_request import BOT_FAILED, PROCESSING_FAILED
from desk.messages import Channel, InboundMessage
from desk.router import HOLDING_REPLY, Router
from storage.db import Database
from storage.models import Conversation, Message, OutboxItem
from tests.desk.fake_rasa import FakeRasa

SENDER = "+6281234567890"


def inbound(text: str = "halo", *, external_id: str = "SM1", sender: str = SENDER) -> InboundMessage:
    return InboundMessage(channel=Channel.WHATSAPP, sender=sender, external_id=external_id, text=text,
                          received_at=datetime.now(timezone.utc))


async def inbound_rows(db) -> list[tuple[str, str, int, str | None]]:
    async with db.session() as s:
        rows = (await s.execute(select(Message.text, Message.state, Message.attempts, Message.last_error)
                                .where(Message.direction == "in").order_by(Message.id))).all()
    return [tuple(r) for r in rows]


async def count(db, model, *where) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)))


async def lease_of(db, sender: str = SENDER) -> tuple[str | None, Any]:
    async with db.session() as s:
        row = (await s.execute(select(Conversation.lease_owner, Conversation.lease_until)
                               .where(Conversation.sender_is(sender)))).one()
    return row.lease_owner, row.lease_until


class FailingOnce:
    """Wraps a store method: raises ``times`` times (a dropped connection), then behaves."""

    def __init__(self, real: Any, times: int = 1, message: str = "connection dropped") -> None:
        self.real, self.times, self.message, self.calls = real, times, message, 0

    async def __call__(self, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            raise ConnectionError(self.message)
        return await self.real(*args, **kw)


async def test_message_stored_before_a_failure_is_resumed_by_the_redelivery(router, database, fake_rasa,
                                                                             monkeypatch) -> None:
    """The database drops after the message was stored: the request fails (the provider hears 503),
    and its redelivery is answered, not taken as 'duplicate, nothing'."""
    monkeypatch.setattr(router.store, "append_replies", FailingOnce(router.store.append_replies))
    with pytest.raises(ConnectionError):
        await router.receive(inbound("tagihan saya"))
    [(text, state, attempts, error)] = await inbound_rows(database)
    assert (state, attempts) == ("received", 1) and "connection dropped" in error
    assert await lease_of(database) == (None, None)  # given back: anyone may resume it at once
    again = await router.receive(inbound("tagihan saya"))
    assert again.duplicate and [r.text for r in again.replies] == ["echo: tagihan saya"]
    assert [m.reply_to_id for m in again.reply_messages] == [again.message_id]
    assert [(s, a) for _, s, a, _ in await inbound_rows(database)] == [("answered", 2)]
    assert await count(database, OutboxItem) == 1 and len(fake_rasa.calls) == 2
    # A third delivery is a plain duplicate with the same replies.
    third = await router.receive(inbound("tagihan saya"))
    assert third.duplicate and [m.id for m in third.reply_messages] == [m.id for m in again.reply_messages]
    assert len(fake_rasa.calls) == 2


async def test_a_retry_after_a_database_blip_is_answered_promptly_by_another_instance(
        store, database, database_url, bot, event_bus, fake_rasa, monkeypatch) -> None:
    """The database dropped while instance A answered a message, and refused A's note that it gave up,
    so A's lease would stay for 70 s. The in-app client's retry, landing on instance B once the
    database is back, gets its answer at once, not "duplicate, replies: []" until the lease ran out."""
    first = Router(store=store, bot=bot, events=event_bus, bot_timeout_seconds=30)
    monkeypatch.setattr(store, "append_replies", FailingOnce(store.append_replies))
    monkeypatch.setattr(store, "record_failure", FailingOnce(store.record_failure))
    with pytest.raises(ConnectionError):
        await first.receive(inbound("tagihan saya", external_id="blip"))
    other_db = Database(database_url)
    other_store = build_store(other_db, store.handoff)
    second = Router(store=other_store, bot=bot, events=event_bus, bot_timeout_seconds=30)
    try:
        started = asyncio.get_running_loop().time()
        retry = await asyncio.wait_for(second.receive(inbound("tagihan saya", external_id="blip")), 20)
        took = asyncio.get_running_loop().time() - started
    finally:
        await other_store.close()
        await other_db.dispose()
    assert retry.duplicate and [r.text for r in retry.replies] == ["echo: tagihan saya"]
    assert took < 10  # the lease ran for 70 s; its holder gave it back once the database answered
    assert [(s, a) for _, s, a, _ in await inbound_rows(database)] == [("answered", 2)]
    assert await count(database, OutboxItem) == 1 and len(fake_rasa.calls) == 2
    assert await lease_of(database) == (None, None)


async def test_a_retry_while_another_instance_still_answers_gets_that_answer(
        store, database, database_url, bot, event_bus, fake_rasa) -> None:
    """The client retried while the first instance was still waiting for Rasa: the retry waits for
    that answer and returns it, and the bot is asked once."""
    first = Router(store=store, bot=bot, events=event_bus, bot_timeout_seconds=30)
    fake_rasa.delay = 1.0
    task = asyncio.create_task(first.receive(inbound("halo", external_id="slow")))
    while not fake_rasa.calls:
        await asyncio.sleep(0.01)
    other_db = Database(database_url)
    other_store = build_store(other_db, store.handoff)
    second = Router(store=other_store, bot=bot, events=event_bus, bot_timeout_seconds=30)
    try:
        retry = await asyncio.wait_for(second.receive(inbound("halo", external_id="slow")), 20)
    finally:
        await other_store.close()
        await other_db.dispose()
    answered = await task
    assert retry.duplicate and [m.id for m in retry.reply_messages] == [m.id for m in answered.reply_messages]
    assert [r.text for r in retry.replies] == ["echo: halo"] and len(fake_rasa.calls) == 1


async def test_retry_of_a_finished_message_gets_its_stored_replies(router, fake_rasa) -> None:
    first = await router.receive(inbound("halo"))
    retry = await router.receive(inbound("halo"))
    assert retry.duplicate and retry.message_id == first.message_id
    assert [(m.id, m.text) for m in retry.reply_messages] == [(m.id, m.text) for m in first.reply_messages]
    assert [r.text for r in retry.replies] == ["echo: halo"] and len(fake_rasa.calls) == 1


async def _crashed_instance(store, bot, event_bus, fake_rasa) -> Router:
    """An instance that stored a message and died while Rasa was answering (its lease stays)."""
    crashed = Router(store=store, bot=bot, events=event_bus, bot_timeout_seconds=30)
    crashed._give_back_later = lambda *args: None  # type: ignore[method-assign] - kill -9 runs nothing
    fake_rasa.delay = 5.0
    task = asyncio.create_task(crashed.receive(inbound("halo", external_id="crash")))
    while not fake_rasa.calls:
        await asyncio.sleep(0.01)
    task.cancel()  # like kill -9: nothing after this point runs
    with pytest.raises(asyncio.CancelledError):
        await task
    fake_rasa.delay = 0.0
    return crashed


async def test_sweeper_takes_over_a_crashed_instances_message_after_its_lease(store, database, database_url, bot,
                                                                              event_bus, fake_rasa) -> None:
    crashed = await _crashed_instance(store, bot, event_bus, fake_rasa)
    assert (await lease_of(database))[0] == crashed.owner
    other_db = Database(database_url)
    other_store = build_store(other_db, store.handoff)
    survivor = Router(store=other_store, bot=bot, events=event_bus, bot_timeout_seconds=2)
    try:
        assert await survivor.sweep_once() == 0  # too fresh, and the lease is live
        later = datetime.now(timezone.utc) + crashed.lease + timedelta(seconds=1)
        survivor.clock = lambda: later
        assert await survivor.sweep_once() == 1
        assert await survivor.sweep_once() == 0  # finished: nothing left
    finally:
        await other_store.close()
        await other_db.dispose()
    assert [(s, a) for _, s, a, _ in await inbound_rows(database)] == [("answered", 2)]
    assert await count(database, OutboxItem) == 1
    assert await lease_of(database) == (None, None)


async def test_a_cancelled_request_gives_its_lease_back(router, database, fake_rasa) -> None:
    """A request cancelled mid-way (the client went away) leaves its message to the sweepers at once,
    not after the lease runs out."""
    fake_rasa.delay = 5.0
    task = asyncio.create_task(router.receive(inbound("halo", external_id="gone")))
    while not fake_rasa.calls:
        await asyncio.sleep(0.01)
    assert (await lease_of(database))[0] == router.owner
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if await lease_of(database) == (None, None):
            break
        await asyncio.sleep(0.02)
    assert await lease_of(database) == (None, None)
    [(_, state, _, error)] = await inbound_rows(database)
    assert state == "received" and "cancelled" in error


async def test_two_sweepers_never_process_one_message_at_once(store, database, database_url, bot, event_bus,
                                                              fake_rasa) -> None:
    await _crashed_instance(store, bot, event_bus, fake_rasa)
    fake_rasa.delay = 0.05
    other_db = Database(database_url)
    other_store = build_store(other_db, store.handoff)
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    a = Router(store=store, bot=bot, events=event_bus, clock=lambda: later)
    b = Router(store=other_store, bot=bot, events=event_bus, clock=lambda: later)
    try:
        handled = await asyncio.gather(a.sweep_once(), b.sweep_once(), a.sweep_once(), b.sweep_once())
    finally:
        await other_store.close()
        await other_db.dispose()
    assert sum(handled) == 1
    assert len(fake_rasa.calls) == 2  # the crashed attempt and exactly one takeover
    assert await count(database, OutboxItem) == 1


async def test_a_message_failing_three_times_goes_to_people_with_the_reason(router, database, fake_rasa,
                                                                            handoff_queue, monkeypatch) -> None:
    poison = FailingOnce(router.store.append_replies, times=1000, message="reply refused")
    monkeypatch.setattr(router.store, "append_replies", poison)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            await router.receive(inbound("halo", external_id="poison"))
    assert len(fake_rasa.calls) == 3
    held = await router.receive(inbound("halo", external_id="poison"))
    assert held.mode == "human" and [r.text for r in held.replies] == [HOLDING_REPLY]
    [(_, request)] = handoff_queue.calls
    assert request.reason == PROCESSING_FAILED and "reply refused" in request.summary["note"]
    assert len(fake_rasa.calls) == 3  # the bot was not asked a fourth time
    assert [(s, a) for _, s, a, _ in await inbound_rows(database)] == [("queued_for_people", 4)]
    # It never loops: later deliveries are duplicates with the holding reply.
    again = await router.receive(inbound("halo", external_id="poison"))
    assert again.duplicate and [r.text for r in again.replies] == [HOLDING_REPLY]
    assert len(fake_rasa.calls) == 3 and len(handoff_queue.calls) == 1


class ConcurrencyRasa(FakeRasa):
    """A fake Rasa that records the most calls it ever served at once for one sender."""

    def __init__(self) -> None:
        super().__init__(delay=0.03)
        self.in_flight: dict[str, int] = {}
        self.most = 0

    async def _respond(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        sender = json.loads(body or b"{}").get("sender", "") if method == "POST" else ""
        self.in_flight[sender] = self.in_flight.get(sender, 0) + 1
        self.most = max(self.most, self.in_flight[sender])
        try:
            return await super()._respond(method, path, body)
        finally:
            self.in_flight[sender] -= 1


async def test_two_instances_never_call_the_bot_for_one_conversation_at_once(database, database_url, store,
                                                                            event_bus) -> None:
    """Two desk instances (own pools, own locks, own leases) on one database, one borrower writing
    fast enough that consecutive messages land on different instances."""
    rasa = ConcurrencyRasa()
    await rasa.start()
    other_db = Database(database_url)
    other_store = build_store(other_db, store.handoff)
    bots = [BotClient(rasa.url, timeout_seconds=5), BotClient(rasa.url, timeout_seconds=5)]
    routers = [Router(store=store, bot=bots[0], events=event_bus, bot_timeout_seconds=5),
               Router(store=other_store, bot=bots[1], events=event_bus, bot_timeout_seconds=5)]
    try:
        await routers[0].receive(inbound("buka", external_id="open"))
        results = await asyncio.gather(*(routers[k % 2].receive(inbound(f"pesan {k}", external_id=f"m{k}"))
                                         for k in range(12)))
    finally:
        for bot in bots:
            await bot.aclose()
        await rasa.stop()
        await other_store.close()
        await other_db.dispose()
    assert rasa.most == 1, "two instances called the bot for one conversation at once"
    assert len(rasa.calls) == 13 and not any(r.duplicate for r in results)
    assert [s for _, s, _, _ in await inbound_rows(database)] == ["answered"] * 13
    async with database.session() as s:
        seqs = list(await s.scalars(select(Message.seq).order_by(Message.seq)))
    assert seqs == list(range(1, 27))
    assert await lease_of(database) == (None, None)


@pytest.mark.parametrize("answer", [[], [{"text": f"balasan {k}"} for k in range(MAX_REPLIES + 1)]],
                         ids=["no-message", "too-many"])
async def test_rasa_answering_nothing_or_too_much_is_a_bot_failure(router, database, fake_rasa, handoff_queue,
                                                                   answer, caplog) -> None:
    fake_rasa.responder = lambda body: answer
    with caplog.at_level(logging.WARNING, logger="desk.router"):
        result = await router.receive(inbound("nomor saya 081234567890"))
    assert result.mode == "human" and [r.text for r in result.replies] == [HOLDING_REPLY]
    [(_, request)] = handoff_queue.calls
    assert request.reason == BOT_FAILED
    assert [(s, a) for _, s, a, _ in await inbound_rows(database)] == [("queued_for_people", 1)]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "bot failed" in logged and "081234567890" not in logged and "nomor saya" not in logged


async def test_four_messages_are_still_an_answer(router, fake_rasa, handoff_queue) -> None:
    fake_rasa.responder = lambda body: [{"text": f"balasan {k}"} for k in range(MAX_REPLIES)]
    result = await router.receive(inbound("halo"))
    assert result.mode == "bot" and len(result.replies) == MAX_REPLIES and handoff_queue.calls == []
