"""The customer-care window: when a channel lets the desk write free text, and what to send instead.

WhatsApp delivers free text from a business only within 24 hours of the
borrower's last message on that conversation; outside it Twilio still
answers ``queued`` and the message fails later (error 63016). Only an
approved template (``desk.templates``) may be sent then. Telegram and the
in-app chat have no such window.

``choose_form`` is the one place this rule lives: the outbox worker calls it
before every send, the agent console calls ``window_of`` to show when only a
template can be sent.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from desk.messages import Channel, OutboundMessage
from desk.templates import TemplateBook

# The channels with a window, and its length.
CUSTOMER_CARE_WINDOWS: dict[str, timedelta] = {Channel.WHATSAPP.value: timedelta(hours=24)}
# The desk stores a message a moment after WhatsApp received it, and a send takes a moment
# to reach WhatsApp: the desk treats the window as closed a little early.
SAFETY_MARGIN = timedelta(minutes=2)


class Form(str, enum.Enum):
    """How the outbox sends one message."""

    TEXT = "text"
    TEMPLATE = "template"
    HOLD = "held"


# Why a message is held (``outbox.delivery_error``); the console explains each in Indonesian.
HOLD_NO_TEMPLATE = "no_template"
HOLD_TEMPLATE_NOT_REGISTERED = "template_not_registered"
HOLD_TEMPLATE_VARIABLE = "template_variable_missing"


@dataclass(frozen=True, slots=True)
class Window:
    """A conversation's customer-care window."""

    last_inbound_at: datetime | None
    closes_at: datetime | None
    """When free text stops being allowed (None: the borrower never wrote, it was never open)."""

    def is_open(self, now: datetime) -> bool:
        """True while free text may be sent."""
        return self.closes_at is not None and now < self.closes_at


@dataclass(frozen=True, slots=True)
class Decision:
    """What the outbox does with one message: send ``message`` as text or template, or hold it."""

    form: Form
    message: OutboundMessage | None
    hold_reason: str | None = None
    detail: str | None = None
    """English detail for logs and ``outbox.last_error`` (held messages)."""


def has_window(channel: str) -> bool:
    """True when ``channel`` limits free text to a window after the borrower's last message."""
    return channel in CUSTOMER_CARE_WINDOWS


def window_of(channel: str, last_inbound_at: datetime | None) -> Window | None:
    """The window of a conversation on ``channel`` whose borrower last wrote at ``last_inbound_at``;
    None when the channel has no window."""
    length = CUSTOMER_CARE_WINDOWS.get(channel)
    if length is None:
        return None
    if last_inbound_at is None:
        return Window(None, None)
    return Window(last_inbound_at, last_inbound_at + length - SAFETY_MARGIN)


def choose_form(channel: str, message: OutboundMessage, *, last_inbound_at: datetime | None, now: datetime,
                templates: TemplateBook, template_only: bool = False) -> Decision:
    """Free text inside the window, the message's approved template outside it, else hold it.

    ``template_only``: send the template whatever the window says (an agent
    chose a template, or WhatsApp already refused the text with 63016). A
    message that names no template, or one the lender file lacks or cannot
    fill, is held, never sent blindly. Pure: no I/O.
    """
    window = window_of(channel, last_inbound_at)
    if window is None or (not template_only and window.is_open(now)):
        return Decision(Form.TEXT, message)
    use = message.template
    if use is None:
        return Decision(Form.HOLD, None, HOLD_NO_TEMPLATE,
                        "outside the customer-care window and the message has no template")
    template = templates.get(use.key)
    if template is None:
        return Decision(Form.HOLD, None, HOLD_TEMPLATE_NOT_REGISTERED,
                        f"outside the customer-care window and template {use.key!r} is not in the lender file")
    try:
        variables = template.content_variables(use.variables)
    except KeyError as missing:
        return Decision(Form.HOLD, None, HOLD_TEMPLATE_VARIABLE,
                        f"template {use.key!r} needs variable {missing.args[0]!r}")
    sendable = replace(message, buttons=(),
                       template=replace(use, content_sid=template.content_sid, content_variables=variables))
    return Decision(Form.TEMPLATE, sendable)
