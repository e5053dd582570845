"""The outbox worker retries with backoff, gives up visibly, never sends twice, keeps order."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import AsyncIterator

import pytest
from sqlalchemy import select, update

from connectors.base import ProviderError
from desk.messages import Channel, OutboundMessage
from desk.outbox import enqueue, on_enqueue_commit
from desk.outbox_worker import Backoff, OutboxWorker, failed_items
from desk.store.sqlite import SqliteConversationStore
from desk.store import find_or_open_conversation
from storage.base import utcnow
from storage.models import OutboxItem

FAST = Backoff(base_seconds=0.01, cap_seconds=0.05)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # On SQLite every test runs twice: the worker on the async engine, and on the writer
    # thread the app gives it (shared with the router's hot writes). PostgreSQL has no such thread.
    if "outbox_writer" in metafunc.fixturenames:
        kinds = ["engine", "writer-thread"] if metafunc.config.getoption("--db") == "sqlite" else ["engine"]
        metafunc.parametrize("outbox_writer", kinds, indirect=True)


@pytest.fixture
async def outbox_writer(request, database):
    """None (the async engine) or the SQLite store, whose writer thread the app gives the worker."""
    if request.param == "engine":
        yield None
        return
    writer = SqliteConversationStore(database, handoff=None)  # type: ignore[arg-type] - no handoffs here
    yield writer
    await writer.close()


@dataclass
class FakeSender:
    """Fails the first ``failures`` calls (or forever with ``always``), then accepts."""

    channel: Channel = Channel.WHATSAPP
    failures: int = 0
    retryable: bool = True
    delay: float = 0.0
    calls: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        self.calls.append(message.text)
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.calls) <= self.failures:
            raise ProviderError("provider answered 503", retryable=self.retryable)
        self.sent.append(message.text)
        return f"SM{len(self.sent):04d}"


async def queue_replies(db, texts: list[str], sender: str = "+6281234567890") -> list[int]:
    async with db.transaction() as s:
        conv = await find_or_open_conversation(s, "whatsapp", sender)
        ids = []
        for text in texts:
            _, item = await enqueue(s, conv, OutboundMessage(text=text), author="bot")
            ids.append(item.id)
    return ids


async def items(db) -> list[OutboxItem]:
    async with db.session() as s:
        return list((await s.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


async def run_until_settled(worker: OutboxWorker, db, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        await worker.run_once()
        if all(i.status in ("sent", "failed") for i in await items(db)):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("outbox did not settle")


async def test_retry_after_provider_5xx_then_sent_once(database, outbox_writer) -> None:
    sender = FakeSender(failures=2)
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, max_attempts=5, backoff=FAST)
    await queue_replies(database, ["halo Kak"])
    await run_until_settled(worker, database)
    (item,) = await items(database)
    assert sender.calls == ["halo Kak"] * 3
    assert sender.sent == ["halo Kak"]
    assert (item.status, item.attempts, item.provider_message_id) == ("sent", 3, "SM0001")
    assert item.sent_at is not None


async def test_backoff_waits_before_retrying(database, outbox_writer) -> None:
    sender = FakeSender(failures=1)
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, backoff=Backoff(base_seconds=60))
    await queue_replies(database, ["halo"])
    await worker.run_once()
    await worker.run_once()  # not due yet: no second attempt
    (item,) = await items(database)
    assert len(sender.calls) == 1 and item.status == "pending"
    assert item.next_attempt_at > utcnow() + timedelta(seconds=25)  # 60 s ± 50 % jitter
    assert "503" in item.last_error


async def test_permanent_failure_is_recorded_and_listed(database, outbox_writer) -> None:
    sender = FakeSender(failures=10**6)
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, max_attempts=3, backoff=FAST)
    await queue_replies(database, ["halo"])
    await run_until_settled(worker, database)
    (item,) = await items(database)
    assert item.status == "failed" and item.attempts == 3 and len(sender.calls) == 3
    assert item.last_error == "after 3 attempt(s): provider answered 503"
    listed = await failed_items(database)
    assert [f["id"] for f in listed] == [item.id] and listed[0]["last_error"] == item.last_error


async def test_non_retryable_error_fails_at_once(database, outbox_writer) -> None:
    sender = FakeSender(failures=1, retryable=False)
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, max_attempts=6, backoff=FAST)
    await queue_replies(database, ["halo"])
    await run_until_settled(worker, database)
    (item,) = await items(database)
    assert item.status == "failed" and item.attempts == 1


async def test_provider_timeout_is_retried(database, outbox_writer) -> None:
    sender = FakeSender(delay=0.3)
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, send_timeout=0.05, max_attempts=2,
                          backoff=FAST)
    await queue_replies(database, ["halo"])
    await run_until_settled(worker, database)
    (item,) = await items(database)
    assert item.status == "failed" and item.attempts == 2 and "timed out" in item.last_error


async def test_two_workers_never_send_an_item_twice(database, outbox_writer) -> None:
    sender = FakeSender(delay=0.002)
    for i in range(40):
        await queue_replies(database, [f"r{i}-a", f"r{i}-b"], sender=f"+628120000{i:04d}")
    w1 = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, batch_size=7)
    w2 = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, batch_size=7)

    async def loop(w: OutboxWorker) -> None:
        for _ in range(200):
            await w.run_once()
            if all(i.status == "sent" for i in await items(database)):
                return

    await asyncio.gather(loop(w1), loop(w2))
    assert sorted(sender.sent) == sorted(f"r{i}-{x}" for i in range(40) for x in "ab")
    assert all(i.status == "sent" for i in await items(database))


async def test_a_conversation_is_sent_in_order_even_across_retries(database, outbox_writer) -> None:
    sender = FakeSender(failures=1)
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, backoff=FAST)
    await queue_replies(database, ["pertama", "kedua", "ketiga"])
    await run_until_settled(worker, database)
    assert sender.calls == ["pertama", "pertama", "kedua", "ketiga"]


async def test_an_expired_lease_is_claimed_again(database, outbox_writer) -> None:
    """The at-least-once edge: a worker died after claiming; another one sends after the lease."""
    sender = FakeSender()
    await queue_replies(database, ["halo"])
    async with database.transaction() as s:  # what a crashed worker leaves behind
        await s.execute(update(OutboxItem).values(status="sending", attempts=1,
                                                  next_attempt_at=utcnow() + timedelta(seconds=60)))
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer)
    assert await worker.run_once() == 0  # the lease still holds
    async with database.transaction() as s:
        await s.execute(update(OutboxItem).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert await worker.run_once() == 1
    (item,) = await items(database)
    assert item.status == "sent" and item.attempts == 2 and sender.sent == ["halo"]


async def test_items_without_a_sender_wait_visibly(database, outbox_writer) -> None:
    worker = OutboxWorker(database, {Channel.TELEGRAM: FakeSender(channel=Channel.TELEGRAM)}, sqlite_writer=outbox_writer)
    await queue_replies(database, ["halo"])
    assert await worker.run_once() == 0
    (item,) = await items(database)
    assert item.status == "pending"


@asynccontextmanager
async def nudged_worker(database, outbox_writer) -> AsyncIterator[FakeSender]:
    """A running worker with a 30 s poll, woken by commits; yields its sender once it waits."""
    sender = FakeSender()
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, poll_interval=30)
    remove = on_enqueue_commit(database.engine, worker.nudge)
    worker.start()
    try:
        await asyncio.sleep(0.05)  # the worker is now waiting for up to 30 s
        yield sender
    finally:
        remove()
        await worker.stop()


async def queue_and_wait(database, sender: FakeSender, texts: list[str]) -> float:
    """Queue replies, wait (at most 3 s) until all are sent; returns the seconds it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    await queue_replies(database, texts)
    while len(sender.sent) < len(texts) and loop.time() - started < 3:
        await asyncio.sleep(0.005)
    return loop.time() - started


async def test_commit_nudges_the_running_worker(database, outbox_writer) -> None:
    async with nudged_worker(database, outbox_writer) as sender:
        elapsed = await queue_and_wait(database, sender, ["cepat"])
        assert sender.sent == ["cepat"]
        assert elapsed < 1.0


async def test_a_conversations_later_replies_follow_without_waiting_for_the_poll(database, outbox_writer) -> None:
    """Replies queued together leave one round after another (head of line), not one per poll."""
    async with nudged_worker(database, outbox_writer) as sender:
        elapsed = await queue_and_wait(database, sender, ["satu", "dua", "tiga"])
        assert sender.sent == ["satu", "dua", "tiga"]
        assert elapsed < 1.0
