"""Fixtures of the human side: an app on the test database, staff users, handed-off conversations."""
from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sanic import Sanic
from sanic_testing.testing import SanicASGITestClient

from aduan.app import create_app
from aduan.services import Services
from desk.config import Settings
from desk.events import InMemoryEventBus
from desk.store import append_message, find_or_open_conversation
from handoff import auth, hours
from handoff.config import HandoffSettings
from tickets.context import build_context
from handoff.models import Handoff
from handoff.queue import enqueue_handoff
from storage.db import Database
from storage.models import Conversation

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def always_open() -> Any:
    """Office hours are tested on their own; elsewhere the desk is open."""

    class Open:
        def is_open(self, channel: str | None, at: Any) -> bool:
            return True

        def next_open(self, channel: str | None, at: Any) -> Any:
            return at

        def hours_text(self, channel: str | None) -> str:
            return "Setiap hari 00.00–24.00 WIB"

    hours.configure(Open())
    yield
    hours.configure(None)


@pytest.fixture
def services(settings: Settings, database: Database, event_bus: InMemoryEventBus) -> Services:
    return Services(settings=settings, db=database, events=event_bus,
                    handoff=HandoffSettings(_env_file=None, handoff_auto_assign=False),
                    tickets=build_context(settings, event_bus))


@pytest.fixture
def app(settings: Settings, services: Services) -> Sanic:
    Sanic.test_mode = True
    return create_app(settings, services, name=f"handoff_{uuid.uuid4().hex[:8]}")


@dataclass
class Staff:
    """A signed-in member of staff for ASGI requests."""

    id: int
    username: str
    role: str
    cookies: dict[str, str]
    csrf: str


class Client:
    """Thin helper over the ASGI client that carries a staff cookie and CSRF token."""

    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.asgi = SanicASGITestClient(app)

    async def get(self, path: str, staff: Staff | None = None, **kw: Any) -> Any:
        self.asgi.cookies.clear()  # each request carries exactly the cookies the test gives
        _, response = await self.asgi.get(path, cookies=staff.cookies if staff else None, **kw)
        return response

    async def post(self, path: str, staff: Staff | None = None, data: dict[str, Any] | None = None,
                   csrf: bool = True, **kw: Any) -> Any:
        data = dict(data or {})
        if staff and csrf:
            data["csrf_token"] = staff.csrf
        self.asgi.cookies.clear()
        _, response = await self.asgi.post(path, cookies=staff.cookies if staff else None, data=data, **kw)
        return response

    async def login(self, username: str, password: str = PASSWORD) -> Any:
        self.asgi.cookies.clear()
        _, page = await self.asgi.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        self.asgi.cookies.clear()
        _, response = await self.asgi.post("/login", data={"username": username, "password": password,
                                                           "csrf_token": token},
                                           cookies={auth.LOGIN_CSRF_COOKIE: token}, follow_redirects=False)
        return response


@pytest.fixture
def client(app: Sanic) -> Client:
    return Client(app)


@pytest.fixture
def make_user(database: Database):  # type: ignore[no-untyped-def]
    async def make(username: str, role: str = "agent", *, available: bool = False, capacity: int = 5) -> int:
        async with database.transaction() as session:
            user = await auth.create_user(session, username=username, password=PASSWORD, role=role,
                                          display_name=username.title(), capacity=capacity)
            user.available = available
            return user.id
    return make


@pytest.fixture
def sign_in(client: Client, make_user: Any):  # type: ignore[no-untyped-def]
    async def sign(username: str, role: str = "agent", **kw: Any) -> Staff:
        user_id = await make_user(username, role, **kw)
        response = await client.login(username)
        assert response.status == 302, response.text
        cookie = response.cookies.get(auth.SESSION_COOKIE)
        page = await client.get("/console/canned", Staff(user_id, username, role, {auth.SESSION_COOKIE: cookie}, ""))
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return Staff(user_id, username, role, {auth.SESSION_COOKIE: cookie}, csrf)
    return sign


@pytest.fixture
def handed_off(database: Database):  # type: ignore[no-untyped-def]
    """Create a conversation with a bot transcript and hand it off; returns (public_id, handoff_id)."""
    async def make(sender: str | None = None, *, channel: str = "inapp", priority: str = "medium",
                   category: str | None = "payment", summary: dict[str, Any] | None = None,
                   ticket_number: str | None = None, reason: str = "request_human") -> tuple[str, int]:
        async with database.transaction() as session:
            conv = await find_or_open_conversation(session, channel, sender or uuid.uuid4().hex[:12],
                                                   sender_name="Budi Santoso")
            await append_message(session, conv, direction="in", author="borrower", text="sudah bayar tapi belum lunas",
                                 external_id=uuid.uuid4().hex)
            await append_message(session, conv, direction="out", author="bot", text="Baik, saya sambungkan ke agen.")
            conv.mode = "human"
            handoff = await enqueue_handoff(session, conv, {
                "reason": reason, "priority": priority, "category": category,
                "summary": summary or {"full_name": "Budi Santoso", "chronology": "bayar 12 Mei belum masuk"},
                "ticket_number": ticket_number})
            return conv.public_id, handoff.id
    return make


async def get_handoff(database: Database, handoff_id: int) -> Handoff:
    async with database.session() as session:
        h = await session.get(Handoff, handoff_id)
        assert h is not None
        return h


async def get_conversation(database: Database, public_id: str) -> Conversation:
    from sqlalchemy import select
    async with database.session() as session:
        return (await session.scalars(select(Conversation).where(Conversation.public_id == public_id))).one()
