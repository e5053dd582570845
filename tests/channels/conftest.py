"""Fixtures of the channel tests: provider fakes, a fake Rasa, and the real desk serving on a free port.

The desk is the real one (router, bot client, outbox worker); only what lies
outside it is faked: Twilio, Telegram and Rasa, each a local HTTP server.
"""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from attachments.config import AttachmentSettings
from attachments.runtime import build_attachments
from aduan.app import create_app
from aduan.services import Services, build_services
from desk.config import Settings
from desk.events import InMemoryEventBus
from storage.base import utcnow
from storage.db import Database
from privacy.notice import NOTICE_KEY
from storage.models import Conversation, Direction, Message, OutboxItem
from tests.channels.support import serve
from tests.support.notice import NOTICE_TEXT, NOTICES_AT_FIRST_CONTACT, after_notice  # noqa: F401 - for the tests
from tests.desk.fake_rasa import FakeRasa
from tests.fakes import FakeTelegram, FakeTwilio

PUBLIC_BASE_URL = "https://desk.example.test"
TELEGRAM_TOKEN = "123456:test-telegram-token"
GREETING_TEXT = "Halo Kak, ada yang bisa kami bantu?"
GREETING_BUTTONS = [{"title": "Cek tagihan", "payload": "/ask_bill_amount"},
                    {"title": "Buat pengaduan", "payload": "/complain_payment"}]


def greeting_responder(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Whatever the borrower says, the fake bot greets with two buttons."""
    return [{"recipient_id": body.get("sender"), "text": GREETING_TEXT, "buttons": GREETING_BUTTONS}]


@dataclass(frozen=True)
class StoredInbound:
    """An inbound message as the desk stored it, with its conversation's fields."""

    sender: str
    sender_name: str | None
    customer_id: str | None
    external_id: str | None
    text: str
    payload: dict[str, Any]


@dataclass
class Desk:
    """A running desk app and what a test needs to drive it."""

    app: Any
    services: Services
    url: str
    rasa: FakeRasa

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def db(self) -> Database:
        return self.services.db

    async def deliver(self) -> list[OutboxItem]:
        """Run the outbox worker until nothing is due; return every outbox item."""
        assert self.services.outbox is not None
        await self.services.outbox.drain()
        async with self.db.session() as session:
            return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())

    async def deliver_replies(self) -> list[OutboxItem]:
        """``deliver()``, then every item but the first-contact notice, checked to be the lender file's."""
        return await self.after_notice(await self.deliver())

    async def after_notice(self, items: list[OutboxItem]) -> list[OutboxItem]:
        """``items`` without the first conversation's privacy notice, which must be the first of them."""
        if not NOTICES_AT_FIRST_CONTACT:
            return items
        assert items, "nothing was queued, not even the privacy notice"
        async with self.db.session() as session:
            first = await session.get(Message, items[0].message_id)
        assert first is not None and first.text == NOTICE_TEXT, "the privacy notice did not go first"
        assert ((first.payload or {}).get("custom") or {}).get(NOTICE_KEY), "the notice's version is not recorded"
        return items[1:]

    async def make_retries_due(self) -> None:
        """Skip the backoff: every pending retry is due now."""
        async with self.db.transaction() as session:
            await session.execute(update(OutboxItem).values(next_attempt_at=utcnow() - timedelta(seconds=1)))

    async def inbound(self) -> list[StoredInbound]:
        """Every stored inbound message, oldest first."""
        async with self.db.session() as session:
            rows = (await session.execute(
                select(Message, Conversation).join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.direction == Direction.INBOUND.value).order_by(Message.id))).all()
        return [StoredInbound(c.clear_sender(), c.sender_name, c.customer_id, m.external_id, m.text, m.payload or {})
                for m, c in rows]


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TELEGRAM_TOKEN) as fake:
        yield fake


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    fake = FakeRasa(greeting_responder)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def channel_settings(settings: Settings, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram,
                     fake_rasa: FakeRasa) -> Settings:
    """Settings pointing the real SDKs at the fakes; the public URL is what a proxy would expose."""
    return settings.model_copy(update={
        "public_base_url": PUBLIC_BASE_URL,
        "twilio_api_base": fake_twilio.base_url,
        "telegram_api_base": fake_telegram.base_url,
        "telegram_bot_token": TELEGRAM_TOKEN,
        "rasa_url": fake_rasa.url,
        "rasa_timeout_seconds": 5.0,
        "max_message_chars": 500,
    })


@pytest.fixture
def attachment_settings(tmp_path: Path) -> AttachmentSettings:
    """Files in the test's own directory, the default limits."""
    return AttachmentSettings(_env_file=None, attachments_dir=tmp_path / "attachments")


@pytest.fixture
async def desk(database: Database, channel_settings: Settings, fake_rasa: FakeRasa,
               attachment_settings: AttachmentSettings, fake_twilio: FakeTwilio) -> AsyncIterator[Desk]:
    """The desk app with every channel installed, serving real HTTP on a free port.

    The outbox worker is not started: tests call ``desk.deliver()`` to run it;
    nor is the attachment fetch job (``services.attachments.worker.run_once()``).
    """
    services = build_services(channel_settings, events=InMemoryEventBus())
    services.attachments = build_attachments(services.db, public_base_url=channel_settings.public_base_url,
                                                      link_secret=channel_settings.session_secret,
                                                      settings=attachment_settings)
    app = create_app(channel_settings, services, name=f"channels_{uuid.uuid4().hex[:12]}", run_outbox=False)
    async with serve(app) as url:
        yield Desk(app=app, services=services, url=url, rasa=fake_rasa)
        # Twilio's delivery reports (sent, delivered, read) trail the test by up to a second.
        await asyncio.to_thread(fake_twilio.drain_callbacks)
