"""Parse latency and throughput of the Aduan bot vs. an untouched `rasa init` bot.

Both assistants are served by `rasa run` on loopback ports and receive the
same Indonesian messages through Rasa's REST channel
(POST /webhooks/rest/webhook). Both servers are up at once and are measured
in alternating rounds (--rounds; who goes first alternates too), so a change
in the shared machine's load during the run hits both alike; only one server
is busy at any moment, and an idle server costs the other almost nothing.
Measuring one server after the other gave verdicts that flipped with the
load: the same models measured 28.8 vs 26.8 ms and then 46.7 vs 46.6 ms p50
minutes apart. Loops are bounded (--messages per phase) and every process
started here is stopped at the end.

Columns: p50/p99 latency of sequential requests through the REST channel
(the whole turn: NLU, policies, and for our bot the action server where a
rule calls a custom action), messages per second with --concurrency parallel
senders, and p50 of NLU-only parsing (POST /model/parse, API enabled on
loopback) to show where the time goes.

Bounded: the whole run (including `rasa init`'s own training) is aborted with
a clear message after --timeout seconds; free loopback ports are picked so a
server left over by someone else cannot block or answer for ours; the work
directory (two models, logs) is removed unless --keep is given.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

MESSAGES = [
    "halo min", "selamat pagi kak", "makasih ya", "ini bot ya?", "bye",
    "gmn cara bayar tagihan", "bisa bayar lewat indomaret?", "syarat pengajuan apa aja",
    "bunga paylater berapa", "berapa lama aduan diproses", "resep nasi goreng",
    "sy mau tanya cara daftar pinjaman dong", "limit pinjaman tunai maksimal brp",
    "kalo aduan ga selesai bisa lapor ojk?", "iya", "nggak", "apakah terdaftar di ojk",
    "thanks infonya kak", "cara bayar lewat va bca gimana", "ok sampai jumpa",
]


class Deadline:
    """One time budget for the whole bench run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self, what: str) -> float:
        """Seconds left; raises TimeoutError naming the step that ran out of time."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"bench-nlu: time budget of {self.seconds:.0f}s exhausted while {what}")
        return left


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, budget: Deadline, what: str) -> float:
    """Poll the server's root URL until it answers; returns the seconds it took."""
    start = time.monotonic()
    while budget.left(f"waiting for {what} to load its model (see its log)"):
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(1)
    raise AssertionError("unreachable")


def post(port: int, sender: str, text: str, path: str = "/webhooks/rest/webhook") -> float:
    """One request; returns its latency in seconds. The REST body also suits /model/parse."""
    body = json.dumps({"sender": sender, "message": text, "text": text}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()
    return time.perf_counter() - start


def percentile(sorted_values: List[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values))) - 1))]


def measure(ports: Dict[str, int], n: int, concurrency: int, rounds: int) -> Dict[str, dict]:
    """Sequential, parallel and parse-only phases for every server, in alternating rounds.

    Each round sends n/rounds messages per phase to each server; the order of
    the servers flips every round. Latencies and elapsed times are pooled
    per server over all rounds.
    """
    per_round = max(1, n // rounds)
    pooled = {name: {"seq": [], "parse": [], "sent": 0, "elapsed": 0.0} for name in ports}
    for name, port in ports.items():
        for i in range(10):  # warm-up
            post(port, f"warm-{name}-{i}", MESSAGES[i % len(MESSAGES)])
    names = list(ports)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            port, acc = ports[name], pooled[name]
            base = r * per_round
            acc["seq"] += [post(port, f"seq-{name}-{base + i}", MESSAGES[(base + i) % len(MESSAGES)])
                           for i in range(per_round)]
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                list(pool.map(lambda i: post(port, f"par-{name}-{base + i}", MESSAGES[(base + i) % len(MESSAGES)]),
                              range(per_round)))
            acc["elapsed"] += time.perf_counter() - start
            acc["sent"] += per_round
            acc["parse"] += [post(port, "", MESSAGES[(base + i) % len(MESSAGES)], "/model/parse")
                             for i in range(per_round)]
    results = {}
    for name, acc in pooled.items():
        seq, parse = sorted(acc["seq"]), sorted(acc["parse"])
        results[name] = {
            "p50": statistics.median(seq) * 1000,
            "p99": percentile(seq, 0.99) * 1000,
            "mps": acc["sent"] / acc["elapsed"],
            "parse_p50": statistics.median(parse) * 1000,
        }
    return results


def start(cmd: List[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: Optional[subprocess.Popen]) -> None:
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def serve(rasa: str, model: Path, cwd: Path, credentials: Path, endpoints: Optional[Path], env: dict,
          log: Path) -> "tuple[subprocess.Popen, int]":
    """`rasa run` on a free loopback port with the HTTP API on (for /model/parse)."""
    port = free_port()
    cmd = [rasa, "run", "--model", str(model), "--port", str(port), "--interface", "127.0.0.1",
           "--enable-api", "--credentials", str(credentials)]
    if endpoints:
        cmd += ["--endpoints", str(endpoints)]
    return start(cmd, cwd, env, log), port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bot", required=True, type=Path)
    ap.add_argument("--rasa", required=True)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=10, help="alternating rounds the messages are split into")
    ap.add_argument("--timeout", type=float, default=900, help="budget for the whole run, seconds")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (models, logs)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="measure our bot only, without training a `rasa init` one (bench-smoke: seconds, "
                         "not minutes; no verdict is printed)")
    args = ap.parse_args()
    budget = Deadline(args.timeout)
    bot = args.bot.resolve()
    model = bot / "models" / "aduan.tar.gz"
    if not model.is_file():
        print(f"bench-nlu: {model} missing; run `make bot-train` first", file=sys.stderr)
        return 2
    # Telemetry off: without network its flush only adds waiting to every rasa command.
    env = dict(os.environ, PYTHONPATH=str(bot), SQLALCHEMY_SILENCE_UBER_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2",
               RASA_TELEMETRY_ENABLED="false", DESK_API_URL="http://127.0.0.1:9", DESK_API_TIMEOUT="1")
    work = Path(tempfile.mkdtemp(prefix="aduan-bench-"))
    print(f"bench-nlu: work dir {work}; load average {os.getloadavg()[0]:.2f}; budget {args.timeout:.0f}s",
          flush=True)
    results = {}
    timings = {}
    procs: List[subprocess.Popen] = []
    try:
        baseline = work / "baseline"
        if not args.no_baseline:
            baseline.mkdir()
            print("bench-nlu: creating and training an untouched `rasa init` assistant …", flush=True)
            began = time.monotonic()
            try:
                subprocess.run([args.rasa, "init", "--no-prompt", "--init-dir", str(baseline)], env=env,
                               check=True, stdout=(work / "baseline-init.log").open("w"),
                               stderr=subprocess.STDOUT, timeout=budget.left("training the baseline"))
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"bench-nlu: `rasa init` did not finish within the budget "
                                   f"(log: {work / 'baseline-init.log'})") from None
            timings["rasa init (train)"] = time.monotonic() - began

        actions_port = free_port()
        endpoints = work / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
        actions = start([args.rasa, "run", "actions", "--actions", "actions", "--port", str(actions_port)],
                        bot, env, work / "actions.log")
        procs.append(actions)
        loading = time.monotonic()
        ours, ours_port = serve(args.rasa, model, bot, bot / "credentials.yml", endpoints, env, work / "aduan.log")
        procs.append(ours)
        servers = {"aduan (bot/)": ours_port}
        if not args.no_baseline:
            baseline_model = sorted((baseline / "models").glob("*.tar.gz"))[-1]
            base, base_port = serve(args.rasa, baseline_model, baseline, baseline / "credentials.yml", None, env,
                                    work / "baseline.log")
            procs.append(base)
            servers["rasa init (baseline)"] = base_port
            wait_ready(base_port, base, budget, "the baseline")
        wait_ready(ours_port, ours, budget, "our bot")
        timings["models loaded"] = time.monotonic() - loading
        print(f"bench-nlu: measuring {len(servers)} server(s) in {args.rounds} alternating rounds …", flush=True)
        results = measure(servers, args.messages, args.concurrency, args.rounds)
    except (TimeoutError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"bench-nlu: FAILED: {exc}; logs kept in {work}", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        for proc in procs:
            stop(proc)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"REST channel, {args.messages} sequential + {args.messages} with {args.concurrency} parallel senders "
          f"per assistant, in {args.rounds} alternating rounds; "
          f"NLU only: {args.messages} x POST /model/parse; load average {os.getloadavg()[0]:.2f}")
    print(f"| {'assistant':22} | {'p50 ms':>8} | {'p99 ms':>8} | {'msg/s':>7} | {'parse p50 ms':>12} |")
    print(f"|{'-' * 24}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 14}|")
    for name, r in results.items():
        print(f"| {name:22} | {r['p50']:8.1f} | {r['p99']:8.1f} | {r['mps']:7.1f} | {r['parse_p50']:12.1f} |")
    print("setup: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    if args.no_baseline:
        print("target (no slower than the baseline): not judged (--no-baseline)")
        return 0
    ours, base = results["aduan (bot/)"], results["rasa init (baseline)"]
    verdict = "met" if ours["p50"] <= base["p50"] and ours["mps"] >= base["mps"] else "NOT met"
    print(f"target (no slower than the baseline: p50 and msg/s): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
