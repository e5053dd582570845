"""Human handoff in a real browser: web chat borrower → queue → agent → reply → close → rating,
access rules and the audit log; and the same flow for a WhatsApp borrower."""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from handoff.models import Handoff
from storage.models import Conversation
from tests.browser.conftest import BOT_STATE, COMPLAINT, login
from tests.support.notice import NOTICES_AT_FIRST_CONTACT, after_notice

pytestmark = pytest.mark.browser


async def _wait_db(database, fn, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        async with database.session() as session:
            value = await fn(session)
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def _agent_handles(agent, shots, public_id_hint=None):  # type: ignore[no-untyped-def]
    """The agent sees the conversation arrive, picks it up, and sees transcript and fields."""
    item = agent.locator("[data-testid=queue] li.qitem").first
    await item.wait_for(timeout=10_000)
    await shots(agent, "agent-sees-new-handoff")
    public_id = await item.get_attribute("data-conversation")
    await item.locator("[data-testid=pickup]").click()
    panel = agent.locator(f".panel[data-conversation='{public_id}']")
    await panel.wait_for()
    return public_id, panel


async def test_webchat_borrower_to_agent_and_back(desk, browser, staff, shots, database) -> None:
    await staff("ani", "agent", "Ani Agen")
    await staff("budi", "agent", "Budi Agen")
    await staff("sri", "supervisor", "Sri Supervisor")
    await staff("root", "admin", "Admin")

    agent = await login(browser, desk.base_url, "ani")
    await agent.goto("/console")
    await agent.locator("#live.on").wait_for()
    await shots(agent, "agent-console-empty")

    borrower_ctx = await browser.new_context(viewport={"width": 420, "height": 760}, base_url=desk.base_url)
    borrower = await borrower_ctx.new_page()
    await borrower.goto("/")
    await borrower.locator("#demo-borrower option").first.wait_for(state="attached")
    await borrower.click("#demo-form button")
    await borrower.locator("#text:enabled").wait_for()
    await borrower.fill("#text", "sudah bayar tapi status belum lunas")
    await borrower.click("#send")
    await borrower.get_by_text("Data pembayaran Anda sudah saya catat").wait_for()
    # The action server files the complaint through the desk API, as the real bot does.
    async with database.session() as session:
        conversation_id = await session.scalar(select(Conversation.public_id))
    filed = await asyncio.to_thread(httpx.post, desk.base_url + "/api/v1/tickets", json={
        "conversation_id": conversation_id, "category": "payment", "full_name": COMPLAINT["full_name"],
        "product": COMPLAINT["product"], "transaction_date": COMPLAINT["transaction_date"],
        "chronology": COMPLAINT["chronology"], "customer_id": "CUST-0001", "phone": "+6281234567890"},
        headers={"Authorization": "Bearer test-service-token", "Idempotency-Key": "browser-1"})
    assert filed.status_code == 201, filed.text
    BOT_STATE["ticket_number"] = filed.json()["ticket_number"]
    await borrower.fill("#text", "sambungkan ke agen")
    await borrower.click("#send")
    await borrower.get_by_text("saya sambungkan ke petugas CS").wait_for()
    await shots(borrower, "borrower-asks-for-a-person")

    # Live: the conversation appears in the queue without a reload.
    public_id, panel = await _agent_handles(agent, shots)
    await panel.get_by_text("sudah bayar tapi status belum lunas").wait_for()
    await panel.locator("[data-testid=handoff-divider]").wait_for()
    fields = panel.locator("[data-testid=fields]")
    assert COMPLAINT["chronology"] in await fields.inner_text()
    assert COMPLAINT["product"] in await fields.inner_text()
    ticket = panel.locator("[data-testid=ticket]")
    assert await ticket.count() == 1  # the ticket and its clocks
    assert BOT_STATE["ticket_number"] in await panel.inner_text()
    assert "Batas respons pertama" in await panel.inner_text()
    await shots(agent, "agent-picked-up-transcript-and-fields")

    await panel.locator("[data-testid=reply-text]").fill("Halo Kak, saya Ani. Saya cek pembayaran Anda dulu ya.")
    await panel.locator("[data-testid=send]").click()
    await borrower.get_by_text("Halo Kak, saya Ani.").wait_for()
    await shots(borrower, "borrower-sees-agent-reply")

    await borrower.fill("#text", "baik kak, ini bukti bayarnya dari indomaret")
    await borrower.click("#send")
    await panel.get_by_text("ini bukti bayarnya dari indomaret").wait_for()  # pushed over the websocket

    await panel.locator("[data-testid=note-text]").fill("Cek mutasi Indomaret 12/11, kemungkinan telat rekonsiliasi")
    await panel.locator("[data-testid=add-note]").click()
    await agent.locator(f".panel[data-conversation='{public_id}'] [data-testid=note]").wait_for()
    panel = agent.locator(f".panel[data-conversation='{public_id}']")
    await shots(agent, "agent-wrote-private-note")

    await panel.locator("[data-testid=close-summary]").fill("Pembayaran Anda sudah kami rekonsiliasi dan kini lunas.")
    await panel.locator("[data-testid=close]").click()
    await borrower.get_by_text("Pembayaran Anda sudah kami rekonsiliasi").wait_for()
    await shots(borrower, "borrower-gets-summary-and-rating")
    assert "kemungkinan telat rekonsiliasi" not in await borrower.content()

    await borrower.locator(".buttons button", has_text="4").last.click()
    await borrower.get_by_text("Terima kasih atas penilaian Anda").wait_for()
    await shots(borrower, "borrower-rated")

    async def rated(session):  # type: ignore[no-untyped-def]
        h = await session.scalar(select(Handoff).join(Conversation, Conversation.id == Handoff.conversation_id)
                                 .where(Conversation.public_id == public_id))
        return h if h and h.rating else None
    handoff = await _wait_db(database, rated)
    assert handoff is not None and handoff.rating == 4 and handoff.status == "closed"
    async with database.session() as session:
        conv = await session.scalar(select(Conversation).where(Conversation.public_id == public_id))
    assert conv.mode == "bot"

    # A second agent may not open the first agent's conversation; a supervisor may, and it is audited.
    other = await login(browser, desk.base_url, "budi")
    response = await other.goto(f"/console/c/{public_id}")
    assert response.status == 403
    await shots(other, "second-agent-forbidden")
    supervisor = await login(browser, desk.base_url, "sri")
    response = await supervisor.goto(f"/console/c/{public_id}")
    assert response.status == 200
    assert "Cek mutasi Indomaret" in await supervisor.content()
    await shots(supervisor, "supervisor-reads-transcript")
    await supervisor.goto("/console/supervisor?q=indomaret")
    assert public_id in await supervisor.content()
    await shots(supervisor, "supervisor-search")
    admin = await login(browser, desk.base_url, "root")
    await admin.goto(f"/console/admin/audit?object={public_id}")
    audit = await admin.locator("[data-testid=audit]").inner_text()
    assert "sri" in audit and "transcript.opened" in audit and "transcript.denied" in audit
    await shots(admin, "admin-audit-log")


def _signed_post(desk, form: dict[str, str]) -> httpx.Response:  # type: ignore[no-untyped-def]
    url = desk.base_url + "/webhooks/whatsapp"
    signature = RequestValidator(desk.services.settings.twilio_auth_token).compute_signature(url, form)
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})


async def test_whatsapp_borrower_to_agent(desk, browser, staff, shots, database) -> None:
    await staff("ani", "agent", "Ani Agen")
    agent = await login(browser, desk.base_url, "ani")
    await agent.goto("/console")
    await agent.locator("#live.on").wait_for()
    phone = "+6281298765432"
    base = {"From": f"whatsapp:{phone}", "To": desk.services.settings.twilio_whatsapp_from,
            "AccountSid": desk.services.settings.twilio_account_sid, "NumMedia": "0", "ProfileName": "Budi"}
    for n, text in enumerate(["sudah bayar tapi belum lunas", "sambungkan ke agen"]):
        r = await asyncio.to_thread(_signed_post, desk, {**base, "Body": text, "MessageSid": f"SM{n:032d}"})
        assert r.status_code in (200, 204), r.text
    forged = await asyncio.to_thread(httpx.post, desk.base_url + "/webhooks/whatsapp",
                                     data={**base, "Body": "x", "MessageSid": "SMforged"},
                                     headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert forged.status_code == 403

    public_id, panel = await _agent_handles(agent, shots)
    assert await agent.locator(".panel-head .chan").first.inner_text() == "whatsapp"
    assert phone not in await panel.inner_text()  # agents see the number masked
    await panel.locator("[data-testid=reply-text]").fill("Halo Kak Budi, saya Ani dari CS.")
    await panel.locator("[data-testid=send]").click()
    # The privacy notice (from the lender file) came before the bot's two replies.
    await asyncio.to_thread(desk.twilio.wait_for_messages, 3 + NOTICES_AT_FIRST_CONTACT, 10)
    bodies = after_notice([m.body for m in desk.twilio.messages])
    assert "Halo Kak Budi, saya Ani dari CS." in bodies
    assert all(m.to == f"whatsapp:{phone}" for m in desk.twilio.messages)
    await shots(agent, "agent-replied-on-whatsapp")

    await panel.locator("[data-testid=close-summary]").fill("Pembayaran sudah tercatat lunas.")
    await panel.locator("[data-testid=close]").click()
    messages = await asyncio.to_thread(desk.twilio.wait_for_messages, 4 + NOTICES_AT_FIRST_CONTACT, 10)
    closing = messages[-1].body
    assert "Pembayaran sudah tercatat lunas." in closing
    # WhatsApp shows the 1–5 buttons as a numbered list; the borrower answers "5".
    r = await asyncio.to_thread(_signed_post, desk, {**base, "Body": "5", "MessageSid": "SM" + "9" * 32})
    assert r.status_code in (200, 204)

    async def rated(session):  # type: ignore[no-untyped-def]
        h = await session.scalar(select(Handoff).join(Conversation, Conversation.id == Handoff.conversation_id)
                                 .where(Conversation.public_id == public_id))
        return h if h and h.rating else None
    handoff = await _wait_db(database, rated)
    assert handoff is not None and handoff.rating == 5
    thanks = await asyncio.to_thread(desk.twilio.wait_for_messages, 5 + NOTICES_AT_FIRST_CONTACT, 10)
    assert "penilaian" in thanks[-1].body
