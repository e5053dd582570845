"""The outbox's port to the channels: what a channel sender offers the core.

The core (``desk.outbox_worker``) sends through ``Sender`` and reads
``ProviderError``; the connectors part implements them. The port lives in the
core so the core never imports a part.
"""
from __future__ import annotations

from typing import Protocol

from desk.messages import Channel, OutboundMessage


class ProviderError(Exception):
    """A provider refused or failed a send. ``retryable`` tells the outbox whether to try again.

    ``retry_after`` is the provider's own hint in seconds (Telegram's 429
    ``retry_after``, Twilio's 429 ``Retry-After`` header): the outbox waits at
    least that long before it sends on that channel again. ``code`` names a
    refusal agents must see (``Forbidden``: the borrower blocked the Telegram
    bot; Twilio's error code); the outbox records it beside the message.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code


class Sender(Protocol):
    """Sends one rendered message to one recipient on one channel."""

    channel: Channel

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        """Send ``message``; return the provider's message id. Raise ``ProviderError`` on failure."""
        ...
