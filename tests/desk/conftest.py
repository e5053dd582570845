"""Fixtures of the desk-core tests: a fake Rasa, a router wired to it, a fake handoff queue."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from desk.botclient import BotClient
from desk.events import InMemoryEventBus
from aduan.services import build_store
from desk.handoff_request import HandoffRequest, HandoffRow
from desk.router import Router
from desk.store import ConversationStore
from tests.desk.fake_rasa import FakeRasa


@dataclass
class FakeHandoffQueue:
    """A ``HandoffQueue`` that records what the store asked the human queue to do (and writes nothing)."""

    calls: list[tuple[int, HandoffRequest]] = field(default_factory=list)

    def plan(self, request: HandoffRequest, channel: str, at: Any) -> HandoffRow | None:
        return None  # always the reference path, so every request reaches ``enqueue``

    async def enqueue(self, session: Any, conversation: Any, request: HandoffRequest) -> None:
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
async def store(database, handoff_queue: FakeHandoffQueue) -> AsyncIterator[ConversationStore]:
    """The conversation store of the engine under test, as the app builds it (with a fake queue)."""
    built = build_store(database, handoff_queue)
    yield built
    await built.close()


@pytest.fixture
def router(store, bot, event_bus: InMemoryEventBus) -> Iterator[Router]:
    """The router as the app wires it."""
    yield Router(store=store, bot=bot, events=event_bus, max_message_chars=4096, bot_timeout_seconds=2.0)


@pytest.fixture
def unique_name() -> str:
    """A Sanic app name nobody else in this process uses."""
    return f"aduan_test_{uuid.uuid4().hex[:12]}"
