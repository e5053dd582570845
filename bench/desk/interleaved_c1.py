"""The bot path's added latency at concurrency 1 for several checkouts at once, message by message.

    .venv/bin/python bench/desk/interleaved_c1.py TREE [TREE ...] [--messages 600] [--db sqlite]

One fake Rasa and one desk per checkout (each its own database, its own code
through ``PYTHONPATH``) run at the same time; one client sends a message to
Rasa directly and one through each desk, in a shuffled order, one at a time,
``--messages`` times. Whatever the neighbours do to the machine then falls on
every target alike, so the difference between the desks' added latency means
something even under load, where two runs taken a minute apart do not
(``side_by_side.py`` alternates whole runs). Prints p25/p50/p75 per target and
each desk's added p50 (desk p50 minus direct p50) with a bootstrap 90 % interval.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.desk import bench_desk as bd  # noqa: E402
from bench.desk.count_desk import PREPARE  # noqa: E402
from bench.desk.loadgen import Connection  # noqa: E402


def start_desk(tree: Path, workdir: Path, rasa_port: int, db: str) -> tuple[subprocess.Popen[bytes], int, str | None]:
    pg_name = None
    if db == "postgres":
        db_url, pg_name = bd.pg_url()
    else:
        db_url = f"sqlite:///{workdir / 'bench.db'}"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-c", PREPARE % bd.CHAT_BASE, db_url], cwd=tree, env=env, check=True)
    port = bd.free_port()
    env.update({"DATABASE_URL": db_url, "RASA_URL": f"http://127.0.0.1:{rasa_port}", "DESK_SERVICE_TOKEN": bd.TOKEN,
                "INAPP_SIGNING_SECRET": bd.INAPP_SECRET, "TELEGRAM_SECRET_TOKEN": bd.TELEGRAM_SECRET,
                "DESK_HOST": "127.0.0.1", "DESK_PORT": str(port), "LOG_LEVEL": "INFO"})
    env.pop("REDIS_URL", None)
    module = "aduan.cli" if (tree / "aduan" / "cli.py").exists() else "desk.cli"  # before the root split
    with open(workdir / "desk.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", module, "serve"], cwd=workdir, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, port, pg_name


def bootstrap_added(desk: list[float], direct: list[float], rounds: int = 1000) -> tuple[float, float]:
    """A 90 % interval of median(desk) - median(direct), resampling both."""
    rng = random.Random(7)
    values = sorted(statistics.median(rng.choices(desk, k=len(desk))) -
                    statistics.median(rng.choices(direct, k=len(direct))) for _ in range(rounds))
    return values[int(0.05 * rounds)], values[int(0.95 * rounds)]


async def run(args: argparse.Namespace, rasa_port: int, desk_ports: list[int]) -> dict[str, list[float]]:
    direct = await Connection("127.0.0.1", rasa_port).open()
    desks = [await Connection("127.0.0.1", port, bd.desk_headers("lat", "channels")(0)).open()
             for port in desk_ports]
    make_direct, make_desk = bd.rasa_body("lat", "channels"), bd.desk_body("lat", "channels")
    targets = [("direct", direct, "/webhooks/desk/webhook", make_direct),
               *((str(t), c, "/chat/api/messages", make_desk) for t, c in zip(args.trees, desks, strict=True))]
    times: dict[str, list[float]] = {name: [] for name, *_ in targets}
    order = list(targets)
    for i in range(args.warm + args.messages):
        random.shuffle(order)
        for name, conn, path, make in order:
            started = time.perf_counter()
            status, payload = await conn.post_json(path, make(0, i))
            elapsed = time.perf_counter() - started
            if status != 200 or (name != "direct" and not bd.answered_by_bot(payload)):
                raise RuntimeError(f"{name}: HTTP {status} {payload[:200]!r}")
            if i >= args.warm:
                times[name].append(elapsed * 1000)
    for conn in (direct, *desks):
        await conn.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", type=Path, nargs="+")
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--warm", type=int, default=30)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--nlu", action="store_true",
                        help="the fake Rasa ends every answer with an NLU reading, as the real bot does")
    parser.add_argument("--rasa-delay", type=float, default=0.02)
    args = parser.parse_args()
    args.trees = [t.resolve() for t in args.trees]
    workdir = Path(tempfile.mkdtemp(prefix="aduan-c1-"))
    procs: list[subprocess.Popen[bytes]] = []
    pg_names: list[str] = []
    load = os.getloadavg()[0]
    try:
        rasa_port = bd.free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "tests.desk.fake_rasa", "--port", str(rasa_port),
                                       "--delay", str(args.rasa_delay), "--capacity", "4",
                                       *(["--nlu"] if args.nlu else [])],
                                      cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True))
        ports = []
        for n, tree in enumerate(args.trees):
            (workdir / str(n)).mkdir()
            proc, port, pg_name = start_desk(tree, workdir / str(n), rasa_port, args.db)
            procs.append(proc)
            ports.append(port)
            if pg_name:
                pg_names.append(pg_name)
        asyncio.run(bd.wait_http(rasa_port, "/", 60))
        for port in ports:
            asyncio.run(bd.wait_http(port, "/healthz", 180))
        times = asyncio.run(run(args, rasa_port, ports))
    finally:
        for proc in procs:
            bd.stop(proc)
        for name in pg_names:
            bd.drop_pg(name)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nbot path at concurrency 1, {args.db}, fake Rasa ({args.rasa_delay * 1000:.0f} ms), {args.messages} "
          f"messages per target, interleaved in shuffled order; load average before/after "
          f"{load:.1f}/{os.getloadavg()[0]:.1f}, cores {os.cpu_count()}\n")
    print("| target | p25 ms | p50 ms | p75 ms | added p50 ms | 90 % interval |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    direct = times["direct"]
    for name, values in times.items():
        q = statistics.quantiles(values, n=4)
        if name == "direct":
            print(f"| Rasa direct | {q[0]:.2f} | {q[1]:.2f} | {q[2]:.2f} | | |")
            continue
        low, high = bootstrap_added(values, direct)
        print(f"| desk {name} | {q[0]:.2f} | {q[1]:.2f} | {q[2]:.2f} | {q[1] - statistics.median(direct):+.2f} "
              f"| {low:+.2f} … {high:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
