"""The desk API for the action server: service token, identity check, account read."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sanic_testing.testing import SanicASGITestClient
from sqlalchemy import select

from aduan.app import create_app
from aduan.services import build_services
from storage.base import utcnow
from storage.models import Conversation, VerificationAttempt

TOKEN = {"Authorization": "Bearer test-service-token"}
BUDI = {"full_name": "  budi   SANTOSO ", "phone": "0812-3456-7890", "loan_id": "pj-2024-000123"}


@pytest.fixture
async def client(settings, database, unique_name):
    services = build_services(settings)
    app = create_app(settings, services, name=unique_name, run_outbox=False)
    yield SanicASGITestClient(app)
    await services.bot.aclose()
    await services.db.dispose()


async def open_conversation(database, public_id: str = "c0ffee", sender: str = "+6281234567890") -> None:
    async with database.transaction() as s:
        s.add(Conversation(public_id=public_id, channel="whatsapp", sender=sender))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "test-service-token"}])
async def test_token_required(client, headers) -> None:
    _, r1 = await client.post("/api/v1/customers/verify", json={"conversation_id": "x", **BUDI}, headers=headers)
    _, r2 = await client.get("/api/v1/customers/CUST-0001/account", headers=headers)
    assert r1.status == r2.status == 401
    assert r1.json["error"] == "unauthorized"


async def test_verify_match_records_the_customer(client, database) -> None:
    await open_conversation(database)
    _, resp = await client.post("/api/v1/customers/verify", json={"conversation_id": "c0ffee", **BUDI},
                                headers=TOKEN)
    assert resp.status == 200 and resp.json == {"verified": True, "customer_id": "CUST-0001"}
    async with database.session() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.public_id == "c0ffee"))
    assert conv.customer_id == "CUST-0001"


async def test_mismatch_never_says_which_part_failed(client, database) -> None:
    await open_conversation(database)
    answers = []
    for change in ({"full_name": "Budi Santosa"}, {"phone": "081200000000"},
                   {"loan_id": "PJ-2024-999999"}, {"phone": "not a phone"}):
        _, resp = await client.post("/api/v1/customers/verify",
                                    json={"conversation_id": "c0ffee", **BUDI, **change}, headers=TOKEN)
        answers.append((resp.status, resp.body))
    assert answers == [(200, b'{"verified":false}')] * 4
    async with database.session() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.public_id == "c0ffee"))
    assert conv.customer_id is None


async def test_another_customers_loan_does_not_verify(client, database) -> None:
    await open_conversation(database)
    _, resp = await client.post("/api/v1/customers/verify", json={
        "conversation_id": "c0ffee", **BUDI, "loan_id": "PL-2025-004567"}, headers=TOKEN)
    assert resp.json == {"verified": False}


async def test_account_read(client) -> None:
    _, resp = await client.get("/api/v1/customers/CUST-0002/account", headers=TOKEN)
    assert resp.status == 200
    body = resp.json
    assert body["customer_id"] == "CUST-0002" and body["sample"] is True
    # The registered phone, so the bot prefills it for a verified borrower instead of asking.
    assert body["phone"] == "+6281298765432"
    (loan,) = body["loans"]
    assert loan == {"loan_id": "PL-2025-004567", "product": "paylater", "status": "overdue",
                    "bill_amount": 480000, "due_date": "2026-11-10", "late_fee": 36000,
                    "outstanding": 1440000}
    _, resp = await client.get("/api/v1/customers/CUST-0001/account", headers=TOKEN)
    assert resp.json["applications"][0]["status_label"] == "Dana sudah dicairkan"


async def test_unknown_customer_is_404(client) -> None:
    _, resp = await client.get("/api/v1/customers/CUST-9999/account", headers=TOKEN)
    assert resp.status == 404 and resp.json["error"] == "not_found"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
async def test_malformed_json_is_400(client, body) -> None:
    _, resp = await client.post("/api/v1/customers/verify", content=body,
                                headers={**TOKEN, "Content-Type": "application/json"})
    assert resp.status == 400 and resp.json["error"] == "malformed_json"


async def test_missing_fields_are_named(client) -> None:
    _, resp = await client.post("/api/v1/customers/verify", json={"conversation_id": "x"}, headers=TOKEN)
    assert resp.status == 400 and resp.json["error"] == "invalid_request"
    assert "full_name" in resp.json["message"] and "loan_id" in resp.json["message"]


async def test_readiness_reports_rasa_without_failing(client) -> None:
    _, resp = await client.get("/readyz")
    assert resp.status == 200
    assert resp.json == {"status": "ok", "database": "ok", "rasa": "unreachable"}


async def test_internal_inject_needs_the_token_and_refuses_oversized(client) -> None:
    msg = {"channel": "whatsapp", "sender": "+6281234567890", "external_id": "i1", "text": "x" * 5000}
    _, resp = await client.post("/internal/v1/messages", json=msg)
    assert resp.status == 401
    _, resp = await client.post("/internal/v1/messages", json=msg, headers=TOKEN)
    assert resp.status == 413 and resp.json["error"] == "message_too_long"


async def verify(client, conversation_id: str, **change) -> dict:
    _, resp = await client.post("/api/v1/customers/verify",
                                json={"conversation_id": conversation_id, **BUDI, **change}, headers=TOKEN)
    assert resp.status == 200
    return resp.json


async def test_guessing_one_phone_across_conversations_is_throttled(client, database) -> None:
    # Five wrong loan ids for Budi's phone, each from a fresh conversation (as
    # after handoffs): the sixth check is refused even with the right loan id,
    # and the answer looks exactly like any other failure.
    for i in range(5):
        await open_conversation(database, f"guess{i}", sender=f"+62811000000{i}")
        assert await verify(client, f"guess{i}", loan_id=f"PJ-2024-99999{i}") == {"verified": False}
    await open_conversation(database, "guess5", sender="+628110000005")
    assert await verify(client, "guess5") == {"verified": False}
    async with database.session() as s:
        last = (await s.scalars(select(VerificationAttempt).order_by(VerificationAttempt.id.desc()))).first()
        conv = await s.scalar(select(Conversation).where(Conversation.public_id == "guess5"))
    assert last.throttled is True and last.succeeded is False
    assert conv.customer_id is None
    # Another borrower is not affected by Budi's throttle.
    assert (await verify(client, "guess5", full_name="Siti Nurhaliza Rahmawati", phone="0812-9876-5432",
                         loan_id="PL-2025-004567"))["verified"] is True


async def test_one_conversation_trying_many_accounts_is_throttled(client, database) -> None:
    await open_conversation(database)
    for i in range(6):
        assert await verify(client, "c0ffee", phone=f"08129999000{i}", loan_id=f"X-{i}") == {"verified": False}
    assert await verify(client, "c0ffee") == {"verified": False}


async def test_old_failures_fall_out_of_the_window(settings, database) -> None:
    services = build_services(settings)
    verify_customer = services.verify
    try:
        day_ago = utcnow() - timedelta(hours=25)
        for i in range(5):
            outcome = await verify_customer(conversation_id="old", full_name="Budi Santoso",
                                            phone="081234567890", loan_id=f"NOPE-{i}", now=day_ago)
            assert not outcome.verified
        outcome = await verify_customer(conversation_id="old", full_name="Budi Santoso",
                                        phone="081234567890", loan_id="PJ-2024-000123")
        assert outcome.verified and not outcome.throttled
    finally:
        await services.bot.aclose()
        await services.db.dispose()


async def test_attempts_keep_no_personal_data(client, database) -> None:
    await open_conversation(database)
    await verify(client, "c0ffee", loan_id="PJ-2024-999999")
    async with database.session() as s:
        row = await s.scalar(select(VerificationAttempt))
    stored = f"{row.phone_key} {row.loan_key}"
    assert "3456" not in stored and "999999" not in stored and len(row.phone_key) == 64
