"""The retention job: what is due is anonymised irreversibly; report figures for a past period stay the same."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from handoff.models import Handoff
from privacy.retention import DEFAULT_SCHEDULE, ScheduleError, build_schedule, run_retention
from reports.document import build_document, load_lender
from reports.export import to_csv_files
from reports.periods import parse_period
from reports.queries import period_report
from reports.synthetic import Shape, synthetic_tickets
from storage.models import Conversation, Message
from tests.privacy.conftest import make_conversation
from tickets.models import Ticket, TicketConversation
from desk.config import REPO_ROOT

LATER = datetime(2040, 1, 1, tzinfo=timezone.utc)  # every default period has run out for 2022


def test_schedule_refuses_periods_below_the_legal_minimum() -> None:
    assert build_schedule({})["complaint_records"].period_days == 4018
    assert build_schedule({"bot_conversations": {"period_days": 30}})["bot_conversations"].period_days == 30
    with pytest.raises(ScheduleError, match="legal minimum"):
        build_schedule({"verification_records": {"period_days": 365}})
    with pytest.raises(ScheduleError, match="unknown record type"):
        build_schedule({"kyc": {"period_days": 1}})


def _working(day: date) -> bool:
    return day.weekday() < 5


async def _report_csv(database) -> dict[str, bytes]:
    async with database.session() as s:
        report = await period_report(s, parse_period("2022"))
    document = build_document(report, load_lender(REPO_ROOT / "lender" / "demo.yml"), _working,
                              datetime(2040, 1, 2, tzinfo=timezone.utc))
    return to_csv_files(document)


async def test_report_for_a_past_period_is_identical_after_anonymisation(database) -> None:
    rows = list(synthetic_tickets(2022, {"payment": 30, "fraud": 12, "app": 8}, seed=7,
                                  shape=Shape(close_within_year=True)))
    for i, row in enumerate(rows):
        row.update(full_name=f"Budi Santoso {i}", phone="+6281234567890", customer_id=f"CUST-{i:04d}",
                   chronology="NIK 3171234567890001, ditagih kasar", id_card_address="Jl. Melati 1",
                   outcome={"kind": "explanation", "explanation": "Maaf Pak Budi"} if row["closed_at"] else None)
    async with database.transaction() as s:
        await s.execute(insert(Ticket.__table__), rows)
        closed = await s.scalar(select(Ticket).where(Ticket.closed_at.is_not(None)).order_by(Ticket.id).limit(1))
    conv = await make_conversation(database, "whatsapp", "+6281234567890", customer_id="CUST-0000")
    async with database.transaction() as s:
        s.add(TicketConversation(ticket_id=closed.id, conversation_id=conv.id))
        s.add(Message(conversation_id=conv.id, seq=1, channel="whatsapp", direction="in", author="borrower",
                      text="nama saya Budi, NIK 3171234567890001"))
        s.add(Handoff(conversation_id=conv.id, reason="request", rating=5, rating_comment="Budi puas",
                      rated_at=datetime(2022, 6, 1, tzinfo=timezone.utc), summary={"name": "Budi"}))

    before = await _report_csv(database)
    report = await run_retention(database, build_schedule({}), LATER)
    assert report.anonymised["complaint_records"] == sum(1 for r in rows if r["closed_at"])
    assert await _report_csv(database) == before

    async with database.session() as s:
        names = set(await s.scalars(select(Ticket.full_name).where(Ticket.closed_at.is_not(None))))
        assert names == {""}
        assert await s.scalar(select(func.count()).select_from(Ticket).where(Ticket.phone_key.is_not(None))) == \
            sum(1 for r in rows if not r["closed_at"])  # open complaints are kept whole
        c = await s.get(Conversation, conv.id)
        assert (c.sender_key, c.sender_enc, c.customer_id) == (f"anon-{conv.id}", None, None)
        assert set(await s.scalars(select(Message.text).where(Message.conversation_id == conv.id))) == {""}
        h = await s.scalar(select(Handoff).where(Handoff.conversation_id == conv.id))
        assert h.rating == 5 and h.rating_comment is None and h.summary == {}
    # A second run finds nothing left to do.
    assert (await run_retention(database, build_schedule({}), LATER)).anonymised == {}


async def test_bot_only_conversation_anonymised_after_its_period_only(database) -> None:
    fresh = await make_conversation(database, "telegram")
    old = await make_conversation(database, "telegram")
    now = datetime(2027, 6, 1, tzinfo=timezone.utc)
    async with database.transaction() as s:
        (await s.get(Conversation, old.id)).last_message_at = now - timedelta(days=366)
        (await s.get(Conversation, fresh.id)).last_message_at = now - timedelta(days=364)
        s.add(Message(conversation_id=old.id, seq=1, channel="telegram", direction="in", author="borrower",
                      text="cara bayar?"))
    report = await run_retention(database, build_schedule({}), now)
    assert report.anonymised == {"bot_conversations": 1}
    async with database.session() as s:
        assert (await s.get(Conversation, fresh.id)).clear_sender().startswith("tg-")
        assert (await s.get(Conversation, old.id)).sender_key == f"anon-{old.id}"
    assert DEFAULT_SCHEDULE["bot_conversations"].from_event == "conversation_last_message"


def test_the_demo_lender_file_gives_the_documented_defaults(privacy_ctx) -> None:
    schedule = privacy_ctx.schedule()
    assert {k: (r.period_days, r.from_event) for k, r in schedule.items()} == \
        {k: (r.period_days, r.from_event) for k, r in DEFAULT_SCHEDULE.items()}


async def test_held_tickets_do_not_stop_the_job_from_reaching_later_ones(database) -> None:
    rows = list(synthetic_tickets(2022, {"payment": 6}, seed=3, shape=Shape(open_share=0.0, close_within_year=True)))
    async with database.transaction() as s:
        await s.execute(insert(Ticket.__table__), rows)
        ids = list(await s.scalars(select(Ticket.id).order_by(Ticket.id)))

    async def first_two_held(session, record_type, candidates):
        return set(ids[:2]) if record_type == "ticket" else set()

    report = await run_retention(database, build_schedule({}), LATER, held=first_two_held, batch=2)
    assert report.anonymised["complaint_records"] == 4
    async with database.session() as s:
        kept = list(await s.scalars(select(Ticket.id).where(Ticket.full_name != "").order_by(Ticket.id)))
    assert kept == ids[:2]
