"""Raise what is due: SLA alerts, borrower status updates, department reminders, LAPS SJK notices.

``tick`` is idempotent: every occurrence is claimed by inserting a
``TicketAlert`` row with a unique (ticket, key) in the same transaction that
acts on it, so running twice — or on two desk instances at once — raises
nothing twice. It runs every minute as a Sanic background task and on demand
as ``aduan tickets-tick``; the loop, the claim and the per-ticket transaction
are the core's periodic-job helper (``desk.periodic``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sanic import Sanic
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import periodic
from desk.periodic import TickReport, claim_once, for_each
from desk.services import CoreServices, core_services
from storage.db import Database
from tickets import wording
from tickets.alerts import ALERTS_TOPIC
from tickets.context import TicketContext, ticket_context
from tickets.models import EscalationLevel, Status, Ticket, TicketAlert, TicketEvent
from tickets.service import SYSTEM, message_borrower, record_event
from tickets.sla import Clock, clock_alert, deadline
from tickets.workflow import OPEN

log = logging.getLogger(__name__)
INVESTIGATING = frozenset({Status.IN_PROGRESS.value, Status.ESCALATED.value})


@dataclass
class Due:
    """One thing the scheduler must raise for a ticket."""

    key: str
    kind: str
    due_at: datetime | None
    recipients: dict[str, Any]
    message: str
    borrower_text: str | None = None


def _staff_recipients(ticket: Ticket) -> dict[str, Any]:
    return {"user_ids": [ticket.assignee_id] if ticket.assignee_id else [], "roles": ["supervisor"]}


async def due_items(session: AsyncSession, ctx: TicketContext, ticket: Ticket, now: datetime) -> list[Due]:
    """Everything due for ``ticket`` at ``now`` (claimed or not; tick() dedupes by key)."""
    policy, cal = ctx.policy_for(ticket), ctx.calendar
    items: list[Due] = []

    def sla_alert(name: str, due: datetime | None, suffix: str = "") -> None:
        state = clock_alert(due, now, policy=policy, calendar=cal)
        if due is None or state is None:
            return
        if state == "overdue":
            items.append(Due(f"{name}_overdue{suffix}", f"{name}_overdue", due, _staff_recipients(ticket),
                             f"{ticket.number}: {name.replace('_', ' ')} deadline passed ({due.isoformat()})"))
        else:
            items.append(Due(f"{name}_due_soon{suffix}", f"{name}_due_soon", due, _staff_recipients(ticket),
                             f"{ticket.number}: {name.replace('_', ' ')} due {due.isoformat()}"))

    if ticket.first_responded_at is None:
        sla_alert("first_response", ticket.first_response_due)
    sla_alert("resolution", ticket.resolution_due, f":{ticket.extension_count}")

    if ticket.status in INVESTIGATING:
        since = ticket.last_status_update_at or ticket.clock_started_at
        due = deadline(Clock.STATUS_UPDATE, policy=policy, calendar=cal, received_at=ticket.received_at,
                       since=since)
        if now >= due:
            items.append(Due(f"status_update:{due.date().isoformat()}", "status_update", due,
                             {"user_ids": [], "roles": []}, f"{ticket.number}: status update sent to borrower",
                             wording.status_update(ticket.number, ticket.status, ticket.resolution_due, now=now,
                                                   expected_at=ticket.expected_resolution_at)))

    if ticket.status == Status.ESCALATED.value and ticket.escalation_level == EscalationLevel.DEPARTMENT.value:
        escalated_at = await session.scalar(
            select(func.max(TicketEvent.created_at)).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.kind == "escalated"))
        reminded_at = await session.scalar(
            select(func.max(TicketAlert.created_at)).where(TicketAlert.ticket_id == ticket.id,
                                                          TicketAlert.kind == "department_reminder"))
        since = max(t for t in (escalated_at, reminded_at, ticket.received_at) if t is not None)
        due = deadline(Clock.DEPARTMENT_REMINDER, policy=policy, calendar=cal, received_at=ticket.received_at,
                       since=since)
        if now >= due:
            items.append(Due(f"department_reminder:{ticket.department}:{due.date().isoformat()}",
                             "department_reminder", due,
                             {"user_ids": [], "roles": [f"department:{ticket.department}", "specialist"]},
                             f"{ticket.number}: waiting for {ticket.department}'s answer"))

    final = ticket.extension_count >= policy.extension.max
    if (policy.after_final_deadline == "laps_sjk" and final and ticket.resolution_due
            and now >= ticket.resolution_due):
        items.append(Due("laps_notice", "laps_notice", ticket.resolution_due, _staff_recipients(ticket),
                         f"{ticket.number}: final deadline passed; borrower pointed to LAPS SJK",
                         wording.laps_notice(ticket.number)))
    return items


async def _claim(session: AsyncSession, ticket: Ticket, item: Due) -> TicketAlert | None:
    """Insert the alert row unless it exists; the winner of a race gets the row, others None."""
    alert_id = await claim_once(session, TicketAlert.__table__,
                                {"ticket_id": ticket.id, "key": item.key, "kind": item.kind,
                                 "recipients": item.recipients, "message": item.message, "due_at": item.due_at},
                                unique=("ticket_id", "key"))
    return None if alert_id is None else await session.get(TicketAlert, alert_id)


async def tick(db: Database, ctx: TicketContext, now: datetime | None = None) -> TickReport:
    """Raise everything due at ``now`` once; returns what was raised."""
    now = now or ctx.now()
    report = TickReport()
    async with db.session() as session:
        ids = list(await session.scalars(select(Ticket.id).where(Ticket.status.in_(OPEN)).order_by(Ticket.id)))

    async def one(session: AsyncSession, ticket_id: int) -> list[dict[str, Any]]:
        published: list[dict[str, Any]] = []
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None or ticket.status not in OPEN:
            return published
        for item in await due_items(session, ctx, ticket, now):
            alert = await _claim(session, ticket, item)
            if alert is None:
                continue
            if item.borrower_text:
                await _tell_borrower(session, ctx, ticket, item)
            else:
                await record_event(session, ticket, "alert", SYSTEM, alert=item.kind, key=item.key)
            published.append({"type": item.kind, "ticket_number": ticket.number, "alert_id": alert.id,
                              "recipients": item.recipients, "message": item.message,
                              "due_at": item.due_at.isoformat() if item.due_at else None})
        return published

    published = await for_each(db, ids, one, report, "tickets scheduler")
    for event in published:
        report.count(event["type"])
    if ctx.events is not None:
        for event in published:
            await ctx.events.publish(ALERTS_TOPIC, event)
    return report


async def _tell_borrower(session: AsyncSession, ctx: TicketContext, ticket: Ticket, item: Due) -> None:
    try:
        async with session.begin_nested():
            await message_borrower(session, ticket, item.borrower_text or "", SYSTEM, kind=f"{item.kind}_sent",
                                   ctx=ctx)
    except Exception as exc:  # noqa: BLE001 - no conversation: staff must reach the borrower another way
        await record_event(session, ticket, "borrower_unreachable", SYSTEM, alert=item.kind, error=str(exc))
    if item.kind == "status_update":
        ticket.last_status_update_at = ctx.now()


async def _round(app: Sanic) -> None:
    report = await tick(core_services(app).db, ticket_context(app))
    if report.total or report.errors:
        log.info("tickets tick raised %s (errors %s)", report.raised, report.errors)


def install(app: Sanic, services: CoreServices) -> None:
    """Start the scheduler with the server: one tick per ``TICKETS_TICK_SECONDS`` (0 turns it off)."""
    periodic.install(app, "tickets", lambda app: ticket_context(app).tick_seconds, _round)
