"""Alerts on the privacy clocks, and the privacy part's periodic jobs.

Two clocks, one rule (``tickets.sla.clock_alert``): a rights request's
3 x 24 hours (``rights_due_soon`` / ``rights_overdue``) and a breach's
3 x 24 hours to notify the people affected (``breach_due_soon`` /
``breach_overdue``, UU 27/2022 Pasal 46). Each alert is raised once: the
occurrence is claimed by inserting a ``RightsAlert`` or ``BreachAlert`` with a
unique (record, key) (``desk.periodic.claim_once``); recipients have the
shape ``tickets.alerts.visible_to`` reads; the alert is published on the same
``alerts`` topic the console listens to. ``tick`` runs every minute with the
server and as ``aduan privacy-tick``; the retention job runs once per WIB day
with the server. Both loops are the core's ``desk.periodic``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sanic import Sanic
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import periodic
from desk.auth import StaffUser
from desk.periodic import TickReport, claim_once, for_each
from desk.services import CoreServices, core_services
from privacy.context import PrivacyContext, privacy_context
from privacy.jobs import daily
from privacy.models import KIND_LABELS, OPEN_STATUSES, Breach, BreachAlert, RightsAlert, RightsRequest
from storage.db import Database
from tickets.alerts import ALERTS_TOPIC, visible_to
from tickets.calendar import to_wib
from tickets.context import ticket_context
from tickets.sla import clock_alert

log = logging.getLogger(__name__)

# The breach register is kept by admins; supervisors are warned too (admins see every staff alert).
BREACH_RECIPIENTS: dict[str, Any] = {"user_ids": [], "roles": ["supervisor"]}
OPEN_BREACH = "open"  # not every borrower affected has been notified yet


def recipients(request: RightsRequest) -> dict[str, Any]:
    """The person handling the request and every supervisor."""
    return {"user_ids": [request.assignee_id] if request.assignee_id else [], "roles": ["supervisor"]}


def _wib(at: datetime) -> str:
    return f"{to_wib(at):%d-%m-%Y %H:%M} WIB"


def due_alert(ctx: PrivacyContext, request: RightsRequest, now: datetime) -> tuple[str, str] | None:
    """(key, message) of the alert due for ``request`` at ``now``, if any."""
    if request.due_at is None or request.status not in OPEN_STATUSES:
        return None
    state = clock_alert(request.due_at, now, policy=ctx.policy, calendar=ctx.calendar)
    label = KIND_LABELS.get(request.kind, request.kind)
    if state == "overdue":
        return "rights_overdue", f"{request.number} ({label}): the 3 x 24 hour deadline passed at {_wib(request.due_at)}"
    if state == "due_soon":
        return "rights_due_soon", f"{request.number} ({label}): answer due by {_wib(request.due_at)}"
    return None


def breach_alert(ctx: PrivacyContext, breach: Breach, now: datetime) -> tuple[str, str] | None:
    """(key, message) of the alert due for ``breach`` at ``now``, if any (only while notices are pending)."""
    if breach.status != OPEN_BREACH:
        return None
    state = clock_alert(breach.notify_due, now, policy=ctx.policy, calendar=ctx.calendar)
    if state == "overdue":
        return "breach_overdue", (f"{breach.number}: the 3 x 24 hour deadline to notify the people affected "
                                  f"passed at {_wib(breach.notify_due)}")
    if state == "due_soon":
        return "breach_due_soon", f"{breach.number}: notify the people affected by {_wib(breach.notify_due)}"
    return None


async def _raise_once(session: AsyncSession, table: Table, owner: dict[str, int], due: tuple[str, str],
                      to: dict[str, Any], due_at: datetime | None, names: dict[str, str]) -> list[dict[str, Any]]:
    """Claim the alert ``due`` (key, message) of the record ``owner`` once; the event to publish, if this won."""
    key, message = due
    alert_id = await claim_once(session, table, {**owner, "key": key, "kind": key, "recipients": to,
                                                 "message": message, "due_at": due_at}, unique=(*owner, "key"))
    if alert_id is None:
        return []
    return [{"type": key, **names, "alert_id": alert_id, "recipients": to, "message": message,
             "due_at": due_at.isoformat() if due_at else None}]


async def tick(db: Database, ctx: PrivacyContext, now: datetime | None = None) -> TickReport:
    """Raise every rights and breach alert due at ``now`` once; publish them after commit."""
    now = now or ctx.now()
    report = TickReport()
    async with db.session() as session:
        request_ids = list(await session.scalars(select(RightsRequest.id).where(
            RightsRequest.status.in_(OPEN_STATUSES), RightsRequest.due_at.is_not(None)).order_by(RightsRequest.id)))
        breach_ids = list(await session.scalars(select(Breach.id).where(Breach.status == OPEN_BREACH)
                                                .order_by(Breach.id)))

    async def one_request(session: AsyncSession, request_id: int) -> list[dict[str, Any]]:
        request = await session.get(RightsRequest, request_id)
        due = due_alert(ctx, request, now) if request is not None else None
        if request is None or due is None:
            return []
        return await _raise_once(session, RightsAlert.__table__, {"request_id": request.id}, due,
                                 recipients(request), request.due_at, {"rights_request": request.number})

    async def one_breach(session: AsyncSession, breach_id: int) -> list[dict[str, Any]]:
        breach = await session.get(Breach, breach_id)
        due = breach_alert(ctx, breach, now) if breach is not None else None
        if breach is None or due is None:
            return []
        return await _raise_once(session, BreachAlert.__table__, {"breach_id": breach.id}, due,
                                 BREACH_RECIPIENTS, breach.notify_due, {"breach": breach.number})

    published = await for_each(db, request_ids, one_request, report, "privacy scheduler (rights request)")
    published += await for_each(db, breach_ids, one_breach, report, "privacy scheduler (breach)")
    for event in published:
        report.count(event["type"])
    if ctx.events is not None:
        for event in published:
            await ctx.events.publish(ALERTS_TOPIC, event)
    return report


@dataclass(frozen=True)
class AlertView:
    """One privacy alert as the console lists it."""

    kind: str
    message: str
    created_at: datetime
    link: str

    @property
    def breach(self) -> bool:
        """An alert on the breach register's clock (as opposed to a rights request's)."""
        return self.kind.startswith("breach_")


async def alerts_for(session: AsyncSession, user: StaffUser, limit: int = 100) -> list[AlertView]:
    """The newest rights and breach alerts ``user`` may see (the tickets part's visibility rule)."""
    rights = (await session.execute(select(RightsAlert, RightsRequest.number)
                                    .join(RightsRequest, RightsRequest.id == RightsAlert.request_id)
                                    .order_by(RightsAlert.created_at.desc()).limit(limit * 5))).all()
    breaches = (await session.execute(select(BreachAlert, Breach.number)
                                      .join(Breach, Breach.id == BreachAlert.breach_id)
                                      .order_by(BreachAlert.created_at.desc()).limit(limit * 5))).all()
    views = [AlertView(a.kind, a.message, a.created_at, f"/console/privacy/{number}")
             for a, number in rights if visible_to(user, a.recipients)]
    # Supervisors are warned but may not open the register (admins only): their link is the list.
    views += [AlertView(a.kind, a.message, a.created_at,
                        f"/console/privacy/breaches/{number}" if user.role == "admin" else "/console/privacy")
              for a, number in breaches if visible_to(user, a.recipients)]
    views.sort(key=lambda v: v.created_at, reverse=True)
    return views[:limit]


async def _alerts_round(app: Sanic) -> None:
    report = await tick(core_services(app).db, privacy_context(app))
    if report.total or report.errors:
        log.info("privacy tick raised %s (errors %s)", report.raised, report.errors)


class _DailyRetention:
    """The retention job, at most once per WIB day per instance (a failed run is tried on the next round).

    Several desk instances may run it the same day: the ledger's unique
    (record_type, record_id) lets one anonymise each record, the other's
    transaction fails and is logged.
    """

    def __init__(self) -> None:
        self.done_on: date | None = None

    async def __call__(self, app: Sanic) -> None:
        ctx = privacy_context(app)
        today = to_wib(ctx.now()).date()
        if today != self.done_on:
            await daily(core_services(app).db, ctx)
            self.done_on = today


def install(app: Sanic, services: CoreServices) -> None:
    """Start the privacy clocks and the daily retention job with the server, on the tickets scheduler's
    interval (off when TICKETS_TICK_SECONDS=0)."""
    every = lambda app: ticket_context(app).tick_seconds  # noqa: E731 - read once the server started
    periodic.install(app, "privacy-alerts", every, _alerts_round)
    periodic.install(app, "privacy-retention", every, _DailyRetention())
