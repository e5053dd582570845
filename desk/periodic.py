"""The periodic-job loop every scheduler of the desk shares.

The tickets part's SLA clock (``tickets.scheduler``) and the privacy part's
rights, breach and retention jobs (``privacy.scheduler``) all need the same
four things, and they live here once:

* ``install``: a background task started after the server starts (when its
  interval is above zero) and cancelled before it stops, so it behaves the
  same under ``app.run`` and an embedded ``create_server`` (tests); the loop
  logs a failed round and carries on (a database outage must not end it).
* ``claim_once``: the lock on one occurrence. An alert row is inserted with a
  unique key and ``ON CONFLICT DO NOTHING`` in the transaction that acts on
  it; only the inserter acts, so running twice — or on two desk instances at
  once — raises nothing twice.
* ``for_each``: each item (ticket, rights request, breach) in its own
  transaction; one that fails is logged and counted and the others go on;
  what an item announces is published only once it committed.
* ``TickReport``: what one round raised, by kind, and how many items failed.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sanic import Sanic
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class TickReport:
    """What one tick raised, by kind, and how many items failed."""

    raised: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def total(self) -> int:
        """Everything raised, whatever its kind."""
        return sum(self.raised.values())

    def count(self, kind: str) -> None:
        """One more ``kind`` raised."""
        self.raised[kind] = self.raised.get(kind, 0) + 1

    def print(self) -> int:
        """Print one ``kind<TAB>count`` line per kind, then the totals; the exit code of a tick command.

        ``aduan tickets-tick`` and ``aduan privacy-tick`` answer this way: 1 when
        an item failed, else 0.
        """
        for kind, count in sorted(self.raised.items()):
            print(f"{kind}\t{count}")
        print(f"total\t{self.total}\terrors\t{self.errors}")
        return 1 if self.errors else 0


async def claim_once(session: AsyncSession, table: Table, values: Mapping[str, Any],
                     unique: Sequence[str]) -> int | None:
    """Insert ``values`` into ``table`` unless a row with the same ``unique`` columns exists (no commit).

    Returns the new row's id to the caller that inserted it, None to everyone
    else: the winner of a race between two ticks or two instances acts, the
    others skip. ``unique`` must name a unique constraint of ``table``.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (insert(table).values(**values)
            .on_conflict_do_nothing(index_elements=[table.c[name] for name in unique])
            .returning(table.c.id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def for_each(db: Database, ids: Iterable[int],
                   step: Callable[[AsyncSession, int], Awaitable[Sequence[T]]],
                   report: TickReport, what: str) -> list[T]:
    """Run ``step(session, id)`` for every id, each in its own transaction (committed when it returns).

    Returns what the steps returned, only for the items that committed (the
    events to publish: nothing is announced for a rolled-back item). An
    exception rolls back that item only: it is logged with ``what`` and the
    id (never the row's content) and counted in ``report.errors``.
    """
    done: list[T] = []
    for item_id in ids:
        try:
            async with db.transaction() as session:
                out = await step(session, item_id)
        except Exception:  # noqa: BLE001 - one broken item must not stop the others
            report.errors += 1
            log.exception("%s failed on id %s", what, item_id)
        else:
            done.extend(out)
    return done


def install(app: Sanic, name: str, interval: Callable[[Sanic], float],
            step: Callable[[Sanic], Awaitable[None]]) -> None:
    """Run ``step(app)`` every ``interval(app)`` seconds while the server runs (0 or less: never).

    ``interval`` is read when the server has started, from the app's
    installed context. The task is kept on ``app.ctx.periodic[name]``.
    """

    async def loop(app: Sanic, seconds: float) -> None:
        while True:
            try:
                await step(app)
            except Exception:  # noqa: BLE001 - keep running through database outages
                log.exception("periodic job %s failed", name)
            await asyncio.sleep(seconds)

    @app.after_server_start
    async def _start(app: Sanic) -> None:
        seconds = interval(app)
        if seconds > 0:
            tasks = _tasks(app)
            tasks[name] = asyncio.get_running_loop().create_task(loop(app, seconds), name=f"periodic:{name}")

    @app.before_server_stop
    async def _stop(app: Sanic) -> None:
        task = _tasks(app).pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _tasks(app: Sanic) -> dict[str, asyncio.Task[None]]:
    tasks = getattr(app.ctx, "periodic", None)
    if tasks is None:
        tasks = app.ctx.periodic = {}
    return tasks


def running(app: Sanic, name: str) -> bool:
    """Is the periodic job ``name`` running on ``app``? (for tests and health checks)"""
    task = _tasks(app).get(name)
    return task is not None and not task.done()
