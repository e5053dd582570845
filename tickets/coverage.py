"""Which years the working-day calendar must cover now, and which of them it does not.

Every deadline counts working days; a year without its collective leave
(cuti bersama, from the yearly SKB) in the calendar file is counted as if it
had none, so deadlines in it may fall on a day the desk is closed. The desk
logs that once per year (``WorkingCalendar.is_holiday``); this module puts it
where supervisors look: the dashboard shows ``calendar_gaps`` (docs/tickets.md,
"Yearly calendar update").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.calendar import to_wib
from tickets.context import TicketContext
from tickets.models import Ticket
from tickets.workflow import OPEN

# A complaint received today can have deadlines this far ahead: the longest policy's resolution
# plus one extension (20 + 20 working days, about two calendar months) with room for leave.
HORIZON = timedelta(days=120)


@dataclass(frozen=True)
class CalendarGap:
    """A year the desk needs but the calendar file lacks, and why it is needed."""

    year: int
    reason: str  # "horizon" (new complaints reach it), "open_tickets" (a deadline in it), "counted" (used)
    calendar_file: str
    provisional: bool = False  # entered without its signed SKB: fixed-by-law holidays only

    def message(self) -> str:
        """The supervisor's warning, in Indonesian like the rest of the dashboard."""
        if self.provisional:
            return (f"Kalender hari kerja tahun {self.year} masih sementara (provisional): SKB tiga menteri "
                    f"tentang libur nasional dan cuti bersama {self.year} belum dimasukkan ke {self.calendar_file}, "
                    f"sehingga batas waktu di tahun {self.year} dihitung hanya dengan libur nasional, tanpa cuti "
                    "bersama. Masukkan dari SKB yang ditandatangani segera setelah tersedia (docs/tickets.md).")
        return (f"Kalender hari kerja belum memuat tahun {self.year}: cuti bersama {self.year} belum dimasukkan "
                f"ke {self.calendar_file}, sehingga batas waktu di tahun itu dihitung tanpa cuti bersama. "
                "Masukkan dari SKB tiga menteri segera setelah terbit (docs/tickets.md).")


async def calendar_gaps(session: AsyncSession, ctx: TicketContext, now: datetime | None = None,
                        *, calendar_file: str = "tickets/calendar/id_extra_days_off.yml") -> list[CalendarGap]:
    """The years from this one to the furthest deadline that matters that have no calendar entry."""
    now = now or ctx.now()
    working = ctx.calendar.working
    latest = await session.scalar(select(func.max(Ticket.resolution_due)).where(Ticket.status.in_(OPEN)))
    reasons: dict[int, str] = {}
    for year in range(to_wib(now).year, to_wib(now + HORIZON).year + 1):
        reasons.setdefault(year, "horizon")
    if latest is not None:
        for year in range(to_wib(now).year, to_wib(latest).year + 1):
            reasons.setdefault(year, "open_tickets")
    for year in working.uncovered_years_used:
        if year >= to_wib(now).year:  # past years (old reports) no longer move any deadline
            reasons.setdefault(year, "counted")
    return [CalendarGap(year, reason, calendar_file, working.is_provisional(year))
            for year, reason in sorted(reasons.items()) if not working.covers(year)]
