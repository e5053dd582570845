"""The console websocket over real HTTP: sign-in required, per-conversation access, auto-assignment push."""
from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

from handoff import auth
from handoff.config import HandoffSettings
from tests.handoff.conftest import PASSWORD, get_handoff


@pytest.fixture
async def served(app, services) -> AsyncIterator[str]:
    # The installed settings object is the one the console reads at request time.
    services.handoff.handoff_auto_assign = True
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    await server.before_stop()
    await server.close()
    await server.after_stop()


class Live:
    """A member of staff signed in over real HTTP (the ASGI test client would switch the app to ASGI)."""

    def __init__(self, address: str, cookie: str, csrf: str, user_id: int) -> None:
        self.address, self.cookies, self.csrf, self.id = address, {auth.SESSION_COOKIE: cookie}, csrf, user_id

    async def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=f"http://{self.address}", cookies=self.cookies) as http:
            return await http.post(path, data={**(data or {}), "csrf_token": self.csrf},
                                   headers={"X-Requested-With": "fetch"})


@pytest.fixture
def live_sign_in(served, make_user):  # type: ignore[no-untyped-def]
    async def sign(username: str, role: str = "agent") -> Live:
        user_id = await make_user(username, role)
        async with httpx.AsyncClient(base_url=f"http://{served}") as http:
            page = await http.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            await http.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
            cookie = http.cookies.get(auth.SESSION_COOKIE)
            page = await http.get("/console/canned")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return Live(served, cookie, csrf, user_id)
    return sign


async def _connect(address: str, staff: Live) -> websockets.ClientConnection:
    ws = await websockets.connect(f"ws://{address}/console/ws", additional_headers={
        "Cookie": f"{auth.SESSION_COOKIE}={staff.cookies[auth.SESSION_COOKIE]}", "Origin": f"http://{address}"})
    assert json.loads(await ws.recv())["topic"] == "hello"
    return ws


async def _next(ws, timeout: float = 3.0) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_websocket_needs_a_session_and_the_same_origin(served, live_sign_in) -> None:
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        async with websockets.connect(f"ws://{served}/console/ws") as ws:
            await asyncio.wait_for(ws.recv(), 3)
    ani = await live_sign_in("ani")
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        async with websockets.connect(f"ws://{served}/console/ws", additional_headers={
                "Cookie": f"{auth.SESSION_COOKIE}={ani.cookies[auth.SESSION_COOKIE]}",
                "Origin": "https://evil.example"}) as ws:
            await asyncio.wait_for(ws.recv(), 3)


async def test_only_readers_get_a_conversations_events(served, live_sign_in, handed_off, event_bus) -> None:
    ani, budi = await live_sign_in("ani"), await live_sign_in("budi")
    public_id, _ = await handed_off()
    assert (await ani.post(f"/console/c/{public_id}/pickup")).status_code == 200
    ws_ani, ws_budi = await _connect(served, ani), await _connect(served, budi)
    try:
        for ws in (ws_ani, ws_budi):
            await ws.send(json.dumps({"watch": [public_id]}))
        await asyncio.sleep(0.3)  # the server checks access and subscribes
        await event_bus.publish(f"conversation:{public_id}", {
            "type": "message", "conversation_id": public_id, "seq": 9, "text": "rahasia borrower"})
        event = await _next(ws_ani)
        assert event == {"type": "message", "conversation_id": public_id, "seq": 9, "topic": "conversation"}
        with pytest.raises(TimeoutError):
            await _next(ws_budi, 0.5)
    finally:
        await ws_ani.close()
        await ws_budi.close()


async def test_a_new_handoff_is_auto_assigned_and_pushed(served, live_sign_in, handed_off, event_bus,
                                                         database) -> None:
    ani = await live_sign_in("ani")
    assert (await ani.post("/console/availability", {"available": "1"})).status_code == 200
    ws = await _connect(served, ani)
    try:
        public_id, handoff_id = await handed_off()
        # What the router publishes after its transaction commits.
        await event_bus.publish("queue", {"type": "handoff", "conversation_id": public_id})
        seen = []
        while not any(e.get("topic") == "agent" and e.get("type") == "assigned" for e in seen):
            seen.append(await _next(ws))
        assert any(e.get("conversation_id") == public_id and e.get("type") == "handoff" for e in seen)
        handoff = await get_handoff(database, handoff_id)
        assert handoff.status == "assigned" and handoff.assigned_to == ani.id
    finally:
        await ws.close()
