"""The 72-hour rights clock: clock hours across weekends, alerts before it runs out, closing in time."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from privacy import scheduler, service
from privacy.errors import IdentityNotVerified
from privacy.models import RequestKind, RequestSource, RequestStatus, RightsAlert
from tickets.calendar import WIB
from tickets.sla import Clock, HoursPolicy, deadline, load_hours_policy, load_policy
from sqlalchemy import select

# Fri 20 Nov 2026 16:30 WIB: the clock runs through Saturday and Sunday.
FRIDAY = datetime(2026, 11, 20, 16, 30, tzinfo=WIB)


def test_rights_clock_counts_weekend_hours(desk_calendar) -> None:
    policy = load_hours_policy("uu-pdp-27-2022")
    due = deadline(Clock.RIGHTS_RESPONSE, policy=policy, calendar=desk_calendar, received_at=FRIDAY)
    # 72 clock hours: Monday 16:30, not Wednesday as three working days would give.
    assert due == datetime(2026, 11, 23, 16, 30, tzinfo=WIB)
    assert due.utcoffset() == timedelta(hours=7)


def test_rights_clock_crosses_a_public_holiday(desk_calendar) -> None:
    # Christmas (Fri 25 Dec 2026) and the weekend after it count like any day.
    received = datetime(2026, 12, 24, 9, 0, tzinfo=WIB)
    due = deadline(Clock.RIGHTS_RESPONSE, policy=load_hours_policy("uu-pdp-27-2022"), calendar=desk_calendar,
                   received_at=received)
    assert due == datetime(2026, 12, 27, 9, 0, tzinfo=WIB)


def test_the_clocks_refuse_the_wrong_kind_of_policy(desk_calendar) -> None:
    with pytest.raises(ValueError):
        deadline(Clock.RIGHTS_RESPONSE, policy=load_policy("pojk-18-2018"), calendar=desk_calendar,
                 received_at=FRIDAY)
    with pytest.raises(ValueError):
        deadline(Clock.RESOLUTION, policy=load_hours_policy("uu-pdp-27-2022"), calendar=desk_calendar,
                 received_at=FRIDAY)


def test_a_lender_may_shorten_the_clock() -> None:
    policy = load_hours_policy("uu-pdp-27-2022", {"response": {"hours": 48}})
    assert isinstance(policy, HoursPolicy) and policy.response.hours == 48


async def _record(database, ctx, kind=RequestKind.ACCESS, actor=None, **over):
    data = service.NewRequest(kind=kind, source=RequestSource.PHONE, requester_name="Budi Santoso",
                              requester_contact="0812-3456-7890", **over)
    async with database.transaction() as s:
        return await service.record_request(s, ctx, data, actor)


async def test_recorded_request_gets_its_deadline_and_erasure_none(database, privacy_ctx, clock, staff) -> None:
    clock.at = FRIDAY
    r = await _record(database, privacy_ctx, actor=staff["agent"].id)
    assert r.due_at == datetime(2026, 11, 23, 16, 30, tzinfo=WIB)
    assert r.status == RequestStatus.RECEIVED.value
    erasure = await _record(database, privacy_ctx, kind=RequestKind.ERASURE)
    assert erasure.due_at is None


async def test_alerts_before_and_after_the_deadline_raised_once(database, privacy_ctx, clock, staff,
                                                                event_bus) -> None:
    clock.at = FRIDAY
    r = await _record(database, privacy_ctx, actor=staff["agent"].id)
    # Sunday 16:29: more than 24 hours left, nothing yet.
    assert (await scheduler.tick(database, privacy_ctx, datetime(2026, 11, 22, 16, 29, tzinfo=WIB))).total == 0
    soon = datetime(2026, 11, 22, 16, 31, tzinfo=WIB)
    assert (await scheduler.tick(database, privacy_ctx, soon)).raised == {"rights_due_soon": 1}
    assert (await scheduler.tick(database, privacy_ctx, soon)).total == 0  # once only
    late = datetime(2026, 11, 23, 16, 31, tzinfo=WIB)
    assert (await scheduler.tick(database, privacy_ctx, late)).raised == {"rights_overdue": 1}
    async with database.session() as s:
        keys = sorted(a.key for a in await s.scalars(select(RightsAlert).where(RightsAlert.request_id == r.id)))
        assert keys == ["rights_due_soon", "rights_overdue"]
        # The tickets part's visibility rule: the assignee and supervisors, not another agent.
        assert await scheduler.alerts_for(s, staff["supervisor"])
        assert await scheduler.alerts_for(s, staff["agent"])
        assert not await scheduler.alerts_for(s, staff["agent2"])


async def test_completed_only_after_identity_verified_and_in_time_recorded(database, privacy_ctx, clock,
                                                                          staff) -> None:
    clock.at = FRIDAY
    r = await _record(database, privacy_ctx, actor=staff["agent"].id)
    async with database.transaction() as s:
        r = await service.get_request(s, r.number, for_update=True)
        with pytest.raises(IdentityNotVerified):
            await service.close_request(s, privacy_ctx, r, status=RequestStatus.COMPLETED, outcome="sent",
                                        actor_id=staff["agent"].id)
        r.customer_id, r.verified_at = "CUST-0001", clock.at  # as verify_identity leaves it
        clock.at = FRIDAY + timedelta(hours=71)
        await service.close_request(s, privacy_ctx, r, status=RequestStatus.COMPLETED, outcome="data sent",
                                    actor_id=staff["agent"].id)
        assert r.answered_in_time is True
    late = await _record(database, privacy_ctx, actor=staff["agent"].id, received_at=clock.at - timedelta(hours=73))
    async with database.transaction() as s:
        late = await service.get_request(s, late.number, for_update=True)
        await service.close_request(s, privacy_ctx, late, status=RequestStatus.REFUSED, outcome="no identity",
                                    actor_id=staff["agent"].id)
        assert late.answered_in_time is False
