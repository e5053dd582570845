"""Run every ``make bench-*`` target at a small size and fail if one cannot print its table.

Nothing else runs the benchmarks, so without this they rot: a migration adds a
column and ``make bench-report`` breaks unnoticed for weeks. Each target is
run through ``make`` (so the Makefile wiring is tested too) with the make
variables below that shrink it to seconds; its output must hold the rows of its
table with numbers in them, and the target must exit 0. The figures printed
at this size mean nothing; only that the table is produced.

Every ``bench-*`` target in ``mk/*.mk`` must have a spec here (except this
one): a new benchmark without one fails the smoke run.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A table cell holding a number (not "nan", "-", or empty).
NUM = r"\s*[+-]?\d[\d,.]*\s*"


@dataclass(frozen=True)
class Spec:
    """How to run one bench target small, and what its output must contain."""

    target: str
    variables: dict[str, str]
    rows: tuple[str, ...]  # regexes; each must match one line of the output
    timeout: float = 120.0
    forbidden: tuple[str, ...] = field(default=(r"\bnan\b", r"Traceback \(most recent call last\)"))


DESK_SMALL = ("--fake-rasa --latency-n 20 --throughput-n 150 --bot-concurrency 8 --human-n 300 "
              "--human-rate 300 --concurrency 8 --time-limit 20")

SPECS: dict[str, Spec] = {s.target: s for s in (
    Spec("bench-desk", {"BENCH_DESK_ARGS": DESK_SMALL},
         (rf"^\| bot: Rasa direct, 1 at a time \|{NUM}\|{NUM}\|{NUM}\|",
          rf"^\| bot: through desk, 1 at a time \|{NUM}\|{NUM}\|{NUM}\|",
          rf"^\| bot: through desk, \d+ at a time \|{NUM}\|{NUM}\|{NUM}\|",
          rf"^\| human: inbound → websocket, offered \d+/s \|{NUM}\|{NUM}\|{NUM}\|",
          r"^\| human path loses nothing \| 0 lost")),
    Spec("bench-desk-postgres", {"BENCH_DESK_ARGS": DESK_SMALL},
         (r"database: postgres",
          rf"^\| bot: through desk, 1 at a time \|{NUM}\|{NUM}\|{NUM}\|",
          rf"^\| human: inbound → websocket, offered \d+/s \|{NUM}\|{NUM}\|{NUM}\|",
          r"^\| human path loses nothing \| 0 lost")),
    Spec("bench-channels", {"BENCH_CHANNELS_N": "20", "BENCH_CHANNELS_CONCURRENCY": "4"},
         (rf"^\| whatsapp[^|]*\|{NUM}\|{NUM}\|",
          rf"^\| telegram[^|]*\|{NUM}\|{NUM}\|",
          rf"^\| in-app agent push[^|]*\|{NUM}\|{NUM}\|")),
    Spec("bench-handoff", {"BENCH_HANDOFF_CONVERSATIONS": "10"},
         (r"^Handoff latency, 10 conversations",
          rf"^sqlite\s+.*->.*\s+10\s+{NUM}",
          rf"^postgresql\s+.*->.*\s+10\s+{NUM}"),
         forbidden=(r"\bnan\b", r"Traceback \(most recent call last\)", r"failed:", r"not reachable")),
    Spec("bench-report", {"ROWS": "3000", "BENCH_REPORT_RUNS": "2"},
         (r"^Report benchmark: 3,000 tickets",
          r"^COPY \+ CREATE INDEX \+ ANALYZE\s+\d",
          r"^quarterly report 2026-Q3\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+",
          r"^2026-Q3 check: received [1-9]")),
    Spec("bench-nlu", {"BENCH_NLU_ARGS": "--no-baseline --messages 12 --rounds 2 --timeout 420"},
         (rf"^\| aduan \(bot/\)\s+\|{NUM}\|{NUM}\|{NUM}\|{NUM}\|",), timeout=480),
    Spec("bench-scale", {"BENCH_SCALE_ARGS": "--fake-rasa --messages 120 --concurrency 8"},
         (r"^cores \(nproc\): \d+",
          rf"^\| 1 replica \|{NUM}\|{NUM}\|{NUM}\|",
          rf"^\| 2 replicas \|{NUM}\|{NUM}\|{NUM}\|",
          rf"^2 replicas / 1 replica: {NUM}x")),
)}


def bench_targets(mk_dir: Path) -> list[str]:
    """The ``bench-*`` targets defined in ``mk/*.mk`` (not ``bench-smoke`` itself)."""
    found: set[str] = set()
    for path in sorted(mk_dir.glob("*.mk")):
        for match in re.finditer(r"^(bench-[\w-]+)\s*:(?!=)", path.read_text(), re.MULTILINE):
            found.add(match.group(1))
    found.discard("bench-smoke")
    return sorted(found)


def check_output(spec: Spec, returncode: int, output: str) -> list[str]:
    """Why this output does not count as the target's table (empty when it does)."""
    problems = []
    if returncode != 0:
        problems.append(f"exit status {returncode}")
    for row in spec.rows:
        if not re.search(row, output, re.MULTILINE):
            problems.append(f"no line matches {row!r}")
    for bad in spec.forbidden:
        hit = re.search(bad, output, re.MULTILINE)
        if hit:
            problems.append(f"output holds {hit.group(0)!r}")
    return problems


def run_one(spec: Spec, directory: Path) -> tuple[float, list[str], str]:
    """``make <target> VAR=value …`` in ``directory``; (seconds, problems, output)."""
    cmd = ["make", "--no-print-directory", "-C", str(directory), spec.target,
           *(f"{k}={v}" for k, v in spec.variables.items())]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=spec.timeout)
    except subprocess.TimeoutExpired:
        # The whole group: make's children (a desk, Rasa, a training) must not outlive the smoke run.
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return time.monotonic() - started, [f"did not finish within {spec.timeout:.0f} s"], out or ""
    return time.monotonic() - started, check_output(spec, proc.returncode, out), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-C", "--directory", type=Path, default=ROOT,
                        help="where the Makefile is (the tests point this at a deliberately broken one)")
    parser.add_argument("--only", default=None, help="comma-separated targets (default: every bench-* target)")
    args = parser.parse_args(argv)
    directory = args.directory.resolve()
    targets = bench_targets(directory / "mk") if (directory / "mk").is_dir() else []
    failed: list[str] = []
    missing = [t for t in targets if t not in SPECS]
    for target in missing:
        failed.append(target)
        print(f"bench-smoke: {target} has no smoke spec in bench/smoke.py; add one", flush=True)
    chosen = args.only.split(",") if args.only else [t for t in targets if t in SPECS]
    if not chosen:
        print("bench-smoke: no bench-* target found", file=sys.stderr)
        return 1
    load_before = os.getloadavg()[0]
    results = []
    for target in chosen:
        spec = SPECS.get(target)
        if spec is None:
            print(f"bench-smoke: unknown target {target}", file=sys.stderr)
            return 2
        print(f"bench-smoke: {target} …", flush=True)
        seconds, problems, output = run_one(spec, directory)
        results.append((target, seconds, problems))
        if problems:
            failed.append(target)
            tail = "\n".join(output.splitlines()[-40:])
            print(f"bench-smoke: {target} FAILED: {'; '.join(problems)}\n--- last lines of its output ---\n{tail}\n---",
                  flush=True)
    print(f"\nbench-smoke (small sizes; the figures are not measurements), cores {os.cpu_count()}, "
          f"load average before/after {load_before:.1f}/{os.getloadavg()[0]:.1f}")
    print("| target | seconds | table |")
    print("| --- | ---: | --- |")
    for target, seconds, problems in results:
        print(f"| {target} | {seconds:.0f} | {'ok' if not problems else 'FAILED'} |")
    for target in missing:
        print(f"| {target} | - | FAILED (no smoke spec) |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
