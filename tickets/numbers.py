"""Ticket numbers borrowers can read aloud and type: ``DCI-261122-0042-7``.

``<prefix>-<YYMMDD>-<sequence>-<check>``: the lender's letter prefix, the
date received in WIB, the day's sequence (4 digits, more after 9,999 a day)
and a Damm check digit over the date and sequence digits. Damm catches every
single wrong digit and every swap of two neighbouring digits, so a typo is
answered with "check the number" rather than someone else's ticket.

Only digits follow the prefix, so there is nothing to confuse (O/0, I/1, S/5);
when a borrower types a letter O, I or L among the digits we read 0 or 1.

Numbers come from one counter row per prefix and day, bumped with
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` inside the transaction that
inserts the ticket: concurrent desks queue on the row lock, a rolled-back
ticket gives its number back, so numbers are unique and gap-free.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.models import TicketNumberCounter
# The format itself (pure, shared with the bot's tests); re-exported for callers.
from tickets.number_format import InvalidTicketNumber, check_digit, format_number, parse_number

__all__ = ["InvalidTicketNumber", "allocate_number", "check_digit", "format_number", "next_sequence", "parse_number"]


async def next_sequence(session: AsyncSession, prefix: str, day: date) -> int:
    """Allocate the next sequence number of ``prefix`` on ``day`` inside the caller's transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = TicketNumberCounter.__table__
    stmt = insert(table).values(prefix=prefix, day=day, last_value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.prefix, table.c.day],
        set_={"last_value": table.c.last_value + 1},
    ).returning(table.c.last_value)
    return int((await session.execute(stmt)).scalar_one())


async def allocate_number(session: AsyncSession, prefix: str, day: date) -> str:
    """A new unique ticket number for ``day`` (WIB)."""
    return format_number(prefix, day, await next_sequence(session, prefix, day))
