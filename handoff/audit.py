"""The audit log: who opened or changed what, and when."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import AuditEntry, User
from storage.base import utcnow

TRANSCRIPT_OPENED = "transcript.opened"


async def record(session: AsyncSession, actor_id: int | None, action: str, object_type: str,
                 object_id: str | int, **details: Any) -> AuditEntry:
    """Append one entry in the caller's transaction."""
    entry = AuditEntry(actor_id=actor_id, action=action, object_type=object_type,
                       object_id=str(object_id), details=details)
    session.add(entry)
    await session.flush()
    return entry


async def record_many(session: AsyncSession,
                      entries: list[tuple[int | None, str, str, str | int, dict[str, Any]]]) -> None:
    """Append several entries (actor, action, object type, object id, details) in one statement."""
    if entries:
        now = utcnow()
        await session.execute(insert(AuditEntry), [
            {"actor_id": actor, "action": action, "object_type": kind, "object_id": str(object_id),
             "details": details, "at": now} for actor, action, kind, object_id, details in entries])


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    role: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]


async def recent(session: AsyncSession, *, limit: int = 200, action: str | None = None,
                 object_id: str | None = None, actor_id: int | None = None) -> list[AuditRow]:
    """The newest entries first, optionally filtered."""
    query = (select(AuditEntry, User.username, User.role)
             .outerjoin(User, User.id == AuditEntry.actor_id)
             .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    if action:
        query = query.where(AuditEntry.action == action)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    rows = (await session.execute(query)).all()
    return [AuditRow(e.at, name or "system", role or "", e.action, e.object_type, e.object_id, e.details or {})
            for e, name, role in rows]
