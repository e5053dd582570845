"""The periodic complaint report: counts per product, category, channel and cause, in SQL.

Definitions (docs/reports.md repeats them for compliance officers). All times
are compared in UTC against the period's WIB bounds [start, end):

* received       — ``received_at`` within the period;
* resolved       — status ``resolved`` and ``closed_at`` within the period (selesai);
* not resolved   — status ``rejected`` and ``closed_at`` within the period: closed
                   without a settlement, on one of the written grounds (tidak
                   selesai). A settlement the borrower refuses reopens the ticket
                   (tickets.service), so it counts as in process again;
* in process     — received before the period's end and not closed (resolved or
                   rejected) before it (dalam proses), whatever happened later;
* carried over   — the same, at the period's start; so
                   carried over + received − resolved − not resolved = in process;
* negative publicity — received within the period and flagged;
* resolution SLA — of the complaints closed within the period, met when closed
                   by ``resolution_due``; complaints still in process at the end
                   whose ``resolution_due`` has passed count as breached;
* first response SLA — of the complaints received within the period, met when
                   first answered by ``first_response_due``; breached when answered
                   late, or not answered and the deadline passed before the end.

One scan of the tickets table grouped by (category, product, channel, cause,
form, source, SLA policy) feeds every count of the report; the rollups add
up those few hundred aggregated rows. A second query reads the start and
closing day of each complaint closed in the period, for resolution times in
working days (``reports.document`` counts them with the desk calendar).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reports.periods import Period
from reports.sql import count_if, local_day
from tickets.models import CATEGORY_LABELS, Category, Status, Ticket

TERMINAL = (Status.RESOLVED.value, Status.REJECTED.value)
# Listed rather than "NOT IN TERMINAL" so PostgreSQL can use ix_tickets_status.
OPEN = tuple(s.value for s in Status if s.value not in TERMINAL)
UNKNOWN_CAUSE = "unknown"


@dataclass
class Counts:
    """The measures of one row of the report."""

    carried_over: int = 0
    received: int = 0
    resolved: int = 0
    not_resolved: int = 0
    in_process: int = 0
    negative_publicity: int = 0
    resolution_sla_met: int = 0
    resolution_sla_breached: int = 0
    first_response_met: int = 0
    first_response_breached: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def resolution_sla_rate(self) -> float | None:
        """Share of resolution deadlines met, or None when nothing was due."""
        total = self.resolution_sla_met + self.resolution_sla_breached
        return self.resolution_sla_met / total if total else None

    @property
    def first_response_rate(self) -> float | None:
        total = self.first_response_met + self.first_response_breached
        return self.first_response_met / total if total else None

    def as_dict(self) -> dict[str, int | float | None]:
        data: dict[str, int | float | None] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["resolution_sla_rate"] = self.resolution_sla_rate
        data["first_response_rate"] = self.first_response_rate
        return data


MEASURES = tuple(f.name for f in fields(Counts))


@dataclass(frozen=True)
class Cell:
    """One aggregated row straight from SQL."""

    category: str
    product: str
    channel: str
    cause: str
    counts: Counts
    form: str = "written"
    source: str = "direct"
    sla_policy: str = ""


@dataclass(frozen=True)
class Closing:
    """One complaint closed (resolved or rejected) in the period: the WIB days its clock ran between."""

    category: str
    product: str
    form: str
    source: str
    sla_policy: str
    start_day: date   # day 0 of its clock (tickets.sla.start_day, stored as clock_started_at)
    closed_day: date
    count: int = 1    # complaints with exactly these keys and days (aggregated in SQL)


@dataclass
class PeriodReport:
    """Everything the exports and the printable page show for one period."""

    period: Period
    cells: list[Cell]
    closings: list[Closing] = field(default_factory=list)
    totals: Counts = field(default_factory=Counts)

    def __post_init__(self) -> None:
        self.totals = _sum(c.counts for c in self.cells)

    def by_category(self) -> list[tuple[str, Counts]]:
        """Every category in the regulator's order, including those with no complaints."""
        groups = self._group(lambda c: (c.category,))
        order = [c.value for c in Category] + sorted(k[0] for k in groups if k[0] not in CATEGORY_LABELS)
        return [(cat, groups.get((cat,), Counts())) for cat in order]

    def by_product_category(self) -> list[tuple[str, str, Counts]]:
        """Rows per (product, category) that had any activity, products alphabetical."""
        groups = self._group(lambda c: (c.product, c.category))
        rank = {c.value: i for i, c in enumerate(Category)}
        keys = sorted(groups, key=lambda k: (k[0], rank.get(k[1], len(rank)), k[1]))
        return [(p, cat, groups[(p, cat)]) for p, cat in keys]

    def by_channel(self) -> list[tuple[str, Counts]]:
        groups = self._group(lambda c: (c.channel,))
        return [(k[0], groups[k]) for k in sorted(groups)]

    def by_form(self) -> list[tuple[str, Counts]]:
        """Oral and written complaints, both always listed (oral first, as the regulation names them)."""
        groups = self._group(lambda c: (c.form,))
        order = ["oral", "written"] + sorted(k[0] for k in groups if k[0] not in ("oral", "written"))
        return [(f, groups.get((f,), Counts())) for f in order]

    def by_source(self) -> list[tuple[str, Counts]]:
        """Direct complaints and those forwarded by OJK (APPK) and LAPS SJK, each always listed."""
        groups = self._group(lambda c: (c.source,))
        known = ["direct", "ojk_appk", "laps_sjk"]
        order = known + sorted(k[0] for k in groups if k[0] not in known)
        return [(src, groups.get((src,), Counts())) for src in order]

    def by_policy(self) -> list[tuple[str, Counts]]:
        """The SLA policy each complaint's deadlines were measured against."""
        groups = self._group(lambda c: (c.sla_policy,))
        return [(k[0], groups[k]) for k in sorted(groups)]

    def by_cause(self) -> list[tuple[str, Counts]]:
        """Causes of the complaints, most frequent (by received) first."""
        groups = self._group(lambda c: (c.cause,))
        keys = sorted(groups, key=lambda k: (-groups[k].received, k[0]))
        return [(k[0], groups[k]) for k in keys]

    def _group(self, key) -> dict[tuple[str, ...], Counts]:  # type: ignore[no-untyped-def]
        out: dict[tuple[str, ...], Counts] = defaultdict(Counts)
        for cell in self.cells:
            out[key(cell)].add(cell.counts)
        return dict(out)


def _sum(items: Iterable[Counts]) -> Counts:
    total = Counts()
    for item in items:
        total.add(item)
    return total


def _day(value: date | str) -> date:
    """``local_day`` reads back as a date (PostgreSQL) or ISO text (SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


async def period_report(session: AsyncSession, period: Period) -> PeriodReport:
    """Aggregate the tickets for ``period`` into a ``PeriodReport`` (one SQL query)."""
    start, end = period.start_utc, period.end_utc
    t = Ticket.__table__.c
    terminal = t.status.in_(TERMINAL)
    closed_before = lambda moment: and_(terminal, t.closed_at < moment)  # noqa: E731
    open_at_end = not_(closed_before(end))
    received_in = and_(t.received_at >= start, t.received_at < end)
    closed_in = and_(terminal, t.closed_at >= start, t.closed_at < end)

    measures = {
        "carried_over": and_(t.received_at < start, not_(closed_before(start))),
        "received": received_in,
        "resolved": and_(closed_in, t.status == Status.RESOLVED.value),
        "not_resolved": and_(closed_in, t.status == Status.REJECTED.value),
        "in_process": open_at_end,
        "negative_publicity": and_(received_in, t.negative_publicity.is_(True)),
        "resolution_sla_met": and_(closed_in, t.resolution_due.is_not(None), t.closed_at <= t.resolution_due),
        "resolution_sla_breached": or_(
            and_(closed_in, t.resolution_due.is_not(None), t.closed_at > t.resolution_due),
            and_(open_at_end, t.resolution_due < end),
        ),
        "first_response_met": and_(received_in, t.first_response_due.is_not(None),
                                   t.first_responded_at <= t.first_response_due),
        "first_response_breached": and_(received_in, t.first_response_due.is_not(None), or_(
            t.first_responded_at > t.first_response_due,
            and_(t.first_responded_at.is_(None), t.first_response_due < end),
        )),
    }
    assert tuple(measures) == MEASURES
    keys = (t.category, t.product, t.channel, t.cause, t.form, t.source, t.sla_policy)
    stmt = (
        select(*keys, *(count_if(cond).label(name) for name, cond in measures.items()))
        # Only tickets that touch the period: received before its end and not
        # closed before its start (a reopened ticket is not terminal).
        .where(t.received_at < end, or_(t.closed_at.is_(None), t.closed_at >= start, t.status.in_(OPEN)))
        .group_by(*keys)
    )
    rows = (await session.execute(stmt)).all()
    cells = [
        Cell(category=r.category, product=r.product, channel=r.channel,
             cause=r.cause or UNKNOWN_CAUSE, form=r.form, source=r.source, sla_policy=r.sla_policy,
             counts=Counts(**{name: int(getattr(r, name)) for name in MEASURES}))
        for r in rows
    ]
    # Grouped by WIB start and closing day: a year of a large lender is a few
    # thousand rows instead of one per complaint.
    dialect = session.get_bind().dialect.name
    started = local_day(t.clock_started_at, dialect).label("start_day")
    finished = local_day(t.closed_at, dialect).label("closed_day")
    day_keys = (t.category, t.product, t.form, t.source, t.sla_policy, started, finished)
    closed = (await session.execute(
        select(*day_keys, func.count().label("n")).where(closed_in).group_by(*day_keys)
    )).all()
    closings = [Closing(category=r.category, product=r.product, form=r.form, source=r.source,
                        sla_policy=r.sla_policy, start_day=_day(r.start_day), closed_day=_day(r.closed_day),
                        count=int(r.n)) for r in closed]
    return PeriodReport(period=period, cells=cells, closings=closings)

