"""Fixtures of the live-stack suite: one stack per session, borrowers on every channel, staff.

Collected only with ``--live`` (tests/conftest.py); ``make test-conversations``
passes it. Every borrower message a test sends is checked against the
invariants in ``tests/live/invariants.py`` as it happens.
"""
from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.live.borrowers import Borrower, InAppBorrower, TelegramBorrower, Turn, WhatsAppBorrower
from tests.live.console import Console
from tests.live.invariants import circuit_breaker_lines, repeated_question, turn_problems
from tests.live.stack import LiveStack

CHANNELS = ("whatsapp", "telegram", "inapp")
_serial = itertools.count(1)
_rng = random.Random(os.getpid())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.live)


@pytest.fixture(scope="session")
def stack() -> Iterator[LiveStack]:
    """The real model, Rasa, the action server and the desk, started once for the session."""
    live = LiveStack.create("conversations")
    with live:
        yield live
    print(f"\nlive stack logs: {live.run_dir}")


# LIVE_SOFT=1 (exploring a broken build): record invariant breaks and fail at the end of the
# test instead of at the first one, so one run shows how far each flow gets.
SOFT = os.environ.get("LIVE_SOFT", "") not in ("", "0")


def strict(borrower: Borrower, turn: Turn) -> None:
    """Fail the test at the first borrower message that breaks an invariant."""
    problems = turn_problems(turn)
    if problems:
        history = "\n".join(t.transcript() for t in borrower.turns[-5:])
        message = f"{borrower.channel} invariant broken: {'; '.join(problems)}\n{history}"
        if SOFT:
            borrower.deferred.append(message)
            return
        raise AssertionError(message)


def unique_phone() -> str:
    """A WhatsApp number nobody else in the session uses (+62 899 …: not a sample borrower)."""
    return f"+62899{next(_serial):04d}{_rng.randrange(10_000):04d}"


def unique_chat() -> int:
    return 700_000_000 + next(_serial) * 10_000 + _rng.randrange(10_000)


def unique_customer() -> str:
    """An in-app customer id the lending core does not know."""
    return f"LIVE-{next(_serial):04d}-{_rng.randrange(1_000_000):06d}"


@pytest.fixture
def borrower(stack: LiveStack) -> Iterator[Callable[..., Borrower]]:
    """``borrower(channel, sender=None, name=...)``: a new borrower whose every turn is checked.

    At the end of the test: no circuit breaker tripped for any of its
    conversations, and no question was asked more than 3 times in a row.
    """
    made: list[Borrower] = []
    log_start = stack.rasa_log_size()

    def make(channel: str, sender: str | int | None = None, *, name: str = "Peminjam") -> Borrower:
        b: Borrower
        if channel == "whatsapp":
            b = WhatsAppBorrower(stack, str(sender or unique_phone()), name=name)
        elif channel == "telegram":
            b = TelegramBorrower(stack, int(sender or unique_chat()), name=name)
        elif channel == "inapp":
            b = InAppBorrower(stack, str(sender or unique_customer()), name=name)
        else:
            raise ValueError(channel)
        b.on_turn = strict
        made.append(b)
        return b

    yield make
    log = stack.rasa_log_since(log_start) if stack.rasa_log.exists() else ""
    try:
        deferred = [m for b in made for m in b.deferred]
        assert not deferred, "\n\n".join(deferred)
        for b in made:
            breaker = circuit_breaker_lines(log, b.conversation_id) if b.turns else []
            assert not breaker, f"Rasa's circuit breaker tripped for {b.channel}: {breaker[0]}"
            question = repeated_question(b.turns)
            assert question is None, f"{b.channel}: the same question more than 3 times in a row: {question!r}"
    finally:
        for b in made:
            b.close()


@pytest.fixture
def agent(stack: LiveStack) -> Iterator[Console]:
    """Demo agent ``agent1`` signed in to the console."""
    console = Console(stack, "agent1")
    yield console
    console.close_session()


@pytest.fixture
def supervisor(stack: LiveStack) -> Iterator[Console]:
    console = Console(stack, "spv")
    yield console
    console.close_session()
