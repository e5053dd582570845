"""Transcripts: what staff read about a conversation, and the supervisors' search.

Opening a transcript always goes through ``open_transcript``, which checks
``handoff.access`` and writes the audit entry in the same transaction.
Search is one interface over both engines: PostgreSQL full-text search
(``to_tsvector('simple', …)``) where available, ``LIKE`` on SQLite.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from attachments import service as attachments
from desk import masking, pii
from desk.auth import StaffUser
from desk.delivery import reason_id
from desk.window import Window, window_of
from handoff import access, nlu_review
from handoff.audit import TRANSCRIPT_OPENED, record
from handoff.hours import WIB
from handoff.models import Handoff, Note, User
from handoff.queue import latest_handoff
from handoff.summary import SummaryInput, structured, summary_lines
from storage.base import utcnow
from storage.models import Conversation, DeliveryStatus, Direction, Message, OutboxItem, OutboxStatus
from desk.phone import InvalidPhone, normalise_phone
from handoff.case import case_ticket
from tickets.models import Ticket, TicketConversation
from tickets.numbers import InvalidTicketNumber, parse_number
from tickets.service import missing_fields

DUE_SOON = timedelta(hours=24)
# The complaint fields a handoff summary may fill in the panel's field list.
COMPLAINT_FIELDS = frozenset({"full_name", "phone", "email", "product", "transaction_date", "chronology",
                              "ticket_number"})


class TranscriptForbidden(Exception):
    """The user may not read this conversation (403)."""


@dataclass(frozen=True)
class Item:
    """One line of the transcript: a message, or a private note (``note=True``)."""

    at: datetime
    seq: int
    author: str
    text: str
    note: bool = False
    agent: str | None = None
    buttons: tuple[str, ...] = ()
    files: tuple[attachments.AttachmentView, ...] = ()
    delivery: Delivery | None = None
    """Outbound messages: where the message stands (outbox and provider reports)."""
    message_id: int | None = None
    nlu_flag: str | None = None
    """Why the bot did not understand this borrower message (fallback, clarified, low_confidence), issue #16."""
    nlu_intent: str | None = None
    """What the bot read it as (its likeliest intent when it fell back)."""
    label: str | None = None
    """The intent staff gave it, when labelled."""


@dataclass(frozen=True)
class Delivery:
    """An outbound message's state as agents see it: ticks, a label, the reason of a failure or hold."""

    state: str
    """pending, held, sent, delivered, read or failed (the console's tick style)."""
    label: str
    reason: str = ""
    template: bool = False
    """Sent as the approved WhatsApp template (outside the window)."""

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "label": self.label, "reason": self.reason, "template": self.template}


# Indonesian labels: the console shows the state beside each message.
_LABELS = {"pending": "Menunggu dikirim", "held": "Ditahan", "sent": "Terkirim", "delivered": "Diterima",
           "read": "Dibaca", "failed": "Gagal terkirim"}


def delivery_of(status: str, form: str | None, delivery_status: str | None, delivery_error: str | None,
                last_error: str | None) -> Delivery:
    """How one outbox item looks in the console (the one mapping from outbox columns to ticks)."""
    template = form == "template"
    if delivery_status in (DeliveryStatus.FAILED.value, DeliveryStatus.UNDELIVERED.value):
        if status in (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value):
            # 63016: queued again as its template.
            return Delivery("pending", _LABELS["pending"], reason_id(delivery_error), template)
        return Delivery("failed", _LABELS["failed"], reason_id(delivery_error), template)
    if status == OutboxStatus.HELD.value:
        return Delivery("held", _LABELS["held"], reason_id(delivery_error or "no_template"), template)
    if status == OutboxStatus.FAILED.value:
        return Delivery("failed", _LABELS["failed"],
                        reason_id(delivery_error) if delivery_error else "Gagal terkirim setelah dicoba berulang kali; "
                        "kirim ulang dari daftar balasan gagal.", template)
    if status != OutboxStatus.SENT.value:
        return Delivery("pending", _LABELS["pending"], "", template)
    if delivery_status in (DeliveryStatus.DELIVERED.value, DeliveryStatus.READ.value):
        return Delivery(delivery_status, _LABELS[delivery_status], "", template)
    return Delivery("sent", _LABELS["sent"], "", template)


async def deliveries(session: AsyncSession, conversation: Conversation, *,
                     after_seq: int = 0) -> dict[int, Delivery]:
    """The delivery state of each outbound message of ``conversation``, by message ``seq``."""
    rows = (await session.execute(
        select(Message.seq, OutboxItem.status, OutboxItem.form, OutboxItem.delivery_status,
               OutboxItem.delivery_error, OutboxItem.last_error)
        .join(OutboxItem, OutboxItem.message_id == Message.id)
        .where(Message.conversation_id == conversation.id, Message.seq > after_seq))).all()
    return {r.seq: delivery_of(r.status, r.form, r.delivery_status, r.delivery_error, r.last_error) for r in rows}


async def conversation_window(session: AsyncSession, conversation: Conversation) -> Window | None:
    """The conversation's customer-care window (None: its channel has none; ``desk.window``)."""
    last = await session.scalar(select(func.max(Message.created_at)).where(
        Message.conversation_id == conversation.id, Message.direction == Direction.INBOUND.value))
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    return window_of(conversation.channel, last)


@dataclass
class ConversationView:
    """Everything the conversation panel shows."""

    conversation: Conversation
    handoff: Handoff | None
    ticket: Ticket | None
    items: list[Item]
    handoff_seq: int | None
    assignee: str | None
    fields: dict[str, str] = field(default_factory=dict)
    identity: dict[str, str] = field(default_factory=dict)
    account: dict[str, Any] | None = None
    full_personal_data: bool = False
    summary: list[str] = field(default_factory=list)
    """The handoff summary in Indonesian lines (``handoff.summary.summary_lines``)."""
    window: Window | None = None
    """WhatsApp's customer-care window (None on channels without one)."""


async def conversation_by_public_id(session: AsyncSession, public_id: str) -> Conversation | None:
    return await session.scalar(select(Conversation).where(Conversation.public_id == public_id))


async def items(session: AsyncSession, conversation: Conversation, *, after_seq: int = 0,
                with_notes: bool = True, mask: bool = False, sees_sensitive: bool = False) -> list[Item]:
    """Messages (and notes) in order; ``after_seq`` returns only newer messages.

    Each message carries its files; identity documents are hidden unless
    ``sees_sensitive`` (``access.sees_full_personal_data``).
    """
    names = dict((await session.execute(select(User.id, User.display_name))).all())
    messages = list(await session.scalars(
        select(Message).where(Message.conversation_id == conversation.id, Message.seq > after_seq)
        .order_by(Message.seq)))
    files: dict[int, list[attachments.AttachmentView]] = {}
    for row in await attachments.for_conversation(session, conversation.id):
        if row.message_id is not None:
            files.setdefault(row.message_id, []).append(attachments.view(row, sees_sensitive=sees_sensitive))
    labels = await nlu_review.labels_for(session, [m.id for m in messages if m.direction == Direction.INBOUND.value])
    states = await deliveries(session, conversation, after_seq=after_seq)
    # Masked roles read the stored text masked again (idempotent); the others the original, opened.
    result = [Item(m.created_at, m.seq, m.author, masking.mask_text(m.text) if mask else m.clear_text(),
                   agent=names.get(m.agent_id) if m.agent_id else None,
                   buttons=tuple(b.get("title", "") for b in (m.payload or {}).get("buttons", [])),
                   files=tuple(files.get(m.id, ())), delivery=states.get(m.seq),
                   message_id=m.id if m.direction == Direction.INBOUND.value else None,
                   nlu_flag=nlu_review.flag_of(m.payload),
                   nlu_intent=_read_as(nlu_review.nlu_of(m.payload)),
                   label=labels.get(m.id))
              for m in messages]
    if with_notes and after_seq == 0:
        notes = (await session.execute(select(Note).where(Note.conversation_id == conversation.id))).scalars()
        # A note sorts after the message it follows in time, with that message's seq.
        for note in notes:
            seq = max((i.seq for i in result if i.at <= note.created_at), default=0)
            text = masking.mask_text(note.text) if mask else note.clear_text()
            result.append(Item(note.created_at, seq, "note", text, note=True, agent=names.get(note.author_id)))
        result.sort(key=lambda i: (i.seq, i.note, i.at))
    return result


def _read_as(nlu: dict[str, Any]) -> str | None:
    """The bot's reading of a message: its intent, or its likeliest real one when it fell back."""
    candidates = nlu.get("candidates") or []
    if nlu.get("intent") == "nlu_fallback" and candidates:
        return candidates[0].get("intent")
    return nlu.get("intent")


def _fields(handoff: Handoff | None, ticket: Ticket | None, mask: bool) -> dict[str, str]:
    """The complaint fields the bot collected: the ticket's, then the handoff summary's."""
    out: dict[str, str] = {}
    if ticket is not None:
        out.update({
            "full_name": masking.mask_name(ticket.full_name) if mask else ticket.full_name,
            "phone": masking.mask_phone(ticket.clear_phone()) if mask else (ticket.clear_phone() or ""),
            # Stored masked (storage.sealed): masked roles read the stored value, the others it opened.
            "email": (ticket.email or "") if mask else (ticket.opened("email") or ""),
            "product": ticket.product,
            "transaction_date": ticket.transaction_date.isoformat() if ticket.transaction_date else "",
            "chronology": masking.mask_text(ticket.chronology) if mask else ticket.opened("chronology"),
        })
    for key, value in (structured(handoff.opened("summary")) if handoff else {}).items():
        # Only complaint fields: the rest of the bot's summary is in the rendered summary lines.
        if key in out or key not in COMPLAINT_FIELDS or value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else str(value)
        if mask:
            text = masking.mask_name(text) if key in ("full_name", "name", "nama") else masking.mask_text(text)
        out[key] = text
    return {k: v for k, v in out.items() if v}


async def _account(lending: Any, customer_id: str | None) -> dict[str, Any] | None:
    if not customer_id or lending is None:
        return None
    try:
        account = await lending.account(customer_id)
    except Exception:  # noqa: BLE001 - the lending core being down must not hide the chat
        return {"error": True}
    if account is None:
        return None
    return account.to_json() if hasattr(account, "to_json") else dict(account)


async def open_transcript(session: AsyncSession, user: StaffUser, public_id: str, *, lending: Any = None,
                          audit: bool = True) -> ConversationView:
    """Check access, write the audit entry, and gather the conversation panel."""
    conversation = await conversation_by_public_id(session, public_id)
    if conversation is None:
        raise LookupError(public_id)
    handoff = await latest_handoff(session, conversation.id)
    if not access.can_read(user, handoff):
        await record(session, user.id, "transcript.denied", "conversation", public_id)
        raise TranscriptForbidden(public_id)
    if audit:
        await record(session, user.id, TRANSCRIPT_OPENED, "conversation", public_id,
                     handoff_id=handoff.id if handoff else None)
    full = access.sees_full_personal_data(user)
    ticket = await case_ticket(session, handoff)
    lines = await items(session, conversation, mask=False, sees_sensitive=full)
    handoff_seq = None
    if handoff is not None:
        handoff_seq = max((i.seq for i in lines if not i.note and i.at <= handoff.requested_at), default=None)
    assignee = None
    if handoff is not None and handoff.assigned_to:
        assignee = await session.scalar(select(User.display_name).where(User.id == handoff.assigned_to))
    sender = conversation.clear_sender() or ""
    identity = {
        "channel": conversation.channel,
        "sender": sender if full or conversation.channel != "whatsapp" else masking.mask_phone(sender),
        "name": (conversation.sender_name or "") if full else masking.mask_name(conversation.sender_name),
        "customer_id": conversation.customer_id or "",
        "verified": "yes" if conversation.customer_id else "no",
    }
    account = await _account(lending, conversation.customer_id)
    if account and not full and not account.get("error"):
        account = {**account, "full_name": masking.mask_name(account.get("full_name"))}
    summary = [] if handoff is None else summary_lines(SummaryInput(
        handoff.reason, handoff.category, ticket.number if ticket else None,
        tuple(missing_fields(ticket)) if ticket else (), conversation.customer_id, handoff.opened("summary")),
        mask=not full)
    window = await conversation_window(session, conversation)
    return ConversationView(conversation, handoff, ticket, lines, handoff_seq, assignee,
                            _fields(handoff, ticket, not full), identity, account, full, summary, window)


# -- supervisors' list and search ---------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    category: str | None = None
    agent_id: int | None = None
    sla_state: str | None = None  # late | due_soon | ok | none
    rating: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    status: str | None = None  # waiting | assigned | closed | bot (never reached people)
    people_only: bool = False  # only conversations that reached people (an agent's own list)


BOT_ONLY = "bot"


@dataclass(frozen=True)
class Row:
    public_id: str
    channel: str
    sender_name: str | None
    category: str | None
    priority: str | None
    status: str
    """The latest handoff's status, or ``bot`` for a conversation that never reached people."""
    agent: str | None
    requested_at: datetime
    """When it reached people, or the last message of a bot-only conversation."""
    closed_at: datetime | None
    rating: int | None
    ticket_number: str | None
    resolution_due: datetime | None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, WIB).astimezone(timezone.utc)


def text_match(dialect: str, q: str):  # type: ignore[no-untyped-def]
    """The condition "some message of the conversation matches ``q``", per engine."""
    if dialect == "postgresql":
        cond = func.to_tsvector("simple", Message.text).op("@@")(func.plainto_tsquery("simple", q))
    else:
        cond = func.lower(Message.text).like(_contains(q), escape="\\")
    return exists().where(Message.conversation_id == Conversation.id, cond)


def _contains(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def query_match(dialect: str, q: str):  # type: ignore[no-untyped-def]
    """Whatever a supervisor may type: a ticket number, a phone number in any form, a name, a word.

    Matches the conversation's messages and name, its sender, and its tickets'
    number, phone, name and chronology. Senders and phone numbers are stored as
    keyed hashes (desk.pii), so they match whole, never by a part: a phone
    number in any spelling, a Telegram chat id or an in-app customer id. Message
    texts and chronologies are searched as stored, with phone numbers, NIK and
    e-mail addresses masked (storage.sealed): words match, typed numbers do not.
    """
    like = _contains(q)
    ring = pii.keyring()
    ticket_conds = [func.lower(Ticket.full_name).like(like, escape="\\"),
                    func.lower(Ticket.chronology).like(like, escape="\\"),
                    func.lower(Ticket.number).like(like, escape="\\")]
    address = q.strip()
    conds = [text_match(dialect, q), func.lower(Conversation.sender_name).like(like, escape="\\"),
             Conversation.sender_key.in_([pii.sender_key(ring, "telegram", address),
                                          pii.sender_key(ring, "inapp", address)])]
    try:
        ticket_conds.append(Ticket.number == parse_number(q))
    except InvalidTicketNumber:
        pass
    try:
        phone = normalise_phone(q)
    except InvalidPhone:
        phone = None
    if phone is not None and sum(ch.isdigit() for ch in q) >= 9:
        key = pii.phone_key(ring, phone)  # a WhatsApp sender's key is its number's phone key
        conds.append(Conversation.sender_key == key)
        ticket_conds.append(Ticket.phone_key == key)
    tickets = (select(TicketConversation.conversation_id).join(Ticket, Ticket.id == TicketConversation.ticket_id)
               .where(TicketConversation.conversation_id == Conversation.id, or_(*ticket_conds)))
    return or_(*conds, exists(tickets))


def search_query(filters: Filters, dialect: str, now: datetime | None = None) -> Select[Any]:
    """Every conversation with its latest handoff (if any), filtered; newest first.

    A conversation that never reached people has no handoff: it shows with
    status ``bot``, its last message time, and the newest ticket linked to it.
    Filters on handoff fields (category, agent, status, rating, SLA) keep
    only conversations that reached people, except ``status=bot``.
    """
    now = now or utcnow()
    latest = select(func.max(Handoff.id)).group_by(Handoff.conversation_id).scalar_subquery()
    linked = (select(func.max(TicketConversation.ticket_id))
              .where(TicketConversation.conversation_id == Conversation.id).correlate(Conversation)
              .scalar_subquery())
    ticket_id = func.coalesce(Handoff.ticket_id, linked)
    when = func.coalesce(Handoff.requested_at, Conversation.last_message_at)
    query = (select(Conversation.public_id, Conversation.channel, Conversation.sender_name, Handoff.category,
                    Handoff.priority, func.coalesce(Handoff.status, BOT_ONLY), User.display_name, when,
                    Handoff.closed_at, Handoff.rating, Ticket.number, Ticket.resolution_due)
             .select_from(Conversation)
             .outerjoin(Handoff, and_(Handoff.conversation_id == Conversation.id, Handoff.id.in_(latest)))
             .outerjoin(User, User.id == Handoff.assigned_to)
             .outerjoin(Ticket, Ticket.id == ticket_id)
             .order_by(when.desc(), Conversation.id.desc()))
    f = filters
    if f.people_only:
        query = query.where(Handoff.id.is_not(None))
    if f.channel:
        query = query.where(Conversation.channel == f.channel)
    if f.category:
        query = query.where(Handoff.category == f.category)
    if f.agent_id:
        query = query.where(Handoff.assigned_to == f.agent_id)
    if f.status == BOT_ONLY:
        query = query.where(Handoff.id.is_(None))
    elif f.status:
        query = query.where(Handoff.status == f.status)
    if f.rating:
        query = query.where(Handoff.rating == f.rating)
    if f.date_from:
        query = query.where(when >= _day_start(f.date_from))
    if f.date_to:
        query = query.where(when < _day_start(f.date_to + timedelta(days=1)))
    if f.sla_state:
        due, open_ = Ticket.resolution_due, Ticket.closed_at.is_(None)
        states = {
            "late": and_(due.is_not(None), open_, due < now),
            "due_soon": and_(due.is_not(None), open_, due >= now, due < now + DUE_SOON),
            "ok": and_(due.is_not(None), or_(Ticket.closed_at.is_not(None), due >= now + DUE_SOON)),
            "none": Ticket.id.is_(None),
        }
        if f.sla_state in states:
            query = query.where(states[f.sla_state])
    if f.q and f.q.strip():
        query = query.where(query_match(dialect, f.q.strip()))
    return query


async def search(session: AsyncSession, filters: Filters, *, limit: int = 200) -> list[Row]:
    """Any conversation, bot-only ones included, filtered (supervisors only — the caller checks)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    rows = (await session.execute(search_query(filters, dialect).limit(limit))).all()
    return [Row(*r) for r in rows]


async def my_conversations(session: AsyncSession, user: StaffUser) -> list[Row]:
    """The conversations ``user`` holds now."""
    rows = await search(session, Filters(agent_id=user.id, status="assigned", people_only=True))
    return rows
