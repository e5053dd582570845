"""The conversation store: conversations, their messages, and the outbox.

One conversation per channel and sender. Messages are strictly ordered by
``seq`` within a conversation. Every outbound message has an outbox row
written in the same transaction, so a reply is either stored and queued for
sending, or not stored at all.
"""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, Integer, String, Text, UniqueConstraint, and_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from desk import pii
from storage.base import Base, utcnow


class ConversationMode(str, enum.Enum):
    """Who answers the borrower right now."""

    BOT = "bot"
    HUMAN = "human"


class Direction(str, enum.Enum):
    INBOUND = "in"
    OUTBOUND = "out"


class Author(str, enum.Enum):
    """Who wrote a message."""

    BORROWER = "borrower"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class OutboxStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Not sent: outside the channel's customer-care window with no template to send
    # instead (desk.window); sent once the borrower writes again.
    HELD = "held"


class DeliveryStatus(str, enum.Enum):
    """What the provider reported about a sent message (Twilio status callbacks, Telegram refusals)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"


# The channels a conversation can be on (desk.messages.Channel; storage does not import the message types).
SENDER_CHANNELS = ("whatsapp", "telegram", "inapp")


def sealed_sender(channel: str, sender: str) -> dict[str, str]:
    """``sender_key`` and ``sender_enc`` of a conversation's channel address (``Conversation(**…)``)."""
    ring = pii.keyring()
    return {"sender_key": pii.sender_key(ring, channel, sender),
            "sender_enc": ring.encrypt(pii.sender_kind(channel), sender)}


def new_public_id() -> str:
    """An opaque id for a conversation, safe to show to Rasa and in URLs."""
    return uuid.uuid4().hex


class Conversation(Base):
    """A borrower's thread on one channel. Also the Rasa sender id (``public_id``)."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    channel: Mapped[str] = mapped_column(String(16))
    # The channel's address of the borrower (WhatsApp number +62…, Telegram chat id, or in-app
    # customer id), never in clear (desk.pii): ``sender_key`` is its keyed hash, what the desk finds
    # the conversation by (for WhatsApp equal to ``desk.pii.phone_key`` of the number);
    # ``sender_enc`` is it encrypted, for replies and the roles that see it in full. An anonymised
    # conversation has ``anon-<id>`` as key and no ciphertext.
    sender_key: Mapped[str] = mapped_column(String(64))
    sender_enc: Mapped[str | None] = mapped_column(String(255))
    sender_name: Mapped[str | None] = mapped_column(String(128))
    # Set when the borrower is verified: by the in-app token, or by the bot's
    # identity check through the desk API.
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    mode: Mapped[str] = mapped_column(String(8), default=ConversationMode.BOT.value)
    # Last used message sequence number; incremented under the conversation's
    # row lock so messages are strictly ordered.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The processing lease: which desk instance (router) may call the bot for
    # this conversation until when. Taken in the write that stores a bot-mode
    # message, given back in the write that stores its outcome; one that ran
    # out (a crashed instance) may be taken by anyone (desk.store).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.seq", lazy="raise"
    )

    def __init__(self, *, sender: str | None = None, **kw: Any) -> None:
        """``sender`` (the clear address; needs ``channel``) is stored as ``sender_key`` and ``sender_enc``."""
        if sender is not None:
            kw.update(sealed_sender(kw["channel"], sender))
        super().__init__(**kw)

    @classmethod
    def sender_is(cls, sender: str, channel: str | None = None) -> ColumnElement[bool]:
        """The condition "this conversation's address is ``sender``" (on ``channel``, or on any channel):
        the look-up keys of ``sender``, one HMAC per channel."""
        ring = pii.keyring()
        if channel is not None:
            return and_(cls.channel == channel, cls.sender_key == pii.sender_key(ring, channel, sender))
        return cls.sender_key.in_([pii.sender_key(ring, c, sender) for c in SENDER_CHANNELS])

    def clear_sender(self) -> str | None:
        """The channel address in clear (decrypted now; None once anonymised). Raises
        ``desk.pii.PiiKeyError`` when the configured keys do not open it."""
        if not self.sender_enc:
            return None
        return pii.keyring().decrypt(pii.sender_kind(self.channel), self.sender_enc)


class Message(Base):
    """One message in a conversation, inbound or outbound."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        # Provider retries carry the same id: the second delivery is refused here.
        # Scoped by conversation (channel and sender) in its own column, so two
        # borrowers' ids can never collide, whatever characters they contain.
        UniqueConstraint("conversation_id", "external_id"),
        # The sweeper's look-up of unfinished inbound messages (few rows at any time).
        Index("ix_messages_received", "created_at", postgresql_where=text("state = 'received'"),
              sqlite_where=text("state = 'received'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(3))
    author: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(Integer)
    # The text as stored: with phone numbers, NIK and e-mail addresses masked when it held any, the
    # original then sealed in ``text_enc`` (desk.pii.seal_text); ``clear_text`` gives it back.
    text: Mapped[str] = mapped_column(Text, default="")
    text_enc: Mapped[str | None] = mapped_column(Text)
    # Buttons, media references, custom bot payloads (handoff markers).
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Inbound messages only (desk.store.InboundState): received → answered |
    # queued_for_people, how many times processing started, and why the last
    # attempt failed. NULL on outbound messages.
    state: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # Outbound messages: the id of the inbound message they answer (bot, holding or rating
    # reply), always in the same conversation and later in it. No foreign key and no index:
    # they cost every reply a lookup and a lock of the inbound row, and the look-up
    # (desk.store: replies_to) goes through (conversation_id, seq) instead.
    reply_to_id: Mapped[int | None] = mapped_column(Integer)

    conversation: Mapped[Conversation] = relationship(back_populates="messages", lazy="raise")

    def __init__(self, *, text: str | None = None, **kw: Any) -> None:
        """``text`` is stored as ``desk.pii.seal_text`` says (masked, the original sealed, when it holds
        identifiers)."""
        if text is not None:
            kw["text"], kw["text_enc"] = pii.seal_text(text)
        super().__init__(**kw)

    def clear_text(self) -> str:
        """The text as written (the sealed original opened). Raises ``desk.pii.PiiKeyError`` when the
        configured keys do not open it."""
        return pii.open_text(self.text, self.text_enc)


class OutboxItem(Base):
    """A message waiting to leave through its channel's provider."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      # Status callbacks name the provider's message id.
                      Index("ix_outbox_provider_message_id", "provider_message_id"),
                      # The outbox worker's claim asks, for every due item, whether its conversation
                      # has an older one still waiting, and whether another is pending (desk.outbox_worker).
                      # On conversation_id alone both read the conversation's whole sent history, on the
                      # SQLite writer thread, once per reply: the longer the conversation, the slower.
                      Index("ix_outbox_conversation_status", "conversation_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    # The conversation's ``sender_enc``, copied in the write that queues the reply; the worker opens
    # it just before sending (desk.pii): the outbox holds no address in clear either.
    recipient_enc: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(8), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    # How it went out: "text", or "template" (outside the customer-care window; desk.window).
    form: Mapped[str | None] = mapped_column(String(8))
    # Send the approved template whatever the window says: an agent chose a template, or
    # WhatsApp refused the text with 63016 and the desk resends it once as its template.
    template_only: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # The provider's latest report on the sent message (DeliveryStatus; desk.delivery), never
    # moved backwards, and its error code (Twilio's ErrorCode, "Forbidden" on Telegram) or,
    # for a held message, why it is held.
    delivery_status: Mapped[str | None] = mapped_column(String(12))
    delivery_error: Mapped[str | None] = mapped_column(String(40))
    delivery_updated_at: Mapped[datetime | None] = mapped_column()


class VerificationAttempt(Base):
    """One identity check the bot asked for, kept to throttle guessing.

    The claimed phone number and loan id are stored only as keyed hashes
    (``desk.verification.claim_key``): enough to count repeated guesses
    against the same account, useless to anyone reading the table.
    """

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_phone_time", "phone_key", "created_at"),
        Index("ix_verification_loan_time", "loan_key", "created_at"),
        Index("ix_verification_conversation_time", "conversation_public_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_public_id: Mapped[str] = mapped_column(String(64))
    phone_key: Mapped[str] = mapped_column(String(64))
    loan_key: Mapped[str] = mapped_column(String(64))
    # The customer the check was about, once one succeeded in its conversation (that attempt and the
    # conversation's earlier ones): identity records are kept 5 years after that customer's relationship
    # with the lender ends (privacy.retention, "verification_records"). NULL: no customer was identified.
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column()
    # True when the check was refused without asking the lending core.
    throttled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PiiKeyCheck(Base):
    """Which PII key the database's look-up keys were made with, and a sealed canary to prove it.

    One row. The desk checks it at start-up (``aduan.pii_keys.check_keys``): a
    canary that does not open means the configured keys are wrong for this
    database (a clear error instead of unreadable rows later), and a current
    key other than ``key_id`` means ``aduan pii-rekey`` has not run since the
    keys rotated, so look-ups would miss every existing borrower.
    """

    __tablename__ = "pii_key_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16))
    canary: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
