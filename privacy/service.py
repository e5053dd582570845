"""Rights-request use cases: record, verify identity, close, and the borrower's view.

Every caller — the staff API, the console pages, the bot API and the CLI —
goes through these functions. Each runs in the caller's transaction and
writes its audit entry (``handoff.audit``) in it: a change without its entry
never commits.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import StaffUser
from desk.verification import VerifyCustomer
from handoff import audit
from handoff.access import supervises
from privacy.context import PrivacyContext
from privacy.errors import IdentityNotVerified, InvalidPrivacyRequest, NotAllowed, RequestClosed, RequestNotFound
from privacy.models import (OPEN_STATUSES, TIMED_KINDS, RequestKind, RequestSource, RequestStatus,
                            RightsRequest)
from storage.models import Conversation
from tickets.calendar import to_wib
from tickets.sla import Clock, deadline

OBJECT_TYPE = "rights_request"


class NewRequest(BaseModel):
    """A rights request as an agent records it (phone call, letter, e-mail, walk-in) or the bot files it."""

    kind: RequestKind
    source: RequestSource
    requester_name: str = Field(default="", max_length=128)
    requester_contact: str | None = Field(default=None, max_length=256)
    details: str = Field(default="", max_length=10_000)
    # The chat the request came from (public id); its verified customer counts as verified identity.
    conversation_id: str | None = Field(default=None, max_length=64)
    # When it arrived (a letter dated earlier than its recording); the clock runs from here.
    received_at: datetime | None = None

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("received_at needs a time zone offset")
        return value


def _number(received_at: datetime) -> str:
    # Unguessable suffix: request numbers are read out on the phone, not enumerable.
    return f"PDP-{to_wib(received_at):%y%m%d}-{secrets.token_hex(3).upper()}"


async def record_request(session: AsyncSession, ctx: PrivacyContext, data: NewRequest,
                         actor_id: int | None) -> RightsRequest:
    """Record a request and start its clock (3 x 24 clock hours for every kind but erasure)."""
    now = ctx.now()
    received_at = data.received_at or now
    if received_at > now:
        raise InvalidPrivacyRequest("received_at is in the future")
    conversation = None
    if data.conversation_id:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.public_id == data.conversation_id))
        if conversation is None:
            raise InvalidPrivacyRequest("unknown conversation_id")
    due = (deadline(Clock.RIGHTS_RESPONSE, policy=ctx.policy, calendar=ctx.calendar, received_at=received_at)
           if data.kind in TIMED_KINDS else None)
    request = RightsRequest(number=_number(received_at), kind=data.kind.value, source=data.source.value,
                            requester_name=data.requester_name.strip(), requester_contact=data.requester_contact,
                            details=data.details, received_at=received_at, due_at=due, sla_policy=ctx.policy.name,
                            conversation_id=conversation.id if conversation else None, recorded_by=actor_id,
                            assignee_id=actor_id)
    session.add(request)
    await session.flush()
    await audit.record(session, actor_id, "privacy.request_recorded", OBJECT_TYPE, request.number,
                       kind=request.kind, source=request.source)
    if conversation is not None and conversation.customer_id:
        # The desk's customer verification already ran in this chat (desk.verification).
        await _mark_verified(session, request, conversation.customer_id, "chat_verified", actor_id, now)
    return request


async def _mark_verified(session: AsyncSession, request: RightsRequest, customer_id: str, method: str,
                         actor_id: int | None, now: datetime) -> None:
    request.customer_id = customer_id
    request.verified_at = now
    request.verification_method = method
    request.status = RequestStatus.VERIFIED.value
    await audit.record(session, actor_id, "privacy.identity_verified", OBJECT_TYPE, request.number, method=method)


@dataclass(frozen=True)
class IdentityClaim:
    """What the requester gives to prove who they are: the same three facts the bot asks for."""

    full_name: str
    phone: str
    loan_id: str


async def verify_identity(db_transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
                          verify: VerifyCustomer, ctx: PrivacyContext, number: str,
                          claim: IdentityClaim, actor_id: int | None) -> RightsRequest:
    """Check ``claim`` with the desk's customer verification (throttled, audited) and record the result.

    ``db_transaction`` is ``Database.transaction``: the check itself runs
    outside any transaction of ours, like the bot's. A failed check leaves the
    request unverified (``IdentityNotVerified``); it is never released.
    """
    async with db_transaction() as session:
        request = await get_request(session, number)
        _require_open(request)
        conversation = (await session.get(Conversation, request.conversation_id)
                        if request.conversation_id else None)
        # Failed checks count against the chat's limit, or the request's own when it came by phone or letter.
        checked_as = conversation.public_id if conversation is not None else f"rights:{request.number}"
    outcome = await verify(conversation_id=checked_as, full_name=claim.full_name, phone=claim.phone,
                           loan_id=claim.loan_id)
    async with db_transaction() as session:
        request = await get_request(session, number, for_update=True)
        _require_open(request)
        if outcome.customer_id is None:
            await audit.record(session, actor_id, "privacy.identity_failed", OBJECT_TYPE, request.number)
        else:
            await _mark_verified(session, request, outcome.customer_id, "lending_core", actor_id, ctx.now())
    if outcome.customer_id is None:
        raise IdentityNotVerified("the identity could not be verified; nothing is released")
    return request


def _require_open(request: RightsRequest) -> None:
    if request.status not in OPEN_STATUSES:
        raise RequestClosed(f"request {request.number} is {request.status}")


def require_verified(request: RightsRequest) -> str:
    """The verified customer id of ``request``; refuses while the identity is unverified."""
    if request.customer_id is None or request.verified_at is None:
        raise IdentityNotVerified(f"request {request.number}: verify the requester's identity first")
    return request.customer_id


async def get_request(session: AsyncSession, number: str, *, for_update: bool = False) -> RightsRequest:
    """The request numbered ``number`` (``RequestNotFound`` otherwise)."""
    query = select(RightsRequest).where(RightsRequest.number == number)
    if for_update:
        query = query.with_for_update()
    request = await session.scalar(query)
    if request is None:
        raise RequestNotFound(f"no rights request {number}")
    return request


async def close_request(session: AsyncSession, ctx: PrivacyContext, request: RightsRequest, *,
                        status: RequestStatus, outcome: str, actor_id: int | None) -> RightsRequest:
    """Close as completed (only once verified) or refused (with the reason given to the requester)."""
    _require_open(request)
    outcome = outcome.strip()
    if not outcome:
        raise InvalidPrivacyRequest("say what was done (or why it was refused)")
    if status is RequestStatus.COMPLETED:
        require_verified(request)
    elif status is not RequestStatus.REFUSED:
        raise InvalidPrivacyRequest("a request closes as completed or refused")
    now = ctx.now()
    request.status = status.value
    request.outcome = outcome
    request.closed_at = now
    request.closed_by = actor_id
    request.answered_in_time = None if request.due_at is None else now <= request.due_at
    await audit.record(session, actor_id, f"privacy.request_{status.value}", OBJECT_TYPE, request.number,
                       in_time=request.answered_in_time)
    return request


def require_staff_access(user: StaffUser, request: RightsRequest) -> None:
    """Supervisors and admins work every request; other staff the ones recorded by or assigned to them."""
    if supervises(user) or user.id in (request.assignee_id, request.recorded_by):
        return
    raise NotAllowed("this rights request is handled by someone else")


async def list_requests(session: AsyncSession, user: StaffUser, *, open_only: bool = False,
                        limit: int = 200) -> list[RightsRequest]:
    """Requests ``user`` may see, those due first."""
    query = select(RightsRequest).order_by(RightsRequest.due_at.is_(None), RightsRequest.due_at,
                                           RightsRequest.received_at).limit(limit)
    if open_only:
        query = query.where(RightsRequest.status.in_(OPEN_STATUSES))
    if not supervises(user):
        query = query.where((RightsRequest.assignee_id == user.id) | (RightsRequest.recorded_by == user.id))
    return list(await session.scalars(query))


async def by_status_token(session: AsyncSession, token: str) -> RightsRequest:
    """The request behind a borrower's status link."""
    request = await session.scalar(select(RightsRequest).where(RightsRequest.status_token == token))
    if request is None:
        raise RequestNotFound("no such request")
    return request


def status_link(ctx: PrivacyContext, request: RightsRequest) -> str:
    """The borrower's status page of ``request``."""
    return f"{ctx.public_base_url}/privacy/requests/{request.status_token}"
