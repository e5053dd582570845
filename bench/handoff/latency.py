"""Handoff latency: the bot marks a handoff → the conversation shows up on a connected console.

Two processes, like production: the desk alone in one (Sanic on uvloop, the
real router, handoff queue, round-robin and ``/console/ws``), and "the world"
in this one: a fake Rasa that hands off on "sambungkan ke agen", the
borrowers' load generator and the staff consoles (websockets). Every
timestamp the table uses is taken here, on the system-wide monotonic clock,
so the desk's event loop never times itself.

Per database engine: a fresh schema, one observing agent (away) and
``--agents`` available agents (capacity ``--capacity``, round-robin on), all
signed in with a console websocket open. Each of ``--conversations``
borrowers first talks to the bot once (not timed: the conversations exist,
as they do when a borrower asks for a person), then all of them send
"sambungkan ke agen" at once. For each conversation the bench measures

* bot's handoff marker → console queue: from the moment the fake Rasa
  answered with the handoff marker to the moment the observing console
  received that conversation's ``handoff`` event (the target, p99 < 200 ms);
* handoff committed → console queue: from the desk publishing the handoff
  (right after its write committed; reported by the desk process) to the
  same console event; and the marker's path split in two: until the router
  has the bot's answer in hand, and from there until the publish;
* bot's handoff marker → assigned agent's console: for the conversations the
  round-robin gave to an agent, until that agent's console got ``assigned``.

The desk's outbox worker is off (nothing is sent to a channel) and office
hours are always open (no out-of-hours notice). PostgreSQL runs on a throw-away database created and dropped by the bench
(``--postgres-url`` names the server; never the shared ``test`` database).

Run: ``make bench-handoff`` (SQLite, plus PostgreSQL when reachable), or
``python -m bench.handoff.latency --conversations 100 [--engines sqlite,postgresql]
[--database-url postgresql+asyncpg://…/<throw-away db>]``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_P99_MS = 200.0
HANDOFF_TEXT = "sambungkan ke agen"
PASSWORD = "bench-password-1"
SERVICE_TOKEN = "bench-service-token"
DEFAULT_POSTGRES_URL = "postgresql://127.0.0.1:5432/postgres"


def now() -> float:
    """The clock both processes share (CLOCK_MONOTONIC is system-wide on Linux)."""
    return time.monotonic()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (q in 0..100)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- the desk process ------------------------------------------------------------------------------


class _AlwaysOpen:
    """Office hours that never close: no out-of-hours notice in the measured path."""

    def is_open(self, channel: str | None, at: Any) -> bool:
        return True

    def next_open(self, channel: str | None, at: Any) -> Any:
        return at

    def hours_text(self, channel: str | None) -> str:
        return ""


async def serve(database_url: str, rasa_url: str, agents: int, capacity: int) -> None:
    """Run the desk until stdin closes; print ``READY <port>``, then the publish times as JSON."""
    from sanic import Sanic

    from aduan.app import create_app
    from aduan.services import build_services
    from desk.config import Settings
    from handoff import auth, hours
    from handoff.config import HandoffSettings
    from handoff.models import User
    from aduan.registry import metadata

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = Settings(_env_file=None, database_url=database_url, rasa_url=rasa_url, public_base_url=base,
                        desk_service_token=SERVICE_TOKEN, session_secret="bench-session-secret-0123456789",
                        redis_url=None)
    services = build_services(settings)
    published: dict[str, float] = {}
    bus_publish = services.events.publish

    async def timed_publish(topic: str, event: dict[str, Any]) -> None:
        # The router publishes the handoff right after its transaction commits.
        if topic == "queue" and event.get("type") == "handoff":
            published.setdefault(str(event.get("conversation_id")), now())
        await bus_publish(topic, event)

    services.events.publish = timed_publish  # type: ignore[method-assign]
    answered: dict[str, float] = {}
    bot_send = services.bot.send  # type: ignore[union-attr]

    async def timed_send(sender: str, text: str, metadata: dict[str, Any]) -> Any:
        replies = await bot_send(sender, text, metadata)
        if text == HANDOFF_TEXT:
            answered.setdefault(sender, now())  # the router has the bot's answer in hand
        return replies

    services.bot.send = timed_send  # type: ignore[method-assign,union-attr]
    services.handoff = HandoffSettings(_env_file=None, handoff_auto_assign=agents > 0)
    async with services.db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    async with services.db.transaction() as session:
        await auth.create_user(session, username="watch", password=PASSWORD, role="agent")
        for i in range(agents):
            user = await auth.create_user(session, username=f"agent{i}", password=PASSWORD, role="agent",
                                          capacity=capacity)
            await session.flush()
            (await session.get(User, user.id)).available = True  # type: ignore[union-attr]
    hours.configure(_AlwaysOpen())
    Sanic.test_mode = True
    app = create_app(settings, services, name=f"bench_handoff_{uuid.uuid4().hex[:6]}", run_outbox=False)
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    print(f"READY {port}", flush=True)
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, sys.stdin.read)  # the world closes stdin when it is done
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
    print("PUBLISHED " + json.dumps(published), flush=True)
    print("ANSWERED " + json.dumps(answered), flush=True)


# -- the world process -------------------------------------------------------------------------------


@dataclass
class Run:
    """What one engine's run measured."""

    engine: str
    conversations: int
    wall: float = 0.0
    marked: dict[str, float] = field(default_factory=dict)      # public id -> bot's handoff marker
    seen: dict[str, float] = field(default_factory=dict)        # public id -> observer's handoff event
    assigned: dict[str, float] = field(default_factory=dict)    # public id -> agent's assigned event
    published: dict[str, float] = field(default_factory=dict)   # public id -> desk published the handoff
    answered: dict[str, float] = field(default_factory=dict)    # public id -> the router got the bot's answer
    error: str | None = None
    desk_cpu: float = 0.0  # CPU seconds the desk process used during the burst (Linux /proc)

    def rows(self) -> list[tuple[str, list[float]]]:
        by_id = self.marked
        return [
            ("bot's handoff marker -> console queue",
             [(self.seen[c] - by_id[c]) * 1000 for c in by_id if c in self.seen]),
            ("handoff committed -> console queue",
             [(self.seen[c] - self.published[c]) * 1000 for c in self.published if c in self.seen]),
            ("  of which: marker -> router has the answer",
             [(self.answered[c] - by_id[c]) * 1000 for c in by_id if c in self.answered]),
            ("  of which: router has answer -> published",
             [(self.published[c] - self.answered[c]) * 1000 for c in self.answered if c in self.published]),
            ("bot's handoff marker -> assigned agent",
             [(self.assigned[c] - by_id[c]) * 1000 for c in by_id if c in self.assigned]),
        ]


async def _post_message(port: int, sender: str, external_id: str, text: str) -> str:
    """One bare HTTP/1.1 request to the desk's inject endpoint; the conversation's public id."""
    body = json.dumps({"channel": "whatsapp", "sender": sender, "external_id": external_id,
                       "text": text}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /internal/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Authorization: Bearer " + SERVICE_TOKEN.encode() +
                 b"\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode(errors="replace"))
    return str(json.loads(payload)["conversation_id"])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _sign_in(base: str, username: str) -> str:
    """Sign in through the login form like a browser; the session cookie."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        page = await http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        login = await http.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        cookie = http.cookies.get("aduan_staff")
    if login.status_code not in (200, 302, 303) or not cookie:
        raise RuntimeError(f"sign-in of {username} failed: {login.status_code}")
    return str(cookie)


async def measure(engine: str, database_url: str, conversations: int, agents: int, capacity: int,
                  timeout: float) -> Run:
    """Start a desk process on ``database_url``, hand off ``conversations`` at once, collect the times."""
    import websockets

    from tests.desk.fake_rasa import FakeRasa

    run = Run(engine, conversations)
    handing_off = asyncio.Event()

    def bot(body: dict[str, Any]) -> list[dict[str, Any]]:
        sender = str(body.get("sender"))  # the desk sends the conversation's public id
        if body.get("message") != HANDOFF_TEXT:
            return [{"recipient_id": sender, "text": "Halo Kak, ada yang bisa kami bantu?"}]
        run.marked.setdefault(sender, now())  # the bot's answer carries the handoff marker now
        return [{"recipient_id": sender, "text": "Baik Kak, saya sambungkan ke petugas CS."},
                {"recipient_id": sender, "custom": {"handoff": {"reason": "request_human", "priority": "medium",
                                                                "category": "payment", "summary": {}}}}]

    rasa = FakeRasa(bot)
    await rasa.start()
    desk = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.handoff.latency", "--serve", "--database-url", database_url,
        "--rasa-url", rasa.url, "--agents", str(agents), "--capacity", str(capacity),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=str(Path(__file__).parents[2]))
    assert desk.stdin is not None and desk.stdout is not None
    try:
        port = 0
        while not port:
            line = await asyncio.wait_for(desk.stdout.readline(), 60)
            if not line:
                raise RuntimeError("the desk process exited before it was ready")
            if line.startswith(b"READY "):
                port = int(line.split()[1])
        base = f"http://127.0.0.1:{port}"
        expected_assigned = min(conversations, agents * capacity)
        cookies = {name: await _sign_in(base, name) for name in ["watch", *(f"agent{i}" for i in range(agents))]}
        consoles = []
        for name, cookie in cookies.items():
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/console/ws", max_queue=None,
                                          additional_headers={"Cookie": f"aduan_staff={cookie}"})
            hello = json.loads(await ws.recv())
            assert hello["topic"] == "hello", hello
            consoles.append((name, ws))

        done = asyncio.Event()

        def check_done() -> None:
            if len(run.seen) >= conversations and len(run.assigned) >= expected_assigned:
                done.set()

        async def listen(name: str, ws: Any) -> None:
            async for raw in ws:
                event = json.loads(raw)
                if not handing_off.is_set():
                    continue
                cid = event.get("conversation_id")
                if name == "watch" and event.get("type") == "handoff" and event.get("topic") == "queue":
                    run.seen.setdefault(cid, now())
                elif event.get("type") == "assigned" and event.get("topic") == "agent":
                    run.assigned.setdefault(cid, now())
                check_done()

        listeners = [asyncio.create_task(listen(name, ws)) for name, ws in consoles]
        senders = [f"+62811{i:07d}" for i in range(conversations)]
        warm = asyncio.Semaphore(10)

        async def warm_up(sender: str) -> None:
            async with warm:
                await _post_message(port, sender, f"warm-{sender}", "halo")

        await asyncio.gather(*(warm_up(s) for s in senders))
        await asyncio.sleep(0.5)  # let the desk settle before the burst
        cpu_before = _cpu_seconds(desk.pid)
        handing_off.set()
        started = now()

        async def hand_off(sender: str) -> None:
            await _post_message(port, sender, f"handoff-{sender}", HANDOFF_TEXT)

        await asyncio.gather(*(hand_off(s) for s in senders))
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except TimeoutError:
            pass
        run.wall = now() - started
        run.desk_cpu = _cpu_seconds(desk.pid) - cpu_before
        for task in listeners:
            task.cancel()
        for _, ws in consoles:
            await ws.close()
    except Exception as exc:  # noqa: BLE001 - report the engine's failure in the table, keep the others
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        desk.stdin.close()
        try:
            out = await asyncio.wait_for(desk.stdout.read(), 30)
        except TimeoutError:
            desk.send_signal(signal.SIGTERM)
            out = b""
        await desk.wait()
        await rasa.stop()
    for line in out.splitlines():
        if line.startswith(b"PUBLISHED "):
            run.published = json.loads(line[len(b"PUBLISHED "):])
        elif line.startswith(b"ANSWERED "):
            run.answered = json.loads(line[len(b"ANSWERED "):])
    return run


# -- PostgreSQL throw-away database --------------------------------------------------------------------


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url).set(drivername="postgresql")
    return (u.set(database=database) if database else u).render_as_string(hide_password=False)


async def create_throwaway(server_url: str) -> str | None:
    """Create an empty ``aduan_bench_handoff_<hex>`` database; its URL, or None when the server is unreachable."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"aduan_bench_handoff_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncio.wait_for(asyncpg.connect(_asyncpg_dsn(server_url)), 5)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(server_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False)


async def drop_throwaway(server_url: str, database_url: str) -> None:
    """Drop the database ``create_throwaway`` made."""
    import asyncpg

    from sqlalchemy.engine import make_url

    name = make_url(database_url).database or ""
    if not name.startswith("aduan_bench_handoff_"):
        raise ValueError(f"refusing to drop {name!r}: not a bench database")
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# -- the table --------------------------------------------------------------------------------------


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def print_table(runs: list[Run], agents: int, capacity: int, load_before: str) -> bool:
    """Print one table for every engine; True when every engine met the target."""
    conversations = runs[0].conversations if runs else 0
    print(f"\nHandoff latency, {conversations} conversations handed off at once "
          f"(desk in its own process; {agents} agents available x capacity {capacity}, round-robin on)")
    print(f"load average before {load_before}, after {_load()}")
    print(f"{'engine':<11}{'measured from -> to':<44}{'n':>5}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}  target p99 < {TARGET_P99_MS:.0f} ms")
    all_met = True
    for run in runs:
        if run.error:
            print(f"{run.engine:<11}failed: {run.error}")
            all_met = False
            continue
        for i, (label, values) in enumerate(run.rows()):
            verdict = ""
            if i == 0:
                met = bool(values) and percentile(values, 99) < TARGET_P99_MS and len(values) == run.conversations
                all_met = all_met and met
                verdict = "met" if met else "NOT met"
                if len(values) < run.conversations:
                    verdict += f" ({run.conversations - len(values)} never arrived)"
            if not values:
                print(f"{run.engine:<11}{label:<44}{0:>5}{'':>36}  {verdict}")
                continue
            print(f"{run.engine:<11}{label:<44}{len(values):>5}{statistics.median(values):>9.1f}"
                  f"{percentile(values, 90):>9.1f}{percentile(values, 99):>9.1f}{max(values):>9.1f}  {verdict}")
        print(f"{run.engine:<11}burst: wall {run.wall:.2f} s, desk process CPU {run.desk_cpu:.2f} s")
    return all_met


async def run_all(args: argparse.Namespace) -> int:
    """Measure every requested engine, one after the other, and print one table."""
    load_before = _load()
    runs: list[Run] = []
    skipped: list[str] = []
    for engine in args.engines:
        if engine == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(await measure("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.conversations,
                                          args.agents, args.capacity, args.timeout))
        elif args.database_url:
            runs.append(await measure("postgresql", args.database_url, args.conversations, args.agents,
                                      args.capacity, args.timeout))
        else:
            url = await create_throwaway(args.postgres_url)
            if url is None:
                skipped.append(f"postgresql: {args.postgres_url} not reachable, skipped")
                continue
            try:
                runs.append(await measure("postgresql", url, args.conversations, args.agents, args.capacity,
                                          args.timeout))
            finally:
                await drop_throwaway(args.postgres_url, url)
    print_table(runs, args.agents, args.capacity, load_before)
    for line in skipped:
        print(line)
    # The verdict is printed; the exit status only fails a run that lost handoffs or an engine
    # (a busy shared machine must not break `make bench`).
    broken = not runs or any(r.error or len(r.rows()[0][1]) < r.conversations for r in runs)
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--engines", default=None,
                        help="comma-separated: sqlite, postgresql (default: sqlite, or postgresql with --database-url)")
    parser.add_argument("--database-url", default=None,
                        help="an existing throw-away PostgreSQL database (its tables are dropped and recreated)")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
                        help="server where a throw-away database is created and dropped for --engines postgresql")
    parser.add_argument("--agents", type=int, default=4, help="available agents taking round-robin handoffs")
    parser.add_argument("--capacity", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=30.0)
    # The desk process (started by the bench itself).
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rasa-url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        import uvloop  # production Sanic runs on uvloop

        uvloop.run(serve(args.database_url, args.rasa_url, args.agents, args.capacity))
        return 0
    if not 1 <= args.conversations <= 1000:
        parser.error("--conversations must be between 1 and 1000")
    if args.database_url and not args.database_url.startswith("postgres"):
        parser.error("--database-url must be a PostgreSQL URL (SQLite always uses a throw-away file)")
    if args.database_url and args.database_url.rstrip("/").rsplit("/", 1)[-1] == "test":
        parser.error("refusing the shared 'test' database: pass a throw-away one")
    engines = args.engines or ("postgresql" if args.database_url else "sqlite")
    args.engines = [e.strip() for e in engines.split(",") if e.strip()]
    unknown = set(args.engines) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    return asyncio.run(run_all(args))


if __name__ == "__main__":
    sys.exit(main())
