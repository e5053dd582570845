"""Internal endpoints (service token): inject a message, watch the bus, see failed sends.

These are for operations, integration tests and benchmarks, not for borrowers:
* ``POST /internal/v1/messages`` runs one ``InboundMessage`` through the router
  exactly as a connector would, and answers with the router's result.
* ``GET /internal/v1/outbox`` lists outbox counts and the items that failed for good.
* ``WS /internal/ws/conversations?topic=queue`` streams event-bus events
  (``queue`` or ``conversation:<public_id>``) as JSON Lines text frames.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sanic import Blueprint, Request, Websocket
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from desk.api import json_body
from desk.auth import error, has_service_token, service_token_required
from desk.messages import Channel, InboundMessage
from desk.outbox_worker import failed_items, status_counts
from desk.router import MessageTooLong
from desk.services import core_services
from storage.base import utcnow

bp = Blueprint("desk_internal", url_prefix="/internal")


class InjectRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    channel: Channel
    sender: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=128)
    text: str = ""
    sender_name: str | None = None
    customer_id: str | None = None
    button_payload: str | None = None


@bp.post("/v1/messages")
@service_token_required
async def inject_message(request: Request) -> HTTPResponse:
    """Run one message through the router (the thin path the benchmark uses)."""
    body = json_body(request)
    if isinstance(body, HTTPResponse):
        return body
    try:
        data = InjectRequest.model_validate(body)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return error(400, "invalid_request", f"missing or invalid fields: {', '.join(fields)}")
    inbound = InboundMessage(
        channel=data.channel, sender=data.sender, external_id=data.external_id, text=data.text,
        received_at=utcnow(), sender_name=data.sender_name, customer_id=data.customer_id,
        button_payload=data.button_payload,
    )
    try:
        result = await core_services(request.app).router.receive(inbound)
    except MessageTooLong as exc:
        return error(413, "message_too_long", str(exc))
    return json_response({
        "duplicate": result.duplicate,
        "conversation_id": result.conversation_public_id,
        "message_id": result.message_id,
        "mode": result.mode,
        "replies": [{"text": r.text, **r.to_payload()} for r in result.replies],
    })


@bp.get("/v1/outbox")
@service_token_required
async def outbox_overview(request: Request) -> HTTPResponse:
    """Counts per status and the items that failed for good (with their reasons)."""
    db = core_services(request.app).db
    limit = min(int(request.args.get("limit", "100") or 100), 1000)
    return json_response({"counts": await status_counts(db), "failed": await failed_items(db, limit=limit)})


@bp.on_request
async def _websocket_token(request: Request) -> HTTPResponse | None:
    # Refuse before the websocket handshake; a handler runs only after it.
    if request.path.startswith("/internal/ws/") and not has_service_token(request):
        return error(401, "unauthorized", "a valid service token is required")
    return None


@bp.websocket("/ws/conversations")
async def watch_events(request: Request, ws: Websocket) -> None:
    """Stream the events of one topic (``queue`` by default) until the client goes away.

    Each text frame holds one or more events as JSON Lines (one JSON object per
    line): when events arrive faster than the socket drains, they share a
    frame, which keeps the cost per event low under load.
    """
    topic = request.args.get("topic", "queue")
    if topic != "queue" and not topic.startswith("conversation:"):
        await ws.close(code=1008, reason="unknown topic")
        return
    events = core_services(request.app).events
    pending: list[str] = []
    ready = asyncio.Event()

    async def pump(stream: AsyncIterator[dict[str, Any]]) -> None:
        async for event in stream:
            pending.append(json.dumps(event, default=_default, ensure_ascii=False))
            ready.set()

    async with events.subscribe(topic) as stream:
        await ws.send(json.dumps({"type": "subscribed", "topic": topic}))
        pumping = asyncio.get_running_loop().create_task(pump(stream))
        try:
            while True:
                await ready.wait()
                ready.clear()
                batch = "\n".join(pending)
                pending.clear()
                await ws.send(batch)
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping


def _default(value: Any) -> str:
    return str(value)
