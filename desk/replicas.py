"""Which Rasa replica answers a conversation: a consistent-hash ring with a circuit per replica.

Several ``rasa run`` processes share one tracker store (SQL or Redis) and
Rasa's Redis lock store, so any of them can answer any conversation. The desk
still sends every turn of one conversation to the same replica while it is up
(sticky), so a replica's caches stay warm and adding or removing one replica
moves only the conversations that hashed to it (consistent hashing, not
``hash % n``, which would move almost all of them).

A replica that fails at the connection level is taken out (its circuit
opens) for ``cooldown`` seconds; its conversations go to the next replica on
the ring, which reads their tracker (slots and all) from the shared store.
After the cooldown one health check (Rasa's ``GET /``) decides whether it is
taken back.
"""
from __future__ import annotations

import hashlib
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

# Points per replica on the ring: enough that two or three replicas get close to equal shares.
VNODES = 128


def _point(key: str) -> int:
    # blake2b is stable across processes and Python versions (``hash()`` is salted per process).
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


@dataclass
class ReplicaState:
    """The circuit of one replica: closed (in use) while ``down_until`` is 0, else open until then."""

    url: str
    down_until: float = 0.0
    failures: int = 0
    last_error: str = ""


class Ring:
    """Consistent hashing of conversation ids onto replica URLs, skipping replicas that are down."""

    def __init__(self, urls: Sequence[str], *, cooldown: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        cleaned = [u.rstrip("/") for u in urls if u.strip()]
        if not cleaned:
            raise ValueError("at least one Rasa URL is needed")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError(f"a Rasa URL is listed twice: {cleaned}")
        self.urls = cleaned
        self.cooldown = cooldown
        self.clock = clock
        self.states = {u: ReplicaState(u) for u in cleaned}
        points = sorted((_point(f"{u}#{i}"), u) for u in cleaned for i in range(VNODES))
        self._keys = [p for p, _ in points]
        self._owners = [u for _, u in points]

    def preference(self, conversation: str) -> list[str]:
        """Every replica once, in the order this conversation tries them (its home replica first)."""
        if len(self.urls) == 1:
            return list(self.urls)
        start = bisect_right(self._keys, _point(conversation))
        order: list[str] = []
        for i in range(len(self._owners)):
            url = self._owners[(start + i) % len(self._owners)]
            if url not in order:
                order.append(url)
                if len(order) == len(self.urls):
                    break
        return order

    def candidates(self, conversation: str) -> Iterator[tuple[str, bool]]:
        """(url, check first) in the order this conversation tries the replicas.

        Replicas in use, and replicas whose cooldown is over (health-checked before a
        borrower's message is sent to them), keep their place in the conversation's
        preference order; replicas still cooling down come last, health-checked too:
        when every replica is out the caller still tries them rather than failing
        without trying.
        """
        now = self.clock()
        later: list[str] = []
        for url in self.preference(conversation):
            state = self.states[url]
            if state.down_until == 0.0:
                yield url, False
            elif now >= state.down_until:
                yield url, True
            else:
                later.append(url)
        for url in later:
            yield url, True

    def up(self) -> list[str]:
        """The replicas whose circuit is closed."""
        return [u for u in self.urls if self.states[u].down_until == 0.0]

    def mark_down(self, url: str, error: str) -> None:
        """Open the circuit of ``url`` for ``cooldown`` seconds."""
        state = self.states[url]
        state.failures += 1
        state.last_error = error
        state.down_until = self.clock() + self.cooldown

    def mark_up(self, url: str) -> None:
        """Close the circuit of ``url`` (it answered)."""
        state = self.states[url]
        state.down_until = 0.0
        state.failures = 0
        state.last_error = ""
