"""A plain text update is read straight from the JSON, exactly as python-telegram-bot reads it.

``Update.de_json`` costs about 220 µs of CPU per update, the largest part of the
Telegram webhook's work and so of the human path's tail at 1,000 msg/s (issue 17,
item 3). Everything that is not one plain private text message still goes through it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from connectors import telegram
from connectors.rejections import Rejected
from tests.channels.conftest import Desk
from tests.channels.support import telegram_callback_update, telegram_message_update
from tests.channels.test_telegram import post_update


def ptb(data: dict[str, Any]):  # noqa: ANN201
    return telegram.inbound_from_update(telegram.update_from_json(data), max_chars=4096)


def same(a, b) -> bool:  # noqa: ANN001
    return dataclasses.replace(a, received_at=None) == dataclasses.replace(b, received_at=None)


@pytest.mark.parametrize("update", [
    telegram_message_update(1, 700000001, "halo kak"),
    telegram_message_update(2, 700000002, "saya mau komplain", **{"from": {"id": 700000002, "is_bot": False,
                                                                          "first_name": "Sari"}}),
    telegram_message_update(3, 700000003, "/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
    telegram_message_update(4, 700000004, "  emoji 🙏 dan spasi  "),
])
def test_plain_text_reads_as_python_telegram_bot_reads_it(update: dict[str, Any]) -> None:
    fast = telegram.plain_text_inbound(update, max_chars=4096)
    assert fast is not None
    assert same(fast, ptb(update))


@pytest.mark.parametrize("update", [
    telegram_message_update(5, 700000005, None, photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 90,
                                                        "height": 90}], caption="bukti transfer"),
    telegram_message_update(6, 700000006, "ini", reply_to_message={"message_id": 1, "date": 1763800000,
                                                                   "chat": {"id": 700000006, "type": "private"},
                                                                   "text": "tadi"}),
    telegram_message_update(7, -100123, "grup", chat={"id": -100123, "type": "group", "title": "G"}),
    telegram_message_update(8, 700000008, "tanpa tanggal", date="kemarin"),
    telegram_callback_update(9, 700000009, "/ask_bill_amount", message_id=3,
                             keyboard=[[{"text": "Tagihan", "callback_data": "/ask_bill_amount"}]]),
    {"update_id": 10, "edited_message": telegram_message_update(10, 700000010, "ubah")["message"]},
])
def test_anything_else_is_left_to_python_telegram_bot(update: dict[str, Any]) -> None:
    assert telegram.plain_text_inbound(update, max_chars=4096) is None


def test_a_long_plain_text_is_refused_as_before() -> None:
    with pytest.raises(Rejected) as caught:
        telegram.plain_text_inbound(telegram_message_update(11, 700000011, "x" * 20), max_chars=10)
    assert caught.value.status == 413


async def test_the_webhook_does_not_build_an_update_for_a_plain_text(desk: Desk,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """What the webhook does with the update nearly every borrower sends: stored, without PTB."""
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("Update.de_json was called for a plain text message")

    monkeypatch.setattr(telegram.Update, "de_json", refuse)
    response = await post_update(desk, telegram_message_update(9012, 700000012, "halo min"))
    assert response.status_code == 200
    [inbound] = await desk.inbound()
    assert (inbound.sender, inbound.external_id, inbound.text, inbound.sender_name) == \
        ("700000012", "9012", "halo min", "Budi Santoso")
