"""Supervised workers: a desk worker killed with kill -9 is replaced, logged, and missing in /readyz meanwhile."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from desk.config import REPO_ROOT
from desk.workers import WorkerWatcher, worker_report

# -- the watcher's rules, on a stand-in for Sanic's manager ------------------------------


@dataclass
class FakeState:
    name: str


@dataclass
class FakeProcess:
    name: str
    alive: bool = True
    exitcode: int | None = None
    state: FakeState = field(default_factory=lambda: FakeState("ACKED"))
    pid: int = 4242

    def is_alive(self) -> bool:
        return self.alive


@dataclass
class FakeManager:
    transient_processes: list[FakeProcess]
    sent: list[str] = field(default_factory=list)
    _shutting_down: bool = False

    @property
    def monitor_publisher(self) -> FakeManager:
        return self

    def send(self, message: str) -> None:
        self.sent.append(message)


def test_a_killed_worker_is_restarted_and_logged_once(caplog) -> None:
    dead = FakeProcess("Sanic-Server-1-0", alive=False, exitcode=-9, state=FakeState("FAILED"))
    manager = FakeManager([FakeProcess("Sanic-Server-0-0"), dead, FakeProcess("Inspector", alive=False, exitcode=1)])
    watcher = WorkerWatcher(manager)
    assert watcher.check_once(100.0) == ["Sanic-Server-1-0"]
    assert manager.sent == ["Sanic-Server-1-0"]
    assert "died with exit code -9 (signal 9)" in caplog.text
    dead.state = FakeState("RESTARTING")  # the manager is on it: nothing more to do
    assert watcher.check_once(100.2) == []


def test_a_crash_loop_waits_longer_and_shutdown_restarts_nothing() -> None:
    dead = FakeProcess("Sanic-Server-0-0", alive=False, exitcode=1, state=FakeState("FAILED"))
    manager = FakeManager([dead])
    watcher = WorkerWatcher(manager)
    assert watcher.check_once(10.0) == [dead.name]
    assert watcher.check_once(10.5) == []          # within the 1 s pause
    assert watcher.check_once(11.1) == [dead.name]  # died again soon after: the pause doubles
    assert watcher.check_once(12.5) == []
    assert watcher.check_once(13.2) == [dead.name]
    stopped = FakeManager([FakeProcess("Sanic-Server-0-0", alive=False, exitcode=0, state=FakeState("COMPLETED"))])
    assert WorkerWatcher(stopped).check_once(1.0) == []  # exit code 0: it was stopped, not killed
    manager._shutting_down = True
    assert watcher.check_once(100.0) == []


def test_worker_report_lists_the_missing_servers() -> None:
    report = worker_report({
        "Sanic-Main": {"pid": 1},
        "Sanic-Server-0-0": {"server": True, "state": "ACKED"},
        "Sanic-Server-1-0": {"server": True, "state": "STARTING"},
        "Sanic-Inspector-0": {"server": False, "state": "ACKED"},
    })
    assert report.as_dict() == {"expected": 2, "serving": 1, "missing": ["Sanic-Server-1-0"]}


# -- the real thing: aduan serve --workers 2 on PostgreSQL, one worker killed -------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker_pids(main_pid: int) -> dict[str, int]:
    """Sanic server workers among ``main_pid``'s children, by worker name (from their environment)."""
    found = {}
    for child in Path(f"/proc/{main_pid}/task/{main_pid}/children").read_text().split():
        try:
            env = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in env:
            if entry.startswith(b"SANIC_WORKER_NAME=") and b"-Server-" in entry:
                found[entry.split(b"=", 1)[1].decode()] = int(child)
    return found


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _readyz(port: int) -> dict[str, Any] | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None


def test_serve_replaces_a_killed_worker(database, database_url, tmp_path, db_engine_name) -> None:
    if db_engine_name != "postgres":
        pytest.skip("several workers need PostgreSQL; runs with --db=postgres")
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DESK_HOST": "127.0.0.1", "DESK_PORT": str(port),
           "RASA_URL": "http://127.0.0.1:9", "REPORT_REMINDER_INTERVAL_SECONDS": "0", "LOG_FORMAT": "kv"}
    env.pop("REDIS_URL", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        serve = subprocess.Popen([sys.executable, "-m", "aduan.cli", "serve", "--workers", "2"], cwd=REPO_ROOT,
                                 env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        first = _wait(lambda: (r := _readyz(port)) and r.get("workers", {}).get("serving") == 2 and r, 90,
                      "two serving workers")
        assert first["status"] == "ok" and first["workers"]["missing"] == []
        pids = _wait(lambda: len(p := _worker_pids(serve.pid)) == 2 and p, 10, "two worker processes")
        victim_name, victim_pid = sorted(pids.items())[0]

        os.kill(victim_pid, signal.SIGKILL)
        seen_missing = _wait(lambda: (r := _readyz(port)) and r["workers"]["missing"] and r, 30,
                             "readyz to report the dead worker")
        assert seen_missing["status"] == "degraded" and seen_missing["workers"]["missing"] == [victim_name]

        back = _wait(lambda: (r := _readyz(port)) and r["workers"]["serving"] == 2 and r, 90,
                     "the replacement to serve")
        assert back["status"] == "ok"
        new_pids = _worker_pids(serve.pid)
        assert new_pids[victim_name] != victim_pid and serve.poll() is None
        log_text = log_path.read_text()
        assert f"desk worker {victim_name} (pid {victim_pid}) died with exit code -9" in log_text
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(10)
