"""Synthetic complaints with a published distribution, to prove the reports on real figures.

``PUBLISHED_2022`` is the table a large lender published for 2022 (domain.md):
7,578 complaints, all resolved within the year. ``load_year`` writes one
year of tickets with exactly those counts per category, spread over the year
with plausible channels, products, causes and clocks. Deadlines here are
approximations (first response 2 days, resolution 28 calendar days), not
``tickets.sla`` results: the figures under test are the counts.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from reports.periods import WIB
from tickets.models import Priority, Status, Ticket

PUBLISHED_2022: Mapping[str, int] = {
    "payment": 2198,
    "fraud": 391,
    "unethical_collection": 1042,
    "relief": 2444,
    "phone_change": 1087,
    "app": 416,
}

CHANNELS = (("whatsapp", 0.55), ("inapp", 0.30), ("telegram", 0.15))
PRODUCTS = (("pinjaman_tunai", 0.6), ("paylater", 0.3), ("pinjaman_produktif", 0.1))
CAUSES = (("kesalahan_sistem", 0.30), ("kelalaian_petugas", 0.15), ("kesalahan_konsumen", 0.35),
          ("pihak_ketiga", 0.20))
NUMBER_PREFIX = "SYN"


@dataclass(frozen=True)
class Shape:
    """How the generated tickets end: shares of rejected and still-open ones."""

    rejected_share: float = 0.0
    open_share: float = 0.0
    late_share: float = 0.04        # resolved after the resolution deadline
    negative_publicity_share: float = 0.01
    # Every ticket closes within the year it was received in (the 2022 table).
    close_within_year: bool = True


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def synthetic_tickets(year: int, per_category: Mapping[str, int], *, seed: int = 2022,
                      shape: Shape = Shape(), number_prefix: str = NUMBER_PREFIX,
                      start_serial: int = 1) -> Iterator[dict[str, Any]]:
    """Yield ticket rows (column → value) for ``year`` with exactly ``per_category`` counts."""
    rng = random.Random(seed)
    year_start = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - year_start).days
    year_end = datetime.combine(date(year + 1, 1, 1), time(0), tzinfo=WIB).astimezone(timezone.utc)
    serial = start_serial
    for category, count in per_category.items():
        for _ in range(count):
            day = year_start + timedelta(days=rng.randrange(days))
            local = datetime.combine(day, time(rng.randrange(7, 22), rng.randrange(60), rng.randrange(60)),
                                     tzinfo=WIB)
            received = local.astimezone(timezone.utc)
            first_due = received + timedelta(days=2)
            resolution_due = received + timedelta(days=28)
            responded = received + timedelta(minutes=rng.randrange(5, 60 * 40))
            roll = rng.random()
            status = Status.RESOLVED.value
            closed: datetime | None
            if roll < shape.open_share:
                status, closed = Status.IN_PROGRESS.value, None
            else:
                late = rng.random() < shape.late_share
                span = timedelta(days=rng.uniform(29, 40)) if late else timedelta(days=rng.uniform(0.2, 20))
                closed = received + span
                if shape.close_within_year and closed >= year_end:
                    closed = received + (year_end - received) * rng.uniform(0.1, 0.9)
                    responded = min(responded, closed)
                if roll < shape.open_share + shape.rejected_share:
                    status = Status.REJECTED.value
            priority = (Priority.HIGH.value if category in ("fraud", "unethical_collection")
                        else _pick(rng, ((Priority.LOW.value, 0.3), (Priority.MEDIUM.value, 0.7))))
            yield {
                "number": f"{number_prefix}-{year}-{serial:07d}",
                "category": category,
                "priority": priority,
                "status": status,
                "channel": _pick(rng, CHANNELS),
                "form": "written",
                "complainant_type": "user",
                "full_name": f"Peminjam Sintetis {serial}",
                "product": _pick(rng, PRODUCTS),
                "chronology": "Data sintetis untuk uji laporan.",
                "received_at": received,
                "clock_started_at": received,
                "first_response_due": first_due,
                "resolution_due": resolution_due,
                "first_responded_at": responded,
                "closed_at": closed,
                "cause": _pick(rng, CAUSES),
                # Synthetic years before 2024 ran under POJK 18/2018 (POJK 22/2023 replaced it).
                "sla_policy": "pojk-18-2018" if year < 2024 else "pojk-22-2023",
                "negative_publicity": rng.random() < shape.negative_publicity_share,
                "created_at": received,
                "updated_at": closed or received,
            }
            serial += 1


async def load_year(session: AsyncSession, year: int = 2022,
                    per_category: Mapping[str, int] = PUBLISHED_2022, *, seed: int = 2022,
                    shape: Shape = Shape()) -> int:
    """Replace this year's synthetic tickets with a fresh set; return how many were written."""
    prefix = f"{NUMBER_PREFIX}-{year}-"
    await session.execute(delete(Ticket).where(Ticket.number.like(f"{prefix}%")))
    rows = list(synthetic_tickets(year, per_category, seed=seed, shape=shape))
    batch = 2000
    for i in range(0, len(rows), batch):
        await session.execute(insert(Ticket.__table__), rows[i:i + batch])
    return len(rows)
