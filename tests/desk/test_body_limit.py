"""Bodies over the 2 MB limit get the desk's JSON error on every route family, never Sanic's own page."""
from __future__ import annotations

import uuid

import httpx

from aduan.app import create_app
from aduan.services import build_services
from desk.events import InMemoryEventBus
from tests.channels.support import serve

TOO_BIG = b"x" * (2 * 1024 * 1024 + 1)
PATHS = [
    "/webhooks/whatsapp",       # provider webhooks
    "/webhooks/telegram",
    "/chat/api/messages",       # in-app API
    "/api/v1/tickets",          # desk API for the action server
    "/internal/v1/messages",    # operations
    "/login",                   # console (its middleware reads the form: it must not answer first)
    "/console/c/abc/reply",
]


async def test_oversized_body_gets_the_desks_json_error_on_every_route_family(database, settings) -> None:
    services = build_services(settings, events=InMemoryEventBus())
    app = create_app(settings, services, name=f"limit_{uuid.uuid4().hex[:12]}", run_outbox=False)
    answers = {}
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        for path in PATHS:
            response = await client.post(path, content=TOO_BIG, headers={"content-type": "application/json"})
            answers[path] = (response.status_code, response.headers["content-type"].split(";")[0],
                             response.text)
    expected = (413, "application/json",
                '{"error":"payload_too_large","message":"request bodies are limited to 2097152 bytes"}')
    assert answers == {path: expected for path in PATHS}
