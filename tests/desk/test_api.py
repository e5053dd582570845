"""The desk API for the action server: service token, identity check, account read."""
from __future__ import annotations

import pytest
from sanic_testing.testing import SanicASGITestClient
from sqlalchemy import select

from desk.app import build_services, create_app
from storage.models import Conversation

TOKEN = {"Authorization": "Bearer test-service-token"}
BUDI = {"full_name": "  budi   SANTOSO ", "phone": "0812-3456-7890", "loan_id": "pj-2024-000123"}


@pytest.fixture
async def client(settings, database, unique_name):
    services = build_services(settings)
    app = create_app(settings, services, name=unique_name, run_outbox=False)
    yield SanicASGITestClient(app)
    await services.bot.aclose()
    await services.db.dispose()


async def open_conversation(database, public_id: str = "c0ffee") -> None:
    async with database.transaction() as s:
        s.add(Conversation(public_id=public_id, channel="whatsapp", sender="+6281234567890"))


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
