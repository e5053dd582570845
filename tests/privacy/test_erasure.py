"""Erasure with legal holds: held records survive, are listed with reasons, and are erased when the hold ends."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from handoff.models import AuditEntry, Handoff
from privacy import jobs
from privacy.context import privacy_context
from privacy.models import ErasureItem, LegalHold
from storage.models import Conversation, Message
from tests.privacy.conftest import as_user, make_conversation
from tickets.calendar import WIB
from tickets.models import Ticket, TicketConversation

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=WIB)


async def _verified_erasure(app, staff) -> str:
    agent = as_user(staff["agent"])
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/requests", headers=agent, json={
        "kind": "erasure", "source": "letter", "requester_name": "Budi Santoso"})
    number = res.json["number"]
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{number}/verify", headers=agent, json={
        "full_name": "Budi Santoso", "phone": "081234567890", "loan_id": "PJ-2024-000123"})
    assert res.status == 200, res.text
    return number


async def _seed(database):
    """Budi: two bot-only chats, one open complaint with its chat, one complaint closed in 2012."""
    free = await make_conversation(database, "telegram", customer_id="CUST-0001")
    disputed = await make_conversation(database, "telegram", customer_id="CUST-0001")
    complaint_chat = await make_conversation(database, "whatsapp", "+6281234567890", customer_id="CUST-0001")
    async with database.transaction() as s:
        for conv in (free, disputed, complaint_chat):
            s.add(Message(conversation_id=conv.id, seq=1, channel=conv.channel, direction="in", author="borrower",
                          text="Saya Budi Santoso, 081234567890"))
        open_ticket = Ticket(number="DCI-OPEN", category="payment", channel="whatsapp", customer_id="CUST-0001",
                             full_name="Budi Santoso", product="pinjaman_tunai", chronology="belum lunas")
        old_ticket = Ticket(number="DCI-OLD", category="app", channel="whatsapp", customer_id="CUST-0001",
                            full_name="Budi Santoso", product="pinjaman_tunai", chronology="aplikasi error",
                            status="resolved", closed_at=datetime(2012, 1, 5, tzinfo=timezone.utc))
        s.add_all([open_ticket, old_ticket])
        await s.flush()
        s.add(TicketConversation(ticket_id=open_ticket.id, conversation_id=complaint_chat.id))
        s.add(Handoff(conversation_id=complaint_chat.id, reason="complaint", status="closed"))
    return free, disputed, complaint_chat, open_ticket, old_ticket


async def test_held_record_survives_erasure_and_is_erased_when_the_hold_lifts(app, database, staff, clock) -> None:
    clock.at = NOW
    free, disputed, complaint_chat, open_ticket, old_ticket = await _seed(database)
    supervisor = as_user(staff["supervisor"])

    # An agent may not set holds; a supervisor may (audited).
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/holds", headers=as_user(staff["agent"]), json={
        "record_type": "conversation", "record_id": disputed.id, "reason": "laps_sjk_dispute"})
    assert res.status == 403
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/holds", headers=supervisor, json={
        "record_type": "conversation", "record_id": disputed.id, "reason": "laps_sjk_dispute",
        "note": "Perkara LAPS SJK no. 12"})
    assert res.status == 201, res.text
    hold_id = res.json["id"]

    number = await _verified_erasure(app, staff)
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{number}/erase",
                                        headers=as_user(staff["agent"]))
    assert res.status == 200, res.text
    assert res.json["status"] == "completed"
    assert res.json["erased"] == {"tickets": 1, "conversations": 1}  # the 2012 complaint and the free chat
    held = {(h["record_type"], h["record_id"]): h["reason"] for h in res.json["held"]}
    assert held == {("ticket", open_ticket.id): "open_complaint",
                    ("conversation", disputed.id): "laps_sjk_dispute",
                    ("conversation", complaint_chat.id): "open_complaint"}
    # The requester is told what is kept and why, in Bahasa Indonesia.
    assert "sengketa di LAPS SJK" in res.json["outcome"] and "masih kami tangani" in res.json["outcome"]

    async with database.session() as s:
        assert (await s.get(Conversation, free.id)).customer_id is None
        assert (await s.get(Conversation, disputed.id)).customer_id == "CUST-0001"
        assert (await s.get(Ticket, old_ticket.id)).full_name == ""
        assert (await s.get(Ticket, open_ticket.id)).full_name == "Budi Santoso"

    # The daily job leaves held records alone while the hold stands.
    clock.at = NOW + timedelta(days=1)
    await jobs.daily(database, privacy_context(app))
    async with database.session() as s:
        assert (await s.get(Conversation, disputed.id)).customer_id == "CUST-0001"

    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/holds/{hold_id}/lift", headers=supervisor)
    assert res.status == 200 and res.json["erased_now"] == 1
    async with database.session() as s:
        assert (await s.get(Conversation, disputed.id)).sender_key == f"anon-{disputed.id}"
        texts = set(await s.scalars(select(Message.text).where(Message.conversation_id == disputed.id)))
        assert texts == {""}
        assert (await s.get(Ticket, open_ticket.id)).full_name == "Budi Santoso"  # still open
        actions = [a.action for a in await s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert {"privacy.hold_set", "privacy.erased", "privacy.hold_lifted"} <= set(actions)
        assert (await s.get(LegalHold, hold_id)).lifted_by == staff["supervisor"].id

    # Once the complaint closes, the complaint minimum holds it (UU 8/1997); 11 years later the job erases it.
    async with database.transaction() as s:
        t = await s.get(Ticket, open_ticket.id)
        t.status, t.closed_at = "resolved", clock.at
    await jobs.daily(database, privacy_context(app), clock.at + timedelta(days=30))
    async with database.session() as s:
        assert (await s.get(Ticket, open_ticket.id)).full_name == "Budi Santoso"
    later = clock.at + timedelta(days=4019)
    await jobs.daily(database, privacy_context(app), later)
    async with database.session() as s:
        assert (await s.get(Ticket, open_ticket.id)).full_name == ""
        assert (await s.get(Conversation, complaint_chat.id)).customer_id is None
        pending = list(await s.scalars(select(ErasureItem).where(ErasureItem.erased_at.is_(None))))
        assert pending == []


async def test_erasure_needs_verified_identity_and_the_erasure_kind(app, database, staff, clock) -> None:
    agent = as_user(staff["agent"])
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/requests", headers=agent, json={
        "kind": "erasure", "source": "phone"})
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{res.json['number']}/erase", headers=agent)
    assert res.status == 403 and res.json["error"] == "verification_required"
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/requests", headers=agent, json={
        "kind": "access", "source": "phone"})
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{res.json['number']}/erase", headers=agent)
    assert res.status == 422


async def test_retention_skips_a_record_under_a_supervisor_hold(app, database, staff) -> None:
    old = await make_conversation(database, "telegram")
    async with database.transaction() as s:
        (await s.get(Conversation, old.id)).last_message_at = datetime(2020, 1, 1, tzinfo=timezone.utc)
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/holds", headers=as_user(staff["supervisor"]), json={
        "record_type": "conversation", "record_id": old.id, "reason": "legal_case"})
    assert res.status == 201
    report = await jobs.daily(database, privacy_context(app), datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert "bot_conversations" not in report.anonymised
    async with database.session() as s:
        assert (await s.get(Conversation, old.id)).clear_sender().startswith("tg-")
