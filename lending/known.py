"""Whether the lending core knows a customer id, cached for the in-app hot path.

An in-app token proves which app user writes; it does not prove the lending
core has that customer (a new sign-up, a test account, a stale id). Only a
customer the core knows counts as verified (docs/channels.md), so the in-app
connector asks here before it records the id on the conversation.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from desk.lending import LendingCore

log = logging.getLogger(__name__)


class KnownCustomers:
    """``await known(customer_id)``: True when the lending core has an account for it.

    A yes is kept (an account does not disappear while a chat runs); a no is
    kept ``negative_ttl`` seconds so a customer created meanwhile is seen soon.
    A lending core that fails answers no, uncached: the borrower is then
    treated as unverified and asked for the identity check, never trusted.
    """

    def __init__(self, lending: LendingCore, *, max_entries: int = 10_000, negative_ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lending = lending
        self._max = max_entries
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._answers: OrderedDict[str, tuple[bool, float]] = OrderedDict()

    async def __call__(self, customer_id: str) -> bool:
        cached = self._answers.get(customer_id)
        now = self._clock()
        if cached is not None and (cached[0] or now - cached[1] < self._negative_ttl):
            self._answers.move_to_end(customer_id)
            return cached[0]
        try:
            known = await self._lending.account(customer_id) is not None
        except Exception:  # noqa: BLE001 - the core being down must not make anyone verified
            log.warning("lending core unavailable; in-app customer treated as unverified")
            return False
        self._answers[customer_id] = (known, now)
        self._answers.move_to_end(customer_id)
        while len(self._answers) > self._max:
            self._answers.popitem(last=False)
        return known
