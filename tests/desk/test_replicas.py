"""The replica ring (desk/replicas.py): sticky, balanced, minimal moves, circuits."""
from __future__ import annotations

from collections import Counter

import pytest

from desk.replicas import Ring

A, B, C = "http://127.0.0.1:5001", "http://127.0.0.1:5002", "http://127.0.0.1:5003"
CONVERSATIONS = [f"conv-{i}" for i in range(3000)]


def home(ring: Ring, conversation: str) -> str:
    return next(ring.candidates(conversation))[0]


def test_one_conversation_always_goes_to_the_same_replica() -> None:
    ring = Ring([A, B, C])
    again = Ring([A, B, C])
    assert all(home(ring, c) == home(again, c) for c in CONVERSATIONS)


def test_conversations_spread_over_the_replicas() -> None:
    shares = Counter(home(Ring([A, B, C]), c) for c in CONVERSATIONS)
    assert set(shares) == {A, B, C}
    assert min(shares.values()) > len(CONVERSATIONS) / 3 * 0.75


def test_adding_a_replica_moves_only_the_conversations_it_takes() -> None:
    two, three = Ring([A, B]), Ring([A, B, C])
    moved = [c for c in CONVERSATIONS if home(two, c) != home(three, c)]
    assert all(home(three, c) == C for c in moved)
    assert len(moved) < len(CONVERSATIONS) * 0.45


def test_a_replica_taken_out_sends_its_conversations_to_the_next_and_only_those() -> None:
    now = [100.0]
    ring = Ring([A, B, C], cooldown=5, clock=lambda: now[0])
    before = {c: home(ring, c) for c in CONVERSATIONS}
    ring.mark_down(A, "connection refused")
    after = {c: home(ring, c) for c in CONVERSATIONS}
    assert A not in after.values()
    assert all(after[c] == before[c] for c in CONVERSATIONS if before[c] != A)
    # Past the cooldown A keeps its place but is health-checked before use.
    now[0] += 6
    first = next(ring.candidates(next(c for c in CONVERSATIONS if before[c] == A)))
    assert first == (A, True)
    ring.mark_up(A)
    assert {c: home(ring, c) for c in CONVERSATIONS} == before


def test_when_every_replica_is_down_they_are_still_tried() -> None:
    ring = Ring([A, B])
    ring.mark_down(A, "x")
    ring.mark_down(B, "y")
    assert sorted(url for url, check in ring.candidates("c") if check) == [A, B]


def test_bad_lists_are_refused() -> None:
    with pytest.raises(ValueError):
        Ring([])
    with pytest.raises(ValueError):
        Ring([A, A + "/"])
