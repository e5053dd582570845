"""Desk service benchmark: bot-path overhead and human-path fan-out. Prints one table.

Bot path: the same messages sent (a) straight to Rasa's desk channel and (b)
through the desk service (store, route, call Rasa, store and queue replies);
latency at concurrency 1 (the overhead) and throughput at concurrency C.
Uses a real trained Rasa when one is found (bot/.venv and bot/models in this
worktree, /work/main or /work/wt-bot), else a fake Rasa with a fixed
per-message delay and limited parallelism, and says which.

Human path: conversations already handed to people; messages enter through
the desk's inbound endpoint and are timed until they arrive on a connected
websocket subscribed to the console's event-bus topic; lost = sent - arrived.

Everything runs on 127.0.0.1 with bounded counts and a time limit.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.desk.loadgen import Connection, Stats, no_collector_pauses  # noqa: E402

TOKEN = "bench-service-token-" + uuid.uuid4().hex[:8]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INAPP_SECRET = "bench-inapp-secret-" + uuid.uuid4().hex
TELEGRAM_SECRET = "bench-telegram-secret-" + uuid.uuid4().hex[:8]
CHAT_BASE = 700_000_000
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_http(port: int, path: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            line = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
            if line.startswith(b"HTTP/1.1 200"):
                return
        except (OSError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path} within {seconds}s")


RASA_SEARCH = (ROOT, Path("/work/main"), Path("/work/wt-bot"))


def find_real_rasa() -> Path | None:
    """The first ``bot/`` directory with both the bot's venv (``rasa``) and a trained model."""
    for base in RASA_SEARCH:
        bot = base / "bot"
        if (bot / ".venv" / "bin" / "rasa").exists() and (bot / "models" / "aduan.tar.gz").exists():
            return bot
    return None


def start_rasa(args: argparse.Namespace, port: int) -> tuple[subprocess.Popen[bytes], str]:
    bot = None if args.fake_rasa else find_real_rasa()
    if bot is not None:
        env = {**os.environ, "PYTHONPATH": str(bot), "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        proc = subprocess.Popen(
            [str(bot / ".venv" / "bin" / "rasa"), "run", "--model", "models/aduan.tar.gz", "--port", str(port),
             "--credentials", "credentials.yml", "--endpoints", "endpoints.yml", "--interface", "127.0.0.1"],
            cwd=bot, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return proc, f"REAL Rasa (trained model {bot / 'models' / 'aduan.tar.gz'})"
    proc = subprocess.Popen(
        [PY, "-m", "tests.desk.fake_rasa", "--port", str(port), "--delay", str(args.rasa_delay),
         "--capacity", str(args.rasa_capacity)],
        cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True)
    why = "--fake-rasa" if args.fake_rasa else (
        "no bot/.venv with a trained bot/models/aduan.tar.gz in " + ", ".join(str(p) for p in RASA_SEARCH))
    return proc, (f"FAKE Rasa ({args.rasa_delay * 1000:.0f} ms per message, "
                  f"{args.rasa_capacity} at a time; because: {why})")


async def prepare_database(url: str, human_conversations: int) -> list[str]:
    """Create the tables and the conversations already handed to people."""
    from storage.db import Database
    from storage.models import Conversation
    from aduan.registry import metadata

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    async with db.transaction() as session:
        convs = [Conversation(channel="telegram", sender=str(CHAT_BASE + k), mode="human")
                 for k in range(human_conversations)]
        session.add_all(convs)
    await db.dispose()
    return [c.clear_sender() for c in convs]


def pg_url() -> tuple[str, str]:
    import asyncpg

    name = f"aduan_bench_{uuid.uuid4().hex[:8]}"
    admin = os.environ.get("ADUAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

    async def create() -> None:
        conn = await asyncpg.connect(admin.replace("postgresql://", "postgres://"))
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    asyncio.run(create())
    return admin.rsplit("/", 1)[0] + "/" + name, name


def drop_pg(name: str) -> None:
    import asyncpg

    admin = os.environ.get("ADUAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

    async def drop() -> None:
        conn = await asyncpg.connect(admin.replace("postgresql://", "postgres://"))
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(drop())


# -- bot path -------------------------------------------------------------------------------

def answered_by_bot(payload: bytes) -> bool:
    """The desk's answer came from the bot (not a holding reply after a Rasa failure)."""
    data = json.loads(payload)
    return data.get("mode") == "bot" and bool(data.get("replies"))


async def closed_loop(port: int, path: str, make_body, total: int, concurrency: int,
                      headers, time_limit: float, check=None) -> Stats:
    """``headers``: one dict for every connection, or a function of the worker number.

    ``check(body) -> bool`` counts an answer as an error when false.
    """
    deadline = time.monotonic() + time_limit
    conns = [await Connection("127.0.0.1", port, headers(w) if callable(headers) else headers).open()
             for w in range(concurrency)]
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def worker(w: int, conn: Connection) -> None:
        nonlocal errors
        for i in counter:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            status, payload = await conn.post_json(path, make_body(w, i))
            if status != 200 or (check is not None and not check(payload)):
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w, c) for w, c in enumerate(conns)))
    wall = time.perf_counter() - t0
    for c in conns:
        await c.close()
    return Stats(latencies, wall, errors)


def rasa_body(run: str, via: str):
    """Direct messages, one Rasa sender per run and worker (as the desk has one conversation each),
    so both sides see trackers of the same length, with the metadata the desk sends for that
    entry: through the in-app API the borrower is verified (``customer_id`` = the token's ``sub``),
    and a real assistant may behave differently for a verified borrower."""
    def make(w: int, i: int) -> dict:
        sender = f"bench-direct-{run}-{w}"
        customer = f"bench-{run}-{w}" if via == "channels" else None
        return {"sender": sender, "message": "halo",
                "metadata": {"channel": "inapp", "conversation_id": sender, "customer_id": customer,
                             "phone": None}}
    return make


def desk_body(run: str, via: str):
    def internal(w: int, i: int) -> dict:
        return {"channel": "inapp", "sender": f"bench-{run}-{w}", "external_id": f"{run}-{w}-{i}-{uuid.uuid4().hex[:6]}",
                "text": "halo"}

    def inapp(w: int, i: int) -> dict:
        return {"text": "halo", "client_message_id": f"{run}-{w}-{i}-{uuid.uuid4().hex[:6]}"}

    return internal if via == "internal" else inapp


def desk_headers(run: str, via: str):
    """The in-app endpoint needs a token per borrower (what the lender's app backend mints)."""
    if via == "internal":
        return AUTH
    import jwt

    def for_worker(w: int) -> dict[str, str]:
        now = int(time.time())
        token = jwt.encode({"sub": f"bench-{run}-{w}", "iat": now, "exp": now + 3600}, INAPP_SECRET,
                           algorithm="HS256")
        return {"Authorization": f"Bearer {token}"}

    return for_worker


async def bot_path(args: argparse.Namespace, rasa_port: int, desk_port: int) -> dict[str, Stats]:
    deadline = args.time_limit
    out: dict[str, Stats] = {}
    path_rasa = "/webhooks/desk/webhook"
    path_desk = "/internal/v1/messages" if args.via == "internal" else "/chat/api/messages"
    via = args.via
    # Warm both paths (connection pools, caches, Rasa's first-message work).
    await closed_loop(rasa_port, path_rasa, rasa_body("warm", via), 30, 1, None, deadline)
    warm = await closed_loop(desk_port, path_desk, desk_body("warm", via), 30, 1, desk_headers("warm", via),
                             deadline, answered_by_bot)
    if warm.errors:
        print(f"warning: {warm.errors} of 30 warm-up messages were not answered by the bot", file=sys.stderr)
    out["direct_c1"] = await closed_loop(rasa_port, path_rasa, rasa_body("lat", via), args.latency_n, 1, None,
                                         deadline)
    out["desk_c1"] = await closed_loop(desk_port, path_desk, desk_body("lat", via), args.latency_n, 1,
                                       desk_headers("lat", via), deadline, answered_by_bot)
    out["direct_cN"] = await closed_loop(rasa_port, path_rasa, rasa_body("tp", via), args.throughput_n,
                                         args.bot_concurrency,
                                         None, deadline)
    out["desk_cN"] = await closed_loop(desk_port, path_desk, desk_body("tp", via), args.throughput_n,
                                       args.bot_concurrency, desk_headers("tp", via), deadline, answered_by_bot)
    return out


# -- human path -----------------------------------------------------------------------------

async def human_path(args: argparse.Namespace, desk_port: int, senders: list[str], *,
                     rate: float | None) -> tuple[Stats, int, int]:
    """Send ``args.human_n`` messages; time each until it arrives on the websocket.

    ``rate`` None: closed loop at ``args.concurrency`` (maximum throughput);
    otherwise open loop at ``rate`` messages per second (latency at that load).
    """
    import websockets

    run = uuid.uuid4().hex[:6]
    total = args.human_n
    sent_at: dict[int, float] = {}
    arrived: dict[int, float] = {}
    all_in = asyncio.Event()
    url = f"ws://127.0.0.1:{desk_port}/internal/ws/conversations?topic=queue"
    async with websockets.connect(url, additional_headers=AUTH, max_queue=None) as ws:
        assert json.loads(await ws.recv())["type"] == "subscribed"

        async def receive() -> None:
            prefix = f"hp:{run}:"
            async for frame in ws:
                now = time.perf_counter()
                for line in frame.splitlines():  # JSON Lines: one or more events per frame
                    event = json.loads(line)
                    text = event.get("text", "")
                    if event.get("type") == "message" and text.startswith(prefix):
                        arrived[int(text[len(prefix):])] = now
                if len(arrived) == total:
                    all_in.set()
                    return

        receiver = asyncio.create_task(receive())
        conns: asyncio.Queue[Connection] = asyncio.Queue()
        headers = AUTH if args.via == "internal" else {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        for _ in range(args.concurrency):
            conns.put_nowait(await Connection("127.0.0.1", desk_port, headers).open())
        errors = 0
        update_base = int(uuid.uuid4().int % 1_000_000) * 100_000

        def body(i: int) -> tuple[str, dict]:
            chat = senders[i % len(senders)]
            if args.via == "internal":
                return "/internal/v1/messages", {"channel": "telegram", "sender": chat,
                                                 "external_id": f"hp-{run}-{i}", "text": f"hp:{run}:{i}"}
            return "/webhooks/telegram", {
                "update_id": update_base + i,
                "message": {"message_id": i + 1, "date": int(time.time()), "text": f"hp:{run}:{i}",
                            "chat": {"id": int(chat), "type": "private"},
                            "from": {"id": int(chat), "is_bot": False, "first_name": "Budi"}}}

        async def send(i: int, planned: float) -> None:
            nonlocal errors
            conn = await conns.get()
            try:
                sent_at[i] = planned
                path, payload = body(i)
                status, _ = await conn.post_json(path, payload)
                if status != 200:
                    errors += 1
            finally:
                conns.put_nowait(conn)

        t0 = time.perf_counter()
        if rate is None:
            async def worker() -> None:
                for i in counter:
                    await send(i, time.perf_counter())
            counter = iter(range(total))
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        else:
            tasks = []
            for i in range(total):
                planned = t0 + i / rate
                delay = planned - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(i, planned)))
            await asyncio.gather(*tasks)
        try:
            await asyncio.wait_for(all_in.wait(), 5.0)
        except asyncio.TimeoutError:
            pass
        receiver.cancel()
        while not conns.empty():
            await conns.get_nowait().close()
    last = max(arrived.values()) if arrived else time.perf_counter()
    latencies = [arrived[i] - sent_at[i] for i in arrived if i in sent_at]
    return Stats(latencies, last - t0, errors), total - len(arrived), errors


# -- main -----------------------------------------------------------------------------------

def start_desk(db_url: str, rasa_port: int, desk_port: int, workdir: Path,
               profile: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url, "RASA_URL": f"http://127.0.0.1:{rasa_port}",
           "DESK_SERVICE_TOKEN": TOKEN, "INAPP_SIGNING_SECRET": INAPP_SECRET,
           "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET, "DESK_HOST": "127.0.0.1", "DESK_PORT": str(desk_port),
           # The production default (INFO): the bench pays for whatever the desk logs per message.
           "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    log = open(workdir / "desk.log", "wb")  # noqa: SIM115 - closed with the process
    # --profile-desk: pyinstrument samples the desk process; SIGUSR1 (see stop_desk) writes the report.
    argv = [PY, str(ROOT / "bench" / "desk" / "profiled_desk.py"), str(profile)] if profile else \
        [PY, "-m", "aduan.cli", "serve"]
    return subprocess.Popen(argv, cwd=workdir, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--fake-rasa", action="store_true", help="use the fake even if a real Rasa is found")
    parser.add_argument("--rasa-delay", type=float, default=0.02, help="fake Rasa seconds per message")
    parser.add_argument("--rasa-capacity", type=int, default=4, help="fake Rasa messages handled at once")
    parser.add_argument("--latency-n", type=int, default=300)
    parser.add_argument("--throughput-n", type=int, default=3000)
    parser.add_argument("--human-n", type=int, default=5000)
    parser.add_argument("--human-rate", type=float, default=1000.0)
    parser.add_argument("--concurrency", type=int, default=32, help="human path connections")
    parser.add_argument("--bot-concurrency", type=int, default=None,
                        help="bot path throughput run; default 32 with the fake Rasa, 4 with a real one "
                             "(a real Rasa on two cores answers a few messages a second; 32 queued "
                             "messages would pass the desk's Rasa timeout and be handed to people)")
    parser.add_argument("--time-limit", type=float, default=90.0, help="seconds per phase, at most")
    parser.add_argument("--via", choices=["channels", "internal"], default="channels",
                        help="channels: in-app API (bot path) and Telegram webhook (human path); "
                             "internal: POST /internal/v1/messages for both")
    parser.add_argument("--only", choices=["bot", "human"], default=None, help="run one path only (profiling)")
    parser.add_argument("--profile-desk", type=Path, default=None,
                        help="run the desk under pyinstrument (pip install pyinstrument) and write its text "
                             "report to this file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="aduan-bench-"))
    pg_name = None
    if args.db == "postgres":
        db_url, pg_name = pg_url()
    else:
        db_url = f"sqlite:///{workdir / 'bench.db'}"
    rasa = desk = None
    load_before = os.getloadavg()[0]
    try:
        senders = asyncio.run(prepare_database(db_url, 64))
        rasa_port, desk_port = free_port(), free_port()
        rasa, rasa_kind = start_rasa(args, rasa_port)
        if args.bot_concurrency is None:
            args.bot_concurrency = 4 if rasa_kind.startswith("REAL") else 32
        desk = start_desk(db_url, rasa_port, desk_port, workdir, args.profile_desk)
        asyncio.run(wait_http(rasa_port, "/", 240))
        asyncio.run(wait_http(desk_port, "/healthz", 60))

        async def run_all() -> tuple[dict[str, Stats], tuple, tuple]:
            empty = (Stats([], 1.0), 0, 0)
            bot = await bot_path(args, rasa_port, desk_port) if args.only != "human" else \
                {k: Stats([], 1.0) for k in ("direct_c1", "desk_c1", "direct_cN", "desk_cN")}
            if args.only == "bot":
                return bot, empty, empty
            closed = await human_path(args, desk_port, senders, rate=None)
            opened = await human_path(args, desk_port, senders, rate=args.human_rate)
            return bot, closed, opened

        try:
            import uvloop
            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        with no_collector_pauses():
            bot, (h_max, h_max_lost, h_max_err), (h_rate, h_rate_lost, h_rate_err) = runner(run_all())
    finally:
        if args.profile_desk and desk is not None and desk.poll() is None:
            desk.send_signal(signal.SIGUSR1)
            for _ in range(120):  # rendering the report takes a while on a busy machine
                time.sleep(0.5)
                if args.profile_desk.exists() and args.profile_desk.stat().st_size:
                    break
        stop(desk)
        stop(rasa)
        if pg_name:
            drop_pg(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)

    added_p50 = bot["desk_c1"].pct(50) - bot["direct_c1"].pct(50)
    ratio = bot["desk_cN"].throughput / bot["direct_cN"].throughput if bot["direct_cN"].throughput else 0
    bot_errors = bot["desk_c1"].errors + bot["desk_cN"].errors
    print()
    entry = ("in-app POST /chat/api/messages (bot path), Telegram webhook (human path)"
             if args.via == "channels" else "POST /internal/v1/messages")
    print(f"desk benchmark — database: {args.db}, entry: {entry}, cores: {os.cpu_count()}, "
          f"load average before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f}")
    print(f"bot path against: {rasa_kind}")
    print()
    print("| path | runs | p50 ms | p99 ms | msg/s | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, key in (("Rasa direct, 1 at a time", "direct_c1"), ("through desk, 1 at a time", "desk_c1"),
                       (f"Rasa direct, {args.bot_concurrency} at a time", "direct_cN"),
                       (f"through desk, {args.bot_concurrency} at a time", "desk_cN")):
        s = bot[key]
        print(f"| bot: {label} | {s.count} | {s.pct(50):.2f} | {s.pct(99):.2f} | {s.throughput:.0f} | {s.errors} |")
    print(f"| human: inbound → websocket, {args.concurrency} at a time (max) | {h_max.count} | "
          f"{h_max.pct(50):.2f} | {h_max.pct(99):.2f} | {h_max.throughput:.0f} | {h_max_err} |")
    print(f"| human: inbound → websocket, offered {args.human_rate:.0f}/s | {h_rate.count} | "
          f"{h_rate.pct(50):.2f} | {h_rate.pct(99):.2f} | {h_rate.throughput:.0f} | {h_rate_err} |")
    print()
    print("| target | measured | verdict |")
    print("| --- | --- | --- |")
    print(f"| bot path adds ≤ 5 ms at p50 | {added_p50:+.2f} ms | {verdict(added_p50 <= 5)} |")
    print(f"| bot path keeps ≥ 95% of direct throughput | {ratio * 100:.1f}% | {verdict(ratio >= 0.95)} |")
    print(f"| human path ≥ 1,000 msg/s | {h_max.throughput:.0f} msg/s | {verdict(h_max.throughput >= 1000)} |")
    p99 = max(h_max.pct(99), h_rate.pct(99))
    print(f"| human path p99 < 50 ms (at {args.human_rate:.0f}/s offered) | {h_rate.pct(99):.1f} ms | "
          f"{verdict(h_rate.pct(99) < 50)} |")
    lost = h_max_lost + h_rate_lost
    print(f"| bot path: every answer from the bot | {bot_errors} not | {verdict(bot_errors == 0)} |")
    print(f"| human path loses nothing | {lost} lost of {2 * args.human_n} | {verdict(lost == 0)} |")
    del p99
    return 0


if __name__ == "__main__":
    sys.exit(main())
