"""HTTP endpoints of tickets: the action server's API, the staff API and the receipt pages.

Bot API (service token): POST /api/v1/tickets, GET /api/v1/tickets/<number>,
GET /api/v1/office-hours. Staff API (signed-in staff, role rules in
tickets.workflow): /api/v1/staff/tickets…. Pages: the printable receipt for
staff (/tickets/<number>/receipt) and for the borrower behind an unguessable
link (/tickets/receipt/<token>).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import StaffUser, error, service_token_required, staff_required
from desk.masking import mask_name, mask_phone
from desk.services import CoreServices, core_services
from desk.templating import render
from handoff.models import AuditEntry
from storage.models import Conversation
from tickets import service, workflow
from tickets.alerts import for_user as alerts_of
from tickets.calendar import to_wib
from tickets.context import TicketContext, install_context, ticket_context
from tickets.errors import InvalidRequest, TicketError, TicketNotFound
from tickets.models import CATEGORY_LABELS, Status, Ticket, TicketEvent
from tickets.receipt import build_receipt, receipt_text
from tickets.wording import STATUS_LABELS, for_channel

bot_bp = Blueprint("tickets_bot", url_prefix="/api/v1")
staff_bp = Blueprint("tickets_staff", url_prefix="/api/v1/staff")
pages_bp = Blueprint("tickets_pages")
blueprints = (bot_bp, staff_bp, pages_bp)


def install(app: Sanic, services: CoreServices, ctx: TicketContext) -> None:
    """Add the tickets part to ``app``: its context, the bot and staff ticket APIs, the receipt pages."""
    install_context(app, ctx)
    for bp in blueprints:
        app.blueprint(bp)

Handler = Callable[..., Awaitable[HTTPResponse]]
# How the borrower knows each ``office_hours`` entry of the lender file.
HOURS_LABELS = {"default": "Telepon & e-mail", "whatsapp": "WhatsApp", "telegram": "Telegram",
                "inapp": "Chat di aplikasi"}


def answers_errors(handler: Handler) -> Handler:
    """Turn typed ticket errors and invalid input into the desk's JSON error shape."""

    @wraps(handler)
    async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        try:
            return await handler(request, *args, **kwargs)
        except TicketError as exc:
            body = {"error": exc.code, "message": exc.message}
            if exc.details:
                body["details"] = {k: v for k, v in exc.details.items() if isinstance(v, (str, int, type(None)))}
            return json(body, status=exc.status)
        except ValidationError as exc:
            problems = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                        for e in exc.errors(include_url=False, include_input=False)]
            return json({"error": "invalid_request", "message": "the request is not valid",
                         "details": problems}, status=422)

    return wrapped


Method = Literal["get", "post"]


def _endpoint(bp: Blueprint, guard: Callable[[Handler], Handler], method: Method, path: str
              ) -> Callable[[Handler], Handler]:
    route = getattr(bp, method)(path)  # bp.get / bp.post, with Sanic's defaults for the method

    def decorate(handler: Handler) -> Handler:
        return route(guard(answers_errors(handler)))

    return decorate


def bot_api(method: Method, path: str) -> Callable[[Handler], Handler]:
    """Route the handler on the bot API: the action server's service token only, errors as JSON."""
    return _endpoint(bot_bp, service_token_required, method, path)


def staff_api(method: Method, path: str) -> Callable[[Handler], Handler]:
    """Route the handler on the staff API: signed-in staff only (roles: ``tickets.workflow``), errors as JSON."""
    return _endpoint(staff_bp, staff_required(), method, path)


def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); ``InvalidRequest`` (400) for malformed JSON
    or any other JSON value. The one reading of a JSON body for the parts' APIs."""
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - Sanic raises on malformed JSON
        raise InvalidRequest("the body is not valid JSON") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def _ctx(request: Request) -> TicketContext:
    return ticket_context(request.app)


def _iso(at: datetime | None) -> str | None:
    """Times leave the API in WIB with their offset (stored in UTC)."""
    return to_wib(at).isoformat() if at else None


def _cs_contact_text(ctx: TicketContext) -> str:
    labels = {"whatsapp": "WhatsApp", "phone": "telepon", "email": "e-mail"}
    parts = [f"{labels[k]} {v}" for k, v in ctx.lender.cs_contacts.items() if k in labels]
    return ", ".join(parts)


# --- bot API -------------------------------------------------------------------------------

@bot_api("post", "/tickets")
async def create_ticket(request: Request) -> HTTPResponse:
    """Create a ticket; the same Idempotency-Key returns the same ticket (200)."""
    key = request.headers.get("idempotency-key")
    if not key:
        raise InvalidRequest("the Idempotency-Key header is required")
    data = service.NewTicket.model_validate(json_object(request))
    ctx = _ctx(request)
    result = await service.create_ticket(core_services(request.app).db, ctx, data, key)
    t = result.ticket
    return json({
        "ticket_number": t.number,
        "status": t.status,
        "received_at": _iso(t.received_at),
        "first_response_due": _iso(t.first_response_due),
        "resolution_due": _iso(t.resolution_due),
        "receipt_text": receipt_text(t, ctx),
        "cs_contact": _cs_contact_text(ctx),
        "missing_fields": service.missing_fields(t),
    }, status=201 if result.created else 200)


@bot_api("get", "/tickets/<number:str>")
async def ticket_status(request: Request, number: str) -> HTTPResponse:
    """A ticket's status, only for the person who filed it."""
    conversation_id = request.args.get("conversation_id")
    if not conversation_id:
        raise InvalidRequest("conversation_id is required")
    async with core_services(request.app).db.transaction() as session:
        t = await service.lookup_for_borrower(session, number, conversation_id)
        updated = await service.last_update(session, t)
    return json({
        "ticket_number": t.number,
        "status": t.status,
        "status_label": STATUS_LABELS.get(t.status, t.status),
        "category": t.category,
        "received_at": _iso(t.received_at),
        "resolution_due": _iso(t.resolution_due),
        "last_update": _iso(updated),
    })


class AnswerIn(BaseModel):
    conversation_id: str = Field(min_length=1, max_length=64)
    answer: str
    ticket_number: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None, max_length=4000)
    # A bare "ya"/"tidak" counts as the answer only when the notice was the last thing said.
    only_if_last: bool = False


@bot_api("post", "/tickets/answer")
async def borrower_answer(request: Request) -> HTTPResponse:
    """The borrower's answer to a resolution or rejection: accept, dispute or ask for the next step.

    Without ``ticket_number`` the conversation's most recently closed ticket whose
    notice is still unanswered is answered (404 when there is none: the bot then
    knows no notice is pending); only its filer may answer (as for the status,
    403 otherwise). ``rating_open`` says whether the bot should ask for a rating.
    """
    data = AnswerIn.model_validate(json_object(request))
    ctx = _ctx(request)
    async with core_services(request.app).db.transaction() as session:
        number = data.ticket_number
        if not number:
            conversation = await session.scalar(
                select(Conversation).where(Conversation.public_id == data.conversation_id))
            if conversation is None:
                raise InvalidRequest(f"unknown conversation {data.conversation_id!r}")
            found = await service.answerable_ticket(session, conversation,
                                                    settled_too=data.answer == "next_step")
            if found is None:
                raise TicketNotFound("this conversation has no resolved or rejected ticket to answer")
            if data.only_if_last and not await service.notice_was_last_said(session, found, conversation):
                raise TicketNotFound("the conversation moved on since the last notice")
            number = found.number
        ticket = await service.lookup_for_borrower(session, number, data.conversation_id)
        done = await service.borrower_answer(session, ctx, ticket, data.answer, data.text)
        channel = await session.scalar(select(Conversation.channel)
                                       .where(Conversation.public_id == data.conversation_id))
        # A rating is asked for only when there is something to rate: the case's chat with a
        # person is closed and not rated yet (handoff.rating takes the score).
        rating_open = done.outcome == "accepted" and await service.unrated_closed_handoff(
            session, data.conversation_id)
        body = {"ticket_number": ticket.number, "status": ticket.status, "outcome": done.outcome,
                "reply_text": for_channel(done.reply_text, channel or "inapp"), "rating_open": rating_open}
    return json(body)


@bot_api("get", "/office-hours")
async def office_hours(request: Request) -> HTTPResponse:
    """Whether people answer on a channel now, and when they next do."""
    ctx = _ctx(request)
    channel = request.args.get("channel") or "default"
    if len(channel) > 32:
        raise InvalidRequest("channel is too long")
    now = ctx.now()
    is_open = ctx.calendar.is_open(channel, now)
    return json({
        "open": is_open,
        "next_open_at": None if is_open else ctx.calendar.next_open(channel, now).isoformat(),
        "hours_text": ctx.calendar.hours_text(channel),
        # Every channel's hours, worded by the same function, for "jam layanan" answers.
        "channels": [{"channel": name, "label": HOURS_LABELS.get(name, name),
                      "hours_text": ctx.calendar.hours_text(name)} for name in ctx.calendar.hours],
    })


# --- staff API -----------------------------------------------------------------------------

def _user(request: Request) -> StaffUser:
    return request.ctx.user


def _actor(request: Request) -> service.Actor:
    return service.Actor.staff(_user(request).id)


def ticket_json(t: Ticket, *, full: bool) -> dict[str, Any]:
    """A ticket as staff see it; personal data only in the full view."""
    data: dict[str, Any] = {
        "number": t.number, "status": t.status, "status_label": STATUS_LABELS.get(t.status, t.status),
        "category": t.category, "category_label": CATEGORY_LABELS.get(t.category, t.category),
        "priority": t.priority, "channel": t.channel, "form": t.form, "complainant_type": t.complainant_type,
        "product": t.product, "received_at": _iso(t.received_at), "clock_started_at": _iso(t.clock_started_at),
        "first_response_due": _iso(t.first_response_due), "first_responded_at": _iso(t.first_responded_at),
        "resolution_due": _iso(t.resolution_due), "extension_count": t.extension_count,
        "escalation_level": t.escalation_level, "department": t.department, "assignee_id": t.assignee_id,
        "closed_at": _iso(t.closed_at), "sla_policy": t.sla_policy, "reopen_count": t.reopen_count,
        "expected_resolution_at": _iso(t.expected_resolution_at),
        "source": t.source, "external_reference": t.external_reference, "cause": t.cause,
        "negative_publicity": t.negative_publicity, "negative_publicity_url": t.negative_publicity_url,
        "full_name": mask_name(t.full_name), "phone": mask_phone(t.clear_phone()),
        "missing_fields": service.missing_fields(t),
    }
    if full:
        data.update({
            "full_name": t.full_name, "phone": t.clear_phone(), "email": t.opened("email"),
            "customer_id": t.customer_id,
            "transaction_date": t.transaction_date.isoformat() if t.transaction_date else None,
            # The full view opens what is sealed at rest (storage.sealed).
            "chronology": t.opened("chronology"), "id_card_address": t.opened("id_card_address"),
            "power_of_attorney_ref": t.power_of_attorney_ref, "outcome": t.opened("outcome"),
            "rejection_ground": t.rejection_ground,
        })
    return data


@staff_api("get", "/tickets")
async def list_tickets(request: Request) -> HTTPResponse:
    """Tickets with filters: status, category, priority, assignee (id or "me"/"none"), overdue, number."""
    user = _user(request)
    ctx = _ctx(request)
    stmt = select(Ticket)
    args = request.args
    for field in ("status", "category", "priority", "channel"):
        if value := args.get(field):
            stmt = stmt.where(getattr(Ticket, field).in_(value.split(",")))
    assignee = args.get("assignee")
    if assignee == "me":
        stmt = stmt.where(Ticket.assignee_id == user.id)
    elif assignee == "none":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif assignee:
        if not assignee.isdigit():
            raise InvalidRequest("assignee is a user id, 'me' or 'none'")
        stmt = stmt.where(Ticket.assignee_id == int(assignee))
    if args.get("overdue") in ("1", "true"):
        stmt = stmt.where(Ticket.status.in_(workflow.OPEN), Ticket.resolution_due < ctx.now())
    if user.role not in workflow.SENIOR:
        stmt = stmt.where(or_(Ticket.assignee_id.is_(None), Ticket.assignee_id == user.id))
    try:
        limit = min(max(int(args.get("limit", 50)), 1), 200)
        offset = max(int(args.get("offset", 0)), 0)
    except ValueError:
        raise InvalidRequest("limit and offset are numbers") from None
    async with core_services(request.app).db.session() as session:
        total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = await session.scalars(stmt.order_by(Ticket.resolution_due.asc(), Ticket.id.asc())
                                     .limit(limit).offset(offset))
        items = [ticket_json(t, full=False) for t in rows]
    return json({"items": items, "total": total, "limit": limit, "offset": offset})


@staff_api("get", "/tickets/<number:str>")
async def read_ticket(request: Request, number: str) -> HTTPResponse:
    """One ticket with its history and the borrower's personal data (the read is audited)."""
    async with core_services(request.app).db.transaction() as session:
        t = await service.get_ticket(session, number)
        workflow.require_permission(_user(request), "read", t)
        session.add(AuditEntry(actor_id=_user(request).id, action="ticket_read", object_type="ticket",
                               object_id=t.number))
        events = await session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                                       .order_by(TicketEvent.seq))
        conversations = await service.conversations_of(session, t)
        body = ticket_json(t, full=True)
        body["events"] = [{"seq": e.seq, "kind": e.kind, "actor": e.actor, "data": e.opened_data(),
                           "at": _iso(e.created_at)} for e in events]
        body["conversations"] = [{"conversation_id": c.public_id, "channel": c.channel} for c in conversations]
    return json(body)


class StatusIn(BaseModel):
    status: str


class AssignIn(BaseModel):
    user_id: int | None


class EscalateIn(BaseModel):
    level: str
    department: str | None = None
    note: str | None = Field(default=None, max_length=4000)


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class RejectIn(BaseModel):
    ground: str | None = None
    note: str | None = Field(default=None, max_length=4000)


class ExtendIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class SettlementIn(BaseModel):
    accepted: bool
    note: str | None = Field(default=None, max_length=4000)


class PriorityIn(BaseModel):
    priority: str


# One change to a ticket: (session, the locked ticket, the member of staff acting) -> done.
Work = Callable[[AsyncSession, Ticket, service.Actor], Awaitable[object]]


async def _change(request: Request, number: str, action: str, work: Work) -> HTTPResponse:
    """Lock the ticket, check that the user may do ``action``, run ``work``, answer with the ticket.

    Every staff change to one ticket goes through here, in one transaction.
    """
    async with core_services(request.app).db.transaction() as session:
        t = await service.get_ticket(session, number, for_update=True)
        workflow.require_permission(_user(request), action, t)
        await work(session, t, _actor(request))
        body = ticket_json(t, full=False)
    return json(body)


@staff_api("post", "/tickets/<number:str>/status")
async def change_status(request: Request, number: str) -> HTTPResponse:
    """Start work on a ticket (received → in_progress). Other statuses have their own endpoints."""
    data = StatusIn.model_validate(json_object(request))
    dedicated = {"escalated": "escalate", "resolved": "resolve", "rejected": "reject"}
    if data.status in dedicated:
        raise InvalidRequest(f"use POST /api/v1/staff/tickets/<number>/{dedicated[data.status]}")
    if data.status != Status.IN_PROGRESS.value:
        raise InvalidRequest(f"status {data.status!r} cannot be set directly")
    return await _change(request, number, "start", service.start_work)


@staff_api("post", "/tickets/<number:str>/assign")
async def assign_ticket(request: Request, number: str) -> HTTPResponse:
    """Assign to a member of staff; agents may only take an unassigned ticket themselves."""
    data = AssignIn.model_validate(json_object(request))
    user = _user(request)
    action = "claim" if data.user_id == user.id else "assign"
    return await _change(request, number, action,
                         lambda s, t, by: service.assign(s, t, data.user_id, by))


@staff_api("post", "/tickets/<number:str>/escalate")
async def escalate_ticket(request: Request, number: str) -> HTTPResponse:
    """Escalate: agents to a specialist; specialists and above to a department or the directors."""
    data = EscalateIn.model_validate(json_object(request))
    action = "escalate_specialist" if data.level == "specialist" else "escalate_higher"
    return await _change(request, number, action, lambda s, t, by: service.escalate(
        s, t, data.level, data.department, data.note, by))


@staff_api("post", "/tickets/<number:str>/feedback")
async def feedback_ticket(request: Request, number: str) -> HTTPResponse:
    """Return the escalated level's answer to the agent (status back to in_progress)."""
    data = TextIn.model_validate(json_object(request))
    return await _change(request, number, "feedback",
                         lambda s, t, by: service.feedback(s, t, data.text, by))


@staff_api("post", "/tickets/<number:str>/resolve")
async def resolve_ticket(request: Request, number: str) -> HTTPResponse:
    """Resolve with an outcome; compensation needs a specialist or above."""
    body = json_object(request)
    outcome = service.Outcome.model_validate(body)
    closure = service.Closure.model_validate(body)
    action = "resolve_compensation" if outcome.compensation_amount else "resolve"
    ctx = _ctx(request)
    return await _change(request, number, action,
                         lambda s, t, by: service.resolve(s, ctx, t, outcome, by, closure=closure))


@staff_api("post", "/tickets/<number:str>/settlement")
async def settlement(request: Request, number: str) -> HTTPResponse:
    """Record the borrower's answer to the settlement; a refusal reopens the ticket."""
    data = SettlementIn.model_validate(json_object(request))
    ctx = _ctx(request)
    return await _change(request, number, "settlement", lambda s, t, by: service.settlement_answer(
        s, ctx, t, data.accepted, data.note, by))


@staff_api("post", "/tickets/<number:str>/reject")
async def reject_ticket(request: Request, number: str) -> HTTPResponse:
    """Reject on one of the allowed grounds; the borrower is told in writing."""
    body = json_object(request)
    data = RejectIn.model_validate(body)
    closure = service.Closure.model_validate(body)
    ctx = _ctx(request)
    return await _change(request, number, "reject", lambda s, t, by: service.reject(
        s, ctx, t, data.ground, data.note, by, closure=closure))


@staff_api("post", "/tickets/external")
async def register_external(request: Request) -> HTTPResponse:
    """Register a complaint forwarded by OJK's portal (APPK) or LAPS SJK with its reference number."""
    data = service.ExternalComplaint.model_validate(json_object(request))
    user = _user(request)
    workflow.require_permission(user, "register_external")
    ctx = _ctx(request)
    async with core_services(request.app).db.transaction() as session:
        t = await service.register_external(session, ctx, data, _actor(request))
        session.add(AuditEntry(actor_id=user.id, action="ticket.register_external", object_type="ticket",
                               object_id=t.number))
        body = ticket_json(t, full=False)
    return json(body, status=201)


@staff_api("post", "/tickets/<number:str>/extend")
async def extend_ticket(request: Request, number: str) -> HTTPResponse:
    """Extend the resolution deadline once, with notice to the borrower."""
    data = ExtendIn.model_validate(json_object(request))
    ctx = _ctx(request)
    return await _change(request, number, "extend",
                         lambda s, t, by: service.extend(s, ctx, t, data.reason, by))


class ExpectationIn(BaseModel):
    expected_at: datetime
    note: str | None = Field(default=None, max_length=1000)


@staff_api("post", "/tickets/<number:str>/expectation")
async def expectation(request: Request, number: str) -> HTTPResponse:
    """When the handler now expects to resolve the ticket (ISO-8601 with offset; given in overdue updates)."""
    data = ExpectationIn.model_validate(json_object(request))
    ctx = _ctx(request)
    return await _change(request, number, "expect", lambda s, t, by: service.set_expectation(
        s, ctx, t, data.expected_at, data.note, by))


@staff_api("post", "/tickets/<number:str>/notes")
async def add_note(request: Request, number: str) -> HTTPResponse:
    """A private note in the ticket's history."""
    data = TextIn.model_validate(json_object(request))
    return await _change(request, number, "note", lambda s, t, by: service.add_note(s, t, data.text, by))


@staff_api("post", "/tickets/<number:str>/messages")
async def message(request: Request, number: str) -> HTTPResponse:
    """Write to the borrower in the ticket's latest conversation (the first one is the first response)."""
    data = TextIn.model_validate(json_object(request))
    ctx = _ctx(request)
    return await _change(request, number, "message",
                         lambda s, t, by: service.message_borrower(s, t, data.text, by, ctx=ctx))


@staff_api("post", "/tickets/<number:str>/priority")
async def priority(request: Request, number: str) -> HTTPResponse:
    """Change the priority (never below the category's floor)."""
    data = PriorityIn.model_validate(json_object(request))
    return await _change(request, number, "priority",
                         lambda s, t, by: service.change_priority(s, t, data.priority, by))


@staff_api("post", "/tickets/<number:str>/fields")
async def complete_fields(request: Request, number: str) -> HTTPResponse:
    """Complete or correct the complaint's fields (a ticket the bot filed incomplete, or a typo)."""
    data = service.FieldChanges.model_validate(json_object(request))
    return await _change(request, number, "fields", lambda s, t, by: service.complete_fields(s, t, data, by))


@staff_api("get", "/alerts")
async def alerts(request: Request) -> HTTPResponse:
    """The newest SLA alerts and reminders for the signed-in member of staff."""
    async with core_services(request.app).db.session() as session:
        mine = await alerts_of(session, _user(request))
    return json({"items": [{"id": a.id, "ticket_id": a.ticket_id, "key": a.key, "ticket_number": a.ticket_number,
                            "ticket_status": a.ticket_status, "kind": a.kind, "message": a.message, "owner": a.owner, "due_at": _iso(a.due_at),
                            "created_at": _iso(a.created_at)} for a in mine]})


# --- receipt pages -----------------------------------------------------------------------------

@pages_bp.get("/tickets/<number:str>/receipt")
@staff_required()
async def staff_receipt(request: Request, number: str) -> HTTPResponse:
    """The printable receipt, for staff."""
    async with core_services(request.app).db.session() as session:
        try:
            t = await service.get_ticket(session, number)
        except TicketNotFound:
            return error(404, "not_found", "no such ticket")
        if not workflow.can_see(_user(request), t):
            return error(403, "forbidden", "this ticket is assigned to someone else")
    return render("tickets/receipt.html", receipt=build_receipt(t, _ctx(request)), name=t.full_name)


@pages_bp.get("/tickets/receipt/<token:str>")
async def borrower_receipt(request: Request, token: str) -> HTTPResponse:
    """The printable receipt behind the borrower's unguessable link (name masked)."""
    if not 16 <= len(token) <= 64:
        return render("tickets/receipt_missing.html", status=404)
    async with core_services(request.app).db.session() as session:
        t = await session.scalar(select(Ticket).where(Ticket.receipt_token == token))
    if t is None:
        return render("tickets/receipt_missing.html", status=404)
    response = render("tickets/receipt.html", receipt=build_receipt(t, _ctx(request)),
                      name=mask_name(t.full_name))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
