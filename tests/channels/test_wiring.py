"""How the channels plug into the app: blueprints, and senders that respect injected ones."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from connectors.inapp import InAppSender
from connectors.telegram import TelegramSender
from connectors.whatsapp import TwilioSender
from aduan.app import create_app
from aduan.services import build_services
from desk.config import Settings
from desk.messages import Channel, OutboundMessage


@dataclass
class RecordingSender:
    channel: Channel = Channel.WHATSAPP

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        return "recorded"


def test_channels_are_installed_and_injected_senders_kept(settings: Settings) -> None:
    services = build_services(settings)
    recording = RecordingSender()
    assert services.outbox is not None
    services.outbox.register_sender(recording)
    app = create_app(settings, services, name=f"wiring_{uuid.uuid4().hex[:8]}")

    paths = {route.path for route in app.router.routes}
    assert {"webhooks/whatsapp", "webhooks/telegram", "chat/api/messages", "chat/ws", "chat/demo-token", ""} <= paths
    assert services.outbox.senders["whatsapp"] is recording
    assert isinstance(services.outbox.senders["telegram"], TelegramSender)
    assert isinstance(services.outbox.senders["inapp"], InAppSender)


def test_default_senders_are_the_real_ones(settings: Settings) -> None:
    services = build_services(settings)
    create_app(settings, services, name=f"wiring_{uuid.uuid4().hex[:8]}")
    assert services.outbox is not None
    assert isinstance(services.outbox.senders["whatsapp"], TwilioSender)
