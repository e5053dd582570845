"""Supervised worker processes for ``aduan serve --workers N``.

Sanic's ``WorkerManager`` (Sanic 22.9+) starts the worker processes, restarts
them on request (``manager.restart``: auto-reload, the inspector) and marks a
worker that exits by itself ``FAILED`` — but it never replaces it: after a
``kill -9`` or an out-of-memory kill the desk would run on fewer workers
until someone restarts it, and nothing would be logged. ``supervise`` adds
that missing piece in the main process: a watcher thread that notices a
server worker that died, logs it, and asks the manager to restart it through
the manager's own monitor channel (the same message Sanic's reloader sends,
so the restart runs on the manager's thread). A worker that keeps dying
right after it starts is restarted with a growing pause (1 s doubling, at
most 30 s), never in a tight loop.

Every worker can read every worker's state (Sanic shares it), so ``/readyz``
reports a missing worker until its replacement is serving (``worker_report``).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sanic import Sanic

log = logging.getLogger(__name__)

SERVING = "ACKED"  # Sanic's state once a worker told the manager it is ready
_IN_PROGRESS = {"IDLE", "RESTARTING", "STARTING", "STARTED"}
CHECK_SECONDS = 0.5
MIN_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 30.0
CRASH_LOOP_SECONDS = 10.0  # died sooner than this after a (re)start: wait longer before the next


@dataclass
class _Watch:
    """What the watcher remembers per worker: when it last restarted it and how long it waits now."""

    restarted_at: float = 0.0
    pause: float = MIN_PAUSE_SECONDS


@dataclass
class WorkerWatcher:
    """Restarts server workers that died (main process only)."""

    manager: Any
    interval: float = CHECK_SECONDS
    _stop: threading.Event = field(default_factory=threading.Event)
    _watches: dict[str, _Watch] = field(default_factory=dict)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="aduan-worker-watcher", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_once(time.monotonic())
            except Exception:  # noqa: BLE001 - the watcher must outlive a bad round
                log.exception("worker watcher round failed")

    def check_once(self, now: float) -> list[str]:
        """Restart every dead server worker that is due; return their names."""
        if getattr(self.manager, "_shutting_down", False):
            return []
        restarted = []
        for process in list(self.manager.transient_processes):
            if not _is_server(process) or process.is_alive() or process.state.name in _IN_PROGRESS:
                continue
            exitcode = process.exitcode
            if exitcode == 0:
                continue  # it stopped on purpose (shutdown), it did not die
            watch = self._watches.setdefault(process.name, _Watch())
            if now - watch.restarted_at < watch.pause:
                continue
            if watch.restarted_at and now - watch.restarted_at < CRASH_LOOP_SECONDS:
                watch.pause = min(MAX_PAUSE_SECONDS, watch.pause * 2)
            else:
                watch.pause = MIN_PAUSE_SECONDS
            watch.restarted_at = now
            log.error("desk worker %s (pid %s) died with exit code %s%s; starting a replacement",
                      process.name, process.pid, exitcode,
                      f" (signal {-exitcode})" if isinstance(exitcode, int) and exitcode < 0 else "")
            # The manager's monitor handles "<name>" as "restart that process", on its own thread.
            self.manager.monitor_publisher.send(process.name)
            restarted.append(process.name)
        return restarted


def _is_server(process: Any) -> bool:
    return "-Server-" in str(process.name)


def supervise(app: Sanic) -> None:
    """Replace dead workers of ``app`` when it is served with several worker processes."""

    @app.main_process_ready
    async def _watch_workers(app_: Sanic) -> None:
        watcher = WorkerWatcher(app_.manager)
        watcher.start()
        app_.ctx.worker_watcher = watcher

    @app.main_process_stop
    async def _stop_watching(app_: Sanic) -> None:
        watcher = getattr(app_.ctx, "worker_watcher", None)
        if watcher is not None:
            watcher.stop()


@dataclass(frozen=True)
class WorkerReport:
    """The server workers as ``/readyz`` shows them."""

    expected: int
    serving: int
    missing: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"expected": self.expected, "serving": self.serving, "missing": self.missing}


def worker_report(states: Mapping[str, Mapping[str, Any]]) -> WorkerReport:
    """Which server workers serve, from Sanic's shared worker states."""
    servers = {name: state for name, state in states.items() if state.get("server")}
    missing = sorted(name for name, state in servers.items() if state.get("state") != SERVING)
    return WorkerReport(len(servers), len(servers) - len(missing), missing)


def current_workers(app: Sanic) -> WorkerReport | None:
    """The worker report when ``app`` runs under Sanic's worker manager; None in a single process."""
    multiplexer = getattr(app, "multiplexer", None)  # set by Sanic in each managed worker
    if multiplexer is None:
        return None
    try:
        report = worker_report(multiplexer.workers)
    except Exception:  # noqa: BLE001 - the shared state is unreachable: do not fail readyz over it
        log.exception("worker states unavailable")
        return None
    return report if report.expected else None
