"""The router: stores every inbound message first, then hands it to the bot or to a human.

Contract (implemented by ``Router.receive``): every message a borrower sends
is answered by the bot or queued for a person, exactly once, whatever fails.

1. Normalise the input (``desk.messages.normalise_inbound``: characters a
   database refuses are replaced, the raw text kept escaped in the payload).
2. Store it through the conversation store (``ConversationStore.append_inbound``),
   deduplicated by the delivery's id within its conversation. In bot mode it
   is stored ``received`` and the write takes the conversation's processing
   lease for this router (this desk instance).
3. Bot mode: send to Rasa (``desk.botclient``), store the replies with their
   outbox rows (``append_replies``); a reply carrying ``custom.handoff``
   switches the conversation to people and queues it (``hand_off``). Rasa
   down, slow, or answering with no message or more than ``MAX_REPLIES``: a
   holding reply, the conversation joins the human queue. The write that
   stores the outcome also marks the message finished and gives the lease back.
4. Human mode: the message is stored ``queued_for_people`` and published to
   the console's event topic.

Durability: a message stored but not finished (the process died, the
database dropped, anything raised) is resumed, never answered "duplicate,
nothing": a redelivery by the provider or the in-app client takes it up
(``claim``), and ``sweep_once`` — run by every instance — takes over messages
whose lease ran out. Each start counts an attempt; a message whose processing
failed ``max_attempts`` times goes to people with the reason instead of to
the bot again. A redelivery of a finished message gets its stored replies.

Ordering and serialisation: messages of one conversation are handled one at
a time in this process by a per-conversation ``asyncio.Lock``, and across
instances by the conversation's lease in the database, so two instances never
call the bot for one conversation at once. The store numbers messages
gap-free.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Connection, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk.botclient import BotClient, BotFailed, BotUnavailable
from desk.events import EventBus
from desk.handoff_request import BOT_FAILED, BOT_UNAVAILABLE, PROCESSING_FAILED, HandoffRequest
from desk.masking import mask_text
from desk.messages import Channel, InboundMessage, OutboundMessage, normalise_inbound
from desk.store import (
    ConversationRecord,
    ConversationStore,
    DuplicateMessage,
    InboundState,
    MessageRecord,
    NewInbound,
    StoredInbound,
)
from storage.base import utcnow
from storage.models import Author, Conversation, ConversationMode, Message

log = logging.getLogger(__name__)

HOLDING_REPLY = (
    "Mohon maaf, Kak, asisten virtual kami sedang mengalami gangguan. Pesan Anda sudah kami "
    "terima dan akan segera dibalas oleh petugas CS kami. Terima kasih atas kesabarannya."
)

QUEUE_TOPIC = "queue"

# WhatsApp shows buttons as a numbered list; the borrower answers "1", "2." or "3)".
_NUMBERED_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


class RatingCapture(Protocol):
    """The handoff part's rating hook (``handoff.rating.capture``).

    Called for every bot-mode message of a conversation that has a closed
    handoff (a rating can only follow one), in the store's transaction that
    stores its reply. A reply means the message was the borrower's rating of a
    closed handoff, so it is answered by the desk and never reaches Rasa.
    """

    def __call__(self, session: AsyncSession, conversation: Conversation, text: str,
                 button_payload: str | None) -> Awaitable[OutboundMessage | None]: ...


class FirstContactNotice(Protocol):
    """The privacy part's notice hook (``privacy.notice.PrivacyNotice``).

    Asked once per conversation, when the replies to its first message are
    stored: a message it returns goes out before them, in the same write, so
    the notice and its version are recorded with the conversation (UU 27/2022
    asks the controller to inform before processing).
    """

    def __call__(self, channel: str) -> OutboundMessage | None: ...


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
    reply_messages: list[MessageRecord] = field(default_factory=list)
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


class Router:
    """Routes inbound messages to the bot or to people. One instance per process."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        bot: BotClient,
        events: EventBus,
        clock: Callable[[], datetime] = utcnow,
        max_message_chars: int = 4096,
        bot_timeout_seconds: float = 10.0,
        locks: ConversationLocks | None = None,
        capture_rating: RatingCapture | None = None,
        first_contact_notice: FirstContactNotice | None = None,
        owner: str | None = None,
        lease_seconds: float | None = None,
        max_attempts: int = 3,
        sweep_after_seconds: float = 10.0,
    ) -> None:
        """``owner`` names this instance in the leases it holds (a fresh id by default).

        ``lease_seconds`` must outlast one message's processing (the bot's
        timeout plus a few writes); default ``2 × bot timeout + 10``.
        ``sweep_after_seconds``: how old an unfinished message must be before
        the sweeper takes it (a fresh one is still being handled in line).
        """
        self.store = store
        self.bot = bot
        self.events = events
        self.clock = clock
        self.max_message_chars = max_message_chars
        self.bot_timeout_seconds = bot_timeout_seconds
        self.locks = locks or ConversationLocks()
        # The handoff part's rating hook: a closed handoff's 1–5 rating never reaches Rasa.
        self.capture_rating = capture_rating
        self.first_contact_notice = first_contact_notice
        self.owner = owner or f"router-{uuid.uuid4().hex[:16]}"
        self.lease = timedelta(seconds=lease_seconds if lease_seconds is not None else 2 * bot_timeout_seconds + 10)
        self.max_attempts = max_attempts
        self.sweep_after = timedelta(seconds=sweep_after_seconds)
        # How long a redelivery of a message another instance holds waits for its outcome: one bot call.
        self.redelivery_wait_seconds = bot_timeout_seconds + 5
        self._sweeper: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    async def receive(self, inbound: InboundMessage) -> ReceiveResult:
        """Store ``inbound``, then answer it with the bot or pass it to the human side.

        Raises ``MessageTooLong`` (nothing stored) when the text is over the
        limit. Any other exception means the message may be stored but is not
        finished: the caller answers "try again" and the redelivery (or the
        sweeper) resumes it.
        """
        inbound = normalise_inbound(inbound)
        if len(inbound.text) > self.max_message_chars:
            raise MessageTooLong(f"message has {len(inbound.text)} characters, limit {self.max_message_chars}")
        async with self.locks.hold((_channel_value(inbound.channel), inbound.sender)):
            # Timed once the lock is ours: the lease must run from the moment the work starts.
            now = self.clock()
            new = _new_inbound(inbound, now, owner=self.owner, lease_until=now + self.lease)
            try:
                stored = await self.store.append_inbound(new)
            except DuplicateMessage:
                return await self._redelivered(new)
            conversation, message = stored.conversation, stored.message
            if message.state == InboundState.QUEUED_FOR_PEOPLE.value:
                await self._publish(conversation, [message], to_queue=True)
                return ReceiveResult(False, conversation.public_id, message.id, conversation.mode)
            await self._publish(conversation, [message], to_queue=False)
            if not stored.leased:
                # Another instance is processing this conversation: wait for its lease.
                waited = await self._wait_for_lease(stored)
                if not waited.leased:
                    return await self._finished_result(waited, duplicate=False)
                stored = waited
            return await self._process(stored)

    # -- one message, from its lease to its outcome --------------------------------------

    async def _process(self, stored: StoredInbound) -> ReceiveResult:
        """Answer a ``received`` message whose conversation this router holds the lease of.

        On failure the reason is recorded and the lease given back (best
        effort: the database may be what failed), then the error propagates.
        """
        try:
            if stored.message.attempts > self.max_attempts:
                log.error("message %s of conversation %s failed processing %d times; handing it to people",
                          stored.message.id, stored.conversation.public_id, stored.message.attempts - 1)
                return await self._hold_for_people(
                    stored, PROCESSING_FAILED,
                    f"processing failed {stored.message.attempts - 1} times: {stored.message.last_error}")
            if self.capture_rating is not None and stored.conversation.has_closed_handoff:
                rated = await self._rating_reply(stored)
                if rated is not None:
                    return rated
            return await self._ask_bot(stored)
        except asyncio.CancelledError:
            # The request went away (client disconnect, shutdown): give the lease back in the
            # background so a redelivery or a sweeper need not wait for it to run out.
            self._give_back_later(stored, "cancelled before the outcome was stored")
            raise
        except Exception as exc:
            log.warning("processing message %s of conversation %s failed (attempt %d): %s",
                        stored.message.id, stored.conversation.public_id, stored.message.attempts,
                        type(exc).__name__)
            reason = f"{type(exc).__name__}: {mask_text(str(exc))[:500]}"
            try:
                await self.store.record_failure(stored.message.id, owner=self.owner, error=reason)
            except Exception:  # noqa: BLE001 - the database that failed the work may refuse this too
                # Keep trying in the background: the lease is given back as soon as the database
                # is back, so the retry is answered then, not when the lease runs out.
                self._give_back_later(stored, reason)
            raise

    def _give_back_later(self, stored: StoredInbound, reason: str) -> None:
        """Give the lease back in the background, retrying (100 ms → 1 s) while the database refuses,
        until it worked or the lease ran out anyway."""
        deadline = time.monotonic() + self.lease.total_seconds()

        async def give_back() -> None:
            delay = 0.1
            while True:
                try:
                    await self.store.record_failure(stored.message.id, owner=self.owner, error=reason)
                    return
                except Exception:  # noqa: BLE001 - the database is still down: try again shortly
                    if time.monotonic() + delay >= deadline:
                        return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

        task = asyncio.get_running_loop().create_task(give_back())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _claim(self, message_id: int) -> StoredInbound | None:
        now = self.clock()
        return await self.store.claim(message_id, owner=self.owner, lease_until=now + self.lease, now=now)

    async def _wait_for_lease(self, stored: StoredInbound, seconds: float | None = None) -> StoredInbound:
        """Poll for the conversation's lease until it is ours or the message was finished elsewhere.

        Bounded by ``seconds``, by default the other holder's lease: it gives
        it back when done, or it runs out. Past that bound the message is left
        to the sweepers.
        """
        bound = self.lease.total_seconds() + 5 if seconds is None else seconds
        delay, deadline = 0.02, time.monotonic() + bound
        current = stored
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
            claimed = await self._claim(stored.message.id)
            if claimed is None:
                break
            current = claimed
            if claimed.leased or claimed.message.state != InboundState.RECEIVED.value:
                return claimed
        return dataclasses.replace(current, leased=False)

    async def _redelivered(self, new: NewInbound) -> ReceiveResult:
        """A delivery already stored: resume it when unfinished, else answer with its stored replies."""
        existing = await self.store.inbound_by_external_id(new.channel, new.sender, new.external_id)
        if existing is None:
            raise RuntimeError("a delivery refused as a duplicate is not stored")
        if existing.message.state == InboundState.RECEIVED.value:
            claimed = await self._claim(existing.message.id)
            if claimed is not None and not claimed.leased and claimed.message.state == InboundState.RECEIVED.value:
                # Another instance holds the lease: it is answering this very message (the client
                # retried early), or it failed and gives the lease back as soon as its database
                # allows. Wait for either, up to one bot call, instead of answering "duplicate,
                # no replies" until the lease runs out.
                claimed = await self._wait_for_lease(claimed, self.redelivery_wait_seconds)
            if claimed is not None and claimed.leased:
                log.info("redelivery resumes unfinished message %s (attempt %d)", claimed.message.id,
                         claimed.message.attempts)
                return dataclasses.replace(await self._process(claimed), duplicate=True)
            existing = claimed or existing
        log.info("duplicate delivery channel=%s message_id=%s state=%s", new.channel, existing.message.id,
                 existing.message.state)
        return await self._finished_result(existing, duplicate=True)

    async def _finished_result(self, stored: StoredInbound, *, duplicate: bool) -> ReceiveResult:
        """What a message not processed by this call ended with: its stored replies (none while another
        instance is still on it)."""
        replies = await self.store.replies_to(stored.message.id)
        conversation = stored.conversation
        return ReceiveResult(duplicate, conversation.public_id, stored.message.id, conversation.mode,
                             [OutboundMessage.from_payload(m.text, m.payload) for m in replies], replies)

    # -- the sweeper ---------------------------------------------------------------------

    async def sweep_once(self, *, limit: int = 100) -> int:
        """Take over unfinished messages nobody holds a live lease on; return how many were processed.

        Every instance runs this: the lease decides which one processes a
        message, so two never do at once.
        """
        now = self.clock()
        handled = 0
        for item in await self.store.unfinished(stored_before=now - self.sweep_after, now=now, limit=limit):
            async with self.locks.hold((item.channel, item.sender)):
                claimed = await self._claim(item.message_id)
                if claimed is None or not claimed.leased:
                    continue
                log.warning("taking over unfinished message %s of conversation %s (attempt %d)",
                            claimed.message.id, claimed.conversation.public_id, claimed.message.attempts)
                try:
                    await self._process(claimed)
                except Exception:  # noqa: BLE001 - recorded on the message; the next sweep tries again
                    log.exception("sweeper could not finish message %s", claimed.message.id)
                    continue
                handled += 1
        return handled

    def start_sweeper(self, interval_seconds: float = 5.0) -> asyncio.Task[None]:
        """Run ``sweep_once`` every ``interval_seconds`` on the running loop until ``stop_sweeper``."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(interval_seconds),
                                                                   name="inbound-sweeper")
        return self._sweeper

    async def stop_sweeper(self) -> None:
        """Stop the sweeper task (a sweep in progress is cancelled; its lease runs out)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # noqa: BLE001 - the database may be down: try again next round
                log.exception("inbound sweep failed")
            await asyncio.sleep(interval)

    async def _rating_reply(self, stored: StoredInbound) -> ReceiveResult | None:
        """The desk's thank-you when the message rates a closed handoff (Rasa is not asked); else None."""
        assert self.capture_rating is not None
        text, choice = stored.message.text, stored.message.payload.get("button_payload")
        hook = partial(_rate, self.capture_rating, text, choice)
        answered = await self.store.answer_with(stored.conversation, hook, author=Author.SYSTEM.value,
                                                created_at=self.clock(), in_reply_to=stored.message.id,
                                                owner=self.owner)
        if answered is None:
            return None
        reply, reply_message = answered
        conversation = stored.conversation
        await self._publish(conversation, [reply_message], to_queue=False)
        return ReceiveResult(False, conversation.public_id, stored.message.id, conversation.mode,
                             [reply], [reply_message])

    # -- bot mode ---------------------------------------------------------------------

    async def _ask_bot(self, stored: StoredInbound) -> ReceiveResult:
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
        except BotFailed as exc:
            log.warning("bot failed on conversation %s, handing it to people: %s", conversation.public_id, exc)
            return await self._hold_for_people(stored, BOT_FAILED,
                                               f"the bot failed: {exc}; the borrower's last message is waiting")
        except (BotUnavailable, TimeoutError) as exc:
            log.warning("bot unavailable, handing conversation %s to people: %s",
                        conversation.public_id, exc or "timeout")
            return await self._hold_for_people(stored, BOT_UNAVAILABLE,
                                               "the bot did not answer; the borrower's last message is waiting")
        log.debug("bot answered conversation=%s replies=%d in %.1f ms", conversation.public_id,
                  len(replies), (time.perf_counter() - started) * 1000)
        return await self._store_replies(stored, replies)

    async def _store_replies(self, stored: StoredInbound, replies: list[OutboundMessage]) -> ReceiveResult:
        conversation = stored.conversation
        handoff: HandoffRequest | None = None
        sent: list[OutboundMessage] = []
        nlu: dict[str, Any] | None = None
        for reply in replies:
            marker = (reply.custom or {}).get("handoff")
            if isinstance(marker, dict) and handoff is None:
                handoff = HandoffRequest.from_custom(marker)
            reading = (reply.custom or {}).get("nlu")
            if isinstance(reading, dict) and nlu is None:
                nlu = reading
            if _worth_sending(reply):
                sent.append(reply)
        sent = self._with_notice(stored, sent)
        reading = _nlu_reading(nlu) if nlu is not None else None
        payload = {**(stored.message.payload or {}), "nlu": reading} if reading is not None else None
        if handoff is not None:
            if payload is not None:
                await self._keep_payload(stored.message, payload)  # the bot handed off: the rare path
            return await self._hand_off(stored, sent, handoff, author=Author.BOT.value)
        # The reading goes with the replies, in their transaction: a write of its own was one more
        # transaction and writer hop for every message the real bot answers (it always sends one).
        rows = await self.store.append_replies(conversation, sent, author=Author.BOT.value, created_at=self.clock(),
                                               in_reply_to=stored.message.id, owner=self.owner,
                                               in_reply_to_payload=payload)
        if reading is not None and isinstance(stored.message.payload, dict):
            stored.message.payload["nlu"] = reading  # the frozen record's dict, for whoever reads it next
        await self._publish(conversation, rows, to_queue=False)
        return ReceiveResult(False, conversation.public_id, stored.message.id, conversation.mode, sent, rows)

    async def _keep_payload(self, message: MessageRecord, payload: dict[str, Any]) -> None:
        """Store ``payload`` (with the bot's NLU reading) on ``message`` in a write of its own."""
        table = Message.__table__

        def write(conn: Connection) -> None:
            conn.execute(update(table).where(table.c.id == message.id).values(payload=payload))

        await self.store.run(write)
        if isinstance(message.payload, dict):
            message.payload["nlu"] = payload["nlu"]  # the frozen record's dict, for whoever reads it next

    async def _hand_off(self, stored: StoredInbound, replies: list[OutboundMessage], request: HandoffRequest,
                        *, author: str) -> ReceiveResult:
        conversation = stored.conversation
        rows = await self.store.hand_off(conversation, replies, request, author=author, created_at=self.clock(),
                                         in_reply_to=stored.message.id, owner=self.owner)
        # The queue first: that is what the consoles wait for.
        await self._publish_handoff(conversation, request)
        await self._publish(conversation, [stored.message, *rows], to_queue=True)
        return ReceiveResult(False, conversation.public_id, stored.message.id, ConversationMode.HUMAN.value,
                             replies, rows)

    async def _hold_for_people(self, stored: StoredInbound, reason: str, note: str) -> ReceiveResult:
        """The bot (or the processing) failed: a polite holding reply, and the conversation joins the
        human queue with ``reason``."""
        request = HandoffRequest(reason=reason, priority="medium", summary={"note": note})
        return await self._hand_off(stored, self._with_notice(stored, [OutboundMessage(text=HOLDING_REPLY)]),
                                    request, author=Author.SYSTEM.value)

    def _with_notice(self, stored: StoredInbound, replies: list[OutboundMessage]) -> list[OutboundMessage]:
        """``replies``, preceded by the privacy notice when they answer the conversation's first message.

        The notice is shown once: when a reply already contains its text (the
        borrower's first message asked what their data is used for, and the
        bot answered with the notice), that reply carries the notice's record
        instead of the same paragraph arriving twice.
        """
        if self.first_contact_notice is None or stored.message.seq != 1:
            return replies
        notice = self.first_contact_notice(stored.conversation.channel)
        if notice is None:
            return replies
        for i, reply in enumerate(replies):
            if notice.text and notice.text in reply.text:
                shown = dataclasses.replace(reply, custom={**(reply.custom or {}), **(notice.custom or {})})
                return [*replies[:i], shown, *replies[i + 1:]]
        return [notice, *replies]

    # -- events -----------------------------------------------------------------------

    async def _publish(self, conversation: ConversationRecord, messages: Sequence[MessageRecord], *,
                       to_queue: bool) -> None:
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

    async def _publish_handoff(self, conversation: ConversationRecord, request: HandoffRequest) -> None:
        event = {"type": "handoff", "conversation_id": conversation.public_id,
                 "channel": conversation.channel, "reason": request.reason,
                 "priority": request.priority, "category": request.category}
        try:
            await self.events.publish(QUEUE_TOPIC, event)
            await self.events.publish(conversation_topic(conversation.public_id), event)
        except Exception:  # noqa: BLE001
            log.exception("event bus publish failed for handoff of %s", conversation.public_id)


def message_event(conversation: Any, message: Any) -> dict[str, Any]:
    """The one JSON shape of a "message" event on the bus (console, in-app websocket, bench).

    ``conversation`` and ``message`` are store records or ORM rows (agent replies): the same attribute names.
    """
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


def _new_inbound(inbound: InboundMessage, now: datetime, *, owner: str, lease_until: datetime) -> NewInbound:
    """What the store writes for ``inbound``: its payload (button, media, the raw input when it was
    normalised) and whether it may be a numbered choice (WhatsApp shows buttons as a numbered list)."""
    channel = _channel_value(inbound.channel)
    payload: dict[str, Any] = {}
    if inbound.button_payload is not None:
        payload["button_payload"] = inbound.button_payload
    if inbound.media:
        payload["media"] = [{"url": m.url, "content_type": m.content_type} for m in inbound.media]
    raw = inbound.extra.get("raw")
    if raw:
        payload["raw"] = raw
    may_be_choice = inbound.button_payload is None and channel == Channel.WHATSAPP.value \
        and _NUMBERED_CHOICE.match(inbound.text) is not None
    return NewInbound(channel=channel, sender=inbound.sender, external_id=inbound.external_id, text=inbound.text,
                      payload=payload, created_at=now, author=Author.BORROWER.value,
                      sender_name=inbound.sender_name, customer_id=inbound.customer_id,
                      may_be_numbered_choice=may_be_choice, lease_owner=owner, lease_until=lease_until)


async def _rate(capture: RatingCapture, text: str, choice: str | None, session: AsyncSession,
                conversation: Conversation) -> OutboundMessage | None:
    return await capture(session, conversation, text, choice)


def _channel_value(channel: Channel | str) -> str:
    return channel.value if isinstance(channel, Channel) else str(channel)


def _nlu_reading(nlu: dict[str, Any]) -> dict[str, Any]:
    """How the bot's NLU read a borrower message, as kept on it (``payload["nlu"]``, issue #16).

    The console marks the messages the bot did not understand and staff label
    them (handoff/nlu_review.py). Only the known keys are kept: the bot is
    another process.
    """
    return {k: nlu.get(k) for k in ("intent", "confidence", "candidates", "flag")}


# Keys of a bot reply's ``custom`` that are instructions to the desk, never shown to the borrower.
INSTRUCTION_KEYS = frozenset({"handoff", "nlu"})


def _worth_sending(reply: OutboundMessage) -> bool:
    """A reply that only carries desk instructions (handoff, NLU reading) is not a message to the borrower."""
    if reply.text or reply.buttons:
        return True
    return bool(reply.custom and set(reply.custom) - INSTRUCTION_KEYS)
