"""Input at the boundary, on every channel and engine: poison characters and colliding ids.

A message with a character the database refuses (U+0000 on PostgreSQL, a lone
surrogate anywhere) is stored with the character replaced, its raw text kept
escaped in the payload, and answered like any other; in-app ids of two
customers never collide, whatever characters they contain.
"""
from __future__ import annotations

import json

import httpx
import pytest

from desk.messages import REPLACEMENT
from tests.channels.conftest import GREETING_TEXT, Desk, after_notice
from tests.channels.support import telegram_message_update, twilio_form
from tests.channels.test_inapp import post_message, token_for
from tests.channels.test_telegram import CHAT_ID, post_update
from tests.channels.test_whatsapp import post_signed

POISON = "halo\x00min"


async def _send(desk: Desk, channel: str, text: str, n: int = 1):
    if channel == "whatsapp":
        sid = f"SM{n:032d}"
        return await post_signed(desk, twilio_form(Body=text, MessageSid=sid, SmsMessageSid=sid))
    if channel == "telegram":
        return await post_update(desk, telegram_message_update(7000 + n, CHAT_ID, text))
    return await post_message(desk, text, token=token_for(desk), client_id=f"poison-{n}")


@pytest.mark.parametrize("channel", ["whatsapp", "telegram", "inapp"])
async def test_nul_character_is_replaced_and_the_raw_text_kept(desk: Desk, channel: str) -> None:
    response = await _send(desk, channel, POISON)
    assert response.status_code == 200, response.text
    [inbound] = await desk.inbound()
    assert inbound.text == f"halo{REPLACEMENT}min"
    assert json.loads('"' + inbound.payload["raw"]["text"] + '"') == POISON
    assert desk.rasa.calls[-1]["message"] == f"halo{REPLACEMENT}min"  # answered like any other message
    if channel == "inapp":
        assert after_notice([r["text"] for r in response.json()["replies"]]) == [GREETING_TEXT]
    # A redelivery of the same poison is a plain duplicate, not a second failure.
    assert (await _send(desk, channel, POISON)).status_code == 200
    assert len(await desk.inbound()) == 1 and len(desk.rasa.calls) == 1


async def test_inapp_lone_surrogate_is_replaced(desk: Desk) -> None:
    # JSON may carry a lone surrogate as an escape; Python decodes it, no database can store it.
    body = json.dumps({"text": "tolong \ud83d bantu", "client_message_id": "surrogate"}).encode()
    async with httpx.AsyncClient() as client:
        response = await client.post(desk.url + "/chat/api/messages", content=body, headers={
            "Authorization": f"Bearer {token_for(desk)}", "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    [inbound] = await desk.inbound()
    assert inbound.text == f"tolong {REPLACEMENT} bantu"
    assert inbound.payload["raw"]["text"] == "tolong \\ud83d bantu"


async def test_inapp_ids_of_two_customers_never_collide(desk: Desk) -> None:
    """Customer ``X`` sending id ``x:m1`` and customer ``X:x`` sending ``m1`` glued to the same
    string under the old key; they are two messages in two conversations."""
    first = await post_message(desk, "halo dari X", token=token_for(desk, "X"), client_id="x:m1")
    second = await post_message(desk, "halo dari X:x", token=token_for(desk, "X:x"), client_id="m1")
    assert first.status_code == second.status_code == 200
    a, b = first.json(), second.json()
    assert not a["duplicate"] and not b["duplicate"]
    assert a["conversation_id"] != b["conversation_id"]
    assert sorted((i.sender, i.external_id, i.text) for i in await desk.inbound()) == [
        ("X", "x:m1", "halo dari X"), ("X:x", "m1", "halo dari X:x")]
    assert len(desk.rasa.calls) == 2
