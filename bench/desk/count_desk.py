"""Load-proof counts of what one desk message costs, for one or more checkouts.

    .venv/bin/python bench/desk/count_desk.py TREE [TREE ...] [--messages 200] [--db sqlite]
        [--path bot|human] [--concurrency 1] [--rate R] [--nlu] [--callgrind] [--statements]

For each checkout: a fresh database, the fake Rasa, and that checkout's desk
under ``bench/desk/counted_desk.py`` (this tree's; the desk's code is the
checkout's, through ``PYTHONPATH``). After a warm-up and the conversations'
first messages, ``--messages`` go through (bot path: in-app API, one
conversation per connection; human path: Telegram webhook into conversations
handed to people, timed to the queue websocket). Then an idle window of the
same length is counted and subtracted, so the desk's timers (sweeper, polls,
schedulers) do not count as per-message work. Printed per message: SQL
statements per thread, thread hand-offs, SQLite writer-thread hops with their
CPU and queueing, garbage collections, CPU time of the desk process, Python
calls on the event loop's thread and, with ``--callgrind``, instructions per
thread; then the functions whose call counts differ most between the first
checkout and each other. Counts do not depend on the machine's load; the CPU
time and latency printed next to them do.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.desk import bench_desk as bd  # noqa: E402

PREPARE = """
import asyncio, sys
from pathlib import Path
if Path("aduan/registry.py").exists():
    from aduan.registry import metadata
else:
    from storage.registry import metadata
from storage.db import Database

from storage.models import Conversation

async def main(url):
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with db.transaction() as session:  # the human path's conversations (bench_desk.prepare_database)
        session.add_all([Conversation(channel="telegram", sender=str(%d + k), mode="human") for k in range(64)])
    await db.dispose()

asyncio.run(main(sys.argv[1]))
"""


def subtract(measured: Any, idle: Any, scale: float) -> Any:
    """``measured`` minus ``scale`` × ``idle``, key by key (numbers and nested dicts of numbers)."""
    if isinstance(measured, dict):
        keys = set(measured) | set(idle or {})
        return {k: subtract(measured.get(k, 0), (idle or {}).get(k, 0), scale) for k in keys}
    if isinstance(measured, (int, float)) and isinstance(idle, (int, float)):
        return measured - scale * idle
    return measured


def callgrind_totals(workdir: Path, name: str) -> dict[str, int]:
    """Instructions per thread in the dump named ``name`` (``callgrind_control --dump=NAME``)."""
    totals: dict[str, int] = {}
    for f in sorted(workdir.glob("cg.out*")):
        text = f.read_text(errors="replace")
        if f"desc: Trigger: dump {name}\n" not in text:
            continue
        thread = re.search(r"^thread: (\d+)", text, re.M)
        total = re.search(r"^summary: (\d+)", text, re.M)
        if total:
            totals[f"thread {thread.group(1) if thread else '?'}"] = int(total.group(1))
    return totals


def measure(tree: Path, args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="aduan-count-"))
    pg_name = None
    if args.db == "postgres":
        db_url, pg_name = bd.pg_url()
    else:
        db_url = f"sqlite:///{workdir / 'bench.db'}"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    rasa = desk = None
    out = workdir / "counts.json"
    try:
        subprocess.run([sys.executable, "-c", PREPARE % bd.CHAT_BASE, db_url], cwd=tree, env=env, check=True)
        rasa_port, desk_port = bd.free_port(), bd.free_port()
        rasa = subprocess.Popen([sys.executable, "-m", "tests.desk.fake_rasa", "--port", str(rasa_port),
                                 "--delay", str(args.rasa_delay), "--capacity", "4",
                                 *(["--nlu"] if args.nlu else [])],
                                cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True)
        desk_env = {**env, "DATABASE_URL": db_url, "RASA_URL": f"http://127.0.0.1:{rasa_port}",
                    "DESK_SERVICE_TOKEN": bd.TOKEN, "INAPP_SIGNING_SECRET": bd.INAPP_SECRET,
                    "TELEGRAM_SECRET_TOKEN": bd.TELEGRAM_SECRET, "DESK_HOST": "127.0.0.1",
                    "DESK_PORT": str(desk_port), "LOG_LEVEL": "INFO"}
        desk_env.pop("REDIS_URL", None)
        argv = [sys.executable, str(ROOT / "bench" / "desk" / "counted_desk.py"), str(out)]
        if args.callgrind:
            # Instructions executed, per thread: the one count here that no neighbour's load moves.
            argv = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                    f"--callgrind-out-file={workdir / 'cg.out'}", *argv]
            desk_env["COUNT_DESK_PROFILE"] = "0"
        with open(workdir / "desk.log", "wb") as log:
            desk = subprocess.Popen(argv, cwd=workdir, env=desk_env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        asyncio.run(bd.wait_http(rasa_port, "/", 60))
        asyncio.run(bd.wait_http(desk_port, "/healthz", 1800 if args.callgrind else 120))
        path = "/chat/api/messages"

        async def window(name: str, body: Any) -> tuple[dict, Any]:
            """Counters (and callgrind's instructions) over ``body`` and the outbox rounds after it."""
            out.unlink(missing_ok=True)
            desk.send_signal(signal.SIGUSR2)
            await asyncio.sleep(0.2)
            if args.callgrind:
                subprocess.run(["callgrind_control", "--zero", str(desk.pid)], check=True, capture_output=True)
            started = time.monotonic()
            result = await body()
            await asyncio.sleep(5.0 if args.callgrind else 1.0)  # the last replies' outbox rounds count too
            if args.callgrind:
                subprocess.run(["callgrind_control", f"--dump={name}", str(desk.pid)], check=True,
                               capture_output=True)
            desk.send_signal(signal.SIGUSR1)
            for _ in range(240):
                await asyncio.sleep(0.25)
                if out.exists() and out.stat().st_size:
                    await asyncio.sleep(0.25)
                    break
            data = json.loads(out.read_text())
            data["window_s"] = time.monotonic() - started
            if args.callgrind:
                data["instructions"] = callgrind_totals(workdir, name)
            return data, result

        async def run() -> tuple[dict, dict, bd.Stats]:
            await bd.closed_loop(desk_port, path, bd.desk_body("warm", "channels"), 30, 1,
                                 bd.desk_headers("warm", "channels"), 120, bd.answered_by_bot)
            # The measured conversations' first messages (they open them) are not counted.
            await bd.closed_loop(desk_port, path, bd.desk_body("lat", "channels"), args.concurrency,
                                 args.concurrency, bd.desk_headers("lat", "channels"), 120, bd.answered_by_bot)
            senders = [str(bd.CHAT_BASE + k) for k in range(64)]
            human = argparse.Namespace(human_n=args.messages, concurrency=args.concurrency, via="channels")
            if args.path == "human":
                await bd.human_path(argparse.Namespace(**{**vars(human), "human_n": 200}), desk_port, senders,
                                    rate=None)
            await asyncio.sleep(1.0)  # let the outbox deliver the warm-up's replies

            async def messages() -> bd.Stats:
                if args.path == "human":  # Telegram webhook → stored → queue websocket, like the bench
                    stats, lost, _ = await bd.human_path(human, desk_port, senders, rate=args.rate)
                    stats.errors += lost
                    return stats
                return await bd.closed_loop(desk_port, path, bd.desk_body("lat", "channels"), args.messages,
                                            args.concurrency, bd.desk_headers("lat", "channels"), 1800,
                                            bd.answered_by_bot)

            measured, stats = await window("measured", messages)
            # The same time with no messages: what the desk's timers (sweeper, schedulers, polls) cost,
            # subtracted from the measured window so that the counts are per message, whatever the speed.
            tail = 5.0 if args.callgrind else 1.0
            idle, _ = await window("idle", lambda: asyncio.sleep(measured["window_s"] - tail))
            return measured, idle, stats

        measured, idle, stats = asyncio.run(run())
        data = subtract(measured, idle, measured["window_s"] / idle["window_s"])
        data["idle"] = idle
        data["p50_ms"] = stats.pct(50)
        if args.callgrind and args.keep_callgrind:
            args.keep_callgrind.mkdir(parents=True, exist_ok=True)
            for f in workdir.glob("cg.out*"):
                shutil.copy(f, args.keep_callgrind / f"{tree.name}-{f.name}")
        data["errors"] = stats.errors
        return data
    finally:
        bd.stop(desk)
        bd.stop(rasa)
        if pg_name:
            bd.drop_pg(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", type=Path, nargs="+")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--path", choices=["bot", "human"], default="bot",
                        help="bot: in-app API → fake Rasa; human: Telegram webhook → queue websocket")
    parser.add_argument("--concurrency", type=int, default=1, help="connections (one conversation each on the "
                        "bot path)")
    parser.add_argument("--rate", type=float, default=None, help="human path: offered msg/s (default: closed loop)")
    parser.add_argument("--nlu", action="store_true",
                        help="the fake Rasa ends every answer with an NLU reading, as the real bot does")
    parser.add_argument("--rasa-delay", type=float, default=0.02)
    parser.add_argument("--statements", action="store_true", help="also print every statement shape per message")
    parser.add_argument("--callgrind", action="store_true",
                        help="run the desk under valgrind's callgrind and print instructions per message per thread "
                             "(slow: use --messages 50)")
    parser.add_argument("--keep-callgrind", type=Path, default=None, help="copy the callgrind files here")
    parser.add_argument("--json", type=Path, default=None, help="keep the raw counts here")
    args = parser.parse_args()
    n = args.messages
    results = []
    for tree in args.trees:
        load = os.getloadavg()[0]
        data = measure(tree.resolve(), args)
        data["load"] = f"{load:.1f}/{os.getloadavg()[0]:.1f}"
        results.append((tree, data))
    if args.json:
        args.json.write_text(json.dumps({str(t): d for t, d in results}, indent=1))
    how = (f"{args.concurrency} at a time" + (f", offered {args.rate:.0f}/s" if args.rate else "")
           if args.concurrency > 1 or args.rate else "one at a time through one conversation")
    print(f"\nper {args.path}-path message, {n} messages {how}, {args.db}, fake Rasa\n")
    print("| figure | " + " | ".join(str(t) for t, _ in results) + " |")
    print("| --- |" + " ---: |" * len(results))
    threads = sorted({k for _, d in results for k in d["statements"]})
    rows = [("SQL statements, all threads", lambda d: sum(d["statements"].values()) / n)]
    rows += [(f"  on thread {t}", lambda d, t=t: d["statements"].get(t, 0) / n) for t in threads]
    kinds = sorted({k for _, d in results for k in d["submits"]})
    rows += [(f"thread hand-offs: {k}", lambda d, k=k: d["submits"].get(k, 0) / n) for k in kinds]
    rows += [(f"gc collections gen{g}", lambda d, g=g: d["gc"].get(f"gen{g}", 0) / n) for g in range(3)]
    rows += [("gc ms", lambda d: sum(d["gc_ms"].values()) / n),
             ("Python calls on the loop thread", lambda d: d["python_calls"] / n),
             ("desk CPU ms (load-dependent)", lambda d: d["cpu_s"] * 1000 / n),
             ("  of it on the main thread", lambda d: d["thread_cpu_s"].get("MainThread", 0) * 1000 / n),
             ("  of it on the writer thread", lambda d: sum(v for k, v in d["thread_cpu_s"].items()
                                                          if k.startswith("sqlite-writer")) * 1000 / n),
             ("p50 ms (load-dependent)", lambda d: d["p50_ms"]),
             ("errors", lambda d: d["errors"])]
    if args.callgrind:
        names = sorted({k for _, d in results for k in d["instructions"]})
        rows += [("instructions (M), all threads", lambda d: sum(d["instructions"].values()) / n / 1e6)]
        rows += [(f"  instructions (M), {k}", lambda d, k=k: d["instructions"].get(k, 0) / n / 1e6) for k in names]
    for label, get in rows:
        print(f"| {label} | " + " | ".join(f"{get(d):.2f}" for _, d in results) + " |")
    print("| load before/after | " + " | ".join(d["load"] for _, d in results) + " |")
    hops = sorted({k for _, d in results for k in d["hops"]})
    if hops:
        print("\nwriter-thread hops per message: count / CPU ms (thread time) / ms waiting for the thread\n")
        print("| hop | " + " | ".join(str(t) for t, _ in results) + " |")
        print("| --- |" + " ---: |" * len(results))
        for k in hops:
            print(f"| {k} | " + " | ".join(
                f"{d['hops'].get(k, 0) / n:.2f} / {d['hop_cpu_ms'].get(k, 0) / n:.3f} / "
                f"{d['hop_wait_ms'].get(k, 0) / n:.3f}" for _, d in results) + " |")
        print("\nwriter-thread hop durations (wall ms, measured window): p50 / p99 / max / how many over 5 ms\n")
        for tree, d in results:
            for k, v in sorted(d["hop_wall"].items()):
                if isinstance(v, dict) and v.get("n"):
                    print(f"  {tree} {k}: {v['p50']:.2f} / {v['p99']:.2f} / {v['max']:.2f} / {v['over_5ms']:.0f} "
                          f"of {v['n']:.0f}")
    if args.statements:
        for tree, d in results:
            print(f"\nstatements per message, {tree}:")
            for text, count in sorted(d["texts"].items(), key=lambda kv: -kv[1]):
                print(f"  {count / n:6.2f}  {text}")
    base = results[0][1]["calls"]
    for tree, d in results[1:]:
        print(f"\ncalls per message that differ, {results[0][0]} → {tree} (top 40 by difference):")
        keys = set(base) | set(d["calls"])
        diff = sorted(keys, key=lambda k: -abs(d["calls"].get(k, 0) - base.get(k, 0)))
        for k in diff[:40]:
            a, b = base.get(k, 0) / n, d["calls"].get(k, 0) / n
            if abs(a - b) >= 0.5:
                print(f"  {a:8.1f} → {b:8.1f}  {k}")
        print(f"\nown time per message (µs, cProfile, load-dependent) that differs most, {results[0][0]} → {tree}:")
        base_s, new_s = results[0][1]["seconds"], d["seconds"]
        keys = set(base_s) | set(new_s)
        for k in sorted(keys, key=lambda k: -abs(new_s.get(k, 0) - base_s.get(k, 0)))[:30]:
            print(f"  {base_s.get(k, 0) * 1e6 / n:8.1f} → {new_s.get(k, 0) * 1e6 / n:8.1f}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
