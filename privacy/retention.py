"""The retention schedule and the daily job that anonymises what is due.

UU 27/2022 fixes no retention period: the controller sets one per record
type and, when it runs out, ends processing and deletes or anonymises
(Pasal 42-44). Other laws set minimums, enforced here so that a lender file
cannot go below them. Every period is counted from a named event; defaults
and their legal basis are in ``DEFAULT_SCHEDULE`` and docs/privacy.md.

Anonymising replaces names, phone numbers, NIK, ids, addresses and free
text irreversibly (overwritten, not encrypted or hashed) and destroys
attachment files (their rows keep type, size and dates), while counts,
categories, products, channels, dates and SLA outcomes stay: the complaint
reports for a past period give the same figures after the job as before.

Files run on their own clocks too: a file whose period ran out is destroyed
even when its conversation is kept longer, and an identity document (a KTP
photo) is kept after its conversation is anonymised while the identity-record
period, counted from the end of the customer's relationship with the lender
(``privacy.relationships``), has not run out.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from collections.abc import Awaitable
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.models import Attachment, AttachmentStatus
from attachments.service import IDENTITY_DOCUMENT_LABELS, erase_for_conversations, erase_rows
from handoff.models import AuditEntry, Handoff, Note
from privacy.models import AnonymisedRecord, RelationshipEnd
from privacy.relationships import ended_before
from storage.db import Database
from storage.models import Conversation, Message, OutboxItem, VerificationAttempt
from tickets.models import Status, Ticket, TicketConversation, TicketEvent

log = logging.getLogger(__name__)

RecordType = Literal["bot_conversations", "complaint_records", "verification_records", "attachments",
                     "identity_documents", "audit_log", "rating_comments"]
Event = Literal["conversation_last_message", "ticket_closed", "recorded", "rated", "relationship_ended"]
CLOSED_STATUSES = (Status.RESOLVED.value, Status.REJECTED.value)
ANON = ""
ANON_VERIFICATION_KEY = "anonymised"
# Ticket history keys that carry no personal data (states, levels, kinds); every other key is dropped.
SAFE_EVENT_KEYS = frozenset({"from", "to", "status", "level", "department", "alert", "key", "ground", "kind",
                             "count", "form", "priority", "category"})


class RetentionRule(BaseModel):
    """How long one record type is kept: ``period_days`` after the event ``from``."""

    period_days: int = Field(ge=0)
    from_event: Event = Field(alias="from")
    minimum_days: int = 0
    basis: str = ""

    model_config = {"populate_by_name": True}


# The defaults a lender gets when its file says nothing; docs/privacy.md gives the reasoning.
DEFAULT_SCHEDULE: dict[str, RetentionRule] = {
    "bot_conversations": RetentionRule(
        period_days=365, from_event="conversation_last_message",
        basis="controller's choice (UU 27/2022 Pasal 42-44 sets no period); no complaint was raised"),
    # UU 8/1997 counts 10 years from the end of the financial year; counted from the closing
    # date instead, 11 years covers a calendar financial year ending up to a year later.
    "complaint_records": RetentionRule(
        period_days=4018, from_event="ticket_closed", minimum_days=4018,
        basis="UU 8/1997: financial records and supporting data kept 10 years after the financial year"),
    # Attempts no check ever tied to a customer (every try failed) count from the attempt: they identify
    # nobody the lender has a relationship with (docs/privacy.md, "Retention schedule").
    "verification_records": RetentionRule(
        period_days=1827, from_event="relationship_ended", minimum_days=1827,
        basis="UU 8/2010 Pasal 21(2): identity records kept at least 5 years after the relationship ends"),
    # Files other than identity documents, counted like the complaint they came with (a chat without a
    # ticket: its last message). A borrower's transfer receipt a payment was booked on is bukti pembukuan.
    "attachments": RetentionRule(
        period_days=4018, from_event="ticket_closed", minimum_days=4018,
        basis="UU 8/1997 Pasal 11(1): bookkeeping evidence and its supporting data kept 10 years after "
              "the financial year"),
    # Files staff labelled as identity documents (KTP, other identity papers) of a known customer; never
    # while a complaint of their chat is open. Without a known customer they are files like any other.
    "identity_documents": RetentionRule(
        period_days=1827, from_event="relationship_ended", minimum_days=1827,
        basis="UU 8/2010 Pasal 21(2): identity documents kept at least 5 years after the relationship ends"),
    "audit_log": RetentionRule(
        period_days=1827, from_event="recorded",
        basis="controller's choice: the processing record (UU 27/2022 Pasal 31) outlives the data it describes"),
    "rating_comments": RetentionRule(
        period_days=730, from_event="rated", basis="controller's choice: service-quality feedback"),
}


class ScheduleError(ValueError):
    """The lender file's retention section is invalid or goes below a legal minimum."""


def build_schedule(overrides: dict[str, dict[str, Any]]) -> dict[str, RetentionRule]:
    """The defaults with the lender file's ``privacy.retention`` applied; refuses periods below a minimum."""
    schedule = dict(DEFAULT_SCHEDULE)
    for name, raw in (overrides or {}).items():
        if name not in schedule:
            raise ScheduleError(f"unknown record type {name!r} in privacy.retention; known: {', '.join(schedule)}")
        base = schedule[name]
        merged = {"period_days": base.period_days, "from": base.from_event, **(raw or {})}
        if merged["from"] != base.from_event:
            # The job counts each record type from one event; another name would be silently ignored.
            raise ScheduleError(f"privacy.retention.{name}: counted from {base.from_event}, "
                                f"not {merged['from']!r} (omit 'from' or give {base.from_event})")
        rule = RetentionRule.model_validate({**merged, "minimum_days": base.minimum_days, "basis": base.basis})
        if rule.period_days < base.minimum_days:
            raise ScheduleError(f"privacy.retention.{name}: {rule.period_days} days is below the legal minimum "
                                f"of {base.minimum_days} ({base.basis})")
        schedule[name] = rule
    return schedule


@dataclass
class RetentionReport:
    """What one run anonymised, by record type."""

    anonymised: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, count: int) -> None:
        if count:
            self.anonymised[name] = self.anonymised.get(name, 0) + count


async def identity_period_over(session: AsyncSession, customer_id: str, schedule: dict[str, RetentionRule],
                               now: datetime) -> bool:
    """Whether ``customer_id``'s identity records may go: its relationship ended a full period ago."""
    ended_at = await session.scalar(select(RelationshipEnd.ended_at).where(RelationshipEnd.customer_id == customer_id))
    return ended_at is not None and ended_at <= now - timedelta(days=schedule["identity_documents"].period_days)


async def _identity_documents_kept(session: AsyncSession, conversation_id: int,
                                   schedule: dict[str, RetentionRule], now: datetime) -> list[Attachment]:
    """The conversation's identity documents that outlive it, each stamped with its customer's id."""
    customer_id = await session.scalar(select(Conversation.customer_id).where(Conversation.id == conversation_id))
    kept = []
    for row in await session.scalars(select(Attachment).where(
            Attachment.conversation_id == conversation_id, Attachment.status != AttachmentStatus.ERASED.value,
            Attachment.label.in_(IDENTITY_DOCUMENT_LABELS))):
        owner = row.customer_id or customer_id
        if owner is not None and not await identity_period_over(session, owner, schedule, now):
            row.customer_id = owner  # the conversation forgets its customer below; the document must not
            kept.append(row)
    return kept


async def anonymise_conversation(session: AsyncSession, conversation_id: int, rule: str, now: datetime,
                                 schedule: dict[str, RetentionRule] | None = None) -> int:
    """Overwrite everything personal in one conversation: address, names, message text, notes, summaries,
    and its attachments (marked erased; their files are destroyed once this commits).

    The address's key becomes ``anon-<id>`` and its ciphertext is dropped, not re-encrypted: nothing
    is left that a key could open, and the borrower's next message opens a new conversation.
    Identity documents of a customer whose identity-record period has not run out are kept (the
    ``identity_documents`` rule destroys them later); returns how many. ``schedule``: the lender's
    (``PrivacyContext.schedule()``), the defaults when None."""
    kept = await _identity_documents_kept(session, conversation_id, schedule or DEFAULT_SCHEDULE, now)
    await session.execute(update(Conversation).where(Conversation.id == conversation_id).values(
        sender_key=f"anon-{conversation_id}", sender_enc=None, sender_name=None, customer_id=None,
        lease_owner=None, lease_until=None))
    await session.execute(update(Message).where(Message.conversation_id == conversation_id).values(
        text=ANON, text_enc=None, payload={}, external_id=None, last_error=None))
    await session.execute(update(OutboxItem).where(OutboxItem.conversation_id == conversation_id).values(
        recipient_enc=None, provider_message_id=None, last_error=None))
    # Core UPDATEs skip the ORM's sealing: every sealed original (``…_enc``) is dropped by name.
    await session.execute(update(Note).where(Note.conversation_id == conversation_id).values(
        text=ANON, text_enc=None))
    await session.execute(update(Handoff).where(Handoff.conversation_id == conversation_id).values(
        summary={}, summary_enc=None, closing_summary=None, closing_summary_enc=None, rating_comment=None,
        rating_comment_enc=None))
    # The rows keep type, size and dates; the bytes are destroyed after commit (privacy.jobs.destroy_files).
    await erase_for_conversations(session, [conversation_id], keep={row.id for row in kept})
    session.add(AnonymisedRecord(record_type="conversation", record_id=conversation_id, rule=rule,
                                 anonymised_at=now))
    return len(kept)


async def anonymise_ticket(session: AsyncSession, ticket: Ticket, rule: str, now: datetime) -> None:
    """Overwrite the complainant's identity and free text; keep category, product, dates and SLA outcome.

    The sealed columns are assigned through the ORM, which drops their originals too (storage.sealed)."""
    ticket.full_name = ANON
    ticket.set_phone(None)  # key and ciphertext both dropped
    ticket.email = ticket.customer_id = None
    ticket.chronology = ANON
    ticket.id_card_address = ticket.power_of_attorney_ref = None
    ticket.idempotency_key = ticket.receipt_token = None
    if ticket.outcome:
        ticket.outcome = {k: v for k, v in ticket.outcome.items() if k in ("kind", "compensation_amount")}
    for event in await session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)):
        event.data = {k: v for k, v in (event.data or {}).items() if k in SAFE_EVENT_KEYS}
    session.add(AnonymisedRecord(record_type="ticket", record_id=ticket.id, rule=rule, anonymised_at=now))


def _done(record_type: str, column: Any) -> Any:
    return exists().where(AnonymisedRecord.record_type == record_type, AnonymisedRecord.record_id == column)


def _linked_tickets(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    """A ticket of the attachment's conversation matching ``where`` exists (correlated to ``Attachment``)."""
    return exists().where(TicketConversation.conversation_id == Attachment.conversation_id,
                          Ticket.id == TicketConversation.ticket_id, *where)


# Whose identity document a file is: stamped on it once its chat is anonymised, else the chat's customer.
_OWNER = func.coalesce(Attachment.customer_id, Conversation.customer_id)
# Spelled so that it is never NULL (most files have no label): NOT of a NULL would drop them from the job.
_IDENTITY = Attachment.label.is_not(None) & Attachment.label.in_(IDENTITY_DOCUMENT_LABELS) & _OWNER.is_not(None)


def _due_files(schedule: dict[str, RetentionRule], now: datetime) -> ColumnElement[bool]:
    """Files whose own period ran out: ``attachments`` (from their complaint's closing, a chat without a
    ticket from its last message) or, for a known customer's identity documents, ``identity_documents``."""
    cutoff = now - timedelta(days=schedule["attachments"].period_days)
    owner, identity = _OWNER, _IDENTITY
    not_closed_in_time = _linked_tickets(~Ticket.status.in_(CLOSED_STATUSES) | Ticket.closed_at.is_(None)
                                         | (Ticket.closed_at > cutoff))
    linked = _linked_tickets()
    file_due = (linked & ~not_closed_in_time) | (~linked & (Conversation.last_message_at <= cutoff))
    identity_cutoff = now - timedelta(days=schedule["identity_documents"].period_days)
    identity_due = owner.in_(ended_before(identity_cutoff)) & ~_linked_tickets(~Ticket.status.in_(CLOSED_STATUSES))
    return (~identity & file_due) | (identity & identity_due)


async def _files_on_their_own_clocks(db: Database, schedule: dict[str, RetentionRule], now: datetime,
                                     skip: HeldIds, report: RetentionReport, batch: int) -> None:
    """Mark erased every file whose own period ran out, whatever its conversation's (skipping held chats);
    the bytes go after commit (privacy.jobs.destroy_files)."""
    after_id = 0
    due = _due_files(schedule, now)
    while True:
        async with db.transaction() as session:
            rows = (await session.execute(
                select(Attachment, _IDENTITY).join(Conversation, Conversation.id == Attachment.conversation_id)
                .where(Attachment.status != AttachmentStatus.ERASED.value, Attachment.id > after_id, due)
                .order_by(Attachment.id).limit(batch))).all()
            blocked = await skip(session, "conversation", sorted({r.conversation_id for r, _ in rows}))
            todo = [(r, identity) for r, identity in rows if r.conversation_id not in blocked]
            await erase_rows(session, [r for r, _ in todo])
            identities = sum(1 for _, identity in todo if identity)
            report.add("identity_documents", identities)
            report.add("attachments", len(todo) - identities)
        if len(rows) < batch:
            return
        after_id = rows[-1][0].id


class HeldIds(Protocol):
    """Which of ``ids`` (conversations or tickets) are under a hold (``privacy.erasure.held_ids``)."""

    def __call__(self, session: AsyncSession, record_type: str, ids: list[int]) -> Awaitable[set[int]]: ...


async def run_retention(db: Database, schedule: dict[str, RetentionRule], now: datetime, *,
                        held: HeldIds | None = None, batch: int = 500) -> RetentionReport:
    """Anonymise every record whose period has run out at ``now``; idempotent, one batch per transaction.

    ``held(session, kind, ids)`` (the legal holds, privacy.holds) returns the ids
    to skip; None skips nothing.
    """
    report = RetentionReport()

    async def skip(session: AsyncSession, kind: str, ids: list[int]) -> set[int]:
        return set(await held(session, kind, ids)) if held is not None else set()

    # Complaint records: closed tickets, their conversations once no open or retained ticket needs them.
    rule = schedule["complaint_records"]
    cutoff = now - timedelta(days=rule.period_days)
    after_id = 0  # held tickets stay behind: page by id, never re-read the same batch
    while True:
        async with db.transaction() as session:
            tickets = list(await session.scalars(
                select(Ticket).where(Ticket.status.in_((Status.RESOLVED.value, Status.REJECTED.value)),
                                     Ticket.closed_at <= cutoff, Ticket.id > after_id, ~_done("ticket", Ticket.id))
                .order_by(Ticket.id).limit(batch)))
            blocked = await skip(session, "ticket", [t.id for t in tickets])
            todo = [t for t in tickets if t.id not in blocked]
            for ticket in todo:
                await anonymise_ticket(session, ticket, "complaint_records", now)
            report.add("complaint_records", len(todo))
        if len(tickets) < batch:
            break
        after_id = tickets[-1].id
    async with db.transaction() as session:
        ticket_done = _done("ticket", TicketConversation.ticket_id)
        linked_pending = exists().where(TicketConversation.conversation_id == Conversation.id, ~ticket_done)
        linked_any = exists().where(TicketConversation.conversation_id == Conversation.id)
        handed = exists().where(Handoff.conversation_id == Conversation.id)
        # Transcripts of complaints: every ticket they belong to is anonymised, or (handed to people,
        # no ticket) the conversation has been quiet for the complaint period.
        ids = list(await session.scalars(select(Conversation.id).where(
            ~_done("conversation", Conversation.id),
            ((linked_any & ~linked_pending) | (handed & ~linked_any & (Conversation.last_message_at <= cutoff))))))
        blocked = await skip(session, "conversation", ids)
        for conversation_id in ids:
            if conversation_id not in blocked:
                await anonymise_conversation(session, conversation_id, "complaint_records", now, schedule)
        report.add("complaint_transcripts", len(ids) - len(blocked & set(ids)))

    # Bot-only conversations: never handed to people, never part of a complaint.
    rule = schedule["bot_conversations"]
    async with db.transaction() as session:
        ids = list(await session.scalars(select(Conversation.id).where(
            ~_done("conversation", Conversation.id),
            ~exists().where(Handoff.conversation_id == Conversation.id),
            ~exists().where(TicketConversation.conversation_id == Conversation.id),
            Conversation.last_message_at <= now - timedelta(days=rule.period_days))))
        blocked = await skip(session, "conversation", ids)
        for conversation_id in ids:
            if conversation_id not in blocked:
                await anonymise_conversation(session, conversation_id, "bot_conversations", now, schedule)
        report.add("bot_conversations", len(ids) - len(blocked & set(ids)))

    await _files_on_their_own_clocks(db, schedule, now, skip, report, batch)

    async with db.transaction() as session:
        # Counted from the end of the customer's relationship; an attempt tied to no customer, from itself.
        cutoff = now - timedelta(days=schedule["verification_records"].period_days)
        result = await session.execute(update(VerificationAttempt).where(
            VerificationAttempt.phone_key != ANON_VERIFICATION_KEY,
            or_(VerificationAttempt.customer_id.in_(ended_before(cutoff)),
                VerificationAttempt.customer_id.is_(None) & (VerificationAttempt.created_at <= cutoff))).values(
            phone_key=ANON_VERIFICATION_KEY, loan_key=ANON_VERIFICATION_KEY, conversation_public_id=ANON,
            customer_id=None))
        report.add("verification_records", result.rowcount or 0)
        rule = schedule["rating_comments"]
        result = await session.execute(update(Handoff).where(
            Handoff.rated_at <= now - timedelta(days=rule.period_days),
            Handoff.rating_comment.is_not(None)).values(rating_comment=None, rating_comment_enc=None))
        report.add("rating_comments", result.rowcount or 0)
        rule = schedule["audit_log"]
        old = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.at <= now - timedelta(days=rule.period_days))))
        cleared = [e for e in old if e.details]
        for entry in cleared:
            entry.details = {}
        report.add("audit_log", len(cleared))
    log.info("retention run anonymised %s", report.anonymised)
    return report
