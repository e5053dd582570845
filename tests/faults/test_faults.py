"""``make test-faults``: the desk keeps its promise while things fail.

Every message a borrower sends is answered by the bot or queued for a person,
exactly once, and every reply is delivered exactly once after recovery —
with a desk worker killed, the database gone for 10 s, Rasa killed, the
providers down for two minutes or rate-limiting, poison input and colliding
message ids. See docs/core.md ("Fault harness") for what each scenario does.

Marked ``faults``: the ordinary suite runs deselect it (about six minutes,
two desk deployments on PostgreSQL); ``make test-faults`` runs it.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.faults import oracle
from tests.faults.conftest import TABLE_KEY
from tests.faults.scenarios import FaultRun

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.redis]


async def test_every_message_answered_or_queued_exactly_once(request: pytest.FixtureRequest) -> None:
    workdir = Path(os.environ.get("FAULTS_ARTIFACTS", ROOT / "artifacts" / "faults")) / time.strftime(
        "%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    run = FaultRun(workdir)
    began = time.monotonic()
    rows = await run.run()
    report = "\n".join([
        oracle.table(rows), "",
        f"run {run.run_id}: {time.monotonic() - began:.0f}s in all; waited {run.settle_seconds:.0f}s after the "
        f"scenarios ({'settled' if run.settled else 'deadline reached'}); details in {workdir}",
        *(f"- {s.fault}: {'; '.join(s.notes)}" for s in run.scenarios if s.notes),
        f"desk, Rasa and migrate logs: {run.log_lines} lines scanned, {len(run.log_leaks)} leaking "
        "(secrets, unmasked phone numbers or NIK)",
        *(f"  {leak}" for leak in run.log_leaks[:20]),
    ])
    (workdir / "table.md").write_text(report + "\n")
    request.config.stash[TABLE_KEY] = report
    print("\n" + report)
    # The harness itself: every fault was injected, and every row judged real traffic.
    missing = [f"{s.fault}: {what}" for s in run.scenarios for what, seen in s.evidence.items() if not seen]
    assert not missing, "a fault was not injected as planned: " + "; ".join(missing)
    assert all(r.sent > 0 and r.replies > 0 for r in rows), "a scenario sent nothing or got no reply at all"
    bad = [r for r in rows if not r.ok]
    assert not run.log_leaks, "the desk's logs leak:\n" + "\n".join(run.log_leaks[:20])
    assert not bad, "lost, duplicated, undelivered or early-retried messages:\n" + oracle.table(bad)
