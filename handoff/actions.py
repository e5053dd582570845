"""What staff do inside a conversation: reply, note, set fields, transfer, escalate, close.

Each function runs in the caller's transaction, checks ``handoff.access``,
writes the audit log, and returns what the caller should publish after commit.
Replies leave only through ``desk.outbox.enqueue``; notes are never queued.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from attachments import service as attachments
from desk.auth import StaffUser
from desk.masking import mask_text
from desk.messages import Button, OutboundMessage, TemplateUse
from desk.outbox import enqueue as enqueue_outbound
from desk.store.orm import set_mode
from desk.templates import TemplateBook
from handoff import access, canned
from handoff.case import case_ticket, follow_holder
from handoff.audit import record
from handoff.models import Handoff, HandoffStatus, Note, Role, User
from handoff.queue import PRIORITY_RANK, effective_priority
from storage.base import utcnow
from storage.models import Author, Conversation, ConversationMode, Message
from storage.sealed import values as sealed_values
from tickets import service as ticket_service
from tickets import workflow
from tickets.context import TicketContext
from tickets.errors import TicketError
from tickets.receipt import receipt_text
from tickets.wording import tanggal
from tickets.models import CATEGORY_LABELS, Department, EscalationLevel, Status, Ticket

DEPARTMENTS = tuple(d.value for d in Department)
# Statuses the console sets directly; resolving or rejecting needs the outcome or the
# ground the ticket pages collect (tickets.service.resolve / reject).
CONSOLE_STATUSES = (Status.IN_PROGRESS.value,)
RATING_PAYLOAD_PREFIX = "rating:"
MAX_REPLY_CHARS = 4096


class ActionRefused(Exception):
    """The user may not do this to this conversation, or the input is invalid."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def require_act(user: StaffUser, handoff: Handoff | None) -> Handoff:
    if not access.can_act(user, handoff):
        raise ActionRefused("not_yours", "only the agent who holds this conversation can do that", 403)
    assert handoff is not None
    return handoff


async def _ticket(session: AsyncSession, handoff: Handoff) -> Ticket | None:
    return await case_ticket(session, handoff)


def _refusal(exc: TicketError) -> ActionRefused:
    return ActionRefused(getattr(exc, "code", "ticket"), str(exc), getattr(exc, "status", 400))


async def reply(session: AsyncSession, user: StaffUser, conversation: Conversation, handoff: Handoff | None,
                *, text: str = "", canned_id: int | None = None, ctx: TicketContext | None = None) -> Message:
    """Send the borrower a reply (free text or an approved canned response).

    The case's ticket hears of it in the same transaction: the first reply is
    the ticket's first response (its clock stops, no overdue alert follows),
    every reply restarts the status-update clock (``tickets.service.staff_replied``).
    """
    handoff = require_act(user, handoff)
    ticket = await _ticket(session, handoff)
    if canned_id is not None:
        template = await canned.usable(session, canned_id)
        text = canned.render(template.body, {
            "nama": conversation.sender_name or (ticket.full_name if ticket else None),
            "nomor_tiket": ticket.number if ticket else (handoff.summary or {}).get("ticket_number"),
            "agen": user.display_name, "kanal": conversation.channel})
    text = text.strip()
    if not text:
        raise ActionRefused("empty", "write a reply first")
    if len(text) > MAX_REPLY_CHARS:
        raise ActionRefused("too_long", f"a reply holds at most {MAX_REPLY_CHARS} characters")
    message, _ = await enqueue_outbound(session, conversation, OutboundMessage(text=text),
                                        author=Author.AGENT.value, agent_id=user.id)
    if ticket is not None:
        await ticket_service.staff_replied(session, ticket, ticket_service.Actor.staff(user.id), ctx=ctx,
                                           conversation=conversation.public_id, message_id=message.id)
    return message


async def send_file(session: AsyncSession, user: StaffUser, conversation: Conversation, handoff: Handoff | None,
                    *, upload: attachments.StoredFile, filename: str | None, caption: str = "",
                    ctx: TicketContext | None = None) -> Message:
    """Send the borrower an image or PDF the agent uploaded (checked and stored already), with a caption.

    Counts as a reply for the case's ticket, like ``reply``. The file's row is
    written first so the queued message names it; the channel's sender sends
    it (Twilio by signed link, Telegram as photo/document, in-app as a link).
    """
    handoff = require_act(user, handoff)
    caption = caption.strip()
    if len(caption) > MAX_REPLY_CHARS:
        raise ActionRefused("too_long", f"a reply holds at most {MAX_REPLY_CHARS} characters")
    ticket = await _ticket(session, handoff)
    row = await attachments.record_outbound(session, conversation_id=conversation.id, channel=conversation.channel,
                                            upload=upload, filename=filename, agent_id=user.id)
    message, _ = await enqueue_outbound(session, conversation,
                                        OutboundMessage(text=caption, files=(attachments.outbound_file(row),)),
                                        author=Author.AGENT.value, agent_id=user.id)
    await attachments.link_message(session, row, message.id)
    await record(session, user.id, "attachment.sent", "conversation", conversation.public_id, attachment_id=row.id)
    if ticket is not None:
        await ticket_service.staff_replied(session, ticket, ticket_service.Actor.staff(user.id), ctx=ctx,
                                           conversation=conversation.public_id, message_id=message.id)
    return message


async def send_template(session: AsyncSession, user: StaffUser, conversation: Conversation,
                        handoff: Handoff | None, *, key: str, templates: TemplateBook,
                        ctx: TicketContext | None = None) -> Message:
    """Send the borrower an approved WhatsApp template the console offers (``agent_may_use``).

    The way to reach a borrower outside WhatsApp's 24-hour window (free text
    is held there): the message is queued ``template_only``, so it goes out as
    the template whatever the window says, and its text in the transcript is
    the template as the borrower reads it. Counts as a reply for the ticket's
    clocks, like ``reply``. In the caller's transaction.
    """
    handoff = require_act(user, handoff)
    if conversation.channel != "whatsapp":
        raise ActionRefused("not_whatsapp", "templates are sent on WhatsApp only")
    template = templates.get(key)
    if template is None or not template.agent_may_use:
        raise ActionRefused("unknown_template", "no such template for agents")
    ticket = await _ticket(session, handoff)
    values = {"ticket_number": ticket.number if ticket else "-", "name": conversation.sender_name or "Kak",
              "agent": user.display_name}
    try:
        template.content_variables(values)
    except KeyError as missing:
        raise ActionRefused("template_variable", f"the template needs {missing.args[0]!r}") from None
    message, _ = await enqueue_outbound(session, conversation,
                                        OutboundMessage(text=template.render(values), template=TemplateUse(key, values)),
                                        author=Author.AGENT.value, agent_id=user.id, template_only=True)
    if ticket is not None:
        await ticket_service.staff_replied(session, ticket, ticket_service.Actor.staff(user.id), ctx=ctx,
                                           conversation=conversation.public_id, message_id=message.id)
    await record(session, user.id, "template.sent", "conversation", conversation.public_id, template=key)
    return message


async def add_note(session: AsyncSession, user: StaffUser, conversation: Conversation, handoff: Handoff | None,
                   text: str) -> Note:
    """A private note: stored beside the transcript, never queued for the borrower."""
    if not (access.can_act(user, handoff) or access.supervises(user)):
        raise ActionRefused("not_yours", "only the agent who holds this conversation or a supervisor", 403)
    text = text.strip()
    if not text:
        raise ActionRefused("empty", "write the note first")
    note = Note(conversation_id=conversation.id, author_id=user.id, text=text[:8000])
    session.add(note)
    await session.flush()
    await record(session, user.id, "note.added", "conversation", conversation.public_id, note_id=note.id)
    return note


async def update_fields(session: AsyncSession, user: StaffUser, handoff: Handoff | None, *,
                        category: str | None, priority: str | None, status: str | None) -> dict[str, Any]:
    """Set category and priority (handoff and ticket) and the ticket's status."""
    handoff = require_act(user, handoff)
    changes: dict[str, Any] = {}
    if category:
        if category not in CATEGORY_LABELS:
            raise ActionRefused("bad_category", "unknown category")
        handoff.category = category
        changes["category"] = category
    if priority:
        if priority not in PRIORITY_RANK:
            raise ActionRefused("bad_priority", "unknown priority")
        handoff.priority = effective_priority(priority, handoff.category, handoff.reason)
        changes["priority"] = handoff.priority
    ticket = await _ticket(session, handoff)
    if status:
        if status not in CONSOLE_STATUSES:
            raise ActionRefused("bad_status", "the console sets 'in_progress'; resolve or reject on the ticket page")
        if ticket is None:
            raise ActionRefused("no_ticket", "this conversation has no ticket to set a status on")
        changes["status"] = status
    if ticket is not None:
        actor = ticket_service.Actor.staff(user.id)
        try:
            if "priority" in changes and ticket.priority != changes["priority"]:
                await ticket_service.change_priority(session, ticket, changes["priority"], actor)
            if "category" in changes and ticket.category != changes["category"]:
                previous, ticket.category = ticket.category, changes["category"]
                await ticket_service.record_event(session, ticket, "category_changed", actor,
                                                  **{"from": previous, "to": ticket.category})
            if changes.get("status") == Status.IN_PROGRESS.value and ticket.status != Status.IN_PROGRESS.value:
                if ticket.status == Status.RECEIVED.value:
                    await ticket_service.start_work(session, ticket, actor)
                else:
                    raise ActionRefused("forbidden_transition",
                                        f"the ticket is {ticket.status}; escalations come back through feedback", 409)
        except TicketError as exc:
            raise _refusal(exc) from exc
    await session.flush()
    await record(session, user.id, "handoff.updated", "handoff", handoff.id, **changes)
    return changes


async def transfer(session: AsyncSession, user: StaffUser, handoff: Handoff | None, to_user_id: int) -> Handoff:
    """Hand the conversation to another agent or specialist directly."""
    handoff = require_act(user, handoff) if not access.supervises(user) else handoff
    if handoff is None or handoff.status == HandoffStatus.CLOSED.value:
        raise ActionRefused("closed", "this conversation is not open")
    target = await session.get(User, to_user_id)
    # Admins hold conversations only by taking them over themselves (docs/handoff.md).
    taking_over = target is not None and target.id == user.id and access.supervises(user)
    if target is None or not target.active or (
            target.role not in (Role.AGENT.value, Role.SPECIALIST.value, Role.SUPERVISOR.value) and not taking_over):
        raise ActionRefused("bad_target", "choose an active agent, specialist or supervisor")
    before = handoff.assigned_to
    won = await session.scalar(
        update(Handoff).where(Handoff.id == handoff.id, Handoff.status.in_(("waiting", "assigned")))
        .values(status=HandoffStatus.ASSIGNED.value, assigned_to=target.id, assigned_at=utcnow())
        .returning(Handoff.id))
    if won is None:
        raise ActionRefused("closed", "this conversation was closed meanwhile", 409)
    await session.refresh(handoff)
    try:
        await follow_holder(session, handoff, target.id, user.id)
    except TicketError as exc:
        raise _refusal(exc) from exc
    await record(session, user.id, "handoff.transferred", "handoff", handoff.id, before=before, to=target.id)
    return handoff


async def take_over(session: AsyncSession, user: StaffUser, handoff: Handoff | None) -> Handoff:
    """A supervisor or admin takes the conversation themselves."""
    if not access.supervises(user):
        raise ActionRefused("forbidden", "only supervisors and admins take over", 403)
    return await transfer(session, user, handoff, user.id)


async def escalate(session: AsyncSession, user: StaffUser, handoff: Handoff | None, target: str) -> Handoff:
    """Escalate to the specialist queue, or to a department (the agent keeps the chat)."""
    handoff = require_act(user, handoff)
    ticket = await _ticket(session, handoff)
    if ticket is not None:
        # The staff API's role rule: agents escalate to specialists, specialists and above further up.
        try:
            workflow.require_permission(
                user, "escalate_specialist" if target == Role.SPECIALIST.value else "escalate_higher")
        except TicketError as exc:
            raise _refusal(exc) from exc
    if target == Role.SPECIALIST.value:
        # Back to the queue, for specialists only; the agent's hands are free again.
        handoff.status, handoff.queue_role, handoff.assigned_to = HandoffStatus.WAITING.value, Role.SPECIALIST.value, None
        level, department = EscalationLevel.SPECIALIST.value, None
    elif target in DEPARTMENTS:
        handoff.department = target
        level, department = EscalationLevel.DEPARTMENT.value, target
    else:
        raise ActionRefused("bad_target", "escalate to 'specialist' or a department")
    if ticket is not None:
        try:
            await ticket_service.escalate(session, ticket, level, department, None,
                                          ticket_service.Actor.staff(user.id))
        except TicketError as exc:
            raise _refusal(exc) from exc
    await session.flush()
    await record(session, user.id, "handoff.escalated", "handoff", handoff.id, level=level, department=department)
    return handoff


def closing_message(summary: str) -> OutboundMessage:
    """The borrower's closing summary with the 1–5 rating buttons (payload ``rating:N``)."""
    text = (f"Terima kasih sudah menghubungi kami, Kak. Ringkasan penanganan: {summary}\n\n"
            "Percakapan dengan petugas kami akhiri di sini; asisten virtual kami siap membantu lagi kapan saja. "
            "Bagaimana penilaian Anda atas layanan kami? Pilih 1 (sangat buruk) sampai 5 (sangat baik), "
            "atau balas dengan angka dan komentar, misalnya: 5 cepat dan ramah.")
    buttons = tuple(Button(title=str(n), payload=f"{RATING_PAYLOAD_PREFIX}{n}") for n in range(1, 6))
    return OutboundMessage(text=text, buttons=buttons, custom={"rating_request": True},
                           template=TemplateUse("rating_request"))


async def close(session: AsyncSession, user: StaffUser, conversation: Conversation, handoff: Handoff | None,
                summary: str, *, ctx: TicketContext | None = None) -> Message:
    """Close: send the summary and the rating question, and give the conversation back to the bot."""
    handoff = require_act(user, handoff)
    summary = summary.strip()
    if not summary:
        raise ActionRefused("empty", "write what was done for the borrower")
    won = await session.scalar(
        update(Handoff).where(Handoff.id == handoff.id, Handoff.status == HandoffStatus.ASSIGNED.value)
        .values(status=HandoffStatus.CLOSED.value, closed_at=utcnow(), closed_by=user.id,
                **sealed_values(Handoff, "closing_summary", summary[:4000])).returning(Handoff.id))
    if won is None:
        raise ActionRefused("closed", "this conversation was closed meanwhile", 409)
    message, _ = await enqueue_outbound(session, conversation, closing_message(summary),
                                        author=Author.AGENT.value, agent_id=user.id)
    await set_mode(session, conversation, ConversationMode.BOT.value)
    await session.refresh(handoff)
    await session.refresh(conversation)
    ticket = await _ticket(session, handoff)
    if ticket is not None:
        # Closing the chat does not settle the complaint: the ticket stays open, its history says
        # what the borrower was told, and the summary counts as a message to them.
        actor = ticket_service.Actor.staff(user.id)
        first = ticket_service.borrower_informed(ticket, actor, ctx)
        await ticket_service.record_event(session, ticket, "conversation_closed", actor,
                                          conversation=conversation.public_id, message_id=message.id,
                                          text=summary[:4000], **({"first_response": True} if first else {}))
    await record(session, user.id, "handoff.closed", "handoff", handoff.id)
    return message


def _chronology(typed: str, handoff: Handoff) -> str:
    """The ticket's chronology: what the agent typed, else the bot's summary's, as the borrower wrote it.

    The form shows the summary's chronology masked to agents (handoff.transcripts); sent back
    unchanged it stands for the original, so the ticket keeps the numbers the borrower gave."""
    typed = typed.strip()
    from_summary = str((handoff.opened("summary") or {}).get("chronology") or "").strip()
    if not typed or typed == mask_text(from_summary):
        return from_summary
    return typed


async def open_ticket(session: AsyncSession, ctx: TicketContext, user: StaffUser, conversation: Conversation,
                      handoff: Handoff | None, *, category: str, chronology: str) -> Ticket:
    """Open a ticket for the complaint the borrower made in this chat, link it to the case, send the receipt.

    The ticket is filed ``incomplete`` with what the chat knows (the name and,
    on WhatsApp, the phone); the agent completes it on the ticket page. One
    open ticket per case: a conversation whose case has one is refused.
    """
    handoff = require_act(user, handoff)
    if await _ticket(session, handoff) is not None:
        raise ActionRefused("has_ticket", "this conversation already has an open ticket", 409)
    if category not in CATEGORY_LABELS:
        raise ActionRefused("bad_category", "unknown category")
    chronology = _chronology(chronology, handoff)
    if not chronology:
        raise ActionRefused("empty", "write what the borrower complains about")
    try:
        data = ticket_service.NewTicket(
            incomplete=True, conversation_id=conversation.public_id, category=category,
            priority=handoff.priority, reason=handoff.reason, full_name=conversation.sender_name or "",
            phone=conversation.clear_sender() if conversation.channel == "whatsapp" else None,
            customer_id=conversation.customer_id, chronology=chronology[:8000])
        ticket = await ticket_service.insert_ticket(session, ctx, data, None, ticket_service.Actor.staff(user.id))
    except (TicketError, ValueError) as exc:
        raise ActionRefused("invalid_request", str(exc), 422) from exc
    handoff.ticket_id, handoff.category = ticket.id, category
    ticket.assignee_id = user.id
    # The receipt is the desk's acknowledgement, not the first response (that is a person's answer).
    due = tanggal(ticket.resolution_due) if ticket.resolution_due else "-"
    await enqueue_outbound(session, conversation, OutboundMessage(
        text=receipt_text(ticket, ctx),
        template=TemplateUse("receipt", {"ticket_number": ticket.number, "resolution_due": due})),
        author=Author.SYSTEM.value)
    await session.flush()
    await record(session, user.id, "ticket.opened", "ticket", ticket.number, conversation=conversation.public_id)
    return ticket
