"""Parse latency and throughput of the Aduan bot vs. an untouched `rasa init` bot.

Both assistants are served by `rasa run` on loopback ports and receive the
same Indonesian messages through Rasa's REST channel
(POST /webhooks/rest/webhook), one server at a time so they never compete
for the two cores. Loops are bounded (--messages per phase) and every
process started here is stopped at the end.

Columns: p50/p99 latency of sequential requests, and messages per second
with --concurrency parallel senders.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional

MESSAGES = [
    "halo min", "selamat pagi kak", "makasih ya", "ini bot ya?", "bye",
    "gmn cara bayar tagihan", "bisa bayar lewat indomaret?", "syarat pengajuan apa aja",
    "bunga paylater berapa", "berapa lama aduan diproses", "resep nasi goreng",
    "sy mau tanya cara daftar pinjaman dong", "limit pinjaman tunai maksimal brp",
    "kalo aduan ga selesai bisa lapor ojk?", "iya", "nggak", "apakah terdaftar di ojk",
    "thanks infonya kak", "cara bayar lewat va bca gimana", "ok sampai jumpa",
]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"server on port {port} not ready after {timeout}s")


def post(port: int, sender: str, text: str) -> float:
    body = json.dumps({"sender": sender, "message": text}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body,
                                 headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()
    return time.perf_counter() - start


def measure(port: int, n: int, concurrency: int, tag: str) -> dict:
    for i in range(10):  # warm-up
        post(port, f"warm-{tag}-{i}", MESSAGES[i % len(MESSAGES)])
    latencies = [post(port, f"seq-{tag}-{i}", MESSAGES[i % len(MESSAGES)]) for i in range(n)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda i: post(port, f"par-{tag}-{i}", MESSAGES[i % len(MESSAGES)]), range(n)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(round(0.99 * len(latencies))) - 1)] * 1000,
        "mps": n / elapsed,
    }


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bot", required=True, type=Path)
    ap.add_argument("--rasa", required=True)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--port", type=int, default=15005)
    args = ap.parse_args()
    bot = args.bot.resolve()
    env = dict(os.environ, PYTHONPATH=str(bot), SQLALCHEMY_SILENCE_UBER_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2",
               DESK_API_URL="http://127.0.0.1:9", DESK_API_TIMEOUT="1")
    work = Path(tempfile.mkdtemp(prefix="aduan-bench-"))
    print(f"bench-nlu: work dir {work}", flush=True)

    baseline = work / "baseline"
    print("bench-nlu: creating and training an untouched `rasa init` assistant …", flush=True)
    subprocess.run([args.rasa, "init", "--no-prompt", "--init-dir", str(baseline)], env=env, check=True,
                   stdout=(work / "baseline-init.log").open("w"), stderr=subprocess.STDOUT)
    baseline_model = sorted((baseline / "models").glob("*.tar.gz"))[-1]

    endpoints = work / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{args.port + 50}/webhook"\n')
    results = {}
    procs: List[subprocess.Popen] = []
    try:
        actions = start([args.rasa, "run", "actions", "--actions", "actions", "--port", str(args.port + 50)],
                        bot, env, work / "actions.log")
        procs.append(actions)
        ours = start([args.rasa, "run", "--model", str(bot / "models" / "aduan.tar.gz"), "--port", str(args.port),
                      "--interface", "127.0.0.1", "--credentials", str(bot / "credentials.yml"),
                      "--endpoints", str(endpoints)], bot, env, work / "aduan.log")
        procs.append(ours)
        wait_ready(args.port, ours)
        print("bench-nlu: measuring aduan …", flush=True)
        results["aduan (bot/)"] = measure(args.port, args.messages, args.concurrency, "aduan")
        stop(ours)
        stop(actions)

        base = start([args.rasa, "run", "--model", str(baseline_model), "--port", str(args.port + 1),
                      "--interface", "127.0.0.1", "--credentials", str(baseline / "credentials.yml")],
                     baseline, env, work / "baseline.log")
        procs.append(base)
        wait_ready(args.port + 1, base)
        print("bench-nlu: measuring baseline …", flush=True)
        results["rasa init (baseline)"] = measure(args.port + 1, args.messages, args.concurrency, "base")
    finally:
        for proc in procs:
            stop(proc)

    print()
    print(f"REST channel, {args.messages} sequential + {args.messages} with {args.concurrency} parallel senders")
    print(f"| {'assistant':22} | {'p50 ms':>8} | {'p99 ms':>8} | {'msg/s':>7} |")
    print(f"|{'-' * 24}|{'-' * 10}|{'-' * 10}|{'-' * 9}|")
    for name, r in results.items():
        print(f"| {name:22} | {r['p50']:8.1f} | {r['p99']:8.1f} | {r['mps']:7.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
