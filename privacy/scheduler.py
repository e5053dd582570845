"""Alerts on the rights clock: "due soon" and "overdue", each raised once.

The mechanism is the tickets part's (``tickets.scheduler`` / ``tickets.alerts``):
an occurrence is claimed by inserting a ``RightsAlert`` with a unique
(request, key); recipients have the shape ``tickets.alerts.visible_to``
reads; the alert is published on the same ``alerts`` topic the console
listens to. ``tick`` runs every minute with the server and as
``aduan privacy-tick``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import StaffUser
from desk.services import CoreServices, core_services
from privacy.context import PrivacyContext, privacy_context
from tickets.context import ticket_context
from privacy.models import KIND_LABELS, OPEN_STATUSES, RightsAlert, RightsRequest
from privacy.jobs import daily
from storage.db import Database
from tickets.alerts import ALERTS_TOPIC, visible_to
from tickets.calendar import to_wib
from tickets.scheduler import TickReport
from tickets.sla import alert_from

log = logging.getLogger(__name__)


def recipients(request: RightsRequest) -> dict[str, Any]:
    """The person handling the request and every supervisor."""
    return {"user_ids": [request.assignee_id] if request.assignee_id else [], "roles": ["supervisor"]}


def due_alert(ctx: PrivacyContext, request: RightsRequest, now: datetime) -> tuple[str, str] | None:
    """(key, message) of the alert due for ``request`` at ``now``, if any."""
    if request.due_at is None or request.status not in OPEN_STATUSES:
        return None
    label = KIND_LABELS.get(request.kind, request.kind)
    due = f"{to_wib(request.due_at):%d-%m-%Y %H:%M} WIB"
    if now >= request.due_at:
        return "rights_overdue", f"{request.number} ({label}): the 3 x 24 hour deadline passed at {due}"
    if now >= alert_from(request.due_at, policy=ctx.policy, calendar=ctx.calendar):
        return "rights_due_soon", f"{request.number} ({label}): answer due by {due}"
    return None


async def _claim(session: AsyncSession, request: RightsRequest, key: str, message: str) -> int | None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = RightsAlert.__table__
    stmt = (insert(table).values(request_id=request.id, key=key, kind=key, recipients=recipients(request),
                                 message=message, due_at=request.due_at)
            .on_conflict_do_nothing(index_elements=[table.c.request_id, table.c.key]).returning(table.c.id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def tick(db: Database, ctx: PrivacyContext, now: datetime | None = None) -> TickReport:
    """Raise every alert due at ``now`` once."""
    now = now or ctx.now()
    report = TickReport()
    published: list[dict[str, Any]] = []
    async with db.session() as session:
        ids = list(await session.scalars(select(RightsRequest.id).where(
            RightsRequest.status.in_(OPEN_STATUSES), RightsRequest.due_at.is_not(None))))
    for request_id in ids:
        try:
            async with db.transaction() as session:
                request = await session.get(RightsRequest, request_id)
                due = due_alert(ctx, request, now) if request is not None else None
                if request is None or due is None:
                    continue
                key, message = due
                alert_id = await _claim(session, request, key, message)
                if alert_id is None:
                    continue
                report.raised[key] = report.raised.get(key, 0) + 1
                published.append({"type": key, "rights_request": request.number, "alert_id": alert_id,
                                  "recipients": recipients(request), "message": message,
                                  "due_at": request.due_at.isoformat() if request.due_at else None})
        except Exception:  # noqa: BLE001 - one broken request must not stop the others
            report.errors += 1
            log.exception("privacy scheduler failed on rights request id %s", request_id)
    if ctx.events is not None:
        for event in published:
            await ctx.events.publish(ALERTS_TOPIC, event)
    return report


async def alerts_for(session: AsyncSession, user: StaffUser, limit: int = 100) -> list[RightsAlert]:
    """The newest rights alerts ``user`` may see (the tickets part's visibility rule)."""
    rows = await session.scalars(select(RightsAlert).order_by(RightsAlert.created_at.desc()).limit(limit * 5))
    return [a for a in rows if visible_to(user, a.recipients)][:limit]


async def run_forever(app: Sanic) -> None:
    """The background loop, on the tickets scheduler's interval; the retention job once per WIB day.

    Several desk instances may run the retention job the same day: the ledger's
    unique (record_type, record_id) lets one anonymise each record, the other's
    transaction fails and is logged.
    """
    services = core_services(app)
    ctx = privacy_context(app)
    from_tickets = ticket_context(app)
    retention_day = None
    while True:
        try:
            report = await tick(services.db, ctx)
            if report.total or report.errors:
                log.info("privacy tick raised %s (errors %s)", report.raised, report.errors)
        except Exception:  # noqa: BLE001 - keep ticking through database outages
            log.exception("privacy tick failed")
        today = to_wib(ctx.now()).date()
        if today != retention_day:
            try:
                await daily(services.db, ctx)
                retention_day = today
            except Exception:  # noqa: BLE001 - tried again on the next tick
                log.exception("retention run failed")
        await asyncio.sleep(from_tickets.tick_seconds)


def install(app: Sanic, services: CoreServices) -> None:
    """Start the rights clock and the daily retention job with the server (off when TICKETS_TICK_SECONDS=0)."""

    @app.after_server_start
    async def _start(app: Sanic) -> None:
        if ticket_context(app).tick_seconds > 0:
            app.ctx.privacy_scheduler = asyncio.get_running_loop().create_task(run_forever(app))

    @app.before_server_stop
    async def _stop(app: Sanic) -> None:
        task = getattr(app.ctx, "privacy_scheduler", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
