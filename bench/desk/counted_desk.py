"""``aduan serve`` with load-proof counters (bench/desk/count_desk.py drives it).

Counts, between SIGUSR2 (reset and start) and SIGUSR1 (write JSON to the
file named on the command line): SQL statements per thread (a ``sqlite3``
trace callback on every connection the process opens, the writer thread's,
aiosqlite's and SQLAlchemy's alike; on PostgreSQL SQLAlchemy's
``before_cursor_execute``), hand-offs to threads (``ThreadPoolExecutor.submit``
and aiosqlite's per-call queue), garbage collections per generation with their
duration, the process's CPU time and each thread's, every hop to the SQLite
writer thread by kind (count, CPU, time queued, duration), and the Python
calls on the event loop's thread (cProfile: call counts do not depend on the
machine's load, timings do; ``COUNT_DESK_PROFILE=0`` turns it off, as under
callgrind; ``COUNT_DESK_PROFILE_WRITER=1`` also profiles the writer's hops
into ``FILE.<n>.writer.txt``). Works on any checkout whose code is on ``PYTHONPATH`` (``aduan.cli``, or
``desk.cli`` before the root split).
"""
from __future__ import annotations

import collections
import concurrent.futures
import cProfile
import gc
import json
import os
import pstats
import re
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

STATE: dict[str, Any] = {}
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")
_NUMBERS = re.compile(r"\b\d+(\.\d+)?\b|'[^']*'")


def _thread_cpu() -> dict[str, float]:
    """CPU seconds per live thread, by thread name (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[thread.name] = out.get(thread.name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def _spread(values: list[float]) -> dict[str, float]:
    """p50, p99, max and how many over 5 ms of one hop kind's durations on the writer thread."""
    ordered = sorted(values)
    return {"p50": ordered[len(ordered) // 2], "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "max": ordered[-1], "over_5ms": sum(v > 5 for v in ordered), "n": len(ordered)}


def _reset() -> None:
    STATE.update(on=True, thread_cpu=_thread_cpu(), statements=collections.Counter(), texts=collections.Counter(),
                 submits=collections.Counter(), hops=collections.Counter(), hop_cpu_ms=collections.Counter(),
                 hop_wait_ms=collections.Counter(), hop_wall_ms={}, gc=collections.Counter(),
                 gc_ms=collections.Counter(), cpu=time.process_time(), wall=time.monotonic())


def _shape(sql: str) -> str:
    return _NUMBERS.sub("?", " ".join(sql.split()))[:160]


def _count_statement(sql: str) -> None:
    if STATE.get("on"):
        STATE["statements"][threading.current_thread().name] += 1
        STATE["texts"][_shape(sql)] += 1


_connect = sqlite3.connect


def _traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    conn = _connect(*args, **kwargs)
    conn.set_trace_callback(_count_statement)
    return conn


sqlite3.connect = _traced_connect  # type: ignore[assignment]

_submit = concurrent.futures.ThreadPoolExecutor.submit


def _hop_name(fn: Any, args: tuple[Any, ...]) -> str:
    name = getattr(fn, "__qualname__", repr(fn))
    if name.endswith("._run") and args:  # the store's run(fn): name the work, not the wrapper
        inner = args[0]
        name = getattr(getattr(inner, "__func__", inner), "__qualname__", repr(inner))
    return name


def _counted_submit(self: concurrent.futures.ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    if not STATE.get("on"):
        return _submit(self, fn, *args, **kwargs)
    kind = getattr(self, "_thread_name_prefix", "") or "default"
    STATE["submits"][kind] += 1
    if kind != "sqlite-writer":
        return _submit(self, fn, *args, **kwargs)
    name, queued = _hop_name(fn, args), time.perf_counter()

    def timed(*a: Any, **k: Any) -> Any:
        # CPU of each writer-thread hop by kind, and how long it waited for the thread (FIFO).
        started, cpu = time.perf_counter(), time.thread_time()
        writer_profile = STATE.get("writer_profile")
        if writer_profile is not None:
            writer_profile.enable()
        try:
            return fn(*a, **k)
        finally:
            if writer_profile is not None:
                writer_profile.disable()
            if STATE.get("on"):
                STATE["hops"][name] += 1
                STATE["hop_cpu_ms"][name] += (time.thread_time() - cpu) * 1000
                STATE["hop_wait_ms"][name] += (started - queued) * 1000
                STATE["hop_wall_ms"].setdefault(name, []).append((time.perf_counter() - started) * 1000)

    return _submit(self, timed, *args, **kwargs)


concurrent.futures.ThreadPoolExecutor.submit = _counted_submit  # type: ignore[method-assign]

_gc_started: dict[int, float] = {}


def _gc_callback(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[info["generation"]] = time.perf_counter()
    elif STATE.get("on"):
        generation = info["generation"]
        STATE["gc"][f"gen{generation}"] += 1
        STATE["gc_ms"][f"gen{generation}"] += (time.perf_counter() - _gc_started.get(generation, 0)) * 1000


gc.callbacks.append(_gc_callback)


def _patch_aiosqlite_and_sqlalchemy() -> None:
    try:
        import aiosqlite.core

        original = aiosqlite.core.Connection._execute

        async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            if STATE.get("on"):
                STATE["submits"]["aiosqlite"] += 1
            return await original(self, fn, *args, **kwargs)

        aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]
    except ImportError:
        pass
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "before_cursor_execute")
    def _pg(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if conn.dialect.name != "sqlite":  # SQLite statements are counted by the trace callback
            _count_statement(statement)


def main() -> int:
    out = Path(sys.argv[1])
    profiler = cProfile.Profile()  # a fresh one per window (a Profile keeps adding up)

    # COUNT_DESK_PROFILE=0: no cProfile (under callgrind, whose counts it would inflate).
    profiling = os.environ.get("COUNT_DESK_PROFILE", "1") != "0"

    def start(_signum: int, _frame: object) -> None:
        nonlocal profiler
        _reset()
        profiler = cProfile.Profile()
        if os.environ.get("COUNT_DESK_PROFILE_WRITER") == "1":  # the writer thread's hops, cumulative
            STATE["writer_profile"] = cProfile.Profile()
        if profiling:
            profiler.enable()

    def dump(_signum: int, _frame: object) -> None:
        profiler.disable()
        STATE["on"] = False
        writer_profile = STATE.pop("writer_profile", None)
        if writer_profile is not None:
            with open(f"{out}.{time.monotonic():.0f}.writer.txt", "w") as f:
                pstats.Stats(writer_profile, stream=f).sort_stats("cumulative").print_stats(60)
        calls: collections.Counter[str] = collections.Counter()
        seconds: collections.Counter[str] = collections.Counter()
        raw = pstats.Stats(profiler).stats if profiling else {}  # type: ignore[attr-defined]
        for (filename, _line, name), (_cc, ncalls, tottime, _ct, _callers) in raw.items():  # type: ignore[attr-defined]
            # By file and function, not line: the two checkouts' lines differ.
            key = f"{Path(filename).name}:{_ADDRESS.sub('', name)}"
            calls[key] += ncalls
            seconds[key] += tottime
        out.write_text(json.dumps({
            "cpu_s": time.process_time() - STATE["cpu"],
            "thread_cpu_s": {k: v - STATE["thread_cpu"].get(k, 0.0) for k, v in _thread_cpu().items()},
            "wall_s": time.monotonic() - STATE["wall"],
            "statements": STATE["statements"], "texts": STATE["texts"], "submits": STATE["submits"],
            "hops": STATE["hops"],
            "hop_cpu_ms": STATE["hop_cpu_ms"], "hop_wait_ms": STATE["hop_wait_ms"],
            "hop_wall": {k: _spread(v) for k, v in STATE["hop_wall_ms"].items()},
            "gc": STATE["gc"], "gc_ms": STATE["gc_ms"], "python_calls": sum(calls.values()),
            "calls": calls, "seconds": seconds,
        }, indent=1))

    signal.signal(signal.SIGUSR2, start)
    signal.signal(signal.SIGUSR1, dump)
    _patch_aiosqlite_and_sqlalchemy()
    # The checkout's own command line (a venv's editable install may name another tree's ``aduan``).
    tree = Path(os.environ["PYTHONPATH"].split(os.pathsep)[0])
    if (tree / "aduan" / "cli.py").exists():
        from aduan.cli import main as serve
    else:
        from desk.cli import main as serve  # before the core/root split
    return serve(["serve"])


if __name__ == "__main__":
    sys.exit(main())
