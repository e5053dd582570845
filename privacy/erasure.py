"""Erasure with legal holds (UU 27/2022 Pasal 8, 43-44).

``erase`` anonymises a verified requester's records now, except those under a
hold: an open complaint, a minimum period another law sets (the retention
schedule's ``minimum_days``), or a hold a supervisor set (a dispute at LAPS
SJK, a court case, an authority's request). Each held record becomes an
``ErasureItem`` with its reason, listed to the requester; ``release`` erases
it once no hold applies — right after a supervisor lifts one, and daily with
the retention job. Anonymising is ``privacy.retention``'s, the one way records
are made anonymous.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import audit
from privacy.context import PrivacyContext
from privacy.errors import InvalidPrivacyRequest, NotAllowed, RequestNotFound
from privacy.models import (HOLD_LABELS, MANUAL_HOLDS, AnonymisedRecord, ErasureItem, HoldReason, LegalHold,
                            RequestKind, RequestStatus, RightsRequest)
from privacy.retention import RetentionRule, anonymise_conversation, anonymise_ticket
from privacy.service import OBJECT_TYPE, close_request, require_verified
from storage.models import Conversation
from tickets.models import Status, Ticket, TicketConversation
from handoff.models import Handoff

CLOSED = (Status.RESOLVED.value, Status.REJECTED.value)


async def _anonymised(session: AsyncSession, record_type: str, record_id: int) -> bool:
    return bool(await session.scalar(select(exists().where(AnonymisedRecord.record_type == record_type,
                                                           AnonymisedRecord.record_id == record_id))))


async def manual_hold(session: AsyncSession, record_type: str, record_id: int) -> str | None:
    """The reason of an active supervisor hold on the record, if any."""
    return await session.scalar(select(LegalHold.reason).where(
        LegalHold.record_type == record_type, LegalHold.record_id == record_id, LegalHold.lifted_at.is_(None))
        .order_by(LegalHold.id).limit(1))


async def held_ids(session: AsyncSession, record_type: str, ids: list[int]) -> set[int]:
    """Ids among ``ids`` with an active supervisor hold: the retention job skips them (Pasal 44)."""
    if not ids:
        return set()
    return set(await session.scalars(select(LegalHold.record_id).where(
        LegalHold.record_type == record_type, LegalHold.record_id.in_(ids), LegalHold.lifted_at.is_(None))))


async def ticket_hold(session: AsyncSession, ticket: Ticket, schedule: dict[str, RetentionRule],
                      now: datetime) -> str | None:
    """Why ``ticket`` may not be erased now, or None."""
    if ticket.status not in CLOSED:
        return HoldReason.OPEN_COMPLAINT.value
    if (reason := await manual_hold(session, "ticket", ticket.id)) is not None:
        return reason
    minimum = schedule["complaint_records"].minimum_days
    if minimum and (ticket.closed_at is None or now < ticket.closed_at + timedelta(days=minimum)):
        return HoldReason.RETENTION_MINIMUM.value
    return None


async def conversation_hold(session: AsyncSession, conversation: Conversation,
                            schedule: dict[str, RetentionRule], now: datetime) -> str | None:
    """Why ``conversation`` may not be erased now: its own hold, or a held complaint it belongs to."""
    if (reason := await manual_hold(session, "conversation", conversation.id)) is not None:
        return reason
    tickets = list(await session.scalars(select(Ticket).join(
        TicketConversation, TicketConversation.ticket_id == Ticket.id).where(
        TicketConversation.conversation_id == conversation.id)))
    for ticket in tickets:
        if await _anonymised(session, "ticket", ticket.id):
            continue
        if (reason := await ticket_hold(session, ticket, schedule, now)) is not None:
            return reason
    handed = await session.scalar(select(exists().where(Handoff.conversation_id == conversation.id)))
    minimum = schedule["complaint_records"].minimum_days
    if not tickets and handed and minimum and now < conversation.last_message_at + timedelta(days=minimum):
        # A chat handed to people is a complaint transcript (privacy.retention), kept as long.
        return HoldReason.RETENTION_MINIMUM.value
    return None


@dataclass
class ErasureResult:
    """What an erasure did now and what it holds, with reasons."""

    erased: dict[str, int] = field(default_factory=dict)
    held: list[ErasureItem] = field(default_factory=list)
    # Identity documents (KTP photos) of erased chats kept for their own minimum (UU 8/2010 Pasal 21(2));
    # the daily job destroys them when it runs out (privacy.retention, "identity_documents").
    identity_documents_kept: int = 0

    def requester_text(self, labels: dict[int, str]) -> str:
        """The answer to the requester in Bahasa Indonesia: what was erased, what is held and why."""
        lines = ["Data pribadi Anda di layanan pengaduan kami telah dihapus."]
        if self.held or self.identity_documents_kept:
            lines = ["Data pribadi Anda di layanan pengaduan kami telah dihapus, kecuali data berikut:"]
            for item in self.held:
                lines.append(f"• {labels.get(item.id, item.record_type)}: {HOLD_LABELS.get(item.reason, item.reason)}.")
            if self.identity_documents_kept:
                lines.append(f"• Foto dokumen identitas ({self.identity_documents_kept} berkas): wajib kami simpan "
                             "sampai 5 tahun setelah hubungan usaha Anda dengan kami berakhir (UU 8/2010).")
            lines.append("Data tersebut akan kami hapus segera setelah alasan penyimpanannya berakhir.")
        return "\n".join(lines)


async def _label(session: AsyncSession, item: ErasureItem) -> str:
    if item.record_type == "ticket":
        number = await session.scalar(select(Ticket.number).where(Ticket.id == item.record_id))
        return f"Pengaduan {number}"
    channel = await session.scalar(select(Conversation.channel).where(Conversation.id == item.record_id))
    return f"Percakapan {channel}"


async def erase(session: AsyncSession, ctx: PrivacyContext, request: RightsRequest,
                actor_id: int | None) -> ErasureResult:
    """Carry out an erasure request: anonymise what is free now, hold the rest with reasons, close the request."""
    if request.kind != RequestKind.ERASURE.value:
        raise InvalidPrivacyRequest(f"request {request.number} is not an erasure request")
    customer_id = require_verified(request)
    now, schedule = ctx.now(), ctx.schedule()
    result = ErasureResult()
    conversations = list(await session.scalars(select(Conversation).where(Conversation.customer_id == customer_id)))
    linked = select(TicketConversation.ticket_id).where(
        TicketConversation.conversation_id.in_([c.id for c in conversations]))
    tickets = list(await session.scalars(select(Ticket).where(
        (Ticket.customer_id == customer_id) | Ticket.id.in_(linked)).order_by(Ticket.id)))

    for ticket in tickets:
        if await _anonymised(session, "ticket", ticket.id):
            continue
        reason = await ticket_hold(session, ticket, schedule, now)
        if reason is None:
            await anonymise_ticket(session, ticket, "erasure", now)
            result.erased["tickets"] = result.erased.get("tickets", 0) + 1
        else:
            result.held.append(ErasureItem(request_id=request.id, record_type="ticket", record_id=ticket.id,
                                           reason=reason, held_at=now))
    await session.flush()
    for conversation in conversations:
        if await _anonymised(session, "conversation", conversation.id):
            continue
        reason = await conversation_hold(session, conversation, schedule, now)
        if reason is None:
            result.identity_documents_kept += await anonymise_conversation(
                session, conversation.id, "erasure", now, schedule)
            result.erased["conversations"] = result.erased.get("conversations", 0) + 1
        else:
            result.held.append(ErasureItem(request_id=request.id, record_type="conversation",
                                           record_id=conversation.id, reason=reason, held_at=now))
    session.add_all(result.held)
    await session.flush()
    labels = {item.id: await _label(session, item) for item in result.held}
    await audit.record(session, actor_id, "privacy.erased", OBJECT_TYPE, request.number, erased=result.erased,
                       held=[{"type": i.record_type, "id": i.record_id, "reason": i.reason} for i in result.held],
                       identity_documents_kept=result.identity_documents_kept)
    await close_request(session, ctx, request, status=RequestStatus.COMPLETED,
                        outcome=result.requester_text(labels), actor_id=actor_id)
    return result


async def release(session: AsyncSession, ctx: PrivacyContext, now: datetime | None = None) -> int:
    """Erase every held item whose holds have all ended; returns how many were erased."""
    now = now or ctx.now()
    schedule = ctx.schedule()
    erased = 0
    for item in list(await session.scalars(select(ErasureItem).where(ErasureItem.erased_at.is_(None))
                                           .order_by(ErasureItem.id))):
        if await _anonymised(session, item.record_type, item.record_id):
            item.erased_at = now
            continue
        if item.record_type == "ticket":
            ticket = await session.get(Ticket, item.record_id)
            if ticket is None or await ticket_hold(session, ticket, schedule, now) is not None:
                continue
            await anonymise_ticket(session, ticket, "erasure", now)
        else:
            conversation = await session.get(Conversation, item.record_id)
            if conversation is None or await conversation_hold(session, conversation, schedule, now) is not None:
                continue
            await anonymise_conversation(session, conversation.id, "erasure", now, schedule)
        item.erased_at = now
        erased += 1
        await session.flush()
    return erased


class NewHold(BaseModel):
    """A hold a supervisor sets on one record."""

    record_type: str = Field(pattern="^(conversation|ticket)$")
    record_id: int
    reason: HoldReason
    note: str = Field(default="", max_length=2000)


async def set_hold(session: AsyncSession, user_role: str, actor_id: int, data: NewHold) -> LegalHold:
    """Set a hold (supervisors and admins only); audited."""
    if user_role not in ("supervisor", "admin"):
        raise NotAllowed("only supervisors set legal holds")
    if data.reason not in MANUAL_HOLDS:
        raise InvalidPrivacyRequest("open_complaint and retention_minimum are computed, not set")
    model = Ticket if data.record_type == "ticket" else Conversation
    record = await session.get(model, data.record_id)
    if record is None:
        raise RequestNotFound(f"no {data.record_type} {data.record_id}")
    hold = LegalHold(customer_id=record.customer_id, record_type=data.record_type, record_id=data.record_id,
                     reason=data.reason.value, note=data.note, set_by=actor_id)
    session.add(hold)
    await session.flush()
    await audit.record(session, actor_id, "privacy.hold_set", "legal_hold", hold.id, record_type=hold.record_type,
                       record_id=hold.record_id, reason=hold.reason)
    return hold


async def lift_hold(session: AsyncSession, ctx: PrivacyContext, user_role: str, actor_id: int,
                    hold_id: int) -> int:
    """Lift a hold (supervisors and admins), audited; held erasures it was blocking are carried out now."""
    if user_role not in ("supervisor", "admin"):
        raise NotAllowed("only supervisors lift legal holds")
    hold = await session.get(LegalHold, hold_id, with_for_update=True)
    if hold is None:
        raise RequestNotFound(f"no legal hold {hold_id}")
    if hold.lifted_at is not None:
        raise InvalidPrivacyRequest(f"legal hold {hold_id} was lifted already")
    hold.lifted_at, hold.lifted_by = ctx.now(), actor_id
    await session.flush()
    await audit.record(session, actor_id, "privacy.hold_lifted", "legal_hold", hold.id,
                       record_type=hold.record_type, record_id=hold.record_id, reason=hold.reason)
    return await release(session, ctx)
