"""The outbox worker retries with backoff, gives up visibly, never sends twice, keeps order."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import AsyncIterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from desk.sender import ProviderError
from desk.messages import Channel, OutboundMessage
from desk.outbox import enqueue, on_enqueue_commit
from desk.outbox_worker import Backoff, OutboxWorker, count_failed, failed_items, failed_replies, requeue_failed
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


# -- outages of hours (a controllable clock, never a real wait) ------------------------


class Clock:
    """A clock the test moves; the worker reads every time from it."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@dataclass
class OutageSender:
    """Fails (retryably) while ``clock`` is before ``recovers_at``; records when each attempt came."""

    clock: Clock
    recovers_at: datetime
    channel: Channel = Channel.WHATSAPP
    retry_after: float | None = None
    attempts: list[datetime] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        self.attempts.append(self.clock.now)
        if self.clock.now < self.recovers_at:
            raise ProviderError("twilio answered 503 (code 20500)", retryable=True, retry_after=self.retry_after)
        self.sent.append(message.text)
        return f"SM{len(self.sent):04d}"


async def advance_until_settled(worker: OutboxWorker, clock: Clock, db, max_rounds: int = 1000) -> None:
    """Run a round, then move the clock to the next due attempt; stop when nothing is waiting."""
    for _ in range(max_rounds):
        await worker.run_once()
        waiting = [i for i in await items(db) if i.status in ("pending", "sending")]
        if not waiting:
            return
        due = min(i.next_attempt_at for i in waiting)
        due = due if due.tzinfo else due.replace(tzinfo=clock.now.tzinfo)
        clock.now = max(clock.now, due)
    raise AssertionError("outbox did not settle")


async def test_a_two_hour_provider_outage_delays_a_reply_but_never_loses_it(database, outbox_writer) -> None:
    """With the defaults a reply is retried for hours, never more than 15 minutes apart."""
    clock = Clock()
    sender = OutageSender(clock, recovers_at=clock.now + timedelta(hours=2))
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, clock=clock)
    await queue_replies(database, ["halo Kak"])
    await advance_until_settled(worker, clock, database)
    (item,) = await items(database)
    assert item.status == "sent" and sender.sent == ["halo Kak"]
    assert sender.attempts[-1] >= sender.recovers_at
    gaps = [(b - a).total_seconds() for a, b in zip(sender.attempts, sender.attempts[1:])]
    assert max(gaps) <= 900 and max(gaps) >= 450  # the cap was reached, and holds
    assert sender.attempts[-1] - sender.recovers_at <= timedelta(minutes=15)


async def test_a_reply_is_given_up_only_after_24_hours_and_that_is_logged(database, outbox_writer, caplog) -> None:
    clock = Clock()
    queued = clock.now
    sender = OutageSender(clock, recovers_at=clock.now + timedelta(days=30))
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, clock=clock,
                          rand=lambda: 1.0)  # the longest waits: fewest rounds
    await queue_replies(database, ["halo"])
    with caplog.at_level(logging.ERROR, logger="desk.outbox_worker"):
        await advance_until_settled(worker, clock, database)
    (item,) = await items(database)
    assert item.status == "failed" and item.last_error.startswith(f"after {len(sender.attempts)} attempt(s): ")
    assert timedelta(hours=24) <= sender.attempts[-1] - queued <= timedelta(hours=24, minutes=15)
    assert sender.attempts[-2] - queued < timedelta(hours=24)
    assert any("failed for good" in r.getMessage() and str(item.id) in r.getMessage() for r in caplog.records)
    async with database.session() as s:
        assert await count_failed(s) == 1


async def test_a_provider_wait_hint_is_honoured_for_the_item_and_its_channel(database, outbox_writer) -> None:
    """Told "retry after 10 s", the worker neither retries sooner nor sends anything else on that channel."""
    clock = Clock()
    start = clock.now
    limited = OutageSender(clock, recovers_at=clock.now + timedelta(seconds=1), retry_after=10)
    other = FakeSender(channel=Channel.TELEGRAM)
    worker = OutboxWorker(database, {Channel.WHATSAPP: limited, Channel.TELEGRAM: other},
                          sqlite_writer=outbox_writer, clock=clock, rand=lambda: 0.0)  # backoff alone: 1 s
    await queue_replies(database, ["pertama"], sender="+6281200000001")
    clock.now = start = utcnow()
    await worker.run_once()
    (item,) = await items(database)
    assert (item.next_attempt_at.replace(tzinfo=start.tzinfo) - start).total_seconds() >= 10
    await queue_replies(database, ["kedua"], sender="+6281200000002")  # another conversation, same channel
    async with database.transaction() as s:  # and one on Telegram
        conv = await find_or_open_conversation(s, "telegram", "5550001")
        await enqueue(s, conv, OutboundMessage(text="telegram"), author="bot")
    clock.now = start + timedelta(seconds=2)
    await worker.run_once()
    assert len(limited.attempts) == 1 and other.sent == ["telegram"]
    clock.now = start + timedelta(seconds=10)
    await worker.run_once()
    await worker.run_once()
    assert limited.sent == ["pertama", "kedua"]


async def test_a_failed_reply_can_be_requeued_once_and_is_then_sent(database, outbox_writer) -> None:
    sender = FakeSender(failures=1, retryable=False)
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, backoff=FAST)
    await queue_replies(database, ["halo"])
    await run_until_settled(worker, database)
    async with database.session() as s:
        (failed,) = await failed_replies(s)
    assert failed.attempts == 1 and failed.channel == "whatsapp" and "503" in failed.last_error
    async with database.transaction() as s:
        before = await requeue_failed(s, failed.id)
        again = await requeue_failed(s, failed.id)
    assert before == failed and again is None
    (item,) = await items(database)
    assert (item.status, item.attempts) == ("pending", 0)
    await run_until_settled(worker, database)
    (item,) = await items(database)
    assert item.status == "sent" and sender.sent == ["halo"]
    async with database.session() as s:
        assert await failed_replies(s) == [] and await count_failed(s) == 0


# -- database faults while recording (tests/faults found them; a seam, not a real outage) --


class Refusing:
    """Wraps one step of a worker: while ``down``, the database refuses the connection.

    ``_record`` is the step that writes send outcomes; ``_write`` is every write (claims
    too), as in a real outage.
    """

    def __init__(self, worker: OutboxWorker, step: str = "_record") -> None:
        self.down = False
        self.refused = 0
        self._step = getattr(worker, step)
        setattr(worker, step, self)

    async def __call__(self, *args, **kwargs):
        if self.down:
            self.refused += 1
            raise OperationalError("UPDATE outbox SET status=…", None,
                                   ConnectionRefusedError(111, "Connection refused"))
        return await self._step(*args, **kwargs)


async def a_round(worker: OutboxWorker) -> int | None:
    """One round as the worker's loop runs it: a failed round is the loop's to log (None)."""
    try:
        return await worker.run_once()
    except OperationalError:
        return None


async def wait_until(condition, seconds: float = 3.0) -> bool:
    """Poll ``condition`` (sync or async) until true or ``seconds`` pass; return the last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        done = condition()
        if asyncio.iscoroutine(done):
            done = await done
        if done or loop.time() >= deadline:
            return bool(done)
        await asyncio.sleep(0.01)


async def test_a_refused_record_is_kept_and_written_when_the_database_is_back(database, outbox_writer) -> None:
    """A 3 s blip while recording: nothing is sent twice and the conversation's next replies
    leave as soon as the record lands, not when the 120 s lease runs out."""
    clock = Clock()
    sender = FakeSender()
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, clock=clock)
    db = Refusing(worker)
    await queue_replies(database, ["satu", "dua", "tiga"])
    await queue_replies(database, ["lain"], sender="+6281200000009")
    clock.now = utcnow()
    db.down = True
    assert await a_round(worker) is None  # both heads sent, their record refused
    assert sender.sent == ["satu", "lain"]
    for _ in range(3):  # the outage lasts; a round every second
        clock.now += timedelta(seconds=1)
        await a_round(worker)
    assert sender.sent == ["satu", "lain"]
    db.down = False
    clock.now += timedelta(seconds=1)
    await a_round(worker)  # records what it kept, then sends "dua" in the same round
    await a_round(worker)
    assert sender.sent == ["satu", "lain", "dua", "tiga"]
    clock.now += timedelta(seconds=worker.lease_seconds + 1)  # no lease left to run out
    assert await worker.run_once() == 0
    assert sender.sent == ["satu", "lain", "dua", "tiga"]
    assert [(i.status, i.attempts) for i in await items(database)] == [("sent", 1)] * 4


async def test_a_record_outage_longer_than_the_lease_still_sends_once(database, outbox_writer) -> None:
    """Five minutes of refused records: the worker claims nothing until it has recorded what it
    knows, so its own expired leases are never sent again."""
    clock = Clock()
    sender = FakeSender()
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, clock=clock)
    db = Refusing(worker)
    await queue_replies(database, ["satu", "dua"])
    clock.now = utcnow()
    db.down = True
    await a_round(worker)
    for _ in range(10):
        clock.now += timedelta(seconds=30)
        await a_round(worker)
    db.down = False
    await a_round(worker)
    await a_round(worker)
    assert sender.sent == ["satu", "dua"]
    assert [(i.status, i.provider_message_id) for i in await items(database)] == [("sent", "SM0001"),
                                                                                  ("sent", "SM0002")]


@dataclass
class GatedSender:
    """Accepts at once, except the texts in ``hold``: those hang (a provider that never answers)."""

    hold: set[str] = field(default_factory=set)
    channel: Channel = Channel.WHATSAPP
    sent: list[str] = field(default_factory=list)

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        if message.text in self.hold:
            await asyncio.Event().wait()
        self.sent.append(message.text)
        return f"SM{len(self.sent):04d}"


async def test_a_crash_mid_batch_resends_only_what_was_still_in_flight(database, outbox_writer) -> None:
    """The kill -9 edge is one send per worker: an outcome is recorded as soon as its send
    returns, not after the slowest send of the batch."""
    clock = Clock()
    await queue_replies(database, ["lambat"], sender="+6281200000100")
    for i in range(5):
        await queue_replies(database, [f"cepat-{i}"], sender=f"+62812000002{i:02d}")
    clock.now = utcnow()
    first = GatedSender(hold={"lambat"})
    worker = OutboxWorker(database, {Channel.WHATSAPP: first}, sqlite_writer=outbox_writer, clock=clock)
    crashed = asyncio.create_task(worker.run_once())

    async def quick_ones_recorded() -> bool:
        return sum(i.status == "sent" for i in await items(database)) == 5

    await wait_until(quick_ones_recorded)
    crashed.cancel()  # the process dies: the hanging send never returns, nothing more is written
    with contextlib.suppress(asyncio.CancelledError):
        await crashed
    assert sorted(first.sent) == [f"cepat-{i}" for i in range(5)]

    clock.now += timedelta(seconds=worker.lease_seconds + 1)  # the replacement, after the lease
    second = GatedSender()
    restarted = OutboxWorker(database, {Channel.WHATSAPP: second}, sqlite_writer=outbox_writer, clock=clock)
    await restarted.drain()
    assert second.sent == ["lambat"]
    assert all(i.status == "sent" for i in await items(database))


async def test_a_database_outage_logs_a_warning_per_round_and_one_traceback(database, outbox_writer,
                                                                             caplog) -> None:
    """One WARNING line per failed round, naming the error class; the traceback once per outage."""
    sender = FakeSender()
    worker = OutboxWorker(database, {Channel.WHATSAPP: sender}, sqlite_writer=outbox_writer, poll_interval=0.01)
    db = Refusing(worker, "_write")

    async def all_sent() -> bool:
        return all(i.status == "sent" for i in await items(database))

    with caplog.at_level(logging.INFO, logger="desk.outbox_worker"):
        worker.start()
        try:
            for outage, text in enumerate(["halo", "lagi"], start=1):
                db.down = True
                await queue_replies(database, [text])
                assert await wait_until(lambda: db.refused >= 6 * outage)
                db.down = False
                assert await wait_until(all_sent)
        finally:
            await worker.stop()
    failed = [r for r in caplog.records if "outbox round failed" in r.getMessage()]
    assert len(failed) >= 6
    assert all(r.levelno == logging.WARNING and "OperationalError" in r.getMessage() for r in failed)
    assert len([r for r in failed if r.exc_info]) == 2  # one per outage
    assert sender.sent == ["halo", "lagi"]


async def test_a_held_outcome_does_not_overwrite_a_later_claim_of_another_worker(database, outbox_writer,
                                                                                   caplog) -> None:
    """Past the lease another instance may claim the item again; a late record must not mark
    that claim done while its send is in flight (the next reply would overtake it). It is logged."""
    clock = Clock()
    await queue_replies(database, ["satu", "dua"])
    clock.now = utcnow()
    worker = OutboxWorker(database, {Channel.WHATSAPP: FakeSender()}, sqlite_writer=outbox_writer, clock=clock)
    db = Refusing(worker)
    db.down = True
    await a_round(worker)  # "satu" sent, its record refused and held
    clock.now += timedelta(seconds=worker.lease_seconds + 1)
    other = OutboxWorker(database, {Channel.WHATSAPP: GatedSender(hold={"satu"})},
                         sqlite_writer=outbox_writer, clock=clock)
    other_round = asyncio.create_task(other.run_once())

    async def claimed_again() -> bool:
        return [i.attempts for i in await items(database)] == [2, 0]

    try:
        assert await wait_until(claimed_again)  # and its send hangs
        db.down = False
        with caplog.at_level(logging.WARNING, logger="desk.outbox_worker"):
            assert await worker.run_once() == 0  # records what it held; "dua" still waits
    finally:
        other_round.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await other_round
    assert [(i.status, i.attempts) for i in await items(database)] == [("sending", 2), ("pending", 0)]
    assert worker.held_outcomes == 0
    assert any("claimed again" in r.getMessage() for r in caplog.records)
