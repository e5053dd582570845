"""WhatsApp through Twilio: verify and parse the inbound webhook, render and send replies.

Inbound: Twilio posts a form to ``POST /webhooks/whatsapp`` signed with
``X-Twilio-Signature`` (HMAC-SHA1 over the public URL and the form, keyed by
``TWILIO_AUTH_TOKEN``). We verify it with the SDK's ``RequestValidator``
against ``PUBLIC_BASE_URL`` + path, hand the message to the router, and answer
empty TwiML: replies leave later through the outbox and the REST API.

Outbound: ``TwilioSender`` calls ``messages.create`` on the real SDK with its
async HTTP client; ``TWILIO_API_BASE`` redirects it to a local fake in tests.
Outside the 24-hour window the outbox hands it a message to send as its
approved template (``ContentSid``/``ContentVariables``); every send names
``StatusCallback`` (``PUBLIC_BASE_URL/webhooks/whatsapp/status``), where
Twilio reports queued/sent/delivered/read/failed (``status_callback``).
"""
from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, text
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from desk.sender import ProviderError
from connectors.dispatch import route_inbound
from connectors.textsplit import split_text
from connectors.rejections import Rejected, check_body_size, check_text_length, reject
from desk.config import Settings
from desk.delivery import Recorded, StatusReport, record_status
from desk.messages import Channel, InboundMessage, MediaRef, OutboundMessage
from desk.phone import InvalidPhone, normalise_phone
from desk.router import conversation_topic
from desk.services import core_services
from storage.models import DeliveryStatus

log = logging.getLogger("aduan.channels")

PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"
_STATUSES = frozenset(s.value for s in DeliveryStatus)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# WhatsApp allows 16 media per message; Twilio numbers them MediaUrl0..N-1.
MAX_MEDIA = 16
# Twilio refuses WhatsApp bodies over 1600 characters (error 21617); longer replies go in pieces.
MAX_BODY_CHARS = 1600

bp = Blueprint("whatsapp")


# -- inbound -------------------------------------------------------------
def signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the public address, not the one the proxy forwarded to us."""
    url = settings.public_base_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string
    return url


def verify_signature(settings: Settings, url: str, form: dict[str, str], signature: str | None) -> None:
    """Raise ``Rejected(403)`` unless ``signature`` is Twilio's for ``url`` and ``form``."""
    if not signature:
        raise Rejected(403, "signature_missing", "X-Twilio-Signature header is required")
    if not RequestValidator(settings.twilio_auth_token).validate(url, form, signature):
        raise Rejected(403, "signature_invalid", "X-Twilio-Signature does not match")


def whatsapp_address(raw: str) -> str:
    """``whatsapp:+62812…`` → ``+62812…`` (Indonesian numbers normalised, others kept E.164)."""
    number = raw.strip()
    if number.lower().startswith("whatsapp:"):
        number = number[len("whatsapp:"):]
    try:
        return normalise_phone(number)
    except InvalidPhone:
        digits = "".join(ch for ch in number if ch.isdigit())
        if not digits:
            raise
        return "+" + digits


def parse_form(form: dict[str, str], *, max_chars: int) -> InboundMessage:
    """Turn Twilio's webhook form into an ``InboundMessage``; ``Rejected(400/413)`` when it can't."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    sender = form.get("From", "")
    if not sid or not sender:
        raise Rejected(400, "malformed", "MessageSid and From are required")
    if not sender.lower().startswith("whatsapp:"):
        raise Rejected(400, "malformed", "From must be a whatsapp: address")
    try:
        address = whatsapp_address(sender)
    except InvalidPhone:
        raise Rejected(400, "malformed", "From is not a phone number") from None
    body = form.get("Body", "")
    check_text_length(body, max_chars)
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        raise Rejected(400, "malformed", "NumMedia must be a number") from None
    if not 0 <= num_media <= MAX_MEDIA:
        raise Rejected(400, "malformed", "NumMedia out of range")
    media: list[MediaRef] = []
    for i in range(num_media):
        url = form.get(f"MediaUrl{i}")
        if not url:
            raise Rejected(400, "malformed", f"MediaUrl{i} is missing")
        media.append(MediaRef(url=url, content_type=form.get(f"MediaContentType{i}") or None))
    extra = {k: form[k] for k in ("WaId", "ButtonText") if form.get(k)}
    if form.get("Latitude") and form.get("Longitude"):
        # A shared location has no Body and no media; a geo: URI keeps it in the stored references.
        media.append(MediaRef(url=f"geo:{form['Latitude']},{form['Longitude']}", content_type=None))
    return InboundMessage(
        channel=Channel.WHATSAPP,
        sender=address,
        external_id=sid,
        text=body,
        received_at=datetime.now(timezone.utc),
        sender_name=form.get("ProfileName") or None,
        media=tuple(media),
        # Quick-reply buttons of approved templates come back with their payload.
        button_payload=form.get("ButtonPayload") or None,
        extra=extra,
    )


@bp.post(PATH)
async def whatsapp_webhook(request: Request) -> HTTPResponse:
    """Twilio's incoming-message webhook: verify, parse, route, answer empty TwiML."""
    services = core_services(request.app)
    settings: Settings = services.settings
    try:
        check_body_size(request)
        if request.content_type.split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise Rejected(400, "malformed", "expected an application/x-www-form-urlencoded body")
        # Twilio signs every field, empty ones too (an image without caption has Body="").
        form = {key: values[0] for key, values in request.get_form(keep_blank_values=True).items()}
        verify_signature(settings, signed_url(settings, request), form,
                         request.headers.get("x-twilio-signature"))
        inbound = parse_form(form, max_chars=settings.max_message_chars)
        await route_inbound(services, inbound)
    except Rejected as exc:
        return reject(request, Channel.WHATSAPP.value, exc, who=_who(request))
    return text(EMPTY_TWIML, content_type="text/xml")


def status_callback_url(settings: Settings) -> str:
    """Where Twilio reports a sent message's status: the public address of ``STATUS_PATH``."""
    return settings.public_base_url.rstrip("/") + STATUS_PATH


def parse_status(form: dict[str, str]) -> StatusReport:
    """Twilio's status-callback form → ``StatusReport``; ``Rejected(400)`` when it is not one."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or not status:
        raise Rejected(400, "malformed", "MessageSid and MessageStatus are required")
    if status not in _STATUSES:
        # accepted/scheduled/sending/receiving/… are not reported to the desk; anything else is an error.
        if status in ("accepted", "scheduled", "sending", "canceled", "partially_delivered"):
            status = DeliveryStatus.QUEUED.value if status != "canceled" else DeliveryStatus.FAILED.value
        else:
            raise Rejected(400, "malformed", "MessageStatus is not a message status")
    code = (form.get("ErrorCode") or "").strip() or None
    if code is not None and not code.isdigit():
        raise Rejected(400, "malformed", "ErrorCode must be a number")
    return StatusReport(provider_message_id=sid, status=status, error_code=code)


@bp.post(STATUS_PATH)
async def whatsapp_status(request: Request) -> HTTPResponse:
    """Twilio's ``StatusCallback``: verify, record the status on the outbox item, resend a 63016 as template.

    A report for a message the desk does not know (yet) is answered 200 and
    logged: Twilio does not redeliver callbacks, and nothing of the borrower's is in it.
    """
    services = core_services(request.app)
    settings: Settings = services.settings
    try:
        check_body_size(request)
        if request.content_type.split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise Rejected(400, "malformed", "expected an application/x-www-form-urlencoded body")
        form = {key: values[0] for key, values in request.get_form(keep_blank_values=True).items()}
        verify_signature(settings, signed_url(settings, request), form,
                         request.headers.get("x-twilio-signature"))
        report = parse_status(form)
    except Rejected as exc:
        return reject(request, Channel.WHATSAPP.value, exc, who=_who(request))
    async with services.db.transaction() as session:
        outcome = await record_status(session, report)
    if outcome.recorded is Recorded.RESENT and services.outbox is not None:
        services.outbox.nudge()
    if outcome.recorded is Recorded.UNKNOWN:
        log.info("whatsapp status %s for an unknown message %s", report.status, report.provider_message_id)
    elif outcome.recorded is not Recorded.UNCHANGED and outcome.conversation_public_id:
        # Open consoles refresh the message's ticks.
        await services.events.publish(conversation_topic(outcome.conversation_public_id),
                                      {"type": "delivery", "conversation_id": outcome.conversation_public_id})
    return text("", status=200)


def _who(request: Request) -> str:
    try:
        return request.form.get("From", "") or ""
    except Exception:  # noqa: BLE001 - unparseable body: nothing to name
        return ""


# -- outbound ------------------------------------------------------------
def render_text(message: OutboundMessage) -> str:
    """The WhatsApp text: buttons become a numbered list, in button order.

    The router maps a reply "1" to the first button's payload, so the order
    here is the contract.
    """
    if not message.buttons:
        return message.text
    lines = [message.text.rstrip(), "", "Balas dengan angka:"] if message.text.strip() else ["Balas dengan angka:"]
    lines += [f"{i}. {button.title}" for i, button in enumerate(message.buttons, start=1)]
    return "\n".join(lines)


# Twilio's exceptions drop the response headers; the client notes a 429's
# Retry-After here, per task, so the send that got it can pass the hint on.
_retry_after: contextvars.ContextVar[float | None] = contextvars.ContextVar("twilio_retry_after", default=None)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


class RedirectedAsyncHttpClient(AsyncTwilioHttpClient):
    """Twilio's async HTTP client, with every request's scheme and host swapped for ``api_base``.

    The SDK builds absolute URLs (``https://api.twilio.com/2010-04-01/…``); tests
    and staging point ``TWILIO_API_BASE`` at a fake that serves the same paths.
    """

    def __init__(self, api_base: str | None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._base = urlsplit(api_base) if api_base else None

    async def request(self, method: str, url: str, *args: object, **kwargs: object) -> TwilioResponse:
        if self._base is not None:
            parts = urlsplit(url)
            prefix = self._base.path.rstrip("/")
            url = urlunsplit((self._base.scheme, self._base.netloc, prefix + parts.path, parts.query, ""))
        response = await super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
        if response.status_code == 429:
            headers = response.headers or {}
            _retry_after.set(parse_retry_after(headers.get("Retry-After") or headers.get("retry-after")))
        return response


class TwilioSender:
    """Sends WhatsApp messages through Twilio's Messages API."""

    channel = Channel.WHATSAPP

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        self._settings = settings
        self._timeout = timeout
        self._client: Client | None = None
        self._http: RedirectedAsyncHttpClient | None = None
        self._lock = asyncio.Lock()

    async def _get_client(self) -> Client:
        # Built lazily inside the running loop: the aiohttp session belongs to it.
        async with self._lock:
            if self._client is None:
                self._http = RedirectedAsyncHttpClient(self._settings.twilio_api_base, timeout=self._timeout)
                self._client = Client(self._settings.twilio_account_sid, self._settings.twilio_auth_token,
                                      http_client=self._http)
            return self._client

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        """Send to ``recipient`` (+62…); return Twilio's SID of the (last) message.

        A reply over 1600 characters is sent as several messages; if a later piece
        fails, the outbox's retry sends the earlier pieces again (a duplicate, never a loss).
        """
        client = await self._get_client()
        to = recipient if recipient.startswith("whatsapp:") else "whatsapp:" + recipient
        callback = status_callback_url(self._settings)
        _retry_after.set(None)
        try:
            if message.as_template:
                # Outside the window: the approved template, filled, in one message.
                assert message.template is not None
                created = await client.messages.create_async(
                    from_=self._settings.twilio_whatsapp_from, to=to, status_callback=callback,
                    content_sid=message.template.content_sid,
                    content_variables=json.dumps(message.template.content_variables or {}, ensure_ascii=False))
            else:
                # The numbered list is at the end, so it stays whole in the last piece.
                for body in split_text(render_text(message), MAX_BODY_CHARS):
                    created = await client.messages.create_async(
                        from_=self._settings.twilio_whatsapp_from, to=to, body=body, status_callback=callback
                    )
        except (TwilioRestException, TwilioServiceException) as exc:
            retryable = exc.status >= 500 or exc.status == 429
            hint = _retry_after.get() if exc.status == 429 else None
            raise ProviderError(f"twilio answered {exc.status} (code {exc.code})", retryable=retryable,
                                retry_after=hint, code=None if retryable or exc.code is None else str(exc.code)
                                ) from exc
        except (OSError, asyncio.TimeoutError) as exc:  # aiohttp.ClientError is an OSError subclass
            raise ProviderError(f"twilio unreachable: {type(exc).__name__}", retryable=True) from exc
        except Exception as exc:  # noqa: BLE001 - unknown SDK/transport failure: try again later
            if type(exc).__module__.startswith("aiohttp"):
                raise ProviderError(f"twilio unreachable: {type(exc).__name__}", retryable=True) from exc
            raise
        return str(created.sid)

    async def close(self) -> None:
        """Close the HTTP session (app shutdown)."""
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None
