"""Rasa's REST answer becomes channel-neutral outbound messages."""
from __future__ import annotations

import pytest

from desk.botclient import BotUnavailable, parse_replies
from desk.messages import Button


def test_text_buttons_image_and_custom() -> None:
    replies = parse_replies([
        {"recipient_id": "c", "text": "Pilih:", "buttons": [{"title": "Tagihan", "payload": "/ask_bill_amount"}]},
        {"recipient_id": "c", "image": "https://cdn.example/struk.png"},
        {"recipient_id": "c", "text": "Lihat", "image": "https://cdn.example/a.png"},
        {"recipient_id": "c", "custom": {"handoff": {"reason": "fraud"}}},
        {"recipient_id": "c"},
    ])
    assert replies[0].text == "Pilih:" and replies[0].buttons == (Button("Tagihan", "/ask_bill_amount"),)
    assert replies[1].text == "https://cdn.example/struk.png"
    assert replies[2].text == "Lihat\nhttps://cdn.example/a.png"
    assert replies[3].text == "" and replies[3].custom == {"handoff": {"reason": "fraud"}}
    assert len(replies) == 4  # the empty item is dropped


@pytest.mark.parametrize("data", [{"text": "x"}, ["x"], None])
def test_malformed_answers_mean_the_bot_is_unavailable(data) -> None:
    with pytest.raises(BotUnavailable):
        parse_replies(data)
