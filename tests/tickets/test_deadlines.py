"""Deadlines checked by hand against the 2025–2026 calendar.

Days off assumed (weekends aside), from the `holidays` package's national
holidays and tickets/calendar/id_extra_days_off.yml (cuti bersama = cb):

2025: Jan 1 (Wed), Jan 27 (Mon), Jan 28 (Tue, cb), Jan 29 (Wed), Mar 28 (Fri, cb),
      Mar 29 (Sat), Mar 31 (Mon, Idul Fitri), Apr 1 (Tue, Idul Fitri),
      Apr 2, 3, 4, 7 (Wed–Fri, Mon, cb), Apr 18 (Fri), May 1 (Thu), May 12 (Mon),
      May 13 (Tue, cb), May 29 (Thu), May 30 (Fri, cb), Jun 6 (Fri), Jun 9 (Mon, cb),
      Jun 27 (Fri), Aug 18 (Mon, cb), Sep 5 (Fri), Dec 25 (Thu), Dec 26 (Fri, cb).
2026: Jan 1 (Thu), Jan 16 (Fri), Feb 16 (Mon, cb), Feb 17 (Tue), Mar 18 (Wed, cb),
      Mar 19 (Thu), Mar 20 (Fri, cb), Mar 21–22 (Sat–Sun, Idul Fitri),
      Mar 23, 24 (Mon–Tue, cb), Apr 3 (Fri), May 1 (Fri), May 14 (Thu), May 15 (Fri, cb),
      May 27 (Wed), May 28 (Thu, cb), Jun 1 (Mon), Jun 16 (Tue), Aug 17 (Mon),
      Aug 25 (Tue), Dec 24 (Thu, cb), Dec 25 (Fri).
2027: Jan 1 (Fri), Jan 5 (Tue) — no collective leave configured for 2027.

Rules under test (docs/tickets.md): the default desk hours are Mon–Fri
09:00–17:00 WIB; a complaint received on a working day before 17:00 starts its
clock that day (day 0), otherwise on the next working day; "N working days
after" is 23:59:59 WIB of the N-th working day after day 0.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from tickets.calendar import WIB
from tickets.sla import Clock, deadline, load_policy

FR, RES, EXT, UPD = Clock.FIRST_RESPONSE, Clock.RESOLUTION, Clock.EXTENDED_RESOLUTION, Clock.STATUS_UPDATE
P18, P22 = "pojk-18-2018", "pojk-22-2023"


def wib(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


CASES = [
    # --- Idul Fitri 2025: Thu 27 Mar, next working days Tue 8 Apr, Wed 9 Apr ...
    ("eid25-fr", P18, FR, wib(2025, 3, 27), "written", date(2025, 4, 9)),
    ("eid25-fr-p22", P22, FR, wib(2025, 3, 27), "written", date(2025, 4, 9)),
    # Apr 8-11 (1-4), 14-17 (5-8), [18 off], 21-25 (9-13), 28-30 (14-16), [May 1], May 2 (17), 5-7 (18-20)
    ("eid25-written-p18", P18, RES, wib(2025, 3, 27), "written", date(2025, 5, 7)),
    # Apr 8-11 (1-4), 14-17 (5-8), 21 (9), 22 (10)
    ("eid25-written-p22", P22, RES, wib(2025, 3, 27), "written", date(2025, 4, 22)),
    # from Apr 22: 23-25 (1-3), 28-30 (4-6), May 2 (7), 5-7 (8-10)
    ("eid25-extended-p22", P22, EXT, wib(2025, 3, 27), "written", date(2025, 5, 7)),
    # after hours on Thu 27 Mar: day 0 is Tue 8 Apr, due Thu 10 Apr
    ("eid25-after-hours", P18, FR, wib(2025, 3, 27, 18, 30), "written", date(2025, 4, 10)),
    # Saturday 29 Mar (Nyepi too): day 0 is Tue 8 Apr
    ("eid25-saturday", P18, FR, wib(2025, 3, 29, 11), "written", date(2025, 4, 10)),
    # --- Christmas and New Year 2025/2026: Wed 24 Dec 16:59 is in hours.
    # [25, 26 off, 27-28 weekend] 29 (1), 30 (2)
    ("xmas25-fr", P18, FR, wib(2025, 12, 24, 16, 59), "written", date(2025, 12, 30)),
    # 17:00 is closing time: day 0 is Mon 29 Dec; 30 (1), 31 (2) — year end
    ("xmas25-at-close", P18, FR, wib(2025, 12, 24, 17, 0), "written", date(2025, 12, 31)),
    # 29-31 (1-3), [Jan 1], Jan 2 (4), 5-9 (5-9), 12 (10)
    ("xmas25-written-p22", P22, RES, wib(2025, 12, 24, 16, 59), "written", date(2026, 1, 12)),
    # ... 13-15 (11-13), [16 Isra Mi'raj], 19-23 (14-18), 26 (19), 27 (20)
    ("xmas25-written-p18", P18, RES, wib(2025, 12, 24, 16, 59), "written", date(2026, 1, 27)),
    # --- Weekend receipt, Sat 6 Dec 2025: day 0 Mon 8 Dec
    ("weekend-fr", P18, FR, wib(2025, 12, 6), "written", date(2025, 12, 10)),
    # 9-12 (1-4), 15-19 (5-9), 22 (10)
    ("weekend-written-p22", P22, RES, wib(2025, 12, 6), "written", date(2025, 12, 22)),
    # 23 (11), 24 (12), [25, 26], 29-31 (13-15), [Jan 1], Jan 2 (16), 5-8 (17-20)
    ("weekend-written-p18", P18, RES, wib(2025, 12, 6), "written", date(2026, 1, 8)),
    # --- Imlek 2026: Fri 13 Feb; [16 cb, 17 Imlek] 18 (1), 19 (2)
    ("imlek26-fr", P18, FR, wib(2026, 2, 13, 11), "written", date(2026, 2, 19)),
    # --- Idul Fitri 2026: Tue 17 Mar; [18-24 off] 25 (1), 26 (2)
    ("eid26-fr", P18, FR, wib(2026, 3, 17, 9), "written", date(2026, 3, 26)),
    # 25-27 (1-3), 30-31 (4-5), Apr 1-2 (6-7), [3 Good Friday], 6-8 (8-10)
    ("eid26-written-p22", P22, RES, wib(2026, 3, 17, 9), "written", date(2026, 4, 8)),
    # 9-10 (11-12), 13-17 (13-17), 20-22 (18-20)
    ("eid26-written-p18", P18, RES, wib(2026, 3, 17, 9), "written", date(2026, 4, 22)),
    # from Apr 22: 23-24 (1-2), 27-30 (3-6), [May 1], 4-8 (7-11), 11-13 (12-14),
    # [14 Ascension, 15 cb], 18-22 (15-19), 25 (20)
    ("eid26-extended-p18", P18, EXT, wib(2026, 3, 17, 9), "written", date(2026, 5, 25)),
    # status update every 5: 25-27 (1-3), 30 (4), 31 (5)
    ("eid26-status-update", P18, UPD, wib(2026, 3, 17, 9), "written", date(2026, 3, 31)),
    # --- Oral complaint, month end: received Thu 29 Jan 2026, first response not yet given:
    # first response due Mon 2 Feb (30 Jan (1), 2 Feb (2)); then 3-6 (1-4), 9 (5)
    ("oral-no-response-p18", P18, RES, wib(2026, 1, 29), "oral", date(2026, 2, 9)),
    # POJK 22 counts oral complaints from receipt, 5 working days: 30 (1), Feb 2-5 (2-5)
    ("oral-p22", P22, RES, wib(2026, 1, 29), "oral", date(2026, 2, 5)),
    # --- Year end 2026/2027, Wed 23 Dec 20:00 (after hours): [24 cb, 25, weekend] day 0 Mon 28;
    # 29 (1), 30 (2)
    ("ye26-fr", P18, FR, wib(2026, 12, 23, 20), "written", date(2026, 12, 30)),
    # 29-31 (1-3), [Jan 1], Jan 4 (4), [5 Isra Mi'raj], 6-8 (5-7), 11-13 (8-10)
    ("ye26-written-p22", P22, RES, wib(2026, 12, 23, 20), "written", date(2027, 1, 13)),
    # --- Before opening on a working day: Mon 5 Jan 2026 07:00 is day 0; 6 (1), 7 (2)
    ("before-opening", P18, FR, wib(2026, 1, 5, 7), "written", date(2026, 1, 7)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_deadline_table(case, desk_calendar) -> None:
    _, policy_name, clock, received, form, expected_day = case
    due = deadline(clock, policy=load_policy(policy_name), calendar=desk_calendar,
                   received_at=received, form=form)
    assert due == datetime.combine(expected_day, time(23, 59, 59), WIB)


def test_utc_input_is_read_in_jakarta_time(desk_calendar) -> None:
    # Sun 4 Jan 2026 23:30 UTC is Mon 5 Jan 06:30 WIB: day 0 is Monday, due Wed 7 Jan.
    due = deadline(FR, policy=load_policy(P18), calendar=desk_calendar,
                   received_at=datetime(2026, 1, 4, 23, 30, tzinfo=timezone.utc))
    assert due.astimezone(WIB).date() == date(2026, 1, 7)


def test_oral_resolution_counts_from_the_actual_first_response(desk_calendar) -> None:
    # First response Fri 30 Jan 2026 14:00 is day 0; Feb 2-6 (1-5).
    due = deadline(RES, policy=load_policy(P18), calendar=desk_calendar, received_at=wib(2026, 1, 29),
                   form="oral", first_response_at=wib(2026, 1, 30, 14))
    assert due.date() == date(2026, 2, 6)


def test_office_close_due_time(desk_calendar) -> None:
    policy = load_policy(P18, {"due_at": "office_close"})
    due = deadline(FR, policy=policy, calendar=desk_calendar, received_at=wib(2025, 3, 27))
    assert due == datetime(2025, 4, 9, 17, 0, tzinfo=WIB)


def test_lender_override_changes_one_figure(desk_calendar) -> None:
    policy = load_policy(P18, {"first_response": {"working_days": 3}}, '{"extension": {"max": 2}}')
    assert policy.first_response.working_days == 3
    assert policy.extension.max == 2
    assert policy.resolution["written"].working_days == 20  # untouched
    # Thu 27 Mar 2025: Apr 8 (1), 9 (2), 10 (3)
    due = deadline(FR, policy=policy, calendar=desk_calendar, received_at=wib(2025, 3, 27))
    assert due.date() == date(2025, 4, 10)


def test_unknown_policy_is_a_clear_error() -> None:
    from tickets.sla import PolicyError

    with pytest.raises(PolicyError, match="unknown SLA policy 'pojk-99'"):
        load_policy("pojk-99")
    with pytest.raises(PolicyError, match="invalid SLA policy"):
        load_policy(P18, {"first_response": {"working_days": -1}})
