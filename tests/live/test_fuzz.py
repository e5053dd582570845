"""The dialogue fuzzer as a test: ``FUZZ_N`` seeded conversations, none may break.

``make test-conversations`` runs a 200-conversation slice (CI);
``make fuzz-dialogue`` runs 1,000 (``FUZZ_N``, ``FUZZ_SEED``, ``FUZZ_ONLY``
to replay one conversation, ``FUZZ_WORKERS`` conversations at a time). The
figure and every broken conversation (seed and masked transcript) go to
``artifacts/fuzz-dialogue.txt``.
"""
from __future__ import annotations

import os
import sys

import pytest

from tests.live.fuzz import run_fuzz
from tests.live.stack import ARTIFACTS, LiveStack

DEFAULT_SEED = 11


def _int_env(name: str, default: int | None) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def test_random_conversations_never_break(stack: LiveStack, request: pytest.FixtureRequest) -> None:
    n = _int_env("FUZZ_N", 200) or 0
    seed = _int_env("FUZZ_SEED", DEFAULT_SEED) or 0
    only = _int_env("FUZZ_ONLY", None)
    workers = _int_env("FUZZ_WORKERS", 3) or 1
    step = max(1, n // 10)

    def progress(done: int, total: int, broken: int) -> None:
        if done % step == 0 or done == total:
            sys.stderr.write(f"fuzz-dialogue: {done}/{total} played, {broken} broken\n")

    report = run_fuzz(stack, n, seed, workers=workers, only=only, progress=progress)
    out = ARTIFACTS.parent / "fuzz-dialogue.txt"
    report.write(out)
    report.write(stack.run_dir / "fuzz-dialogue.txt")
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.write_line("")
        terminal.write_line(report.summary())
        terminal.write_line(f"broken conversations: {out}")
    assert not report.broken, f"{report.summary()}\nsee {out}"
