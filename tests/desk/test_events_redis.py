"""The Redis event bus carries events between desk instances (two buses, one Redis)."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from desk.events_redis import RedisEventBus
from tests.support.services import ensure_redis

pytestmark = pytest.mark.redis


@pytest.fixture
async def buses():
    ensure_redis()
    prefix = f"aduan-test-{uuid.uuid4().hex[:8]}:"
    a = RedisEventBus("redis://127.0.0.1:6379/0", prefix=prefix)
    b = RedisEventBus("redis://127.0.0.1:6379/0", prefix=prefix)
    yield a, b
    await a.close()
    await b.close()


async def test_event_published_on_one_instance_reaches_subscribers_of_another(buses) -> None:
    a, b = buses
    async with b.subscribe("queue") as s1, b.subscribe("queue") as s2, b.subscribe("conversation:x") as s3:
        await a.publish("queue", {"type": "message", "text": "halo"})
        await a.publish("conversation:x", {"type": "message", "text": "khusus"})
        assert await asyncio.wait_for(anext(s1), 2) == {"type": "message", "text": "halo"}
        assert await asyncio.wait_for(anext(s2), 2) == {"type": "message", "text": "halo"}
        assert await asyncio.wait_for(anext(s3), 2) == {"type": "message", "text": "khusus"}


async def test_order_is_kept_and_nothing_is_lost(buses) -> None:
    a, b = buses
    async with b.subscribe("queue") as stream:
        for i in range(500):
            await a.publish("queue", {"n": i})
        got = [(await asyncio.wait_for(anext(stream), 2))["n"] for _ in range(500)]
    assert got == list(range(500))


async def test_prefix_keeps_deployments_apart(buses) -> None:
    a, _ = buses
    other = RedisEventBus("redis://127.0.0.1:6379/0", prefix=f"other-{uuid.uuid4().hex[:8]}:")
    try:
        async with a.subscribe("queue") as stream:
            await other.publish("queue", {"from": "other"})
            await a.publish("queue", {"from": "mine"})
            assert await asyncio.wait_for(anext(stream), 2) == {"from": "mine"}
    finally:
        await other.close()
