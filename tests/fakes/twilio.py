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
_MEDIA = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages/(?P<msg>MM\w+)/Media/(?P<media>ME\w+)$")
_MEDIA_CONTENT = re.compile(r"^/media-content/(?P<token>\w+)$")


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

    def __init__(self, auth_token: str | None = None) -> None:
        super().__init__()
        self.messages: list[TwilioMessage] = []
        # Media of inbound messages: (account, media sid) -> (bytes, content type).
        self.media: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._media_tokens: dict[str, tuple[str, str]] = {}
        # When set, basic auth must carry this password too (media authentication on).
        self.auth_token = auth_token

    def add_media(self, account_sid: str, data: bytes, content_type: str) -> str:
        """Hold a medium as Twilio does for an inbound message; return its ``MediaUrl``.

        Fetching it needs HTTP basic auth with the account SID (and auth token,
        when the fake has one): without it Twilio answers 401. With it Twilio
        redirects (307) to a short-lived content URL that needs no credentials.
        """
        message_sid, media_sid = "MM" + uuid.uuid4().hex, "ME" + uuid.uuid4().hex
        with self._lock:
            self.media[(account_sid, media_sid)] = (data, content_type)
        return f"{self.base_url}/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[TwilioMessage]:
        """Block until at least ``count`` messages arrived; return them."""
        if not self.wait_for(lambda: len(self.messages) >= count, timeout):
            raise AssertionError(f"expected {count} Twilio messages, got {len(self.messages)}")
        return list(self.messages)

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> Reply:
        if method == "GET" and (media := _MEDIA.match(path)):
            return self._media(media["sid"], media["media"], headers)
        if method == "GET" and (content := _MEDIA_CONTENT.match(path)):
            found = self.media.get(self._media_tokens.pop(content["token"], ("", "")))
            if found is None:
                return Reply(403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
            return Reply(200, found[0], found[1])
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

    def _media(self, account_sid: str, media_sid: str, headers: dict[str, str]) -> Reply:
        user, password = _basic_auth(headers.get("authorization", ""))
        if user != account_sid or (self.auth_token is not None and password != self.auth_token):
            return _error(401, 20003, "Authenticate")
        if (account_sid, media_sid) not in self.media:
            return _error(404, 20404, "The requested resource was not found")
        token = uuid.uuid4().hex
        self._media_tokens[token] = (account_sid, media_sid)
        return Reply(307, b"", "text/plain", {"Location": f"{self.base_url}/media-content/{token}"})

    def failure_reply(self, status: int) -> Reply:
        if status == 429:
            reply = _error(429, 20429, "Too Many Requests")
            if self.retry_after is not None:
                reply.headers["Retry-After"] = str(self.retry_after)
            return reply
        return _error(status, 20500, "Internal Server Error")

    def _reset_state(self) -> None:
        self.messages.clear()
        self.media.clear()
        self._media_tokens.clear()


def _first(form: dict[str, list[str]], key: str) -> str:
    return form.get(key, [""])[0]


def _basic_auth(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None, None
    return user, password


def _basic_auth_user(header: str) -> str | None:
    return _basic_auth(header)[0]


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
