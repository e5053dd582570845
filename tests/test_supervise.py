"""scripts/supervise: `make run` starts a process again when it dies, and gives up on a crash loop."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

SUPERVISE = Path(__file__).resolve().parents[1] / "scripts" / "supervise"
FAST = {"SUPERVISE_RESTART_DELAY": "0.1", "SUPERVISE_QUICK_SECONDS": "5", "SUPERVISE_MAX_QUICK_DEATHS": "3"}


def _start(tmp_path: Path, command: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(SUPERVISE), "worker", str(tmp_path / "worker.log"), "bash", "-c", command],
                            env={**os.environ, **FAST, **env}, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _pids(starts: Path) -> list[int]:
    return [int(line) for line in starts.read_text().split()] if starts.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_process_killed_with_sigkill_is_started_again(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    sup = _start(tmp_path, f"echo $$ >> {starts}; echo serving; exec sleep 60")
    try:
        assert _wait_for(lambda: len(_pids(starts)) == 1)
        first = _pids(starts)[0]
        os.kill(first, signal.SIGKILL)
        assert _wait_for(lambda: len(_pids(starts)) == 2), "not started again after kill -9"
        assert _pids(starts)[1] != first and _alive(_pids(starts)[1])
        assert sup.poll() is None  # still supervising
        assert (tmp_path / "worker.log").read_text().count("serving") == 2  # both runs' output kept
    finally:
        sup.terminate()
        sup.wait(timeout=10)


def test_sigterm_stops_the_process_and_the_supervisor(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    sup = _start(tmp_path, f"echo $$ >> {starts}; exec sleep 60")
    assert _wait_for(lambda: len(_pids(starts)) == 1)
    sup.terminate()
    assert sup.wait(timeout=10) == 0
    assert _wait_for(lambda: not _alive(_pids(starts)[0]), timeout=5), "the supervised process outlived its supervisor"
    assert len(_pids(starts)) == 1  # not started again on the way out


def test_a_crash_loop_is_given_up_with_the_commands_status(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    sup = _start(tmp_path, f"echo $$ >> {starts}; exit 7")
    assert sup.wait(timeout=20) == 7
    assert len(_pids(starts)) == 3  # SUPERVISE_MAX_QUICK_DEATHS
    assert "not starting it again" in sup.stderr.read()  # type: ignore[union-attr]


def test_a_process_that_ran_a_while_before_dying_is_not_a_crash_loop(tmp_path: Path) -> None:
    """Deaths after a long run reset the count: only quick deaths in a row give up."""
    starts = tmp_path / "starts"
    sup = _start(tmp_path, f"echo $$ >> {starts}; sleep 1.2; exit 3", SUPERVISE_QUICK_SECONDS="1")
    try:
        assert _wait_for(lambda: len(_pids(starts)) >= 4, timeout=15), "gave up on a process that ran long enough"
        assert sup.poll() is None
    finally:
        sup.terminate()
        sup.wait(timeout=10)
