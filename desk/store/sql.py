"""What every engine's conversation store shares: SQLAlchemy code for the rare operations.

The engines (``desk.store.sqlite``, ``desk.store.postgres``) implement the hot
writes — an inbound message of an existing conversation, plain bot replies,
a batch of handoffs — in their own SQL. Everything else (a new conversation,
a numbered choice, a rating, a handoff merged into an open one, look-ups) is
written here once, with the ORM, in one transaction each.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from desk import pii
from desk.handoff_request import HandoffQueue, HandoffRequest, HandoffRow
from desk.messages import OutboundMessage
from desk.outbox import enqueue, notify_enqueued
from desk.store import (
    ConversationRecord,
    ConversationStore,
    DuplicateMessage,
    InboundState,
    MessageRecord,
    NewInbound,
    SessionReply,
    StoredInbound,
    Unfinished,
)
from desk.store.orm import (
    CLOSED_HANDOFF_EXISTS_SQL,
    append_message,
    detached_conversation,
    find_or_open_conversation,
    has_closed_handoff,
    lock_for_append,
    next_seq,
)
from desk.store.orm import set_mode as set_mode_in
from storage.db import Database
from storage.models import Conversation, ConversationMode, Direction, Message

log = logging.getLogger(__name__)

# WhatsApp shows buttons as a numbered list; the borrower answers "1", "2." or "3)".
NUMBERED_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")

I = TypeVar("I")
R = TypeVar("R")


def conversation_record(conversation: Conversation, *, has_closed_handoff: bool = False) -> ConversationRecord:
    """The record of an ORM conversation."""
    return ConversationRecord(
        conversation.id, conversation.public_id, conversation.channel, conversation.sender_enc,
        conversation.sender_name, conversation.customer_id, conversation.mode, conversation.last_seq,
        conversation.created_at, conversation.last_message_at, has_closed_handoff,
    )


def message_record(message: Message) -> MessageRecord:
    """The record of an ORM message."""
    return MessageRecord(
        message.id, message.conversation_id, message.seq, message.channel, message.external_id,
        message.direction, message.author, message.agent_id, message.clear_text(), dict(message.payload or {}),
        message.created_at, message.state, message.attempts or 0, message.reply_to_id, message.last_error,
    )


def lease_is_free(conversation: Any, owner: str | None, now: datetime) -> bool:
    """Whether ``owner`` may take the conversation's lease at ``now`` (the rule the engines' SQL repeats:
    bot mode, and no lease, a lease that ran out, or one ``owner`` already holds)."""
    if owner is None or conversation.mode != ConversationMode.BOT.value:
        return False
    until = conversation.lease_until
    return until is None or until <= now or conversation.lease_owner == owner


@dataclass(frozen=True, slots=True)
class HandoffItem:
    """One handoff waiting for the next batch write of an engine."""

    conversation_id: int
    channel: str
    recipient: str | None  # the conversation's sender_enc (desk.pii), copied to the outbox rows
    replies: list[tuple[str, dict[str, Any]]]
    row: HandoffRow
    author: str
    created_at: datetime
    in_reply_to: int | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class HandoffWritten:
    """What an engine's batch wrote for one handoff."""

    messages: list[tuple[int, int]]  # (message id, seq) of the stored replies, in order
    handoff_id: int | None           # None: an open handoff already existed, nothing inserted
    ticket_found: bool


class GroupCommit(Generic[I, R]):
    """Writes of one kind grouped: while one batch is being written the next one gathers, so a
    burst costs a few round trips and commits instead of one each. At most one item per key in
    a batch (a later one waits for the next). If the database refuses a whole batch with
    ``IntegrityError`` (another instance raced one of its rows), each item is written alone and
    only the loser sees the error; any other failure fails every item of the batch."""

    def __init__(self, write: Callable[[list[I]], Awaitable[list[R]]], key: Callable[[I], Any], *,
                 writers: int = 3) -> None:
        self._write = write
        self._key = key
        self._writers_max = writers
        self._pending: list[tuple[I, asyncio.Future[R]]] = []
        self._writers: set[asyncio.Task[None]] = set()

    async def submit(self, item: I) -> R:
        """Queue ``item`` for the next batch; its result once that batch is committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._writers) < self._writers_max:
            task = asyncio.create_task(self._drain())
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._take()
            try:
                results = await self._write([item for item, _ in batch])
            except IntegrityError:
                for item, future in batch:
                    try:
                        (result,) = await self._write([item])
                    except Exception as exc:  # noqa: BLE001 - handed to the caller
                        _settle(future, exc=exc)
                    else:
                        _settle(future, result)
                continue
            except Exception as exc:  # noqa: BLE001 - every caller sees the failure
                for _, future in batch:
                    _settle(future, exc=exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result)

    def _take(self) -> list[tuple[I, asyncio.Future[R]]]:
        batch, rest, seen = [], [], set()
        for entry in self._pending:
            key = self._key(entry[0])
            (rest if key in seen else batch).append(entry)
            seen.add(key)
        self._pending = rest
        return batch


def _settle(future: asyncio.Future[Any], result: Any = None, *, exc: BaseException | None = None) -> None:
    if future.done():
        return  # the caller went away (cancelled)
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class SqlConversationStore(ConversationStore):
    """The shared part of the engines: SQLAlchemy ORM for everything off the hot path."""

    def __init__(self, db: Database, handoff: HandoffQueue) -> None:
        self.db = db
        self.handoff = handoff
        self._handoffs: GroupCommit[HandoffItem, HandoffWritten | None] | None = None
        self._handoffs_loop: asyncio.AbstractEventLoop | None = None

    # -- engine primitives ------------------------------------------------------------

    @abstractmethod
    async def _append_inbound_fast(self, new: NewInbound) -> StoredInbound | None:
        """Store a message of an existing conversation in the engine's fast write.

        None when the conversation does not exist yet (nothing written); raises
        ``DuplicateMessage`` for a repeated delivery.
        """

    @abstractmethod
    async def _write_handoffs(self, items: list[HandoffItem]) -> list[HandoffWritten | None]:
        """Write a batch of handoffs in one transaction (None: the conversation is gone)."""

    # -- use cases --------------------------------------------------------------------

    async def append_inbound(self, new: NewInbound) -> StoredInbound:
        if not new.may_be_numbered_choice:
            stored = await self._append_inbound_fast(new)
            if stored is not None:
                return stored
        try:
            return await self._append_inbound_orm(new)
        except IntegrityError as exc:
            raise DuplicateMessage(new.channel, new.sender, new.external_id) from exc

    async def _append_inbound_orm(self, new: NewInbound) -> StoredInbound:
        payload = dict(new.payload)
        async with self.db.transaction() as session:
            conversation = await lock_for_append(session, new.channel, new.key_of(), customer_id=new.customer_id)
            if conversation is not None:
                seq = conversation.last_seq
            else:
                conversation = await find_or_open_conversation(session, new.channel, new.sender,
                                                               sender_name=new.sender_name)
                if new.customer_id and conversation.customer_id != new.customer_id:
                    conversation.customer_id = new.customer_id
                seq = await next_seq(session, conversation.id)
            leased = lease_is_free(conversation, new.lease_owner, new.created_at)
            if leased:
                conversation.lease_owner, conversation.lease_until = new.lease_owner, new.lease_until
            if new.may_be_numbered_choice and "button_payload" not in payload:
                choice = await _numbered_choice(session, conversation.id, new.text)
                if choice is not None:
                    payload["button_payload"] = choice
            state = InboundState.RECEIVED if conversation.mode == ConversationMode.BOT.value \
                else InboundState.QUEUED_FOR_PEOPLE
            message = await append_message(
                session, conversation, seq=seq, direction=Direction.INBOUND.value, author=new.author,
                text=new.text, payload=payload, external_id=new.external_id, created_at=new.created_at,
                state=state.value, attempts=1 if leased else 0)
            closed = await has_closed_handoff(session, conversation.id)
            record = dataclasses.replace(conversation_record(conversation, has_closed_handoff=closed),
                                         sender=new.sender)
            stored = StoredInbound(record, message_record(message), leased=leased)
        return stored

    async def hand_off(self, conversation: ConversationRecord, replies: Sequence[OutboundMessage],
                       request: HandoffRequest, *, author: str, created_at: datetime,
                       in_reply_to: int | None = None, owner: str | None = None) -> list[MessageRecord]:
        row = self.handoff.plan(request, conversation.channel, created_at)
        if row is not None:
            item = HandoffItem(conversation.id, conversation.channel, conversation.sender_enc,
                               [(r.text, r.to_payload()) for r in replies], row, author, created_at,
                               in_reply_to, owner)
            stored = await self._hand_off_one_write(conversation, request, item)
            if stored is not None:
                return stored
        async with self.db.transaction() as session:
            orm = detached_conversation(conversation)
            session.add(orm)
            messages = [message_record((await enqueue(session, orm, reply, author=author,
                                                      in_reply_to=in_reply_to))[0])
                        for reply in replies]
            await set_mode_in(session, orm, ConversationMode.HUMAN.value)
            await self.handoff.enqueue(session, orm, request)
            await _finish(session, conversation.id, in_reply_to, InboundState.QUEUED_FOR_PEOPLE, owner)
        return messages

    async def _hand_off_one_write(self, conversation: ConversationRecord, request: HandoffRequest,
                                  item: HandoffItem) -> list[MessageRecord] | None:
        """The one-write handoff; None when it did not apply (nothing written): the reference path runs."""
        row, bodies, author, created_at = item.row, item.replies, item.author, item.created_at
        try:
            written = await self._handoff_batches().submit(item)
        except IntegrityError:
            log.info("concurrent handoff of conversation %s; taking the reference path", conversation.public_id)
            return None
        if written is None:
            return None
        notify_enqueued(self.db.engine)
        if row.ticket_number and not written.ticket_found:
            log.warning("handoff names unknown ticket %s; kept in the summary only", row.ticket_number)
        if written.handoff_id is None:
            # Already queued or with an agent: raise its priority and fill the gaps (the reference rules).
            async with self.db.transaction() as session:
                orm = detached_conversation(conversation)
                session.add(orm)
                await self.handoff.enqueue(session, orm, request)
        return [MessageRecord(message_id, conversation.id, seq, conversation.channel, None, "out", author, None,
                              body, payload, created_at, reply_to_id=item.in_reply_to)
                for (message_id, seq), (body, payload) in zip(written.messages, bodies, strict=True)]

    def _handoff_batches(self) -> GroupCommit[HandoffItem, HandoffWritten | None]:
        loop = asyncio.get_running_loop()
        if self._handoffs is None or self._handoffs_loop is not loop:
            self._handoffs = GroupCommit(self._write_handoffs, key=lambda item: item.conversation_id)
            self._handoffs_loop = loop
        return self._handoffs

    async def answer_with(self, conversation: ConversationRecord, hook: SessionReply, *,
                          author: str, created_at: datetime, in_reply_to: int | None = None,
                          owner: str | None = None) -> tuple[OutboundMessage, MessageRecord] | None:
        async with self.db.transaction() as session:
            orm = detached_conversation(conversation)
            session.add(orm)
            reply = await hook(session, orm)
            if reply is None:
                return None
            message, _ = await enqueue(session, orm, reply, author=author, in_reply_to=in_reply_to)
            await _finish(session, conversation.id, in_reply_to, InboundState.ANSWERED, owner)
            record = message_record(message)
        return reply, record

    # -- processing state -------------------------------------------------------------

    async def claim(self, message_id: int, *, owner: str, lease_until: datetime,
                    now: datetime) -> StoredInbound | None:
        return await self.run(lambda conn: _claim(conn, message_id, owner, lease_until, now))

    async def record_failure(self, message_id: int, *, owner: str, error: str) -> None:
        def write(conn: Connection) -> None:
            conversation_id = conn.execute(update(_MESSAGES).where(_MESSAGES.c.id == message_id)
                                           .values(last_error=error[:2000])
                                           .returning(_MESSAGES.c.conversation_id)).scalar()
            if conversation_id is not None:
                _release(conn, conversation_id, owner)

        await self.run(write)

    async def unfinished(self, *, stored_before: datetime, now: datetime, limit: int = 100) -> list[Unfinished]:
        query = (
            select(_MESSAGES.c.id, _CONVERSATIONS.c.channel, _CONVERSATIONS.c.sender_key)
            .join(_CONVERSATIONS, _CONVERSATIONS.c.id == _MESSAGES.c.conversation_id)
            .where(_MESSAGES.c.state == InboundState.RECEIVED.value, _MESSAGES.c.created_at < stored_before,
                   or_(_CONVERSATIONS.c.lease_until.is_(None), _CONVERSATIONS.c.lease_until <= now))
            .order_by(_MESSAGES.c.id).limit(limit)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return [Unfinished(r.id, r.channel, r.sender_key) for r in rows]

    async def replies_to(self, message_id: int) -> list[MessageRecord]:
        # Replies follow their message in its conversation: the (conversation_id, seq) index finds them.
        inbound = select(Message.conversation_id, Message.seq).where(Message.id == message_id).subquery()
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Message).join(inbound, Message.conversation_id == inbound.c.conversation_id)
                .where(Message.seq > inbound.c.seq, Message.reply_to_id == message_id).order_by(Message.seq))
            return [message_record(m) for m in rows]

    async def set_mode(self, conversation_id: int, mode: str) -> None:
        if mode not in (ConversationMode.BOT.value, ConversationMode.HUMAN.value):
            raise ValueError(f"unknown conversation mode: {mode!r}")
        async with self.db.transaction() as session:
            await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(mode=mode))

    async def record_verified_customer(self, public_id: str, customer_id: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(update(Conversation).where(Conversation.public_id == public_id)
                                           .values(customer_id=customer_id))
        return bool(result.rowcount)

    async def conversation_by_public_id(self, public_id: str) -> ConversationRecord | None:
        async with self.db.session() as session:
            found = await session.scalar(select(Conversation).where(Conversation.public_id == public_id))
            if found is None:
                return None
            return conversation_record(found, has_closed_handoff=await has_closed_handoff(session, found.id))

    async def inbound_by_external_id(self, channel: str, sender_key: str, external_id: str) -> StoredInbound | None:
        async with self.db.session() as session:
            row = (await session.execute(
                select(Message, Conversation).join(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.channel == channel, Conversation.sender_key == sender_key,
                       Message.external_id == external_id, Message.direction == Direction.INBOUND.value)
            )).first()
            if row is None:
                return None
            message, conversation = row
            closed = await has_closed_handoff(session, conversation.id)
            return StoredInbound(conversation_record(conversation, has_closed_handoff=closed),
                                 message_record(message), leased=False)


_MESSAGES = Message.__table__
_CONVERSATIONS = Conversation.__table__
# Read with the row, as the hot paths do (the handoffs table is the handoff part's; see desk.store.orm).
_HAS_CLOSED_HANDOFF = literal_column(CLOSED_HANDOFF_EXISTS_SQL.format(id="conversations.id"))


async def _finish(session: AsyncSession, conversation_id: int, in_reply_to: int | None, state: InboundState,
                  owner: str | None) -> None:
    """In the caller's transaction: ``in_reply_to`` leaves ``received`` for ``state``, and ``owner``'s
    lease on the conversation is given back."""
    if in_reply_to is not None:
        await session.execute(update(Message).where(Message.id == in_reply_to,
                                                    Message.state == InboundState.RECEIVED.value)
                              .values(state=state.value))
    if owner is not None:
        await session.execute(update(Conversation).where(Conversation.id == conversation_id,
                                                         Conversation.lease_owner == owner)
                              .values(lease_owner=None, lease_until=None))


def _release(conn: Connection, conversation_id: int, owner: str) -> None:
    conn.execute(update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == conversation_id,
                                              _CONVERSATIONS.c.lease_owner == owner)
                 .values(lease_owner=None, lease_until=None))


def _claim(conn: Connection, message_id: int, owner: str, lease_until: datetime,
           now: datetime) -> StoredInbound | None:
    """``ConversationStore.claim`` in the caller's write transaction (synchronous Core, both engines)."""
    conversation_id = conn.execute(select(_MESSAGES.c.conversation_id)
                                   .where(_MESSAGES.c.id == message_id)).scalar()
    if conversation_id is None:
        return None
    c = _CONVERSATIONS
    taken = conn.execute(
        update(c).where(c.c.id == conversation_id, c.c.mode == ConversationMode.BOT.value,
                        or_(c.c.lease_until.is_(None), c.c.lease_until <= now, c.c.lease_owner == owner))
        .values(lease_owner=owner, lease_until=lease_until).returning(c.c.id)).first() is not None
    leased = False
    if taken:
        leased = conn.execute(
            update(_MESSAGES).where(_MESSAGES.c.id == message_id,
                                    _MESSAGES.c.state == InboundState.RECEIVED.value)
            .values(attempts=_MESSAGES.c.attempts + 1).returning(_MESSAGES.c.id)).first() is not None
        if not leased:
            _release(conn, conversation_id, owner)  # finished meanwhile: nothing to hold it for
    message = conn.execute(select(_MESSAGES).where(_MESSAGES.c.id == message_id)).one()
    conversation = conn.execute(select(c, _HAS_CLOSED_HANDOFF.label("has_closed_handoff"))
                                .where(c.c.id == conversation_id)).one()
    return StoredInbound(
        ConversationRecord(conversation.id, conversation.public_id, conversation.channel, conversation.sender_enc,
                           conversation.sender_name, conversation.customer_id, conversation.mode,
                           conversation.last_seq, conversation.created_at, conversation.last_message_at,
                           bool(conversation.has_closed_handoff)),
        MessageRecord(message.id, message.conversation_id, message.seq, message.channel, message.external_id,
                      message.direction, message.author, message.agent_id, pii.open_text(message.text, message.text_enc),
                      dict(message.payload or {}), message.created_at, message.state, message.attempts,
                      message.reply_to_id, message.last_error),
        leased=leased,
    )


async def _numbered_choice(session: AsyncSession, conversation_id: int, text: str) -> str | None:
    """Map "1", "2"… to the payload of the buttons the desk last showed as a numbered list.

    Only buttons sent after the borrower's previous message count: a number
    typed later in the conversation is just a number.
    """
    match = NUMBERED_CHOICE.match(text)
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
