"""Run ``bench_desk.py`` of two checkouts side by side, alternating, and print the medians.

    .venv/bin/python bench/desk/side_by_side.py BASE_DIR NEW_DIR [--rounds 3] [--db sqlite postgres]

Each round runs base then new for each engine (``--fake-rasa`` unless told
otherwise), each checkout's own ``bench/desk/bench_desk.py`` with this
interpreter: the desk it starts imports that checkout's code (the bench sets
``PYTHONPATH`` to its own tree). Both benches run with the load generator's
garbage collector off (``QUIET_COLLECTOR``): an older checkout's bench does
not quiet it itself, and a collection in the load generator shows up as a
stall of the desk (``bench.desk.loadgen.no_collector_pauses``), so without
it the two sides would be timed by different instruments. Every table is kept under ``var/bench-side/``;
the summary gives the per-run figures, the medians and new vs base.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

# Runs a bench script with this process's collector off; the desk and the fake Rasa are its
# subprocesses and keep theirs.
QUIET_COLLECTOR = "import gc, runpy, sys; gc.disable(); sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"

ROWS = {
    "bot: Rasa direct, 1 at a time": "direct1",
    "bot: through desk, 1 at a time": "desk1",
    "bot: through desk, 32 at a time": "desk32",
    "human: inbound → websocket, 32 at a time (max)": "human_max",
    "human: inbound → websocket, offered 1000/s": "human_1000",
}
FIGURES = (  # label, how to get it from one table, lower is better
    ("bot added p50 ms", lambda t: t["desk1"][0] - t["direct1"][0], True),
    ("bot through desk, 32 at a time msg/s", lambda t: t["desk32"][2], False),
    ("human max msg/s (32 connections)", lambda t: t["human_max"][2], False),
    ("human p99 ms at 1,000/s offered", lambda t: t["human_1000"][1], True),
    ("human msg/s at 1,000/s offered", lambda t: t["human_1000"][2], False),
)


def parse(text: str) -> dict[str, tuple[float, float, float]]:
    """The rows of one bench table: name → (p50 ms, p99 ms, msg/s)."""
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in ROWS:
            found[ROWS[cells[0]]] = (float(cells[2]), float(cells[3]), float(cells[4]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--bench-args", default="--fake-rasa")
    args = parser.parse_args()
    out = Path("var/bench-side")
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[tuple[str, str], list[dict[str, tuple[float, float, float]]]] = {}
    loads: dict[str, list[str]] = {}
    for round_no in range(1, args.rounds + 1):
        for db in args.db:
            for side, tree in (("base", args.base), ("new", args.new)):
                cmd = [sys.executable, "-c", QUIET_COLLECTOR, str(tree / "bench/desk/bench_desk.py"), "--db", db,
                       *args.bench_args.split()]
                print(f"round {round_no}: {db} {side} ({tree})", flush=True)
                run = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env=os.environ)
                (out / f"{db}-{side}-{round_no}.txt").write_text(run.stdout + run.stderr, encoding="utf-8")
                table = parse(run.stdout)
                if len(table) != len(ROWS):
                    print(run.stdout[-2000:], run.stderr[-2000:], sep="\n")
                    return 1
                tables.setdefault((db, side), []).append(table)
                load = re.search(r"load average before/after: ([\d.]+/[\d.]+)", run.stdout)
                loads.setdefault(db, []).append(load.group(1) if load else "?")
    for db in args.db:
        print(f"\n{db}:\n")
        print("| figure | base runs | new runs | base median | new median | new vs base |")
        print("| --- | --- | --- | ---: | ---: | ---: |")
        for label, get, _ in FIGURES:
            base = [get(t) for t in tables[(db, "base")]]
            new = [get(t) for t in tables[(db, "new")]]
            mb, mn = statistics.median(base), statistics.median(new)
            change = f"{(mn - mb) / mb * 100:+.0f} %" if mb else "n/a"
            print(f"| {label} | {' / '.join(f'{v:.1f}' for v in base)} | {' / '.join(f'{v:.1f}' for v in new)} "
                  f"| {mb:.1f} | {mn:.1f} | {change} |")
        print(f"\nLoad averages (before/after each run, in order): {', '.join(loads[db])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
