"""The router: stores every inbound message first, then hands it to the bot or to a human.

Contract (implemented by ``Router.receive``):

1. Store the inbound message, deduplicated by ``(channel, external_id)``. A
   duplicate returns ``ReceiveResult(duplicate=True, ...)`` and does nothing else.
2. Find or open the conversation (``desk.store.find_or_open_conversation``).
3. Bot mode: send to Rasa (``desk.botclient``), store each reply through
   ``desk.outbox.enqueue``; a reply carrying ``custom.handoff`` switches the
   conversation to human mode and queues it (``handoff.queue.enqueue_handoff``).
   Rasa down or slow: a holding reply, the conversation joins the human queue.
4. Human mode: publish the message to the console's event topic.

Ordering: messages of one conversation are handled one at a time, in arrival
order, by a per-conversation ``asyncio.Lock`` held from storing the inbound
message until its replies are stored; ``desk.store.next_seq`` orders them in
the database. Across several desk instances the database still orders and
deduplicates (row lock + unique constraints), but two instances could call the
bot for one conversation at once; docs/core.md describes the PostgreSQL
advisory-lock / Redis-lock option for that deployment.
"""
from __future__ import annotations

import asyncio
import importlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from desk.botclient import BotClient, BotUnavailable
from desk.events import EventBus
from desk.handoff_request import BOT_UNAVAILABLE, HandoffEnqueuer, HandoffRequest
from desk.messages import Channel, InboundMessage, OutboundMessage
from desk.outbox import enqueue, notify_enqueued
from desk.pg_inbound import PgInboundWriter
from desk.sqlite_fastpath import SqliteInboundWriter
from desk.store import (
    ConversationRow,
    MessageRow,
    attached,
    append_inbound_one_statement,
    append_outbound_one_statement,
    find_or_open_conversation,
    has_closed_handoff,
    insert_message,
    lock_for_append,
    next_seq,
    set_mode,
)
from storage.base import utcnow
from storage.models import Author, Conversation, ConversationMode, Direction, Message

log = logging.getLogger(__name__)

HOLDING_REPLY = (
    "Mohon maaf, Kak, asisten virtual kami sedang mengalami gangguan. Pesan Anda sudah kami "
    "terima dan akan segera dibalas oleh petugas CS kami. Terima kasih atas kesabarannya."
)

QUEUE_TOPIC = "queue"

# WhatsApp shows buttons as a numbered list; the borrower answers "1", "2." or "3)".
_NUMBERED_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


FastHandoff = Callable[..., Awaitable[list[MessageRow] | None]]
"""``handoff.fastpath.hand_off(db, sqlite_writer, conversation, replies, request, created_at)``.

Stores the bot's replies, switches the conversation to people and queues it
in one write; None when it does not apply (then nothing was written).
"""

RatingCapture = Callable[..., Awaitable[OutboundMessage | None]]
"""``handoff.rating.capture(session, conversation, text, button_payload) -> OutboundMessage | None``.

Called for every bot-mode message of a conversation that has a closed handoff
(a rating can only follow one; the router reads that with the stored row), in
the transaction that stores the message on the slow path and right after it on
the fast paths. A reply means the message was the borrower's rating of a closed
handoff, so it is answered by the desk and never reaches Rasa.
"""


def _installed_hook(module: str, name: str) -> Any:
    """``module.name`` when the handoff part is installed, else None (the desk runs without it)."""
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        if exc.name not in (module, module.split(".")[0]):
            raise
        return None
    return getattr(loaded, name)


def default_rating_capture() -> RatingCapture | None:
    """The handoff part's rating hook when it is installed."""
    return _installed_hook("handoff.rating", "capture")  # type: ignore[no-any-return]


def default_fast_handoff() -> FastHandoff | None:
    """The handoff part's one-write handoff when it is installed."""
    return _installed_hook("handoff.fastpath", "hand_off")  # type: ignore[no-any-return]


def conversation_topic(public_id: str) -> str:
    """The event-bus topic that carries one conversation's live messages."""
    return f"conversation:{public_id}"


@dataclass(frozen=True)
class ReceiveResult:
    """What the router did with one inbound message."""

    duplicate: bool
    conversation_public_id: str
    message_id: int | None
    mode: str
    replies: list[OutboundMessage] = field(default_factory=list)
    """Replies produced synchronously (bot mode), for channels that answer in the response body."""
    reply_messages: list[Message | MessageRow] = field(default_factory=list)
    """The stored rows of ``replies``, in order: a channel answers from them without reading back."""

    @property
    def reply_message_ids(self) -> list[int]:
        """The database ids of the stored replies."""
        return [m.id for m in self.reply_messages]


class MessageTooLong(ValueError):
    """The inbound text exceeds ``Settings.max_message_chars``; connectors answer 413 before this."""


class ConversationLocks:
    """One FIFO ``asyncio.Lock`` per conversation key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, key: tuple[str, str]) -> AsyncIterator[None]:
        """Hold the lock of ``key`` for the ``async with`` block (waiters are served in order)."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


@dataclass(slots=True)
class _Stored:
    conversation: Conversation | ConversationRow
    message: Message | MessageRow
    bot_text: str
    rating_reply: tuple[OutboundMessage, Message | MessageRow] | None = None


class Router:
    """Routes inbound messages to the bot or to people. One instance per process."""

    def __init__(
        self,
        *,
        db: Any,
        bot: BotClient,
        events: EventBus,
        enqueue_handoff: HandoffEnqueuer,
        clock: Callable[[], datetime] = utcnow,
        max_message_chars: int = 4096,
        bot_timeout_seconds: float = 10.0,
        locks: ConversationLocks | None = None,
        capture_rating: RatingCapture | None = None,
        sqlite_writer: SqliteInboundWriter | None = None,
        fast_handoff: FastHandoff | None = None,
    ) -> None:
        self.db = db
        # The handoff part's rating hook: a closed handoff's 1–5 rating never reaches Rasa.
        self.capture_rating = capture_rating
        self.bot = bot
        self.events = events
        self.enqueue_handoff = enqueue_handoff
        self.clock = clock
        self.max_message_chars = max_message_chars
        self.bot_timeout_seconds = bot_timeout_seconds
        self.locks = locks or ConversationLocks()
        self.sqlite_writer = sqlite_writer
        # PostgreSQL: concurrent inbound messages share one statement and one commit.
        self.pg_writer: PgInboundWriter | None = None if db.is_sqlite else PgInboundWriter(db.engine)
        self.fast_handoff = fast_handoff

    async def receive(self, inbound: InboundMessage) -> ReceiveResult:
        """Store ``inbound``, then answer it with the bot or pass it to the human side.

        Raises ``MessageTooLong`` (nothing stored) when the text is over the limit.
        """
        if len(inbound.text) > self.max_message_chars:
            raise MessageTooLong(f"message has {len(inbound.text)} characters, limit {self.max_message_chars}")
        channel = _channel_value(inbound.channel)
        async with self.locks.hold((channel, inbound.sender)):
            try:
                stored = await self._store_inbound(inbound, channel)
            except IntegrityError:
                # Two identical deliveries raced past each other (another instance,
                # or a retry on another connection): the unique constraint decided.
                duplicate = await self._duplicate_result(channel, inbound.external_id)
                if duplicate is None:
                    raise
                return duplicate
            conversation, message = stored.conversation, stored.message
            if conversation.mode == ConversationMode.HUMAN.value:
                await self._publish(conversation, [message], to_queue=True)
                return ReceiveResult(False, conversation.public_id, message.id, conversation.mode)
            if stored.rating_reply is not None:
                reply, reply_message = stored.rating_reply
                await self._publish(conversation, [message, reply_message], to_queue=False)
                return ReceiveResult(False, conversation.public_id, message.id, conversation.mode,
                                     [reply], [reply_message])
            await self._publish(conversation, [message], to_queue=False)
            return await self._ask_bot(stored)

    # -- storing the inbound message -------------------------------------------------

    async def _store_inbound(self, inbound: InboundMessage, channel: str) -> _Stored:
        """Store the message at the end of its conversation (IntegrityError if it is a duplicate).

        Deduplication is the unique constraint on (channel, external_id): no
        read before the write, and a concurrent duplicate on another instance
        is refused the same way as a sequential one.
        """
        payload: dict[str, Any] = {}
        if inbound.button_payload is not None:
            payload["button_payload"] = inbound.button_payload
        if inbound.media:
            payload["media"] = [{"url": m.url, "content_type": m.content_type} for m in inbound.media]
        may_be_choice = inbound.button_payload is None and channel == Channel.WHATSAPP.value \
            and _NUMBERED_CHOICE.match(inbound.text) is not None
        if not may_be_choice:
            fast = await self._append_fast(inbound, channel, payload)
            if fast is not None:
                conversation, message = fast
                rating_reply = None
                if self._may_rate(conversation) and conversation.has_closed_handoff:
                    async with self.db.transaction() as session:
                        rating_reply = await self._capture_rating(session, attached(session, conversation),
                                                                  inbound.text, inbound.button_payload)
                return _Stored(conversation, message, inbound.button_payload or inbound.text, rating_reply)
        async with self.db.transaction() as session:
            conversation = await lock_for_append(session, channel, inbound.sender,
                                                 customer_id=inbound.customer_id)
            if conversation is not None:
                seq = conversation.last_seq
            else:
                conversation = await find_or_open_conversation(
                    session, channel, inbound.sender, sender_name=inbound.sender_name
                )
                if inbound.customer_id and conversation.customer_id != inbound.customer_id:
                    # Only a channel that verified the borrower (in-app token) sets this.
                    conversation.customer_id = inbound.customer_id
                seq = await next_seq(session, conversation.id)
            choice = inbound.button_payload
            if may_be_choice:
                choice = await _numbered_choice(session, conversation.id, inbound.text)
                if choice is not None:
                    payload["button_payload"] = choice
            message = await insert_message(
                session, conversation, seq,
                direction=Direction.INBOUND.value, author=Author.BORROWER.value,
                text=inbound.text, payload=payload, external_id=inbound.external_id,
                created_at=self.clock(),
            )
            rating_reply = None
            if self._may_rate(conversation) and await has_closed_handoff(session, conversation.id):
                # Same transaction as the message: one commit, and the rating and
                # its thank-you are stored together or not at all.
                rating_reply = await self._capture_rating(session, conversation, inbound.text, choice)
        return _Stored(conversation, message, choice if choice is not None else inbound.text, rating_reply)

    async def _append_fast(self, inbound: InboundMessage, channel: str,
                           payload: dict[str, Any]) -> tuple[ConversationRow, MessageRow] | None:
        """Store the message of an existing conversation in one statement (PostgreSQL, grouped with
        concurrent ones by ``desk.pg_inbound``) or one thread hop (SQLite); None when the
        conversation does not exist yet."""
        kwargs = dict(external_id=inbound.external_id, text=inbound.text, payload=payload,
                      author=Author.BORROWER.value, customer_id=inbound.customer_id, created_at=self.clock())
        if self.db.is_sqlite:
            if self.sqlite_writer is None:
                return None
            return await self.sqlite_writer.append(channel, inbound.sender, **kwargs)
        if self.pg_writer is not None:
            return await self.pg_writer.append(channel, inbound.sender, **kwargs)
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await append_inbound_one_statement(conn, channel, inbound.sender, **kwargs)

    def _may_rate(self, conversation: Conversation | ConversationRow) -> bool:
        """Whether the rating hook may apply: it is installed and the bot answers the conversation.

        Callers also require a closed handoff of the conversation (a rating only follows
        one); the fast paths read that with the stored row, so most messages skip the
        hook's own transaction.
        """
        return self.capture_rating is not None and conversation.mode == ConversationMode.BOT.value

    async def _capture_rating(self, session: AsyncSession, conversation: Conversation, text: str,
                              choice: str | None) -> tuple[OutboundMessage, Message] | None:
        assert self.capture_rating is not None
        reply = await self.capture_rating(session, conversation, text, choice)
        if reply is None:
            return None
        reply_message, _ = await enqueue(session, conversation, reply, author=Author.SYSTEM.value)
        return reply, reply_message

    async def _duplicate_result(self, channel: str, external_id: str) -> ReceiveResult | None:
        async with self.db.session() as session:
            row = (await session.execute(
                select(Message.id, Conversation.public_id, Conversation.mode)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.channel == channel, Message.external_id == external_id)
            )).first()
        if row is None:
            return None
        log.info("duplicate delivery ignored channel=%s message_id=%s", channel, row.id)
        return ReceiveResult(True, row.public_id, row.id, row.mode)

    # -- bot mode ---------------------------------------------------------------------

    async def _ask_bot(self, stored: _Stored) -> ReceiveResult:
        conversation = stored.conversation
        metadata = {
            "channel": conversation.channel,
            "conversation_id": conversation.public_id,
            "customer_id": conversation.customer_id,
            "phone": conversation.sender if conversation.channel == Channel.WHATSAPP.value else None,
        }
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.bot_timeout_seconds):
                replies = await self.bot.send(conversation.public_id, stored.bot_text, metadata)
        except (BotUnavailable, TimeoutError) as exc:
            log.warning("bot unavailable, handing conversation %s to people: %s",
                        conversation.public_id, exc or "timeout")
            return await self._hold_for_people(stored)
        log.debug("bot answered conversation=%s replies=%d in %.1f ms", conversation.public_id,
                  len(replies), (time.perf_counter() - started) * 1000)
        return await self._store_replies(stored, replies)

    async def _store_replies(self, stored: _Stored, replies: list[OutboundMessage]) -> ReceiveResult:
        conversation = stored.conversation
        handoff: HandoffRequest | None = None
        sent: list[OutboundMessage] = []
        for reply in replies:
            marker = (reply.custom or {}).get("handoff")
            if isinstance(marker, dict) and handoff is None:
                handoff = HandoffRequest.from_custom(marker)
            if _worth_sending(reply):
                sent.append(reply)
        if handoff is None and sent:
            # The common case: plain replies, no handoff. One statement / one hop.
            rows = await self._append_replies_fast(conversation, sent)
            if rows is not None:
                notify_enqueued(self.db.engine)
                await self._publish(conversation, rows, to_queue=False)
                return ReceiveResult(False, conversation.public_id, stored.message.id, conversation.mode,
                                     sent, list(rows))
        if handoff is not None and self.fast_handoff is not None:
            stored_replies = await self.fast_handoff(self.db, self.sqlite_writer, conversation, sent, handoff,
                                                     self.clock())
            if stored_replies is not None:
                notify_enqueued(self.db.engine)
                # The queue first: that is what the consoles wait for.
                await self._publish_handoff(conversation, handoff)
                await self._publish(conversation, [stored.message, *stored_replies], to_queue=True)
                return ReceiveResult(False, conversation.public_id, stored.message.id, ConversationMode.HUMAN.value,
                                     sent, list(stored_replies))
        messages: list[Message | MessageRow] = []
        async with self.db.transaction() as session:
            conversation = attached(session, conversation)
            for reply in sent:
                message, _ = await enqueue(session, conversation, reply, author=Author.BOT.value)
                messages.append(message)
            if handoff is not None:
                await set_mode(session, conversation, ConversationMode.HUMAN.value)
                await self.enqueue_handoff(session, conversation, handoff)
        if handoff is not None:
            await self._publish_handoff(conversation, handoff)
            await self._publish(conversation, [stored.message, *messages], to_queue=True)
        else:
            await self._publish(conversation, messages, to_queue=False)
        return ReceiveResult(False, conversation.public_id, stored.message.id, conversation.mode,
                             sent, messages)

    async def _append_replies_fast(self, conversation: Conversation | ConversationRow,
                                   replies: list[OutboundMessage]) -> list[MessageRow] | None:
        rows = [(r.text, r.to_payload()) for r in replies]
        if self.db.is_sqlite:
            if self.sqlite_writer is None:
                return None
            return await self.sqlite_writer.append_outbound(conversation, rows, author=Author.BOT.value,
                                                            created_at=self.clock())
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await append_outbound_one_statement(conn, conversation, rows, author=Author.BOT.value,
                                                       created_at=self.clock())

    async def _hold_for_people(self, stored: _Stored) -> ReceiveResult:
        """Rasa failed: a polite holding reply, and the conversation joins the human queue."""
        conversation = stored.conversation
        holding = OutboundMessage(text=HOLDING_REPLY)
        request = HandoffRequest(reason=BOT_UNAVAILABLE, priority="medium",
                                 summary={"note": "the bot did not answer; the borrower's last message is waiting"})
        async with self.db.transaction() as session:
            conversation = attached(session, conversation)
            message, _ = await enqueue(session, conversation, holding, author=Author.SYSTEM.value)
            await set_mode(session, conversation, ConversationMode.HUMAN.value)
            await self.enqueue_handoff(session, conversation, request)
        await self._publish_handoff(conversation, request)
        await self._publish(conversation, [stored.message, message], to_queue=True)
        return ReceiveResult(False, conversation.public_id, stored.message.id, conversation.mode,
                             [holding], [message])

    # -- events -----------------------------------------------------------------------

    async def _publish(self, conversation: Conversation | ConversationRow,
                       messages: Sequence[Message | MessageRow], *, to_queue: bool) -> None:
        """Tell live viewers about stored messages; a bus failure never undoes what is stored."""
        topic = conversation_topic(conversation.public_id)
        for message in messages:
            event = message_event(conversation, message)
            try:
                await self.events.publish(topic, event)
                if to_queue:
                    await self.events.publish(QUEUE_TOPIC, event)
            except Exception:  # noqa: BLE001 - the message is stored; the console can reload
                log.exception("event bus publish failed for conversation %s", conversation.public_id)

    async def _publish_handoff(self, conversation: Conversation | ConversationRow,
                               request: HandoffRequest) -> None:
        event = {"type": "handoff", "conversation_id": conversation.public_id,
                 "channel": conversation.channel, "reason": request.reason,
                 "priority": request.priority, "category": request.category}
        try:
            await self.events.publish(QUEUE_TOPIC, event)
            await self.events.publish(conversation_topic(conversation.public_id), event)
        except Exception:  # noqa: BLE001
            log.exception("event bus publish failed for handoff of %s", conversation.public_id)


def message_event(conversation: Conversation | ConversationRow, message: Message | MessageRow) -> dict[str, Any]:
    """The one JSON shape of a "message" event on the bus (console, in-app websocket, bench)."""
    return {
        "type": "message",
        "conversation_id": conversation.public_id,
        "channel": conversation.channel,
        "message_id": message.id,
        "seq": message.seq,
        "direction": message.direction,
        "author": message.author,
        "agent_id": message.agent_id,
        "text": message.text,
        "payload": message.payload,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }


def _channel_value(channel: Channel | str) -> str:
    return channel.value if isinstance(channel, Channel) else str(channel)


def _worth_sending(reply: OutboundMessage) -> bool:
    """A reply that only carries a handoff marker is an instruction, not a message to the borrower."""
    if reply.text or reply.buttons:
        return True
    return bool(reply.custom and set(reply.custom) - {"handoff"})


async def _numbered_choice(session: AsyncSession, conversation_id: int, text: str) -> str | None:
    """Map "1", "2"… to the payload of the buttons the desk last showed as a numbered list.

    Only buttons sent after the borrower's previous message count: a number
    typed later in the conversation is just a number.
    """
    match = _NUMBERED_CHOICE.match(text)
    if match is None:
        return None
    index = int(match.group(1)) - 1
    rows = (await session.execute(
        select(Message.direction, Message.payload)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.seq.desc())
        .limit(5)
    )).all()
    for direction, payload in rows:
        if direction == Direction.INBOUND.value:
            return None
        buttons = (payload or {}).get("buttons") or []
        if buttons:
            if 0 <= index < len(buttons):
                return str(buttons[index]["payload"])
            return None
    return None
