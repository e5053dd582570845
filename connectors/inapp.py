"""In-app chat: a JSON API and a websocket for the lender's app (and the web-chat page).

* ``POST /chat/api/messages`` — ``{"text", "client_message_id", "button_payload"?}``;
  answers with the bot's replies to that message.
* ``GET /chat/api/messages?after=<id>`` — every message of the borrower's
  in-app conversation with a larger id (both directions), oldest first.
* ``/chat/ws`` — pushes later outbound messages (agent replies, late bot
  replies) as ``{"type": "message", "message": {...}}``.
* ``POST /chat/demo-token`` — demo mode only: a token for a sample borrower.

Every request carries ``Authorization: Bearer <JWT>`` (HS256 with
``INAPP_SIGNING_SECRET``; ``sub`` = the lender's customer id, ``exp``
required). The app vouches for the app user; the borrower counts as verified
(``customer_id`` on the message and the conversation) only when the lending
core knows that customer id (``lending.known.KnownCustomers``). An app user the
core does not know chats as an unverified borrower.

Delivery without duplicates: every message carries its database ``id``. The
websocket keeps a cursor and sends each outbound message with an id above it
exactly once; the client de-duplicates by id the replies it already got in the
POST answer (ids only grow, so ``after=<largest id seen>`` resumes cleanly).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

import jwt
import yaml
from sanic import Blueprint, Request, Sanic, Websocket
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.runtime import UploadRefused, attachments_of
from attachments.service import UPLOAD_PREFIX
from attachments.web import BodyTooLarge, read_upload
from desk.sender import ProviderError
from connectors.dispatch import route_inbound
from connectors.markup import to_plain
from connectors.rejections import Rejected, check_body_size, check_text_length, reject
from desk import pii
from desk.auth import error
from desk.config import REPO_ROOT, Settings
from desk.masking import MaskingFilter
from desk.messages import Channel, InboundMessage, MediaRef, OutboundMessage
from desk.store import MessageRecord
from desk.services import core_services
from lending.known import KnownCustomers
from storage.models import Conversation, Direction, Message

log = logging.getLogger("aduan.channels")
log.addFilter(MaskingFilter())
bp = Blueprint("inapp", url_prefix="/chat")

# The client's id is the delivery's external_id (Message.external_id, at most 128).
CLIENT_MESSAGE_ID_MAX = 63
PAGE_LIMIT = 200
DEMO_TOKEN_TTL_SECONDS = 12 * 3600
# A websocket client has this long to send {"type": "auth", "token": ...} when the
# token is not in the query string.
WS_AUTH_TIMEOUT_SECONDS = 10.0
WS_CLOSE_UNAUTHORIZED = 4401


def topic(customer_id: str) -> str:
    """The event-bus topic that tells a borrower's open websockets to look for new messages."""
    return f"inapp:{customer_id}"


# -- tokens --------------------------------------------------------------
def verify_token(settings: Settings, token: str | None) -> str:
    """The customer id (``sub``) of a valid token; ``Rejected(401)`` for missing, bad or expired."""
    if not token:
        raise Rejected(401, "token_missing", "an in-app bearer token is required")
    try:
        claims = jwt.decode(token, settings.inapp_signing_secret, algorithms=["HS256"],
                            options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Rejected(401, "token_expired", "the in-app token has expired") from None
    except jwt.InvalidTokenError:
        raise Rejected(401, "token_invalid", "the in-app token is not valid") from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 64:
        raise Rejected(401, "token_invalid", "the in-app token names no customer")
    return sub


def mint_token(settings: Settings, customer_id: str, *, ttl_seconds: int = DEMO_TOKEN_TTL_SECONDS) -> str:
    """An in-app token for ``customer_id`` (what the lender's app backend issues; the demo uses it)."""
    now = int(time.time())
    return jwt.encode({"sub": customer_id, "iat": now, "exp": now + ttl_seconds},
                      settings.inapp_signing_secret, algorithm="HS256")


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# -- message views -------------------------------------------------------
def message_view(message: Message | MessageRecord, link: Callable[[int], str] | None = None) -> dict[str, Any]:
    """The JSON a client sees for one stored message.

    ``link`` makes the signed, expiring URL of an agent's file (``files`` in the view).
    """
    payload = message.payload or {}
    # The borrower's own view: the text as written (a stored row may hold it masked, desk.pii.seal_text).
    text = message.clear_text() if isinstance(message, Message) else message.text
    return {
        "id": message.id,
        "direction": message.direction,
        "author": message.author,
        # Replies are stored in the neutral markup; the web chat shows text as text.
        "text": to_plain(text) if message.direction == Direction.OUTBOUND and text else text,
        "buttons": [{"title": b["title"], "payload": b["payload"]} for b in payload.get("buttons", [])],
        "media": payload.get("media", []),
        "files": [{"url": link(int(f["attachment_id"])) if link else None, "content_type": f.get("content_type"),
                   "filename": f.get("filename")} for f in payload.get("files", [])],
        "created_at": message.created_at.replace(tzinfo=message.created_at.tzinfo or timezone.utc).isoformat()
        if message.created_at else None,
    }


async def _conversation_id(session: AsyncSession, customer_id: str) -> int | None:
    return await session.scalar(select(Conversation.id).where(
        Conversation.channel == Channel.INAPP.value,
        Conversation.sender_key == pii.sender_key(pii.keyring(), Channel.INAPP.value, customer_id)))


async def messages_after(db: Any, customer_id: str, after: int, *, outbound_only: bool = False,
                         limit: int = PAGE_LIMIT, link: Callable[[int], str] | None = None) -> list[dict[str, Any]]:
    """The borrower's in-app messages with id > ``after``, oldest first."""
    async with db.session() as session:
        conversation_id = await _conversation_id(session, customer_id)
        if conversation_id is None:
            return []
        query = select(Message).where(Message.conversation_id == conversation_id, Message.id > after)
        if outbound_only:
            query = query.where(Message.direction == Direction.OUTBOUND.value)
        rows = (await session.scalars(query.order_by(Message.seq).limit(limit))).all()
    return [message_view(m, link) for m in rows]


# -- the API ------------------------------------------------------------
def parse_post(body: bytes, customer_id: str, *, max_chars: int, verified: bool = True) -> InboundMessage:
    """Validate a POST body into an ``InboundMessage``; ``Rejected(400/413)`` when it is not one.

    ``verified``: the lending core knows ``customer_id``; only then does the
    message carry it as the verified customer.
    """
    try:
        data = json.loads(body or b"")
    except ValueError:
        raise Rejected(400, "malformed", "the body must be JSON") from None
    if not isinstance(data, dict):
        raise Rejected(400, "malformed", "the body must be a JSON object")
    text, client_id, button = data.get("text", ""), data.get("client_message_id"), data.get("button_payload")
    if not isinstance(text, str) or (button is not None and not isinstance(button, str)):
        raise Rejected(400, "malformed", "text and button_payload must be strings")
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= CLIENT_MESSAGE_ID_MAX:
        raise Rejected(400, "malformed", f"client_message_id must be a string of 1–{CLIENT_MESSAGE_ID_MAX} characters")
    if not text.strip() and not button:
        raise Rejected(400, "malformed", "text must not be empty")
    check_text_length(text, max_chars)
    if button is not None:
        check_text_length(button, max_chars)
    return InboundMessage(
        channel=Channel.INAPP, sender=customer_id, customer_id=customer_id if verified else None,
        # Deduplicated within the borrower's conversation (the store's key is the conversation and
        # this id, two columns): one borrower's ids can never collide with another's.
        external_id=client_id,
        text=text or button or "", received_at=datetime.now(timezone.utc), button_payload=button or None,
    )


def install_known_customers(app: Sanic, known: KnownCustomers) -> None:
    """Make ``known`` what ``known_customers(app)`` returns (``connectors.wiring.install`` calls this)."""
    app.ctx.inapp_known_customers = known


def known_customers(app: Sanic) -> KnownCustomers:
    """The process's cached "does the lending core know this customer?" check."""
    known = getattr(app.ctx, "inapp_known_customers", None)
    if not isinstance(known, KnownCustomers):
        raise RuntimeError("the connectors part is not installed on this app")
    return known


@bp.post("/api/messages")
async def post_message(request: Request) -> HTTPResponse:
    """Take one borrower message; answer with the bot's replies to it."""
    services = core_services(request.app)
    settings: Settings = services.settings
    customer_id = None
    try:
        check_body_size(request)
        customer_id = verify_token(settings, bearer(request))
        inbound = parse_post(request.body, customer_id, max_chars=settings.max_message_chars,
                             verified=await known_customers(request.app)(customer_id))
        result = await route_inbound(services, inbound, attachments_of(request.app))
    except Rejected as exc:
        return reject(request, Channel.INAPP.value, exc, who=customer_id)
    # The router hands back the stored replies: the answer is what was committed, without a read,
    # and a retried send is answered as the first time (or resumed, when it never was).
    replies = [message_view(m) for m in result.reply_messages]
    return json_response({
        "message_id": result.message_id,
        "conversation_id": result.conversation_public_id,
        "duplicate": result.duplicate,
        "mode": result.mode,
        "replies": replies,
    })


@bp.post("/api/uploads", stream=True)
async def upload_file(request: Request) -> HTTPResponse:
    """Take one file (multipart: ``file``, ``client_message_id``, optional ``text``) as a borrower message.

    The file is checked (size, then JPEG/PNG/WebP/PDF by content) and stored
    before the message is routed; a refused file is answered 413/415 with the
    reason, so the app can tell the borrower. The message is answered like
    any other; the file appears in the console once the fetch job checked it.
    """
    services = core_services(request.app)
    settings: Settings = services.settings
    runtime = attachments_of(request.app)
    customer_id = None
    try:
        customer_id = verify_token(settings, bearer(request))
        try:
            await read_upload(request, runtime.settings.attachments_max_bytes)
        except BodyTooLarge:
            raise Rejected(413, "file_too_large",
                           f"files may be at most {runtime.settings.attachments_max_bytes} bytes") from None
        upload = request.files.get("file") if request.files else None
        form = request.form or {}
        client_id, text_value = form.get("client_message_id"), form.get("text") or ""
        if upload is None:
            raise Rejected(400, "malformed", "a multipart field named file is required")
        if not isinstance(client_id, str) or not 1 <= len(client_id) <= CLIENT_MESSAGE_ID_MAX:
            raise Rejected(400, "malformed",
                           f"client_message_id must be a string of 1–{CLIENT_MESSAGE_ID_MAX} characters")
        check_text_length(text_value, settings.max_message_chars)
        try:
            stored = await runtime.store_upload(bytes(upload.body))
        except UploadRefused as exc:
            raise Rejected(exc.status, exc.code, str(exc)) from None
        inbound = InboundMessage(
            channel=Channel.INAPP, sender=customer_id,
            customer_id=customer_id if await known_customers(request.app)(customer_id) else None,
            external_id=client_id, text=text_value, received_at=datetime.now(timezone.utc),
            media=(MediaRef(UPLOAD_PREFIX + stored.key, stored.content_type),),
        )
        result = await route_inbound(services, inbound, attachments_of(request.app))
    except Rejected as exc:
        return reject(request, Channel.INAPP.value, exc, who=customer_id)
    return json_response({
        "message_id": result.message_id, "conversation_id": result.conversation_public_id,
        "duplicate": result.duplicate, "mode": result.mode,
        "replies": [message_view(m) for m in result.reply_messages],
    })


@bp.get("/api/messages")
async def list_messages(request: Request) -> HTTPResponse:
    """Messages after ``?after=<id>`` (default 0), oldest first, at most ``limit`` (≤ 200)."""
    services = core_services(request.app)
    customer_id = None
    try:
        customer_id = verify_token(services.settings, bearer(request))
        try:
            after = int(request.args.get("after", "0"))
            limit = min(int(request.args.get("limit", str(PAGE_LIMIT))), PAGE_LIMIT)
        except ValueError:
            raise Rejected(400, "malformed", "after and limit must be integers") from None
        if after < 0 or limit < 1:
            raise Rejected(400, "malformed", "after must be ≥ 0 and limit ≥ 1")
    except Rejected as exc:
        return reject(request, Channel.INAPP.value, exc, who=customer_id)
    messages = await messages_after(services.db, customer_id, after, limit=limit,
                                    link=attachments_of(request.app).link)
    return json_response({"messages": messages})


# -- the websocket -------------------------------------------------------
async def _ws_customer(request: Request, ws: Websocket, settings: Settings) -> str:
    """Authenticate the socket: ``?token=`` or a first frame ``{"type": "auth", "token": ...}``."""
    token = request.args.get("token")
    if not token:
        try:
            frame = await asyncio.wait_for(ws.recv(), WS_AUTH_TIMEOUT_SECONDS)
            data = json.loads(frame or "")
            token = data.get("token") if isinstance(data, dict) and data.get("type") == "auth" else None
        except (asyncio.TimeoutError, ValueError):
            token = None
    return verify_token(settings, token)


@bp.on_request
async def _refuse_bad_socket_token(request: Request) -> HTTPResponse | None:
    # A token in the query string is checked before the websocket handshake, so a
    # bad one gets a plain 401; without one the socket must authenticate first thing.
    if request.path == "/chat/ws" and "token" in request.args:
        try:
            verify_token(core_services(request.app).settings, request.args.get("token"))
        except Rejected as exc:
            return reject(request, Channel.INAPP.value, exc)
    return None


@bp.websocket("/ws")
async def chat_socket(request: Request, ws: Websocket) -> None:
    """Push the borrower's new outbound messages; ``?after=<id>`` first replays what was missed."""
    services = core_services(request.app)
    try:
        customer_id = await _ws_customer(request, ws, services.settings)
        try:
            cursor = max(int(request.args.get("after", "0")), 0)
        except ValueError:
            raise Rejected(400, "malformed", "after must be an integer") from None
    except Rejected as exc:
        reject(request, Channel.INAPP.value, exc)
        await ws.close(code=WS_CLOSE_UNAUTHORIZED if exc.status == 401 else 4400, reason=exc.code)
        return
    await ws.send(json.dumps({"type": "ready", "customer_id": customer_id}))
    # Subscribe before reading the backlog, so nothing published in between is missed.
    async with services.events.subscribe(topic(customer_id)) as events:
        incoming = asyncio.ensure_future(ws.recv())
        poked = asyncio.ensure_future(anext(events))
        try:
            while True:
                while True:  # everything above the cursor, page by page
                    batch = await messages_after(services.db, customer_id, cursor, outbound_only=True,
                                                 link=attachments_of(request.app).link)
                    for view in batch:
                        await ws.send(json.dumps({"type": "message", "message": view}))
                        cursor = max(cursor, view["id"])
                    if len(batch) < PAGE_LIMIT:
                        break
                done, _ = await asyncio.wait({incoming, poked}, return_when=asyncio.FIRST_COMPLETED)
                if incoming in done:
                    if incoming.result() is None:  # the client went away
                        return
                    incoming = asyncio.ensure_future(ws.recv())  # client frames (pings) are ignored
                if poked in done:
                    poked = asyncio.ensure_future(anext(events))
        finally:
            incoming.cancel()
            poked.cancel()


class InAppSender:
    """Delivers in-app messages by waking the borrower's websockets; the store keeps the message.

    The outbox worker calls ``send`` after the message is committed, so an open
    socket reads it from the database, and a closed one fetches it later with
    ``GET /chat/api/messages?after=<id>``.
    """

    channel = Channel.INAPP

    def __init__(self, events: Any) -> None:
        self._events = events

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        """Publish to ``inapp:<recipient>``; return a delivery id (the message id is in the store)."""
        delivery = "inapp-" + uuid.uuid4().hex
        try:
            await self._events.publish(topic(recipient), {"type": "new_messages", "delivery": delivery})
        except Exception as exc:  # noqa: BLE001 - the bus is down: let the outbox retry the push
            raise ProviderError(f"event bus publish failed: {type(exc).__name__}", retryable=True) from exc
        return delivery


# -- demo tokens ----------------------------------------------------------
@bp.post("/demo-token")
async def demo_token(request: Request) -> HTTPResponse:
    """Demo mode only: mint a token for one of the sample borrowers."""
    services = core_services(request.app)
    settings: Settings = services.settings
    if not settings.demo_mode:
        return error(404, "not_found", "not found")
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return error(400, "malformed", "the body must be JSON")
    customer_id = data.get("customer_id") if isinstance(data, dict) else None
    borrowers = {b["customer_id"] for b in demo_borrowers()}
    if not isinstance(customer_id, str) or customer_id not in borrowers:
        return error(400, "unknown_customer", "pick one of the sample borrowers")
    return json_response({"token": mint_token(settings, customer_id), "customer_id": customer_id,
                          "expires_in": DEMO_TOKEN_TTL_SECONDS})


@bp.get("/demo-borrowers")
async def demo_borrower_list(request: Request) -> HTTPResponse:
    """Demo mode only: the sample borrowers the page offers (ids and first names, no loan data)."""
    services = core_services(request.app)
    if not services.settings.demo_mode:
        return error(404, "not_found", "not found")
    return json_response({"borrowers": demo_borrowers()})


def demo_borrowers() -> list[dict[str, str]]:
    """The seeded sample borrowers (``lending/demo_data.yml``), or one default before it exists."""
    path = REPO_ROOT / "lending" / "demo_data.yml"
    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        found = [{"customer_id": str(c["customer_id"]), "name": str(c.get("full_name", "")).split(" ")[0]}
                 for c in data.get("customers", []) if c.get("customer_id")]
        if found:
            return found
    return [{"customer_id": "CUST-0001", "name": "Budi"}]
