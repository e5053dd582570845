"""The CS queue: enqueueing handoffs, their order, pick-up and round-robin assignment.

Order: priority (urgent first), then the nearest SLA deadline of the linked
ticket (first response until answered, then resolution), then waiting time.

No double assignment: every transition out of ``waiting`` is one conditional
``UPDATE handoffs … WHERE id = :id AND status = 'waiting'``; the database
lets exactly one of two racing transactions change the row.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import StaffUser
from desk.messages import OutboundMessage
from desk.outbox import enqueue as enqueue_outbound
from handoff import access, hours
from handoff import case as one_case
from handoff.audit import record, record_many
from handoff.models import Handoff, HandoffStatus, Role, User
from storage.base import utcnow
from storage.models import Author, Conversation
from handoff.summary import SummaryInput
from tickets.models import Priority, Ticket
from tickets.service import missing_fields

log = logging.getLogger(__name__)

QUEUE_TOPIC = "queue"
PRIORITY_RANK = {Priority.URGENT.value: 0, Priority.HIGH.value: 1, Priority.MEDIUM.value: 2, Priority.LOW.value: 3}
OPEN_STATUSES = (HandoffStatus.WAITING.value, HandoffStatus.ASSIGNED.value)
# Fraud and collector threats are never below high (domain.md).
_FLOOR_HIGH_CATEGORIES = {"fraud", "unethical_collection"}
_FLOOR_HIGH_REASONS = {"fraud", "collection_threat"}

priority_rank = case(PRIORITY_RANK, value=Handoff.priority, else_=4)
sla_due = case((Ticket.first_responded_at.is_(None), Ticket.first_response_due), else_=Ticket.resolution_due)


def agent_topic(user_id: int) -> str:
    """Events for one member of staff (assignments, transfers)."""
    return f"agent:{user_id}"


def _field(request: Any, name: str) -> Any:
    if isinstance(request, Mapping):
        return request.get(name)
    return getattr(request, name, None)


def effective_priority(priority: str | None, category: str | None, reason: str | None) -> str:
    """The requested priority, raised to ``high`` where the rules demand it."""
    value = priority if priority in PRIORITY_RANK else Priority.MEDIUM.value
    if (category in _FLOOR_HIGH_CATEGORIES or reason in _FLOOR_HIGH_REASONS) and PRIORITY_RANK[value] > 1:
        value = Priority.HIGH.value
    return value


async def open_handoff(session: AsyncSession, conversation_id: int) -> Handoff | None:
    """The conversation's waiting or assigned handoff, if any."""
    return await session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
        .order_by(Handoff.id.desc()).limit(1))


async def latest_handoff(session: AsyncSession, conversation_id: int) -> Handoff | None:
    """The conversation's newest handoff, open or closed."""
    return await session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc()).limit(1))


async def enqueue_handoff(session: AsyncSession, conversation: Conversation, request: Any) -> Handoff:
    """Put ``conversation`` in the human queue, in the caller's transaction (no commit).

    ``request`` is a ``desk.handoff_request.HandoffRequest`` (or anything with
    reason, priority, category, summary, ticket_number). A conversation that is
    already queued or with an agent keeps its handoff: the new request only
    raises its priority and fills what was missing. Outside office hours the
    borrower is told when a person will answer, unless the request says the
    bot's reply already told them (``hours_told``).
    """
    reason = str(_field(request, "reason") or "complex_case")
    category = _field(request, "category") or None
    priority = effective_priority(_field(request, "priority"), category, reason)
    summary = dict(_field(request, "summary") or {})
    ticket_number = _field(request, "ticket_number") or summary.get("ticket_number")
    ticket = None
    if ticket_number:
        ticket = await one_case.ticket_by_number(session, ticket_number)
        if ticket is None:
            log.warning("handoff names unknown ticket %s; kept in the summary only", ticket_number)
        else:
            ticket_number = ticket.number
        summary.setdefault("ticket_number", ticket_number)
    if ticket is None:
        # One case: a handoff that names no ticket still belongs to the conversation's open complaint.
        ticket = await one_case.open_ticket_of_conversation(session, conversation.id)
    ticket_id = ticket.id if ticket is not None else None
    if ticket is not None:
        category = category or ticket.category

    existing = await open_handoff(session, conversation.id)
    if existing is not None:
        if PRIORITY_RANK[priority] < PRIORITY_RANK.get(existing.priority, 4):
            existing.priority = priority
        existing.category = existing.category or category
        existing.ticket_id = existing.ticket_id or ticket_id
        # Merged with the original, not the stored masked copy, so nothing sealed before is lost.
        existing.summary = {**(existing.opened("summary") or {}), **summary}
        await session.flush()
        return existing

    handoff = Handoff(conversation_id=conversation.id, ticket_id=ticket_id, reason=reason, priority=priority,
                      category=category, summary=summary, status=HandoffStatus.WAITING.value,
                      queue_role=Role.AGENT.value, requested_at=utcnow())
    session.add(handoff)
    await session.flush()
    notice = hours.out_of_hours_notice(conversation.channel, utcnow())
    if notice and _field(request, "hours_told") is not True:
        await enqueue_outbound(session, conversation, OutboundMessage(text=notice), author=Author.SYSTEM.value)
        handoff.summary = {**summary, "out_of_hours_notice": True}
    return handoff


@dataclass(frozen=True)
class QueueEntry:
    """One waiting conversation as the queue column shows it."""

    handoff_id: int
    public_id: str
    channel: str
    sender_name: str | None
    category: str | None
    priority: str
    reason: str
    queue_role: str
    requested_at: datetime
    sla_due: datetime | None
    ticket_number: str | None
    summary: dict[str, Any] | None = None
    customer_id: str | None = None
    missing_fields: tuple[str, ...] = ()

    def summary_input(self) -> SummaryInput:
        """What ``handoff.summary.summary_lines`` renders for this entry."""
        return SummaryInput(self.reason, self.category, self.ticket_number, self.missing_fields,
                            self.customer_id, self.summary)

    def waiting_seconds(self, now: datetime) -> int:
        return max(0, int((now - self.requested_at).total_seconds()))

    def sla_seconds(self, now: datetime) -> int | None:
        return None if self.sla_due is None else int((self.sla_due - now).total_seconds())


def _queue_query():  # type: ignore[no-untyped-def]
    return (select(Handoff, Conversation.public_id, Conversation.channel, Conversation.sender_name,
                   sla_due.label("sla_due"), Ticket.number, Conversation.customer_id, Ticket)
            .join(Conversation, Conversation.id == Handoff.conversation_id)
            .outerjoin(Ticket, Ticket.id == Handoff.ticket_id)
            .where(Handoff.status == HandoffStatus.WAITING.value)
            .order_by(priority_rank, sla_due.is_(None), sla_due, Handoff.requested_at, Handoff.id))


def _entry(row: Any) -> QueueEntry:
    h, public_id, channel, sender_name, due, number, customer_id, ticket = row
    return QueueEntry(h.id, public_id, channel, sender_name, h.category, h.priority, h.reason, h.queue_role,
                      h.requested_at, due, number, h.opened("summary"), customer_id,
                      tuple(missing_fields(ticket)) if ticket is not None else ())


async def waiting(session: AsyncSession, *, roles: frozenset[str] | None = None, limit: int = 500) -> list[QueueEntry]:
    """The waiting conversations in queue order, only those ``roles`` may take when given."""
    query = _queue_query().limit(limit)
    if roles is not None:
        query = query.where(Handoff.queue_role.in_(roles))
    return [_entry(r) for r in (await session.execute(query)).all()]


async def queue_entry(session: AsyncSession, handoff_id: int) -> QueueEntry | None:
    row = (await session.execute(_queue_query().where(Handoff.id == handoff_id))).first()
    return _entry(row) if row else None


class PickUpRefused(Exception):
    """The conversation is no longer waiting, or this user may not take it."""


async def pick_up(session: AsyncSession, user: StaffUser, handoff_id: int) -> Handoff:
    """Assign a waiting handoff to ``user``; exactly one of several racing callers wins."""
    roles = access.queue_roles(user)
    now = utcnow()
    won = await session.scalar(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.WAITING.value,
               Handoff.queue_role.in_(roles))
        .values(status=HandoffStatus.ASSIGNED.value, assigned_to=user.id, assigned_at=now)
        .returning(Handoff.id))
    if won is None:
        raise PickUpRefused("this conversation was already taken or is not in your queue")
    await session.execute(update(User).where(User.id == user.id).values(last_assigned_at=now))
    handoff = await session.get(Handoff, handoff_id, populate_existing=True)
    assert handoff is not None
    await one_case.follow_holder(session, handoff, user.id, user.id)
    await record(session, user.id, "handoff.picked_up", "handoff", handoff.id)
    return handoff


async def agent_load(session: AsyncSession, user_id: int) -> int:
    """How many conversations ``user_id`` holds now."""
    return int(await session.scalar(
        select(func.count()).select_from(Handoff)
        .where(Handoff.assigned_to == user_id, Handoff.status == HandoffStatus.ASSIGNED.value)) or 0)


@dataclass(frozen=True)
class Assignment:
    """One conversation the round-robin gave to an agent."""

    handoff_id: int
    user_id: int
    public_id: str


def _round_robin(order: list[int], free: dict[int, int], roles: dict[int, frozenset[str]],
                 waiting: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """Plan (handoff id, user id) pairs: each waiting conversation, in queue order, goes to the
    agent assigned longest ago who may take it and has a free slot; that agent then goes last."""
    rotation = [user_id for user_id in order if free.get(user_id, 0) > 0]
    plan: list[tuple[int, int]] = []
    for handoff_id, queue_role in waiting:
        if not rotation:
            break
        for i, user_id in enumerate(rotation):
            if queue_role in roles[user_id]:
                plan.append((handoff_id, user_id))
                free[user_id] -= 1
                del rotation[i]
                if free[user_id] > 0:
                    rotation.append(user_id)
                break
    return plan


async def _assign_batch(session: AsyncSession, limit: int) -> list[Assignment]:
    """One transaction of round-robin: lock the available agents, count their load, hand out slots."""
    now = utcnow()
    agents = (await session.execute(
        select(User.id, User.username, User.display_name, User.role, User.capacity)
        .where(User.available.is_(True), User.active.is_(True),
               User.role.in_([Role.AGENT.value, Role.SPECIALIST.value]))
        .order_by(User.last_assigned_at.is_not(None), User.last_assigned_at, User.id))).all()
    if not agents:
        return []
    # Writing the agents' rows first serialises concurrent assigners (row locks on PostgreSQL,
    # the write lock on SQLite) before the load is counted, so capacity holds.
    locked = set(await session.scalars(
        update(User).where(User.id.in_([a.id for a in agents]), User.available.is_(True), User.active.is_(True))
        .values(last_assigned_at=User.last_assigned_at).returning(User.id),
        execution_options={"synchronize_session": False}))
    loads = dict((await session.execute(
        select(Handoff.assigned_to, func.count()).where(Handoff.assigned_to.in_(locked),
                                                        Handoff.status == HandoffStatus.ASSIGNED.value)
        .group_by(Handoff.assigned_to))).all())
    free = {a.id: a.capacity - int(loads.get(a.id, 0)) for a in agents if a.id in locked}
    roles = {a.id: access.queue_roles(StaffUser(a.id, a.username, a.display_name, a.role)) for a in agents}
    slots = sum(n for n in free.values() if n > 0)
    takeable = frozenset().union(*(roles[u] for u, n in free.items() if n > 0))
    if not slots or not takeable:
        return []
    rows = (await session.execute(_queue_query().where(Handoff.queue_role.in_(takeable))
                                  .limit(min(slots, limit)))).all()
    public_ids = {row[0].id: row[1] for row in rows}
    plan = _round_robin([a.id for a in agents], free, roles, [(row[0].id, row[0].queue_role) for row in rows])
    if not plan:
        return []
    # Only rows still waiting move: a pick-up that won meanwhile keeps its conversation.
    won = set(await session.scalars(
        update(Handoff).where(Handoff.id.in_([h for h, _ in plan]), Handoff.status == HandoffStatus.WAITING.value)
        .values(status=HandoffStatus.ASSIGNED.value, assigned_at=now,
                assigned_to=case({h: u for h, u in plan}, value=Handoff.id))
        .returning(Handoff.id), execution_options={"synchronize_session": False}))
    done = [Assignment(h, u, public_ids[h]) for h, u in plan if h in won]
    if not done:
        return []
    # The round-robin cursor: the agent who got the batch's last conversation is now the most recent.
    last_turn = {a.user_id: i for i, a in enumerate(done)}
    stamp = User.__table__.c.last_assigned_at.type
    await session.execute(
        update(User).where(User.id.in_(list(last_turn)))
        .values(last_assigned_at=case({u: literal(now + timedelta(microseconds=i), stamp)
                                       for u, i in last_turn.items()}, value=User.id)),
        execution_options={"synchronize_session": False})
    await record_many(session, [(None, "handoff.auto_assigned", "handoff", a.handoff_id, {"to": a.user_id})
                                for a in done])
    return done


async def assign_waiting(db: Any, *, limit: int = 1000) -> list[Assignment]:
    """Round-robin: hand waiting conversations to available agents under capacity.

    The agent assigned longest ago goes first; each batch (as many
    conversations as there are free slots) is one short transaction.
    """
    done: list[Assignment] = []
    while len(done) < limit:
        async with db.transaction() as session:
            batch = await _assign_batch(session, limit - len(done))
        if not batch:
            return done
        done.extend(batch)
    return done


async def auto_assign(db: Any, *, limit: int = 1000) -> list[tuple[int, int]]:
    """``assign_waiting`` as (handoff_id, user_id) pairs, in the order they were given."""
    return [(a.handoff_id, a.user_id) for a in await assign_waiting(db, limit=limit)]


async def set_available(session: AsyncSession, user: StaffUser, available: bool) -> None:
    """An agent marks themselves available (takes auto-assigned chats) or away."""
    await session.execute(update(User).where(User.id == user.id).values(available=available))
    await record(session, user.id, "agent.available" if available else "agent.away", "user", user.id)


@dataclass(frozen=True)
class AgentLoad:
    user_id: int
    username: str
    display_name: str
    role: str
    available: bool
    load: int
    capacity: int


async def loads(session: AsyncSession) -> list[AgentLoad]:
    """Every active front-line user with their current load, for supervisors."""
    load = (select(func.count()).select_from(Handoff)
            .where(Handoff.assigned_to == User.id, Handoff.status == HandoffStatus.ASSIGNED.value)
            .correlate(User).scalar_subquery())
    rows = (await session.execute(
        select(User, load.label("load")).where(User.active.is_(True), User.role != Role.ADMIN.value)
        .order_by(User.role, User.username))).all()
    return [AgentLoad(u.id, u.username, u.display_name, u.role, u.available, int(n), u.capacity) for u, n in rows]


def handoff_event(kind: str, handoff: Handoff, public_id: str, **extra: Any) -> dict[str, Any]:
    """The JSON shape of the queue events this part publishes."""
    return {"type": kind, "conversation_id": public_id, "handoff_id": handoff.id, "status": handoff.status,
            "assigned_to": handoff.assigned_to, **extra}
