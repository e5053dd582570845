"""A status update for an overdue ticket says it is late, apologises, and never promises a day gone by."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select, update

from storage.models import Message
from tests.tickets.conftest import as_user
from tests.tickets.test_scheduler import AGENT, new_ticket
from tickets import service, wording
from tickets.calendar import WIB
from tickets.models import Ticket, TicketEvent
from tickets.scheduler import tick

NOW = datetime(2026, 11, 27, 10, tzinfo=WIB)
DUE = datetime(2026, 10, 29, 23, 59, 59, tzinfo=WIB)  # Thursday 29 October 2026, long past


def _dates(text: str) -> list[str]:
    return re.findall(r"\d{1,2} (?:Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|"
                      r"November|Desember) \d{4}", text)


def test_on_time_the_update_names_the_deadline() -> None:
    text = wording.status_update("DCI-1", "in_progress", NOW + timedelta(days=3), now=NOW)
    assert "paling lambat Senin, 30 November 2026" in text and "terlambat" not in text


def test_overdue_without_a_new_estimate_says_someone_will_call() -> None:
    for expected in (None, NOW - timedelta(days=1)):  # an estimate already past counts as none
        text = wording.status_update("DCI-1", "in_progress", DUE, now=NOW, expected_at=expected)
        assert "melewati batas waktu" in text and "mohon maaf atas keterlambatan" in text
        assert "akan segera menghubungi Anda" in text and "perkiraan waktu penyelesaian yang baru" in text
        assert _dates(text) == []  # no date at all: never "paling lambat Kamis, 29 Oktober 2026"


def test_overdue_with_the_handlers_estimate_gives_it() -> None:
    expected = datetime(2026, 12, 3, 23, 59, 59, tzinfo=WIB)
    text = wording.status_update("DCI-1", "escalated", DUE, now=NOW, expected_at=expected)
    assert "mohon maaf atas keterlambatan" in text
    assert _dates(text) == ["3 Desember 2026"]
    assert "paling lambat Kamis, 3 Desember 2026" in text


async def _last_text(database) -> str:
    async with database.session() as s:
        return await s.scalar(select(Message.text).order_by(Message.id.desc()).limit(1))


async def test_the_scheduler_sends_the_overdue_wording_then_the_handlers_estimate(app, database, ticket_ctx,
                                                                                 wa_conversation, staff) -> None:
    t = await new_ticket(database, ticket_ctx, wa_conversation)
    async with database.transaction() as s:
        ticket = await service.get_ticket(s, t.number)
        await service.start_work(s, ticket, AGENT)
        await s.execute(update(Ticket).where(Ticket.id == t.id).values(resolution_due=DUE))
    # The periodic update is due (5 working days after Thu 19 Nov); the deadline passed a month ago.
    ticket_ctx.now = lambda: NOW  # type: ignore[method-assign]
    assert (await tick(database, ticket_ctx)).raised.get("status_update") == 1
    text = await _last_text(database)
    assert "melewati batas waktu" in text and _dates(text) == [] and "akan segera menghubungi" in text

    # The specialist sets the new expectation; a day gone by is refused.
    spec = as_user(staff["specialist"])
    _, res = await app.asgi_client.post(f"/api/v1/staff/tickets/{t.number}/expectation", headers=spec,
                                        json={"expected_at": "2026-11-20T17:00:00+07:00"})
    assert res.status == 422
    _, res = await app.asgi_client.post(f"/api/v1/staff/tickets/{t.number}/expectation", headers=spec,
                                        json={"expected_at": "2026-12-03T23:59:59+07:00", "note": "bank"})
    assert res.status == 200, res.text
    assert res.json["expected_resolution_at"] == "2026-12-03T23:59:59+07:00"
    async with database.session() as s:
        kinds = list(await s.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == t.id)))
    assert "expectation_set" in kinds
    # Make the next update fall due before the estimate (the last one counted from Tue 24 Nov).
    ticket_ctx.now = lambda: datetime(2026, 12, 2, 9, tzinfo=WIB)  # type: ignore[method-assign]
    async with database.transaction() as s:
        await s.execute(update(Ticket).where(Ticket.id == t.id)
                        .values(last_status_update_at=datetime(2026, 11, 24, 9, tzinfo=WIB)))
    # 5 working days after Tue 24 Nov: Nov 25, 26, 27, 30, Dec 1 -> due Tue 1 Dec 23:59:59 WIB.
    assert (await tick(database, ticket_ctx, datetime(2026, 12, 2, 9, tzinfo=WIB))).raised.get("status_update") == 1
    text = await _last_text(database)
    assert _dates(text) == ["3 Desember 2026"] and "mohon maaf atas keterlambatan" in text
