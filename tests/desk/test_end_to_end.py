"""The desk served over real HTTP: a message in, the bot's reply out, the console's websocket live."""
from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from sanic import Sanic
import websockets

from aduan.app import create_app
from aduan.services import build_services
from desk.messages import Channel, OutboundMessage
from tests.support.notice import NOTICE_TEXT, after_notice

TOKEN = {"Authorization": "Bearer test-service-token"}


@dataclass
class RecordingSender:
    channel: Channel = Channel.WHATSAPP
    sent: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        self.sent.append((recipient, message.text))
        return f"SM{len(self.sent)}"


@pytest.fixture
async def served(settings, database, fake_rasa, unique_name) -> AsyncIterator[tuple[str, RecordingSender]]:
    settings = settings.model_copy(update={"rasa_url": fake_rasa.url})
    services = build_services(settings)
    sender = RecordingSender()
    services.outbox.register_sender(sender)
    Sanic.test_mode = True  # lets several servers start in one process (Sanic's touch-up)
    app = create_app(settings, services, name=unique_name)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free port, never a fixed one
    sock.listen(128)
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    port = sock.getsockname()[1]
    yield f"127.0.0.1:{port}", sender
    await server.before_stop()
    await server.close()
    await server.after_stop()


async def test_message_reply_and_live_console_over_real_http(served, fake_rasa) -> None:
    address, sender = served
    async with httpx.AsyncClient(base_url=f"http://{address}", headers=TOKEN) as http:
        resp = await http.get("/readyz")
        assert resp.json()["rasa"] == "ok"
        msg = {"channel": "whatsapp", "sender": "+6281234567890", "external_id": "e1", "text": "halo"}
        resp = await http.post("/internal/v1/messages", json=msg)
        assert resp.status_code == 200
        body = resp.json()
        # The privacy notice from the lender file comes first, then the bot's reply.
        assert body["mode"] == "bot" and after_notice([r["text"] for r in body["replies"]]) == ["echo: halo"]
        # The outbox worker runs in the server and sends the notice and the reply.
        expected = [("+6281234567890", text) for text in ([NOTICE_TEXT] if NOTICE_TEXT else []) + ["echo: halo"]]
        for _ in range(200):
            if len(sender.sent) >= len(expected):
                break
            await asyncio.sleep(0.01)
        assert sender.sent == expected

        handed = await http.post("/internal/v1/messages", json={**msg, "external_id": "e2",
                                                                "text": "sambungkan ke agen"})
        assert handed.json()["mode"] == "human"
        async with websockets.connect(f"ws://{address}/internal/ws/conversations?topic=queue",
                                      additional_headers=TOKEN) as ws:
            assert json.loads(await ws.recv()) == {"type": "subscribed", "topic": "queue"}
            for n in range(3):
                await http.post("/internal/v1/messages", json={**msg, "external_id": f"e3-{n}", "text": f"tolong {n}"})
            events: list[dict] = []
            while len(events) < 3:
                frame = await asyncio.wait_for(ws.recv(), 2)
                events.extend(json.loads(line) for line in frame.splitlines())
        assert [e["text"] for e in events] == ["tolong 0", "tolong 1", "tolong 2"]
        assert all(e["type"] == "message" and e["conversation_id"] == body["conversation_id"] for e in events)
        # A provider retry of the same delivery: no second reply.
        again = await http.post("/internal/v1/messages", json=msg)
        assert again.json()["duplicate"] is True
    assert len(fake_rasa.calls) == 2


async def test_console_websocket_needs_the_token(served) -> None:
    address, _ = served
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        async with websockets.connect(f"ws://{address}/internal/ws/conversations"):
            pass
    assert info.value.response.status_code == 401
