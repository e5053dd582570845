"""Plugs the channels into the desk app: blueprints in, senders registered with the outbox."""
from __future__ import annotations

import contextlib

from sanic import Sanic

from connectors.inapp import InAppSender, install_known_customers
from connectors.inapp import bp as inapp_bp
from connectors.telegram import TelegramSender
from connectors.telegram import bp as telegram_bp
from connectors.webchat import bp as webchat_bp
from connectors.whatsapp import TwilioSender
from connectors.whatsapp import bp as whatsapp_bp
from desk.messages import Channel
from desk.sender import Sender
from desk.services import CoreServices
from lending.known import KnownCustomers


def build_senders(services: CoreServices) -> dict[Channel, Sender]:
    """One sender per channel, from settings (the provider clients open lazily, in the loop)."""
    return {
        Channel.WHATSAPP: TwilioSender(services.settings),
        Channel.TELEGRAM: TelegramSender(services.settings),
        Channel.INAPP: InAppSender(services.events),
    }


def install(app: Sanic, services: CoreServices, known: KnownCustomers) -> None:
    """Register the webhook, in-app and web-chat blueprints and the channel senders.

    ``known`` answers whether the lending core knows an in-app customer. Senders
    already registered with the outbox worker (tests inject recording senders)
    are kept; the others are built from settings.
    """
    for bp in (whatsapp_bp, telegram_bp, inapp_bp, webchat_bp):
        app.blueprint(bp)
    install_known_customers(app, known)
    # The outbox worker's registry when there is a worker, so both see one sender per channel.
    senders: dict[str, Sender] = services.outbox.senders if services.outbox is not None else {}
    app.ctx.channel_senders = senders
    for channel, sender in build_senders(services).items():
        senders.setdefault(channel.value, sender)

    @app.after_server_stop
    async def _close_senders(app: Sanic) -> None:
        for sender in senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
