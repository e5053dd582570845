"""Everything the ticket use cases need, built once from Settings and injected.

The root builds one (``aduan.services.Services.tickets``) and installs it on the
app (``tickets.api.install``), so handlers, the scheduler and the console share
one calendar, one policy and one lender file per process; the CLI builds its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sanic import Sanic

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


def install_context(app: Sanic, ctx: TicketContext) -> None:
    """Make ``ctx`` what ``ticket_context(app)`` returns (``tickets.api.install`` calls this)."""
    app.ctx.tickets = ctx


def ticket_context(app: Sanic) -> TicketContext:
    """The context installed on ``app``; raises if the tickets part was not installed."""
    ctx = getattr(app.ctx, "tickets", None)
    if not isinstance(ctx, TicketContext):
        raise RuntimeError("the tickets part is not installed on this app")
    return ctx
