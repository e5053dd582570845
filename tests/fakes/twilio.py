"""A fake of the Twilio Messages REST API (the part the desk uses)."""
from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http import FakeHTTPService, Reply

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")


@dataclass(frozen=True)
class TwilioMessage:
    """A message the desk asked Twilio to send."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    media_url: tuple[str, ...] = ()


class FakeTwilio(FakeHTTPService):
    """Accepts ``POST /2010-04-01/Accounts/<sid>/Messages.json`` with HTTP basic auth.

    ``messages`` holds every accepted message, in order. Requests without basic
    auth get 401 as Twilio answers; ``fail_next(n)`` makes the next n fail with 500.
    """

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[TwilioMessage] = []

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[TwilioMessage]:
        """Block until at least ``count`` messages arrived; return them."""
        if not self.wait_for(lambda: len(self.messages) >= count, timeout):
            raise AssertionError(f"expected {count} Twilio messages, got {len(self.messages)}")
        return list(self.messages)

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> Reply:
        match = _MESSAGES.match(path)
        if method != "POST" or not match:
            return _error(404, 20404, "The requested resource was not found")
        account = _basic_auth_user(headers.get("authorization", ""))
        if account != match["sid"]:
            return _error(401, 20003, "Authenticate")
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        to, from_ = _first(form, "To"), _first(form, "From")
        if not to or not from_:
            return _error(400, 21604, "A 'To' and 'From' phone number is required.")
        if not _first(form, "Body") and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        message = TwilioMessage(
            sid="SM" + uuid.uuid4().hex, account_sid=account, to=to, from_=from_,
            body=_first(form, "Body"), media_url=tuple(form.get("MediaUrl", ())),
        )
        self.messages.append(message)
        return Reply.json(201, _resource(message))

    def failure_reply(self, status: int) -> Reply:
        if status == 429:
            reply = _error(429, 20429, "Too Many Requests")
            if self.retry_after is not None:
                reply.headers["Retry-After"] = str(self.retry_after)
            return reply
        return _error(status, 20500, "Internal Server Error")

    def _reset_state(self) -> None:
        self.messages.clear()


def _first(form: dict[str, list[str]], key: str) -> str:
    return form.get(key, [""])[0]


def _basic_auth_user(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, _password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return user


def _error(status: int, code: int, message: str) -> Reply:
    return Reply.json(status, {"code": code, "message": message, "more_info": "", "status": status})


def _resource(m: TwilioMessage) -> dict[str, Any]:
    now = format_datetime(datetime.now(timezone.utc), usegmt=True)
    return {
        "sid": m.sid, "account_sid": m.account_sid, "to": m.to, "from": m.from_, "body": m.body,
        "status": "queued", "direction": "outbound-api", "num_media": str(len(m.media_url)),
        "num_segments": "1", "date_created": now, "date_updated": now, "date_sent": None,
        "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
        "api_version": "2010-04-01", "messaging_service_sid": None,
        "uri": f"/2010-04-01/Accounts/{m.account_sid}/Messages/{m.sid}.json", "subresource_uris": {},
    }
