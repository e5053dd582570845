"""Publish/subscribe between the desk's parts (and its instances).

The router publishes "a message arrived in conversation X" and "a handoff was
queued"; the agent console and the in-app websocket subscribe. The in-memory
bus serves one process; the Redis bus lets several desk instances share it.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from desk.config import Settings
from desk.events_redis import RedisEventBus


class EventBus(Protocol):
    """Fan-out of small JSON events by topic."""

    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str) -> Subscription: ...


class Subscription(Protocol):
    async def __aenter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def __aexit__(self, *exc: object) -> None: ...


class InMemoryEventBus:
    """A bus inside one process: every subscriber gets its own queue."""

    def __init__(self, max_queue: int = 10_000) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._max_queue = max_queue

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` to every current subscriber of ``topic``."""
        for queue in list(self._subscribers.get(topic, ())):
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Subscribe for the duration of the ``async with`` block."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._max_queue)
        self._subscribers[topic].add(queue)
        try:
            yield _drain(queue)
        finally:
            self._subscribers[topic].discard(queue)


async def _drain(queue: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    while True:
        yield await queue.get()


def build_event_bus(settings: Settings) -> EventBus:
    """The Redis bus when ``REDIS_URL`` is set (several instances), else the in-process bus."""
    if settings.redis_url:
        return RedisEventBus(settings.redis_url, prefix=settings.redis_prefix)
    return InMemoryEventBus()
