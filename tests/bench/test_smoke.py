"""bench-smoke (bench/smoke.py) fails when a benchmark cannot print its table.

The runner is run as `make test` runs it, against a throw-away directory whose
Makefile holds a deliberately broken (or a working) stand-in for a bench target.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.smoke import ROOT, SPECS, Spec, bench_targets, check_output, run_one

GOOD_REPORT = """
Report benchmark: 3,000 tickets in PostgreSQL (2 runs per query)
step                               first s  median s     max s
--------------------------------------------------------------
COPY + CREATE INDEX + ANALYZE        0.120
quarterly report 2026-Q3             0.010     0.009     0.010
2026-Q3 check: received 120, resolved 100, in process at end 20
"""


def make_project(tmp_path: Path, recipe: str) -> Path:
    """A directory with mk/reports.mk defining bench-report as ``recipe`` (printf of a file)."""
    (tmp_path / "mk").mkdir()
    (tmp_path / "out.txt").write_text(GOOD_REPORT)
    (tmp_path / "mk" / "reports.mk").write_text(f"bench-report:\n\t{recipe}\n")
    (tmp_path / "Makefile").write_text("include $(wildcard mk/*.mk)\n")
    return tmp_path


def smoke(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.smoke", "-C", str(directory)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_bench_that_prints_its_table_passes(tmp_path: Path) -> None:
    done = smoke(make_project(tmp_path, "@cat out.txt"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| bench-report |" in done.stdout and "| ok |" in done.stdout


def test_a_bench_that_crashes_fails_the_smoke_run(tmp_path: Path) -> None:
    # What issue 17 found: the COPY failed after a migration added a column.
    done = smoke(make_project(tmp_path, "@echo 'asyncpg.NotNullViolationError: extension_count'; exit 1"))
    assert done.returncode == 1
    assert "bench-report FAILED" in done.stdout and "exit status" in done.stdout


def test_a_bench_that_exits_0_without_its_table_fails(tmp_path: Path) -> None:
    done = smoke(make_project(tmp_path, "@grep -v quarterly out.txt"))
    assert done.returncode == 1
    assert "quarterly report 2026-Q3" in done.stdout


def test_a_new_bench_target_without_a_smoke_spec_fails(tmp_path: Path) -> None:
    project = make_project(tmp_path, "@cat out.txt")
    (project / "mk" / "new.mk").write_text("bench-new: \n\t@echo hi\n")
    done = smoke(project)
    assert done.returncode == 1
    assert "bench-new has no smoke spec" in done.stdout


def test_nan_in_a_table_row_is_not_a_table() -> None:
    spec = SPECS["bench-report"]
    assert check_output(spec, 0, GOOD_REPORT) == []
    assert check_output(spec, 0, GOOD_REPORT.replace("0.010     0.009", "nan     nan")) != []


def test_every_bench_target_of_the_project_has_a_spec() -> None:
    targets = bench_targets(ROOT / "mk")
    assert {"bench-desk", "bench-report", "bench-nlu", "bench-handoff", "bench-channels"} <= set(targets)
    assert [t for t in targets if t not in SPECS] == []


def test_a_bench_that_hangs_is_stopped_with_everything_it_started(tmp_path: Path) -> None:
    project = make_project(tmp_path, "@sleep 300 & echo $$! > child.pid; wait")
    spec = Spec("bench-report", {}, (r"never",), timeout=3)
    seconds, problems, _ = run_one(spec, project)
    assert problems == ["did not finish within 3 s"] and seconds < 30
    child = int((project / "child.pid").read_text())
    assert _ends_within(child, seconds=5.0)


def _ends_within(pid: int, seconds: float) -> bool:
    """True once ``pid`` is gone or a zombie; SIGKILL takes effect when the kernel next schedules the
    process, which on two busy cores (CI runs the desk suites side by side) can be a moment later."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False
