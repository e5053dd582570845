"""The bot client: talks to Rasa's custom ``desk`` channel over HTTP.

One keep-alive connection pool (``desk.http_pool``) lives for the whole
process; it is on the hot path of every bot-mode message, so no per-message
client, no per-message TCP/TLS handshake, and as little CPU per request as
we could get.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from desk.http_pool import HttpError, HttpPool
from desk.messages import Button, OutboundMessage

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/desk/webhook"

# A borrower message answered with more messages than this is a bot failure (a looping
# fallback floods the borrower); so is one answered with none (a silent bot).
MAX_REPLIES = 4


class BotUnavailable(Exception):
    """Rasa could not answer: connection refused, 5xx, timeout or a malformed answer."""


class BotFailed(Exception):
    """Rasa answered, but not acceptably: no message at all, or more than ``MAX_REPLIES``.

    The borrower gets the holding reply and people take over (reason ``bot_failed``).
    """


class BotClient:
    """Sends one borrower message to Rasa and returns its replies as ``OutboundMessage``s."""

    def __init__(self, base_url: str, *, timeout_seconds: float = 10.0, max_connections: int = 200) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._pool = HttpPool(self.base_url, max_connections=max_connections,
                              connect_timeout=min(timeout_seconds, 3.0))

    async def send(self, sender: str, text: str, metadata: Mapping[str, Any]) -> list[OutboundMessage]:
        """Send ``text`` as ``sender`` (the conversation's public id) and return Rasa's replies.

        Raises ``BotUnavailable`` on connection errors, timeouts, 4xx/5xx answers
        and bodies that are not a list of REST-channel messages; ``BotFailed``
        when the answer holds no message or more than ``MAX_REPLIES``.
        """
        body = json.dumps({"sender": sender, "message": text, "metadata": dict(metadata)},
                          ensure_ascii=False).encode()
        try:
            async with asyncio.timeout(self.timeout_seconds):
                status, payload = await self._pool.request("POST", WEBHOOK_PATH, body)
        except TimeoutError as exc:
            raise BotUnavailable(f"rasa timed out after {self.timeout_seconds}s") from exc
        except (OSError, HttpError) as exc:
            raise BotUnavailable(f"rasa unreachable: {type(exc).__name__}: {exc}") from exc
        if status >= 500:
            raise BotUnavailable(f"rasa answered {status}")
        if status >= 400:
            # A 4xx means we sent something Rasa refuses; the borrower still needs a person.
            raise BotUnavailable(f"rasa refused the message with {status}")
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise BotUnavailable("rasa answered with a body that is not JSON") from exc
        replies = parse_replies(data)
        check_reply_count(replies)
        return replies

    async def ping(self) -> bool:
        """True if Rasa answers on its root URL (used by readiness, never on the hot path)."""
        try:
            async with asyncio.timeout(2.0):
                status, _ = await self._pool.request("GET", "/")
        except (TimeoutError, OSError, HttpError):
            return False
        return status < 500

    async def aclose(self) -> None:
        """Close the idle connections."""
        await self._pool.aclose()


def check_reply_count(replies: list[OutboundMessage]) -> None:
    """The one rule of how many messages answer one borrower message: 1 to ``MAX_REPLIES``.

    A reply that only carries a handoff marker counts (it is the bot's answer).
    Raises ``BotFailed`` otherwise.
    """
    if not replies:
        raise BotFailed("rasa answered with no message")
    if len(replies) > MAX_REPLIES:
        raise BotFailed(f"rasa answered with {len(replies)} messages (at most {MAX_REPLIES})")


def parse_replies(data: Any) -> list[OutboundMessage]:
    """Turn the REST channel's answer (a list of dicts) into outbound messages.

    Images become a text link because not every channel renders them; a
    ``custom`` payload (handoff markers, rich in-app cards) is kept as is.
    """
    if not isinstance(data, list):
        raise BotUnavailable("rasa answered with something other than a list of messages")
    replies: list[OutboundMessage] = []
    for item in data:
        if not isinstance(item, dict):
            raise BotUnavailable("rasa answered with a malformed message")
        text = str(item.get("text") or "")
        image = item.get("image")
        if image:
            text = f"{text}\n{image}" if text else str(image)
        buttons = tuple(
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", b.get("title", ""))))
            for b in item.get("buttons") or []
            if isinstance(b, dict)
        )
        custom = item.get("custom")
        if custom is not None and not isinstance(custom, dict):
            custom = {"value": custom}
        if not text and not buttons and not custom:
            continue
        replies.append(OutboundMessage(text=text, buttons=buttons, custom=custom or None))
    return replies
