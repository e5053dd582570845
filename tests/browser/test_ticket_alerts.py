"""In a real browser: a supervisor sees an overdue alert appear live, opens the ticket from it,
and the specialist extends the ticket from the console's ticket page."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from desk.store import find_or_open_conversation
from storage.models import Message
from tests.browser.conftest import login
from tickets import service
from tickets.models import Ticket
from tickets.scheduler import tick

pytestmark = pytest.mark.browser


async def test_supervisor_sees_an_overdue_alert_live_and_the_specialist_extends(desk, browser, staff, shots,
                                                                               database) -> None:
    await staff("sri", "supervisor", "Sri Supervisor")
    sari_id = await staff("sari", "specialist", "Sari Spesialis")
    ctx = desk.services.tickets
    async with database.transaction() as session:
        conv = await find_or_open_conversation(session, "whatsapp", "+6281234567890", sender_name="Budi Santoso")
    filed = await service.create_ticket(database, ctx, service.NewTicket(
        conversation_id=conv.public_id, channel="whatsapp", category="payment", full_name="Budi Santoso",
        phone="081234567890", product="Pinjaman Tunai", chronology="Sudah bayar, status belum lunas."),
        uuid.uuid4().hex)
    number = filed.ticket.number
    async with database.transaction() as session:
        await session.execute(update(Ticket).where(Ticket.id == filed.ticket.id).values(assignee_id=sari_id))

    supervisor = await login(browser, desk.base_url, "sri")
    await supervisor.goto("/console/alerts")
    await supervisor.locator("#live.on").wait_for()
    await supervisor.get_by_text("Tidak ada peringatan.").wait_for()
    await shots(supervisor, "alerts-page-empty")

    # The scheduler finds the first response overdue (as its minute tick would).
    report = await tick(database, ctx, filed.ticket.first_response_due + timedelta(minutes=1))
    assert report.raised.get("first_response_overdue") == 1
    toast = supervisor.locator("[data-testid=alert-toast]")
    await toast.wait_for(timeout=10_000)
    assert number in await toast.inner_text() and "Respons pertama terlambat" in await toast.inner_text()
    row = supervisor.locator("[data-testid=alerts] li").first
    await row.wait_for()
    assert "Respons pertama terlambat" in await row.inner_text() and "Sari Spesialis" in await row.inner_text()
    await shots(supervisor, "alert-arrives-live")

    await row.locator("[data-testid=alert-link]").click()
    await supervisor.locator("[data-testid=ticket-page]").wait_for()
    assert number in await supervisor.locator("h1").inner_text()
    await shots(supervisor, "supervisor-opens-the-ticket")

    specialist = await login(browser, desk.base_url, "sari")
    await specialist.goto(f"/console/tickets/{number}")
    before = await specialist.locator("[data-testid=resolution-due]").inner_text()
    await specialist.fill("[data-testid=extend-reason]", "kami menunggu konfirmasi dari bank penerima")
    await specialist.click("[data-testid=extend]")
    await specialist.locator("[data-testid=resolution-due]", has_text="diperpanjang").wait_for()
    after = await specialist.locator("[data-testid=resolution-due]").inner_text()
    assert after != before
    assert "extended" in await specialist.locator("[data-testid=ticket-history]").inner_text()
    await shots(specialist, "specialist-extended")

    async with database.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        notice = await session.scalar(select(Message.text).where(Message.conversation_id == conv.id,
                                                                 Message.text.contains("perpanjang")))
    assert ticket.extension_count == 1 and ticket.resolution_due > filed.ticket.resolution_due
    assert notice is not None and "konfirmasi dari bank penerima" in notice
