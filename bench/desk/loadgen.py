"""A lean HTTP/1.1 keep-alive client for the benchmarks.

httpx costs a few hundred microseconds of CPU per request; at thousands of
requests a second on a two-core machine the load generator would then take
the CPU the desk needs. This client writes the request bytes itself and reads
``Content-Length`` bodies, nothing more (127.0.0.1 only).
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import statistics
from dataclasses import dataclass
from typing import Any, Iterator


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("benchmarks only talk to 127.0.0.1")
        self.host, self.port = host, port
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = f"Host: {host}:{port}\r\nContent-Type: application/json\r\n{extra}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def post_json(self, path: str, body: Any) -> tuple[int, bytes]:
        """POST ``body`` as JSON; return (status, response body)."""
        data = json.dumps(body).encode()
        assert self._writer is not None and self._reader is not None
        self._writer.write(
            f"POST {path} HTTP/1.1\r\n{self._head}Content-Length: {len(data)}\r\n\r\n".encode() + data
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
                break
        payload = await self._reader.readexactly(length) if length else b""
        return status, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


@contextlib.contextmanager
def no_collector_pauses() -> Iterator[None]:
    """Keep the load generator's own garbage collector out of the timings.

    The open-loop human phase keeps thousands of tasks and timestamps alive;
    a full collection in this process then stalls sending and receiving for
    tens of milliseconds, and every message in flight is timed with that
    stall. Per-message series showed the slowest 1 % of a 5,000-message run
    in one 100 ms window, at the same point of every run; with the collector
    off here the window was gone (docs/benchmarks.md, "Tail latency"). The
    desk under test keeps its collector: only the instrument is quieted.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


@dataclass
class Stats:
    """Latencies (seconds) and the wall time of one run."""

    latencies: list[float]
    wall: float
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    def pct(self, p: float) -> float:
        """Percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    @property
    def throughput(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
