"""Report periods (month, quarter, year) in WIB, and the dates their reports fall due.

A period is a half-open range of local dates in Asia/Jakarta; the database
stores UTC, so each period also exposes its bounds as aware UTC datetimes.
Working days are never decided here: callers inject ``is_working_day``
(the desk's one calendar, ``tickets.calendar``).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")

IsWorkingDay = Callable[[date], bool]

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli",
             "Agustus", "September", "Oktober", "November", "Desember")
QUARTERS_ID = ("I", "II", "III", "IV")

# Day of the month after the quarter (or year) on which the report falls due:
# POJK 18/POJK.07/2018 (docs/reports.md, "Due dates", gives the source and what
# could not be confirmed).
QUARTERLY_DUE_DAY = 10


@dataclass(frozen=True)
class DueRules:
    """How report due dates are set; each figure's source is in docs/reports.md ("Due dates").

    * ``monthly_working_days`` — the monthly report is due within this many
      working days of the next month. Not a regulation: a lender's published
      procedure (``REPORT_MONTHLY_DUE_WORKING_DAYS``, default 10).
    * ``quarterly_moves_to_working_day`` — whether a quarterly (or annual) due
      date on a weekend or holiday moves to the next working day. False: no
      rule found for the complaint report says so, and filing by the 10th
      itself is always on time.
    """

    monthly_working_days: int = 10
    quarterly_moves_to_working_day: bool = False


class PeriodError(ValueError):
    """A period string that cannot be understood; the message says what is expected."""


class PeriodKind(str, Enum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    """One reporting period: ``first`` inclusive to ``end`` exclusive, local dates in WIB."""

    kind: PeriodKind
    year: int
    number: int  # month 1–12, quarter 1–4, or 1 for a year

    @property
    def first(self) -> date:
        """The first local day of the period."""
        if self.kind is PeriodKind.MONTH:
            return date(self.year, self.number, 1)
        if self.kind is PeriodKind.QUARTER:
            return date(self.year, 3 * (self.number - 1) + 1, 1)
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        """The first local day after the period."""
        months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[self.kind]
        return _add_months(self.first, months)

    @property
    def last(self) -> date:
        """The last local day of the period."""
        return self.end - timedelta(days=1)

    @property
    def start_utc(self) -> datetime:
        """Midnight WIB at the start of the period, in UTC."""
        return local_midnight_utc(self.first)

    @property
    def end_utc(self) -> datetime:
        """Midnight WIB after the period, in UTC (exclusive bound)."""
        return local_midnight_utc(self.end)

    @property
    def key(self) -> str:
        """The canonical spelling: ``2026-10``, ``2026-Q3`` or ``2022``."""
        if self.kind is PeriodKind.MONTH:
            return f"{self.year:04d}-{self.number:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}"

    @property
    def label(self) -> str:
        """The Indonesian name used on the filed report."""
        if self.kind is PeriodKind.MONTH:
            return f"{MONTHS_ID[self.number - 1]} {self.year}"
        if self.kind is PeriodKind.QUARTER:
            return f"Triwulan {QUARTERS_ID[self.number - 1]} {self.year}"
        return f"Tahun {self.year}"

    @property
    def kind_label(self) -> str:
        return {PeriodKind.MONTH: "Bulanan", PeriodKind.QUARTER: "Triwulanan",
                PeriodKind.YEAR: "Tahunan"}[self.kind]

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        if self.kind is PeriodKind.YEAR:
            return Period(self.kind, self.year - 1, 1)
        size = 12 if self.kind is PeriodKind.MONTH else 4
        if self.number == 1:
            return Period(self.kind, self.year - 1, size)
        return Period(self.kind, self.year, self.number - 1)


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_period(text: str) -> Period:
    """Parse ``2026-10`` (month), ``2026-Q3`` (quarter) or ``2022`` (year)."""
    value = (text or "").strip()
    if m := _MONTH.match(value):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"month must be 01–12 in period {value!r}")
        return _checked(Period(PeriodKind.MONTH, year, month))
    if m := _QUARTER.match(value):
        return _checked(Period(PeriodKind.QUARTER, int(m.group(1)), int(m.group(2))))
    if m := _YEAR.match(value):
        return _checked(Period(PeriodKind.YEAR, int(m.group(1)), 1))
    raise PeriodError(f"unknown period {value!r}: use YYYY-MM (month), YYYY-Qn (quarter) or YYYY (year)")


def _checked(period: Period) -> Period:
    if not 2000 <= period.year <= 2100:
        raise PeriodError(f"year {period.year} is outside 2000–2100")
    return period


def local_midnight_utc(day: date) -> datetime:
    """00:00 WIB on ``day`` as an aware UTC datetime."""
    return datetime.combine(day, time(0), tzinfo=WIB).astimezone(timezone.utc)


def local_date(moment: datetime) -> date:
    """The WIB calendar date of an aware datetime."""
    return moment.astimezone(WIB).date()


def nth_working_day(first: date, n: int, is_working_day: IsWorkingDay) -> date:
    """The n-th working day counting from ``first`` (inclusive)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    day, seen = first, 0
    for _ in range(366):
        if is_working_day(day):
            seen += 1
            if seen == n:
                return day
        day += timedelta(days=1)
    raise ValueError(f"no {n} working days within a year of {first}: check the calendar")


def next_working_day_on_or_after(day: date, is_working_day: IsWorkingDay) -> date:
    """``day`` itself when it is a working day, else the next one."""
    return nth_working_day(day, 1, is_working_day)


def due_date(period: Period, is_working_day: IsWorkingDay, rules: DueRules = DueRules()) -> date:
    """The last day on which the report for ``period`` may be filed.

    * monthly: within ``rules.monthly_working_days`` working days of the next
      month, i.e. that working day of the next month (a lender's procedure);
    * quarterly: the 10th of the month after the quarter (POJK 18/2018), moved
      to the next working day only when ``rules.quarterly_moves_to_working_day``;
    * annual (no rule found; our choice): like the fourth quarter, the 10th of
      January of the next year.
    """
    if period.kind is PeriodKind.MONTH:
        return nth_working_day(period.end, rules.monthly_working_days, is_working_day)
    tenth = period.end.replace(day=QUARTERLY_DUE_DAY)
    if rules.quarterly_moves_to_working_day:
        return next_working_day_on_or_after(tenth, is_working_day)
    return tenth


def periods_ended_before(today: date) -> list[Period]:
    """The latest finished month, quarter and year as of ``today`` (WIB)."""
    month = Period(PeriodKind.MONTH, today.year, today.month).previous()
    quarter = Period(PeriodKind.QUARTER, today.year, (today.month - 1) // 3 + 1).previous()
    year = Period(PeriodKind.YEAR, today.year - 1, 1)
    return [month, quarter, year]


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)
