"""The shared periodic-job helper: the claim fires once, one failing item neither stops nor leaks."""
from __future__ import annotations

import asyncio
import uuid

from sanic import Sanic
from sanic.response import text
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import periodic
from desk.periodic import TickReport, claim_once, for_each
from privacy.models import Breach, BreachAlert
from storage.base import utcnow


async def _breach(database) -> int:
    async with database.transaction() as s:
        breach = Breach(number=f"BR-{uuid.uuid4().hex[:6]}", title="t", description="d", data_classes=["name"],
                        discovered_at=utcnow(), notify_due=utcnow())
        s.add(breach)
        await s.flush()
        return breach.id


async def test_claim_once_lets_one_caller_act(database) -> None:
    breach_id = await _breach(database)
    values = {"breach_id": breach_id, "key": "k", "kind": "k", "recipients": {}, "message": "", "due_at": None}
    async with database.transaction() as s:
        first = await claim_once(s, BreachAlert.__table__, values, unique=("breach_id", "key"))
    async with database.transaction() as s:
        second = await claim_once(s, BreachAlert.__table__, values, unique=("breach_id", "key"))
    assert first is not None and second is None


async def test_for_each_isolates_a_failing_item_and_returns_only_committed_results(database) -> None:
    ids = [await _breach(database) for _ in range(3)]

    async def step(session: AsyncSession, breach_id: int) -> list[str]:
        await claim_once(session, BreachAlert.__table__, {"breach_id": breach_id, "key": "k", "kind": "k",
                                                          "recipients": {}, "message": "", "due_at": None},
                         unique=("breach_id", "key"))
        if breach_id == ids[1]:
            raise RuntimeError("broken row")
        return [f"event {breach_id}"]

    report = TickReport()
    events = await for_each(database, ids, step, report, "test job")
    assert events == [f"event {ids[0]}", f"event {ids[2]}"] and report.errors == 1
    async with database.session() as s:
        claimed = set(await s.scalars(select(BreachAlert.breach_id)))
    assert claimed == {ids[0], ids[2]}  # the failing item's claim rolled back: it is tried again next tick


async def test_install_runs_the_step_while_the_server_runs_and_survives_a_failure() -> None:
    Sanic.test_mode = True
    app = Sanic(f"periodic_{uuid.uuid4().hex[:8]}")
    rounds: list[int] = []

    async def step(app: Sanic) -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database down")

    periodic.install(app, "job", lambda app: 0.01, step)
    periodic.install(app, "off", lambda app: 0, step)

    @app.get("/")
    async def index(request):  # noqa: ANN001 - one request keeps the server up for a few rounds
        await asyncio.sleep(0.1)
        return text("ok")

    await app.asgi_client.get("/")
    assert len(rounds) >= 2  # the first round failed, the loop went on
    assert not periodic.running(app, "off")
