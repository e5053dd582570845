"""The event bus over Redis pub/sub, so several desk instances share live events.

One Redis connection publishes; one ``PubSub`` connection per process
receives and fans out to local subscribers, so a thousand open console
websockets cost one Redis subscription per topic, not a thousand connections.
Channel names carry a prefix so deployments (and parallel test runs) sharing a
Redis never see each other's events.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)


class RedisEventBus:
    """An ``EventBus`` backed by Redis pub/sub."""

    def __init__(self, url: str, *, prefix: str = "aduan:", max_queue: int = 10_000) -> None:
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._max_queue = max_queue
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Publish ``event`` to every subscriber of ``topic`` in every instance."""
        await self._redis.publish(self.prefix + topic, json.dumps(event, default=str))

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Receive the events of ``topic`` for the duration of the ``async with`` block."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._max_queue)
        async with self._lock:
            first = not self._subscribers[topic]
            self._subscribers[topic].add(queue)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.get_running_loop().create_task(self._read(), name="redis-bus")
            if first:
                # Wait for Redis to confirm the subscription, so no event published
                # after subscribe() returns can be missed.
                confirmed = self._confirmed[self.prefix + topic] = asyncio.Event()
                await self._pubsub.subscribe(self.prefix + topic)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(confirmed.wait(), 5.0)
        try:
            yield _drain(queue)
        finally:
            async with self._lock:
                self._subscribers[topic].discard(queue)
                if not self._subscribers[topic]:
                    del self._subscribers[topic]
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(self.prefix + topic)

    async def _read(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.005)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis blip: log and keep reading
                log.exception("redis event bus read failed")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            if message.get("type") == "subscribe":
                confirmed = self._confirmed.pop(channel, None)
                if confirmed is not None:
                    confirmed.set()
                continue
            if message.get("type") != "message":
                continue
            topic = channel[len(self.prefix):]
            try:
                event = json.loads(message["data"])
            except ValueError:
                log.warning("ignored a malformed event on %s", topic)
                continue
            for queue in list(self._subscribers.get(topic, ())):
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    log.warning("slow subscriber on %s dropped an event", topic)

    async def ping(self) -> bool:
        """True if Redis answers."""
        try:
            return bool(await self._redis.ping())
        except Exception:  # noqa: BLE001
            return False

    async def close(self) -> None:
        """Stop reading and close both connections."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()


async def _drain(queue: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    while True:
        yield await queue.get()
