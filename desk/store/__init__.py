"""The conversation store: the one write path of conversations, their messages and their replies.

``ConversationStore`` names every write the router and the desk API make to
conversation and message rows, one method per use case. There is one
implementation per database engine, each owning all of that engine's SQL:

* ``desk.store.sqlite.SqliteConversationStore`` — one writer thread with a
  plain ``sqlite3`` connection and group commit;
* ``desk.store.postgres.PostgresConversationStore`` — single statements and
  multi-row batches (one round trip, one commit for a burst).

Both share the SQLAlchemy code of the rare operations
(``desk.store.sql.SqlConversationStore``). The application root picks the
engine from ``DATABASE_URL`` (``aduan.services.build_store``); nothing above the
store asks which engine runs. Every method returns the frozen records below,
whatever the engine.

Session-level helpers for code that writes inside its own ORM transaction
(agent replies, tickets, closing a handoff) are in ``desk.store.orm`` and
re-exported here.
"""
from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from desk import pii
from desk.handoff_request import HandoffRequest
from desk.messages import OutboundMessage
from desk.store.orm import (
    CLOSED_HANDOFF_STATUS,
    append_message,
    conversation_by_public_id,
    find_or_open_conversation,
    next_seq,
    set_mode,
)
from storage.models import Conversation

__all__ = [
    "CLOSED_HANDOFF_STATUS", "ConversationRecord", "ConversationStore", "DuplicateMessage", "InboundState",
    "MessageRecord", "NewInbound", "SessionReply", "StoredInbound", "Unfinished", "append_message", "conversation_by_public_id",
    "find_or_open_conversation", "next_seq", "set_mode",
]

T = TypeVar("T")


class InboundState(str, enum.Enum):
    """How far the desk got with one inbound message (``messages.state``; outbound rows have none).

    ``received`` is the only unfinished state: the message is stored but neither
    answered nor with people. A message leaves it exactly once, in the same
    write that stores its outcome.
    """

    RECEIVED = "received"
    ANSWERED = "answered"
    QUEUED_FOR_PEOPLE = "queued_for_people"


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """A conversation as the store returns it, from every engine."""

    id: int
    public_id: str
    channel: str
    sender_enc: str | None
    """The channel address, encrypted (``desk.pii``); None once anonymised. Copied to outbox rows as is."""
    sender_name: str | None
    customer_id: str | None
    mode: str
    last_seq: int
    created_at: datetime
    last_message_at: datetime
    has_closed_handoff: bool = False
    """Whether a handoff of this conversation was closed (only then can a message be a rating)."""
    sender: str | None = None
    """The channel address in clear when the caller handed it to this very call (``append_inbound``);
    never read from the database. ``clear_sender`` falls back to decrypting ``sender_enc``."""

    def clear_sender(self) -> str | None:
        """The channel address in clear: ``sender`` when known, else ``sender_enc`` decrypted (None once
        anonymised). Raises ``desk.pii.PiiKeyError`` when the configured keys do not open it."""
        if self.sender is not None:
            return self.sender
        if not self.sender_enc:
            return None
        return pii.keyring().decrypt(pii.sender_kind(self.channel), self.sender_enc)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A stored message as the store returns it, from every engine (same names as ``Message``)."""

    id: int
    conversation_id: int
    seq: int
    channel: str
    external_id: str | None
    direction: str
    author: str
    agent_id: int | None
    text: str
    payload: dict[str, Any]
    created_at: datetime
    state: str | None = None
    """``InboundState`` value of an inbound message; None for outbound messages."""
    attempts: int = 0
    """How many times processing of this inbound message started."""
    reply_to_id: int | None = None
    """The inbound message an outbound one answers (bot, holding or rating reply)."""
    last_error: str | None = None
    """Why the last processing attempt of an inbound message failed."""


@dataclass(frozen=True, slots=True)
class NewInbound:
    """A borrower message to store, as the router hands it to the store."""

    channel: str
    sender: str
    """The channel address in clear (normalised by the connector); stored only as key and ciphertext."""
    external_id: str
    text: str
    payload: dict[str, Any]
    created_at: datetime
    author: str = "borrower"
    sender_name: str | None = None
    customer_id: str | None = None
    """Recorded on the conversation: set only when the channel vouches for the borrower (in-app token)."""
    may_be_numbered_choice: bool = False
    """A WhatsApp "1"/"2." that may pick a button the desk last showed (mapped in the same write)."""
    lease_owner: str | None = None
    """The desk instance storing the message: it takes the conversation's processing lease in the same
    write when the conversation is in bot mode and nobody else holds a live lease."""
    lease_until: datetime | None = None
    """When that lease runs out if it is not given back (a crashed instance)."""
    sender_key: str | None = None
    """``desk.pii.sender_key`` of the address when the caller computed it already (the router does, once
    per message, for its lock); else the store computes it (``key_of``)."""

    def key_of(self) -> str:
        """The conversation's look-up key: ``sender_key``, or one HMAC now."""
        return self.sender_key or pii.sender_key(pii.keyring(), self.channel, self.sender)


@dataclass(frozen=True, slots=True)
class Unfinished:
    """An inbound message still ``received`` whose conversation nobody holds a live lease on."""

    message_id: int
    channel: str
    sender_key: str


@dataclass(frozen=True, slots=True)
class StoredInbound:
    """An inbound message and its conversation right after a store write."""

    conversation: ConversationRecord
    message: MessageRecord
    leased: bool = True
    """Whether the caller holds the conversation's processing lease (may call the bot for it)."""

    @property
    def bot_text(self) -> str:
        """What the bot is sent: the pressed or numbered button's payload, else the text."""
        choice = self.message.payload.get("button_payload")
        return str(choice) if choice is not None else self.message.text


class DuplicateMessage(Exception):
    """This delivery is already stored: same conversation and same provider message id.

    The only error ``append_inbound`` raises for a repeated delivery, whether the
    first copy was stored long ago, by a concurrent request, or by another desk
    instance. Nothing was written.
    """

    def __init__(self, channel: str, sender: str, external_id: str) -> None:
        super().__init__(f"duplicate delivery on {channel}")
        self.channel = channel
        self.sender = sender
        self.external_id = external_id


class SessionReply(Protocol):
    """A hook that may answer a message inside the store's transaction (the handoff part's rating capture).

    Returns the reply to store and send, or None (then nothing is stored).
    """

    def __call__(self, session: AsyncSession, conversation: Conversation) -> Awaitable[OutboundMessage | None]: ...


class ConversationStore(ABC):
    """Every write of conversation and message rows, named for its use case.

    Guarantees of every engine:

    * each method is atomic: all of its rows are written, or none;
    * ``seq`` numbers of a conversation are allocated under its row lock (or the
      single SQLite writer), strictly increasing and gap-free;
    * no method returns before its write is committed: an answer is never given
      for something that might still be rolled back;
    * a repeated delivery raises ``DuplicateMessage`` and writes nothing;
    * every outbound message is stored together with its outbox row;
    * an inbound message leaves ``received`` in the same write that stores its
      outcome (replies, or the queue entry for people), and that write gives the
      conversation's processing lease back: there is no moment where a message
      is answered but still looks unfinished, or the reverse.

    The processing lease (``conversations.lease_owner`` / ``lease_until``) is
    what lets several desk instances share one database: only the holder of a
    live lease calls the bot for a conversation, and a lease that runs out (its
    holder crashed) may be taken by anyone (``claim``).
    """

    @abstractmethod
    async def append_inbound(self, new: NewInbound) -> StoredInbound:
        """Store a borrower message at the end of its conversation, opening the conversation if needed.

        Deduplicated by ``(conversation, external_id)`` with a unique constraint
        (no read before the write). Records ``new.customer_id`` on the
        conversation when given; maps a numbered choice to its button payload
        (``payload["button_payload"]``) when ``new.may_be_numbered_choice``.

        In bot mode the message is stored ``received`` and, in the same write,
        ``new.lease_owner`` takes the conversation's lease unless another owner
        holds a live one (``StoredInbound.leased``; ``attempts`` is 1 when taken,
        else 0). In human mode it is stored ``queued_for_people``: people answer it.
        Raises ``DuplicateMessage`` for a repeated delivery.
        """

    @abstractmethod
    async def append_replies(self, conversation: ConversationRecord, replies: Sequence[OutboundMessage], *,
                             author: str, created_at: datetime, in_reply_to: int | None = None,
                             owner: str | None = None,
                             in_reply_to_payload: dict[str, Any] | None = None) -> list[MessageRecord]:
        """Store ``replies`` (in order) and queue each in the outbox, in one write.

        With ``in_reply_to``: the replies name that inbound message, which
        becomes ``answered`` in the same write (with ``in_reply_to_payload`` as
        its payload when given: the bot's NLU reading added), and ``owner``'s
        lease on the conversation is given back. Nudges the in-process outbox
        worker after the commit.
        """

    @abstractmethod
    async def hand_off(self, conversation: ConversationRecord, replies: Sequence[OutboundMessage],
                       request: HandoffRequest, *, author: str, created_at: datetime,
                       in_reply_to: int | None = None, owner: str | None = None) -> list[MessageRecord]:
        """Store ``replies``, switch the conversation to people and queue it for them, in one write.

        The queue entry follows the handoff part's rules (``HandoffQueue``): a
        conversation already waiting or with an agent keeps its one open
        handoff, which the new request only raises and completes. With
        ``in_reply_to``: that message becomes ``queued_for_people`` and
        ``owner``'s lease is given back in the same write.
        """

    @abstractmethod
    async def answer_with(self, conversation: ConversationRecord, hook: SessionReply, *,
                          author: str, created_at: datetime, in_reply_to: int | None = None,
                          owner: str | None = None) -> tuple[OutboundMessage, MessageRecord] | None:
        """Run ``hook`` in one transaction and store and queue its reply there; None when it did not answer
        (then nothing is written). A reply finishes ``in_reply_to`` as ``append_replies`` does."""

    @abstractmethod
    async def claim(self, message_id: int, *, owner: str, lease_until: datetime,
                    now: datetime) -> StoredInbound | None:
        """Take the lease of the message's conversation to (re)process it; one transaction.

        The lease is taken when it is free, ran out (before ``now``) or is
        already ``owner``'s. ``leased`` in the result is True only when it was
        taken *and* the message is still ``received``; then ``attempts`` was
        counted up. Otherwise the message's current state is returned and the
        lease is left as it was. None when there is no such message.
        """

    @abstractmethod
    async def record_failure(self, message_id: int, *, owner: str, error: str) -> None:
        """Note why processing failed (``last_error``) and give ``owner``'s lease back, so a redelivery
        or a sweeper may try again at once. The message stays ``received``."""

    @abstractmethod
    async def unfinished(self, *, stored_before: datetime, now: datetime, limit: int = 100) -> list[Unfinished]:
        """``received`` messages stored before ``stored_before`` whose conversation has no live lease at
        ``now``, oldest first: what a crashed or failed instance left behind."""

    @abstractmethod
    async def replies_to(self, message_id: int) -> list[MessageRecord]:
        """The stored replies to inbound ``message_id``, in order (what its first delivery was answered)."""

    @abstractmethod
    async def set_mode(self, conversation_id: int, mode: str) -> None:
        """Switch who answers the conversation (``bot`` or ``human``). Raises ``ValueError`` for another value."""

    @abstractmethod
    async def record_verified_customer(self, public_id: str, customer_id: str) -> bool:
        """Record the verified customer on the conversation; False when there is no such conversation."""

    @abstractmethod
    async def conversation_by_public_id(self, public_id: str) -> ConversationRecord | None:
        """The conversation Rasa and the action server know as ``public_id``, or None."""

    @abstractmethod
    async def inbound_by_external_id(self, channel: str, sender_key: str, external_id: str) -> StoredInbound | None:
        """The stored copy of a delivery (``leased`` is False: nothing is taken), or None."""

    @abstractmethod
    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run synchronous SQLAlchemy Core ``fn(connection)`` in one write transaction; return its result.

        Committed when ``fn`` returns, rolled back when it raises. On SQLite it
        runs on the store's writer thread, so it queues behind the hot writes
        instead of racing them for the file lock (the outbox worker uses it).
        """

    @abstractmethod
    async def close(self) -> None:
        """Release what the store holds (threads, connections); the ``Database`` is disposed by its owner."""
