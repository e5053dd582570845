"""The message types that cross between connectors and the router.

A connector turns a provider request into one ``InboundMessage`` and turns one
``OutboundMessage`` into a provider call; nothing else crosses that line.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Channel(str, enum.Enum):
    """The channels a borrower can write on."""

    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    INAPP = "inapp"


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the borrower; ``payload`` is what the bot receives when it is picked."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A reference to media the borrower sent; the desk keeps the reference, not the bytes."""

    url: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a borrower, verified and parsed by its connector."""

    channel: Channel
    sender: str
    """The channel's address of the borrower: +62… phone, Telegram chat id, in-app customer id."""
    external_id: str
    """The provider's id for this delivery (MessageSid, update_id, client_message_id): dedup key."""
    text: str
    received_at: datetime
    sender_name: str | None = None
    customer_id: str | None = None
    """Set only when the channel itself vouches for the borrower (in-app JWT)."""
    media: tuple[MediaRef, ...] = ()
    button_payload: str | None = None
    """Set when the borrower pressed a button (Telegram callback, in-app button)."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to a borrower, channel-neutral; the connector renders it."""

    text: str
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] | None = None

    def to_payload(self) -> dict[str, Any]:
        """The JSON form stored with the message."""
        data: dict[str, Any] = {}
        if self.buttons:
            data["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.custom:
            data["custom"] = self.custom
        return data

    @classmethod
    def from_payload(cls, text: str, payload: dict[str, Any] | None) -> OutboundMessage:
        """Rebuild a message from its stored text and payload."""
        payload = payload or {}
        buttons = tuple(Button(b["title"], b["payload"]) for b in payload.get("buttons", []))
        return cls(text=text, buttons=buttons, custom=payload.get("custom"))
