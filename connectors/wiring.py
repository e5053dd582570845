"""Plugs the channels into the desk app: blueprints in, senders registered with the outbox."""
from __future__ import annotations

import contextlib
from typing import Any

from sanic import Sanic

from attachments.runtime import attachments_of
from connectors.base import Sender
from connectors.dispatch import senders_of
from connectors.telegram import TelegramMediaSource, TelegramSender
from connectors.whatsapp import TwilioMediaSource
from desk.messages import Channel


def build_senders(services: Any) -> dict[Channel, Sender]:
    """One sender per channel, from settings (the provider clients open lazily, in the loop)."""
    from connectors.inapp import InAppSender
    from connectors.telegram import TelegramSender
    from connectors.whatsapp import TwilioSender

    files = attachments_of(services)
    return {
        Channel.WHATSAPP: TwilioSender(services.settings, file_link=files.link),
        Channel.TELEGRAM: TelegramSender(services.settings, files=files.files),
        Channel.INAPP: InAppSender(services.events),
    }


def register_media_sources(services: Any) -> None:
    """Give the attachment fetch job each channel's fetcher (in-app uploads it knows already)."""
    runtime = attachments_of(services)
    timeout = runtime.settings.attachments_fetch_timeout_seconds
    runtime.worker.register_source(Channel.WHATSAPP.value, TwilioMediaSource(services.settings, timeout=timeout))
    telegram = senders_of(services).get(Channel.TELEGRAM.value)
    bot = telegram.bot if isinstance(telegram, TelegramSender) else TelegramSender(services.settings).bot
    runtime.worker.register_source(Channel.TELEGRAM.value, TelegramMediaSource(bot))


def install_channels(app: Sanic) -> None:
    """Register the webhook, in-app and web-chat blueprints and the channel senders.

    Senders already registered (in ``services`` or with the outbox worker; tests
    inject recording senders) are kept; the others are built from settings.
    """
    from connectors.inapp import bp as inapp_bp
    from connectors.telegram import bp as telegram_bp
    from connectors.webchat import bp as webchat_bp
    from connectors.whatsapp import bp as whatsapp_bp

    services = app.ctx.services
    for bp in (whatsapp_bp, telegram_bp, inapp_bp, webchat_bp):
        app.blueprint(bp)
    senders = senders_of(services)
    # A sender already registered (tests inject recording senders) is kept.
    for channel, sender in build_senders(services).items():
        senders.setdefault(channel.value, sender)
    register_media_sources(services)

    @app.after_server_stop
    async def _close_senders(app: Sanic) -> None:
        for sender in senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
