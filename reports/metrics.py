"""Supervisor dashboard figures, each one GROUP BY query in the database.

Every function takes a session and returns plain JSON-ready data; times are
bucketed by WIB day or week with ``reports.sql.local_bucket``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.handoff_request import BOT_FAILED, BOT_UNAVAILABLE
from handoff.models import Handoff, HandoffStatus, User
from reports.document import CHANNEL_LABELS
from reports.periods import local_date
from reports.sql import Bucket, count_if, local_bucket, seconds_between
from tickets.models import CATEGORY_LABELS, Status, Ticket

TERMINAL = (Status.RESOLVED.value, Status.REJECTED.value)
# Listed rather than "NOT IN TERMINAL" so PostgreSQL can use ix_tickets_status.
OPEN = tuple(s.value for s in Status if s.value not in TERMINAL)
# Open tickets by age, in calendar days since receipt: (label, lower bound in days).
AGE_BANDS = (("0–1 hari", 0), ("2–5 hari", 2), ("6–10 hari", 6), ("11–20 hari", 11), ("> 20 hari", 21))


@dataclass(frozen=True)
class Window:
    """What the dashboard looks at: the last ``days`` days up to ``now``, bucketed by ``bucket``."""

    now: datetime
    days: int = 30
    bucket: Bucket = Bucket.DAY

    @property
    def since(self) -> datetime:
        return self.now - timedelta(days=self.days)


def bucket_keys(window: Window) -> list[str]:
    """Every WIB day/week/month key from ``since`` to ``now``, so quiet days show as zero."""
    first, last = local_date(window.since), local_date(window.now)
    if window.bucket is Bucket.WEEK:
        first -= timedelta(days=first.weekday())
    elif window.bucket is Bucket.MONTH:
        first = first.replace(day=1)
    keys: list[str] = []
    day = first
    while day <= last:
        keys.append(day.isoformat())
        if window.bucket is Bucket.DAY:
            day += timedelta(days=1)
        elif window.bucket is Bucket.WEEK:
            day += timedelta(days=7)
        else:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return keys


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _is_open() -> Any:
    return Ticket.__table__.c.status.in_(OPEN)


async def volume(session: AsyncSession, window: Window, dimension: str) -> dict[str, Any]:
    """Complaints received per bucket, split by ``category`` or ``channel``."""
    t = Ticket.__table__.c
    column = {"category": t.category, "channel": t.channel}[dimension]
    bucket = local_bucket(t.received_at, window.bucket, _dialect(session)).label("bucket")
    rows = (await session.execute(
        select(bucket, column.label("key"), func.count().label("n"))
        .where(t.received_at >= window.since, t.received_at <= window.now)
        .group_by(bucket, column).order_by(bucket)
    )).all()
    buckets = bucket_keys(window)
    keys = sorted({r.key for r in rows})
    grid = {k: [0] * len(buckets) for k in keys}
    index = {b: i for i, b in enumerate(buckets)}
    for r in rows:
        if str(r.bucket) in index:
            grid[r.key][index[str(r.bucket)]] = int(r.n)
    labels = CATEGORY_LABELS if dimension == "category" else CHANNEL_LABELS
    return {"buckets": buckets,
            "series": [{"key": k, "label": labels.get(k, k), "values": grid[k]} for k in keys]}


async def sla(session: AsyncSession, window: Window) -> dict[str, Any]:
    """Resolution SLA met/breached per bucket of closing, and what is overdue right now."""
    t = Ticket.__table__.c
    bucket = local_bucket(t.closed_at, window.bucket, _dialect(session)).label("bucket")
    rows = (await session.execute(
        select(bucket,
               count_if(t.closed_at <= t.resolution_due).label("met"),
               count_if(t.closed_at > t.resolution_due).label("breached"))
        .where(t.status.in_(TERMINAL), t.closed_at >= window.since, t.closed_at <= window.now,
               t.resolution_due.is_not(None))
        .group_by(bucket).order_by(bucket)
    )).all()
    now = window.now
    current = (await session.execute(
        select(count_if(t.resolution_due < now).label("resolution_overdue"),
               count_if(and_(t.first_responded_at.is_(None), t.first_response_due < now))
               .label("first_response_overdue"),
               func.count().label("open"))
        .where(_is_open())
    )).one()
    overdue_by_category = (await session.execute(
        select(t.category, func.count().label("n"))
        .where(_is_open(), t.resolution_due < now).group_by(t.category).order_by(func.count().desc())
    )).all()
    met = sum(int(r.met) for r in rows)
    breached = sum(int(r.breached) for r in rows)
    buckets = bucket_keys(window)
    by_bucket = {str(r.bucket): r for r in rows}
    return {
        "buckets": buckets,
        "met": [int(by_bucket[b].met) if b in by_bucket else 0 for b in buckets],
        "breached": [int(by_bucket[b].breached) if b in by_bucket else 0 for b in buckets],
        "compliance_rate": (met / (met + breached)) if met + breached else None,
        "open": int(current.open),
        "resolution_overdue": int(current.resolution_overdue),
        "first_response_overdue": int(current.first_response_overdue),
        "overdue_by_category": [{"key": r.category, "label": CATEGORY_LABELS.get(r.category, r.category),
                                 "count": int(r.n)} for r in overdue_by_category],
    }


async def open_by_age(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    """Open tickets in age bands (calendar days since receipt)."""
    t = Ticket.__table__.c
    exprs = []
    bounds = [now - timedelta(days=lower) for _, lower in AGE_BANDS] + [None]
    for i in range(len(AGE_BANDS)):
        newest, oldest = bounds[i], bounds[i + 1]
        # The first band has no upper bound: it also holds tickets stamped a moment after ``now``.
        conds = [] if i == 0 else [t.received_at < newest]
        if oldest is not None:
            conds.append(t.received_at >= oldest)
        exprs.append(count_if(and_(*conds)).label(f"b{i}"))
    row = (await session.execute(select(*exprs).where(_is_open()))).one()
    return [{"label": label, "count": int(getattr(row, f"b{i}"))} for i, (label, _) in enumerate(AGE_BANDS)]


async def response_times(session: AsyncSession, window: Window) -> dict[str, Any]:
    """Average first-response hours (by receipt bucket) and resolution hours (by closing bucket)."""
    t = Ticket.__table__.c
    dialect = _dialect(session)
    rb = local_bucket(t.received_at, window.bucket, dialect).label("bucket")
    first = (await session.execute(
        select(rb, func.avg(seconds_between(t.first_responded_at, t.received_at, dialect)).label("s"))
        .where(t.received_at >= window.since, t.received_at <= window.now, t.first_responded_at.is_not(None))
        .group_by(rb).order_by(rb)
    )).all()
    cb = local_bucket(t.closed_at, window.bucket, dialect).label("bucket")
    resolution = (await session.execute(
        select(cb, func.avg(seconds_between(t.closed_at, t.received_at, dialect)).label("s"))
        .where(t.status.in_(TERMINAL), t.closed_at >= window.since, t.closed_at <= window.now)
        .group_by(cb).order_by(cb)
    )).all()
    hours = lambda rows: {str(r.bucket): round(float(r.s) / 3600.0, 2) for r in rows if r.s is not None}  # noqa: E731
    first_h, resolution_h = hours(first), hours(resolution)
    buckets = bucket_keys(window)
    return {"buckets": buckets,
            "first_response_hours": [first_h.get(b) for b in buckets],
            "resolution_hours": [resolution_h.get(b) for b in buckets]}


async def csat(session: AsyncSession, window: Window) -> dict[str, Any]:
    """Ratings (1–5) of handoffs closed in the window: distribution and average."""
    h = Handoff.__table__.c
    rows = (await session.execute(
        select(h.rating, func.count().label("n"))
        .where(h.rating.is_not(None), h.closed_at >= window.since, h.closed_at <= window.now)
        .group_by(h.rating)
    )).all()
    counts = {int(r.rating): int(r.n) for r in rows}
    total = sum(counts.values())
    average = sum(k * v for k, v in counts.items()) / total if total else None
    return {"distribution": [{"rating": k, "count": counts.get(k, 0)} for k in range(1, 6)],
            "responses": total, "average": round(average, 2) if average is not None else None}


# Handoffs the desk made because the bot did not answer properly (desk/router.py):
# no answer at all (bot_unavailable) or an empty or flooding answer (bot_failed).
BOT_FAILURE_REASONS = (BOT_FAILED, BOT_UNAVAILABLE)


async def bot_failures(session: AsyncSession, window: Window) -> dict[str, Any]:
    """Conversations handed to people because the bot failed, requested in the window: total and per reason."""
    h = Handoff.__table__.c
    rows = (await session.execute(
        select(h.reason, func.count().label("n"))
        .where(h.reason.in_(BOT_FAILURE_REASONS), h.requested_at >= window.since, h.requested_at <= window.now)
        .group_by(h.reason)
    )).all()
    by_reason = {reason: 0 for reason in BOT_FAILURE_REASONS}
    by_reason.update({r.reason: int(r.n) for r in rows})
    return {"total": sum(by_reason.values()), "by_reason": by_reason}


async def agent_load(session: AsyncSession) -> list[dict[str, Any]]:
    """Per active agent: open tickets assigned, live handoffs assigned, capacity."""
    t = Ticket.__table__.c
    h = Handoff.__table__.c
    u = User.__table__.c
    tickets = (select(t.assignee_id.label("uid"), func.count().label("n"))
               .where(_is_open(), t.assignee_id.is_not(None)).group_by(t.assignee_id).subquery())
    chats = (select(h.assigned_to.label("uid"), func.count().label("n"))
             .where(h.status == HandoffStatus.ASSIGNED.value).group_by(h.assigned_to).subquery())
    rows = (await session.execute(
        select(u.id, u.display_name, u.role, u.available, u.capacity,
               func.coalesce(tickets.c.n, 0).label("open_tickets"),
               func.coalesce(chats.c.n, 0).label("live_chats"))
        .outerjoin(tickets, tickets.c.uid == u.id).outerjoin(chats, chats.c.uid == u.id)
        .where(u.active.is_(True))
        .order_by(func.coalesce(chats.c.n, 0).desc(), func.coalesce(tickets.c.n, 0).desc(), u.display_name)
    )).all()
    return [{"id": r.id, "name": r.display_name, "role": r.role, "available": bool(r.available),
             "capacity": int(r.capacity), "open_tickets": int(r.open_tickets), "live_chats": int(r.live_chats)}
            for r in rows]


async def dashboard_data(session: AsyncSession, window: Window) -> dict[str, Any]:
    """Everything the dashboard page draws, in one JSON document."""
    return {
        "generated_at": window.now.isoformat(),
        "window": {"days": window.days, "bucket": window.bucket.value, "since": window.since.isoformat()},
        "volume_by_category": await volume(session, window, "category"),
        "volume_by_channel": await volume(session, window, "channel"),
        "sla": await sla(session, window),
        "open_by_age": await open_by_age(session, window.now),
        "response_times": await response_times(session, window),
        "csat": await csat(session, window),
        "bot_failures": await bot_failures(session, window),
        "agent_load": await agent_load(session),
    }
