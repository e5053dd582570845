"""Bot path through the desk with 1 and 2 Rasa replicas, side by side in one run. Prints one table.

Two Rasa replicas (the trained model; ``--fake-rasa`` for the smoke run) share
a Redis tracker store and Rasa's Redis lock store (bot/endpoints.redis.yml),
with one action server. Two desks run at once on their own SQLite files: one
with ``RASA_URLS`` naming the first replica only, one naming both. Both are
sent the same borrower messages through ``POST /internal/v1/messages``, closed
loop at ``--concurrency``, in alternating rounds (who goes first alternates),
so a change in the shared machine's load hits both alike. Every message is
from one of 64 conversations, so the desk spreads them over the replicas.

Columns: messages per second, p50 and p99 of the whole turn (desk + Rasa +
actions), errors (an answer that was not the bot's). Then the ratio, the
memory (RSS) of each replica, and the machine's core count: every turn is
CPU work in a Rasa process, so the ratio is bounded by the cores free for
the second replica, not by the desk.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.desk.bench_desk import (  # noqa: E402
    AUTH,
    INAPP_SECRET,
    PY,
    TOKEN,
    answered_by_bot,
    closed_loop,
    find_real_rasa,
    free_port,
    prepare_database,
    stop,
    wait_http,
)
from bench.desk.loadgen import Stats, no_collector_pauses  # noqa: E402

CONVERSATIONS = 64


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Rasa forks helpers), in MB."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-g", str(os.getpgid(pid))], capture_output=True, text=True).stdout
        pids = sorted({pid, *(int(p) for p in children.split())})
    except (OSError, ValueError):
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def start_replicas(args: argparse.Namespace, work: Path, count: int) -> tuple[list[subprocess.Popen[bytes]],
                                                                            list[int], str]:
    """``count`` Rasa replicas (and one action server) sharing Redis tracker and lock stores."""
    procs: list[subprocess.Popen[bytes]] = []
    ports = [free_port() for _ in range(count)]
    bot = None if args.fake_rasa else find_real_rasa()
    if bot is None:
        for port in ports:
            procs.append(subprocess.Popen(
                [PY, "-m", "tests.desk.fake_rasa", "--port", str(port), "--delay", str(args.rasa_delay),
                 "--capacity", str(args.rasa_capacity)], cwd=ROOT, stdout=subprocess.DEVNULL,
                start_new_session=True))
        why = "--fake-rasa" if args.fake_rasa else "no bot/.venv with a trained model found"
        return procs, ports, (f"FAKE Rasa ({args.rasa_delay * 1000:.0f} ms per message, {args.rasa_capacity} at "
                              f"a time per replica; because: {why})")
    actions_port = free_port()
    env = {**os.environ, "PYTHONPATH": str(bot), "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
           "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false",
           "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{actions_port}/webhook",
           "REDIS_HOST": args.redis_host,
           "RASA_REDIS_PREFIX": f"benchscale{uuid.uuid4().hex[:8]}"}
    procs.append(subprocess.Popen(
        [str(bot / ".venv" / "bin" / "rasa"), "run", "actions", "--actions", "actions", "--port", str(actions_port)],
        cwd=bot, env=env, stdout=(work / "actions.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True))
    for i, port in enumerate(ports):
        procs.append(subprocess.Popen(
            [str(bot / ".venv" / "bin" / "rasa"), "run", "--model", "models/aduan.tar.gz", "--port", str(port),
             "--credentials", "credentials.yml", "--endpoints", "endpoints.redis.yml", "--interface", "127.0.0.1"],
            cwd=bot, env=env, stdout=(work / f"rasa{i + 1}.log").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True))
    return procs, ports, (f"REAL Rasa ({bot / 'models' / 'aduan.tar.gz'}; Redis tracker and lock stores, "
                          f"bot/endpoints.redis.yml)")


def start_desk(db_url: str, rasa_ports: list[int], desk_port: int, work: Path, name: str,
               timeout: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url,
           "RASA_URLS": ",".join(f"http://127.0.0.1:{p}" for p in rasa_ports),
           "RASA_TIMEOUT_SECONDS": str(timeout),
           "DESK_SERVICE_TOKEN": TOKEN, "INAPP_SIGNING_SECRET": INAPP_SECRET,
           "DESK_HOST": "127.0.0.1", "DESK_PORT": str(desk_port), "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    env.pop("RASA_URL", None)
    return subprocess.Popen([PY, "-m", "aduan.cli", "serve"], cwd=work, env=env,
                            stdout=(work / f"{name}.log").open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def body(run: str):
    def make(w: int, i: int) -> dict:
        # Consecutive messages come from different conversations: the ones in flight at once never share one.
        return {"channel": "inapp", "sender": f"scale-{run}-{i % CONVERSATIONS}",
                "external_id": f"{run}-{i}-{uuid.uuid4().hex[:6]}", "text": "halo"}
    return make


async def measure(args: argparse.Namespace, desks: dict[str, int]) -> dict[str, Stats]:
    """Alternating rounds; latencies and wall times pooled per desk."""
    for label, port in desks.items():  # warm: connection pools, every conversation's tracker
        await closed_loop(port, "/internal/v1/messages", body(f"warm{label[0]}"), CONVERSATIONS,
                          min(args.concurrency, CONVERSATIONS), AUTH, args.time_limit, answered_by_bot)
    pooled = {label: Stats([], 0.0, 0) for label in desks}
    per_round = max(1, args.messages // args.rounds)
    names = list(desks)
    run = uuid.uuid4().hex[:6]
    for r in range(args.rounds):
        for label in (names if r % 2 == 0 else names[::-1]):
            stats = await closed_loop(desks[label], "/internal/v1/messages", body(f"{run}{label[0]}"), per_round,
                                      args.concurrency, AUTH, args.time_limit, answered_by_bot)
            acc = pooled[label]
            acc.latencies.extend(stats.latencies)
            acc.wall += stats.wall
            acc.errors += stats.errors
    return pooled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake-rasa", action="store_true", help="fake Rasa replicas (the smoke run)")
    parser.add_argument("--rasa-delay", type=float, default=0.02, help="fake Rasa seconds per message")
    parser.add_argument("--rasa-capacity", type=int, default=2, help="fake Rasa messages handled at once")
    parser.add_argument("--messages", type=int, default=600, help="messages per desk, over all rounds")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per round, at most")
    parser.add_argument("--rasa-timeout", type=float, default=30.0,
                        help="the desks' RASA_TIMEOUT_SECONDS (a loaded 2-core machine is slow)")
    parser.add_argument("--redis-host", default="127.0.0.1")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aduan-bench-scale-"))
    load_before = os.getloadavg()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        rasa_procs, rasa_ports, kind = start_replicas(args, work, 2)
        procs += rasa_procs
        desks: dict[str, int] = {}
        for label, ports in (("1 replica", rasa_ports[:1]), ("2 replicas", rasa_ports)):
            db_url = f"sqlite:///{work / (label[0] + '.db')}"
            asyncio.run(prepare_database(db_url, 0))
            desks[label] = free_port()
            procs.append(start_desk(db_url, ports, desks[label], work, f"desk{label[0]}", args.rasa_timeout))
        started = time.monotonic()
        for port in rasa_ports:
            asyncio.run(wait_http(port, "/", 600))
        for port in desks.values():
            asyncio.run(wait_http(port, "/healthz", 120))
        loaded = time.monotonic() - started
        with no_collector_pauses():
            results = asyncio.run(measure(args, desks))
        memory = [rss_mb(p.pid) for p in rasa_procs[-2:]]
    except (RuntimeError, OSError) as exc:
        print(f"bench-scale: FAILED: {exc}; logs kept in {work}", file=sys.stderr)
        for p in procs:
            stop(p)
        return 1
    finally:
        for p in procs:
            stop(p)
    shutil.rmtree(work, ignore_errors=True)

    cores = os.cpu_count() or 0
    print()
    print(f"bot path through the desk, {args.messages} messages per desk over {args.rounds} alternating rounds, "
          f"{args.concurrency} at a time, {CONVERSATIONS} conversations")
    print(f"against: {kind}; replicas loaded in {loaded:.0f} s")
    print(f"cores (nproc): {cores}; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print()
    print("| replicas | msg/s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, s in results.items():
        print(f"| {label} | {s.throughput:.1f} | {s.pct(50):.1f} | {s.pct(99):.1f} | {s.errors} |")
    one, two = results["1 replica"], results["2 replicas"]
    ratio = two.throughput / one.throughput if one.throughput else float("nan")
    print()
    print(f"2 replicas / 1 replica: {ratio:.2f}x msg/s; p99 {two.pct(99) / one.pct(99):.2f}x")
    print("memory per replica (RSS, with its child processes): "
          + ", ".join(f"replica {i + 1} {mb:.0f} MB" for i, mb in enumerate(memory)))
    print(f"The ratio is bounded by cores: this machine has {cores}, shared by the desk, the action server, "
          f"the load generator and both replicas (and other people's jobs). A replica is one Rasa process and "
          f"uses at most about one core; with a core free per added replica the ratio approaches the number "
          f"of replicas.")
    return 0 if one.errors + two.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
