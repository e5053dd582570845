"""Working days, collective leave and office hours in Asia/Jakarta."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import holidays
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from tickets.calendar import WIB
from tickets.sla import Clock, deadline, load_policy


def test_package_has_national_holidays_but_not_collective_leave(working_calendar) -> None:
    national = holidays.country_holidays("ID", years=2025, categories=("public",))
    assert date(2025, 3, 31) in national          # Idul Fitri
    assert date(2025, 4, 2) not in national        # cuti bersama comes from our file
    assert not working_calendar.is_working_day(date(2025, 4, 2))
    assert working_calendar.holiday_name(date(2025, 4, 2)).startswith("Cuti bersama Idul Fitri")


@pytest.mark.parametrize("year", [2025, 2026])
def test_calendar_file_matches_the_decreed_collective_leave(working_calendar, year) -> None:
    # The holidays package also ships the SKB's collective leave ("government"
    # category); our file is the configurable source, and must agree with it.
    decreed = set(holidays.country_holidays("ID", years=year, categories=("government",)))
    ours = {d for d in working_calendar.extra.days_off if d.year == year}
    assert ours == decreed


def test_weekends_and_holidays_are_days_off(working_calendar) -> None:
    assert working_calendar.is_working_day(date(2026, 3, 25))
    assert not working_calendar.is_working_day(date(2026, 3, 28))  # Saturday
    assert not working_calendar.is_working_day(date(2026, 12, 25))  # Christmas
    assert not working_calendar.is_working_day(date(2026, 12, 24))  # cuti bersama


def test_restored_working_day_counts(working_calendar) -> None:
    from tickets.calendar import ExtraDaysOff, WorkingCalendar

    extra = ExtraDaysOff.from_yaml({"years": {2026: {"working_days": {"2026-12-24": "moved"}}}})
    assert WorkingCalendar(extra).is_working_day(date(2026, 12, 24))
    assert not working_calendar.is_working_day(date(2026, 12, 24))


def test_office_hours_per_channel(desk_calendar) -> None:
    eid_monday = datetime(2025, 3, 31, 10, tzinfo=WIB)
    assert not desk_calendar.is_open("telegram", eid_monday)   # closed on holidays
    assert desk_calendar.is_open("whatsapp", eid_monday)       # every day 08-20
    assert not desk_calendar.is_open("whatsapp", datetime(2025, 3, 31, 20, 0, tzinfo=WIB))
    assert desk_calendar.is_open("whatsapp", datetime(2025, 3, 31, 19, 59, tzinfo=WIB))
    # Unknown channel falls back to the default hours.
    assert not desk_calendar.is_open("email", eid_monday)


def test_next_open_skips_weekend_and_collective_leave(desk_calendar) -> None:
    after_hours = datetime(2025, 3, 27, 18, tzinfo=WIB)
    assert desk_calendar.next_open("telegram", after_hours) == datetime(2025, 4, 8, 9, tzinfo=WIB)
    assert desk_calendar.next_open("whatsapp", after_hours) == after_hours  # open until 20:00
    late = datetime(2025, 3, 27, 20, 30, tzinfo=WIB)
    assert desk_calendar.next_open("whatsapp", late) == datetime(2025, 3, 28, 8, tzinfo=WIB)
    early = datetime(2026, 1, 5, 7, tzinfo=WIB)
    assert desk_calendar.next_open("default", early) == datetime(2026, 1, 5, 9, tzinfo=WIB)
    open_now = datetime(2026, 1, 5, 10, tzinfo=WIB)
    assert desk_calendar.next_open("default", open_now) == open_now


def test_hours_text_is_indonesian(desk_calendar) -> None:
    assert desk_calendar.hours_text("telegram").startswith("Senin–Jumat 09.00–17.00 WIB")
    assert desk_calendar.hours_text("whatsapp") == "Setiap hari 08.00–20.00 WIB"


# --- properties -----------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31, 23, 59),
                       timezones=st.just(WIB))
clocks = st.sampled_from([Clock.FIRST_RESPONSE, Clock.RESOLUTION, Clock.EXTENDED_RESOLUTION,
                          Clock.STATUS_UPDATE])
policies = st.sampled_from(["pojk-18-2018", "pojk-22-2023"])
forms = st.sampled_from(["written", "oral"])


@hsettings(max_examples=300, deadline=None)
@given(received=moments, clock=clocks, policy=policies, form=forms, n=st.integers(0, 45))
def test_deadline_is_a_working_day_after_receipt(desk_calendar, received, clock, policy, form, n) -> None:
    due = deadline(clock, policy=load_policy(policy), calendar=desk_calendar, received_at=received,
                   form=form, working_days=n)
    assert desk_calendar.working.is_working_day(due.astimezone(WIB).date())
    assert due >= received


@hsettings(max_examples=300, deadline=None)
@given(received=moments, policy=policies, form=forms, n=st.integers(0, 40), more=st.integers(1, 10))
def test_more_working_days_never_give_an_earlier_deadline(desk_calendar, received, policy, form, n, more) -> None:
    p = load_policy(policy)
    shorter = deadline(Clock.RESOLUTION, policy=p, calendar=desk_calendar, received_at=received,
                       form=form, working_days=n)
    longer = deadline(Clock.RESOLUTION, policy=p, calendar=desk_calendar, received_at=received,
                      form=form, working_days=n + more)
    assert longer > shorter
    assert desk_calendar.working.working_days_between(shorter.date(), longer.date()) == more


@hsettings(max_examples=200, deadline=None)
@given(received=moments, delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)))
def test_later_receipt_never_gives_an_earlier_deadline(desk_calendar, received, delay) -> None:
    p = load_policy("pojk-18-2018")
    first = deadline(Clock.RESOLUTION, policy=p, calendar=desk_calendar, received_at=received)
    later = deadline(Clock.RESOLUTION, policy=p, calendar=desk_calendar, received_at=received + delay)
    assert later >= first
