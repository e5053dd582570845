"""The "relationship ended" event: the lender's core reports it, identity checks are tied to a customer and
counted from that customer's end (UU 8/2010 Pasal 21(2): at least 5 years after the relationship ends)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from aduan.cli import main
from aduan.services import build_store
from desk.verification import VerifyCustomer
from handoff.fastpath import QueueHandoffs
from handoff.models import AuditEntry
from lending.demo import DemoLendingCore
from privacy.models import RelationshipEnd
from privacy.relationships import record_ended, record_resumed
from privacy.retention import ANON_VERIFICATION_KEY, ScheduleError, build_schedule, run_retention
from storage.db import Database
from storage.models import VerificationAttempt
from tests.privacy.conftest import make_conversation
from tickets.calendar import WIB

CORE_TOKEN = "test-lending-core-token-0123"
CORE = {"Authorization": f"Bearer {CORE_TOKEN}"}
ENDED = "/api/v1/lending-core/relationships/ended"
RESUMED = "/api/v1/lending-core/relationships/resumed"


async def test_only_the_lending_core_token_reports_an_end(app, settings) -> None:
    body = {"customer_id": "CUST-0001", "ended_at": "2026-10-31"}
    settings.lending_core_token = None
    _, res = await app.asgi_client.post(ENDED, headers={"Authorization": "Bearer "}, json=body)
    assert res.status == 401  # unset: nothing is accepted, not even an empty token
    settings.lending_core_token = CORE_TOKEN
    _, res = await app.asgi_client.post(ENDED, json=body)
    assert res.status == 401
    # The action server's token is not the lender's core's.
    _, res = await app.asgi_client.post(ENDED, headers={"Authorization": "Bearer test-service-token"}, json=body)
    assert res.status == 401
    _, res = await app.asgi_client.post(ENDED, headers=CORE, json=body)
    assert res.status == 200, res.text


async def test_an_end_is_recorded_corrected_and_resumed_with_an_audit_trail(app, settings, database, clock) -> None:
    settings.lending_core_token = CORE_TOKEN
    _, res = await app.asgi_client.post(ENDED, headers=CORE, json={"customer_id": "CUST-0001",
                                                                   "ended_at": "2026-10-31"})
    assert res.status == 200 and res.json["previous_ended_at"] is None
    async with database.session() as s:
        row = await s.scalar(select(RelationshipEnd).where(RelationshipEnd.customer_id == "CUST-0001"))
    assert row.ended_at == datetime(2026, 10, 31, tzinfo=WIB) and row.source == "lending_core"  # a date: 00:00 WIB

    _, res = await app.asgi_client.post(ENDED, headers=CORE, json={"customer_id": "CUST-0001",
                                                                   "ended_at": "2026-11-01T12:00:00+07:00"})
    assert res.status == 200 and res.json["previous_ended_at"].startswith("2026-10-30T17:00")
    for bad in ({"customer_id": "CUST-0001", "ended_at": "2027-01-01"},  # the clock is at 19 Nov 2026
                {"customer_id": "CUST-0001", "ended_at": "2026-11-01T12:00:00"},  # no offset
                {"customer_id": "CUST-0001", "ended_at": "kemarin"},
                {"ended_at": "2026-11-01"}):
        _, res = await app.asgi_client.post(ENDED, headers=CORE, json=bad)
        assert res.status == 422, (bad, res.text)
    _, res = await app.asgi_client.post(ENDED, headers=CORE, json={"customer_id": "CUST-0002"})
    assert res.status == 200 and res.json["ended_at"] == clock.at.isoformat()  # no date: now

    _, res = await app.asgi_client.post(RESUMED, headers=CORE, json={"customer_id": "CUST-0001"})
    assert res.json == {"customer_id": "CUST-0001", "resumed": True}
    _, res = await app.asgi_client.post(RESUMED, headers=CORE, json={"customer_id": "CUST-0001"})
    assert res.json["resumed"] is False
    async with database.session() as s:
        assert await s.scalar(select(RelationshipEnd).where(RelationshipEnd.customer_id == "CUST-0001")) is None
        entries = list(await s.scalars(select(AuditEntry).where(AuditEntry.object_id == "CUST-0001")
                                       .order_by(AuditEntry.id)))
    assert [(e.action, e.object_type, e.actor_id) for e in entries] == [
        ("privacy.relationship_ended", "customer", None), ("privacy.relationship_ended", "customer", None),
        ("privacy.relationship_resumed", "customer", None)]
    assert entries[1].details["previous"].startswith("2026-10-30T17:00")
    assert entries[1].details["source"] == "lending_core"


async def test_a_succeeded_check_ties_the_conversations_own_tries_to_the_customer(database) -> None:
    conv = await make_conversation(database, "telegram")
    verify = VerifyCustomer(database, DemoLendingCore(), secret="test-session-secret-0123456789",
                            store=build_store(database, QueueHandoffs()))
    budi = {"full_name": "Budi Santoso", "phone": "081234567890"}
    await verify(conversation_id=conv.public_id, loan_id="PJ-2024-999999", **budi)  # a typo in the loan id
    await verify(conversation_id=conv.public_id, full_name="Siti", phone="0812-9876-5432", loan_id="PL-1")
    outcome = await verify(conversation_id=conv.public_id, loan_id="PJ-2024-000123", **budi)
    assert outcome.customer_id == "CUST-0001"
    async with database.session() as s:
        tied = list(await s.scalars(select(VerificationAttempt.customer_id).order_by(VerificationAttempt.id)))
    # The try that named neither Budi's phone nor his loan was somebody else's claim: tied to nobody.
    assert tied == ["CUST-0001", None, "CUST-0001"]


def test_identity_records_count_only_from_the_relationship_ended_event() -> None:
    schedule = build_schedule({})
    assert schedule["verification_records"].from_event == "relationship_ended"
    assert schedule["identity_documents"].from_event == "relationship_ended"
    with pytest.raises(ScheduleError, match="counted from relationship_ended"):
        build_schedule({"verification_records": {"period_days": 1827, "from": "recorded"}})
    with pytest.raises(ScheduleError, match="legal minimum"):
        build_schedule({"identity_documents": {"period_days": 1000}})


async def _attempt(database, customer_id: str | None, at: datetime) -> int:
    async with database.transaction() as s:
        row = VerificationAttempt(conversation_public_id=f"c-{customer_id}", phone_key=f"p-{customer_id}",
                                  loan_key="l", customer_id=customer_id, succeeded=customer_id is not None,
                                  throttled=False, created_at=at)
        s.add(row)
        await s.flush()
        return row.id


async def _anonymised(database) -> set[int]:
    async with database.session() as s:
        return set(await s.scalars(select(VerificationAttempt.id).where(
            VerificationAttempt.phone_key == ANON_VERIFICATION_KEY)))


async def test_identity_checks_are_kept_until_five_years_after_the_relationship_ended(database) -> None:
    checked = datetime(2020, 3, 1, tzinfo=timezone.utc)
    ongoing = await _attempt(database, "CUST-ONGOING", checked)
    ended_one = await _attempt(database, "CUST-ENDED", checked)
    untied = await _attempt(database, None, checked)
    came_back = await _attempt(database, "CUST-BACK", checked)
    ended = datetime(2027, 1, 31, tzinfo=WIB)
    async with database.transaction() as s:
        for customer in ("CUST-ENDED", "CUST-BACK"):
            await record_ended(s, customer, ended, source="cli", actor_id=None, now=ended)
    async with database.transaction() as s:
        assert await record_resumed(s, "CUST-BACK", source="cli", actor_id=None)
    schedule = build_schedule({})

    # A day before the 5 years (1827 days) from the end: only the check tied to nobody, counted from itself.
    report = await run_retention(database, schedule, ended + timedelta(days=1826))
    assert report.anonymised.get("verification_records") == 1
    assert await _anonymised(database) == {untied}
    report = await run_retention(database, schedule, ended + timedelta(days=1827))
    assert report.anonymised.get("verification_records") == 1
    assert await _anonymised(database) == {untied, ended_one}
    async with database.session() as s:
        row = await s.get(VerificationAttempt, ended_one)
        assert (row.customer_id, row.loan_key, row.conversation_public_id) == (None, ANON_VERIFICATION_KEY, "")
    # A relationship that has not ended (or came back) keeps its records, however old.
    await run_retention(database, schedule, datetime(2060, 1, 1, tzinfo=timezone.utc))
    assert await _anonymised(database) == {untied, ended_one}
    assert {ongoing, came_back}.isdisjoint(await _anonymised(database))


def test_the_commands_record_ends_from_a_file_all_or_nothing(database, database_url, monkeypatch, capsys,
                                                             tmp_path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    good = tmp_path / "ends.csv"
    good.write_text("customer_id,ended_at\nCUST-0101,2025-12-31\nCUST-0102,2026-01-15T09:00:00+07:00\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,ended_at\nCUST-0201,2025-12-31\nCUST-0202,2099-01-01\n")
    assert main(["relationship-ended", "--file", str(bad)]) == 2
    assert "CUST-0202" in capsys.readouterr().err
    assert main(["relationship-ended", "--file", str(good)]) == 0
    assert main(["relationship-ended", "CUST-0103", "--at", "2026-02-01"]) == 0
    assert main(["relationship-resumed", "CUST-0102"]) == 0

    async def ends() -> dict[str, datetime]:
        db = Database(database_url)
        try:
            async with db.session() as s:
                return {r.customer_id: r.ended_at for r in await s.scalars(select(RelationshipEnd))}
        finally:
            await db.dispose()

    assert asyncio.run(ends()) == {"CUST-0101": datetime(2025, 12, 31, tzinfo=WIB),
                                   "CUST-0103": datetime(2026, 2, 1, tzinfo=WIB)}
