"""Everything the ticket use cases need, built once from Settings and injected.

Lives in ``services.extra["tickets"]`` so handlers, the scheduler and the CLI
share one calendar, one policy and one lender file per process.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from desk.config import Settings
from desk.events import EventBus
from tickets.calendar import DeskCalendar, load_working_calendar
from tickets.lender import LenderContent, load_lender
from tickets.sla import SlaPolicy, load_policy
from storage.base import utcnow


class TicketEnv(BaseSettings):
    """Knobs of the tickets part that are not in desk Settings."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # JSON merged over the policy after the lender file's sla_overrides, e.g.
    # SLA_OVERRIDES='{"resolution": {"written": {"working_days": 15}}}'
    sla_overrides: str | None = None
    # How often the background scheduler ticks, in seconds.
    tickets_tick_seconds: float = 60.0


@dataclass
class TicketContext:
    """The collaborators of every ticket use case."""

    lender: LenderContent
    calendar: DeskCalendar
    policy: SlaPolicy
    events: EventBus | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    tick_seconds: float = 60.0

    def now(self) -> datetime:
        """The current time (a seam for tests)."""
        return utcnow()


def build_context(settings: Settings, events: EventBus | None = None,
                  env: TicketEnv | None = None, **policy_overrides: Any) -> TicketContext:
    """Read lender content, calendar and SLA policy named by ``settings``."""
    env = env or TicketEnv()
    lender = load_lender(settings.lender_content)
    calendar = DeskCalendar(load_working_calendar(settings.calendar_file), lender.office_hours)
    policy = load_policy(settings.sla_policy, lender.sla_overrides, env.sla_overrides, policy_overrides)
    return TicketContext(lender=lender, calendar=calendar, policy=policy, events=events,
                         public_base_url=settings.public_base_url.rstrip("/"),
                         tick_seconds=env.tickets_tick_seconds)


def ticket_context(services: Any) -> TicketContext:
    """The context stored on ``services`` (built on first use)."""
    ctx = services.extra.get("tickets")
    if ctx is None:
        ctx = build_context(services.settings, services.events)
        services.extra["tickets"] = ctx
    return ctx
