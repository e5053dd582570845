"""Fixtures of the desk-core tests: a fake Rasa, a router wired to it, a fake handoff queue."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from desk.botclient import BotClient
from desk.events import InMemoryEventBus
from desk.handoff_request import HandoffRequest
from desk.router import Router
from desk.sqlite_fastpath import SqliteInboundWriter
from tests.desk.fake_rasa import FakeRasa


@dataclass
class FakeHandoffQueue:
    """Records what the router asked the human queue to do."""

    calls: list[tuple[int, HandoffRequest]] = field(default_factory=list)

    async def __call__(self, session: Any, conversation: Any, request: HandoffRequest) -> None:
        self.calls.append((conversation.id, request))


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    fake = FakeRasa()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def handoff_queue() -> FakeHandoffQueue:
    return FakeHandoffQueue()


@pytest.fixture
async def bot(fake_rasa: FakeRasa) -> AsyncIterator[BotClient]:
    client = BotClient(fake_rasa.url, timeout_seconds=2.0)
    yield client
    await client.aclose()


@pytest.fixture
def router(database, database_url, bot, event_bus: InMemoryEventBus,
           handoff_queue: FakeHandoffQueue) -> Iterator[Router]:
    """The router as the app wires it (with the SQLite fast path on SQLite)."""
    writer = SqliteInboundWriter(database_url) if database.is_sqlite else None
    yield Router(db=database, bot=bot, events=event_bus, enqueue_handoff=handoff_queue,
                 max_message_chars=4096, bot_timeout_seconds=2.0, sqlite_writer=writer)
    if writer is not None:
        writer.close()


@pytest.fixture
def unique_name() -> str:
    """A Sanic app name nobody else in this process uses."""
    return f"aduan_test_{uuid.uuid4().hex[:12]}"
