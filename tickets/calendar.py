"""Working days and office hours in Asia/Jakarta: the one place for both.

A *working day* is Monday to Friday, minus Indonesia's national holidays (the
``holidays`` package, category "public", computed offline) and minus the extra
days off in the calendar file (collective leave, cuti bersama), plus any date
that file explicitly restores as a working day.

*Office hours* are per channel (lender file ``office_hours``). A channel with
``closed_on_holidays: true`` is also closed on national holidays and
collective leave.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import yaml

from tickets.lender import OfficeHoursSpec

WIB = ZoneInfo("Asia/Jakarta")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_LABELS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_MAX_SCAN_DAYS = 800  # more than two years of consecutive days off means broken configuration

log = logging.getLogger(__name__)


def to_wib(at: datetime) -> datetime:
    """``at`` (aware) as Asia/Jakarta local time."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    return at.astimezone(WIB)


@dataclass(frozen=True)
class ExtraDaysOff:
    """Collective leave and restored working days from the calendar file."""

    days_off: dict[date, str] = field(default_factory=dict)
    working_days: dict[date, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()
    # Years entered without their signed SKB (``provisional: true``): only what is fixed
    # by law, no collective leave, so they still count as not covered (the dashboard warns).
    provisional: frozenset[int] = frozenset()

    @classmethod
    def from_yaml(cls, raw: dict[str, Any]) -> ExtraDaysOff:
        """Parse the calendar file's structure (``years: {2026: {days_off: …, provisional: false}}``)."""
        off: dict[date, str] = {}
        on: dict[date, str] = {}
        years = raw.get("years") or {}
        provisional: set[int] = set()
        for year, spec in years.items():
            if (spec or {}).get("provisional") is True:
                provisional.add(int(year))
            for d, label in ((spec or {}).get("days_off") or {}).items():
                off[_as_date(d)] = str(label)
            for d, label in ((spec or {}).get("working_days") or {}).items():
                on[_as_date(d)] = str(label)
        return cls(off, on, frozenset(int(y) for y in years), frozenset(provisional))

    @classmethod
    def load(cls, path: Path) -> ExtraDaysOff:
        """Read the calendar file."""
        with Path(path).open(encoding="utf-8") as fh:
            return cls.from_yaml(yaml.safe_load(fh) or {})


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _parse_hhmm(text: str) -> time:
    if text in ("24:00", "24:00:00"):
        return time.max
    return time.fromisoformat(text)


class WorkingCalendar:
    """Answers "is this a working day?" and counts working days."""

    def __init__(self, extra: ExtraDaysOff | None = None) -> None:
        self.extra = extra or ExtraDaysOff()
        self._national: dict[int, dict[date, str]] = {}
        self._warned: set[int] = set()

    def national_holidays(self, year: int) -> dict[date, str]:
        """Indonesia's national holidays of ``year`` (not collective leave)."""
        if year not in self._national:
            found = holidays.country_holidays("ID", years=year, categories=("public",))
            self._national[year] = {d: str(n) for d, n in found.items()}
        return self._national[year]

    def holiday_name(self, day: date) -> str | None:
        """Why ``day`` is a day off other than a weekend, or None."""
        if day in self.extra.working_days:
            return None
        if day in self.extra.days_off:
            return self.extra.days_off[day]
        return self.national_holidays(day.year).get(day)

    def covers(self, year: int) -> bool:
        """Does the calendar file list ``year``'s collective leave (its SKB was entered, not provisionally)?"""
        return year in self.extra.years and year not in self.extra.provisional

    def is_provisional(self, year: int) -> bool:
        """Is ``year`` entered only provisionally (no signed SKB yet, no collective leave)?"""
        return year in self.extra.provisional

    @property
    def uncovered_years_used(self) -> frozenset[int]:
        """Years this process counted days in without a calendar entry (each logged once)."""
        return frozenset(self._warned)

    def is_holiday(self, day: date) -> bool:
        """A national holiday or a collective-leave day (whatever the weekday)."""
        if not self.covers(day.year) and day.year not in self._warned:
            self._warned.add(day.year)
            log.warning("calendar file has no collective leave for %s%s: update it", day.year,
                        " (entered provisionally, without its SKB)" if self.is_provisional(day.year) else "")
        return self.holiday_name(day) is not None

    def is_working_day(self, day: date) -> bool:
        """Monday–Friday and neither a holiday nor collective leave."""
        if day in self.extra.working_days:
            return True
        return day.weekday() < 5 and not self.is_holiday(day)

    def next_working_day(self, day: date, *, include_today: bool = False) -> date:
        """The first working day after ``day`` (or ``day`` itself with include_today)."""
        current = day if include_today else day + timedelta(days=1)
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_working_day(current):
                return current
            current += timedelta(days=1)
        raise RuntimeError("no working day found: check the calendar configuration")

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (``day`` itself is day 0; n ≥ 0)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        current = day
        for _ in range(n):
            current = self.next_working_day(current)
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]; negative when end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count


@dataclass(frozen=True)
class OfficeHours:
    """One channel's opening hours."""

    days: frozenset[int]
    opens: time
    closes: time
    closed_on_holidays: bool

    @classmethod
    def from_spec(cls, spec: OfficeHoursSpec) -> OfficeHours:
        return cls(frozenset(DAY_NAMES.index(d.lower()[:3]) for d in spec.days),
                   _parse_hhmm(spec.open), _parse_hhmm(spec.close), spec.closed_on_holidays)


class DeskCalendar:
    """Working days plus every channel's office hours."""

    def __init__(self, working: WorkingCalendar, hours: dict[str, OfficeHoursSpec]) -> None:
        self.working = working
        self.hours = {name: OfficeHours.from_spec(spec) for name, spec in hours.items()}
        if "default" not in self.hours:
            self.hours["default"] = OfficeHours.from_spec(OfficeHoursSpec())

    def hours_for(self, channel: str | None) -> OfficeHours:
        """The hours of ``channel``, or the lender's default hours."""
        return self.hours.get(channel or "default", self.hours["default"])

    def _open_on(self, hours: OfficeHours, day: date) -> bool:
        if day in self.working.extra.working_days:
            return True
        if day.weekday() not in hours.days:
            return False
        return not (hours.closed_on_holidays and self.working.is_holiday(day))

    def is_open(self, channel: str | None, at: datetime) -> bool:
        """Whether people answer on ``channel`` at ``at`` (close time is exclusive)."""
        hours = self.hours_for(channel)
        local = to_wib(at)
        if not self._open_on(hours, local.date()):
            return False
        return hours.opens <= local.time() < hours.closes

    def next_open(self, channel: str | None, at: datetime) -> datetime:
        """``at`` when open, else the next moment ``channel`` opens (aware, WIB)."""
        hours = self.hours_for(channel)
        local = to_wib(at)
        if self.is_open(channel, at):
            return local
        day = local.date()
        if self._open_on(hours, day) and local.time() < hours.opens:
            return datetime.combine(day, hours.opens, WIB)
        for _ in range(_MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self._open_on(hours, day):
                return datetime.combine(day, hours.opens, WIB)
        raise RuntimeError(f"channel {channel!r} never opens: check office_hours")

    def close_of(self, channel: str | None, day: date) -> datetime:
        """When ``channel`` closes on ``day`` (WIB)."""
        return datetime.combine(day, self.hours_for(channel).closes, WIB)

    def hours_text(self, channel: str | None) -> str:
        """The opening hours in Indonesian, e.g. "Senin–Jumat 09.00–17.00 WIB (tutup pada hari libur nasional)"."""
        hours = self.hours_for(channel)
        days = sorted(hours.days)
        if days == list(range(7)):
            day_text = "Setiap hari"
        elif days == list(range(days[0], days[-1] + 1)) and len(days) > 1:
            day_text = f"{DAY_LABELS_ID[days[0]]}–{DAY_LABELS_ID[days[-1]]}"
        else:
            day_text = ", ".join(DAY_LABELS_ID[d] for d in days)
        closes = "24.00" if hours.closes == time.max else hours.closes.strftime("%H.%M")
        text = f"{day_text} {hours.opens.strftime('%H.%M')}–{closes} WIB"
        if hours.closed_on_holidays:
            text += " (tutup pada hari libur nasional dan cuti bersama)"
        return text


@lru_cache(maxsize=8)
def load_working_calendar(path: Path) -> WorkingCalendar:
    """The working calendar with the collective leave of ``path`` (cached per process)."""
    return WorkingCalendar(ExtraDaysOff.load(path))
