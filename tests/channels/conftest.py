"""Fixtures of the channel tests: provider fakes, and a real desk app serving on a free port."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from connectors.base import ProviderError, Sender
from desk.app import Services, create_app
from desk.config import Settings
from desk.events import InMemoryEventBus
from desk.messages import Button, Channel, InboundMessage, OutboundMessage
from desk.outbox import enqueue
from desk.router import ReceiveResult
from desk.store import append_message, find_or_open_conversation
from storage.db import Database
from storage.models import Conversation, Message, OutboxItem, OutboxStatus
from tests.channels.support import serve
from tests.fakes import FakeTelegram, FakeTwilio

PUBLIC_BASE_URL = "https://desk.example.test"
TELEGRAM_TOKEN = "123456:test-telegram-token"

GREETING = OutboundMessage(
    text="Halo Kak, ada yang bisa kami bantu?",
    buttons=(Button("Cek tagihan", "/ask_bill_amount"), Button("Buat pengaduan", "/complain_payment")),
)


def canned_replies(inbound: InboundMessage) -> list[OutboundMessage]:
    return [GREETING]


class CannedRouter:
    """Stands in for core's router: stores like the contract says and answers with canned replies."""

    def __init__(self, db: Database, reply_with: Callable[[InboundMessage], list[OutboundMessage]]) -> None:
        self.db = db
        self.reply_with = reply_with
        self.received: list[InboundMessage] = []

    async def receive(self, inbound: InboundMessage) -> ReceiveResult:
        channel = inbound.channel.value
        async with self.db.transaction() as session:
            found = await session.scalar(select(Message).where(
                Message.channel == channel, Message.external_id == inbound.external_id))
            if found is not None:
                conv = await session.get(Conversation, found.conversation_id)
                assert conv is not None
                return ReceiveResult(True, conv.public_id, found.id, conv.mode)
            self.received.append(inbound)
            conv = await find_or_open_conversation(session, channel, inbound.sender,
                                                   sender_name=inbound.sender_name)
            payload: dict[str, Any] = {}
            if inbound.button_payload:
                payload["button_payload"] = inbound.button_payload
            if inbound.media:
                payload["media"] = [{"url": m.url, "content_type": m.content_type} for m in inbound.media]
            stored = await append_message(session, conv, direction="in", author="borrower",
                                          text=inbound.text, payload=payload, external_id=inbound.external_id)
            replies = self.reply_with(inbound)
            ids = [(await enqueue(session, conv, r, author="bot"))[0].id for r in replies]
        return ReceiveResult(False, conv.public_id, stored.id, conv.mode, replies, ids)


async def deliver_pending(db: Database, senders: dict[Channel, Sender]) -> list[OutboxItem]:
    """Send every pending outbox item through its channel's sender (the outbox worker's job)."""
    async with db.session() as session:
        items = (await session.scalars(select(OutboxItem).where(
            OutboxItem.status == OutboxStatus.PENDING.value).order_by(OutboxItem.id))).all()
        for item in items:
            message = await session.get(Message, item.message_id)
            assert message is not None
            try:
                item.provider_message_id = await senders[Channel(item.channel)].send(
                    item.recipient, OutboundMessage.from_payload(message.text, message.payload))
                item.status = OutboxStatus.SENT.value
            except ProviderError as exc:
                item.last_error = str(exc)
                item.attempts += 1
        await session.commit()
    return list(items)


@dataclass
class Desk:
    """A running desk app and what the test needs to drive it."""

    app: Any
    services: Services
    router: CannedRouter
    url: str

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def senders(self) -> dict[Channel, Sender]:
        return self.services.extra["senders"]

    async def deliver(self) -> list[OutboxItem]:
        return await deliver_pending(self.db, self.senders)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TELEGRAM_TOKEN) as fake:
        yield fake


@pytest.fixture
def channel_settings(settings: Settings, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram) -> Settings:
    """Settings pointing the real SDKs at the fakes; the public URL is what a proxy would expose."""
    return settings.model_copy(update={
        "public_base_url": PUBLIC_BASE_URL,
        "twilio_api_base": fake_twilio.base_url,
        "telegram_api_base": fake_telegram.base_url,
        "telegram_bot_token": TELEGRAM_TOKEN,
        "max_message_chars": 500,
    })


@pytest.fixture
def reply_with() -> Callable[[InboundMessage], list[OutboundMessage]]:
    return canned_replies


@pytest.fixture
async def desk(database: Database, channel_settings: Settings,
               reply_with: Callable[[InboundMessage], list[OutboundMessage]]) -> AsyncIterator[Desk]:
    """The desk app with the channels installed, serving real HTTP on a free port."""
    services = Services(settings=channel_settings, db=database, events=InMemoryEventBus())
    router = CannedRouter(database, reply_with)
    services.extra["router"] = router
    app = create_app(channel_settings, services, name=f"channels_{uuid.uuid4().hex[:12]}")
    async with serve(app) as url:
        yield Desk(app=app, services=services, router=router, url=url)
