"""The "relationship ended" event: the lender's core tells the desk that a customer's relationship ended.

UU 8/2010 Pasal 21(2) keeps records of a customer's identity at least 5 years
after the business relationship ends. The desk cannot see that moment (the last
loan paid off, the account closed): the lender's core says so, through the
authenticated endpoint (``privacy.api``, ``LENDING_CORE_TOKEN``) or the
``aduan relationship-ended`` command, and the retention schedule counts the
customer's identity records (``verification_records``, ``identity_documents``)
from it. A relationship that starts again (a new loan) is reported as resumed:
the row goes and the records are kept again until the next end.

Every change is audited (``privacy.relationship_ended`` /
``privacy.relationship_resumed``, object ``customer``), with the previous date
when a date is corrected.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import audit
from privacy.errors import InvalidPrivacyRequest
from privacy.models import RelationshipEnd
from tickets.calendar import WIB

OBJECT_TYPE = "customer"
# The core's clock and ours may differ a little; a date further ahead is a mistake, not an end.
FUTURE_SKEW = timedelta(minutes=5)


class RelationshipEvent(BaseModel):
    """Body of ``POST /api/v1/lending-core/relationships/ended`` (``ended_at`` absent: now)."""

    customer_id: str = Field(min_length=1, max_length=64)
    # An ISO-8601 date (the start of that day in WIB) or a date-time with its offset.
    ended_at: str | None = Field(default=None, max_length=40)


class RelationshipResumed(BaseModel):
    """Body of ``POST /api/v1/lending-core/relationships/resumed``."""

    customer_id: str = Field(min_length=1, max_length=64)


def parse_when(value: str | None, now: datetime) -> datetime:
    """When the relationship ended: ``now`` for None, a date as 00:00 WIB, a date-time with an offset as is.

    Refuses a date-time without an offset (ambiguous) and one in the future.
    """
    if value is None:
        return now
    try:
        if len(value) == 10:
            at = datetime.combine(date.fromisoformat(value), time(0), tzinfo=WIB)
        else:
            at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidPrivacyRequest(f"ended_at {value!r} is not an ISO-8601 date or date-time") from None
    if at.tzinfo is None:
        raise InvalidPrivacyRequest("ended_at needs its offset (e.g. +07:00), or give a date")
    if at > now + FUTURE_SKEW:
        raise InvalidPrivacyRequest("ended_at is in the future: report a relationship once it has ended")
    return at


async def record_ended(session: AsyncSession, customer_id: str, ended_at: datetime, *, source: str,
                       actor_id: int | None, now: datetime) -> dict[str, Any]:
    """Record (or correct) when ``customer_id``'s relationship ended; audited. Returns the answer body."""
    row = await session.scalar(select(RelationshipEnd).where(RelationshipEnd.customer_id == customer_id)
                               .with_for_update())
    previous = row.ended_at if row is not None else None
    if row is None:
        row = RelationshipEnd(customer_id=customer_id, ended_at=ended_at, source=source, recorded_at=now)
        session.add(row)
    else:
        row.ended_at, row.source, row.recorded_at = ended_at, source, now
    await session.flush()
    await audit.record(session, actor_id, "privacy.relationship_ended", OBJECT_TYPE, customer_id,
                       ended_at=ended_at.isoformat(), previous=previous.isoformat() if previous else None,
                       source=source)
    return {"customer_id": customer_id, "ended_at": ended_at.isoformat(),
            "previous_ended_at": previous.isoformat() if previous else None}


async def record_resumed(session: AsyncSession, customer_id: str, *, source: str, actor_id: int | None) -> bool:
    """Forget a recorded end (the customer is a customer again); audited. False when none was recorded."""
    row = await session.scalar(select(RelationshipEnd).where(RelationshipEnd.customer_id == customer_id)
                               .with_for_update())
    if row is None:
        return False
    previous = row.ended_at
    await session.delete(row)
    await session.flush()
    await audit.record(session, actor_id, "privacy.relationship_resumed", OBJECT_TYPE, customer_id,
                       previous=previous.isoformat(), source=source)
    return True


def ended_before(cutoff: datetime) -> Select[tuple[str]]:
    """Customers whose relationship ended at or before ``cutoff`` (a sub-query for the retention job)."""
    return select(RelationshipEnd.customer_id).where(RelationshipEnd.ended_at <= cutoff)
