"""A fake Rasa server: answers the desk's custom channel with canned replies."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fakes.http import FakeHTTPService, Reply

WEBHOOK_PATH = "/webhooks/desk/webhook"
Replies = list[dict[str, Any]]


def default_replies(body: dict[str, Any]) -> Replies:
    """A greeting with two buttons, whatever the borrower wrote."""
    return [{"recipient_id": body.get("sender"), "text": "Halo Kak, ada yang bisa kami bantu?",
             "buttons": [{"title": "Cek tagihan", "payload": "/ask_bill_amount"},
                         {"title": "Buat pengaduan", "payload": "/complain_payment"}]}]


class FakeRasa(FakeHTTPService):
    """``POST /webhooks/desk/webhook`` → the REST channel's list of replies.

    ``reply_with`` maps the request body (``sender``, ``message``, ``metadata``)
    to the replies; ``bodies`` records every request body.
    """

    def __init__(self, reply_with: Callable[[dict[str, Any]], Replies] = default_replies) -> None:
        super().__init__()
        self.reply_with = reply_with
        self.bodies: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> Reply:
        if method == "GET" and path == "/":
            return Reply(200, b"Hello from Rasa: 3.6.21", "text/plain")
        if method != "POST" or path != WEBHOOK_PATH:
            return Reply.json(404, {"error": "not found"})
        data = json.loads(body or b"{}")
        self.bodies.append(data)
        return Reply.json(200, self.reply_with(data))

    def _reset_state(self) -> None:
        self.bodies.clear()
