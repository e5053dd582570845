"""Telegram through python-telegram-bot: verify and parse webhook updates, render and send replies.

Inbound: Telegram posts each ``Update`` as JSON to ``POST /webhooks/telegram``
with the secret we registered in ``X-Telegram-Bot-Api-Secret-Token``. Messages
and button presses (callback queries) become ``InboundMessage``s; the update
id is the dedup key, so Telegram's redeliveries are stored once.

Outbound: ``TelegramSender`` uses ``telegram.Bot`` (base URL from
``TELEGRAM_API_BASE``); buttons become an inline keyboard whose callback data
is the button payload.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import warnings
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty
from sqlalchemy import select
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.request import HTTPXRequest
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from attachments.files import FileStore
from attachments.models import FailureReason
from attachments.runtime import attachments_of
from attachments.worker import FetchFailed, Fetched
from desk.sender import ProviderError
from connectors.dispatch import channel_senders, route_inbound
from connectors.markup import to_telegram_html
from connectors.textsplit import split_text
from connectors.rejections import Rejected, check_body_size, check_text_length, reject
from desk import pii
from desk.config import Settings
from desk.masking import MaskingFilter
from desk.messages import Channel, InboundMessage, MediaRef, OutboundMessage
from desk.services import CoreServices, core_services
from storage.models import Message as StoredMessage
from storage.models import Conversation, OutboxItem

PATH = "/webhooks/telegram"
# Telegram limits callback_data to 64 bytes; longer payloads are sent as "#<index>"
# and resolved from the stored message the keyboard belongs to.
CALLBACK_DATA_LIMIT = 64
# Telegram's limit for one message's text; longer replies go in pieces, the keyboard on the last.
MAX_TEXT_CHARS = 4096
INDEX_PREFIX = "#"

log = logging.getLogger("aduan.channels")
log.addFilter(MaskingFilter())
bp = Blueprint("telegram")


# Telegram's Bot API lets a bot download files of at most 20 MB (getFile refuses bigger ones).
BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024
# Photo and document captions are limited to 1024 characters.
MAX_CAPTION_CHARS = 1024


def api_base_url(settings: Settings) -> str:
    """``Bot(base_url=...)`` from ``TELEGRAM_API_BASE`` (a server root or a full ``…/bot`` prefix)."""
    base = (settings.telegram_api_base or "https://api.telegram.org").rstrip("/")
    if base.endswith("/bot") or "{token}" in base:
        return base
    return base + "/bot"


def file_base_url(settings: Settings) -> str:
    """``Bot(base_file_url=...)``: the same server's ``/file/bot`` prefix (downloads after getFile)."""
    base = api_base_url(settings)
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base.replace("/bot", "/file/bot", 1)


# -- inbound -------------------------------------------------------------
def verify_secret(settings: Settings, header: str | None) -> None:
    """Raise ``Rejected(403)`` unless the header equals ``TELEGRAM_SECRET_TOKEN`` (constant time)."""
    if not header:
        raise Rejected(403, "secret_missing", "X-Telegram-Bot-Api-Secret-Token header is required")
    if not hmac.compare_digest(header.encode(), settings.telegram_secret_token.encode()):
        raise Rejected(403, "secret_invalid", "X-Telegram-Bot-Api-Secret-Token does not match")


def decode_update(body: bytes) -> dict[str, Any]:
    """The webhook body as a JSON object with an integer ``update_id``; ``Rejected(400)`` otherwise."""
    try:
        data = json.loads(body)
    except ValueError:
        raise Rejected(400, "malformed", "the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise Rejected(400, "malformed", "an Update object with an integer update_id is required")
    return data


def update_from_json(data: dict[str, Any]) -> Update:
    """python-telegram-bot's ``Update`` of a decoded body; ``Rejected(400)`` when it is not one."""
    try:
        return Update.de_json(data, None)
    except Exception:  # noqa: BLE001 - PTB raises assorted errors on wrong shapes
        raise Rejected(400, "malformed", "the body is not a valid Telegram Update") from None


def parse_update(body: bytes) -> Update:
    """Decode the webhook body into an ``Update``; ``Rejected(400)`` when it is not one."""
    return update_from_json(decode_update(body))


# The fields of a plain text message, what almost every borrower sends. ``Update.de_json`` costs
# about 220 µs of CPU per update, the largest part of this webhook's work (issue 17, item 3), so such
# an update is read straight from the JSON; anything else (buttons, media, locations, contacts,
# replies, forwards, edits, groups) goes through python-telegram-bot.
_PLAIN_TEXT_FIELDS = frozenset({"message_id", "date", "chat", "from", "text", "entities",
                                "link_preview_options"})


def plain_text_inbound(data: dict[str, Any], *, max_chars: int) -> InboundMessage | None:
    """The ``InboundMessage`` of an update that is one plain private text message, else None.

    Checks what python-telegram-bot would need of those fields (integer ids and
    date, a text, the sender's first name); an update that fails a check is
    left to it (it refuses or reads it as before). ``Rejected(413)`` for a text
    over ``max_chars``.
    """
    message = data.get("message")
    if len(data) != 2 or not isinstance(message, dict) or not message.keys() <= _PLAIN_TEXT_FIELDS:
        return None
    chat, user, text = message.get("chat"), message.get("from"), message.get("text")
    if not isinstance(text, str) or not isinstance(chat, dict) or chat.get("type") != "private":
        return None
    if not all(type(v) is int for v in (chat.get("id"), message.get("message_id"), message.get("date"))):
        return None
    name = None
    if user is not None:
        if not isinstance(user, dict) or not isinstance(user.get("first_name"), str) or type(user.get("id")) is not int:
            return None
        last = user.get("last_name")
        name = f"{user['first_name']} {last}" if isinstance(last, str) and last else user["first_name"]
    check_text_length(text, max_chars)
    return InboundMessage(channel=Channel.TELEGRAM, sender=str(chat["id"]), external_id=str(data["update_id"]),
                          text=text, received_at=datetime.now(timezone.utc), sender_name=name)


def _media_of(message: Message) -> tuple[MediaRef, ...]:
    """Media as references (``telegram-file:<file_id>``); the bytes stay at Telegram."""
    refs: list[MediaRef] = []
    if message.photo:
        refs.append(MediaRef(f"telegram-file:{message.photo[-1].file_id}", "image/jpeg"))
    for item, default_type in ((message.document, "application/octet-stream"), (message.voice, "audio/ogg"),
                               (message.audio, "audio/mpeg"), (message.video, "video/mp4"),
                               (message.video_note, "video/mp4"), (message.sticker, "image/webp")):
        if item is not None:
            refs.append(MediaRef(f"telegram-file:{item.file_id}", getattr(item, "mime_type", None) or default_type))
    # Locations and shared contacts are kept as URIs beside the media, so the store keeps them too.
    if message.location is not None:
        refs.append(MediaRef(f"geo:{message.location.latitude},{message.location.longitude}", None))
    if message.contact is not None:
        refs.append(MediaRef(f"tel:{message.contact.phone_number}", None))
    return tuple(refs)


def _button_title(query: CallbackQuery) -> str | None:
    markup = query.message.reply_markup if query.message is not None else None
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


def inbound_from_update(update: Update, *, max_chars: int) -> InboundMessage | None:
    """The ``InboundMessage`` an update carries, or None for updates the desk does not handle."""
    now = datetime.now(timezone.utc)
    if update.callback_query is not None:
        query = update.callback_query
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        data = query.data or ""
        extra: dict[str, Any] = {"callback_query_id": query.id}
        if query.message is not None:
            extra["telegram_message_id"] = query.message.message_id
        return InboundMessage(
            channel=Channel.TELEGRAM, sender=str(chat_id), external_id=str(update.update_id),
            text=_button_title(query) or data, received_at=now,
            sender_name=query.from_user.full_name if query.from_user else None,
            button_payload=data, extra=extra,
        )
    message = update.message
    if message is None:
        return None
    body = message.text or message.caption or ""
    check_text_length(body, max_chars)
    return InboundMessage(
        channel=Channel.TELEGRAM, sender=str(message.chat.id), external_id=str(update.update_id),
        text=body, received_at=now,
        sender_name=message.from_user.full_name if message.from_user else None,
        media=_media_of(message),
    )


async def resolve_indexed_payload(services: CoreServices, inbound: InboundMessage) -> InboundMessage:
    """Swap a ``#<index>`` callback for the payload of that button in the message it came from."""
    data = inbound.button_payload or ""
    message_id = inbound.extra.get("telegram_message_id")
    if not data.startswith(INDEX_PREFIX) or not data[1:].isdigit() or message_id is None:
        return inbound
    async with services.db.session() as session:
        payload = await session.scalar(
            select(StoredMessage.payload).join(OutboxItem, OutboxItem.message_id == StoredMessage.id)
            .join(Conversation, Conversation.id == OutboxItem.conversation_id).where(
                OutboxItem.channel == Channel.TELEGRAM.value,
                Conversation.sender_key == pii.sender_key(pii.keyring(), Channel.TELEGRAM.value, inbound.sender),
                OutboxItem.provider_message_id == str(message_id)))
    buttons = (payload or {}).get("buttons", [])
    index = int(data[1:])
    if index >= len(buttons):
        return inbound
    button = buttons[index]
    return replace(inbound, button_payload=button["payload"], text=button["title"])


@bp.post(PATH)
async def telegram_webhook(request: Request) -> HTTPResponse:
    """Telegram's webhook: verify the secret, parse the update, route it, answer 200."""
    services = core_services(request.app)
    settings: Settings = services.settings
    inbound: InboundMessage | None = None
    try:
        check_body_size(request)
        verify_secret(settings, request.headers.get("x-telegram-bot-api-secret-token"))
        data = decode_update(request.body)
        inbound = plain_text_inbound(data, max_chars=settings.max_message_chars)
        if inbound is None:
            update = update_from_json(data)
            inbound = inbound_from_update(update, max_chars=settings.max_message_chars)
        if inbound is None:
            # Telegram redelivers anything not answered 2xx; unhandled kinds are acknowledged.
            log.info("ignored telegram update %s: no message or callback query", data["update_id"])
            return empty(200)
        inbound = await resolve_indexed_payload(services, inbound)
        await route_inbound(services, inbound, attachments_of(request.app))
    except Rejected as exc:
        return reject(request, Channel.TELEGRAM.value, exc, who=inbound.sender if inbound else None)
    query_id = inbound.extra.get("callback_query_id")
    sender = channel_senders(request.app).get(Channel.TELEGRAM.value)
    if query_id and isinstance(sender, TelegramSender):
        # Stops the button's spinner; done after answering so a slow API can't delay the webhook.
        sender.answer_callback_soon(str(query_id))
    return empty(200)


# -- outbound ------------------------------------------------------------
def callback_data(payload: str, index: int) -> str:
    """The callback data for one button: its payload, or ``#<index>`` if over Telegram's limit."""
    if len(payload.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
        return payload
    return f"{INDEX_PREFIX}{index}"


def render_keyboard(message: OutboundMessage) -> InlineKeyboardMarkup | None:
    """One button per row, in button order, or None when there are no buttons."""
    if not message.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.title, callback_data=callback_data(b.payload, i))]
                                 for i, b in enumerate(message.buttons)])


def html_pieces(text: str, limit: int, cut_at: int | None = None) -> list[str]:
    """Neutral ``text`` cut into Telegram HTML pieces of at most ``limit`` characters.

    The text is cut before rendering (so no cut falls inside a tag or an
    entity); a piece that escaping made too long is cut again, in halves.
    """
    pieces: list[str] = []
    for piece in split_text(text, cut_at or limit):
        rendered = to_telegram_html(piece)
        if len(rendered) <= limit or len(piece) <= 1:
            pieces.append(rendered)
        else:
            pieces += html_pieces(piece, limit, max(1, len(piece) // 2))
    return pieces


def retry_after_seconds(exc: RetryAfter) -> float:
    """Telegram's flood-control wait in seconds (PTB gives an int or a timedelta, by its settings)."""
    with warnings.catch_warnings():  # PTB warns that the int form is deprecated; both are read
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Sends Telegram messages and answers callback queries through the Bot API."""

    channel = Channel.TELEGRAM

    def __init__(self, settings: Settings, *, pool_size: int = 32, files: FileStore | None = None) -> None:
        # PTB's default pool has one connection, which would send the outbox's batch one by one.
        self.bot = Bot(settings.telegram_bot_token, base_url=api_base_url(settings),
                       base_file_url=file_base_url(settings),
                       request=HTTPXRequest(connection_pool_size=pool_size, connect_timeout=5.0,
                                            read_timeout=10.0, pool_timeout=10.0))
        # Agents' files are uploaded from the attachment store (sendPhoto / sendDocument).
        self._files = files
        self._ready = False
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[bool]] = set()

    async def _ensure_ready(self) -> None:
        async with self._lock:
            if not self._ready:
                await self.bot.initialize()
                self._ready = True

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        """Send to chat ``recipient``; return Telegram's id of the (last) message, the one with the keyboard."""
        try:
            await self._ensure_ready()
            if message.files:
                return await self._send_files(int(recipient), message)
            pieces = html_pieces(message.text or "Silakan pilih:", MAX_TEXT_CHARS)
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                sent = await self.bot.send_message(chat_id=int(recipient), text=piece, parse_mode=ParseMode.HTML,
                                                   reply_markup=render_keyboard(message) if last else None)
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            raise ProviderError(f"telegram rate limit, retry after {wait:g}s", retryable=True,
                                retry_after=wait) from exc
        except Forbidden as exc:
            # The borrower blocked the bot (or deleted the chat): no retry helps; agents see it.
            raise ProviderError("telegram refused: Forbidden", retryable=False, code="Forbidden") from exc
        except (BadRequest, InvalidToken) as exc:  # before NetworkError: BadRequest subclasses it
            raise ProviderError(f"telegram refused: {type(exc).__name__}", retryable=False) from exc
        except NetworkError as exc:  # timeouts, 5xx, connection errors
            raise ProviderError(f"telegram unreachable: {type(exc).__name__}", retryable=True) from exc
        except TelegramError as exc:
            raise ProviderError(f"telegram error: {type(exc).__name__}", retryable=True) from exc
        return str(sent.message_id)

    async def _send_files(self, chat_id: int, message: OutboundMessage) -> str:
        """Each file as a photo (images) or a document (PDF); the text is the first one's caption,
        or goes before them as a message when it is too long for a caption."""
        if self._files is None:
            raise ProviderError("no file store configured for Telegram media", retryable=False)
        caption: str | None = None
        if message.text:
            pieces = html_pieces(message.text, MAX_CAPTION_CHARS)
            if len(pieces) == 1:
                caption = pieces[0]
            else:
                for piece in html_pieces(message.text, MAX_TEXT_CHARS):
                    await self.bot.send_message(chat_id=chat_id, text=piece, parse_mode=ParseMode.HTML)
        sent_id = ""
        for i, file in enumerate(message.files):
            data = await self._files.get(file.storage_key)
            extra: dict[str, Any] = {"caption": caption, "parse_mode": ParseMode.HTML} if i == 0 and caption else {}
            if file.image:
                sent = await self.bot.send_photo(chat_id=chat_id, photo=data, **extra)
            else:
                sent = await self.bot.send_document(chat_id=chat_id, document=data,
                                                    filename=file.filename or "dokumen.pdf", **extra)
            sent_id = str(sent.message_id)
        return sent_id

    async def answer_callback(self, callback_query_id: str) -> bool:
        """Answer a button press; failures are logged, never raised (the press is already stored)."""
        try:
            await self._ensure_ready()
            return bool(await self.bot.answer_callback_query(callback_query_id))
        except TelegramError as exc:
            log.warning("answerCallbackQuery failed: %s", type(exc).__name__)
            return False

    def answer_callback_soon(self, callback_query_id: str) -> None:
        """Answer in the background (the task is kept referenced until it finishes)."""
        task = asyncio.get_running_loop().create_task(self.answer_callback(callback_query_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        """Release the HTTP client (app shutdown), after pending callback answers."""
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
        if self._ready:
            await self.bot.shutdown()
            self._ready = False


# -- media ---------------------------------------------------------------
class TelegramMediaSource:
    """Fetches a ``telegram-file:<file_id>`` with getFile, then the file download URL.

    Telegram lets bots download files up to 20 MB; getFile answers
    "file is too big" above that, which becomes a clear ``too_large``.
    """

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._ready = False
        self._lock = asyncio.Lock()

    async def fetch(self, ref: str, *, max_bytes: int) -> Fetched:
        """getFile, check the announced size, download; ``FetchFailed`` on refusal."""
        file_id = ref.removeprefix("telegram-file:")
        try:
            async with self._lock:
                if not self._ready:
                    await self._bot.initialize()
                    self._ready = True
            file = await self._bot.get_file(file_id)
            size = file.file_size or 0
            if size > min(max_bytes, BOT_DOWNLOAD_LIMIT):
                raise FetchFailed(FailureReason.TOO_LARGE, f"{size} bytes, limit {min(max_bytes, BOT_DOWNLOAD_LIMIT)}")
            data = bytes(await file.download_as_bytearray())
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise FetchFailed(FailureReason.TOO_LARGE,
                                  "telegram refused: file is over the 20 MB bot download limit") from exc
            raise FetchFailed(FailureReason.NOT_FOUND, f"telegram refused getFile: {exc.message}") from exc
        except (Forbidden, InvalidToken) as exc:
            raise FetchFailed(FailureReason.PROVIDER_ERROR, f"telegram refused: {type(exc).__name__}") from exc
        except RetryAfter as exc:
            raise FetchFailed(FailureReason.PROVIDER_ERROR, "telegram rate limit", retryable=True) from exc
        except TelegramError as exc:  # NetworkError, TimedOut, 5xx
            raise FetchFailed(FailureReason.PROVIDER_ERROR, f"telegram unreachable: {type(exc).__name__}",
                              retryable=True) from exc
        if len(data) > max_bytes:
            raise FetchFailed(FailureReason.TOO_LARGE, f"{len(data)} bytes, limit {max_bytes}")
        return Fetched(data)
