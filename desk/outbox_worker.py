"""The outbox worker: sends queued replies through their channel's ``Sender``.

Claiming is a single ``UPDATE … WHERE id IN (SELECT … [FOR UPDATE SKIP LOCKED])
RETURNING`` that moves items to ``sending`` and gives them a lease, so
several desk instances can run workers on one database and never send one
item twice. On SQLite the database has a single writer, so the same
conditional UPDATE is the claim.

A claim is a lease: ``next_attempt_at`` is pushed ``lease_seconds`` ahead.
Each outcome is recorded as soon as its send returns (sends that return
together share one transaction), so if the process dies, only the sends
still in flight at that moment — at most one per claimed conversation, each
bounded by ``send_timeout`` — can have been accepted by the provider without
being marked sent; their lease runs out and another worker sends them again.
That is the one at-least-once edge (docs/core.md). When the database refuses
a record while the process lives, the outcome is kept in memory and recorded
first thing next round; the worker claims nothing until it is, so what it
holds is at most one batch, and its own leases never decide.

Order: a conversation's items leave one at a time, oldest first; a later
reply waits while an earlier one is pending or being retried, so a borrower
never reads answers out of order.

Outages: a retryable failure is retried with capped exponential backoff and
jitter for ``give_up_after`` (24 h by default) from the time the item was
queued, so a provider outage of hours delays replies but loses none. A
provider's own wait hint (``ProviderError.retry_after``: Telegram's 429
``retry_after``, Twilio's 429 ``Retry-After``) is honoured: the item waits at
least that long, and this worker claims nothing else of that channel until
then. An item that finally fails is ``failed``, logged at ERROR, counted in
``status_counts`` and listed in the agent console, where ``requeue_failed``
gives it a new window.

Windows: before each send the worker asks ``desk.window.choose_form`` how a
message may leave (free text, its approved template, or not at all); a
message held for want of a template waits in ``held`` and is queued again
(``release_held``) as soon as its borrower writes again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk import pii
from desk.sender import ProviderError, Sender
from desk.messages import Channel, OutboundMessage
from desk.templates import TemplateBook
from desk.window import CUSTOMER_CARE_WINDOWS, Form, choose_form
from storage.base import utcnow
from storage.models import Conversation, DeliveryStatus, Direction, Message, OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

_ACTIVE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


_OUTBOX = OutboxItem.__table__
_EARLIER = _OUTBOX.alias("earlier")


def _claim_statement(batch_size: int, *, skip_locked: bool) -> Any:
    """The claim: due items whose conversation has nothing older waiting, moved to ``sending``.

    Built once per worker with bind parameters (``channels``, ``now``,
    ``lease_until``) so each round reuses SQLAlchemy's compiled form; building
    it per round cost more CPU than running it.
    """
    due = (
        select(_OUTBOX.c.id)
        .where(
            _OUTBOX.c.channel.in_(bindparam("channels", expanding=True)),
            _OUTBOX.c.status.in_(_ACTIVE),  # SENDING: its lease ran out
            _OUTBOX.c.next_attempt_at <= bindparam("now"),
            # Head of line per conversation: nothing older still waiting.
            ~exists().where(and_(_EARLIER.c.conversation_id == _OUTBOX.c.conversation_id,
                                 _EARLIER.c.id < _OUTBOX.c.id,
                                 _EARLIER.c.status.in_(_ACTIVE))),
        )
        .order_by(_OUTBOX.c.id)
        .limit(batch_size)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True, of=_OUTBOX)
    return (
        _OUTBOX.update()
        .where(_OUTBOX.c.id.in_(due.scalar_subquery()),
               _OUTBOX.c.status.in_(_ACTIVE), _OUTBOX.c.next_attempt_at <= bindparam("now"))
        .values(status=OutboxStatus.SENDING.value, attempts=_OUTBOX.c.attempts + 1,
                next_attempt_at=bindparam("lease_until"))
        .returning(_OUTBOX.c.id, _OUTBOX.c.message_id, _OUTBOX.c.conversation_id,
                   _OUTBOX.c.channel, _OUTBOX.c.recipient_enc, _OUTBOX.c.attempts, _OUTBOX.c.created_at,
                   _OUTBOX.c.template_only)
    )


_MESSAGE_TEXTS = (select(Message.__table__.c.id, Message.__table__.c.text, Message.__table__.c.payload,
                         Message.__table__.c.text_enc)
                  .where(Message.__table__.c.id.in_(bindparam("ids", expanding=True))))
_MESSAGES = Message.__table__
# When each conversation's borrower last wrote: the start of its customer-care window.
_LAST_INBOUND = (select(_MESSAGES.c.conversation_id, func.max(_MESSAGES.c.created_at))
                 .where(_MESSAGES.c.conversation_id.in_(bindparam("conversations", expanding=True)),
                        _MESSAGES.c.direction == Direction.INBOUND.value)
                 .group_by(_MESSAGES.c.conversation_id))
# Held items whose borrower wrote after they were held (held items keep the hold time in
# next_attempt_at): the window is open again, so they go back to the queue.
_RELEASE_HELD = (
    _OUTBOX.update()
    .where(_OUTBOX.c.status == OutboxStatus.HELD.value,
           exists().where(and_(_MESSAGES.c.conversation_id == _OUTBOX.c.conversation_id,
                               _MESSAGES.c.direction == Direction.INBOUND.value,
                               _MESSAGES.c.created_at > _OUTBOX.c.next_attempt_at)))
    .values(status=OutboxStatus.PENDING.value, next_attempt_at=bindparam("now"))
)
_FOLLOW_UP = (select(_OUTBOX.c.id)
              .where(_OUTBOX.c.conversation_id.in_(bindparam("conversations", expanding=True)),
                     _OUTBOX.c.status == OutboxStatus.PENDING.value,
                     _OUTBOX.c.id.not_in(bindparam("claimed", expanding=True)))
              .limit(1))


# Only the claim that sent it is recorded: the row must still be ``sending`` with
# the attempt number that claim gave it. An item whose lease ran out and was
# claimed again elsewhere (attempts + 1) is left to that claim.
_RECORD = (
    _OUTBOX.update()
    .where(_OUTBOX.c.id == bindparam("item_id"), _OUTBOX.c.status == OutboxStatus.SENDING.value,
           _OUTBOX.c.attempts == bindparam("claimed_attempts"))
    .values(status=bindparam("new_status"), provider_message_id=bindparam("new_provider_id"),
            sent_at=bindparam("new_sent_at"), last_error=bindparam("new_error"),
            next_attempt_at=bindparam("new_next_at"), form=bindparam("new_form"),
            delivery_status=bindparam("new_delivery_status"), delivery_error=bindparam("new_delivery_error"),
            delivery_updated_at=bindparam("new_delivery_at"))
)


DEFAULT_RETRY_CAP_SECONDS = 900.0      # 15 min between attempts at most
DEFAULT_GIVE_UP_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, scaled by a random 50–100%.

    With the defaults (2 s, cap 15 min) the first ten attempts span about 17
    minutes; after that a failing reply is tried every 7.5–15 minutes.
    """

    base_seconds: float = 2.0
    cap_seconds: float = DEFAULT_RETRY_CAP_SECONDS

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); ``rand`` in [0, 1)."""
        raw = min(self.cap_seconds, self.base_seconds * (2 ** min(max(0, attempt - 1), 62)))
        return raw * (0.5 + 0.5 * rand)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    conversation_id: int
    channel: str
    recipient_enc: str | None  # sealed (desk.pii); opened just before the send
    attempts: int
    queued_at: datetime
    text: str
    payload: dict[str, Any]
    template_only: bool = False
    last_inbound_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one send did, waiting to be recorded against the claim that made it."""

    item_id: int
    attempts: int  # the claim's attempt number: identifies the claim
    values: dict[str, Any]

    def params(self) -> dict[str, Any]:
        """The bind parameters of ``_RECORD``."""
        v = self.values
        return {"item_id": self.item_id, "claimed_attempts": self.attempts, "new_status": v["status"],
                "new_provider_id": v["provider_message_id"], "new_sent_at": v["sent_at"],
                "new_error": v["last_error"], "new_next_at": v["next_attempt_at"],
                "new_form": v.get("form"), "new_delivery_status": v.get("delivery_status"),
                "new_delivery_error": v.get("delivery_error"), "new_delivery_at": v.get("delivery_updated_at")}


class OutboxWorker:
    """Claims due outbox items, sends them, and records the outcome."""

    def __init__(
        self,
        db: Any,
        senders: Mapping[Channel | str, Sender],
        *,
        max_attempts: int | None = None,
        give_up_after: timedelta = DEFAULT_GIVE_UP_AFTER,
        batch_size: int = 64,
        poll_interval: float = 1.0,
        send_timeout: float = 15.0,
        lease_seconds: float = 120.0,
        backoff: Backoff = Backoff(),
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
        sqlite_writer: Any = None,
        templates: TemplateBook | None = None,
        release_every: float = 5.0,
    ) -> None:
        """``give_up_after``: how long after it was queued a reply that keeps failing is retried
        before it is marked ``failed``; ``max_attempts`` (None: no limit) caps the attempts too.
        ``clock`` gives every time the worker reads or writes (tests pass a controllable one).
        ``sqlite_writer``: the process's ``desk.store.sqlite.SqliteConversationStore`` on SQLite,
        so claims and records queue behind the hot path's writes instead of racing them.
        ``templates``: the lender's approved templates; with them the worker applies each
        channel's customer-care window (``desk.window.choose_form``), without them it sends
        every message as text. ``release_every``: seconds between looks for held messages
        whose window opened again."""
        self.db = db
        self.sqlite_writer = sqlite_writer
        self.senders: dict[str, Sender] = {
            (k.value if isinstance(k, Channel) else str(k)): v for k, v in senders.items()
        }
        self.max_attempts = max_attempts
        self.give_up_after = give_up_after
        # Channel → until when this worker sends nothing on it (a provider's 429 hint).
        self._paused_until: dict[str, datetime] = {}
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.send_timeout = send_timeout
        self.lease_seconds = max(lease_seconds, send_timeout + 5.0)
        self.backoff = backoff
        self.clock = clock
        self.rand = rand
        self._claim_sql = _claim_statement(batch_size, skip_locked=not db.is_sqlite)
        self.templates = templates
        self.release_every = release_every
        self._next_release: datetime | None = None
        self._follow_up = False
        # Outcomes known but not yet recorded (the database refused): item id → outcome.
        # Bounded by one batch: nothing is claimed while any is held.
        self._held: dict[int, _Outcome] = {}
        self._record_lock = asyncio.Lock()
        self._record_refused = False
        self._failed_rounds = 0  # in a row; the first of an outage logs the traceback
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def register_sender(self, sender: Sender) -> None:
        """Add (or replace) the sender of one channel; connectors call this at start-up."""
        channel = sender.channel.value if isinstance(sender.channel, Channel) else str(sender.channel)
        self.senders[channel] = sender
        self.nudge()

    def nudge(self) -> None:
        """Wake the worker now instead of at the next poll (called after an enqueue commits)."""
        self._wake.set()

    # -- one round ---------------------------------------------------------------------

    async def run_once(self) -> int:
        """One round: record what an earlier round could not, claim a batch of due items, send
        them concurrently, recording each outcome as soon as its send returns; return how many
        were claimed.

        Raises when the database refuses a write; outcomes it could not record are held and
        recorded before anything is claimed again.
        """
        await self._record_held()
        if self.templates is not None and (self._next_release is None or self.clock() >= self._next_release):
            await self.release_held()
        claimed = await self._claim()
        if claimed:
            await asyncio.gather(*(self._send_and_record(item) for item in claimed))
            await self._record_held()  # what a refused record left; raises while still refused
        return len(claimed)

    async def release_held(self) -> int:
        """Queue again every held message whose borrower wrote after it was held; return how many."""
        now = self.clock()
        self._next_release = now + timedelta(seconds=self.release_every)
        released = int(await self._write(lambda conn: conn.execute(_RELEASE_HELD, {"now": now}).rowcount))
        if released:
            log.info("outbox: %d held message(s) queued again, their borrowers wrote", released)
        return released

    @property
    def held_outcomes(self) -> int:
        """How many send outcomes wait in memory for the database (operations view)."""
        return len(self._held)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Run rounds until nothing is due (tests, shutdown); return the number of items handled."""
        total = 0
        for _ in range(max_rounds):
            n = await self.run_once()
            if n == 0:
                break
            total += n
        return total

    async def _write(self, fn: Callable[[Connection], Any]) -> Any:
        """Run ``fn(connection)`` in one write transaction (SQLite: on the writer thread)."""
        if self.sqlite_writer is not None:
            return await self.sqlite_writer.run(fn)
        async with self.db.engine.begin() as conn:
            return await conn.run_sync(fn)

    def _open_channels(self, now: datetime) -> list[str]:
        """The channels with a sender that no provider hint has paused."""
        return [c for c in self.senders if self._paused_until.get(c, now) <= now]

    async def _claim(self) -> list[_Claimed]:
        if not self._open_channels(self.clock()):
            return []
        return list(await self._write(self._claim_in))

    def _claim_in(self, conn: Connection) -> list[_Claimed]:
        now = self.clock()
        channels = self._open_channels(now)
        if not channels:
            return []
        rows = conn.execute(self._claim_sql, {
            "channels": channels, "now": now,
            "lease_until": now + timedelta(seconds=self.lease_seconds),
        }).all()
        if not rows:
            self._follow_up = False
            return []
        # A text that carried a phone number or NIK is stored masked: the borrower gets the original.
        texts = {r.id: (pii.open_text(r.text, r.text_enc), r.payload)
                 for r in conn.execute(_MESSAGE_TEXTS, {"ids": [row.message_id for row in rows]}).all()}
        windowed = list({r.conversation_id for r in rows if r.channel in CUSTOMER_CARE_WINDOWS})
        last_inbound = ({cid: _aware(at) for cid, at in conn.execute(_LAST_INBOUND, {"conversations": windowed})}
                        if windowed and self.templates is not None else {})
        # A conversation's next reply becomes claimable once this one is recorded:
        # then the worker runs another round at once instead of waiting for the poll.
        self._follow_up = conn.execute(_FOLLOW_UP, {
            "conversations": list({row.conversation_id for row in rows}),
            "claimed": [row.id for row in rows]}).first() is not None
        return [
            _Claimed(r.id, r.conversation_id, r.channel, r.recipient_enc, r.attempts, _aware(r.created_at),
                     *texts.get(r.message_id, ("", {})), template_only=bool(r.template_only),
                     last_inbound_at=last_inbound.get(r.conversation_id))
            for r in sorted(rows, key=lambda r: r.id)
        ]

    async def _send_and_record(self, item: _Claimed) -> None:
        """Send one item and record its outcome at once, so a crash later in the round
        cannot make the provider send it twice. A refused record keeps the outcome held."""
        outcome = _Outcome(item.id, item.attempts, await self._deliver(item))
        self._held[item.id] = outcome
        if self._record_refused:
            return  # the database already refused this round: the round's end tries once more
        try:
            await self._record_held()
        except Exception:  # noqa: BLE001 - held; run_once retries and reports the failure
            log.debug("outbox item %s: record refused, outcome held", item.id)

    async def _record_held(self) -> None:
        """Record every held outcome in one transaction; on failure keep them and raise.

        Concurrent callers queue on a lock, so outcomes that arrive while a record
        is being written go together in the next one (small groups, not one per item).
        """
        async with self._record_lock:
            if not self._held:
                return
            batch = list(self._held.values())
            try:
                await self._record(batch)
            except Exception:
                self._record_refused = True
                raise
            self._record_refused = False
            for outcome in batch:
                if self._held.get(outcome.item_id) is outcome:
                    del self._held[outcome.item_id]

    async def _deliver(self, item: _Claimed) -> dict[str, Any]:
        """Send one item; return the column values that record the outcome."""
        sender = self.senders[item.channel]
        message = OutboundMessage.from_payload(item.text, item.payload)
        form = Form.TEXT
        if self.templates is not None:
            decision = choose_form(item.channel, message, last_inbound_at=item.last_inbound_at, now=self.clock(),
                                   templates=self.templates, template_only=item.template_only)
            if decision.message is None:
                return self._hold(item, decision.hold_reason or "", decision.detail or "")
            message, form = decision.message, decision.form
        if not item.recipient_enc:
            return self._failed_attempt(item, "no recipient: the conversation was anonymised", retryable=False)
        try:
            recipient = pii.keyring().decrypt(pii.sender_kind(item.channel), item.recipient_enc)
        except pii.PiiKeyError as exc:
            # Wrong or missing key (start-up checks the keys, so an operator changed them since):
            # retried with the usual backoff, so the reply leaves once the keys are fixed.
            log.error("outbox item %s: cannot open the recipient: %s", item.id, exc)
            return self._failed_attempt(item, f"recipient not readable: {exc}", retryable=True)
        try:
            provider_id = await asyncio.wait_for(sender.send(recipient, message), self.send_timeout)
        except ProviderError as exc:
            return self._failed_attempt(item, str(exc), retryable=exc.retryable, retry_after=exc.retry_after,
                                        code=exc.code)
        except TimeoutError:
            return self._failed_attempt(item, f"provider timed out after {self.send_timeout}s", retryable=True)
        except Exception as exc:  # noqa: BLE001 - an unknown failure is retried, then reported
            log.exception("outbox item %s: unexpected error from the %s sender", item.id, item.channel)
            return self._failed_attempt(item, f"{type(exc).__name__}: {exc}", retryable=True)
        # A new send: what the provider reported about an earlier one (a 63016) no longer applies.
        return {"status": OutboxStatus.SENT.value, "provider_message_id": str(provider_id),
                "sent_at": self.clock(), "last_error": None, "next_attempt_at": self.clock(),
                "form": form.value, "delivery_status": None, "delivery_error": None, "delivery_updated_at": None}

    def _hold(self, item: _Claimed, reason: str, detail: str) -> dict[str, Any]:
        """The outcome of a message that may not leave now: ``held`` since now, with the reason."""
        log.warning("outbox item %s (%s, conversation %s) held: %s", item.id, item.channel, item.conversation_id,
                    detail)
        now = self.clock()
        return {"status": OutboxStatus.HELD.value, "provider_message_id": None, "sent_at": None,
                "last_error": f"held: {detail}", "next_attempt_at": now, "form": None,
                "delivery_status": None, "delivery_error": reason, "delivery_updated_at": now}

    def _failed_attempt(self, item: _Claimed, reason: str, *, retryable: bool,
                        retry_after: float | None = None, code: str | None = None) -> dict[str, Any]:
        """The outcome of a failed attempt: pending again after the backoff, or failed for good."""
        now = self.clock()
        if retry_after is not None and retry_after > 0:
            # The provider said when: nothing more on this channel from this worker until then.
            until = now + timedelta(seconds=retry_after)
            self._paused_until[item.channel] = max(until, self._paused_until.get(item.channel, until))
        out_of_time = now - item.queued_at >= self.give_up_after
        out_of_attempts = self.max_attempts is not None and item.attempts >= self.max_attempts
        if retryable and not out_of_time and not out_of_attempts:
            delay = max(self.backoff.delay(item.attempts, self.rand()), retry_after or 0.0)
            log.warning("outbox item %s (%s) attempt %d failed, retry in %.1fs: %s",
                        item.id, item.channel, item.attempts, delay, reason)
            return {"status": OutboxStatus.PENDING.value, "provider_message_id": None, "sent_at": None,
                    "last_error": reason, "next_attempt_at": now + timedelta(seconds=delay),
                    "delivery_status": None, "delivery_error": None, "delivery_updated_at": None}
        why = "refused" if not retryable else (
            f"still failing {now - item.queued_at} after it was queued" if out_of_time else "out of attempts")
        log.error("outbox item %s (%s, conversation %s) failed for good after %d attempt(s), %s: %s",
                  item.id, item.channel, item.conversation_id, item.attempts, why, reason)
        # The provider's own refusal (Telegram's Forbidden: the borrower blocked the bot) is
        # shown beside the message like a delivery report.
        return {"status": OutboxStatus.FAILED.value, "provider_message_id": None, "sent_at": None,
                "last_error": f"after {item.attempts} attempt(s): {reason}", "next_attempt_at": now,
                "delivery_status": DeliveryStatus.FAILED.value if code else None, "delivery_error": code,
                "delivery_updated_at": now if code else None}

    async def _record(self, outcomes: list[_Outcome]) -> None:
        """Write these outcomes in one transaction (the record step; tests inject faults here).

        Only the claim that sent an item is recorded: an item whose lease ran out
        and was claimed again elsewhere is left to that claim, and logged, because
        the provider may then have sent it twice.
        """
        def record(conn: Connection) -> list[int]:
            return [o.item_id for o in outcomes if conn.execute(_RECORD, o.params()).rowcount == 0]

        superseded = await self._write(record)
        if superseded:
            log.warning("outbox items %s were claimed again after their lease ran out before this worker "
                        "recorded them; that claim's outcome stands (the reply may have gone out twice)",
                        superseded)

    # -- background task -----------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Start the loop as a task on the running event loop."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-worker")
        return self._task

    async def stop(self) -> None:
        """Stop the loop after the current round (items being sent finish first)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                handled = await self.run_once()
            except Exception as exc:  # noqa: BLE001 - database hiccup: log, wait, try again
                self._round_failed(exc)
                handled = 0
            else:
                self._round_succeeded()
            if handled and (self._follow_up or handled >= self.batch_size):
                continue  # more is due now: a conversation's next reply, or a full batch's rest
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        if self._held:
            with contextlib.suppress(Exception):
                await self._record_held()
        if self._held:  # only here does the lease decide while the process lives
            log.error("outbox worker stopped with %d send outcome(s) the database refused (items %s); "
                      "they are sent again when their lease runs out", len(self._held), sorted(self._held))

    def _round_failed(self, exc: Exception) -> None:
        """One WARNING line per failed round; the traceback only on the first of an outage."""
        self._failed_rounds += 1
        if self._failed_rounds == 1:
            log.warning("outbox round failed (%s); %d send outcome(s) held, retrying every %.1fs "
                        "(traceback once per outage)", type(exc).__name__, len(self._held),
                        self.poll_interval, exc_info=exc)
        else:
            log.warning("outbox round failed (%s), %d in a row; %d send outcome(s) held",
                        type(exc).__name__, self._failed_rounds, len(self._held))

    def _round_succeeded(self) -> None:
        if self._failed_rounds:
            log.info("outbox rounds succeed again after %d failed round(s)", self._failed_rounds)
            self._failed_rounds = 0


async def failed_items(db: Any, *, limit: int = 100) -> list[dict[str, Any]]:
    """Outbox items that failed for good, newest first: nothing is lost silently."""
    async with db.session() as session:
        rows = (await session.execute(
            select(OutboxItem.id, OutboxItem.message_id, OutboxItem.channel, OutboxItem.attempts,
                   OutboxItem.last_error, OutboxItem.created_at, OutboxItem.conversation_id)
            .where(OutboxItem.status == OutboxStatus.FAILED.value)
            .order_by(OutboxItem.id.desc())
            .limit(limit)
        )).all()
    return [
        {"id": r.id, "message_id": r.message_id, "conversation_id": r.conversation_id,
         "channel": r.channel, "attempts": r.attempts, "last_error": r.last_error,
         "created_at": r.created_at.isoformat()}
        for r in rows
    ]


async def status_counts(db: Any) -> dict[str, int]:
    """How many outbox items are in each status (operations view)."""
    async with db.session() as session:
        rows = (await session.execute(
            select(OutboxItem.status, func.count()).group_by(OutboxItem.status)
        )).all()
    return {status: int(count) for status, count in rows}


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; the worker compares aware ones."""
    return at if at.tzinfo is not None else at.replace(tzinfo=utcnow().tzinfo)


@dataclass(frozen=True, slots=True)
class FailedReply:
    """A reply that failed for good, as the agent console lists it."""

    id: int
    conversation_public_id: str
    channel: str
    recipient: str
    """The address in clear, for the console to mask (``mask_phone``); empty once anonymised."""
    attempts: int
    last_error: str | None
    queued_at: datetime


_FAILED_REPLIES = (
    select(OutboxItem.id, Conversation.public_id, OutboxItem.channel, OutboxItem.recipient_enc,
           OutboxItem.attempts, OutboxItem.last_error, OutboxItem.created_at)
    .join(Conversation, Conversation.id == OutboxItem.conversation_id)
    .where(OutboxItem.status == OutboxStatus.FAILED.value)
)


async def failed_replies(session: AsyncSession, *, limit: int = 50) -> list[FailedReply]:
    """Replies that failed for good, newest first (read only)."""
    rows = (await session.execute(_FAILED_REPLIES.order_by(OutboxItem.id.desc()).limit(limit))).all()
    return [_failed_reply(row) for row in rows]


def _failed_reply(row: Any) -> FailedReply:
    """A failed-reply row with its recipient opened (desk.pii); empty once anonymised."""
    recipient = pii.keyring().decrypt(pii.sender_kind(row[2]), row[3]) if row[3] else ""
    return FailedReply(row[0], row[1], row[2], recipient, *row[4:])


async def count_failed(session: AsyncSession) -> int:
    """How many replies failed for good and wait for a person to re-queue them."""
    return int(await session.scalar(
        select(func.count()).select_from(OutboxItem).where(OutboxItem.status == OutboxStatus.FAILED.value)) or 0)


async def requeue_failed(session: AsyncSession, item_id: int, *, now: datetime | None = None) -> FailedReply | None:
    """Put a failed reply back in the queue, due now, with a fresh retry window (no commit).

    The item's ``created_at`` becomes the re-queue time, because the give-up
    window is measured from it; its attempts start again from zero and its
    last error is kept until the next attempt. Returns what it was before, or
    None when the item is not ``failed`` (already re-queued, sent, unknown):
    re-queuing twice sends once. The caller records the audit entry and
    nudges the worker after the commit.
    """
    before = (await session.execute(_FAILED_REPLIES.where(OutboxItem.id == item_id))).first()
    if before is None:
        return None
    at = now or utcnow()
    done = await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.status == OutboxStatus.FAILED.value)
        .values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=at, created_at=at))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None  # re-queued by someone else in between
    return _failed_reply(before)
