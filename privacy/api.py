"""HTTP endpoints of the privacy part.

Staff API (signed-in staff): ``/api/v1/staff/privacy/requests…`` — record,
list, read, verify identity, close, export (JSON and HTML).
Bot API (service token): ``POST /api/v1/privacy/requests`` files a request
from the chat; ``GET /api/v1/privacy/requests/<number>`` its status.
Lending-core API (``LENDING_CORE_TOKEN``): ``POST /api/v1/lending-core/relationships/ended``
and ``…/resumed`` (``privacy.relationships``).
Console pages: ``/console/privacy…``. Borrower's status page:
``/privacy/requests/<token>``. Every handler calls ``privacy.service`` or
``privacy.export``; none writes rows itself.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, html, json, redirect
from sqlalchemy import select

from desk.auth import StaffUser, error, lending_core_token_required, service_token_required, staff_required
from desk.masking import mask_name
from desk.templating import render
from handoff import audit
from handoff.access import supervises
from privacy import export as export_mod
from privacy import breaches, erasure, relationships, scheduler, service
from desk.services import CoreServices, core_services
from privacy.context import PrivacyContext, install_context, privacy_context
from privacy.errors import PrivacyError
from privacy.jobs import destroy_files
from privacy.models import DATA_CLASSES, Breach, BreachSubject, KIND_LABELS, STATUS_LABELS, RequestSource, RequestStatus, RightsRequest
from tickets.api import answers_errors, json_object
from tickets.calendar import to_wib
from tickets.errors import InvalidRequest, TicketError

staff_bp = Blueprint("privacy_staff", url_prefix="/api/v1/staff/privacy")
bot_bp = Blueprint("privacy_bot", url_prefix="/api/v1/privacy")
lending_bp = Blueprint("privacy_lending_core", url_prefix="/api/v1/lending-core")
pages_bp = Blueprint("privacy_pages")


def _ctx(request: Request) -> PrivacyContext:
    return privacy_context(request.app)


def _iso(at: datetime | None) -> str | None:
    return to_wib(at).isoformat() if at else None


def request_json(r: RightsRequest, *, full: bool) -> dict[str, Any]:
    """A request as staff see it; the requester's name and contact only in the full view."""
    data = {"number": r.number, "kind": r.kind, "kind_label": KIND_LABELS.get(r.kind, r.kind),
            "status": r.status, "source": r.source, "received_at": _iso(r.received_at), "due_at": _iso(r.due_at),
            "verified": r.verified_at is not None, "verification_method": r.verification_method,
            "closed_at": _iso(r.closed_at), "answered_in_time": r.answered_in_time, "outcome": r.outcome,
            "requester_name": mask_name(r.requester_name), "assignee_id": r.assignee_id}
    if full:
        data.update({"requester_name": r.requester_name, "requester_contact": r.clear_contact(),
                     "details": r.details, "customer_id": r.customer_id})
    return data


def _user(request: Request) -> StaffUser:
    return request.ctx.user


# --- staff API -----------------------------------------------------------------------------

@staff_bp.post("/requests")
@staff_required()
@answers_errors
async def record(request: Request) -> HTTPResponse:
    """Record a request received by phone, letter, e-mail or at the counter."""
    data = service.NewRequest.model_validate(json_object(request))
    async with core_services(request.app).db.transaction() as session:
        r = await service.record_request(session, _ctx(request), data, _user(request).id)
        body = request_json(r, full=True)
    body["status_link"] = service.status_link(_ctx(request), r)
    return json(body, status=201)


@staff_bp.get("/requests")
@staff_required()
@answers_errors
async def list_requests(request: Request) -> HTTPResponse:
    """Requests the signed-in member of staff may see (supervisors: all), due first."""
    async with core_services(request.app).db.session() as session:
        rows = await service.list_requests(session, _user(request), open_only=request.args.get("open") == "1")
        return json({"requests": [request_json(r, full=False) for r in rows]})


@staff_bp.get("/requests/<number:str>")
@staff_required()
@answers_errors
async def read(request: Request, number: str) -> HTTPResponse:
    """One request in full (audited: it names the requester)."""
    async with core_services(request.app).db.transaction() as session:
        r = await service.get_request(session, number)
        service.require_staff_access(_user(request), r)
        await audit.record(session, _user(request).id, "privacy.request_opened", service.OBJECT_TYPE,
                                   r.number)
        return json(request_json(r, full=True))


class VerifyIn(BaseModel):
    full_name: str = Field(min_length=1, max_length=128)
    phone: str = Field(min_length=1, max_length=32)
    loan_id: str = Field(min_length=1, max_length=64)


@staff_bp.post("/requests/<number:str>/verify")
@staff_required()
@answers_errors
async def verify(request: Request, number: str) -> HTTPResponse:
    """Verify the requester with the desk's customer verification (name, phone, loan id)."""
    claim = VerifyIn.model_validate(json_object(request))
    services = core_services(request.app)
    async with services.db.session() as session:
        service.require_staff_access(_user(request), await service.get_request(session, number))
    r = await service.verify_identity(services.db.transaction, services.verify, _ctx(request), number,
                                      service.IdentityClaim(claim.full_name, claim.phone, claim.loan_id),
                                      _user(request).id)
    return json(request_json(r, full=False))


class CloseIn(BaseModel):
    status: RequestStatus
    outcome: str = Field(min_length=1, max_length=10_000)


@staff_bp.post("/requests/<number:str>/close")
@staff_required()
@answers_errors
async def close(request: Request, number: str) -> HTTPResponse:
    """Close as completed or refused."""
    data = CloseIn.model_validate(json_object(request))
    async with core_services(request.app).db.transaction() as session:
        r = await service.get_request(session, number, for_update=True)
        service.require_staff_access(_user(request), r)
        await service.close_request(session, _ctx(request), r, status=data.status, outcome=data.outcome,
                                    actor_id=_user(request).id)
        return json(request_json(r, full=False))


async def _export(request: Request, number: str, fmt: str) -> HTTPResponse:
    ctx = _ctx(request)
    async with core_services(request.app).db.transaction() as session:
        r = await service.get_request(session, number)
        service.require_staff_access(_user(request), r)
        export = await export_mod.export_for(session, ctx, r, actor_id=_user(request).id, fmt=fmt)
    filename = f"data-pribadi-{r.number}.{fmt}"
    headers = {"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"}
    if fmt == "json":
        return HTTPResponse(export.json_text(), headers=headers, content_type="application/json; charset=utf-8")
    return html(export_mod.html_text(export, brand=ctx.brand), headers=headers)


@staff_bp.get("/requests/<number:str>/export.json")
@staff_required()
@answers_errors
async def export_json(request: Request, number: str) -> HTTPResponse:
    """Everything held about the verified requester, machine-readable (audited)."""
    return await _export(request, number, "json")


@staff_bp.get("/requests/<number:str>/export.html")
@staff_required()
@answers_errors
async def export_html(request: Request, number: str) -> HTTPResponse:
    """The same export as a readable page (audited)."""
    return await _export(request, number, "html")


@staff_bp.post("/requests/<number:str>/erase")
@staff_required()
@answers_errors
async def erase(request: Request, number: str) -> HTTPResponse:
    """Carry out a verified erasure request: anonymise now, hold the rest with reasons (listed)."""
    async with core_services(request.app).db.transaction() as session:
        r = await service.get_request(session, number, for_update=True)
        service.require_staff_access(_user(request), r)
        result = await erasure.erase(session, _ctx(request), r, _user(request).id)
        body = request_json(r, full=False)
        body["erased"] = result.erased
        body["held"] = [{"record_type": i.record_type, "record_id": i.record_id, "reason": i.reason}
                        for i in result.held]
        body["identity_documents_kept"] = result.identity_documents_kept
    # After commit: the files of what was anonymised leave the file store now, not at the daily run.
    body["files_destroyed"] = await destroy_files(core_services(request.app).db, _ctx(request))
    return json(body)


@staff_bp.post("/holds")
@staff_required("supervisor", "admin")
@answers_errors
async def set_hold(request: Request) -> HTTPResponse:
    """Put a conversation or ticket under a legal hold (a LAPS SJK dispute, a court case, an authority)."""
    data = erasure.NewHold.model_validate(json_object(request))
    async with core_services(request.app).db.transaction() as session:
        hold = await erasure.set_hold(session, _user(request).role, _user(request).id, data)
        return json({"id": hold.id, "record_type": hold.record_type, "record_id": hold.record_id,
                     "reason": hold.reason, "set_at": _iso(hold.set_at)}, status=201)


@staff_bp.post("/holds/<hold_id:int>/lift")
@staff_required("supervisor", "admin")
@answers_errors
async def lift_hold(request: Request, hold_id: int) -> HTTPResponse:
    """Lift a hold; erasures it was blocking are carried out at once."""
    async with core_services(request.app).db.transaction() as session:
        released = await erasure.lift_hold(session, _ctx(request), _user(request).role, _user(request).id, hold_id)
    destroyed = await destroy_files(core_services(request.app).db, _ctx(request))
    return json({"id": hold_id, "lifted": True, "erased_now": released, "files_destroyed": destroyed})


def breach_json(b: Breach, subjects: list[BreachSubject]) -> dict[str, Any]:
    """A breach as admins see it: its clock and who was notified."""
    return {"number": b.number, "title": b.title, "status": b.status, "data_classes": b.data_classes,
            "discovered_at": _iso(b.discovered_at), "occurred_at": _iso(b.occurred_at),
            "notify_due": _iso(b.notify_due), "subjects": len(subjects),
            "notified": sum(1 for x in subjects if x.notified_at is not None)}


async def _subjects(session: Any, breach: Breach) -> list[BreachSubject]:
    return list(await session.scalars(select(BreachSubject).where(BreachSubject.breach_id == breach.id)))


@staff_bp.post("/breaches")
@staff_required("admin")
@answers_errors
async def record_breach(request: Request) -> HTTPResponse:
    """Record a breach; its 72-hour notification clock runs from discovery."""
    data = breaches.NewBreach.model_validate(json_object(request))
    async with core_services(request.app).db.transaction() as session:
        b = await breaches.record_breach(session, _ctx(request), _user(request).role, _user(request).id, data)
        return json(breach_json(b, []), status=201)


class SubjectsIn(BaseModel):
    customer_ids: list[str] = Field(min_length=1, max_length=100_000)


@staff_bp.post("/breaches/<number:str>/subjects")
@staff_required("admin")
@answers_errors
async def add_breach_subjects(request: Request, number: str) -> HTTPResponse:
    """Add the borrowers affected (customer ids)."""
    data = SubjectsIn.model_validate(json_object(request))
    async with core_services(request.app).db.transaction() as session:
        b = await breaches.get_breach(session, number)
        await breaches.add_subjects(session, _user(request).role, _user(request).id, b, data.customer_ids)
        return json(breach_json(b, await _subjects(session, b)))


@staff_bp.get("/breaches/<number:str>/notices")
@staff_required("admin")
@answers_errors
async def breach_notices(request: Request, number: str) -> HTTPResponse:
    """The draft written notice per borrower affected (Bahasa Indonesia, Pasal 46(2)); audited."""
    async with core_services(request.app).db.transaction() as session:
        b = await breaches.get_breach(session, number)
        notices = await breaches.draft_notices(session, _ctx(request), b)
        await audit.record(session, _user(request).id, "privacy.breach_notices_drafted", "breach", b.number,
                           count=len(notices))
        return json({"number": b.number, "notify_due": _iso(b.notify_due),
                     "notices": [{"customer_id": n.customer_id, "text": n.text} for n in notices]})


@staff_bp.post("/breaches/<number:str>/notified")
@staff_required("admin")
@answers_errors
async def breach_notified(request: Request, number: str) -> HTTPResponse:
    """Record that the notices went out (body ``customer_ids`` optional: all not yet notified)."""
    body = json_object(request)
    ids = body.get("customer_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise InvalidRequest("customer_ids must be a list of strings")
    async with core_services(request.app).db.transaction() as session:
        b = await breaches.get_breach(session, number)
        await breaches.mark_notified(session, _ctx(request), _user(request).role, _user(request).id, b, ids)
        return json(breach_json(b, await _subjects(session, b)))


# --- bot API -------------------------------------------------------------------------------

class ChatRequestIn(BaseModel):
    conversation_id: str = Field(min_length=1, max_length=64)
    kind: str
    details: str = Field(default="", max_length=10_000)


@bot_bp.post("/requests")
@service_token_required
@answers_errors
async def from_chat(request: Request) -> HTTPResponse:
    """File a request the borrower made in the chat; verified at once if the chat is."""
    data = ChatRequestIn.model_validate(json_object(request))
    new = service.NewRequest.model_validate({"kind": data.kind, "source": RequestSource.CHAT.value,
                                             "details": data.details, "conversation_id": data.conversation_id})
    ctx = _ctx(request)
    async with core_services(request.app).db.transaction() as session:
        r = await service.record_request(session, ctx, new, None)
        body = {"number": r.number, "kind": r.kind, "status": r.status, "verified": r.verified_at is not None,
                "received_at": _iso(r.received_at), "due_at": _iso(r.due_at),
                "status_link": service.status_link(ctx, r)}
    return json(body, status=201)


# --- lending-core API ----------------------------------------------------------------------

@lending_bp.post("/relationships/ended")
@lending_core_token_required
@answers_errors
async def relationship_ended(request: Request) -> HTTPResponse:
    """The lender's core reports that a customer's relationship ended (again: corrects the date); audited."""
    data = relationships.RelationshipEvent.model_validate(json_object(request))
    ctx = _ctx(request)
    now = ctx.now()
    ended_at = relationships.parse_when(data.ended_at, now)
    async with core_services(request.app).db.transaction() as session:
        body = await relationships.record_ended(session, data.customer_id, ended_at, source="lending_core",
                                                actor_id=None, now=now)
    return json(body)


@lending_bp.post("/relationships/resumed")
@lending_core_token_required
@answers_errors
async def relationship_resumed(request: Request) -> HTTPResponse:
    """The customer has a relationship again (a new loan): its identity records are kept again; audited."""
    data = relationships.RelationshipResumed.model_validate(json_object(request))
    async with core_services(request.app).db.transaction() as session:
        resumed = await relationships.record_resumed(session, data.customer_id, source="lending_core",
                                                     actor_id=None)
    return json({"customer_id": data.customer_id, "resumed": resumed})


# --- pages ---------------------------------------------------------------------------------

def _fmt(at: datetime | None) -> str:
    return f"{to_wib(at):%d-%m-%Y %H:%M}" if at else ""


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTTPResponse:
    return render(template, status=status, user=getattr(request.ctx, "user", None),
                  csrf=getattr(request.ctx, "csrf_token", ""), fmt=_fmt, kinds=KIND_LABELS,
                  statuses=STATUS_LABELS, sources=[s.value for s in RequestSource], **context)


@pages_bp.get("/privacy/requests/<token:str>")
async def borrower_status(request: Request, token: str) -> HTTPResponse:
    """The borrower's view of their request, behind the unguessable link they were given."""
    try:
        async with core_services(request.app).db.session() as session:
            r = await service.by_status_token(session, token)
            return _page(request, "privacy/status.html", r=r)
    except PrivacyError:
        return html("<p>Permintaan tidak ditemukan.</p>", status=404)


def _signed_in(request: Request) -> StaffUser | None:
    return getattr(request.ctx, "user", None)


@pages_bp.get("/console/privacy")
async def list_page(request: Request) -> HTTPResponse:
    """Requests the signed-in member of staff may see, with the clock alerts."""
    user = _signed_in(request)
    if user is None:
        return redirect("/login")
    async with core_services(request.app).db.session() as session:
        rows = await service.list_requests(session, user)
        alerts = await scheduler.alerts_for(session, user, limit=20)
        return _page(request, "privacy/list.html", requests=rows, alerts=alerts)


@pages_bp.post("/console/privacy")
@staff_required()
async def record_page(request: Request) -> HTTPResponse:
    """Record a request from the console form."""
    fields = {k: (request.form.get(k) or "").strip() for k in request.form if k != "csrf_token"}
    try:
        data = service.NewRequest.model_validate({k: v for k, v in fields.items() if v})
        async with core_services(request.app).db.transaction() as session:
            r = await service.record_request(session, _ctx(request), data, request.ctx.user.id)
    except ValidationError as exc:
        return error(422, "invalid_request", "; ".join(e["msg"] for e in exc.errors(include_url=False)))
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)
    return redirect(f"/console/privacy/{r.number}")


@pages_bp.get("/console/privacy/<number:str>")
async def request_page(request: Request, number: str) -> HTTPResponse:
    """One request with its clock and the actions open to it (opening it is audited)."""
    user = _signed_in(request)
    if user is None:
        return redirect("/login")
    try:
        async with core_services(request.app).db.transaction() as session:
            r = await service.get_request(session, number)
            service.require_staff_access(user, r)
            await audit.record(session, user.id, "privacy.request_opened", service.OBJECT_TYPE, r.number)
            name = r.requester_name if supervises(user) else mask_name(r.requester_name)
            return _page(request, "privacy/request.html", r=r, requester_name=name,
                         link=service.status_link(_ctx(request), r))
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)


@pages_bp.post("/console/privacy/<number:str>/verify")
@staff_required()
async def verify_page(request: Request, number: str) -> HTTPResponse:
    """Verify the requester's identity from the console form."""
    services = core_services(request.app)
    claim = service.IdentityClaim(*(request.form.get(k) or "" for k in ("full_name", "phone", "loan_id")))
    try:
        async with services.db.session() as session:
            service.require_staff_access(request.ctx.user, await service.get_request(session, number))
        await service.verify_identity(services.db.transaction, services.verify, _ctx(request), number, claim,
                                      request.ctx.user.id)
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)
    return redirect(f"/console/privacy/{number}")


@pages_bp.post("/console/privacy/<number:str>/close")
@staff_required()
async def close_page(request: Request, number: str) -> HTTPResponse:
    """Close the request from the console form."""
    try:
        status = RequestStatus(request.form.get("status") or "")
        async with core_services(request.app).db.transaction() as session:
            r = await service.get_request(session, number, for_update=True)
            service.require_staff_access(request.ctx.user, r)
            await service.close_request(session, _ctx(request), r, status=status,
                                        outcome=request.form.get("outcome") or "", actor_id=request.ctx.user.id)
    except ValueError:
        return error(422, "invalid_request", "status must be completed or refused")
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)
    return redirect(f"/console/privacy/{number}")


@pages_bp.post("/console/privacy/<number:str>/erase")
@staff_required()
async def erase_page(request: Request, number: str) -> HTTPResponse:
    """Carry out an erasure request from the console."""
    try:
        async with core_services(request.app).db.transaction() as session:
            r = await service.get_request(session, number, for_update=True)
            service.require_staff_access(request.ctx.user, r)
            await erasure.erase(session, _ctx(request), r, request.ctx.user.id)
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)
    await destroy_files(core_services(request.app).db, _ctx(request))
    return redirect(f"/console/privacy/{number}")


async def _export_page(request: Request, number: str, fmt: str) -> HTTPResponse:
    try:
        return await _export(request, number, fmt)
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)


@pages_bp.get("/console/privacy/<number:str>/export.json")
@staff_required()
async def export_json_page(request: Request, number: str) -> HTTPResponse:
    """The JSON export, downloaded from the console (same use case and audit entry as the API)."""
    return await _export_page(request, number, "json")


@pages_bp.get("/console/privacy/<number:str>/export.html")
@staff_required()
async def export_html_page(request: Request, number: str) -> HTTPResponse:
    """The readable export, downloaded from the console."""
    return await _export_page(request, number, "html")


@pages_bp.get("/console/privacy/breaches")
async def breaches_page(request: Request) -> HTTPResponse:
    """The breach register (admins): every breach with its clock, and the form to record one."""
    user = _signed_in(request)
    if user is None:
        return redirect("/login")
    if user.role != "admin":
        return error(403, "forbidden", "only admins keep the breach register")
    async with core_services(request.app).db.session() as session:
        rows = list(await session.scalars(select(Breach).order_by(Breach.discovered_at.desc())))
        alerts = [a for a in await scheduler.alerts_for(session, user, limit=20) if a.breach]
        return _page(request, "privacy/breaches.html", breaches=rows, data_classes=DATA_CLASSES, alerts=alerts)


@pages_bp.post("/console/privacy/breaches")
@staff_required("admin")
async def record_breach_page(request: Request) -> HTTPResponse:
    """Record a breach from the admin page (times entered in WIB)."""
    try:
        data = breaches.NewBreach.model_validate({
            "title": request.form.get("title") or "", "description": request.form.get("description") or "",
            "remediation": request.form.get("remediation") or "",
            "data_classes": request.form.getlist("data_classes") or [],
            "discovered_at": _wib(request.form.get("discovered_at")),
            "occurred_at": _wib(request.form.get("occurred_at")) if request.form.get("occurred_at") else None})
        async with core_services(request.app).db.transaction() as session:
            b = await breaches.record_breach(session, _ctx(request), request.ctx.user.role, request.ctx.user.id, data)
            if (ids := (request.form.get("customer_ids") or "").split()):
                await breaches.add_subjects(session, request.ctx.user.role, request.ctx.user.id, b, ids)
    except ValidationError as exc:
        return error(422, "invalid_request", "; ".join(e["msg"] for e in exc.errors(include_url=False)))
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)
    return redirect(f"/console/privacy/breaches/{b.number}")


def _wib(value: str | None) -> str | None:
    """A datetime-local field (WIB) as ISO-8601 with the +07:00 offset."""
    return f"{value}:00+07:00" if value and len(value) == 16 else value


@pages_bp.get("/console/privacy/breaches/<number:str>")
async def breach_page(request: Request, number: str) -> HTTPResponse:
    """One breach: its clock, the borrowers affected and a draft notice for each (audited)."""
    user = _signed_in(request)
    if user is None:
        return redirect("/login")
    if user.role != "admin":
        return error(403, "forbidden", "only admins keep the breach register")
    try:
        async with core_services(request.app).db.transaction() as session:
            b = await breaches.get_breach(session, number)
            notices = await breaches.draft_notices(session, _ctx(request), b)
            await audit.record(session, user.id, "privacy.breach_notices_drafted", "breach", b.number,
                               count=len(notices))
            return _page(request, "privacy/breach.html", b=b, subjects=await _subjects(session, b),
                         notices=notices, data_classes=DATA_CLASSES)
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)


@pages_bp.post("/console/privacy/breaches/<number:str>/notified")
@staff_required("admin")
async def breach_notified_page(request: Request, number: str) -> HTTPResponse:
    """Record from the admin page that every pending notice went out."""
    try:
        async with core_services(request.app).db.transaction() as session:
            b = await breaches.get_breach(session, number)
            await breaches.mark_notified(session, _ctx(request), request.ctx.user.role, request.ctx.user.id, b)
    except TicketError as exc:
        return error(exc.status, exc.code, exc.message)
    return redirect(f"/console/privacy/breaches/{number}")


def install(app: Sanic, services: CoreServices, ctx: PrivacyContext) -> None:
    """Add the privacy part to ``app``: its context, routes, the rights clock and the daily job."""
    install_context(app, ctx)
    for bp in (staff_bp, bot_bp, lending_bp, pages_bp):
        app.blueprint(bp)
    scheduler.install(app, services)
