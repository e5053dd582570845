"""A fake of the Telegram Bot API (the methods the desk uses)."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http import FakeHTTPService, Reply

_METHOD = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")


@dataclass(frozen=True)
class TelegramCall:
    """One Bot API method call the desk made, with its parameters decoded."""

    method: str
    params: dict[str, Any]

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """The inline keyboard rows of a sendMessage, or [] when there is none."""
        markup = self.params.get("reply_markup") or {}
        return list(markup.get("inline_keyboard", []))


class FakeTelegram(FakeHTTPService):
    """Serves ``/bot<token>/<method>`` like api.telegram.org.

    Bot API clients send form-encoded fields whose complex values are JSON
    (python-telegram-bot does), or a JSON body; both are accepted. A wrong
    token gets 401 as Telegram answers. ``calls`` records every successful
    call; ``sent_messages`` / ``callback_answers`` filter them.
    """

    def __init__(self, token: str | None = None, bot_username: str = "aduan_test_bot") -> None:
        super().__init__()
        self.token = token
        self.bot_username = bot_username
        self.calls: list[TelegramCall] = []
        self.webhook: dict[str, Any] | None = None
        self._next_message_id = 1000
        # Chats whose borrower blocked the bot: Telegram answers 403 Forbidden to every send.
        self.blocked_chats: set[int] = set()

    def block(self, chat_id: int | str) -> None:
        """The borrower of ``chat_id`` blocks the bot: sends to it get 403 like Telegram's."""
        with self._lock:
            self.blocked_chats.add(int(chat_id))

    @property
    def api_base(self) -> str:
        """The value for ``Bot(base_url=...)`` (token appended by the client)."""
        return self.base_url + "/bot"

    @property
    def sent_messages(self) -> list[TelegramCall]:
        return [c for c in self.calls if c.method == "sendMessage"]

    @property
    def callback_answers(self) -> list[TelegramCall]:
        return [c for c in self.calls if c.method == "answerCallbackQuery"]

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[TelegramCall]:
        """Block until ``count`` calls of ``method`` arrived; return them."""

        def matching() -> list[TelegramCall]:
            return [c for c in self.calls if c.method == method]

        if not self.wait_for(lambda: len(matching()) >= count, timeout):
            raise AssertionError(f"expected {count} {method} calls, got {len(matching())}")
        return matching()

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> Reply:
        match = _METHOD.match(path)
        if not match:
            return _error(404, "Not Found")
        if self.token is not None and match["token"] != self.token:
            return _error(401, "Unauthorized")
        params = _decode(headers.get("content-type", ""), body, query)
        name = match["method"]
        handler = getattr(self, f"_api_{name}", None)
        if handler is None:
            return _error(404, "Not Found")
        result = handler(params)
        if isinstance(result, Reply):
            return result
        self.calls.append(TelegramCall(name, params))
        return Reply.json(200, {"ok": True, "result": result})

    def failure_reply(self, status: int) -> Reply:
        if status == 429 and self.retry_after is not None:
            # Telegram's flood control: the wait is in the body, python-telegram-bot raises RetryAfter.
            return Reply.json(429, {"ok": False, "error_code": 429,
                                    "description": f"Too Many Requests: retry after {self.retry_after}",
                                    "parameters": {"retry_after": self.retry_after}})
        return _error(status, "Internal Server Error" if status >= 500 else "Too Many Requests")

    def _reset_state(self) -> None:
        self.calls.clear()
        self.webhook = None
        self.blocked_chats.clear()

    # -- Bot API methods -------------------------------------------------
    def _api_getMe(self, params: dict[str, Any]) -> Any:  # noqa: N802 - Bot API names
        return {"id": 123456, "is_bot": True, "first_name": "Aduan", "username": self.bot_username,
                "can_join_groups": False, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _api_sendMessage(self, params: dict[str, Any]) -> Any:  # noqa: N802
        if "chat_id" not in params or not str(params.get("text", "")):
            return _error(400, "Bad Request: message text is empty")
        if int(params["chat_id"]) in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": self._next_message_id, "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": self._api_getMe({}), "text": str(params["text"]),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:  # noqa: N802
        if not params.get("callback_query_id"):
            return _error(400, "Bad Request: query is too old and response timeout expired")
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        if not str(params.get("url", "")).startswith("https://"):
            # Telegram only calls HTTPS webhooks; the fake says so like the real API.
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = dict(params)
        return True

    def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        self.webhook = None
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:  # noqa: N802
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": 0}


def _decode(content_type: str, body: bytes, query: dict[str, list[str]]) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[0] for k, v in query.items()}
    if content_type.startswith("application/json") and body:
        params.update(json.loads(body))
        return params
    if body:
        for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items():
            params[key] = _maybe_json(values[0])
    return params


def _maybe_json(value: str) -> Any:
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _error(status: int, description: str) -> Reply:
    return Reply.json(status, {"ok": False, "error_code": status, "description": description})
