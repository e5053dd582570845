"""A borrower sends a photo on WhatsApp; the agent opens the conversation and sees the image,
then sends a PNG back, which leaves through Twilio as a signed desk link."""
from __future__ import annotations

import asyncio

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.attachments import samples
from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def _signed_post(desk, form: dict[str, str]) -> httpx.Response:  # type: ignore[no-untyped-def]
    url = desk.base_url + "/webhooks/whatsapp"
    signature = RequestValidator(desk.services.settings.twilio_auth_token).compute_signature(url, form)
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})


async def test_whatsapp_photo_reaches_the_agent_and_a_file_goes_back(desk, browser, staff, shots,
                                                                    tmp_path) -> None:
    settings = desk.services.settings
    desk.twilio.auth_token = settings.twilio_auth_token  # media needs the account's credentials
    await staff("ani", "agent", "Ani Agen")
    agent = await login(browser, desk.base_url, "ani")
    await agent.goto("/console")
    await agent.locator("#live.on").wait_for()

    phone = "+6281298760001"
    photo = samples.png(64, 48)
    media_url = desk.twilio.add_media(settings.twilio_account_sid, photo, "image/png")
    base = {"From": f"whatsapp:{phone}", "To": settings.twilio_whatsapp_from,
            "AccountSid": settings.twilio_account_sid, "ProfileName": "Budi"}
    messages = [{"Body": "sambungkan ke agen", "NumMedia": "0"},
                {"Body": "ini bukti bayarnya", "NumMedia": "1", "MediaUrl0": media_url,
                 "MediaContentType0": "image/png"}]
    for n, fields in enumerate(messages):
        r = await asyncio.to_thread(_signed_post, desk, {**base, **fields, "MessageSid": f"SM{n + 70:032d}"})
        assert r.status_code == 200, r.text

    item = agent.locator("[data-testid=queue] li.qitem").first
    await item.wait_for(timeout=10_000)
    public_id = await item.get_attribute("data-conversation")
    await item.locator("[data-testid=pickup]").click()
    panel = agent.locator(f".panel[data-conversation='{public_id}']")
    await panel.wait_for()
    image = panel.locator("[data-testid=file-image]")
    await image.wait_for(timeout=10_000)  # fetched in the background; the open panel refreshes
    await agent.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=await image.element_handle())
    await shots(agent, "agent-sees-borrower-photo")

    reply_file = tmp_path / "balasan.png"
    reply_file.write_bytes(samples.png(8, 8))
    await panel.locator("[data-testid=file-input]").set_input_files(str(reply_file))
    await panel.locator("[data-testid=file-caption]").fill("Ini bukti pengembalian dananya, Kak.")
    await panel.locator("[data-testid=send-file]").click()

    sent = await asyncio.to_thread(
        desk.twilio.wait_for, lambda: any(m.media_url for m in desk.twilio.messages), 10)
    assert sent
    [with_media] = [m for m in desk.twilio.messages if m.media_url]
    assert with_media.to == f"whatsapp:{phone}" and with_media.body == "Ini bukti pengembalian dananya, Kak."
    fetched = await asyncio.to_thread(httpx.get, with_media.media_url[0])  # as Twilio fetches it
    assert fetched.status_code == 200 and fetched.content == samples.png(8, 8)
    await panel.locator("[data-testid=file-image]").nth(1).wait_for(timeout=10_000)
    await agent.wait_for_timeout(500)  # both the websocket event and the form's answer have come back
    assert await panel.locator("li.msg.agent").count() == 1  # shown once
    await shots(agent, "agent-sent-a-photo")
