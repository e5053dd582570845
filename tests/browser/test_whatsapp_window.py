"""WhatsApp's 24-hour window in a real browser: after the window closed the agent can only send a
template, it reaches (fake) Twilio as a ContentSid, and the delivery ticks follow Twilio's callbacks."""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from twilio.request_validator import RequestValidator

from desk.templates import load_templates
from storage.base import utcnow
from storage.models import Direction, Message
from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def _signed_post(desk, form: dict[str, str]) -> httpx.Response:  # type: ignore[no-untyped-def]
    url = desk.base_url + "/webhooks/whatsapp"
    signature = RequestValidator(desk.services.settings.twilio_auth_token).compute_signature(url, form)
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})


async def test_agent_reaches_a_borrower_after_the_window_closed_with_a_template(
        desk, browser, staff, shots, database) -> None:  # type: ignore[no-untyped-def]
    settings = desk.services.settings
    twilio = desk.twilio
    # Twilio as it really behaves: signed status callbacks, free text refused outside the window.
    twilio.auth_token, twilio.enforce_window, twilio.callback_delay = settings.twilio_auth_token, True, 0.3
    await staff("ani", "agent", "Ani Agen")
    agent = await login(browser, desk.base_url, "ani")
    await agent.goto("/console")
    await agent.locator("#live.on").wait_for()

    phone = "+6281298765400"
    base = {"From": f"whatsapp:{phone}", "To": settings.twilio_whatsapp_from,
            "AccountSid": settings.twilio_account_sid, "NumMedia": "0", "ProfileName": "Budi"}
    for n, text in enumerate(["sudah bayar tapi belum lunas", "sambungkan ke agen"]):
        twilio.borrower_wrote(phone)
        r = await asyncio.to_thread(_signed_post, desk, {**base, "Body": text, "MessageSid": f"SM{n:032d}"})
        assert r.status_code == 200, r.text

    item = agent.locator("[data-testid=queue] li.qitem").first
    await item.wait_for(timeout=10_000)
    public_id = await item.get_attribute("data-conversation")
    await item.locator("[data-testid=pickup]").click()
    await agent.locator(f".panel[data-conversation='{public_id}'] [data-testid=reply-text]").wait_for()

    # A weekend passes: the borrower's last message is 60 hours old, at the desk and at WhatsApp.
    async with database.transaction() as session:
        await session.execute(update(Message).where(Message.direction == Direction.INBOUND.value)
                              .values(created_at=utcnow() - timedelta(hours=60)))
    twilio.borrower_wrote(phone, time.time() - 60 * 3600)
    sent_before = len(twilio.messages)

    await agent.goto(f"/console/c/{public_id}")
    panel = agent.locator(f".panel[data-conversation='{public_id}']")
    window = panel.locator("[data-testid=window]")
    await window.wait_for()
    assert await window.get_attribute("data-closed") == "true"
    assert "hanya templat" in await window.inner_text()
    assert await panel.locator("[data-testid=reply-text]").count() == 0  # no free text outside the window
    await shots(agent, "window-closed-only-templates")

    await panel.locator("[data-testid=template-select]").select_option("agent_replied")
    await panel.locator("[data-testid=send-template]").click()
    messages = await asyncio.to_thread(twilio.wait_for_messages, sent_before + 1, 10)
    template = load_templates(settings.lender_content).get("agent_replied")
    assert template is not None
    assert messages[-1].content_sid == template.content_sid and messages[-1].to == f"whatsapp:{phone}"
    assert messages[-1].status_callback == desk.base_url + "/webhooks/whatsapp/status"

    # Twilio reports sent, delivered, read; the ticks follow without a reload.
    last = panel.locator("[data-testid=messages] li.msg.agent").last
    await last.get_by_text(template.text[:40], exact=False).wait_for()
    await last.locator("[data-testid=delivery][data-state=read]").wait_for(timeout=15_000)
    assert "Dibaca" in await last.locator("[data-testid=delivery]").inner_text()
    assert await panel.locator("[data-testid=messages] li.msg.agent").count() == 1  # shown once
    assert [c.answer for c in twilio.callbacks if c.sid == messages[-1].sid] == [200, 200, 200]
    await shots(agent, "template-read-ticks")
