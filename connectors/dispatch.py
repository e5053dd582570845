"""The one place a connector hands a parsed message to the router (and finds its senders).

Core wires the router and the senders into ``app.ctx.services``; this module
is the only code in ``connectors/`` that knows where they live.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol

from attachments import service as attachments
from attachments.runtime import attachments_of
from connectors.base import Sender
from connectors.rejections import Rejected
from desk.masking import MaskingFilter, mask_text
from desk.messages import Channel, InboundMessage
from desk.router import ReceiveResult

log = logging.getLogger("aduan.channels")
log.addFilter(MaskingFilter())


class Receiver(Protocol):
    async def receive(self, inbound: InboundMessage) -> ReceiveResult: ...


def router_of(services: Any) -> Receiver | None:
    """The router wired into ``services`` (an attribute, or ``extra["router"]``)."""
    router = getattr(services, "router", None)
    if router is None:
        router = services.extra.get("router")
    return router


def senders_of(services: Any) -> dict[str, Sender]:
    """The channel senders, keyed by channel value: the outbox worker's registry.

    There is one registry so the outbox and the connectors can never disagree
    about which sender a channel uses; ``extra`` only serves wiring without an outbox.
    """
    outbox = getattr(services, "outbox", None)
    if outbox is not None:
        return outbox.senders
    return services.extra.setdefault("senders", {})


async def route_inbound(services: Any, inbound: InboundMessage) -> ReceiveResult:
    """Give ``inbound`` to the router; ``Rejected(503)`` when it cannot take it now.

    A 503 tells a provider that retries (Telegram) to deliver again later, and
    the in-app client to retry with the same ``client_message_id``.
    """
    router = router_of(services)
    if router is None:
        raise Rejected(503, "unavailable", "the desk is starting up; try again shortly")
    try:
        result = await router.receive(inbound)
    except Exception as exc:  # noqa: BLE001 - the provider must hear "not taken", not a crash
        log.exception("router failed on %s message %s from %s: %s", inbound.channel.value,
                      inbound.external_id, mask_text(inbound.sender), type(exc).__name__)
        raise Rejected(503, "unavailable", "the message could not be stored; try again") from exc
    if result.message_id is not None and any(attachments.is_file_ref(m.url) for m in inbound.media):
        await record_files(services, inbound, result.message_id)
    return result


async def record_files(services: Any, inbound: InboundMessage, message_id: int) -> None:
    """Record the message's files for the fetch job, after the router stored (and answered) it.

    The router never waits for a download. Recording is idempotent, so a
    redelivery (also answered as a duplicate by the router) records what a
    failed first attempt did not; if it fails, the provider hears 503 and
    delivers again.
    """
    runtime = attachments_of(services)
    try:
        async with services.db.transaction() as session:
            conversation_id = await attachments.conversation_of_message(session, message_id)
            await attachments.record_inbound(session, conversation_id=conversation_id, message_id=message_id,
                                             channel=inbound.channel.value, media=inbound.media)
    except Exception as exc:  # noqa: BLE001 - not recorded: make the provider deliver again
        log.exception("recording files of %s message %s failed: %s", inbound.channel.value, message_id,
                      type(exc).__name__)
        raise Rejected(503, "unavailable", "the message's files could not be recorded; try again") from exc
    runtime.worker.nudge()
