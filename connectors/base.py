"""What every channel connector offers the rest of the desk."""
from __future__ import annotations

from typing import Protocol

from desk.messages import Channel, OutboundMessage


class ProviderError(Exception):
    """A provider refused or failed a send. ``retryable`` tells the outbox whether to try again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sender(Protocol):
    """Sends one rendered message to one recipient on one channel."""

    channel: Channel

    async def send(self, recipient: str, message: OutboundMessage) -> str:
        """Send ``message``; return the provider's message id. Raise ``ProviderError`` on failure."""
        ...
