"""The one place a connector hands a parsed message to the router (and finds its senders).

The root hands the core's services to ``connectors.wiring.install``; this module
is the only code in ``connectors/`` that knows where the router and the senders live.
"""
from __future__ import annotations

import logging

from sanic import Sanic

from desk.sender import Sender
from connectors.rejections import Rejected
from desk.masking import MaskingFilter, mask_text
from desk.messages import Channel, InboundMessage
from desk.router import ReceiveResult
from desk.services import CoreServices

log = logging.getLogger("aduan.channels")
log.addFilter(MaskingFilter())


def channel_senders(app: Sanic) -> dict[str, Sender]:
    """The channel senders, keyed by channel value: the outbox worker's registry.

    There is one registry so the outbox and the connectors can never disagree
    about which sender a channel uses. ``connectors.wiring.install`` puts it on
    the app; without an outbox (tests of one part) it is the part's own dict.
    """
    senders = getattr(app.ctx, "channel_senders", None)
    if not isinstance(senders, dict):
        raise RuntimeError("the connectors part is not installed on this app")
    return senders


async def route_inbound(services: CoreServices, inbound: InboundMessage) -> ReceiveResult:
    """Give ``inbound`` to the router; ``Rejected(503)`` when it cannot take it now.

    A 503 tells a provider that retries (Telegram) to deliver again later, and
    the in-app client to retry with the same ``client_message_id``.
    """
    router = services.router
    if router is None:
        raise Rejected(503, "unavailable", "the desk is starting up; try again shortly")
    try:
        return await router.receive(inbound)
    except Exception as exc:  # noqa: BLE001 - the provider must hear "not taken", not a crash
        log.exception("router failed on %s message %s from %s: %s", inbound.channel.value,
                      inbound.external_id, mask_text(inbound.sender), type(exc).__name__)
        raise Rejected(503, "unavailable", "the message could not be stored; try again") from exc
