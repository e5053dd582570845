"""Channel benchmark: webhook answer latency per channel, outbox delivery rate, in-app push latency.

Everything runs on 127.0.0.1: a real desk app (router, bot client, outbox
worker) with the fake Rasa, Twilio and Telegram from tests/. Bounded in count
(``--n``) and concurrency (``--concurrency``). Prints one table.

    .venv/bin/python -m bench.channels_webhooks --n 300 --concurrency 20 [--database-url postgresql://…]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from connectors.inapp import mint_token
from aduan.app import create_app
from aduan.services import build_services
from desk.config import Settings
from desk.events import InMemoryEventBus
from desk.messages import OutboundMessage
from desk.outbox import enqueue
from storage.db import Database
from storage.models import Conversation, Message, OutboxItem, OutboxStatus
from aduan.registry import metadata
from tests.channels.support import serve, telegram_message_update, twilio_form, twilio_signature
from tests.desk.fake_rasa import FakeRasa
from tests.fakes import FakeTelegram, FakeTwilio

PUBLIC = "https://desk.example.test"
TOKEN = "123456:bench-token"


def greet(body: dict) -> list[dict]:
    return [{"text": "Halo Kak, ada yang bisa kami bantu?",
             "buttons": [{"title": "Cek tagihan", "payload": "/ask_bill_amount"},
                         {"title": "Buat pengaduan", "payload": "/complain_payment"}]}]


async def timed_batch(n: int, concurrency: int, one: Callable[[int], Awaitable[int]]) -> tuple[list[float], float, int]:
    """Run ``one(i)`` n times, at most ``concurrency`` at once; latencies (ms), wall time (s), non-2xx count."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async def run(i: int) -> None:
        nonlocal errors
        async with gate:
            started = time.perf_counter()
            status = await one(i)
            latencies.append((time.perf_counter() - started) * 1000)
            if not 200 <= status < 300:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(n)))
    return latencies, time.perf_counter() - started, errors


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main(n: int, concurrency: int, database_url: str | None) -> None:
    tmp = tempfile.TemporaryDirectory()
    url = database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    await db.dispose()

    rasa = FakeRasa(greet)
    await rasa.start()
    with FakeTwilio() as twilio, FakeTelegram(token=TOKEN) as telegram:
        settings = Settings(_env_file=None, database_url=url, public_base_url=PUBLIC,
                            twilio_auth_token="bench-twilio-token", twilio_api_base=twilio.base_url,
                            telegram_bot_token=TOKEN, telegram_api_base=telegram.base_url,
                            telegram_secret_token="bench-secret", rasa_url=rasa.url,
                            inapp_signing_secret="bench-inapp-signing-secret-0123456789abcdef")
        services = build_services(settings, events=InMemoryEventBus())
        app = create_app(settings, services, name=f"bench_{uuid.uuid4().hex[:8]}", run_outbox=False)
        app.config.MOTD = False
        rows: list[tuple[str, int, float, float, float, float, int]] = []
        async with serve(app) as base:
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

                async def whatsapp(i: int) -> int:
                    sid = f"SM{uuid.uuid4().hex}"
                    form = twilio_form(From=f"whatsapp:+62812{i:08d}", MessageSid=sid, SmsMessageSid=sid,
                                       Body=f"halo {i}")
                    sig = twilio_signature(settings.twilio_auth_token, PUBLIC + "/webhooks/whatsapp", form)
                    r = await client.post("/webhooks/whatsapp", data=form, headers={"X-Twilio-Signature": sig})
                    return r.status_code

                async def telegram_update(i: int) -> int:
                    update = telegram_message_update(100_000 + i, 7_000_000 + i, f"halo {i}")
                    r = await client.post("/webhooks/telegram", json=update,
                                          headers={"X-Telegram-Bot-Api-Secret-Token": "bench-secret"})
                    return r.status_code

                tokens = [mint_token(settings, f"BENCH-{i:05d}") for i in range(n)]

                async def inapp(i: int) -> int:
                    r = await client.post("/chat/api/messages", json={"text": f"halo {i}",
                                          "client_message_id": str(uuid.uuid4())},
                                          headers={"Authorization": f"Bearer {tokens[i]}"})
                    return r.status_code if r.status_code != 200 or r.json()["replies"] else 599

                for name, one in (("whatsapp webhook", whatsapp), ("telegram webhook", telegram_update),
                                  ("in-app POST (with replies)", inapp)):
                    lat, wall, errors = await timed_batch(n, concurrency, one)
                    rows.append((name, n, statistics.median(lat), pct(lat, 95), pct(lat, 99), n / wall, errors))

            # Outbox: every reply queued above leaves through the real SDKs to the fakes.
            assert services.outbox is not None
            started = time.perf_counter()
            sent = await services.outbox.drain()
            wall = time.perf_counter() - started
            delivered = len(twilio.messages) + len(telegram.sent_messages)
            # Errors: replies left undelivered, and provider replies the fakes never received. Counted
            # from the outbox, not from an assumed number of replies per message (the first-contact
            # notice adds one to each conversation's first answer).
            async with services.db.session() as session:
                unsent = await session.scalar(select(func.count()).select_from(OutboxItem)
                                              .where(OutboxItem.status != OutboxStatus.SENT.value))
                provider_sent = await session.scalar(select(func.count()).select_from(OutboxItem).where(
                    OutboxItem.status == OutboxStatus.SENT.value, OutboxItem.channel.in_(("whatsapp", "telegram"))))
            rows.append((f"outbox drain ({sent} items, all channels)", sent, float("nan"), float("nan"),
                         float("nan"), sent / wall, unsent + abs(provider_sent - delivered)))

            # In-app push: agent message committed → outbox → bus → websocket frame.
            customer = "BENCH-00000"
            push_lat: list[float] = []
            async with services.db.session() as session:
                conv_id = await session.scalar(select(Conversation.id).where(
                    Conversation.sender_is(customer, "inapp")))
                last_id = await session.scalar(select(func.max(Message.id)))
            ws_url = base.replace("http://", "ws://") + f"/chat/ws?token={tokens[0]}&after={last_id}"
            async with connect(ws_url) as ws:
                json.loads(await ws.recv())  # ready
                pushes = min(n, 100)
                for i in range(pushes):
                    started = time.perf_counter()
                    async with services.db.transaction() as session:
                        conversation = await session.get(Conversation, conv_id)
                        await enqueue(session, conversation, OutboundMessage(text=f"agen {i}"), author="agent")
                    await services.outbox.drain()
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert frame["message"]["text"] == f"agen {i}"
                    push_lat.append((time.perf_counter() - started) * 1000)
            rows.append(("in-app agent push (store→outbox→ws)", pushes, statistics.median(push_lat),
                         pct(push_lat, 95), pct(push_lat, 99), pushes / (sum(push_lat) / 1000), 0))
    await rasa.stop()
    tmp.cleanup()

    engine = "postgresql" if url.startswith("postgres") else "sqlite"
    print(f"\nchannels bench — {engine}, n={n}, concurrency={concurrency}, all on 127.0.0.1\n")
    print(f"| {'scenario':<40} | {'n':>5} | {'p50 ms':>7} | {'p95 ms':>7} | {'p99 ms':>7} | {'per s':>7} | {'errors':>6} |")
    print(f"|{'-' * 42}|{'-' * 7}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 8}|")
    for name, count, p50, p95, p99, rate, errors in rows:
        def f(x: float) -> str:
            return "-" if x != x else f"{x:.1f}"
        print(f"| {name:<40} | {count:>5} | {f(p50):>7} | {f(p95):>7} | {f(p99):>7} | {rate:>7.0f} | {errors:>6} |")


if __name__ == "__main__":
    import logging
    import warnings

    logging.basicConfig(level=logging.WARNING)
    for name in ("sanic.root", "sanic.access", "sanic.server"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="requests per channel (max 5000)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(main(min(args.n, 5000), max(1, args.concurrency), args.database_url))
