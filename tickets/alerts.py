"""Who sees which SLA alert, and the alerts a member of staff sees, newest first.

The scheduler (``tickets.scheduler``) writes each alert once as a
``TicketAlert`` with its recipients (user ids and roles) and publishes it on
the event bus topic ``alerts``. ``visible_to`` is the one rule that decides
who sees it: the staff API (``GET /api/v1/staff/alerts``), the console's
alerts page and queue panel, and the console websocket's live notification
all ask it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import StaffUser
from handoff.models import User
from tickets.models import Ticket, TicketAlert

ALERTS_TOPIC = "alerts"


def visible_to(user: StaffUser, recipients: Mapping[str, Any] | None) -> bool:
    """May ``user`` see an alert addressed to ``recipients``?

    The named users (the ticket's assignee) and the named roles (supervisors;
    specialists for department reminders) see it; admins see every alert
    addressed to staff. Borrower-only items (status updates) have no staff
    recipients and are never shown as alerts.
    """
    recipients = recipients or {}
    user_ids, roles = recipients.get("user_ids") or [], recipients.get("roles") or []
    if not user_ids and not roles:
        return False
    return user.role == "admin" or user.id in user_ids or user.role in roles


@dataclass(frozen=True)
class AlertRow:
    """One alert as people read it: its ticket, deadline and owner."""

    id: int
    ticket_id: int
    key: str
    kind: str
    message: str
    ticket_number: str
    ticket_status: str
    due_at: datetime | None
    created_at: datetime
    owner: str | None


async def for_user(session: AsyncSession, user: StaffUser, *, limit: int = 100, scan: int = 1000) -> list[AlertRow]:
    """The newest alerts ``user`` may see (at most ``limit``, from the newest ``scan`` raised)."""
    rows = (await session.execute(
        select(TicketAlert, Ticket.number, Ticket.status, User.display_name)
        .join(Ticket, Ticket.id == TicketAlert.ticket_id)
        .outerjoin(User, User.id == Ticket.assignee_id)
        .order_by(TicketAlert.created_at.desc(), TicketAlert.id.desc()).limit(scan))).all()
    out: list[AlertRow] = []
    for alert, number, status, owner in rows:
        if visible_to(user, alert.recipients):
            out.append(AlertRow(alert.id, alert.ticket_id, alert.key, alert.kind, alert.message, number, status, alert.due_at,
                                alert.created_at, owner))
            if len(out) >= limit:
                break
    return out
