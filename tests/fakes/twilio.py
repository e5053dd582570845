"""A fake of the Twilio Messages REST API (the part the desk uses), with WhatsApp's behaviour.

Like Twilio: a message is accepted (201, ``queued``) and its fate arrives
later at its ``StatusCallback`` URL, signed with ``X-Twilio-Signature``
(HMAC-SHA1 of the URL and the form, keyed by the auth token; computed with the
real SDK's ``RequestValidator``), in order: sent, delivered, read. With
``enforce_window=True`` a free-form message to a number that has not written
within 24 hours (``borrower_wrote``) is accepted as ``queued`` and then
reported ``failed`` with error 63016, as WhatsApp does; an approved template
(``ContentSid`` + ``ContentVariables``) goes through at any time.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

from tests.fakes.http import FakeHTTPService, Reply

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")
_MEDIA = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages/(?P<msg>MM\w+)/Media/(?P<media>ME\w+)$")
_MEDIA_CONTENT = re.compile(r"^/media-content/(?P<token>\w+)$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
WINDOW_SECONDS = 24 * 3600


@dataclass(frozen=True)
class TwilioMessage:
    """A message the desk asked Twilio to send."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    media_url: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    status_callback: str | None = None


@dataclass(frozen=True)
class StatusCallback:
    """One status report the fake posted to the desk, and the desk's answer."""

    sid: str
    status: str
    error_code: str | None
    answer: int


class FakeTwilio(FakeHTTPService):
    """Accepts ``POST /2010-04-01/Accounts/<sid>/Messages.json`` with HTTP basic auth.

    ``messages`` holds every accepted message, in order. Requests without basic
    auth get 401 as Twilio answers; ``fail_next(n)`` makes the next n fail with 500.

    Status callbacks are posted only when the fake knows the ``auth_token`` to
    sign them with; ``callbacks`` records each one and the desk's answer.
    ``read_receipts=False`` stops at ``delivered`` (a borrower who turned read
    receipts off). ``content``: the approved templates (SID → body); when set,
    another ``ContentSid`` is refused with 21655 as Twilio does.
    """

    def __init__(self, *, auth_token: str | None = None, enforce_window: bool = False,
                 content: dict[str, str] | None = None, read_receipts: bool = True,
                 callback_delay: float = 0.3) -> None:
        super().__init__()
        self.messages: list[TwilioMessage] = []
        # Media of inbound messages: (account, media sid) -> (bytes, content type).
        self.media: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._media_tokens: dict[str, tuple[str, str]] = {}
        self.callbacks: list[StatusCallback] = []
        self.auth_token = auth_token
        self.enforce_window = enforce_window
        self.content = content
        self.read_receipts = read_receipts
        self.callback_delay = callback_delay
        self._callback_threads: list[threading.Thread] = []
        # "whatsapp:+62…" → time.time() of the borrower's last message (the window's start).
        self.last_inbound: dict[str, float] = {}
        # The reverse proxy in front of the desk: callbacks are signed for the public
        # StatusCallback URL and posted here (same path), as a proxy would forward them.
        self.forward_callbacks_to: str | None = None

    def borrower_wrote(self, number: str, at: float | None = None) -> None:
        """The borrower at ``number`` (+62… or whatsapp:+62…) wrote at ``at`` (default now): opens the window."""
        key = number if number.startswith("whatsapp:") else "whatsapp:" + number
        with self._lock:
            self.last_inbound[key] = time.time() if at is None else at

    def window_open(self, to: str) -> bool:
        """True when free-form text to ``to`` would be delivered (always, unless ``enforce_window``)."""
        if not self.enforce_window:
            return True
        last = self.last_inbound.get(to)
        return last is not None and time.time() - last < WINDOW_SECONDS

    def wait_for_callbacks(self, count: int, timeout: float = 10.0) -> list[StatusCallback]:
        """Block until ``count`` status callbacks were posted (and answered); return them."""
        if not self.wait_for(lambda: len(self.callbacks) >= count, timeout):
            raise AssertionError(f"expected {count} status callbacks, got {self.callbacks}")
        return list(self.callbacks)

    def send_status(self, sid: str, status: str, error_code: str | None = None, *,
                    url: str | None = None, signature: str | None = None) -> int:
        """Post one status callback for message ``sid`` now, signed like Twilio (or with ``signature``);
        return the desk's HTTP status. ``url`` defaults to the message's ``StatusCallback``."""
        message = next(m for m in self.messages if m.sid == sid)
        target = url or message.status_callback
        assert target, "the message named no StatusCallback"
        params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
                  "AccountSid": message.account_sid, "From": message.from_, "To": message.to,
                  "ApiVersion": "2010-04-01", "ChannelPrefix": "whatsapp"}
        if error_code:
            params["ErrorCode"] = error_code
        assert self.auth_token or signature, "the fake needs the auth token to sign callbacks"
        sig = signature if signature is not None else RequestValidator(self.auth_token).compute_signature(target, params)
        posted = target
        if self.forward_callbacks_to:
            parts = urlsplit(target)
            posted = self.forward_callbacks_to.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        request = urllib.request.Request(posted, data=urlencode(params).encode(), method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig,
            "User-Agent": "TwilioProxy/1.1"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                code = answer.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except OSError:
            code = 0
        with self._changed:
            self.callbacks.append(StatusCallback(sid, status, error_code, code))
            self._changed.notify_all()
        return code

    async def send_status_async(self, sid: str, status: str, error_code: str | None = None, *,
                                url: str | None = None, signature: str | None = None) -> int:
        """``send_status`` from async tests, off the event loop (the desk may serve on that loop)."""
        import asyncio

        return await asyncio.to_thread(self.send_status, sid, status, error_code, url=url, signature=signature)

    def _report(self, message: TwilioMessage, free_form_outside_window: bool) -> None:
        """Post the message's fate in Twilio's order, from a background thread."""
        if free_form_outside_window:
            steps: list[tuple[str, str | None]] = [("failed", "63016")]
        else:
            steps = [("sent", None), ("delivered", None)] + ([("read", None)] if self.read_receipts else [])

        def run() -> None:
            for status, code in steps:
                time.sleep(self.callback_delay)
                if message not in self.messages:
                    return  # the test reset the fake: Twilio forgot the message
                self.send_status(message.sid, status, code)

        thread = threading.Thread(target=run, name="fake-twilio-callbacks", daemon=True)
        self._callback_threads.append(thread)
        thread.start()

    def drain_callbacks(self, timeout: float = 10.0) -> None:
        """Wait until every status callback already scheduled has been posted. The desk's test
        fixture calls it before stopping the desk: a callback arriving while the app shuts down
        would open a database connection after the app closed its pool."""
        deadline = time.monotonic() + timeout
        for thread in list(self._callback_threads):
            thread.join(max(0.0, deadline - time.monotonic()))

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
        content_sid = _first(form, "ContentSid") or None
        variables: dict[str, str] | None = None
        if content_sid is not None:
            if not _CONTENT_SID.match(content_sid) or (self.content is not None and content_sid not in self.content):
                return _error(400, 21655, "The ContentSid is Invalid")
            raw = _first(form, "ContentVariables")
            try:
                variables = json.loads(raw) if raw else {}
            except ValueError:
                variables = None
            if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
                return _error(400, 21656, "The ContentVariables Parameter is invalid")
            if any("\n" in v or "\t" in v or "     " in v for v in variables.values()):
                # WhatsApp refuses such parameters; Twilio reports it as a template parameter error.
                return _error(400, 63028, "Number of parameters provided does not match the expected number")
        elif not _first(form, "Body") and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        message = TwilioMessage(
            sid="SM" + uuid.uuid4().hex, account_sid=account, to=to, from_=from_,
            body=_first(form, "Body") if content_sid is None else (self.content or {}).get(content_sid, ""),
            media_url=tuple(form.get("MediaUrl", ())), content_sid=content_sid, content_variables=variables,
            status_callback=_first(form, "StatusCallback") or None,
        )
        self.messages.append(message)
        if message.status_callback and self.auth_token:
            self._report(message, free_form_outside_window=content_sid is None and not self.window_open(to))
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
        self.callbacks.clear()
        self.last_inbound.clear()


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
