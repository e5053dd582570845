"""The report counts what the tickets service writes: create, resolve, reject, refused settlement."""
from __future__ import annotations

from datetime import datetime, timedelta

from desk.config import Settings
from desk.events import InMemoryEventBus
from reports.periods import WIB, parse_period
from reports.queries import period_report
from storage.db import Database
from storage.models import Conversation
from tickets import service
from tickets.context import build_context


async def test_report_follows_the_ticket_lifecycle(database: Database, settings: Settings,
                                                    event_bus: InMemoryEventBus) -> None:
    ctx = build_context(settings, event_bus)
    clock = [datetime(2026, 11, 2, 10, 0, tzinfo=WIB)]
    ctx.now = lambda: clock[0]  # type: ignore[method-assign]
    async with database.transaction() as session:
        conversation = Conversation(channel="whatsapp", sender="+6281234567890")
        session.add(conversation)
    numbers = []
    for i, category in enumerate(["payment", "relief", "app"]):
        data = service.NewTicket(conversation_id=conversation.public_id, channel="whatsapp", category=category,
                                 full_name="Budi Santoso", phone="081234567890", product="pinjaman_tunai",
                                 chronology="Sudah bayar tapi belum lunas.")
        created = await service.create_ticket(database, ctx, data, idempotency_key=f"k{i}")
        numbers.append(created.ticket.number)
    clock[0] += timedelta(days=3)
    outcome = service.Outcome(kind="explanation", explanation="Pembayaran sudah kami catat.")
    cause = service.Closure(cause="kesalahan_sistem")
    async with database.transaction() as session:
        resolved = await service.get_ticket(session, numbers[0], for_update=True)
        await service.resolve(session, ctx, resolved, outcome, service.SYSTEM, closure=cause)
        rejected = await service.get_ticket(session, numbers[1], for_update=True)
        await service.reject(session, ctx, rejected, "not_our_product", "Bukan produk kami.", service.SYSTEM,
                             closure=cause)
        refused = await service.get_ticket(session, numbers[2], for_update=True)
        await service.resolve(session, ctx, refused, outcome, service.SYSTEM, closure=cause)
    async with database.transaction() as session:
        refused = await service.get_ticket(session, numbers[2], for_update=True)
        await service.settlement_answer(session, ctx, refused, False, "Tidak setuju.", service.SYSTEM)

    async with database.session() as session:
        report = await period_report(session, parse_period("2026-11"))
        still_open = await service.get_ticket(session, numbers[2])
    t = report.totals
    assert (t.received, t.resolved, t.not_resolved, t.in_process) == (3, 1, 1, 1)
    # Both closings met the deadlines tickets.sla set; the reopened one breaches only if its
    # deadline fell inside November.
    assert still_open.resolution_due is not None and still_open.closed_at is None
    late = int(still_open.resolution_due < parse_period("2026-11").end_utc)
    assert (t.resolution_sla_met, t.resolution_sla_breached) == (2, late)
    by_category = dict(report.by_category())
    assert by_category["app"].in_process == 1 and by_category["relief"].not_resolved == 1
