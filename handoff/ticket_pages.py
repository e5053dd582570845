"""The console's ticket pages: agents and specialists work a ticket without the JSON API.

``GET /console/tickets/<number>`` (``handoff.console``) shows ``ticket_view``:
the ticket (clocks, outcome, history, its conversations) and a form per
action the signed-in role may take; ``POST /console/tickets/<number>/<action>``
runs ``run_action``. Each action calls the
same use case in ``tickets.service`` as the staff API (``tickets/api.py``),
after the same role rule (``tickets.workflow.require_permission``), in one
transaction with an audit entry ``ticket.<action>``. A refusal answers with
the ticket error's status and code and changes nothing.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import StaffUser
from attachments import service as attachments
from handoff import access, audit
from handoff.queue import latest_handoff
from handoff.models import Handoff, User
from tickets import service, workflow
from tickets.calendar import WIB
from tickets.context import TicketContext
from tickets.errors import InvalidRequest, TicketNotFound
from tickets.models import Department, EscalationLevel, RejectionGround, Source, Ticket, TicketEvent
from tickets.wording import STATUS_LABELS


@dataclass(frozen=True)
class Form:
    """What a ticket action reads from the posted form."""

    fields: dict[str, str]

    def get(self, name: str) -> str:
        return (self.fields.get(name) or "").strip()


Work = Callable[[AsyncSession, TicketContext, Ticket, Form, service.Actor], Awaitable[None]]


def _outcome(form: Form) -> service.Outcome:
    amount = form.get("compensation_amount").replace(".", "").replace(",", ".") or None
    return service.Outcome.model_validate({
        "kind": form.get("kind") or "explanation", "explanation": form.get("explanation") or None,
        "apology": form.get("apology") or None, "service_fix": form.get("service_fix") or None,
        "compensation_amount": amount})


def _closure(form: Form) -> service.Closure:
    return service.Closure.model_validate({
        "cause": form.get("cause"), "negative_publicity": form.get("negative_publicity") in ("1", "on", "true"),
        "publicity_url": form.get("publicity_url") or None})


async def _start(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    await service.start_work(s, t, a)


async def _escalate(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    level = f.get("level")
    await service.escalate(s, t, level, f.get("department") or None if level == "department" else None,
                           f.get("note") or None, a)


async def _feedback(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    await service.feedback(s, t, f.get("text"), a)


async def _resolve(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    await service.resolve(s, ctx, t, _outcome(f), a, closure=_closure(f))


async def _reject(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    await service.reject(s, ctx, t, f.get("ground") or None, f.get("note") or None, a, closure=_closure(f))


async def _extend(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    await service.extend(s, ctx, t, f.get("reason"), a)


async def _note(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    await service.add_note(s, t, f.get("text"), a)


async def _message(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    if not f.get("text"):
        raise InvalidRequest("write the message first")
    await service.message_borrower(s, t, f.get("text")[:4000], a, ctx=ctx)


async def _expect(s: AsyncSession, ctx: TicketContext, t: Ticket, f: Form, a: service.Actor) -> None:
    try:
        day = date.fromisoformat(f.get("expected_on"))
    except ValueError:
        raise InvalidRequest("give the expected day as YYYY-MM-DD") from None
    # A day means its end in WIB, like every deadline (tickets.sla, due_at: end_of_day).
    await service.set_expectation(s, ctx, t, datetime.combine(day, time(23, 59, 59), WIB), f.get("note") or None, a)


def _permission(action: str, form: Form) -> str:
    """The staff API's permission name for ``action`` (tickets/api.py picks the same)."""
    if action == "escalate":
        return "escalate_specialist" if form.get("level") == EscalationLevel.SPECIALIST.value else "escalate_higher"
    if action == "resolve":
        return "resolve_compensation" if form.get("compensation_amount") else "resolve"
    return action


ACTIONS: dict[str, Work] = {
    "start": _start, "escalate": _escalate, "feedback": _feedback, "resolve": _resolve, "reject": _reject,
    "extend": _extend, "note": _note, "message": _message, "expect": _expect,
}


def allowed_actions(user: StaffUser) -> set[str]:
    """The actions whose forms the page shows this role (the server checks again on POST)."""
    allowed = {a for a in ACTIONS if user.role in workflow.PERMISSIONS.get(_permission(a, Form({})), frozenset())}
    if user.role in workflow.PERMISSIONS["escalate_specialist"]:
        allowed.add("escalate")
    return allowed


async def run_action(session: AsyncSession, ctx: TicketContext, user: StaffUser, number: str, action: str,
                     form: Form) -> Ticket:
    """Lock the ticket, check the role, run the use case and write the audit entry (caller's transaction)."""
    work = ACTIONS.get(action)
    if work is None:
        raise TicketNotFound(f"no ticket action {action!r}")
    ticket = await service.get_ticket(session, number, for_update=True)
    workflow.require_permission(user, _permission(action, form), ticket)
    await work(session, ctx, ticket, form, service.Actor.staff(user.id))
    await audit.record(session, user.id, f"ticket.{action}", "ticket", ticket.number)
    return ticket


SOURCE_LABELS = {Source.OJK_APPK.value: "OJK (APPK)", Source.LAPS_SJK.value: "LAPS SJK"}


def external_form(form: Form) -> service.ExternalComplaint:
    """The posted "complaint from OJK / LAPS SJK" form as the use case's input (times in WIB)."""
    try:
        day = date.fromisoformat(form.get("received_on"))
        at = time.fromisoformat(form.get("received_time") or "09:00")
    except ValueError:
        raise InvalidRequest("give the date received as YYYY-MM-DD and the time as HH:MM") from None
    return service.ExternalComplaint.model_validate({
        "source": form.get("source"), "external_reference": form.get("external_reference"),
        "received_at": datetime.combine(day, at, WIB), "category": form.get("category"),
        "form": form.get("form") or "written", "full_name": form.get("full_name"),
        "phone": form.get("phone") or None, "email": form.get("email") or None,
        "product": form.get("product"), "chronology": form.get("chronology"),
        "transaction_date": form.get("transaction_date") or None})


async def register_external(session: AsyncSession, ctx: TicketContext, user: StaffUser, form: Form) -> Ticket:
    """Check the role, register the forwarded complaint and audit it (caller's transaction)."""
    workflow.require_permission(user, "register_external")
    ticket = await service.register_external(session, ctx, external_form(form),
                                             service.Actor.staff(user.id))
    await audit.record(session, user.id, "ticket.register_external", "ticket", ticket.number)
    return ticket


async def ticket_view(session: AsyncSession, user: StaffUser, number: str, ctx: TicketContext) -> dict[str, Any]:
    """What the ticket page shows; the read is audited like the staff API's (``ticket_read``)."""
    ticket = await service.get_ticket(session, number)
    workflow.require_permission(user, "read", ticket)
    await audit.record(session, user.id, "ticket_read", "ticket", ticket.number)
    events = list(await session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                        .order_by(TicketEvent.seq.desc())))
    conversations = await service.conversations_of(session, ticket)
    assignee = await session.scalar(select(User.display_name).where(User.id == ticket.assignee_id)) \
        if ticket.assignee_id else None
    handoff_conversation = None
    if conversations:
        handoff_conversation = conversations[0].public_id
    open_handoff = await session.scalar(select(Handoff.id).where(Handoff.ticket_id == ticket.id,
                                                                 Handoff.status.in_(("waiting", "assigned"))))
    # The case's files, from the conversations this user may read (the transcript rule);
    # identity documents hidden from roles that see masked identity.
    readable = [c.id for c in conversations if access.can_read(user, await latest_handoff(session, c.id))]
    sees = access.sees_full_personal_data(user)
    files = [attachments.view(row, sees_sensitive=sees)
             for row in await attachments.for_conversations(session, readable)]
    return {"tk": ticket, "files": files, "events": events, "conversations": conversations, "assignee": assignee,
            "chat": handoff_conversation, "open_handoff": open_handoff,
            "missing": service.missing_fields(ticket), "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
            "allowed": allowed_actions(user), "open": ticket.status in workflow.OPEN,
            "grounds": [g.value for g in RejectionGround], "ticket_departments": [d.value for d in Department],
            "levels": [e.value for e in EscalationLevel][1:], "causes": ctx.lender.cause_labels,
            "source_labels": SOURCE_LABELS}
