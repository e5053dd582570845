"""The agent console: login, queue, conversation panels, supervision, audit, and ``/console/ws``.

Pages are server-rendered; ``handoff/static/console.js`` adds live updates
and lets an agent keep several conversations open as tabs beside the queue.
Every form works without JavaScript too (POST, then redirect).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, redirect
from sanic.response import json as json_response
from sqlalchemy import select

from desk import outbox_worker
from desk.auth import StaffUser, error, staff_required
from desk.masking import mask_phone, mask_text
from desk.templates import TemplateBook, load_templates
from desk.templating import render
from desk.services import CoreServices, core_services
from handoff import (
    access, actions, audit, auth, canned, hours, i18n, nlu_review, queue, summary, throttle, ticket_pages, transcripts,
)
from handoff.config import HandoffSettings
from handoff.files import install as install_files
from handoff.models import Handoff, HandoffStatus, Role, User
from storage.base import utcnow
from storage.models import Conversation, Message
from pydantic import ValidationError

from tickets import alerts as ticket_alerts
from tickets.context import TicketContext, ticket_context
from tickets.errors import TicketError, TicketNotFound
from tickets.models import CATEGORY_LABELS, Priority

log = logging.getLogger(__name__)
bp = Blueprint("handoff_console")
STATIC_DIR = Path(__file__).resolve().parent / "static"
bp.static("/static/handoff", str(STATIC_DIR), name="handoff_static")
LANG_COOKIE = "aduan_lang"
FRONT = (Role.AGENT.value, Role.SPECIALIST.value, Role.SUPERVISOR.value, Role.ADMIN.value)
ALERTS_IN_QUEUE = 10  # the queue column's alerts panel; the alerts page lists up to 200


def handoff_settings(app: Sanic) -> HandoffSettings:
    """The handoff part's settings given to ``install``; raises if the part was not installed."""
    settings = getattr(app.ctx, "handoff_settings", None)
    if not isinstance(settings, HandoffSettings):
        raise RuntimeError("the handoff part is not installed on this app")
    return settings


def _assign_lock(app: Sanic) -> asyncio.Lock:
    lock = getattr(app.ctx, "handoff_assign_lock", None)
    if not isinstance(lock, asyncio.Lock):
        raise RuntimeError("the handoff part is not installed on this app")
    return lock


def _settings(request: Request) -> HandoffSettings:
    return handoff_settings(request.app)


def _tickets(request: Request) -> TicketContext:
    return ticket_context(request.app)


def _templates(request: Request) -> TemplateBook:
    """The lender's approved WhatsApp templates (read once per process)."""
    return load_templates(core_services(request.app).settings.lender_content)


def _lang(request: Request) -> str:
    return i18n.pick(request.args.get("lang"), request.cookies.get(LANG_COOKIE),
                     getattr(request.ctx, "staff_language", None))


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTTPResponse:
    lang = _lang(request)
    response = render(template, status=status, t=i18n.translator(lang), lang=lang,
                      user=getattr(request.ctx, "user", None), csrf=getattr(request.ctx, "csrf_token", ""),
                      now=utcnow(), categories=CATEGORY_LABELS, priorities=[p.value for p in Priority],
                      statuses=list(actions.CONSOLE_STATUSES), departments=actions.DEPARTMENTS,
                      path=request.path, fmt=fmt_wib, nlu_intents=nlu_review.INTENTS, intent_label=nlu_review.INTENT_LABELS, intent_value=nlu_review.form_value,
                      label=lambda key: i18n.field_label(lang, key), **context)
    if request.args.get("lang") in i18n.LANGUAGES:
        response.add_cookie(LANG_COOKIE, request.args.get("lang"), path="/", samesite="Lax", httponly=True,
                            secure=auth.is_https(request), max_age=365 * 86400)
    return response


def fmt_wib(at: datetime | None) -> str:
    """Times in Asia/Jakarta for the pages."""
    return at.astimezone(hours.WIB).strftime("%d-%m-%Y %H:%M") if at else ""


def _wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


def _done(request: Request, to: str, **data: Any) -> HTTPResponse:
    if _wants_json(request):
        from sanic.response import json as json_response
        return json_response({"ok": True, **data})
    return redirect(to)


def _refused(request: Request, exc: actions.ActionRefused) -> HTTPResponse:
    return error(exc.status, exc.code, str(exc))


async def _publish(request: Request, topics: list[str], event: dict[str, Any]) -> None:
    events = core_services(request.app).events
    for topic in topics:
        try:
            await events.publish(topic, event)
        except Exception:  # noqa: BLE001 - the change is committed; consoles can reload
            log.exception("event publish failed on %s", topic)


async def run_auto_assign(app: Sanic) -> None:
    """Round-robin whatever waits, then tell the consoles (no-op when switched off)."""
    services = core_services(app)
    settings = handoff_settings(app)
    if not settings.handoff_auto_assign:
        return
    async with _assign_lock(app):
        assigned = await queue.assign_waiting(services.db)
    for a in assigned:
        # Built from what the assignment returned: no second read of the rows it just wrote.
        event = {"type": "assigned", "conversation_id": a.public_id, "handoff_id": a.handoff_id,
                 "status": HandoffStatus.ASSIGNED.value, "assigned_to": a.user_id}
        for topic in (queue.QUEUE_TOPIC, queue.agent_topic(a.user_id)):
            await services.events.publish(topic, event)


# -- sign in -----------------------------------------------------------------------------


@bp.get("/login")
async def login_page(request: Request) -> HTTPResponse:
    token = secrets.token_urlsafe(24)
    response = _page(request, "handoff/login.html", login_csrf=token, failed=False)
    response.add_cookie(auth.LOGIN_CSRF_COOKIE, token, path="/login", httponly=True, samesite="Strict",
                        secure=auth.is_https(request), max_age=3600)
    return response


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    services = core_services(request.app)
    settings = _settings(request)
    hours_ = settings.staff_session_hours
    address = request.remote_addr or request.ip or "-"
    keys = throttle.login_keys(services.settings.session_secret, username, address)
    limits = throttle.LoginLimits(per_account=settings.login_max_failures,
                                  per_address=settings.login_max_failures_per_address,
                                  window=timedelta(minutes=settings.login_lock_minutes))
    async with services.db.transaction() as session:
        locked = await throttle.locked_scope(session, keys, limits)
        if locked is not None:
            # Answered like a wrong password: the page says nothing about the lock.
            auth.burn_password_check(password)
            user = None
            await throttle.record_attempt(session, keys, succeeded=False, throttled=True)
            await audit.record(session, None, "login.throttled", "user", username[:64], locked=locked,
                               address=address)
            log.warning("staff sign-in refused: %s locked after repeated failures (address %s)", locked, address)
        else:
            user = await auth.authenticate(session, username, password)
            await throttle.record_attempt(session, keys, succeeded=user is not None)
            if user is None:
                await audit.record(session, None, "login.failed", "user", username[:64], address=address)
            else:
                token, _ = await auth.start_session(session, user, hours=hours_)
                await audit.record(session, user.id, "login", "user", user.id)
    if user is None:
        fresh = secrets.token_urlsafe(24)
        response = _page(request, "handoff/login.html", status=401, login_csrf=fresh, failed=True)
        response.add_cookie(auth.LOGIN_CSRF_COOKIE, fresh, path="/login", httponly=True, samesite="Strict",
                            secure=auth.is_https(request), max_age=3600)
        return response
    target = "/console/admin/audit" if user.role == Role.ADMIN.value else (
        "/console/supervisor" if user.role == Role.SUPERVISOR.value else "/console")
    response = redirect(target)
    auth.set_session_cookie(request, response, auth.cookie_value(services.settings.session_secret, token), hours_)
    auth.expire_cookie(request, response, auth.LOGIN_CSRF_COOKIE, path="/login")
    return response


@bp.post("/logout")
@staff_required()
async def logout(request: Request) -> HTTPResponse:
    async with core_services(request.app).db.transaction() as session:
        await auth.end_session(session, request.ctx.session_token)
        await audit.record(session, request.ctx.user.id, "logout", "user", request.ctx.user.id)
    response = redirect("/login")
    auth.clear_session_cookie(request, response)
    return response


def _login_redirect(request: Request) -> HTTPResponse | None:
    if getattr(request.ctx, "user", None) is None:
        return redirect("/login")
    return None


# -- queue and the console page ------------------------------------------------------------


async def _queue_context(request: Request, user: StaffUser) -> dict[str, Any]:
    async with core_services(request.app).db.session() as session:
        entries = await queue.waiting(session, roles=None if access.supervises(user) else access.queue_roles(user))
        mine = await transcripts.my_conversations(session, user)
        me = await session.get(User, user.id)
        agents = [a for a in await queue.loads(session) if a.user_id != user.id]
        # Replies that failed for good wait here for a person: nothing expires silently.
        failed = await outbox_worker.failed_replies(session, limit=FAILED_SHOWN)
        failed_count = len(failed) if len(failed) < FAILED_SHOWN else await outbox_worker.count_failed(session)
        alerts = await ticket_alerts.for_user(session, user, limit=ALERTS_IN_QUEUE)
    mask = not access.sees_full_personal_data(user)
    return {"entries": entries, "mine": mine, "me": me, "agents": agents, "alerts": alerts,
            "can_take": access.queue_roles(user), "failed": failed, "failed_count": failed_count,
            "mask_phone": mask_phone, "mask_text": mask_text,
            "summarize": lambda entry: summary.summary_lines(entry.summary_input(), mask=mask)}


@bp.get("/console")
async def console_page(request: Request) -> HTTPResponse:
    if (r := _login_redirect(request)) is not None:
        return r
    user: StaffUser = request.ctx.user
    return _page(request, "handoff/console.html", **await _queue_context(request, user))


@bp.get("/console/queue")
@staff_required()
async def queue_fragment(request: Request) -> HTTPResponse:
    return _page(request, "handoff/_queue.html", **await _queue_context(request, request.ctx.user))


FAILED_SHOWN = 50


@bp.post("/console/outbox/<item_id:int>/retry")
@staff_required(*FRONT)
async def retry_reply(request: Request, item_id: int) -> HTTPResponse:
    """Put a reply that failed for good back in the outbox (audited); the worker sends it at once."""
    services = core_services(request.app)
    async with services.db.transaction() as session:
        before = await outbox_worker.requeue_failed(session, item_id)
        if before is None:
            return error(404, "not_found", "no failed reply with this id (already re-queued or sent?)")
        await audit.record(session, request.ctx.user.id, "outbox.requeued", "outbox", item_id,
                           conversation=before.conversation_public_id, channel=before.channel,
                           attempts=before.attempts, last_error=before.last_error)
    log.info("outbox item %s re-queued by staff %s", item_id, request.ctx.user.id)
    if services.outbox is not None:
        services.outbox.nudge()
    return _done(request, "/console", requeued=item_id)


@bp.post("/console/availability")
@staff_required(*FRONT)
async def availability(request: Request) -> HTTPResponse:
    available = request.form.get("available") == "1"
    async with core_services(request.app).db.transaction() as session:
        await queue.set_available(session, request.ctx.user, available)
    if available:
        await run_auto_assign(request.app)
    return _done(request, "/console", available=available)


@bp.post("/console/c/<public_id:str>/pickup")
@staff_required(*FRONT)
async def pick_up(request: Request, public_id: str) -> HTTPResponse:
    user: StaffUser = request.ctx.user
    async with core_services(request.app).db.transaction() as session:
        conversation = await transcripts.conversation_by_public_id(session, public_id)
        handoff = await queue.open_handoff(session, conversation.id) if conversation else None
        if handoff is None:
            return error(404, "not_found", "no waiting handoff for this conversation")
        try:
            handoff = await queue.pick_up(session, user, handoff.id)
        except queue.PickUpRefused as exc:
            return error(409, "taken", str(exc))
    await _publish(request, [queue.QUEUE_TOPIC, transcripts_topic(public_id)],
                   queue.handoff_event("assigned", handoff, public_id))
    return _done(request, f"/console/c/{public_id}", conversation_id=public_id)


def transcripts_topic(public_id: str) -> str:
    return f"conversation:{public_id}"


# -- one conversation -----------------------------------------------------------------------


async def _view(request: Request, public_id: str) -> transcripts.ConversationView | HTTPResponse:
    user: StaffUser = request.ctx.user
    services = core_services(request.app)
    async with services.db.transaction() as session:
        try:
            view = await transcripts.open_transcript(session, user, public_id,
                                                     lending=getattr(services, "lending", None))
        except LookupError:
            return _page(request, "handoff/error.html", status=404, message_key="not_found")
        except transcripts.TranscriptForbidden:
            view = None
        if view is not None:
            canned_rows = await canned.approved(session)
            agents = await queue.loads(session)
    if view is None:
        return _page(request, "handoff/error.html", status=403, message_key="forbidden")
    request.ctx.panel_extra = {"canned": canned_rows, "agents": [a for a in agents if a.user_id != user.id]}
    return view


def _panel_context(request: Request, view: transcripts.ConversationView) -> dict[str, Any]:
    user: StaffUser = request.ctx.user
    window = view.window
    return {"v": view, "can_act": access.can_act(user, view.handoff),
            # WhatsApp outside its 24-hour window: only the approved templates can be sent.
            "window": window, "window_closed": window is not None and not window.is_open(utcnow()),
            "agent_templates": _templates(request).for_agents() if window is not None else [],
            "can_take": view.handoff is not None and access.can_take(user, view.handoff),
            "supervises": access.supervises(user), **request.ctx.panel_extra}


@bp.get("/console/c/<public_id:str>")
async def conversation_page(request: Request, public_id: str) -> HTTPResponse:
    if (r := _login_redirect(request)) is not None:
        return r
    view = await _view(request, public_id)
    if isinstance(view, HTTPResponse):
        return view
    return _page(request, "handoff/conversation.html", **_panel_context(request, view))


@bp.get("/console/c/<public_id:str>/panel")
@staff_required()
async def conversation_panel(request: Request, public_id: str) -> HTTPResponse:
    view = await _view(request, public_id)
    if isinstance(view, HTTPResponse):
        return view
    return _page(request, "handoff/_panel.html", **_panel_context(request, view))


@bp.get("/console/c/<public_id:str>/messages")
@staff_required()
async def new_messages(request: Request, public_id: str) -> HTTPResponse:
    """Messages after ``?after=<seq>`` for an open panel (access re-checked, not a new opening)."""
    try:
        after = int(request.args.get("after", "0"))
    except ValueError:
        return error(400, "bad_after", "after must be a message sequence number")
    async with core_services(request.app).db.session() as session:
        conversation = await transcripts.conversation_by_public_id(session, public_id)
        if conversation is None:
            return error(404, "not_found", "no such conversation")
        if not access.can_read(request.ctx.user, await queue.latest_handoff(session, conversation.id)):
            return error(403, "forbidden", "you may not read this conversation")
        lines = await transcripts.items(session, conversation, after_seq=after, with_notes=False,
                                        sees_sensitive=access.sees_full_personal_data(request.ctx.user))
    return _page(request, "handoff/_messages.html", items=lines, handoff_seq=None)


class _Abort(Exception):
    """Leaves a console transaction with a rollback and the answer to give."""

    def __init__(self, response: HTTPResponse) -> None:
        super().__init__(response.status)
        self.response = response


async def _act(request: Request, public_id: str, fn: Any) -> HTTPResponse:
    """Run one conversation action in a transaction, then publish and answer."""
    user: StaffUser = request.ctx.user
    try:
        async with core_services(request.app).db.transaction() as session:
            conversation = await transcripts.conversation_by_public_id(session, public_id)
            if conversation is None:
                return error(404, "not_found", "no such conversation")
            handoff = await queue.latest_handoff(session, conversation.id)
            try:
                event = await fn(session, user, conversation, handoff)
            except actions.ActionRefused as exc:
                raise _Abort(_refused(request, exc)) from exc
            except (canned.CannedError, PermissionError) as exc:
                raise _Abort(error(400, "canned", str(exc))) from exc
    except _Abort as abort:
        # Raised through the transaction so a refusal halfway (the ticket said no after the
        # handoff changed) rolls everything back: all or nothing.
        return abort.response
    if event:
        await _publish(request, event.pop("_topics", [transcripts_topic(public_id)]), event)
    await run_auto_assign(request.app)
    return _done(request, f"/console/c/{public_id}" if not event or event.get("type") != "closed" else "/console",
                 conversation_id=public_id)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@bp.post("/console/c/<public_id:str>/reply")
@staff_required(*FRONT)
async def reply(request: Request, public_id: str) -> HTTPResponse:
    async def run(session, user, conversation, handoff):  # type: ignore[no-untyped-def]
        message = await actions.reply(session, user, conversation, handoff, text=request.form.get("text") or "",
                                      canned_id=_int(request.form.get("canned_id")), ctx=_tickets(request))
        return {"type": "message", "conversation_id": public_id, "seq": message.seq, "message_id": message.id,
                "author": "agent", "_topics": [transcripts_topic(public_id)]}
    return await _act(request, public_id, run)


@bp.post("/console/c/<public_id:str>/template")
@staff_required(*FRONT)
async def send_template(request: Request, public_id: str) -> HTTPResponse:
    """Send an approved WhatsApp template (the way to reach a borrower outside the 24-hour window)."""
    async def run(session, user, conversation, handoff):  # type: ignore[no-untyped-def]
        message = await actions.send_template(session, user, conversation, handoff,
                                              key=request.form.get("template") or "",
                                              templates=_templates(request), ctx=_tickets(request))
        return {"type": "message", "conversation_id": public_id, "seq": message.seq, "message_id": message.id,
                "author": "agent", "_topics": [transcripts_topic(public_id)]}
    return await _act(request, public_id, run)


@bp.get("/console/c/<public_id:str>/deliveries")
@staff_required()
async def delivery_states(request: Request, public_id: str) -> HTTPResponse:
    """Each outbound message's delivery state, by seq, for an open panel's ticks (access re-checked)."""
    async with core_services(request.app).db.session() as session:
        conversation = await transcripts.conversation_by_public_id(session, public_id)
        if conversation is None:
            return error(404, "not_found", "no such conversation")
        if not access.can_read(request.ctx.user, await queue.latest_handoff(session, conversation.id)):
            return error(403, "forbidden", "you may not read this conversation")
        states = await transcripts.deliveries(session, conversation)
    return json_response({"deliveries": {str(seq): d.as_json() for seq, d in states.items()}})


@bp.post("/console/c/<public_id:str>/note")
@staff_required(*FRONT)
async def note(request: Request, public_id: str) -> HTTPResponse:
    async def run(session, user, conversation, handoff):  # type: ignore[no-untyped-def]
        await actions.add_note(session, user, conversation, handoff, request.form.get("text") or "")
        # Notes go to the staff-only topic; the borrower's channel never subscribes to it.
        return {"type": "note", "conversation_id": public_id, "_topics": [f"staff:{public_id}"]}
    return await _act(request, public_id, run)


@bp.post("/console/c/<public_id:str>/fields")
@staff_required(*FRONT)
async def fields(request: Request, public_id: str) -> HTTPResponse:
    async def run(session, user, conversation, handoff):  # type: ignore[no-untyped-def]
        await actions.update_fields(session, user, handoff, category=request.form.get("category") or None,
                                    priority=request.form.get("priority") or None,
                                    status=request.form.get("status") or None)
        return None
    return await _act(request, public_id, run)


@bp.post("/console/c/<public_id:str>/ticket")
@staff_required(*FRONT)
async def open_ticket(request: Request, public_id: str) -> HTTPResponse:
    """Open a ticket for the complaint made in this chat (linked to the case, receipt sent)."""
    async def run(session, user, conversation, handoff):  # type: ignore[no-untyped-def]
        ticket = await actions.open_ticket(session, _tickets(request), user, conversation, handoff,
                                           category=request.form.get("category") or "",
                                           chronology=request.form.get("chronology") or "")
        return {"type": "ticket_opened", "conversation_id": public_id, "ticket_number": ticket.number,
                "_topics": [transcripts_topic(public_id), queue.QUEUE_TOPIC]}
    return await _act(request, public_id, run)


@bp.post("/console/c/<public_id:str>/transfer")
@staff_required(*FRONT)
async def transfer(request: Request, public_id: str) -> HTTPResponse:
    async def run(session, user, conversation, handoff):  # type: ignore[no-untyped-def]
        target = request.form.get("to") or ""
        if target == Role.SPECIALIST.value or target in actions.DEPARTMENTS:
            h = await actions.escalate(session, user, handoff, target)
        else:
            to = _int(target)
            if to is None:
                raise actions.ActionRefused("bad_target", "choose someone to transfer to")
            h = await actions.transfer(session, user, handoff, to)
        return {**queue.handoff_event("transferred", h, public_id),
                "_topics": [queue.QUEUE_TOPIC, transcripts_topic(public_id)]
                + ([queue.agent_topic(h.assigned_to)] if h.assigned_to else [])}
    return await _act(request, public_id, run)


@bp.post("/console/c/<public_id:str>/takeover")
@staff_required(Role.SUPERVISOR.value, Role.ADMIN.value)
async def take_over(request: Request, public_id: str) -> HTTPResponse:
    async def run(session, user, conversation, handoff):  # type: ignore[no-untyped-def]
        h = await actions.take_over(session, user, handoff)
        return {**queue.handoff_event("transferred", h, public_id),
                "_topics": [queue.QUEUE_TOPIC, transcripts_topic(public_id)]}
    return await _act(request, public_id, run)


@bp.post("/console/c/<public_id:str>/close")
@staff_required(*FRONT)
async def close(request: Request, public_id: str) -> HTTPResponse:
    async def run(session, user, conversation, handoff):  # type: ignore[no-untyped-def]
        message = await actions.close(session, user, conversation, handoff, request.form.get("summary") or "",
                                      ctx=_tickets(request))
        return {"type": "closed", "conversation_id": public_id, "seq": message.seq, "message_id": message.id,
                "handoff_id": handoff.id if handoff else None,
                "_topics": [transcripts_topic(public_id), queue.QUEUE_TOPIC]}
    return await _act(request, public_id, run)


# -- SLA alerts (tickets/alerts.py) -------------------------------------------------------------


@bp.get("/console/alerts")
async def alerts_page(request: Request) -> HTTPResponse:
    """Every SLA alert the signed-in member of staff may see, newest first, each linked to its ticket."""
    if (r := _login_redirect(request)) is not None:
        return r
    async with core_services(request.app).db.session() as session:
        rows = await ticket_alerts.for_user(session, request.ctx.user, limit=200)
    template = "handoff/_alerts.html" if _wants_json(request) or request.args.get("fragment") else "handoff/alerts.html"
    return _page(request, template, alerts=rows)


# -- ticket pages (handoff/ticket_pages.py) -------------------------------------------------


@bp.get("/console/tickets/<number:str>")
async def ticket_page(request: Request, number: str) -> HTTPResponse:
    """A ticket with its clocks, history and the actions the signed-in role may take."""
    if (r := _login_redirect(request)) is not None:
        return r
    try:
        async with core_services(request.app).db.transaction() as session:
            context = await ticket_pages.ticket_view(session, request.ctx.user, number, _tickets(request))
    except TicketNotFound:
        return _page(request, "handoff/error.html", status=404, message_key="ticket_not_found")
    except TicketError:
        return _page(request, "handoff/error.html", status=403, message_key="ticket_forbidden")
    return _page(request, "handoff/ticket.html", **context)


@bp.post("/console/tickets/<number:str>/<action:str>")
@staff_required(*FRONT)
async def ticket_action(request: Request, number: str, action: str) -> HTTPResponse:
    """One ticket action (start, escalate, feedback, resolve, reject, extend, note, message)."""
    form = ticket_pages.Form({k: request.form.get(k) or "" for k in request.form})
    try:
        async with core_services(request.app).db.transaction() as session:
            ticket = await ticket_pages.run_action(session, _tickets(request), request.ctx.user, number, action, form)
            number = ticket.number
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)
    except ValidationError as exc:
        return error(422, "invalid_request", "; ".join(e["msg"] for e in exc.errors(include_url=False)))
    return _done(request, f"/console/tickets/{number}", ticket_number=number)


@bp.get("/console/external-complaints")
async def external_page(request: Request) -> HTTPResponse:
    """The form to register a complaint forwarded by OJK's portal (APPK) or LAPS SJK."""
    if (r := _login_redirect(request)) is not None:
        return r
    return _page(request, "handoff/external.html", source_labels=ticket_pages.SOURCE_LABELS)


@bp.post("/console/external-complaints")
@staff_required(*FRONT)
async def external_register(request: Request) -> HTTPResponse:
    """Register it; answers with the new ticket's page (or JSON with its number)."""
    form = ticket_pages.Form({k: request.form.get(k) or "" for k in request.form})
    try:
        async with core_services(request.app).db.transaction() as session:
            ticket = await ticket_pages.register_external(session, _tickets(request), request.ctx.user, form)
            number = ticket.number
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)
    except ValidationError as exc:
        return error(422, "invalid_request", "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)))
    return _done(request, f"/console/tickets/{number}", ticket_number=number)


# -- supervision, canned responses, audit ---------------------------------------------------


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/console/supervisor")
async def supervisor(request: Request) -> HTTPResponse:
    if (r := _login_redirect(request)) is not None:
        return r
    if not access.supervises(request.ctx.user):
        return _page(request, "handoff/error.html", status=403, message_key="forbidden")
    a = request.args
    filters = transcripts.Filters(
        channel=a.get("channel") or None, category=a.get("category") or None, agent_id=_int(a.get("agent")),
        sla_state=a.get("sla") or None, rating=_int(a.get("rating")), date_from=_date(a.get("from")),
        date_to=_date(a.get("to")), q=(a.get("q") or "").strip()[:200] or None, status=a.get("status") or None)
    async with core_services(request.app).db.session() as session:
        rows = await transcripts.search(session, filters)
        agents = await queue.loads(session)
    return _page(request, "handoff/supervisor.html", rows=rows, agents=agents, f=filters)


@bp.get("/console/nlu")
async def nlu_page(request: Request) -> HTTPResponse:
    """The most frequent misunderstood borrower messages of the last 30 days (supervisors)."""
    if (r := _login_redirect(request)) is not None:
        return r
    if not access.supervises(request.ctx.user):
        return _page(request, "handoff/error.html", status=403, message_key="forbidden")
    async with core_services(request.app).db.session() as session:
        rows = await nlu_review.frequent_misunderstandings(session)
    return _page(request, "handoff/nlu.html", rows=rows)


@bp.post("/console/messages/<message_id:int>/label")
@staff_required(*FRONT)
async def label_message(request: Request, message_id: int) -> HTTPResponse:
    """Give a borrower message its right intent: one action, audited (issue #16)."""
    user: StaffUser = request.ctx.user
    intent = nlu_review.intent_of(request.form.get("intent") or "")
    try:
        async with core_services(request.app).db.transaction() as session:
            await nlu_review.label_message(session, user.id, message_id, intent)
            public_id = await session.scalar(
                select(Conversation.public_id).join(Message, Message.conversation_id == Conversation.id)
                .where(Message.id == message_id))
    except nlu_review.LabelRefused as exc:
        return error(400, "label_refused", str(exc))
    back = request.headers.get("referer") or ""
    to = urlparse(back).path if urlparse(back).path.startswith("/console") else f"/console/c/{public_id}"
    return _done(request, to, message_id=message_id, intent=intent)


@bp.get("/console/canned")
@staff_required()
async def canned_page(request: Request) -> HTTPResponse:
    async with core_services(request.app).db.session() as session:
        rows = await canned.all_responses(session)
    return _page(request, "handoff/canned.html", rows=rows, placeholders=canned.PLACEHOLDERS,
                 can_approve=access.can_approve_canned(request.ctx.user))


@bp.post("/console/canned")
@staff_required()
async def canned_propose(request: Request) -> HTTPResponse:
    async with core_services(request.app).db.transaction() as session:
        try:
            row = await canned.propose(session, request.ctx.user, request.form.get("title") or "",
                                       request.form.get("body") or "")
        except canned.CannedError as exc:
            return error(400, "canned", str(exc))
        await audit.record(session, request.ctx.user.id, "canned.proposed", "canned", row.id)
    return _done(request, "/console/canned", id=row.id)


@bp.post("/console/canned/<canned_id:int>/approve")
@staff_required(Role.SUPERVISOR.value, Role.ADMIN.value)
async def canned_approve(request: Request, canned_id: int) -> HTTPResponse:
    async with core_services(request.app).db.transaction() as session:
        try:
            await canned.approve(session, request.ctx.user, canned_id)
        except canned.CannedError as exc:
            return error(404, "not_found", str(exc))
        await audit.record(session, request.ctx.user.id, "canned.approved", "canned", canned_id)
    return _done(request, "/console/canned")


@bp.get("/console/admin/audit")
async def audit_page(request: Request) -> HTTPResponse:
    if (r := _login_redirect(request)) is not None:
        return r
    if not access.can_read_audit(request.ctx.user):
        return _page(request, "handoff/error.html", status=403, message_key="forbidden")
    async with core_services(request.app).db.session() as session:
        rows = await audit.recent(session, action=request.args.get("action") or None,
                                  object_id=request.args.get("object") or None)
    return _page(request, "handoff/audit.html", rows=rows)


# -- live updates -------------------------------------------------------------------------------

# What a console may learn from an event: ids and queue metadata, never message text.
_EVENT_KEYS = ("type", "conversation_id", "handoff_id", "status", "assigned_to", "seq", "message_id",
               "priority", "channel", "category", "author", "ticket_number", "alert_id", "due_at",
               # Alerts on a personal-data rights request's clock (privacy.scheduler) name the request.
               "rights_request")


def _safe_event(event: dict[str, Any]) -> dict[str, Any]:
    data = {k: event[k] for k in _EVENT_KEYS if k in event}
    if "conversation_id" not in data and isinstance(event.get("conversation"), str):
        data["conversation_id"] = event["conversation"]
    return data


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin:
        return True  # non-browser clients send none; the session cookie still authenticates
    return urlparse(origin).netloc == request.host


@bp.websocket("/console/ws")
async def console_ws(request: Request, ws: Any) -> None:
    """Pushes queue changes, assignments and new messages of watched conversations."""
    user: StaffUser | None = getattr(request.ctx, "user", None)
    if user is None or not _same_origin(request):
        await ws.close(code=4401, reason="sign in first")
        return
    services = core_services(request.app)
    pumps: dict[str, asyncio.Task[None]] = {}
    greeted = asyncio.Event()  # "hello" is always the first frame

    async def pump(topic: str, kind: str) -> None:
        # Each topic's events go straight to the socket (Sanic serialises concurrent sends):
        # no second queue and sender task, so an event costs no extra trips through a busy loop.
        async with services.events.subscribe(topic) as stream:
            async for event in stream:
                if kind == "queue" and event.get("type") == "message":
                    continue  # borrower messages reach consoles through the watched conversation topics
                if kind == "alert" and not ticket_alerts.visible_to(user, event.get("recipients")):
                    continue  # each console hears only the alerts addressed to its user
                if not greeted.is_set():
                    await greeted.wait()
                await ws.send(json.dumps({**_safe_event(event), "topic": kind}))

    def watch(topic: str, kind: str) -> None:
        if topic not in pumps:
            pumps[topic] = asyncio.create_task(pump(topic, kind))

    async def reader() -> None:
        async for raw in ws:
            try:
                wanted = json.loads(raw).get("watch", [])
            except (ValueError, AttributeError):
                continue
            for public_id in [p for p in wanted if isinstance(p, str)][:50]:
                async with services.db.session() as session:
                    conversation = await transcripts.conversation_by_public_id(session, public_id)
                    handoff = await queue.latest_handoff(session, conversation.id) if conversation else None
                if conversation is not None and access.can_read(user, handoff):
                    watch(transcripts_topic(public_id), "conversation")
                    watch(f"staff:{public_id}", "conversation")

    watch(queue.QUEUE_TOPIC, "queue")
    watch(queue.agent_topic(user.id), "agent")
    watch(ticket_alerts.ALERTS_TOPIC, "alert")
    await asyncio.sleep(0)  # let the subscriptions register before announcing readiness
    await ws.send(json.dumps({"topic": "hello", "user": user.id}))
    greeted.set()
    try:
        await reader()  # until the console goes away
    finally:
        for task in pumps.values():
            task.cancel()
        for task in pumps.values():
            with contextlib.suppress(BaseException):
                await task


# -- wiring ------------------------------------------------------------------------------------


async def _assign_on_handoff(app: Sanic) -> None:
    """Background: run round-robin when handoffs arrive.

    A burst of handoffs coalesces: one run assigns everything that waits, and
    handoffs that arrive during a run ask for exactly one more run, instead
    of one run (and its queries) per handoff.
    """
    services = core_services(app)
    wanted = asyncio.Event()

    async def listen() -> None:
        async with services.events.subscribe(queue.QUEUE_TOPIC) as stream:
            async for event in stream:
                if event.get("type") == "handoff":
                    wanted.set()

    while True:
        listener = asyncio.create_task(listen())
        try:
            while True:
                waiter = asyncio.create_task(wanted.wait())
                await asyncio.wait({waiter, listener}, return_when=asyncio.FIRST_COMPLETED)
                if listener.done():
                    waiter.cancel()
                    listener.result()  # re-raise what stopped the subscription
                    break
                wanted.clear()
                await run_auto_assign(app)
        except asyncio.CancelledError:
            listener.cancel()
            raise
        except Exception:  # noqa: BLE001 - keep assigning after a database or bus hiccup
            log.exception("auto-assignment failed; retrying")
            listener.cancel()
            await asyncio.sleep(1)
            wanted.set()  # whatever arrived meanwhile still waits


def install(app: Sanic, services: CoreServices, settings: HandoffSettings, tickets: TicketContext) -> None:
    """Register the console, the staff middleware and the round-robin task on ``app``.

    ``settings`` is the handoff part's configuration; ``tickets`` gives the
    office hours the queue tells borrowers about.
    """
    app.ctx.handoff_settings = settings
    # One round-robin at a time per process: two concurrent runs would offer one handoff twice.
    app.ctx.handoff_assign_lock = asyncio.Lock()
    app.register_middleware(auth.staff_middleware, "request")
    app.blueprint(bp)
    install_files(app)  # conversation files: view, retry, label, send (attachments installed first)
    hours.configure_default(tickets.calendar)

    @app.after_server_start
    async def _start_assigner(app_: Sanic) -> None:
        # A plain task: servers started with create_server() cannot name Sanic tasks.
        app_.ctx.handoff_assigner = asyncio.create_task(_assign_on_handoff(app_))
        await run_auto_assign(app_)

    @app.before_server_stop
    async def _stop_assigner(app_: Sanic) -> None:
        task = getattr(app_.ctx, "handoff_assigner", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
