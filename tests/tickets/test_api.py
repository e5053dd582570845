"""The bot's ticket API and the staff API over HTTP (ASGI test client)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from storage.models import Conversation
from tests.support.pii import opened_sender
from tests.tickets.conftest import BOT_AUTH, WA_PHONE, as_user, complaint, make_conversation
from handoff.models import AuditEntry
from tickets.models import Ticket, TicketEvent


async def post_ticket(app, conv, key=None, **over):
    headers = {**BOT_AUTH, "idempotency-key": key or uuid.uuid4().hex}
    return await app.asgi_client.post("/api/v1/tickets", json=complaint(conv.public_id, **over), headers=headers)


# --- bot API -------------------------------------------------------------------------------------

async def test_create_needs_the_service_token(app, wa_conversation) -> None:
    _, res = await app.asgi_client.post("/api/v1/tickets", json=complaint(wa_conversation.public_id),
                                        headers={"idempotency-key": "a", "authorization": "Bearer wrong-token"})
    assert res.status == 401 and res.json["error"] == "unauthorized"


async def test_create_answers_with_receipt_and_is_idempotent(app, wa_conversation) -> None:
    _, first = await post_ticket(app, wa_conversation, key="conv:1")
    assert first.status == 201
    body = first.json
    assert body["ticket_number"].startswith("DCI-261119-0001-")
    assert body["status"] == "received"
    assert body["first_response_due"] == "2026-11-23T23:59:59+07:00"
    assert f"*{body['ticket_number']}*" in body["receipt_text"]  # WhatsApp bold
    assert "pengaduan@danacontoh.example" in body["receipt_text"]
    assert "https://desk.example/tickets/receipt/" in body["receipt_text"]
    assert "WhatsApp +62 811-0000-1234" in body["cs_contact"]
    _, again = await post_ticket(app, wa_conversation, key="conv:1")
    assert again.status == 200 and again.json["ticket_number"] == body["ticket_number"]


async def test_create_without_key_or_with_bad_fields_is_refused(app, wa_conversation) -> None:
    _, res = await app.asgi_client.post("/api/v1/tickets", json=complaint(wa_conversation.public_id),
                                        headers=BOT_AUTH)
    assert res.status == 422 and "Idempotency-Key" in res.json["message"]
    _, res = await post_ticket(app, wa_conversation, full_name="", category="nope")
    assert res.status == 422
    assert {d["field"] for d in res.json["details"]} >= {"full_name", "category"}
    _, res = await app.asgi_client.post("/api/v1/tickets", content=b"{not json",
                                        headers={**BOT_AUTH, "idempotency-key": "x"})
    assert res.status == 422 and res.json["error"] == "invalid_request"


async def test_telegram_receipt_uses_the_neutral_markup(app, database) -> None:
    """The Telegram connector renders ``*bold*`` (connectors.markup); the desk text holds no HTML."""
    conv = await make_conversation(database, "telegram", "555")
    _, res = await post_ticket(app, conv, channel="default")
    assert res.status == 201
    assert f"*{res.json['ticket_number']}*" in res.json["receipt_text"]
    assert "<b>" not in res.json["receipt_text"]


async def test_status_only_for_the_filer(app, database, wa_conversation) -> None:
    _, created = await post_ticket(app, wa_conversation)
    number = created.json["ticket_number"]
    # Same WhatsApp phone: allowed.
    _, res = await app.asgi_client.get(f"/api/v1/tickets/{number}", params={"conversation_id":
                                       wa_conversation.public_id}, headers=BOT_AUTH)
    assert res.status == 200
    assert res.json["status_label"] == "Diterima" and res.json["category"] == "payment"
    # A stranger on Telegram: verification required.
    stranger = await make_conversation(database, "telegram", "777")
    _, res = await app.asgi_client.get(f"/api/v1/tickets/{number}", params={"conversation_id": stranger.public_id},
                                       headers=BOT_AUTH)
    assert res.status == 403 and res.json["error"] == "verification_required"
    # Another WhatsApp number: verification required.
    other = await make_conversation(database, "whatsapp", "+6281111111111")
    _, res = await app.asgi_client.get(f"/api/v1/tickets/{number}", params={"conversation_id": other.public_id},
                                       headers=BOT_AUTH)
    assert res.status == 403
    # Unknown number: 404.
    _, res = await app.asgi_client.get("/api/v1/tickets/DCI-261119-9999-0", params={"conversation_id":
                                       wa_conversation.public_id}, headers=BOT_AUTH)
    assert res.status == 404 and res.json["error"] == "not_found"


async def test_the_chat_that_filed_the_ticket_may_ask_its_status(app, database) -> None:
    """An unverified Telegram chat read the number on its own receipt: it may ask the status there."""
    filer = await make_conversation(database, "telegram", "555")
    _, created = await post_ticket(app, filer, channel="telegram")
    number = created.json["ticket_number"]
    _, res = await app.asgi_client.get(f"/api/v1/tickets/{number}", params={"conversation_id": filer.public_id},
                                       headers=BOT_AUTH)
    assert res.status == 200 and res.json["status_label"] == "Diterima"
    stranger = await make_conversation(database, "telegram", "556")
    _, res = await app.asgi_client.get(f"/api/v1/tickets/{number}", params={"conversation_id": stranger.public_id},
                                       headers=BOT_AUTH)
    assert res.status == 403


async def test_verified_customer_may_ask_from_another_channel(app, database) -> None:
    inapp = await make_conversation(database, "inapp", "cust-1", customer_id="cust-1")
    _, created = await post_ticket(app, inapp, channel="inapp", customer_id="cust-1", phone=WA_PHONE)
    number = created.json["ticket_number"]
    telegram = await make_conversation(database, "telegram", "888")
    _, res = await app.asgi_client.get(f"/api/v1/tickets/{number.lower()}",
                                       params={"conversation_id": telegram.public_id}, headers=BOT_AUTH)
    assert res.status == 403
    async with database.transaction() as s:  # the bot verified the borrower on Telegram
        conv = await s.get(Conversation, telegram.id)
        conv.customer_id = "cust-1"
    _, res = await app.asgi_client.get(f"/api/v1/tickets/{number.lower()}",
                                       params={"conversation_id": telegram.public_id}, headers=BOT_AUTH)
    assert res.status == 200 and res.json["ticket_number"] == number
    # The Telegram conversation is now linked to the ticket.
    async with database.session() as s:
        from tickets import service
        t = await s.scalar(select(Ticket).where(Ticket.number == number))
        assert {c.channel for c in await service.conversations_of(s, t)} == {"inapp", "telegram"}


async def test_office_hours(app, clock) -> None:
    from datetime import datetime
    from tickets.calendar import WIB

    _, res = await app.asgi_client.get("/api/v1/office-hours", params={"channel": "telegram"}, headers=BOT_AUTH)
    channels = res.json.pop("channels")
    assert res.json == {"open": True, "next_open_at": None,
                        "hours_text": "Senin–Jumat 09.00–17.00 WIB (tutup pada hari libur nasional dan cuti bersama)"}
    # Every channel's hours from the lender file, worded by the same function as the receipt's.
    assert {"channel": "whatsapp", "label": "WhatsApp", "hours_text": "Setiap hari 08.00–20.00 WIB"} in channels
    assert [c["channel"] for c in channels] == ["default", "whatsapp", "telegram", "inapp"]
    clock.at = datetime(2026, 12, 23, 18, 0, tzinfo=WIB)  # then cuti bersama, Christmas, weekend
    _, res = await app.asgi_client.get("/api/v1/office-hours", params={"channel": "telegram"}, headers=BOT_AUTH)
    assert res.json["open"] is False and res.json["next_open_at"] == "2026-12-28T09:00:00+07:00"
    _, res = await app.asgi_client.get("/api/v1/office-hours", headers={})
    assert res.status == 401


# --- receipt pages ---------------------------------------------------------------------------------

async def test_receipt_pages(app, database, wa_conversation, staff) -> None:
    _, created = await post_ticket(app, wa_conversation)
    number = created.json["ticket_number"]
    _, res = await app.asgi_client.get(f"/tickets/{number}/receipt")
    assert res.status == 401
    _, res = await app.asgi_client.get(f"/tickets/{number}/receipt", headers=as_user(staff["agent"]))
    assert res.status == 200 and number in res.text and "Budi Santoso" in res.text
    link = created.json["receipt_text"].rsplit("https://desk.example", 1)[1].strip()
    _, res = await app.asgi_client.get(link)
    assert res.status == 200 and number in res.text
    assert "Budi Santoso" not in res.text and "B*** S******" in res.text
    assert res.headers["cache-control"] == "private, no-store"
    _, res = await app.asgi_client.get("/tickets/receipt/" + "x" * 32)
    assert res.status == 404


# --- staff API ---------------------------------------------------------------------------------------

@pytest.fixture
async def number(app, wa_conversation) -> str:
    _, res = await post_ticket(app, wa_conversation)
    return res.json["ticket_number"]


async def staff_post(app, user, number, action, body):
    _, res = await app.asgi_client.post(f"/api/v1/staff/tickets/{number}/{action}", json=body,
                                        headers=as_user(user))
    return res


async def test_staff_api_needs_a_signed_in_user(app, number) -> None:
    _, res = await app.asgi_client.get("/api/v1/staff/tickets")
    assert res.status == 401 and res.json["error"] == "login_required"


async def test_agent_sees_own_and_unassigned_only(app, number, staff, wa_conversation) -> None:
    agent, agent2, supervisor = staff["agent"], staff["agent2"], staff["supervisor"]
    _, other = await post_ticket(app, wa_conversation)
    res = await staff_post(app, supervisor, other.json["ticket_number"], "assign", {"user_id": agent2.id})
    assert res.status == 200 and res.json["assignee_id"] == agent2.id
    _, res = await app.asgi_client.get("/api/v1/staff/tickets", headers=as_user(agent))
    assert [t["number"] for t in res.json["items"]] == [number]
    assert res.json["items"][0]["phone"] == "+6281******890"  # masked in lists
    _, res = await app.asgi_client.get("/api/v1/staff/tickets", headers=as_user(supervisor))
    assert res.json["total"] == 2
    _, res = await app.asgi_client.get(f"/api/v1/staff/tickets/{other.json['ticket_number']}",
                                       headers=as_user(agent))
    assert res.status == 403
    _, res = await app.asgi_client.get(f"/api/v1/staff/tickets/{number}", headers=as_user(agent))
    assert res.status == 200 and res.json["phone"] == WA_PHONE
    assert [e["kind"] for e in res.json["events"]] == ["created", "receipt_issued"]
    from handoff.models import AuditEntry
    async with app.ctx.services.db.session() as s:
        audit = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket_read")))
    assert [(a.actor_id, a.object_id) for a in audit] == [(agent.id, number)]
    _, res = await app.asgi_client.get("/api/v1/staff/tickets", params={"assignee": "bogus"},
                                       headers=as_user(supervisor))
    assert res.status == 422


async def test_role_rules(app, number, staff) -> None:
    agent, specialist = staff["agent"], staff["specialist"]
    res = await staff_post(app, agent, number, "reject", {"ground": "not_our_product"})
    assert res.status == 403 and "reject" in res.json["message"]
    res = await staff_post(app, agent, number, "extend", {"reason": "butuh data bank"})
    assert res.status == 403
    res = await staff_post(app, agent, number, "assign", {"user_id": staff["agent2"].id})
    assert res.status == 403
    res = await staff_post(app, agent, number, "escalate", {"level": "department", "department": "legal"})
    assert res.status == 403
    res = await staff_post(app, agent, number, "resolve", {"kind": "offer", "compensation_amount": 50000})
    assert res.status == 403
    # What an agent may do.
    assert (await staff_post(app, agent, number, "assign", {"user_id": agent.id})).status == 200
    assert (await staff_post(app, agent, number, "status", {"status": "in_progress"})).json["status"] == "in_progress"
    assert (await staff_post(app, agent, number, "notes", {"text": "sudah telepon"})).status == 200
    res = await staff_post(app, agent, number, "escalate", {"level": "specialist", "note": "cek mutasi"})
    assert res.json["status"] == "escalated"
    # A specialist may take it further, return feedback, extend and reject.
    res = await staff_post(app, specialist, number, "escalate", {"level": "department", "department": "finance"})
    assert res.status == 200 and res.json["department"] == "finance"
    res = await staff_post(app, specialist, number, "feedback", {"text": "dana sudah kembali"})
    assert res.json["status"] == "in_progress"
    assert (await staff_post(app, specialist, number, "extend", {"reason": "menunggu bank"})).status == 200
    assert (await staff_post(app, specialist, number, "reject", {"ground": "no_financial_loss",
                                                                  "cause": "kesalahan_konsumen"})).status == 200


async def test_forbidden_changes_answer_409_or_422(app, number, staff) -> None:
    sup = staff["supervisor"]
    res = await staff_post(app, sup, number, "reject", {"note": "tanpa alasan"})
    assert res.status == 422 and "grounds" in res.json["message"]
    res = await staff_post(app, sup, number, "status", {"status": "resolved"})
    assert res.status == 422 and "/resolve" in res.json["message"]
    assert (await staff_post(app, sup, number, "extend", {"reason": "menunggu bank"})).status == 200
    res = await staff_post(app, sup, number, "extend", {"reason": "lagi"})
    assert res.status == 409 and res.json["error"] == "extension_not_allowed"
    res = await staff_post(app, sup, number, "resolve", {"kind": "explanation"})
    assert res.status == 422
    answer = {"kind": "explanation", "explanation": "Dana sudah masuk."}
    res = await staff_post(app, sup, number, "resolve", answer)
    assert res.status == 422 and "choose the cause of the complaint" in res.json["message"]
    res = await staff_post(app, sup, number, "resolve", {**answer, "cause": "kesalahan_sistem",
                                                         "negative_publicity": True})
    assert res.status == 422 and "link" in res.json["details"][0]["message"]
    res = await staff_post(app, sup, number, "resolve", {**answer, "cause": "kesalahan_sistem",
                                                         "negative_publicity": True,
                                                         "publicity_url": "https://berita.example/aduan"})
    assert res.status == 200 and res.json["status"] == "resolved"
    assert (res.json["cause"], res.json["negative_publicity_url"]) == ("kesalahan_sistem", "https://berita.example/aduan")
    res = await staff_post(app, sup, number, "escalate", {"level": "directors"})
    assert res.status == 409 and res.json["error"] == "forbidden_transition"
    res = await staff_post(app, sup, number, "reject", {"ground": "not_our_product"})
    assert res.status == 409
    res = await staff_post(app, sup, "DCI-000000-0000-0", "notes", {"text": "x"})
    assert res.status == 404


async def test_staff_message_is_first_response_and_goes_to_outbox(app, database, number, staff) -> None:
    from storage.models import Message, OutboxItem

    res = await staff_post(app, staff["agent"], number, "messages", {"text": "Halo Kak, kami cek dulu ya."})
    assert res.status == 200 and res.json["first_responded_at"] is not None
    async with database.session() as s:
        item = await s.scalar(select(OutboxItem))
        msg = await s.get(Message, item.message_id)
    assert opened_sender(item.channel, item.recipient_enc) == WA_PHONE
    assert msg.text == "Halo Kak, kami cek dulu ya." and msg.author == "agent"


def rasa_rest_collector_split(text: str) -> list[str]:
    """What Rasa 3.6's CollectingOutputChannel (the desk channel's collector) does to a bot text."""
    return text.strip().split("\n\n")


async def test_whatsapp_receipt_is_one_message_with_the_channels_own_hours(app, wa_conversation) -> None:
    from connectors.textsplit import split_text
    from connectors.whatsapp import MAX_BODY_CHARS

    _, res = await post_ticket(app, wa_conversation)
    receipt = res.json["receipt_text"]
    # Rasa cuts at blank lines, then Twilio's 1600-character limit: the receipt survives both whole.
    assert rasa_rest_collector_split(receipt) == [receipt.strip()]
    assert split_text(receipt, MAX_BODY_CHARS) == [receipt]
    # The hours are WhatsApp's (every day 08:00–20:00 in lender/demo.yml), not the default office hours.
    assert "Jam layanan petugas di WhatsApp: Setiap hari 08.00–20.00 WIB." in receipt
    assert "- WhatsApp: +62 811-0000-1234 (Setiap hari 08.00–20.00 WIB)" in receipt
    assert "- Telepon: 1500-000 (Senin–Jumat 09.00–17.00 WIB" in receipt


async def test_receipt_hours_follow_the_tickets_channel(app, database) -> None:
    conv = await make_conversation(database, "telegram", "556")
    _, res = await post_ticket(app, conv, channel="default")
    assert "Jam layanan petugas di Telegram: Senin–Jumat 09.00–17.00 WIB" in res.json["receipt_text"]
    inapp = await make_conversation(database, "inapp", "CUST-0009")
    _, res = await post_ticket(app, inapp, channel="default")
    assert "Jam layanan petugas di chat di aplikasi: Setiap hari 08.00–20.00 WIB." in res.json["receipt_text"]


# --- a complaint that reaches people before the form is done (fraud, collection threats) ---------

async def test_bot_files_an_incomplete_fraud_ticket_and_an_agent_completes_it(app, database, staff) -> None:
    conv = await make_conversation(database, "telegram", "777")
    words = "ada yang pinjam atas nama saya, saya tidak pernah daftar"
    body = {"conversation_id": conv.public_id, "channel": "default", "category": "fraud", "priority": "low",
            "reason": "fraud", "incomplete": True, "chronology": words, "full_name": None, "product": None}
    _, res = await app.asgi_client.post("/api/v1/tickets", json=body, headers={**BOT_AUTH, "idempotency-key": "k7"})
    assert res.status == 201, res.json
    number = res.json["ticket_number"]
    assert res.json["missing_fields"] == ["full_name", "contact", "product", "transaction_date"]
    assert res.json["first_response_due"] and res.json["resolution_due"]  # the regulatory clock runs
    async with database.session() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.number == number))
    assert (ticket.category, ticket.priority, ticket.chronology) == ("fraud", "high", words)

    agent = staff["agent"]
    res = await staff_post(app, agent, number, "fields", {"full_name": "Siti Aminah", "phone": "+62 812-3456-7890"})
    assert res.status == 200 and res.json["missing_fields"] == ["product", "transaction_date"]
    res = await staff_post(app, agent, number, "fields", {"product": "pinjaman_tunai", "transaction_date": "2026-11-01"})
    assert res.status == 200 and res.json["missing_fields"] == []
    _, full = await app.asgi_client.get(f"/api/v1/staff/tickets/{number}", headers=as_user(agent))
    assert full.json["full_name"] == "Siti Aminah" and full.json["phone"] == "+6281234567890"
    completed = [e for e in full.json["events"] if e["kind"] == "fields_completed"]
    assert [e["data"]["fields"] for e in completed] == [["full_name", "phone"], ["product", "transaction_date"]]
    assert "Siti" not in str(completed)  # the history names fields, never their values


async def test_field_completion_refuses_bad_values_and_keeps_the_ticket(app, staff, number) -> None:
    agent = staff["agent"]
    for body in ({"phone": "12"}, {"transaction_date": "2999-01-01"}, {}, {"full_name": "x"}):
        res = await staff_post(app, agent, number, "fields", body)
        assert res.status == 422, body
    _, res = await app.asgi_client.get(f"/api/v1/staff/tickets/{number}", headers=as_user(agent))
    assert res.json["phone"] == WA_PHONE and res.json["missing_fields"] == []


async def test_only_an_incomplete_filing_may_leave_required_fields_out(app, wa_conversation) -> None:
    _, res = await post_ticket(app, wa_conversation, full_name=None, product=None, phone=None)
    assert res.status == 422
    assert {d["field"] for d in res.json["details"]} >= {"full_name", "product"}
    _, res = await post_ticket(app, wa_conversation, incomplete=True, chronology="")
    assert res.status == 422  # the borrower's words are always filed


async def test_staff_register_a_complaint_forwarded_by_ojk(app, database, staff) -> None:
    body = {"source": "ojk_appk", "external_reference": "APPK/2026/11/0042", "received_at": "2026-11-02T10:00:00+07:00",
            "category": "payment", "full_name": "Rina Wati", "phone": "081234567890", "product": "paylater",
            "chronology": "Pembayaran sudah dipotong tetapi tagihan masih muncul."}
    _, res = await app.asgi_client.post("/api/v1/staff/tickets/external", json=body, headers=as_user(staff["agent"]))
    assert res.status == 201, res.text
    assert (res.json["source"], res.json["external_reference"], res.json["channel"]) == (
        "ojk_appk", "APPK/2026/11/0042", "ojk_appk")
    # Clocked from its receipt at the lender, on the suite's policy (POJK 18/2018, 20 working days):
    # day 0 Monday 2 November → Monday 30 November. (tests/reports checks the POJK 22/2023 clock.)
    assert res.json["received_at"] == "2026-11-02T10:00:00+07:00"
    assert res.json["resolution_due"] == "2026-11-30T23:59:59+07:00"
    assert res.json["first_response_due"] == "2026-11-04T23:59:59+07:00"
    _, again = await app.asgi_client.post("/api/v1/staff/tickets/external", json=body, headers=as_user(staff["agent"]))
    assert again.status == 422 and "already ticket" in again.json["message"]
    _, bad = await app.asgi_client.post("/api/v1/staff/tickets/external", json={**body, "source": "email"},
                                        headers=as_user(staff["agent"]))
    assert bad.status == 422 and bad.json["details"][0]["field"] == "source"
    _, future = await app.asgi_client.post("/api/v1/staff/tickets/external",
                                           json={**body, "external_reference": "X-1",
                                                 "received_at": "2099-01-01T10:00:00+07:00"},
                                           headers=as_user(staff["agent"]))
    assert future.status == 422 and "future" in future.json["message"]
    async with database.session() as s:
        audited = await s.scalar(select(AuditEntry.action).where(AuditEntry.object_id == res.json["number"]))
    assert audited == "ticket.register_external"
    # Answers to it go to OJK's portal: the history keeps the text for staff to post there.
    answer = {"kind": "explanation", "explanation": "Tagihan sudah kami koreksi.", "cause": "kesalahan_sistem"}
    done = await staff_post(app, staff["agent"], res.json["number"], "resolve", answer)
    assert done.status == 200, done.text
    async with database.session() as s:
        event = await s.scalar(select(TicketEvent).where(TicketEvent.kind == "resolution_sent"))
    assert event.data["deliver_via"] == "ojk_appk"
