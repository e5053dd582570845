"""The bot client: talks to Rasa's custom ``desk`` channel over HTTP, on one or several replicas.

One keep-alive connection pool (``desk.http_pool``) per Rasa server lives for
the whole process; it is on the hot path of every bot-mode message, so no
per-message client, no per-message TCP/TLS handshake, and as little CPU per
request as we could get.

Several Rasa servers (``RASA_URLS``): each conversation has a home replica on
a consistent-hash ring (``desk.replicas``). When the home replica cannot be
reached (connection refused or reset before any answer) it is taken out for a
cooldown and the same message goes to the next replica on the ring at once;
that replica reads the conversation's tracker, slots included, from the
tracker store all replicas share (bot/endpoints.redis.yml). A replica that
times out is taken out too, but its message is not sent again (it may have
been handled): it gets the desk's holding reply like any timeout. After the
cooldown a health check (``GET /``) decides whether the replica is taken back.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from desk.http_pool import HttpError, HttpPool
from desk.messages import Button, OutboundMessage
from desk.replicas import Ring

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
    """Sends one borrower message to Rasa and returns its replies as ``OutboundMessage``s.

    ``base_url``: one Rasa server, or a list of replicas sharing their tracker and lock stores.
    """

    def __init__(self, base_url: str | Sequence[str], *, timeout_seconds: float = 10.0,
                 max_connections: int = 200, cooldown_seconds: float = 5.0) -> None:
        self.ring = Ring([base_url] if isinstance(base_url, str) else list(base_url), cooldown=cooldown_seconds)
        self.base_url = self.ring.urls[0]
        self.timeout_seconds = timeout_seconds
        self._pools = {url: HttpPool(url, max_connections=max_connections, connect_timeout=min(timeout_seconds, 3.0))
                       for url in self.ring.urls}

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
                status, payload = await self._post(sender, body)
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

    async def _post(self, sender: str, body: bytes) -> tuple[int, bytes]:
        """POST to the conversation's replica; on a connection failure, to the next one on the ring."""
        if len(self.ring.urls) == 1:  # one server: nothing to fail over to, no circuit
            return await self._pools[self.base_url].request("POST", WEBHOOK_PATH, body)
        failure: Exception | None = None
        for url, check in self.ring.candidates(sender):
            if check and not await self._healthy(url):
                continue
            started = time.monotonic()
            try:
                return await self._pools[url].request("POST", WEBHOOK_PATH, body)
            except (OSError, HttpError) as exc:
                # Nothing was answered: Rasa did not handle the message, so the next replica may.
                self._take_out(url, f"{type(exc).__name__}: {exc}")
                failure = exc
            except asyncio.CancelledError:
                if time.monotonic() - started >= 0.9 * self.timeout_seconds:
                    self._take_out(url, f"no answer within {self.timeout_seconds}s")
                raise
        raise failure or HttpError("no Rasa replica answers its health check")

    def _take_out(self, url: str, why: str) -> None:
        self.ring.mark_down(url, why)
        log.warning("rasa replica %s taken out for %.0f s, its conversations go to the next replica: %s",
                    url, self.ring.cooldown, why)

    async def _healthy(self, url: str) -> bool:
        """One health check of a replica that was taken out; it is taken back when it answers."""
        if await self._ping(url):
            self.ring.mark_up(url)
            log.info("rasa replica %s answers again; taken back", url)
            return True
        self.ring.mark_down(url, "health check failed")
        return False

    async def _ping(self, url: str) -> bool:
        try:
            async with asyncio.timeout(2.0):
                status, _ = await self._pools[url].request("GET", "/")
        except (TimeoutError, OSError, HttpError):
            return False
        return status < 500

    async def ping(self) -> bool:
        """True if a Rasa replica answers on its root URL (used by readiness, never on the hot path)."""
        return any([await self._ping(url) for url in self.ring.urls])

    async def replicas(self) -> dict[str, str]:
        """Each replica's state for readiness: ``ok``, ``unreachable``, or ``taken out`` (circuit open)."""
        states = {}
        for url in self.ring.urls:
            if url not in self.ring.up():
                states[url] = "taken out"
            else:
                states[url] = "ok" if await self._ping(url) else "unreachable"
        return states

    async def aclose(self) -> None:
        """Close the idle connections."""
        for pool in self._pools.values():
            await pool.aclose()


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
