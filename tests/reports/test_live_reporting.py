"""Reports on live data under today's rules (issue 15): the policy in force, causes recorded at
closing, oral/written and resolution-time tables, complaints forwarded by OJK."""
from __future__ import annotations

import itertools
import math
import statistics
from datetime import datetime, timedelta, timezone

from desk.config import Settings
from desk.events import InMemoryEventBus
from reports.document import Lender, build_document, policy_label
from reports.periods import WIB, local_date, parse_period
from reports.queries import period_report
from storage.db import Database
from storage.models import Conversation
from tests.reports.conftest import fixed_working_day, ticket
from tickets import service
from tickets.calendar import working_days_between
from tickets.context import TicketContext, build_context
from tickets.models import Ticket
from tickets.sla import Clock, deadline

_senders = itertools.count(1000001)
LENDER = Lender("PT Dana Contoh Indonesia", licence="KEP-000/D.05/2020 (contoh)", officer="Siti, Kepala Unit",
                cause_names={"kesalahan_sistem": "Gangguan sistem atau aplikasi", "pihak_ketiga": "Pihak ketiga"})


def _ctx(settings: Settings, events: InMemoryEventBus, at: datetime, **update: object) -> tuple[TicketContext, list]:
    ctx = build_context(settings.model_copy(update=update) if update else settings, events)
    clock = [at]
    ctx.now = lambda: clock[0]  # type: ignore[method-assign]
    return ctx, clock


async def _file(database: Database, ctx: TicketContext, channel: str = "whatsapp", category: str = "payment",
                key: str | None = None) -> Ticket:
    async with database.transaction() as session:
        conversation = Conversation(channel="whatsapp", sender=f"+62812{next(_senders):07d}")
        session.add(conversation)
    data = service.NewTicket(conversation_id=conversation.public_id, channel=channel, category=category,
                             full_name="Budi Santoso", phone="081234567890", product="pinjaman_tunai",
                             chronology="Sudah bayar tapi belum lunas.")
    return (await service.create_ticket(database, ctx, data, idempotency_key=key)).ticket


def section(document, title: str) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    """One table of the document as {row label: {column label: value}} (the total row under "Jumlah")."""
    s = next(x for x in document.sections if x.title == title)
    rows = list(s.rows) + ([s.total] if s.total else [])
    return {str(r[0]) if s.columns[1] != "Kategori" else f"{r[0]}|{r[1]}": dict(zip(s.columns, r)) for r in rows}


async def test_default_policy_is_pojk_22_2023(database: Database, settings: Settings,
                                              event_bus: InMemoryEventBus) -> None:
    assert Settings(_env_file=None).sla_policy == "pojk-22-2023"
    ctx, _ = _ctx(settings, event_bus, datetime(2026, 11, 2, 10, 0, tzinfo=WIB))
    assert ctx.policy.name == "pojk-22-2023"
    written = await _file(database, ctx)
    oral = await _file(database, ctx, channel="phone")
    assert written.sla_policy == oral.sla_policy == "pojk-22-2023"
    # Monday 2 November is day 0: written 10 working days → 16 November; oral 5 → 9 November.
    assert written.resolution_due.astimezone(WIB).date().isoformat() == "2026-11-16"
    assert (oral.form, oral.resolution_due.astimezone(WIB).date().isoformat()) == ("oral", "2026-11-09")
    assert policy_label("pojk-22-2023") == "POJK 22 Tahun 2023"


async def test_a_pojk_18_ticket_keeps_its_deadlines_after_the_policy_changes(
        database: Database, settings: Settings, event_bus: InMemoryEventBus) -> None:
    at = datetime(2026, 11, 2, 10, 0, tzinfo=WIB)
    old_ctx, _ = _ctx(settings, event_bus, at, sla_policy="pojk-18-2018")
    old = await _file(database, old_ctx)
    assert old.sla_policy == "pojk-18-2018"
    due = old.resolution_due
    assert due.astimezone(WIB).date().isoformat() == "2026-11-30"  # 20 working days
    # The deployment moves to the default (POJK 22/2023); the old ticket is extended under it.
    new_ctx, _ = _ctx(settings, event_bus, at + timedelta(days=20))
    assert new_ctx.policy.name == "pojk-22-2023"
    async with database.transaction() as session:
        t = await service.get_ticket(session, old.number, for_update=True)
        assert t.resolution_due == due  # nothing recomputed
        await service.extend(session, new_ctx, t, "menunggu konfirmasi bank", service.SYSTEM)
    async with database.session() as session:
        t = await service.get_ticket(session, old.number)
    # POJK 18/2018's extension (+20 working days), not POJK 22/2023's (+10): 30 Nov → 28 Dec 2026
    # (25 December is a holiday).
    p18 = new_ctx.policy_for(t)
    assert p18.name == "pojk-18-2018" and p18.extension.working_days == 20
    assert t.resolution_due == deadline(Clock.EXTENDED_RESOLUTION, policy=p18, calendar=new_ctx.calendar,
                                        received_at=t.received_at, since=due)
    assert t.sla_policy == "pojk-18-2018"
    # A ticket opened now runs on POJK 22/2023, and the report says which policy each figure used.
    await _file(database, new_ctx)
    async with database.session() as session:
        report = await period_report(session, parse_period("2026-11"))
    assert dict((k, c.received) for k, c in report.by_policy()) == {"pojk-18-2018": 1, "pojk-22-2023": 1}
    doc = build_document(report, LENDER, fixed_working_day, datetime(2026, 12, 1, 3, tzinfo=timezone.utc))
    by_policy = section(doc, "Ketepatan Waktu menurut Ketentuan")
    assert by_policy["POJK 18/POJK.07/2018"]["Diterima"] == 1 and by_policy["POJK 22 Tahun 2023"]["Diterima"] == 1
    header = dict(doc.header)
    assert "POJK 18/POJK.07/2018 (1 pengaduan)" in header["Ketentuan batas waktu penanganan"]


async def test_the_report_shows_causes_recorded_when_tickets_close(
        database: Database, settings: Settings, event_bus: InMemoryEventBus) -> None:
    ctx, clock = _ctx(settings, event_bus, datetime(2026, 11, 2, 10, 0, tzinfo=WIB))
    tickets = [await _file(database, ctx, key=f"live-{i}") for i in range(3)]
    clock[0] += timedelta(days=2)
    outcome = service.Outcome(kind="explanation", explanation="Pembayaran sudah kami catat.")
    async with database.transaction() as session:
        a = await service.get_ticket(session, tickets[0].number, for_update=True)
        await service.resolve(session, ctx, a, outcome, service.SYSTEM, closure=service.Closure(
            cause="kesalahan_sistem", negative_publicity=True, publicity_url="https://x.com/p/status/9"))
        b = await service.get_ticket(session, tickets[1].number, for_update=True)
        await service.reject(session, ctx, b, "not_our_product", "Bukan produk kami.", service.SYSTEM,
                             closure=service.Closure(cause="pihak_ketiga"))
    async with database.session() as session:
        report = await period_report(session, parse_period("2026-11"))
    causes = {cause: c for cause, c in report.by_cause()}
    assert (causes["kesalahan_sistem"].resolved, causes["pihak_ketiga"].not_resolved) == (1, 1)
    assert causes["unknown"].in_process == 1  # the one still open has no cause yet
    assert report.totals.negative_publicity == 1
    doc = build_document(report, LENDER, fixed_working_day, datetime(2026, 12, 1, 3, tzinfo=timezone.utc))
    table = section(doc, "Penyebab Pengaduan")
    assert table["Gangguan sistem atau aplikasi"]["Selesai"] == 1
    assert table["Pihak ketiga"]["Tidak selesai"] == 1
    assert table["Belum ditentukan"]["Dalam proses"] == 1
    assert section(doc, "Pengaduan per Kategori")["Jumlah"]["Publikasi negatif"] == 1


async def test_oral_written_and_resolution_times_reconcile_with_the_tickets(database: Database) -> None:
    utc = timezone.utc
    rows = [
        # (category, product, form, received, closed, status)
        ("payment", "pinjaman_tunai", "written", datetime(2026, 10, 5, 3, tzinfo=utc), datetime(2026, 10, 9, 3, tzinfo=utc), "resolved"),
        ("payment", "pinjaman_tunai", "oral", datetime(2026, 10, 5, 3, tzinfo=utc), datetime(2026, 10, 6, 3, tzinfo=utc), "resolved"),
        ("payment", "paylater", "written", datetime(2026, 10, 1, 3, tzinfo=utc), datetime(2026, 10, 20, 3, tzinfo=utc), "rejected"),
        ("fraud", "paylater", "oral", datetime(2026, 10, 12, 3, tzinfo=utc), datetime(2026, 10, 12, 8, tzinfo=utc), "resolved"),
        ("fraud", "pinjaman_tunai", "written", datetime(2026, 9, 28, 3, tzinfo=utc), datetime(2026, 10, 30, 3, tzinfo=utc), "resolved"),
        ("relief", "pinjaman_tunai", "written", datetime(2026, 10, 14, 3, tzinfo=utc), None, "in_progress"),
        ("relief", "pinjaman_tunai", "oral", datetime(2026, 10, 28, 3, tzinfo=utc), datetime(2026, 11, 3, 3, tzinfo=utc), "resolved"),
    ]
    async with database.transaction() as session:
        for category, product, form, received, closed, status in rows:
            session.add(ticket(category=category, product=product, form=form, received_at=received,
                               clock_started_at=received, closed_at=closed, status=status))
    async with database.session() as session:
        report = await period_report(session, parse_period("2026-10"))
    t = report.totals
    forms = dict(report.by_form())
    for measure in ("carried_over", "received", "resolved", "not_resolved", "in_process"):
        assert getattr(forms["oral"], measure) + getattr(forms["written"], measure) == getattr(t, measure)
    # From the rows: October received 3 oral (one closed in November) and 3 written (+1 carried over).
    assert (forms["oral"].received, forms["written"].received, forms["written"].carried_over) == (3, 3, 1)
    assert (forms["oral"].resolved, forms["oral"].in_process, forms["written"].not_resolved) == (2, 1, 1)

    doc = build_document(report, LENDER, fixed_working_day, datetime(2026, 11, 2, 3, tzinfo=timezone.utc))
    by_form = section(doc, "Pengaduan Lisan dan Tertulis")
    assert (by_form["Lisan"]["Diterima"], by_form["Tertulis"]["Diterima"], by_form["Jumlah"]["Diterima"]) == (3, 3, 6)

    closed_in_october = [r for r in rows if r[4] is not None and r[4] < datetime(2026, 10, 31, 17, tzinfo=utc)]

    def days(r) -> int:  # type: ignore[no-untyped-def]
        return working_days_between(fixed_working_day, local_date(r[3]), local_date(r[4]))

    def expected(values: list[int]) -> tuple[int, float, int]:
        ordered = sorted(values)
        return len(values), float(statistics.median(values)), ordered[math.ceil(0.9 * len(values)) - 1]

    by_category = section(doc, "Lama Penyelesaian per Kategori")
    categories = dict(report.by_category())
    for label, code in (("Pembayaran", "payment"), ("Penipuan", "fraud")):
        mine = [days(r) for r in closed_in_october if r[0] == code]
        row = by_category[label]
        assert (row["Jumlah ditutup"], row["Median (hari kerja)"], row["Persentil ke-90 (hari kerja)"]) == expected(mine)
        # The count closed equals the category table's resolved + not resolved.
        assert row["Jumlah ditutup"] == categories[code].resolved + categories[code].not_resolved
    assert "Keringanan" not in by_category  # nothing of it closed in October
    assert by_category["Jumlah"]["Jumlah ditutup"] == t.resolved + t.not_resolved == 5
    # Hand-checked: 4 (5→9 Oct), 1, 13 (1→20 Oct), 0 (same day), 24 (28 Sep → 30 Oct: 2 + 22).
    assert sorted(days(r) for r in closed_in_october) == [0, 1, 4, 13, 24]
    assert (by_category["Jumlah"]["Median (hari kerja)"], by_category["Jumlah"]["Persentil ke-90 (hari kerja)"]) == (4.0, 24)
    by_product = section(doc, "Lama Penyelesaian per Produk")
    for product in ("pinjaman_tunai", "paylater"):
        assert (by_product[product]["Jumlah ditutup"], by_product[product]["Median (hari kerja)"],
                by_product[product]["Persentil ke-90 (hari kerja)"]) == expected(
            [days(r) for r in closed_in_october if r[1] == product])


async def test_a_complaint_from_ojk_is_counted_under_its_source_and_clocked_from_receipt(
        database: Database, settings: Settings, event_bus: InMemoryEventBus) -> None:
    ctx, _ = _ctx(settings, event_bus, datetime(2026, 11, 6, 10, 0, tzinfo=WIB))
    received = datetime(2026, 11, 2, 10, 0, tzinfo=WIB)  # OJK's portal forwarded it on Monday
    async with database.transaction() as session:
        forwarded = await service.register_external(session, ctx, service.ExternalComplaint(
            source="ojk_appk", external_reference="APPK-2026-000123", received_at=received,
            category="unethical_collection", full_name="Rina Wati", phone="081234567890",
            product="pinjaman_tunai", chronology="Penagih menghubungi kontak darurat saya."), service.SYSTEM)
    await _file(database, ctx)  # and one direct complaint
    assert forwarded.received_at == received
    # The same working-day clock from its receipt, not from the day it was registered.
    assert forwarded.resolution_due == deadline(Clock.RESOLUTION, policy=ctx.policy, calendar=ctx.calendar,
                                                received_at=received)
    assert forwarded.resolution_due.astimezone(WIB).date().isoformat() == "2026-11-16"
    async with database.session() as session:
        report = await period_report(session, parse_period("2026-11"))
    sources = dict(report.by_source())
    assert (sources["ojk_appk"].received, sources["direct"].received, sources["laps_sjk"].received) == (1, 1, 0)
    doc = build_document(report, LENDER, fixed_working_day, datetime(2026, 12, 1, 3, tzinfo=timezone.utc))
    table = section(doc, "Pengaduan per Sumber")
    assert table["Melalui OJK (portal APPK)"]["Diterima"] == 1
    assert table["Langsung ke PUJK"]["Diterima"] == 1 and table["Melalui LAPS SJK"]["Diterima"] == 0


def test_filer_block_labels_and_provisional_mark() -> None:
    from reports.queries import PeriodReport

    empty = PeriodReport(period=parse_period("2026"), cells=[])
    early = build_document(empty, LENDER, fixed_working_day, datetime(2026, 11, 30, 3, tzinfo=timezone.utc))
    header = dict(early.header)
    assert header["Nomor izin usaha OJK"] == "KEP-000/D.05/2020 (contoh)"
    assert header["Penanggung jawab layanan pengaduan"] == "Siti, Kepala Unit"
    assert early.provisional and "SEMENTARA" in early.title and header["Status laporan"].startswith("SEMENTARA")
    final = build_document(empty, LENDER, fixed_working_day, datetime(2027, 1, 2, 3, tzinfo=timezone.utc))
    assert not final.provisional and dict(final.header)["Status laporan"] == "Final"
    # Plain Indonesian: no "SLA", "in-app" or "Fraud" in any heading or label.
    words = [early.title, *(l for l, _ in early.header), *(s.title for s in early.sections),
             *(c for s in early.sections for c in s.columns),
             *(str(r[0]) for s in early.sections for r in s.rows)]
    for jargon in ("SLA", "in-app", "Fraud"):
        assert not [w for w in words if jargon in w], jargon
    # The monthly due date is the lender's procedure, and the report says so.
    monthly = build_document(PeriodReport(period=parse_period("2026-10"), cells=[]), LENDER, fixed_working_day,
                             datetime(2026, 11, 2, 3, tzinfo=timezone.utc))
    assert "bukan ketentuan OJK" in dict(monthly.header)["Dasar batas waktu"]
    assert any("bukan ketentuan OJK" in d for _, d in monthly.definitions)
