"""Borrowers writing on the three channels, and the providers' redelivery.

Each message carries a unique token (``#<run>-<n>#``) in its text, so the
harness finds it, and the fake Rasa's echo of it, in the database and at the
fake providers whatever key the desk stores it under.

Requests are signed as the real senders sign them: Twilio's
``X-Twilio-Signature`` (the SDK's ``RequestValidator``) over the public URL
and the form, Telegram's ``X-Telegram-Bot-Api-Secret-Token``, an HS256 JWT for
in-app. Like a real provider, a delivery that did not get a 2xx (a 5xx, a
dropped connection, a timeout) is sent again, unchanged: the same
``MessageSid``, the same ``update_id``, the same ``client_message_id``. A 4xx is
final (the desk refused the message). Redelivery is bounded in time and count.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import jwt
from twilio.request_validator import RequestValidator

from tests.channels.support import telegram_message_update
from tests.faults.stack import TWILIO_ACCOUNT_SID, TWILIO_FROM, Stack

WHATSAPP, TELEGRAM, INAPP = "whatsapp", "telegram", "inapp"
CHANNELS = (WHATSAPP, TELEGRAM, INAPP)

REDELIVER_SECONDS = 30.0
"""A delivery is retried for this long after its first attempt, then given up."""
REDELIVER_MAX_ATTEMPTS = 25
REQUEST_TIMEOUT_SECONDS = 20.0


def redelivery_delay(attempt: int) -> float:
    """Seconds before redelivery ``attempt + 1``: 0.5, 1, 2, then every 3 s."""
    return min(0.5 * 2 ** (attempt - 1), 3.0)


@dataclass(frozen=True)
class Borrower:
    """One borrower on one channel; ``address`` is the sender as the desk stores it."""

    scenario: str
    channel: str
    address: str


@dataclass
class Sent:
    """One message a borrower sent, and what its deliveries got back."""

    scenario: str
    channel: str
    address: str
    token: str
    text: str
    outcomes: list[str] = field(default_factory=list)
    """Per delivery attempt: the HTTP status, or the name of the transport error."""

    @property
    def acknowledged(self) -> bool:
        """The last delivery got a 2xx."""
        return bool(self.outcomes) and self.outcomes[-1].startswith("2")


class Borrowers:
    """Makes borrowers for one stack and sends their messages through its desk."""

    def __init__(self, stack: Stack, run_id: str) -> None:
        self.stack = stack
        self.run_id = run_id
        self.sent: list[Sent] = []
        self.borrowers: list[Borrower] = []
        self.in_flight = 0
        self._counter = itertools.count(1)
        self._update_ids = itertools.count(random.randint(10_000_000, 90_000_000))
        self._client = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS,
                                         limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- who ------------------------------------------------------------------------
    def make(self, scenario: str, per_channel: int) -> list[Borrower]:
        """``per_channel`` new borrowers on each channel, for ``scenario``."""
        made = []
        for channel in CHANNELS:
            for _ in range(per_channel):
                made.append(self.borrower(scenario, channel))
        return made

    def borrower(self, scenario: str, channel: str, address: str | None = None) -> Borrower:
        """A new borrower; in-app borrowers may be given their customer id."""
        n = next(self._counter)
        if address is None:
            address = {WHATSAPP: f"+62857{n:08d}", TELEGRAM: str(700_000_000 + n),
                       INAPP: f"cust-{self.run_id}-{n}"}[channel]
        made = Borrower(scenario, channel, address)
        self.borrowers.append(made)
        return made

    # -- what -----------------------------------------------------------------------
    async def send(self, who: Borrower, *, poison: bool = False, client_message_id: str | None = None) -> Sent:
        """Send one message (redelivered until a 2xx or a 4xx, within the bound); return its record."""
        token = f"#{self.run_id}-{next(self._counter)}#"
        if poison:
            # U+0000 at the start, inside and at the end; PostgreSQL refuses it in text columns.
            text = f"\x00halo min\x00 saya mau bayar {token} \x00"
        else:
            text = f"halo min, saya mau tanya tagihan {token}"
        record = Sent(who.scenario, who.channel, who.address, token, text)
        self.sent.append(record)
        request = self._request_for(who, text, client_message_id)
        await self._deliver(record, request)
        return record

    def _request_for(self, who: Borrower, text: str,
                     client_message_id: str | None) -> Callable[[], Awaitable[httpx.Response]]:
        """A function that posts this one delivery (the same every time it is called)."""
        s = self.stack.secrets
        base = self.stack.desk_url
        if who.channel == WHATSAPP:
            sid = "SM" + random.randbytes(16).hex()
            form = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Peminjam Uji", "SmsSid": sid,
                    "WaId": who.address.lstrip("+"), "SmsStatus": "received", "Body": text, "To": TWILIO_FROM,
                    "NumSegments": "1", "MessageSid": sid, "AccountSid": TWILIO_ACCOUNT_SID,
                    "From": "whatsapp:" + who.address, "ApiVersion": "2010-04-01"}
            url = base + "/webhooks/whatsapp"
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": RequestValidator(s.twilio_auth_token).compute_signature(url, form)}
            body = urlencode(form).encode()
        elif who.channel == TELEGRAM:
            url = base + "/webhooks/telegram"
            update = telegram_message_update(next(self._update_ids), int(who.address), text)
            headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": s.telegram_secret_token}
            body = json.dumps(update).encode()
        else:
            url = base + "/chat/api/messages"
            now = int(time.time())
            token = jwt.encode({"sub": who.address, "iat": now, "exp": now + 3600}, s.inapp_signing_secret,
                               algorithm="HS256")
            client_id = client_message_id or "m-" + random.randbytes(6).hex()
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            body = json.dumps({"text": text, "client_message_id": client_id}).encode()

        async def post() -> httpx.Response:
            return await self._client.post(url, content=body, headers=headers)

        return post

    async def _deliver(self, record: Sent, post: Callable[[], Awaitable[httpx.Response]]) -> None:
        deadline = time.monotonic() + REDELIVER_SECONDS
        for attempt in range(1, REDELIVER_MAX_ATTEMPTS + 1):
            self.in_flight += 1
            try:
                status = (await post()).status_code
                record.outcomes.append(str(status))
                if 200 <= status < 300 or (400 <= status < 500 and status not in (408, 429)):
                    return
            except httpx.HTTPError as exc:
                record.outcomes.append(type(exc).__name__)
            finally:
                self.in_flight -= 1
            delay = redelivery_delay(attempt)
            if time.monotonic() + delay > deadline:
                return
            await asyncio.sleep(delay)


async def converse(borrowers: Borrowers, who: list[Borrower], *, until: float, max_messages: int,
                   think: float, poison: bool = False) -> None:
    """Each borrower writes, waits for the delivery to end, thinks, writes again, until ``until``.

    Bounded twice: by the wall clock (``until``, a ``time.monotonic()`` value)
    and by ``max_messages`` per borrower.
    """
    async def one(b: Borrower) -> None:
        await asyncio.sleep(random.uniform(0, think))  # borrowers do not write in lockstep
        for _ in range(max_messages):
            if time.monotonic() >= until:
                return
            await borrowers.send(b, poison=poison)
            await asyncio.sleep(think * random.uniform(0.5, 1.5))

    await asyncio.gather(*(one(b) for b in who))
