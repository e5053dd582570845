"""A fake of the Telegram Bot API (the methods the desk uses)."""
from __future__ import annotations

import email.policy
import json
import re
import time
import uuid
from email.parser import BytesParser
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.fakes.http import FakeHTTPService, Reply

_METHOD = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")
_FILE = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
# Bots may download files of at most 20 MB; getFile refuses bigger ones.
DOWNLOAD_LIMIT = 20 * 1024 * 1024


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
        # file_id -> (file_path, bytes, announced size)
        self.files: dict[str, tuple[str, bytes, int]] = {}
        # Chats whose borrower blocked the bot: Telegram answers 403 Forbidden to every send.
        self.blocked_chats: set[int] = set()

    def add_file(self, data: bytes, *, size: int | None = None, suffix: str = "jpg") -> str:
        """Hold a file a user sent; return its ``file_id``. ``size`` announces a bigger file than
        ``data`` (to try the 20 MB limit without 20 MB in memory)."""
        file_id = "AgAC" + uuid.uuid4().hex
        path = f"photos/file_{len(self.files)}.{suffix}"
        with self._lock:
            self.files[file_id] = (path, data, size if size is not None else len(data))
        return file_id

    @property
    def sent_files(self) -> list[TelegramCall]:
        return [c for c in self.calls if c.method in ("sendPhoto", "sendDocument")]

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
        download = _FILE.match(path)
        if method == "GET" and download:
            # Clients percent-encode the token's colon in file URLs; Telegram accepts both forms.
            if self.token is not None and unquote(download["token"]) != self.token:
                return _error(401, "Unauthorized")
            for file_path, data, _size in self.files.values():
                if file_path == download["path"]:
                    return Reply(200, data, "application/octet-stream")
            return _error(404, "Not Found")
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
        self.files.clear()
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

    def _api_getFile(self, params: dict[str, Any]) -> Any:  # noqa: N802
        found = self.files.get(str(params.get("file_id", "")))
        if found is None:
            return _error(400, "Bad Request: invalid file_id")
        file_path, _data, size = found
        if size > DOWNLOAD_LIMIT:
            return _error(400, "Bad Request: file is too big")
        return {"file_id": params["file_id"], "file_unique_id": "u" + str(params["file_id"])[-8:],
                "file_size": size, "file_path": file_path}

    def _sent_media(self, params: dict[str, Any], field: str) -> Any:
        if "chat_id" in params and int(params["chat_id"]) in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        if "chat_id" not in params or not isinstance(params.get(field), bytes | str) or not params.get(field):
            return _error(400, f"Bad Request: there is no {field} in the request")
        self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": self._next_message_id, "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"}, "from": self._api_getMe({}),
        }
        if params.get("caption"):
            message["caption"] = str(params["caption"])
        if field == "photo":
            message["photo"] = [{"file_id": "AgAC" + uuid.uuid4().hex, "file_unique_id": "p1", "width": 1,
                                 "height": 1}]
        else:
            message["document"] = {"file_id": "BQAC" + uuid.uuid4().hex, "file_unique_id": "d1",
                                   "file_name": str(params.get("document_filename", "file"))}
        return message

    def _api_sendPhoto(self, params: dict[str, Any]) -> Any:  # noqa: N802
        return self._sent_media(params, "photo")

    def _api_sendDocument(self, params: dict[str, Any]) -> Any:  # noqa: N802
        return self._sent_media(params, "document")

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
    if content_type.startswith("multipart/form-data") and body:
        # File uploads (sendPhoto, sendDocument): files stay bytes, other fields decode like forms.
        message = BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                params[str(name)] = payload
                params[f"{name}_filename"] = part.get_filename()
            else:
                params[str(name)] = _maybe_json(payload.decode("utf-8"))
        return params
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
