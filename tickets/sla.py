"""SLA clocks: the policy (from configuration) and the one function that computes every deadline.

Definitions (see docs/tickets.md):

* **Start day.** A complaint received on a working day before the close of
  the policy's ``clock_hours`` office hours starts its clock that day;
  received later, or on a day off, it starts on the next working day.
* **"N working days after X"** is the end of the N-th working day after the
  start day of X — the start day itself is day 0. With ``due_at: end_of_day``
  the deadline is 23:59:59 WIB that day; with ``office_close`` it is the
  closing time of the ``clock_hours`` office hours that day.
* **"N clock hours after X"** (``HoursPolicy``, e.g. UU 27/2022's 3 × 24 hours
  for a data subject's rights request) counts every hour, nights, weekends and
  holidays included: the deadline is X plus N hours, to the second.
"""
from __future__ import annotations

import copy
import enum
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from tickets.calendar import WIB, DeskCalendar, to_wib

POLICY_DIR = Path(__file__).resolve().parent / "policies"
END_OF_DAY = time(23, 59, 59)


class ResolutionRule(BaseModel):
    working_days: int = Field(ge=0)
    counted_from: Literal["receipt", "first_response"] = "receipt"


class FirstResponseRule(BaseModel):
    working_days: int = Field(ge=0)


class ExtensionRule(BaseModel):
    working_days: int = Field(ge=0)
    max: int = Field(default=1, ge=0)
    notice_required: bool = True


class EveryRule(BaseModel):
    every_working_days: int = Field(ge=1)


class SlaPolicy(BaseModel):
    """Every figure of one SLA policy; working days in Asia/Jakarta."""

    name: str
    title: str = ""
    first_response: FirstResponseRule
    resolution: dict[Literal["written", "oral"], ResolutionRule]
    extension: ExtensionRule
    status_update: EveryRule
    department_reminder: EveryRule = EveryRule(every_working_days=2)
    alert_before_working_days: int = Field(default=1, ge=0)
    after_final_deadline: Literal["none", "laps_sjk"] = "none"
    due_at: Literal["end_of_day", "office_close"] = "end_of_day"
    clock_hours: str = "default"


class HoursRule(BaseModel):
    """A deadline in clock hours after receipt; nothing is skipped."""

    hours: int = Field(ge=1)


class HoursPolicy(BaseModel):
    """A policy whose clocks run in clock hours (weekends and holidays count).

    Used for personal-data rights requests (``tickets/policies/uu-pdp-27-2022.yml``);
    its alert comes ``alert_before_hours`` before the deadline.
    """

    name: str
    title: str = ""
    response: HoursRule
    # A personal-data breach: written notice to the people affected within these hours of discovery.
    breach_notice: HoursRule = HoursRule(hours=72)
    alert_before_hours: int = Field(default=24, ge=0)


class PolicyError(ValueError):
    """The named policy does not exist or the configuration is invalid."""


class Clock(str, enum.Enum):
    """The deadlines a ticket has."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    EXTENDED_RESOLUTION = "extended_resolution"
    STATUS_UPDATE = "status_update"
    DEPARTMENT_REMINDER = "department_reminder"
    # A personal-data rights request's answer (an ``HoursPolicy`` clock).
    RIGHTS_RESPONSE = "rights_response"
    # The written notice of a personal-data breach (an ``HoursPolicy`` clock, from discovery).
    BREACH_NOTICE = "breach_notice"


def available_policies() -> list[str]:
    """Names of the shipped policies."""
    return sorted(p.stem for p in POLICY_DIR.glob("*.yml"))


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_policy(name: str, overrides: tuple[dict[str, Any] | str | None, ...]) -> dict[str, Any]:
    path = POLICY_DIR / f"{name}.yml"
    if not path.is_file():
        raise PolicyError(f"unknown SLA policy {name!r}; shipped: {', '.join(available_policies())}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for override in overrides:
        if not override:
            continue
        if isinstance(override, str):
            try:
                override = json.loads(override)
            except json.JSONDecodeError as exc:
                raise PolicyError(f"SLA overrides are not valid JSON: {exc}") from exc
        if not isinstance(override, dict):
            raise PolicyError("SLA overrides must be a mapping")
        raw = _deep_merge(raw, override)
    raw["name"] = name  # an override may change figures, never the identity
    return raw


def load_policy(name: str, *overrides: dict[str, Any] | str | None) -> SlaPolicy:
    """Read policy ``name`` and apply overrides in order (dicts, or JSON text from the environment)."""
    raw = _read_policy(name, overrides)
    try:
        return SlaPolicy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"invalid SLA policy {name!r}: {exc}") from exc


def load_hours_policy(name: str, *overrides: dict[str, Any] | str | None) -> HoursPolicy:
    """Read a clock-hours policy (such as ``uu-pdp-27-2022``) with overrides, like ``load_policy``."""
    raw = _read_policy(name, overrides)
    try:
        return HoursPolicy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"invalid clock-hours policy {name!r}: {exc}") from exc


def start_day(at: datetime, *, policy: SlaPolicy, calendar: DeskCalendar) -> date:
    """The working day a clock that starts at ``at`` counts from (day 0)."""
    local = to_wib(at)
    day = local.date()
    hours = calendar.hours_for(policy.clock_hours)
    if calendar.working.is_working_day(day) and local.time() < hours.closes:
        return day
    return calendar.working.next_working_day(day)


def _due(day: date, *, policy: SlaPolicy, calendar: DeskCalendar) -> datetime:
    if policy.due_at == "office_close":
        return calendar.close_of(policy.clock_hours, day)
    return datetime.combine(day, END_OF_DAY, WIB)


def deadline(
    clock: Clock,
    *,
    policy: SlaPolicy | HoursPolicy,
    calendar: DeskCalendar,
    received_at: datetime,
    form: Literal["written", "oral"] = "written",
    first_response_at: datetime | None = None,
    since: datetime | None = None,
    working_days: int | None = None,
) -> datetime:
    """Compute one deadline of a ticket (aware, Asia/Jakarta). The only place deadlines are computed.

    * FIRST_RESPONSE — ``first_response`` working days after receipt.
    * RESOLUTION — by the form's rule: after receipt, or after the first
      response (``first_response_at``; until there is one, after the
      first-response deadline, the latest it may come).
    * EXTENDED_RESOLUTION — the extension's working days after the current
      resolution deadline (``since``; the original one when None).
    * STATUS_UPDATE / DEPARTMENT_REMINDER — the rule's interval after
      ``since`` (the last update or reminder; receipt when None).

    * RIGHTS_RESPONSE — an ``HoursPolicy``'s response hours after receipt,
      in clock hours: nights, weekends and holidays count.
    * BREACH_NOTICE — an ``HoursPolicy``'s breach-notice hours after
      ``received_at`` (the discovery of the breach), in clock hours.

    ``working_days`` replaces the policy's figure (used to compare clocks of
    different lengths; the property tests rely on it).
    """
    if isinstance(policy, HoursPolicy):
        if clock is Clock.RIGHTS_RESPONSE:
            return to_wib(received_at + timedelta(hours=policy.response.hours))
        if clock is Clock.BREACH_NOTICE:
            return to_wib(received_at + timedelta(hours=policy.breach_notice.hours))
        raise ValueError(f"clock {clock.value!r} needs a working-day policy, not {policy.name!r}")
    if clock in (Clock.RIGHTS_RESPONSE, Clock.BREACH_NOTICE):
        raise ValueError(f"clock {clock.value!r} needs a clock-hours policy, not {policy.name!r}")
    def n(default: int) -> int:
        return default if working_days is None else working_days

    def after(at: datetime, days: int) -> datetime:
        start = start_day(at, policy=policy, calendar=calendar)
        return _due(calendar.working.add_working_days(start, days), policy=policy, calendar=calendar)

    if clock is Clock.FIRST_RESPONSE:
        return after(received_at, n(policy.first_response.working_days))
    if clock is Clock.RESOLUTION:
        rule = policy.resolution[form]
        if rule.counted_from == "first_response":
            if first_response_at is not None:
                return after(first_response_at, n(rule.working_days))
            # No response yet: count from the day the first response is due
            # (day 0), the latest the response may come.
            fr_day = to_wib(deadline(Clock.FIRST_RESPONSE, policy=policy, calendar=calendar,
                                     received_at=received_at)).date()
            return _due(calendar.working.add_working_days(fr_day, n(rule.working_days)),
                        policy=policy, calendar=calendar)
        return after(received_at, n(rule.working_days))
    if clock is Clock.EXTENDED_RESOLUTION:
        current = since or deadline(Clock.RESOLUTION, policy=policy, calendar=calendar,
                                    received_at=received_at, form=form,
                                    first_response_at=first_response_at)
        day = calendar.working.add_working_days(to_wib(current).date(), n(policy.extension.working_days))
        return _due(day, policy=policy, calendar=calendar)
    if clock is Clock.STATUS_UPDATE:
        return after(since or received_at, n(policy.status_update.every_working_days))
    if clock is Clock.DEPARTMENT_REMINDER:
        return after(since or received_at, n(policy.department_reminder.every_working_days))
    raise ValueError(f"unknown clock {clock!r}")


def alert_from(due: datetime, *, policy: SlaPolicy | HoursPolicy, calendar: DeskCalendar) -> datetime:
    """When the "deadline approaching" alert for ``due`` becomes due: the start of the
    working day ``alert_before_working_days`` before the deadline's day (for an
    ``HoursPolicy``, ``alert_before_hours`` clock hours before the deadline)."""
    if isinstance(policy, HoursPolicy):
        return due - timedelta(hours=policy.alert_before_hours)
    day = to_wib(due).date()
    for _ in range(policy.alert_before_working_days):
        day = _previous_working_day(day, calendar)
    return datetime.combine(day, time.min, WIB)


def clock_alert(due: datetime | None, now: datetime, *, policy: SlaPolicy | HoursPolicy,
                calendar: DeskCalendar) -> str | None:
    """The alert a deadline calls for at ``now``: ``"overdue"`` once it passed, ``"due_soon"`` from
    ``alert_from``, None before that or without a deadline.

    The one rule behind every clock's alerts: complaint SLAs (``tickets.scheduler``),
    rights requests and the breach register (``privacy.scheduler``).
    """
    if due is None:
        return None
    if now >= due:
        return "overdue"
    if now >= alert_from(due, policy=policy, calendar=calendar):
        return "due_soon"
    return None


def _previous_working_day(day: date, calendar: DeskCalendar) -> date:
    current = day - timedelta(days=1)
    while not calendar.working.is_working_day(current):
        current -= timedelta(days=1)
    return current
