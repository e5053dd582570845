"""The bot client over several Rasa replicas: sticky, spread, failover, circuit (issue 17, item 4)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from aduan.services import build_services
from desk.botclient import BotClient, BotUnavailable
from desk.config import Settings
from desk.replicas import Ring
from tests.desk.fake_rasa import FakeRasa

META = {"channel": "inapp"}


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[FakeRasa, FakeRasa]]:
    a, b = FakeRasa(), FakeRasa()
    await a.start()
    await b.start()
    yield a, b
    await a.stop()
    await b.stop()


def senders_of(fake: FakeRasa) -> set[str]:
    return {c["sender"] for c in fake.calls}


async def test_each_conversation_stays_on_one_replica_and_both_get_some(replicas) -> None:
    a, b = replicas
    client = BotClient([a.url, b.url], timeout_seconds=2)
    try:
        for turn in range(3):
            for k in range(40):
                await client.send(f"conv-{k}", f"pesan {turn}", META)
    finally:
        await client.aclose()
    assert senders_of(a) and senders_of(b)
    assert not senders_of(a) & senders_of(b)  # sticky: no conversation on both
    ring = Ring([a.url, b.url])
    assert all(ring.preference(s)[0] == a.url for s in senders_of(a))


async def test_a_dead_replica_is_taken_out_and_its_conversation_goes_on_elsewhere(replicas) -> None:
    a, b = replicas
    client = BotClient([a.url, b.url], timeout_seconds=2, cooldown_seconds=60)
    ring = Ring([a.url, b.url])
    conversation = next(f"conv-{k}" for k in range(100) if ring.preference(f"conv-{k}")[0] == a.url)
    try:
        await client.send(conversation, "halo", META)
        assert senders_of(a) == {conversation}
        await a.stop()
        replies = await client.send(conversation, "masih di sana?", META)  # the same message, on b
        assert replies[0].text == "echo: masih di sana?"
        assert [c["message"] for c in b.calls] == ["masih di sana?"]
        assert client.ring.up() == [b.url]
        await a.start()  # back, but still cooling down: not used yet
        await client.send(conversation, "lagi", META)
        assert [c["message"] for c in a.calls] == ["halo"]
    finally:
        await client.aclose()


async def test_after_the_cooldown_a_health_check_takes_the_replica_back(replicas) -> None:
    a, b = replicas
    client = BotClient([a.url, b.url], timeout_seconds=2, cooldown_seconds=0.2)
    ring = Ring([a.url, b.url])
    conversation = next(f"conv-{k}" for k in range(100) if ring.preference(f"conv-{k}")[0] == a.url)
    try:
        await a.stop()
        await client.send(conversation, "satu", META)
        await a.start()
        await asyncio.sleep(0.3)
        await client.send(conversation, "dua", META)
        assert [c["message"] for c in a.calls] == ["dua"]
        assert sorted(client.ring.up()) == sorted([a.url, b.url])
    finally:
        await client.aclose()


async def test_every_replica_down_means_the_bot_is_unavailable(replicas) -> None:
    a, b = replicas
    client = BotClient([a.url, b.url], timeout_seconds=2)
    await a.stop()
    await b.stop()
    try:
        with pytest.raises(BotUnavailable):
            await client.send("c", "halo", META)
    finally:
        await client.aclose()


async def test_a_replica_that_answers_500_is_not_asked_twice(replicas) -> None:
    """A 5xx came from a Rasa that may have handled the message: not sent again elsewhere."""
    a, b = replicas
    a.status = b.status = 500
    client = BotClient([a.url, b.url], timeout_seconds=2)
    try:
        with pytest.raises(BotUnavailable):
            await client.send("c", "halo", META)
    finally:
        await client.aclose()
    assert len(a.calls) + len(b.calls) == 1


def test_settings_list_the_replicas() -> None:
    assert Settings(_env_file=None).rasa_servers == ["http://127.0.0.1:5005"]
    assert Settings(_env_file=None, rasa_url="http://rasa:5005").rasa_servers == ["http://rasa:5005"]
    both = Settings(_env_file=None, rasa_urls=" http://r1:5005, http://r2:5005 ,")
    assert both.rasa_servers == ["http://r1:5005", "http://r2:5005"]


async def test_the_desk_builds_its_bot_client_from_rasa_urls(tmp_path) -> None:  # noqa: ANN001
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'w.db'}",
                        rasa_urls="http://127.0.0.1:5001,http://127.0.0.1:5002", rasa_cooldown_seconds=7)
    services = build_services(settings)
    try:
        assert services.bot.ring.urls == ["http://127.0.0.1:5001", "http://127.0.0.1:5002"]
        assert services.bot.ring.cooldown == 7
    finally:
        await services.bot.aclose()
        await services.db.dispose()
