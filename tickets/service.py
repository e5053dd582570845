"""The ticket use cases: create, look up, and every change staff (or the scheduler) make.

Each function runs inside the caller's transaction (``session``), checks the
rules in ``tickets.workflow`` first, then changes the ticket, appends to its
history and, where the borrower must be told, queues a message through
``desk.outbox.enqueue`` — all or nothing.
"""
from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from desk.messages import OutboundMessage, TemplateUse
from desk.outbox import enqueue
from desk.phone import InvalidPhone, normalise_phone
from handoff.models import Handoff, HandoffStatus, User
from storage.base import utcnow
from storage.db import Database
from storage.models import Conversation, Message
from storage.sealed import sealed
from tickets import workflow
from tickets.calendar import WIB, to_wib
from tickets.context import TicketContext
from tickets.errors import InvalidRequest, TicketNotFound, VerificationRequired
from tickets.models import (
    EXTERNAL_SOURCES, Category, ComplainantType, EscalationLevel, RejectionGround, Source, Status, Ticket,
    TicketConversation, TicketEvent, sealed_phone,
)
from tickets.numbers import InvalidTicketNumber, allocate_number, parse_number
from tickets.sla import Clock, deadline, start_day
from tickets import wording

ORAL_CHANNELS = frozenset({"phone", "walk_in"})
CHANNELS = frozenset({"whatsapp", "telegram", "inapp", "email", "phone", "walk_in", "social"})


# --- input models ---------------------------------------------------------------------

class NewTicket(BaseModel):
    """A complaint as the bot (or a form) submits it; the fields domain.md requires.

    ``incomplete=True`` files what is known when a complaint must reach people
    before the form is done (fraud, collection threats): name, product, contact
    and date may be missing, the borrower's words (chronology) may not. Staff
    complete the rest (``complete_fields``); ``missing_fields`` says what is left.
    """

    # Declared first: the field checks below read it.
    incomplete: bool = False
    conversation_id: str = Field(min_length=1, max_length=64)
    # The conversation's channel is used when this is missing or "default".
    channel: str | None = None
    category: Category
    priority: str | None = None
    complainant_type: ComplainantType = ComplainantType.USER
    customer_id: str | None = Field(default=None, max_length=64)
    full_name: str = Field(default="", max_length=128, validate_default=True)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=128)
    product: str = Field(default="", max_length=64, validate_default=True)
    transaction_date: date | None = None
    chronology: str = Field(min_length=1, max_length=8000)
    id_card_address: str | None = Field(default=None, max_length=500)
    power_of_attorney_ref: str | None = Field(default=None, max_length=256)
    # Set by the bot when a handoff reason (fraud, collection_threat) marks the case.
    reason: str | None = Field(default=None, max_length=32)

    @field_validator("full_name", "product", mode="before")
    @classmethod
    def _none_is_empty(cls, value: str | None) -> str:
        return "" if value is None else value

    @field_validator("full_name")
    @classmethod
    def _full_name(cls, value: str, info: ValidationInfo) -> str:
        if len(value.strip()) < 2 and not info.data.get("incomplete"):
            raise ValueError("full_name needs at least 2 characters")
        return value.strip()

    @field_validator("product")
    @classmethod
    def _product(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip() and not info.data.get("incomplete"):
            raise ValueError("product is required")
        return value.strip()

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str | None) -> str | None:
        if value in (None, "", "default"):
            return None
        if value not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(sorted(CHANNELS))}")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            return normalise_phone(value)
        except InvalidPhone as exc:
            raise ValueError("phone is not a valid Indonesian number") from exc

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if "@" not in value or value.startswith("@") or "." not in value.rsplit("@", 1)[1]:
            raise ValueError("email is not a valid address")
        return value.strip()

    @field_validator("transaction_date")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        if value and value > to_wib(utcnow()).date():
            raise ValueError("transaction_date is in the future")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> NewTicket:
        if not self.phone and not self.email and not self.incomplete:
            raise ValueError("a phone number or an e-mail address is required")
        return self


class Outcome(BaseModel):
    """How a complaint was settled: an explanation, or an offer."""

    kind: Literal["explanation", "offer"]
    explanation: str | None = Field(default=None, max_length=4000)
    apology: str | None = Field(default=None, max_length=2000)
    service_fix: str | None = Field(default=None, max_length=2000)
    compensation_amount: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2)

    @model_validator(mode="after")
    def _complete(self) -> Outcome:
        if self.kind == "explanation" and not (self.explanation or "").strip():
            raise ValueError("an explanation outcome needs the explanation text")
        if self.kind == "offer" and not (self.apology is not None or self.service_fix
                                         or self.compensation_amount):
            raise ValueError("an offer names an apology, a service fix or a compensation amount")
        return self


class Closure(BaseModel):
    """What staff record when they resolve or reject a complaint: its cause, and whether it went public.

    The cause is one of the lender file's ``complaint_causes`` (checked in
    ``record_closure``); a complaint that went public needs the link to where.
    """

    cause: str = Field(default="", max_length=64)
    negative_publicity: bool = False
    publicity_url: str | None = Field(default=None, max_length=500)

    @field_validator("cause", mode="before")
    @classmethod
    def _strip(cls, value: str | None) -> str:
        return (value or "").strip()

    @field_validator("publicity_url", mode="before")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        if not value.startswith(("https://", "http://")) or "." not in value.split("//", 1)[1]:
            raise ValueError("the publicity link must be a web address starting with https://")
        return value

    @model_validator(mode="after")
    def _link_when_public(self) -> Closure:
        if self.negative_publicity and not self.publicity_url:
            raise ValueError("a complaint that went public needs the link to where it was published")
        if not self.negative_publicity and self.publicity_url:
            raise ValueError("a publicity link was given but the complaint is not marked as public")
        return self


def record_closure(ctx: TicketContext, ticket: Ticket, closure: Closure | None) -> dict[str, Any]:
    """Check ``closure`` against the lender's causes and store it on ``ticket``; returns it for the history."""
    causes = ctx.lender.cause_labels
    if not causes:
        raise InvalidRequest("the lender content file lists no complaint_causes; add them before closing tickets")
    if closure is None or not closure.cause:
        raise InvalidRequest(f"choose the cause of the complaint before closing it: one of {', '.join(causes)}")
    if closure.cause not in causes:
        raise InvalidRequest(f"unknown cause {closure.cause!r}: use one of {', '.join(causes)}")
    ticket.cause = closure.cause
    ticket.negative_publicity = closure.negative_publicity
    ticket.negative_publicity_url = closure.publicity_url
    return {"cause": closure.cause, "negative_publicity": closure.negative_publicity,
            "publicity_url": closure.publicity_url}


@dataclass(frozen=True)
class Actor:
    """Who makes a change: ``user:<id>``, ``bot``, ``system`` or ``borrower``."""

    name: str
    user_id: int | None = None

    @classmethod
    def staff(cls, user_id: int) -> Actor:
        return cls(f"user:{user_id}", user_id)


BOT = Actor("bot")
SYSTEM = Actor("system")


# Fields domain.md requires before a complaint is complete ("contact" = phone or e-mail).
REQUIRED_FIELDS = ("full_name", "contact", "product", "transaction_date", "chronology")


def missing_fields(ticket: Ticket) -> list[str]:
    """The required fields ``ticket`` still lacks, in REQUIRED_FIELDS order; empty when complete."""
    present = {
        "full_name": bool((ticket.full_name or "").strip()),
        "contact": bool(ticket.phone_key or ticket.email),
        "product": bool((ticket.product or "").strip()),
        "transaction_date": ticket.transaction_date is not None,
        "chronology": bool((ticket.chronology or "").strip()),
    }
    return [name for name in REQUIRED_FIELDS if not present[name]]


class FieldChanges(BaseModel):
    """What staff may complete or correct on a ticket; only the fields sent change."""

    full_name: str | None = Field(default=None, min_length=2, max_length=128)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=128)
    product: str | None = Field(default=None, min_length=1, max_length=64)
    transaction_date: date | None = None
    customer_id: str | None = Field(default=None, max_length=64)
    id_card_address: str | None = Field(default=None, max_length=500)
    power_of_attorney_ref: str | None = Field(default=None, max_length=256)
    complainant_type: ComplainantType | None = None

    # The same checks as a new complaint's (one rule each).
    _phone = field_validator("phone")(NewTicket._phone.__func__)  # type: ignore[attr-defined]
    _email = field_validator("email")(NewTicket._email.__func__)  # type: ignore[attr-defined]
    _not_future = field_validator("transaction_date")(NewTicket._not_future.__func__)  # type: ignore[attr-defined]


# --- history and lookups ------------------------------------------------------------------

async def record_event(session: AsyncSession, ticket: Ticket, kind: str, actor: Actor,
                       **data: Any) -> TicketEvent:
    """Append one event to the ticket's history with the next gap-free ``seq``."""
    seq = (await session.execute(
        update(Ticket).where(Ticket.id == ticket.id)
        .values(last_event_seq=Ticket.last_event_seq + 1)
        .returning(Ticket.last_event_seq)
        .execution_options(synchronize_session=False)
    )).scalar_one()
    event = TicketEvent(ticket_id=ticket.id, seq=int(seq), kind=kind, actor=actor.name,
                        data=_jsonable(data))
    session.add(event)
    await session.flush()
    return event


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dict):
            value = _jsonable(value)
        out[key] = value
    return out


async def get_ticket(session: AsyncSession, number: str, *, for_update: bool = False) -> Ticket:
    """The ticket with ``number`` (typed loosely by a borrower is fine); TicketNotFound otherwise."""
    try:
        canonical = parse_number(number)
    except InvalidTicketNumber:
        raise TicketNotFound(f"no ticket {number!r}") from None
    stmt = select(Ticket).where(Ticket.number == canonical)
    if for_update:
        stmt = stmt.with_for_update()
    ticket = await session.scalar(stmt)
    if ticket is None:
        raise TicketNotFound(f"no ticket {canonical}")
    return ticket


async def conversations_of(session: AsyncSession, ticket: Ticket) -> list[Conversation]:
    """The ticket's conversations, most recently active first."""
    rows = await session.scalars(
        select(Conversation).join(TicketConversation, TicketConversation.conversation_id == Conversation.id)
        .where(TicketConversation.ticket_id == ticket.id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc()))
    return list(rows)


async def link_conversation(session: AsyncSession, ticket: Ticket, conversation: Conversation) -> bool:
    """Link ``conversation`` to ``ticket`` once; True when the link is new."""
    exists = await session.get(TicketConversation, (ticket.id, conversation.id))
    if exists is not None:
        return False
    async with session.begin_nested():
        session.add(TicketConversation(ticket_id=ticket.id, conversation_id=conversation.id))
    return True


# --- creating ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Created:
    ticket: Ticket
    created: bool


async def create_ticket(db: Database, ctx: TicketContext, data: NewTicket,
                        idempotency_key: str | None, actor: Actor = BOT) -> Created:
    """Create a ticket (or return the one made earlier with the same idempotency key)."""
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
        raise InvalidRequest("Idempotency-Key must be 1 to 128 characters")
    try:
        async with db.transaction() as session:
            if idempotency_key:
                found = await session.scalar(select(Ticket).where(Ticket.idempotency_key == idempotency_key))
                if found is not None:
                    return Created(found, False)
            ticket = await insert_ticket(session, ctx, data, idempotency_key, actor)
            return Created(ticket, True)
    except IntegrityError:
        # Another request with the same key won the race: answer with its ticket.
        if not idempotency_key:
            raise
        async with db.session() as session:
            found = await session.scalar(select(Ticket).where(Ticket.idempotency_key == idempotency_key))
        if found is None:
            raise
        return Created(found, False)


async def insert_ticket(session: AsyncSession, ctx: TicketContext, data: NewTicket,
                        idempotency_key: str | None, actor: Actor) -> Ticket:
    """Insert a new ticket in the caller's transaction (no commit): clocks, history, conversation link.

    ``create_ticket`` (the bot's API) and the console's "open a ticket from this
    chat" both come here. The day's number is allocated last, so its counter
    row stays locked for as short a time as possible.
    """
    conversation = await session.scalar(
        select(Conversation).where(Conversation.public_id == data.conversation_id))
    if conversation is None:
        raise InvalidRequest(f"unknown conversation {data.conversation_id!r}")
    now = ctx.now()
    policy, cal = ctx.policy, ctx.calendar
    channel = data.channel or conversation.channel
    form = "oral" if channel in ORAL_CHANNELS else "written"
    day0 = start_day(now, policy=policy, calendar=cal)
    clock_start = now if day0 == to_wib(now).date() else datetime.combine(
        day0, cal.hours_for(policy.clock_hours).opens, WIB)
    priority = workflow.floor_priority(data.category.value, data.priority, data.reason)
    ticket = Ticket(
        # Placeholder until the number is allocated, last, just before commit: the
        # day's counter row stays locked for as short a time as possible.
        number=f"pending-{secrets.token_hex(8)}", category=data.category.value, priority=priority, status=Status.RECEIVED.value,
        channel=channel, form=form, complainant_type=data.complainant_type.value,
        customer_id=data.customer_id or conversation.customer_id,
        full_name=data.full_name, email=data.email, product=data.product,
        transaction_date=data.transaction_date, chronology=data.chronology,
        id_card_address=data.id_card_address, power_of_attorney_ref=data.power_of_attorney_ref,
        received_at=now, clock_started_at=clock_start, sla_policy=policy.name,
        first_response_due=deadline(Clock.FIRST_RESPONSE, policy=policy, calendar=cal, received_at=now),
        resolution_due=deadline(Clock.RESOLUTION, policy=policy, calendar=cal, received_at=now, form=form),
        escalation_level=EscalationLevel.AGENT.value, idempotency_key=idempotency_key,
        receipt_token=secrets.token_urlsafe(24),
        # The two creation events below take seq 1 and 2: nobody else can see the
        # ticket before this transaction commits, so no counter round trip is needed.
        last_event_seq=2,
    )
    ticket.set_phone(data.phone)
    session.add(ticket)
    await session.flush()
    created = _jsonable(dict(
        status=ticket.status, channel=ticket.channel, category=ticket.category, priority=priority,
        requested_priority=data.priority, conversation=conversation.public_id,
        first_response_due=ticket.first_response_due, resolution_due=ticket.resolution_due,
        sla_policy=policy.name, reason=data.reason, missing=missing_fields(ticket)))
    session.add_all([
        TicketConversation(ticket_id=ticket.id, conversation_id=conversation.id),
        TicketEvent(ticket_id=ticket.id, seq=1, kind="created", actor=actor.name, data=created),
        TicketEvent(ticket_id=ticket.id, seq=2, kind="receipt_issued", actor=actor.name,
                    data={"conversation": conversation.public_id}),
    ])
    await session.flush()
    ticket.number = await allocate_number(session, ctx.lender.ticket_prefix, to_wib(now).date())
    await session.flush()
    return ticket


class ExternalComplaint(BaseModel):
    """A complaint forwarded by OJK's consumer portal (APPK) or by LAPS SJK, registered by staff.

    ``received_at`` is when the lender received it from that body: the same
    working-day clock as a direct complaint runs from there.
    """

    source: Literal["ojk_appk", "laps_sjk"]
    external_reference: str = Field(min_length=1, max_length=64)
    received_at: datetime
    category: Category
    form: Literal["written", "oral"] = "written"
    complainant_type: ComplainantType = ComplainantType.USER
    customer_id: str | None = Field(default=None, max_length=64)
    full_name: str = Field(min_length=2, max_length=128)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=128)
    product: str = Field(min_length=1, max_length=64)
    transaction_date: date | None = None
    chronology: str = Field(min_length=1, max_length=8000)

    _phone = field_validator("phone")(NewTicket._phone.__func__)  # type: ignore[attr-defined]
    _email = field_validator("email")(NewTicket._email.__func__)  # type: ignore[attr-defined]
    _not_future = field_validator("transaction_date")(NewTicket._not_future.__func__)  # type: ignore[attr-defined]

    @field_validator("external_reference", "full_name", "product", "chronology")
    @classmethod
    def _stripped(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("received_at needs a time zone (e.g. +07:00)")
        return value


async def register_external(session: AsyncSession, ctx: TicketContext, data: ExternalComplaint,
                            actor: Actor) -> Ticket:
    """Register a complaint forwarded by OJK (APPK) or LAPS SJK, clocked from its receipt (caller's transaction).

    The same reference number from the same body is refused (``InvalidRequest``):
    registering it twice would count one complaint twice in the reports.
    """
    if data.received_at > ctx.now():
        raise InvalidRequest("the date the complaint was received cannot be in the future")
    existing = await session.scalar(select(Ticket.number).where(
        Ticket.source == data.source, Ticket.external_reference == data.external_reference))
    if existing is not None:
        raise InvalidRequest(f"{data.source} reference {data.external_reference} is already ticket {existing}")
    policy, cal = ctx.policy, ctx.calendar
    received = data.received_at
    day0 = start_day(received, policy=policy, calendar=cal)
    clock_start = received if day0 == to_wib(received).date() else datetime.combine(
        day0, cal.hours_for(policy.clock_hours).opens, WIB)
    ticket = Ticket(
        number=f"pending-{secrets.token_hex(8)}", category=data.category.value,
        priority=workflow.floor_priority(data.category.value, None), status=Status.RECEIVED.value,
        channel=data.source, form=data.form, complainant_type=data.complainant_type.value,
        customer_id=data.customer_id, full_name=data.full_name, email=data.email,
        product=data.product, transaction_date=data.transaction_date, chronology=data.chronology,
        received_at=received, clock_started_at=clock_start, sla_policy=policy.name,
        first_response_due=deadline(Clock.FIRST_RESPONSE, policy=policy, calendar=cal, received_at=received),
        resolution_due=deadline(Clock.RESOLUTION, policy=policy, calendar=cal, received_at=received,
                                form=data.form),
        escalation_level=EscalationLevel.AGENT.value, source=data.source,
        external_reference=data.external_reference, receipt_token=secrets.token_urlsafe(24),
        last_event_seq=1,
    )
    ticket.set_phone(data.phone)
    session.add(ticket)
    await session.flush()
    session.add(TicketEvent(ticket_id=ticket.id, seq=1, kind="created", actor=actor.name, data=_jsonable(dict(
        status=ticket.status, channel=ticket.channel, category=ticket.category, priority=ticket.priority,
        source=data.source, external_reference=data.external_reference, received_at=received,
        first_response_due=ticket.first_response_due, resolution_due=ticket.resolution_due,
        sla_policy=policy.name, missing=missing_fields(ticket)))))
    await session.flush()
    ticket.number = await allocate_number(session, ctx.lender.ticket_prefix, to_wib(received).date())
    await session.flush()
    return ticket


# --- borrower side ---------------------------------------------------------------------------

async def lookup_for_borrower(session: AsyncSession, number: str, conversation_public_id: str) -> Ticket:
    """The ticket, only for the person who filed it (the chat it was filed in or linked to, the
    verified customer, or the same WhatsApp phone).

    A conversation that passes is linked to the ticket, so the borrower can
    continue on any channel without explaining again.
    """
    ticket = await get_ticket(session, number)
    conversation = await session.scalar(
        select(Conversation).where(Conversation.public_id == conversation_public_id))
    if conversation is None:
        raise VerificationRequired("verify your identity on this conversation first")
    # The chat the ticket was filed in (or one already linked to it) read the number on its own receipt.
    linked = await session.get(TicketConversation, (ticket.id, conversation.id)) is not None
    if not linked and not _is_filer(ticket, conversation):
        raise VerificationRequired("verify your identity on this conversation first")
    if await link_conversation(session, ticket, conversation):
        await record_event(session, ticket, "conversation_linked", BOT, conversation=conversation.public_id,
                           channel=conversation.channel)
    return ticket


def _is_filer(ticket: Ticket, conversation: Conversation) -> bool:
    if ticket.customer_id and conversation.customer_id and ticket.customer_id == conversation.customer_id:
        return True
    # A WhatsApp conversation's sender key is the phone key of its number (desk.pii.sender_key).
    return bool(ticket.phone_key) and conversation.channel == "whatsapp" \
        and conversation.sender_key == ticket.phone_key


async def last_update(session: AsyncSession, ticket: Ticket) -> datetime:
    """When anything last happened to the ticket (its newest event)."""
    at = await session.scalar(select(TicketEvent.created_at).where(TicketEvent.ticket_id == ticket.id)
                              .order_by(TicketEvent.seq.desc()).limit(1))
    return at or ticket.received_at


# --- messages to the borrower -------------------------------------------------------------

# The approved WhatsApp template (lender file ``whatsapp_templates``) each kind of ticket
# message is sent as outside the 24-hour window; any other kind is a status update.
TEMPLATE_OF_KIND = {"resolution_sent": "resolution", "rejection_sent": "rejection",
                    "extension_notice_sent": "extension_notice", "status_update_sent": "status_update"}


def ticket_template(kind: str, ticket: Ticket, text: str) -> TemplateUse:
    """The template a ticket message of ``kind`` needs outside the window: the number and the text itself."""
    return TemplateUse(TEMPLATE_OF_KIND.get(kind, "status_update"),
                       {"ticket_number": ticket.number, "summary": text})


async def message_borrower(session: AsyncSession, ticket: Ticket, text: str, actor: Actor, *,
                           kind: str = "message_to_borrower", ctx: TicketContext | None = None,
                           **data: Any) -> TicketEvent:
    """Queue ``text`` to the ticket's most recent conversation and record it in the history.

    A message from staff is the first response when there was none yet (for
    an oral complaint that moves the resolution clock, when ``ctx`` is given).
    """
    conversations = await conversations_of(session, ticket)
    if not conversations and ticket.source in EXTERNAL_SOURCES:
        # A complaint forwarded by OJK's portal or LAPS SJK is answered there: the
        # history keeps the text for staff to post, marked with where it goes.
        if borrower_informed(ticket, actor, ctx):
            data["first_response"] = True
        return await record_event(session, ticket, kind, actor, deliver_via=ticket.source, text=text, **data)
    if not conversations:
        raise InvalidRequest(f"ticket {ticket.number} has no conversation to write to")
    conversation = conversations[0]
    rendered = wording.for_channel(text, conversation.channel)
    message, _ = await enqueue(session, conversation,
                               OutboundMessage(text=rendered, template=ticket_template(kind, ticket, rendered)),
                               author="agent" if actor.user_id else "system", agent_id=actor.user_id)
    if borrower_informed(ticket, actor, ctx):
        data["first_response"] = True
    return await record_event(session, ticket, kind, actor, conversation=conversation.public_id,
                              message_id=message.id, text=text, **data)


def borrower_informed(ticket: Ticket, actor: Actor, ctx: TicketContext | None) -> bool:
    """The borrower was just written to about ``ticket`` (ticket message, console reply, closing summary).

    Every message restarts the periodic status-update clock. The first one a
    member of staff sends is the first response: it stops the first-response
    clock (no overdue alert follows) and, for an oral complaint, starts the
    resolution clock. Returns True when this was the first response; the
    caller records it in the history with the message it sent. No flush.
    """
    now = ctx.now() if ctx else utcnow()
    ticket.last_status_update_at = now
    if actor.user_id is None or ticket.first_responded_at is not None:
        return False
    ticket.first_responded_at = now
    if ctx is not None and ticket.form == "oral" and ticket.extension_count == 0:
        ticket.resolution_due = deadline(Clock.RESOLUTION, policy=ctx.policy_for(ticket), calendar=ctx.calendar,
                                         received_at=ticket.received_at, form="oral",
                                         first_response_at=ticket.first_responded_at)
    return True


async def staff_replied(session: AsyncSession, ticket: Ticket, actor: Actor, *, ctx: TicketContext | None,
                        conversation: str, message_id: int) -> TicketEvent | None:
    """A member of staff answered the borrower in the conversation (the console's reply).

    The transcript keeps the text; the ticket's history gets a ``first_response``
    event for the first one only (``borrower_informed`` owns the clocks).
    Returns that event, or None. In the caller's transaction.
    """
    if not borrower_informed(ticket, actor, ctx):
        await session.flush()
        return None
    return await record_event(session, ticket, "first_response", actor, conversation=conversation,
                              message_id=message_id)


# --- staff changes ----------------------------------------------------------------------------

async def start_work(session: AsyncSession, ticket: Ticket, actor: Actor) -> None:
    """received → in_progress."""
    if ticket.status != Status.RECEIVED.value:
        raise workflow.ForbiddenTransition(
            f"cannot start ticket {ticket.number}: it is {ticket.status}", status=ticket.status)
    await _set_status(session, ticket, Status.IN_PROGRESS.value, actor)


async def _set_status(session: AsyncSession, ticket: Ticket, target: str, actor: Actor, **data: Any) -> None:
    previous = ticket.status
    ticket.status = target
    ticket.updated_at = utcnow()
    await session.flush()
    await record_event(session, ticket, "status_changed", actor, **{"from": previous, "to": target}, **data)


async def assign(session: AsyncSession, ticket: Ticket, assignee_id: int | None, actor: Actor) -> None:
    """Give the ticket to a member of staff (None: unassign)."""
    workflow.require_open(ticket, "assign")
    if assignee_id is not None:
        user = await session.get(User, assignee_id)
        if user is None or not user.active:
            raise InvalidRequest(f"no active member of staff with id {assignee_id}")
    previous = ticket.assignee_id
    ticket.assignee_id = assignee_id
    await session.flush()
    await record_event(session, ticket, "assigned", actor, **{"from": previous, "to": assignee_id})


async def escalate(session: AsyncSession, ticket: Ticket, level: str, department: str | None,
                   note: str | None, actor: Actor) -> None:
    """Send the ticket up the path: specialist → department → directors."""
    workflow.check_escalation(ticket, level, department)
    workflow.require_transition(ticket, Status.ESCALATED.value, "escalate")
    previous = (ticket.escalation_level, ticket.department)
    ticket.escalation_level = level
    ticket.department = department if level == EscalationLevel.DEPARTMENT.value else ticket.department
    await record_event(session, ticket, "escalated", actor, from_level=previous[0], to_level=level,
                       department=department, note=note)
    if ticket.status != Status.ESCALATED.value:
        await _set_status(session, ticket, Status.ESCALATED.value, actor)
    else:
        await session.flush()


async def feedback(session: AsyncSession, ticket: Ticket, note: str, actor: Actor) -> None:
    """The answer comes back down the path to the agent, who answers the borrower."""
    if ticket.status != Status.ESCALATED.value:
        raise workflow.ForbiddenTransition(
            f"ticket {ticket.number} is not escalated (it is {ticket.status}); there is no feedback to return",
            status=ticket.status)
    if not note.strip():
        raise InvalidRequest("feedback needs the answer of the level that handled it")
    await record_event(session, ticket, "feedback", actor, from_level=ticket.escalation_level,
                       department=ticket.department, note=note)
    ticket.escalation_level = EscalationLevel.AGENT.value
    await _set_status(session, ticket, Status.IN_PROGRESS.value, actor)


async def resolve(session: AsyncSession, ctx: TicketContext, ticket: Ticket, outcome: Outcome,
                  actor: Actor, *, closure: Closure | None) -> None:
    """Record the outcome and its cause, close the ticket and tell the borrower.

    Refused (InvalidRequest) without a cause from the lender's list: the
    reports to OJK count complaints by cause.
    """
    workflow.require_transition(ticket, Status.RESOLVED.value, "resolve")
    closed = record_closure(ctx, ticket, closure)
    data = outcome.model_dump(exclude_none=True, mode="json")
    ticket.outcome = data
    ticket.compensation_amount = outcome.compensation_amount
    ticket.closed_at = ctx.now()
    await _set_status(session, ticket, Status.RESOLVED.value, actor, outcome=data, **closed)
    await message_borrower(session, ticket, wording.resolution_notice(ticket.number, data), actor,
                           kind="resolution_sent", ctx=ctx)


async def settlement_answer(session: AsyncSession, ctx: TicketContext, ticket: Ticket, accepted: bool,
                            note: str | None, actor: Actor, *, notify: bool = True) -> None:
    """The borrower accepts the settlement, or refuses it: then the ticket reopens and they hear about LAPS SJK.

    ``notify=False`` when the borrower's own chat answers them (``borrower_answer``): nothing is queued here.
    """
    if ticket.status != Status.RESOLVED.value:
        raise workflow.ForbiddenTransition(
            f"ticket {ticket.number} has no settlement to answer (it is {ticket.status})", status=ticket.status)
    if accepted:
        await record_event(session, ticket, "settlement_accepted", actor, note=note)
        return
    workflow.require_transition(ticket, Status.IN_PROGRESS.value, "reopen")
    await record_event(session, ticket, "settlement_refused", actor, note=note)
    ticket.reopen_count += 1
    ticket.closed_at = None
    await _set_status(session, ticket, Status.IN_PROGRESS.value, actor, reopened=True)
    if notify:
        await message_borrower(session, ticket, wording.refusal_notice(ticket.number), SYSTEM,
                               kind="dispute_options_sent")


BORROWER = Actor("borrower")
ANSWERS = ("accept", "dispute", "next_step")


@dataclass(frozen=True)
class Answered:
    """What the borrower's answer did, and what the chat should tell them."""

    ticket: Ticket
    outcome: str  # accepted, reopened, escalated, rejection_disputed, rejection_accepted, next_step
    reply_text: str


# Notices the borrower may answer, and the answers that settle one (a dispute of a
# resolution reopens the ticket, so the ticket is no longer resolved at all).
NOTICE_KINDS = ("resolution_sent", "rejection_sent")
SETTLING_KINDS = ("settlement_accepted", "rejection_accepted", "rejection_disputed")


async def answerable_ticket(session: AsyncSession, conversation: Conversation, *,
                            settled_too: bool = False) -> Ticket | None:
    """The conversation's most recently closed ticket whose last resolution or rejection is still unanswered.

    This is how the bot knows a notice is pending: a "tidak setuju" after the
    borrower already accepted (or disputed a rejection) finds nothing here, so
    it is not taken as an answer to an old notice. Asking for the next step
    does not settle a notice, and may follow a settled one (``settled_too``).
    """
    notice = (select(func.max(TicketEvent.seq)).where(TicketEvent.ticket_id == Ticket.id,
                                                      TicketEvent.kind.in_(NOTICE_KINDS))
              .correlate(Ticket).scalar_subquery())
    settled = (select(TicketEvent.id).where(TicketEvent.ticket_id == Ticket.id,
                                            TicketEvent.kind.in_(SETTLING_KINDS), TicketEvent.seq > notice)
               .correlate(Ticket).exists())
    return await session.scalar(
        select(Ticket).join(TicketConversation, TicketConversation.ticket_id == Ticket.id)
        .where(TicketConversation.conversation_id == conversation.id,
               Ticket.status.in_((Status.RESOLVED.value, Status.REJECTED.value)),
               *(() if settled_too else (~settled,)))
        .order_by(Ticket.closed_at.desc(), Ticket.id.desc()).limit(1))


async def notice_was_last_said(session: AsyncSession, ticket: Ticket, conversation: Conversation) -> bool:
    """Is the ticket's latest resolution or rejection notice the last message the conversation sent?

    A bare "ya" or "tidak" answers the notice only then; after anything else
    the borrower is answering that (``only_if_last`` of the answer API).
    """
    data = await session.scalar(
        select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(NOTICE_KINDS))
        .order_by(TicketEvent.seq.desc()).limit(1))
    last = await session.scalar(
        select(func.max(Message.id)).where(Message.conversation_id == conversation.id, Message.direction == "out"))
    return bool(data) and last is not None and data.get("message_id") == last


async def unrated_closed_handoff(session: AsyncSession, conversation_public_id: str) -> bool:
    """Is the conversation's latest chat with a person closed and still unrated (a rating can be asked)?"""
    latest = (await session.execute(
        select(Handoff.status, Handoff.rating).join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Conversation.public_id == conversation_public_id)
        .order_by(Handoff.id.desc()).limit(1))).first()
    return latest is not None and latest.status == HandoffStatus.CLOSED.value and latest.rating is None


async def borrower_answer(session: AsyncSession, ctx: TicketContext, ticket: Ticket, answer: str,
                          text: str | None) -> Answered:
    """The borrower's answer to a resolution or rejection, from their chat (the bot calls the desk API).

    ``accept`` records the agreement. ``dispute`` of a resolution reopens the
    ticket and, when the lender's policy (``disputes.on_dispute``) says
    ``escalate``, sends it up to the complaint specialist — history and
    statuses through ``settlement_answer`` and ``escalate``; a rejection is
    final, so its dispute is recorded and the borrower is given the next step.
    ``next_step`` records the question and gives the lender's text about LAPS
    SJK and OJK's portal. The reply is for the chat to send (nothing is queued
    here). In the caller's transaction.
    """
    if answer not in ANSWERS:
        raise InvalidRequest(f"answer must be one of {', '.join(ANSWERS)}")
    note = (text or "").strip()[:2000] or None
    next_step = ctx.lender.disputes.next_step
    if answer == "next_step":
        await record_event(session, ticket, "next_step_requested", BORROWER, note=note)
        return Answered(ticket, "next_step", wording.next_step_reply(ticket.number, next_step))
    if ticket.status == Status.REJECTED.value:
        kind = "rejection_accepted" if answer == "accept" else "rejection_disputed"
        await record_event(session, ticket, kind, BORROWER, note=note)
        reply = (wording.acceptance_reply(ticket.number) if answer == "accept"
                 else wording.dispute_reply(ticket.number, reopened=False, next_step=next_step))
        return Answered(ticket, kind, reply)
    if answer == "accept":
        await settlement_answer(session, ctx, ticket, True, note, BORROWER)
        return Answered(ticket, "accepted", wording.acceptance_reply(ticket.number))
    await settlement_answer(session, ctx, ticket, False, note, BORROWER, notify=False)
    outcome = "reopened"
    if ctx.lender.disputes.on_dispute == "escalate" and ticket.escalation_level == EscalationLevel.AGENT.value:
        await escalate(session, ticket, EscalationLevel.SPECIALIST.value, None,
                       "the borrower disputes the settlement", SYSTEM)
        outcome = "escalated"
    return Answered(ticket, outcome, wording.dispute_reply(ticket.number, reopened=True, next_step=next_step))


async def reject(session: AsyncSession, ctx: TicketContext, ticket: Ticket, ground: str | None,
                 note: str | None, actor: Actor, *, closure: Closure | None) -> None:
    """Reject on one of the grounds the rules allow, in writing, with the reason and the cause."""
    workflow.require_transition(ticket, Status.REJECTED.value, "reject")
    grounds = [g.value for g in RejectionGround]
    if ground not in grounds:
        raise InvalidRequest(f"a rejection needs one of the grounds: {', '.join(grounds)}")
    closed = record_closure(ctx, ticket, closure)
    ticket.rejection_ground = ground
    ticket.closed_at = ctx.now()
    await _set_status(session, ticket, Status.REJECTED.value, actor, ground=ground, note=note, **closed)
    await message_borrower(session, ticket, wording.rejection_notice(ticket.number, ground, note), actor,
                           kind="rejection_sent", ground=ground, ctx=ctx)


async def extend(session: AsyncSession, ctx: TicketContext, ticket: Ticket, reason: str,
                 actor: Actor) -> None:
    """Extend the resolution deadline once, with notice to the borrower."""
    policy = ctx.policy_for(ticket)
    workflow.check_extension(ticket, policy.extension.max)
    if not reason.strip():
        raise InvalidRequest("an extension needs a reason the borrower can read")
    previous = ticket.resolution_due
    ticket.resolution_due = deadline(Clock.EXTENDED_RESOLUTION, policy=policy, calendar=ctx.calendar,
                                     received_at=ticket.received_at, form=ticket.form,  # type: ignore[arg-type]
                                     first_response_at=ticket.first_responded_at, since=previous)
    ticket.extension_count += 1
    ticket.extended_at = ctx.now()
    await session.flush()
    await record_event(session, ticket, "extended", actor, previous_due=previous,
                       resolution_due=ticket.resolution_due, reason=reason)
    if policy.extension.notice_required:
        await message_borrower(session, ticket, wording.extension_notice(ticket.number, ticket.resolution_due,
                                                                         reason), actor,
                               kind="extension_notice_sent", ctx=ctx)


async def set_expectation(session: AsyncSession, ctx: TicketContext, ticket: Ticket, expected_at: datetime,
                          note: str | None, actor: Actor) -> None:
    """Record when the person handling the ticket now expects to resolve it (history ``expectation_set``).

    Only a future time is accepted: the overdue status update gives it to the
    borrower (``tickets.wording.status_update``) and must never promise a day
    already past. It does not move the regulatory deadline (that is ``extend``).
    """
    workflow.require_open(ticket, "set the expected resolution of")
    if expected_at.tzinfo is None:
        raise InvalidRequest("the expected resolution time needs a time zone")
    if expected_at <= ctx.now():
        raise InvalidRequest("the expected resolution must be in the future")
    previous = ticket.expected_resolution_at
    ticket.expected_resolution_at = expected_at
    await session.flush()
    await record_event(session, ticket, "expectation_set", actor, previous=previous, expected_at=expected_at,
                       note=note)


async def add_note(session: AsyncSession, ticket: Ticket, text: str, actor: Actor) -> TicketEvent:
    """A private note in the history; the borrower never sees it."""
    if not text.strip():
        raise InvalidRequest("a note needs text")
    return await record_event(session, ticket, "note", actor, text=text)


async def change_priority(session: AsyncSession, ticket: Ticket, priority: str, actor: Actor) -> None:
    """Set the priority; never below the category's floor."""
    workflow.require_open(ticket, "change the priority of")
    allowed = workflow.floor_priority(ticket.category, priority)
    if allowed != priority:
        raise InvalidRequest(f"{ticket.category} complaints are never below {allowed} priority")
    previous = ticket.priority
    ticket.priority = priority
    await session.flush()
    await record_event(session, ticket, "priority_changed", actor, **{"from": previous, "to": priority})


async def complete_fields(session: AsyncSession, ticket: Ticket, changes: FieldChanges, actor: Actor) -> list[str]:
    """Complete or correct the complaint's fields; returns what is still missing.

    The history records which fields changed and what is left, never their
    values (personal data stays on the ticket only).
    """
    workflow.require_open(ticket, "complete the fields of")
    values = changes.model_dump(exclude_unset=True)
    if not values:
        raise InvalidRequest("send at least one field to change")
    changed = []
    for name, value in values.items():
        if value is None and name in ("full_name", "product"):
            raise InvalidRequest(f"{name} cannot be emptied")
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, str):
            value = value.strip()
        if name == "phone":  # stored as key and ciphertext (desk.pii): compare by key
            if sealed_phone(value)[0] != ticket.phone_key:
                ticket.set_phone(value or None)
                changed.append(name)
            continue
        # A sealed column (e-mail, ID-card address; storage.sealed) compares by its original.
        current = ticket.opened(name) if sealed(Ticket, name) else getattr(ticket, name)
        if current != value:
            setattr(ticket, name, value)
            changed.append(name)
    missing = missing_fields(ticket)
    await session.flush()
    if changed:
        await record_event(session, ticket, "fields_completed", actor, fields=changed, missing=missing)
    return missing
