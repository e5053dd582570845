"""SLA alerts people can see: the alerts page, the console's queue panel, and the live notification."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from tickets.models import Ticket
from tickets.scheduler import tick
from tests.handoff.test_case import _conversation, _file
from tests.handoff.test_live import _connect, _next, live_sign_in, served  # noqa: F401 - fixtures


async def _overdue_ticket(database, services, assignee_id: int | None):  # type: ignore[no-untyped-def]
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    async with database.transaction() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(assignee_id=assignee_id))
    return ticket


async def test_alerts_page_lists_each_alert_for_supervisors_and_the_assignee(client, sign_in, database,
                                                                             services) -> None:
    ani, budi = await sign_in("ani"), await sign_in("budi")
    sri = await sign_in("sri", "supervisor")
    first = await _overdue_ticket(database, services, ani.id)
    ctx = services.tickets
    await tick(database, ctx, first.first_response_due + timedelta(minutes=1))
    second = await _overdue_ticket(database, services, None)
    await tick(database, ctx, second.first_response_due + timedelta(minutes=2))

    page = await client.get("/console/alerts", sri)
    assert page.status == 200
    text = page.text
    assert text.index(second.number) < text.index(first.number)  # newest first
    assert f'href="/console/tickets/{first.number}"' in text and "Ani" in text  # ticket link and owner
    assert "Respons pertama terlambat" in text
    mine = await client.get("/console/alerts", ani)
    assert first.number in mine.text and second.number not in mine.text  # the assignee sees their own
    assert first.number not in (await client.get("/console/alerts", budi)).text
    queue_page = await client.get("/console", ani)
    assert 'data-testid="alerts"' in queue_page.text and first.number in queue_page.text

    api = await client.get("/api/v1/staff/alerts", sri)
    assert [a["ticket_number"] for a in api.json["items"]][:2] == [second.number, first.number]
    assert api.json["items"][1]["owner"] == "Ani"


async def test_an_alert_reaches_the_consoles_it_is_for_live(served, live_sign_in, database, services,  # noqa: F811
                                                            ) -> None:
    sri = await live_sign_in("sri", "supervisor")
    ani, budi = await live_sign_in("ani"), await live_sign_in("budi")
    ticket = await _overdue_ticket(database, services, ani.id)
    sockets = [await _connect(served, who) for who in (sri, ani, budi)]
    try:
        await asyncio.sleep(0.2)
        await tick(database, services.tickets, ticket.first_response_due + timedelta(minutes=1))
        for ws in sockets[:2]:
            event = await _next(ws)
            assert event["topic"] == "alert" and event["type"] == "first_response_overdue"
            assert event["ticket_number"] == ticket.number and "recipients" not in event
        with pytest.raises(TimeoutError):
            await _next(sockets[2], 0.5)
    finally:
        for ws in sockets:
            await ws.close()
    assert json.dumps(event)  # plain JSON, ids and metadata only
