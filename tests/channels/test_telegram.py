"""Telegram: secret-checked webhook updates in, replies and callback answers out through PTB to the fake API."""
from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.telegram import CALLBACK_DATA_LIMIT, render_keyboard
from desk.messages import Button, OutboundMessage
from tests.channels.conftest import Desk, NOTICES_AT_FIRST_CONTACT, after_notice
from tests.channels.support import count_rows, telegram_callback_update, telegram_message_update
from tests.fakes import FakeTelegram

CHAT_ID = 555000111


async def post_update(desk: Desk, update: Any, *, secret: str | None = "use-settings",
                      content: bytes | None = None) -> httpx.Response:
    headers = {}
    if secret == "use-settings":
        secret = desk.settings.telegram_secret_token
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with httpx.AsyncClient() as client:
        if content is not None:
            return await client.post(desk.url + "/webhooks/telegram", content=content,
                                     headers={**headers, "Content-Type": "application/json"})
        return await client.post(desk.url + "/webhooks/telegram", json=update, headers=headers)


async def test_message_is_routed_and_reply_carries_inline_keyboard(desk: Desk, fake_telegram: FakeTelegram) -> None:
    response = await post_update(desk, telegram_message_update(9001, CHAT_ID, "halo min"))
    assert response.status_code == 200

    [inbound] = await desk.inbound()
    assert (inbound.sender, inbound.external_id, inbound.text) == (str(CHAT_ID), "9001", "halo min")
    assert inbound.sender_name == "Budi Santoso"

    [item] = await desk.deliver_replies()
    [sent] = fake_telegram.sent_messages[NOTICES_AT_FIRST_CONTACT:]
    assert after_notice([c.params["text"] for c in fake_telegram.sent_messages]) == [sent.params["text"]]
    assert sent.params["chat_id"] in (CHAT_ID, str(CHAT_ID))
    assert sent.params["text"] == "Halo Kak, ada yang bisa kami bantu?"
    assert sent.inline_keyboard == [
        [{"text": "Cek tagihan", "callback_data": "/ask_bill_amount"}],
        [{"text": "Buat pengaduan", "callback_data": "/complain_payment"}],
    ]
    assert item.status == "sent" and item.provider_message_id == str(1001 + NOTICES_AT_FIRST_CONTACT)


async def test_callback_query_becomes_button_payload_and_is_answered(desk: Desk, fake_telegram: FakeTelegram) -> None:
    keyboard = [[{"text": "Cek tagihan", "callback_data": "/ask_bill_amount"}],
                [{"text": "Buat pengaduan", "callback_data": "/complain_payment"}]]
    update = telegram_callback_update(9002, CHAT_ID, "/complain_payment", message_id=77, keyboard=keyboard)
    response = await post_update(desk, update)
    assert response.status_code == 200

    [inbound] = await desk.inbound()
    assert inbound.payload["button_payload"] == "/complain_payment"
    assert desk.rasa.calls[-1]["message"] == "/complain_payment"
    assert inbound.text == "Buat pengaduan"
    assert inbound.sender == str(CHAT_ID)
    assert await fake_telegram.wait_for_async(lambda: len(fake_telegram.callback_answers) == 1)
    assert fake_telegram.callback_answers[0].params["callback_query_id"] == "cbq-9002"


async def test_long_payload_round_trips_through_button_index(desk: Desk, fake_telegram: FakeTelegram) -> None:
    long_payload = '/inform{"category":"unethical_collection","priority":"high","x":"' + "y" * 40 + '"}'
    desk.rasa.responder = lambda body: [{"text": "Pilih kategori:", "buttons": [
        {"title": "Pembayaran", "payload": '/inform{"category":"payment"}'},
        {"title": "Penagihan", "payload": long_payload}]}]
    assert (await post_update(desk, telegram_message_update(9003, CHAT_ID, "mau lapor"))).status_code == 200
    await desk.deliver_replies()
    [sent] = fake_telegram.sent_messages[NOTICES_AT_FIRST_CONTACT:]
    data = sent.inline_keyboard[1][0]["callback_data"]
    assert len(data.encode()) <= CALLBACK_DATA_LIMIT and data == "#1"

    press = telegram_callback_update(9004, CHAT_ID, data, message_id=1001 + NOTICES_AT_FIRST_CONTACT,
                                     keyboard=sent.inline_keyboard)
    assert (await post_update(desk, press)).status_code == 200
    pressed = (await desk.inbound())[-1]
    assert pressed.payload["button_payload"] == long_payload
    assert pressed.text == "Penagihan"
    assert desk.rasa.calls[-1]["message"] == long_payload


async def test_photo_is_kept_as_reference(desk: Desk) -> None:
    update = telegram_message_update(9005, CHAT_ID, None, caption="bukti transfer", photo=[
        {"file_id": "small-id", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "large-id", "file_unique_id": "l", "width": 1280, "height": 1280}])
    assert (await post_update(desk, update)).status_code == 200
    [inbound] = await desk.inbound()
    assert inbound.text == "bukti transfer"
    assert inbound.payload["media"] == [{"url": "telegram-file:large-id", "content_type": "image/jpeg"}]


async def test_redelivered_update_is_stored_once(desk: Desk) -> None:
    update = telegram_message_update(9006, CHAT_ID, "halo")
    assert (await post_update(desk, update)).status_code == 200
    assert (await post_update(desk, update)).status_code == 200
    assert await count_rows(desk.db) == (2 + NOTICES_AT_FIRST_CONTACT, 1 + NOTICES_AT_FIRST_CONTACT)


async def test_update_without_message_is_acknowledged_not_stored(desk: Desk) -> None:
    update = {"update_id": 9007, "my_chat_member": {
        "chat": {"id": CHAT_ID, "type": "private", "first_name": "Budi"},
        "from": {"id": CHAT_ID, "is_bot": False, "first_name": "Budi"}, "date": 1763800000,
        "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "A"}},
        "new_chat_member": {"status": "kicked", "until_date": 0,
                            "user": {"id": 1, "is_bot": True, "first_name": "A"}}}}
    assert (await post_update(desk, update)).status_code == 200
    assert await count_rows(desk.db) == (0, 0)


@pytest.mark.parametrize("secret", [None, "wrong-secret", "test-telegram-secre"])
async def test_wrong_or_missing_secret_is_403_and_nothing_stored(desk: Desk, secret: str | None,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    response = await post_update(desk, telegram_message_update(9008, CHAT_ID, "halo"), secret=secret)
    assert response.status_code == 403
    assert await count_rows(desk.db) == (0, 0)
    assert any("rejected telegram" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"update_id": "x"}',
                                     b'{"update_id": 1, "message": {"chat": 5}}'])
async def test_malformed_update_is_400_and_nothing_stored(desk: Desk, content: bytes) -> None:
    response = await post_update(desk, None, content=content)
    assert response.status_code == 400
    assert await count_rows(desk.db) == (0, 0)


async def test_message_over_the_limit_is_413(desk: Desk) -> None:
    update = telegram_message_update(9009, CHAT_ID, "a" * (desk.settings.max_message_chars + 1))
    response = await post_update(desk, update)
    assert response.status_code == 413
    assert await count_rows(desk.db) == (0, 0)


async def test_provider_errors_map_to_retryable(desk: Desk, fake_telegram: FakeTelegram) -> None:
    assert (await post_update(desk, telegram_message_update(9010, CHAT_ID, "halo"))).status_code == 200
    fake_telegram.fail_next(1, status=500)
    failed, *_ = await desk.deliver()  # the first message of the conversation (the notice, if any)
    assert failed.status == "pending" and failed.last_error
    await desk.make_retries_due()
    sent = await desk.deliver()
    assert [i.status for i in sent] == ["sent"] * (1 + NOTICES_AT_FIRST_CONTACT)


def test_keyboard_keeps_button_order() -> None:
    markup = render_keyboard(OutboundMessage(text="x", buttons=(Button("A", "/a"), Button("B", "/b"))))
    assert markup is not None
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [["A"], ["B"]]
    assert render_keyboard(OutboundMessage(text="x")) is None




async def test_location_and_contact_are_kept_as_references(desk: Desk) -> None:
    update = telegram_message_update(9011, CHAT_ID, None, location={"latitude": -6.2, "longitude": 106.8},
                                     contact={"phone_number": "+6281234567890", "first_name": "Budi"})
    assert (await post_update(desk, update)).status_code == 200
    [inbound] = await desk.inbound()
    assert [m["url"] for m in inbound.payload["media"]] == ["geo:-6.2,106.8", "tel:+6281234567890"]


async def test_neutral_markup_is_sent_as_telegram_html(desk: Desk, fake_telegram: FakeTelegram) -> None:
    """A receipt in the neutral ``*bold*`` form reaches Telegram rendered: no tags, entities or asterisks shown."""
    from sqlalchemy import select

    from desk.outbox import enqueue
    from storage.models import Conversation

    assert (await post_update(desk, telegram_message_update(9020, CHAT_ID, "halo"))).status_code == 200
    await desk.deliver()
    async with desk.db.transaction() as session:
        conversation = await session.scalar(select(Conversation).where(Conversation.channel == "telegram"))
        await enqueue(session, conversation, OutboundMessage(text="Nomor tiket: *DCI-1* & <cek> a*b"),
                      author="system")
    items = await desk.deliver()
    sent = fake_telegram.sent_messages[-1]
    assert items and items[-1].status == "sent"
    assert str(sent.params["parse_mode"]).upper() == "HTML"
    assert sent.params["text"] == "Nomor tiket: <b>DCI-1</b> &amp; &lt;cek&gt; a*b"


def test_html_pieces_stay_within_the_limit_after_escaping() -> None:
    from connectors.telegram import html_pieces

    pieces = html_pieces("&&&& *tebal*\n" * 40, 100)
    assert all(len(p) <= 100 for p in pieces)
    assert "<b>tebal</b>" in "".join(pieces) and "*" not in "".join(pieces)
