"""Helpers for the channel tests: a real desk server on a free port, signing like the providers."""
from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from sanic import Sanic
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from storage.models import Message, OutboxItem


@asynccontextmanager
async def serve(app: Sanic) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 and a free port inside the test's loop; yield its base URL."""
    # TouchUp rewrites module-level functions once per process; a second app would redo it and fail.
    app.config.TOUCHUP = False
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()


def twilio_signature(auth_token: str, url: str, form: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for ``form`` posted to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, form)


def twilio_form(**overrides: Any) -> dict[str, str]:
    """An incoming WhatsApp message as Twilio posts it."""
    form = {
        "SmsMessageSid": "SM0123456789abcdef0123456789abcdef",
        "NumMedia": "0",
        "ProfileName": "Budi Santoso",
        "SmsSid": "SM0123456789abcdef0123456789abcdef",
        "WaId": "6281234567890",
        "SmsStatus": "received",
        "Body": "halo min",
        "To": "whatsapp:+14155238886",
        "NumSegments": "1",
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "AccountSid": "ACdev00000000000000000000000000000",
        "From": "whatsapp:+6281234567890",
        "ApiVersion": "2010-04-01",
    }
    form.update({k: str(v) for k, v in overrides.items()})
    return form


def encode_form(form: dict[str, str]) -> str:
    return urlencode(form)


def telegram_message_update(update_id: int, chat_id: int, text: str, **message: Any) -> dict[str, Any]:
    """A real-shaped Update carrying a private text message."""
    body: dict[str, Any] = {
        "message_id": 10 + update_id % 1000, "date": 1763800000,
        "from": {"id": chat_id, "is_bot": False, "first_name": "Budi", "last_name": "Santoso",
                 "language_code": "id"},
        "chat": {"id": chat_id, "first_name": "Budi", "last_name": "Santoso", "type": "private"},
        "text": text,
    }
    if message:
        body.update(message)
        if "text" in message and message["text"] is None:
            del body["text"]
    return {"update_id": update_id, "message": body}


def telegram_callback_update(update_id: int, chat_id: int, data: str, *, message_id: int,
                             keyboard: list[list[dict[str, str]]]) -> dict[str, Any]:
    """A real-shaped Update for a press on an inline keyboard button."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Budi", "language_code": "id"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cbq-{update_id}", "from": user, "chat_instance": "-123456789", "data": data,
            "message": {
                "message_id": message_id, "date": 1763800000,
                "from": {"id": 123456, "is_bot": True, "first_name": "Aduan", "username": "aduan_test_bot"},
                "chat": {"id": chat_id, "first_name": "Budi", "type": "private"},
                "text": "Pilih salah satu:",
                "reply_markup": {"inline_keyboard": keyboard},
            },
        },
    }


async def count_rows(db: Any) -> tuple[int, int]:
    """(messages, outbox items) stored: a rejected request must change neither."""
    async with db.session() as session:
        messages = await session.scalar(select(func.count()).select_from(Message))
        outbox = await session.scalar(select(func.count()).select_from(OutboxItem))
    return int(messages or 0), int(outbox or 0)
