"""Handoff latency: the bot marks a handoff → the conversation shows up on a connected console websocket.

Starts, all on 127.0.0.1 and free ports: a fake Rasa that hands off on
"sambungkan ke agen", the real desk (router, handoff queue, console
websocket) on a throw-away SQLite file (or ``--database-url``), signs an agent
in, connects ``/console/ws`` like the browser does, then sends N borrowers'
"sambungkan ke agen" at once through the router. For each conversation it
measures from the moment the fake Rasa returned the handoff marker to the
moment the console websocket delivered that conversation's ``handoff`` event.

Run: ``make bench-handoff`` (or ``python -m bench.handoff.latency --conversations 100``).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets
from sanic import Sanic

from desk.app import build_services, create_app
from desk.config import Settings
from handoff import auth, hours
from handoff.config import HandoffSettings
from storage.registry import metadata
from tests.desk.fake_rasa import FakeRasa

TARGET_P99_MS = 200.0


class _Open:
    def is_open(self, channel: str | None, at: Any) -> bool:
        return True

    def next_open(self, channel: str | None, at: Any) -> Any:
        return at

    def hours_text(self, channel: str | None) -> str:
        return ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run(conversations: int, database_url: str | None, timeout: float) -> int:
    marked: dict[str, float] = {}

    def bot(body: dict[str, Any]) -> list[dict[str, Any]]:
        sender = str(body.get("sender"))
        marked[sender] = time.perf_counter()  # the bot's answer carries the handoff marker now
        return [{"recipient_id": sender, "text": "Baik Kak, saya sambungkan ke petugas CS."},
                {"recipient_id": sender, "custom": {"handoff": {"reason": "request_human", "priority": "medium",
                                                                "category": "payment", "summary": {}}}}]

    rasa = FakeRasa(bot)
    await rasa.start()
    tmp = tempfile.TemporaryDirectory()
    url = database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = Settings(_env_file=None, database_url=url, rasa_url=rasa.url, public_base_url=base,
                        desk_service_token="bench-service-token", session_secret="bench-session-secret-0123456789")
    services = build_services(settings)
    published: dict[str, float] = {}
    bus_publish = services.events.publish

    async def timed_publish(topic: str, event: dict[str, Any]) -> None:
        # The router publishes the handoff right after its transaction commits.
        if topic == "queue" and event.get("type") == "handoff":
            published.setdefault(str(event.get("conversation_id")), time.perf_counter())
        await bus_publish(topic, event)

    services.events.publish = timed_publish  # type: ignore[method-assign]
    services.extra["handoff_settings"] = HandoffSettings(_env_file=None, handoff_auto_assign=False)
    async with services.db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    async with services.db.transaction() as session:
        await auth.create_user(session, username="bench", password="bench-password-1", role="agent")
    hours.configure(_Open())
    Sanic.test_mode = True
    app = create_app(settings, services, name=f"bench_handoff_{uuid.uuid4().hex[:6]}", run_outbox=False)
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    seen: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     limits=httpx.Limits(max_connections=conversations)) as http:
            page = await http.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            login = await http.post("/login", data={"username": "bench", "password": "bench-password-1",
                                                    "csrf_token": token})
            cookie = http.cookies.get(auth.SESSION_COOKIE)
            assert login.status_code in (200, 302) and cookie, "sign-in failed"
            async with websockets.connect(f"ws://127.0.0.1:{port}/console/ws",
                                          additional_headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"}) as ws:
                assert json.loads(await ws.recv())["topic"] == "hello"

                async def listen() -> None:
                    async for raw in ws:
                        event = json.loads(raw)
                        if event.get("type") == "handoff" and event.get("conversation_id") not in seen:
                            seen[event["conversation_id"]] = time.perf_counter()
                            if len(seen) >= conversations:
                                return

                listener = asyncio.create_task(listen())
                headers = {"Authorization": "Bearer bench-service-token"}

                async def hand_off(i: int) -> str:
                    # A bare HTTP/1.1 request: the load generator shares the desk's event loop,
                    # so it must cost as little as possible.
                    body = json.dumps({"channel": "whatsapp", "sender": f"+62811{i:07d}",
                                       "external_id": f"bench-{i}", "text": "sambungkan ke agen"}).encode()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(b"POST /internal/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 b"Authorization: " + headers["Authorization"].encode() +
                                 b"\r\nContent-Type: application/json\r\nConnection: close\r\n"
                                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                    raw = await reader.read()
                    writer.close()
                    head, _, payload = raw.partition(b"\r\n\r\n")
                    if b" 200 " not in head.split(b"\r\n", 1)[0]:
                        raise RuntimeError(head.decode(errors="replace"))
                    return str(json.loads(payload)["conversation_id"])

                started = time.perf_counter()
                ids = await asyncio.gather(*(hand_off(i) for i in range(conversations)))
                try:
                    await asyncio.wait_for(listener, timeout)
                except TimeoutError:
                    pass
                wall = time.perf_counter() - started
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
        await rasa.stop()
        tmp.cleanup()

    engine = "postgresql" if url.startswith("postgres") else "sqlite"
    console = [(seen[c] - published[c]) * 1000 for c in ids if c in seen and c in published]
    end_to_end = [(seen[c] - marked[c]) * 1000 for c in ids if c in seen and c in marked]
    missing = conversations - len(console)
    print(f"\nHandoff latency, {conversations} conversations handed off at once ({engine}, wall {wall:.2f} s)")
    print(f"{'measured from -> to console websocket':<44}{'n':>5}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    rows = [("handoff committed (router marks it)", console),
            ("bot answered with the handoff marker", end_to_end)]
    for label, values in rows:
        if values:
            print(f"{label:<44}{len(values):>5}{statistics.median(values):>9.1f}{percentile(values, 90):>9.1f}"
                  f"{percentile(values, 99):>9.1f}{max(values):>9.1f}")
    if console:
        p99 = percentile(console, 99)
        print(f"target: p99 < {TARGET_P99_MS:.0f} ms from the handoff to the console: "
              f"{'met' if p99 < TARGET_P99_MS and not missing else 'NOT met'}")
    if missing:
        print(f"{missing} conversations never reached the console within {timeout}s")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="default: a throw-away SQLite file")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    if not 1 <= args.conversations <= 1000:
        parser.error("--conversations must be between 1 and 1000")
    return asyncio.run(run(args.conversations, args.database_url, args.timeout))


if __name__ == "__main__":
    sys.exit(main())
