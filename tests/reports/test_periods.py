"""Period parsing, WIB bounds and due dates."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from reports.periods import DueRules, Period, PeriodError, PeriodKind, due_date, parse_period, periods_ended_before
from tests.reports.conftest import fixed_working_day


@pytest.mark.parametrize("text,kind,year,number,key", [
    ("2026-10", PeriodKind.MONTH, 2026, 10, "2026-10"),
    ("2026-1", PeriodKind.MONTH, 2026, 1, "2026-01"),
    ("2026-Q3", PeriodKind.QUARTER, 2026, 3, "2026-Q3"),
    ("2026q4", PeriodKind.QUARTER, 2026, 4, "2026-Q4"),
    (" 2022 ", PeriodKind.YEAR, 2022, 1, "2022"),
])
def test_parse_period(text: str, kind: PeriodKind, year: int, number: int, key: str) -> None:
    period = parse_period(text)
    assert (period.kind, period.year, period.number, period.key) == (kind, year, number, key)


@pytest.mark.parametrize("text", ["", "2026-13", "2026-00", "2026-Q5", "26-10", "oktober", "1999", "2026-10-01"])
def test_bad_periods_say_what_is_expected(text: str) -> None:
    with pytest.raises(PeriodError) as info:
        parse_period(text)
    assert str(info.value)


def test_bounds_are_wib_midnights_in_utc() -> None:
    q3 = parse_period("2026-Q3")
    assert (q3.first, q3.last, q3.end) == (date(2026, 7, 1), date(2026, 9, 30), date(2026, 10, 1))
    assert q3.start_utc == datetime(2026, 6, 30, 17, 0, tzinfo=timezone.utc)
    assert q3.end_utc == datetime(2026, 9, 30, 17, 0, tzinfo=timezone.utc)
    year = parse_period("2022")
    assert (year.first, year.last) == (date(2022, 1, 1), date(2022, 12, 31))
    assert parse_period("2026-12").end == date(2027, 1, 1)


def test_labels_are_indonesian() -> None:
    assert parse_period("2026-10").label == "Oktober 2026"
    assert parse_period("2026-Q3").label == "Triwulan III 2026"
    assert parse_period("2022").label == "Tahun 2022"


def test_monthly_due_is_tenth_working_day_of_next_month() -> None:
    # November 2026 starts on a Sunday: working days 2–6, 9–13 → the 10th is Friday 13 November.
    assert due_date(parse_period("2026-10"), fixed_working_day) == date(2026, 11, 13)
    # December 2026: 1–4, 7–11 are nine; the tenth is Monday 14 December.
    assert due_date(parse_period("2026-11"), fixed_working_day) == date(2026, 12, 14)
    # January 2027: New Year (Fri 1 Jan) is a holiday: 4–8, 11–15 → Friday 15 January.
    assert due_date(parse_period("2026-12"), fixed_working_day) == date(2027, 1, 15)


def test_monthly_due_follows_the_injected_calendar() -> None:
    def with_extra_leave(day: date) -> bool:
        return fixed_working_day(day) and day != date(2026, 11, 2)

    assert due_date(parse_period("2026-10"), with_extra_leave) == date(2026, 11, 16)


def test_quarterly_due_is_the_tenth_not_moved_without_a_rule() -> None:
    # POJK 18/2018: the 10th of the month after the quarter. No rule found moves it off a
    # weekend or holiday, so the 10th stands (filing earlier is always on time).
    assert due_date(parse_period("2026-Q3"), fixed_working_day) == date(2026, 10, 10)  # a Saturday
    assert due_date(parse_period("2026-Q2"), fixed_working_day) == date(2026, 7, 10)
    assert due_date(parse_period("2026-Q1"), fixed_working_day) == date(2026, 4, 10)  # a holiday


def test_quarterly_due_moves_only_when_configured() -> None:
    moves = DueRules(quarterly_moves_to_working_day=True)
    # 10 October 2026 is a Saturday → Monday 12 October; 10 April 2026 a holiday → Monday 13 April.
    assert due_date(parse_period("2026-Q3"), fixed_working_day, moves) == date(2026, 10, 12)
    assert due_date(parse_period("2026-Q1"), fixed_working_day, moves) == date(2026, 4, 13)


def test_monthly_due_working_days_are_configurable() -> None:
    # A lender's procedure, not a regulation: 5 working days of November 2026 end on Friday the 6th.
    assert due_date(parse_period("2026-10"), fixed_working_day, DueRules(monthly_working_days=5)) == date(2026, 11, 6)


def test_annual_due_is_the_tenth_of_january_like_a_quarter() -> None:
    assert due_date(parse_period("2026"), fixed_working_day) == date(2027, 1, 10)
    assert due_date(parse_period("2026"), fixed_working_day, DueRules(quarterly_moves_to_working_day=True)) == date(
        2027, 1, 11)


def test_previous_and_latest_finished_periods() -> None:
    assert parse_period("2026-01").previous().key == "2025-12"
    assert parse_period("2026-Q1").previous().key == "2025-Q4"
    assert [p.key for p in periods_ended_before(date(2026, 10, 2))] == ["2026-09", "2026-Q3", "2025"]
    assert Period(PeriodKind.YEAR, 2026, 1).previous().key == "2025"
