"""A real desk on a free port (real router, channels, outbox) with fake Rasa and fake Twilio,
plus Debian's Chromium driven by Playwright. Screenshots go to artifacts/browser/."""
from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from aduan.app import create_app
from aduan.services import build_services
from desk.config import REPO_ROOT
from handoff import auth, hours
from handoff.config import HandoffSettings
from tests.desk.fake_rasa import FakeRasa

ARTIFACTS = REPO_ROOT / "artifacts" / "browser"
PASSWORD = "correct horse battery"

COMPLAINT = {"full_name": "Budi Santoso", "product": "Pinjaman Tunai", "transaction_date": "2026-11-12",
             "chronology": "Sudah bayar cicilan lewat Indomaret tanggal 12, status masih belum lunas"}


# The ticket the fake action server filed for the conversation (set by the test).
BOT_STATE: dict[str, str | None] = {"ticket_number": None}


def complaint_bot(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A fake assistant: takes a payment complaint, hands off when asked for a person."""
    text = str(body.get("message", "")).lower()
    sender = body.get("sender")
    if "agen" in text or text == "/request_human":
        return [{"recipient_id": sender, "text": "Baik Kak, saya sambungkan ke petugas CS kami."},
                {"recipient_id": sender, "custom": {"handoff": {
                    "reason": "request_human", "priority": "high", "category": "payment",
                    "summary": COMPLAINT, "ticket_number": BOT_STATE["ticket_number"]}}}]
    if "bayar" in text:
        return [{"recipient_id": sender, "text": "Mohon maaf atas kendalanya, Kak. Data pembayaran Anda sudah "
                                                 "saya catat. Ketik 'sambungkan ke agen' untuk bicara dengan petugas."}]
    return [{"recipient_id": sender, "text": "Halo Kak, ada yang bisa kami bantu?"}]


@dataclass
class Desk:
    base_url: str
    app: Sanic
    services: Any
    twilio: Any


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Any:
    """``shot(page, name)`` saves artifacts/browser/<test>-<nn>-<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    async def shot(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{next(counter):02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=False)
        return path

    return shot


@pytest.fixture
async def fake_rasa_bot() -> AsyncIterator[FakeRasa]:
    BOT_STATE["ticket_number"] = None
    fake = FakeRasa(complaint_bot)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def desk(settings, database, fake_rasa_bot) -> AsyncIterator[Desk]:
    from tests.fakes import FakeTwilio

    hours.configure(None)
    twilio = FakeTwilio().start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free port, never a fixed one
    sock.listen(128)
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(update={"rasa_url": fake_rasa_bot.url, "public_base_url": base,
                                           "twilio_api_base": twilio.base_url})
    services = build_services(settings)
    services.db = database  # the test's database, with tables
    services.router.db = database
    if services.outbox is not None:
        services.outbox.db = database
    services.handoff = HandoffSettings(_env_file=None, handoff_auto_assign=False)
    Sanic.test_mode = True
    app = create_app(settings, services, name=f"browser_{uuid.uuid4().hex[:8]}")
    hours.configure(_AlwaysOpen())
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    yield Desk(base, app, services, twilio)
    await server.before_stop()
    await server.close()
    await server.after_stop()
    twilio.stop()
    hours.configure(None)


class _AlwaysOpen:
    def is_open(self, channel: str | None, at: Any) -> bool:
        return True

    def next_open(self, channel: str | None, at: Any) -> Any:
        return at

    def hours_text(self, channel: str | None) -> str:
        return "Setiap hari"


@pytest.fixture
def staff(database):  # type: ignore[no-untyped-def]
    async def make(username: str, role: str, display_name: str) -> int:
        async with database.transaction() as session:
            user = await auth.create_user(session, username=username, password=PASSWORD, role=role,
                                          display_name=display_name)
            return user.id
    return make


async def login(browser: Any, base: str, username: str) -> Any:
    """A fresh browser context signed in as ``username``; returns its page."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, base_url=base)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    return page
