"""Staff API, bot API and the borrower's status page of rights requests."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from handoff.models import AuditEntry
from storage.models import Conversation
from tests.privacy.conftest import BOT_AUTH, as_user, make_conversation
from tickets.calendar import WIB

FRIDAY = datetime(2026, 11, 20, 16, 30, tzinfo=WIB)


async def test_agent_records_verifies_exports_and_closes(app, database, staff, clock) -> None:
    clock.at = FRIDAY
    agent = as_user(staff["agent"])
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/requests", headers=agent, json={
        "kind": "access", "source": "phone", "requester_name": "Budi Santoso", "requester_contact": "081234567890"})
    assert res.status == 201, res.text
    number = res.json["number"]
    assert res.json["due_at"] == "2026-11-23T16:30:00+07:00"
    assert res.json["verified"] is False

    # Nothing is released before the identity is verified.
    _, res = await app.asgi_client.get(f"/api/v1/staff/privacy/requests/{number}/export.json", headers=agent)
    assert res.status == 403 and res.json["error"] == "verification_required"

    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{number}/verify", headers=agent,
                                        json={"full_name": "Budi Santoso", "phone": "081234567890",
                                              "loan_id": "WRONG-1"})
    assert res.status == 403
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{number}/verify", headers=agent,
                                        json={"full_name": "Budi Santoso", "phone": "081234567890",
                                              "loan_id": "PJ-2024-000123"})
    assert res.status == 200, res.text
    assert res.json["verified"] is True and res.json["verification_method"] == "lending_core"

    _, res = await app.asgi_client.get(f"/api/v1/staff/privacy/requests/{number}/export.json", headers=agent)
    assert res.status == 200
    assert res.json["customer_id"] == "CUST-0001"
    assert res.json["tables"]["rights_requests"][0]["number"] == number

    # Another agent may not see it; a supervisor may.
    _, res = await app.asgi_client.get(f"/api/v1/staff/privacy/requests/{number}", headers=as_user(staff["agent2"]))
    assert res.status == 403
    _, res = await app.asgi_client.get("/api/v1/staff/privacy/requests", headers=as_user(staff["supervisor"]))
    assert [r["number"] for r in res.json["requests"]] == [number]

    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{number}/close", headers=agent,
                                        json={"status": "completed", "outcome": "Data dikirim lewat e-mail."})
    assert res.status == 200 and res.json["answered_in_time"] is True

    async with database.session() as s:
        actions = [a.action for a in await s.scalars(select(AuditEntry).where(AuditEntry.object_id == number)
                                                     .order_by(AuditEntry.id))]
    assert actions == ["privacy.request_recorded", "privacy.identity_failed", "privacy.identity_verified",
                       "privacy.exported", "privacy.request_completed"]


async def test_bot_files_from_a_verified_chat_and_borrower_sees_status(app, database, clock) -> None:
    clock.at = FRIDAY
    conv = await make_conversation(database, "whatsapp", "+6281234567890", customer_id="CUST-0001")
    _, res = await app.asgi_client.post("/api/v1/privacy/requests", headers=BOT_AUTH, json={
        "conversation_id": conv.public_id, "kind": "correction", "details": "Alamat saya salah."})
    assert res.status == 201, res.text
    assert res.json["verified"] is True and res.json["status"] == "verified"
    link = res.json["status_link"]
    _, page = await app.asgi_client.get(link.replace("https://desk.example", ""))
    assert page.status == 200
    assert "Identitas terverifikasi" in page.text and "23-11-2026 16:30" in page.text

    _, res = await app.asgi_client.post("/api/v1/privacy/requests", json={"conversation_id": conv.public_id,
                                                                           "kind": "access"})
    assert res.status == 401
    _, res = await app.asgi_client.post("/api/v1/privacy/requests", headers=BOT_AUTH, json={
        "conversation_id": conv.public_id, "kind": "delete-everything"})
    assert res.status == 422


async def test_unverified_chat_request_waits_for_verification(app, database, clock) -> None:
    conv = await make_conversation(database, "telegram")
    _, res = await app.asgi_client.post("/api/v1/privacy/requests", headers=BOT_AUTH, json={
        "conversation_id": conv.public_id, "kind": "erasure"})
    assert res.status == 201
    assert res.json["verified"] is False and res.json["due_at"] is None
    async with database.session() as s:
        assert (await s.get(Conversation, conv.id)).customer_id is None
