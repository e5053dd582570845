"""The fault harness prints its table in pytest's summary, so CI logs show it whatever the capture mode."""
from __future__ import annotations

import pytest

TABLE_KEY = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    text = config.stash.get(TABLE_KEY, None)
    if text:
        terminalreporter.write_sep("=", "make test-faults")
        terminalreporter.write_line(text)
