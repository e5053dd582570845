"""Canned responses: a library of reply templates that supervisors approve before use.

Placeholders are ``{nama}`` (the borrower's name), ``{nomor_tiket}``, ``{agen}``
(the agent's display name) and ``{kanal}``; unknown placeholders stay as
written so a typo is visible instead of crashing a reply.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import StaffUser
from handoff import access
from handoff.models import CannedResponse

PLACEHOLDERS = ("nama", "nomor_tiket", "agen", "kanal")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class CannedError(ValueError):
    """A canned response that cannot be created, approved or used."""


def render(body: str, values: Mapping[str, str | None]) -> str:
    """Fill the known placeholders of ``body``; a missing value becomes a polite default."""
    defaults = {"nama": "Kak", "nomor_tiket": "-", "agen": "CS", "kanal": ""}

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in PLACEHOLDERS:
            return match.group(0)
        return values.get(key) or defaults[key]

    return _PLACEHOLDER.sub(fill, body)


async def propose(session: AsyncSession, user: StaffUser, title: str, body: str) -> CannedResponse:
    """Add a template; a supervisor's own proposals are approved at once."""
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise CannedError("a canned response needs a title and a body")
    if len(title) > 128 or len(body) > 2000:
        raise CannedError("title up to 128 and body up to 2000 characters")
    approved = access.can_approve_canned(user)
    row = CannedResponse(title=title, body=body, created_by=user.id, approved=approved,
                         approved_by=user.id if approved else None)
    session.add(row)
    await session.flush()
    return row


async def approve(session: AsyncSession, user: StaffUser, canned_id: int) -> CannedResponse:
    """Approve a proposed template (supervisors and admins only)."""
    if not access.can_approve_canned(user):
        raise PermissionError("only supervisors approve canned responses")
    row = await session.get(CannedResponse, canned_id)
    if row is None:
        raise CannedError("no such canned response")
    row.approved, row.approved_by = True, user.id
    await session.flush()
    return row


async def approved(session: AsyncSession) -> list[CannedResponse]:
    """Templates agents may send."""
    return list(await session.scalars(
        select(CannedResponse).where(CannedResponse.approved.is_(True)).order_by(CannedResponse.title)))


async def all_responses(session: AsyncSession) -> list[CannedResponse]:
    return list(await session.scalars(
        select(CannedResponse).order_by(CannedResponse.approved, CannedResponse.title)))


async def usable(session: AsyncSession, canned_id: int) -> CannedResponse:
    """The approved template ``canned_id``; an unapproved one is refused."""
    row = await session.get(CannedResponse, canned_id)
    if row is None or not row.approved:
        raise CannedError("this canned response is not approved yet")
    return row
