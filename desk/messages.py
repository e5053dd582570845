"""The message types that cross between connectors and the router.

A connector turns a provider request into one ``InboundMessage`` and turns one
``OutboundMessage`` into a provider call; nothing else crosses that line.
"""
from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field, replace
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
class TemplateUse:
    """The approved template a message needs outside WhatsApp's 24-hour window.

    ``key`` names it in the lender file (``desk.templates.TEMPLATE_KEYS``);
    ``variables`` are named values (``ticket_number`` …) the lender file maps to
    ``{{1}}…{{n}}``. ``content_sid`` and ``content_variables`` are set only on the
    copy the outbox hands a sender when it decided to send the template
    (``desk.window.choose_form``); stored messages never carry them.
    """

    key: str
    variables: dict[str, str] = field(default_factory=dict)
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to a borrower, channel-neutral; the connector renders it."""

    text: str
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] | None = None
    template: TemplateUse | None = None
    """The template to send instead when the channel's window is closed (None: free text only)."""

    @property
    def as_template(self) -> bool:
        """True when the sender must send the approved template, not the text."""
        return self.template is not None and self.template.content_sid is not None

    def to_payload(self) -> dict[str, Any]:
        """The JSON form stored with the message."""
        data: dict[str, Any] = {}
        if self.buttons:
            data["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.custom:
            data["custom"] = self.custom
        if self.template is not None:
            data["template"] = {"key": self.template.key, "variables": dict(self.template.variables)}
        return data

    @classmethod
    def from_payload(cls, text: str, payload: dict[str, Any] | None) -> OutboundMessage:
        """Rebuild a message from its stored text and payload."""
        payload = payload or {}
        buttons = tuple(Button(b["title"], b["payload"]) for b in payload.get("buttons", []))
        stored = payload.get("template")
        template = (TemplateUse(str(stored["key"]), {str(k): str(v) for k, v in (stored.get("variables") or {}).items()})
                    if isinstance(stored, dict) and stored.get("key") else None)
        return cls(text=text, buttons=buttons, custom=payload.get("custom"), template=template)


# Characters a database refuses in text: NUL (PostgreSQL) and lone UTF-16 surrogates
# (not encodable as UTF-8, so no driver can send them).
_REFUSED = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
_NORMALISED_FIELDS = ("text", "sender", "external_id", "sender_name", "customer_id", "button_payload")


def clean_text(value: str) -> str:
    """``value`` with every character a database refuses replaced by U+FFFD."""
    return _REFUSED.sub(REPLACEMENT, value)


def escaped(value: str) -> str:
    """``value`` as JSON string escapes (``\\u0000``, ``\\ud800``): plain ASCII any database stores,
    and ``json.loads('"' + escaped + '"')`` gives the original back."""
    return json.dumps(value)[1:-1]


def normalise_inbound(inbound: InboundMessage) -> InboundMessage:
    """The message with refused characters replaced in every text field, the raw values kept.

    The one boundary rule for input from every channel (the router applies it
    before storing): a borrower's message is never refused for its characters.
    When anything was replaced, ``extra["raw"]`` maps each changed field to its
    original, escaped (``escaped``); the router stores that in the message's
    payload. Media URLs are cleaned too (their raw form is kept the same way).
    """
    changes: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for name in _NORMALISED_FIELDS:
        value = getattr(inbound, name)
        if isinstance(value, str) and _REFUSED.search(value):
            changes[name] = clean_text(value)
            raw[name] = escaped(value)
    media = inbound.media
    if any(_REFUSED.search(m.url) or (m.content_type and _REFUSED.search(m.content_type)) for m in media):
        raw["media"] = [escaped(m.url) for m in media]
        changes["media"] = tuple(MediaRef(clean_text(m.url), clean_text(m.content_type) if m.content_type else None)
                                 for m in media)
    if not changes:
        return inbound
    return replace(inbound, **changes, extra={**inbound.extra, "raw": raw})
