"""What the privacy use cases need, built once per process from Settings and the lender file.

The lender file's ``privacy:`` section (see ``lender/demo.yml`` and
docs/privacy.md) holds the retention schedule and overrides of the rights
clock; ``tickets.sla.load_hours_policy`` reads the clock itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field
from sanic import Sanic

from attachments.files import FileStore
from desk.events import EventBus
from privacy.notice import NoticeConfig, PrivacyNotice
from privacy.retention import RetentionRule, build_schedule
from storage.base import utcnow
from tickets.calendar import DeskCalendar
from desk.config import Settings
from tickets.context import TicketContext
from tickets.sla import HoursPolicy, load_hours_policy

RIGHTS_POLICY = "uu-pdp-27-2022"


class PrivacyConfig(BaseModel):
    """The lender file's ``privacy:`` section."""

    # Merged over tickets/policies/uu-pdp-27-2022.yml, e.g. {"response": {"hours": 48}}.
    rights_sla_overrides: dict[str, Any] = Field(default_factory=dict)
    # Staff names in an access export: "role" replaces them with their role
    # (Pasal 32 gives the borrower the processing record, not colleagues' identities).
    staff_names_in_export: str = "role"
    # The retention schedule: record type -> {"period_days": int, "from": event}.
    retention: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # The notice sent at first contact on every channel (None: no notice — not ready to go live).
    notice: NoticeConfig | None = None


def load_privacy_config(path: Path) -> PrivacyConfig:
    """Read the ``privacy:`` section of a lender content file (absent: every default)."""
    with Path(path).open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return PrivacyConfig.model_validate(raw.get("privacy") or {})


def notice_from_lender_file(path: Path) -> PrivacyNotice | None:
    """The router's first-contact notice hook for a lender file, or None when it configures no notice."""
    config = load_privacy_config(path)
    if config.notice is None or not config.notice.at_first_contact:
        return None
    return PrivacyNotice(config.notice)


@dataclass
class PrivacyContext:
    """The collaborators of every privacy use case."""

    policy: HoursPolicy
    calendar: DeskCalendar
    config: PrivacyConfig = field(default_factory=PrivacyConfig)
    events: EventBus | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    brand: str = ""
    # Where attachment files live (the attachments part's store): anonymising destroys them there.
    files: FileStore | None = None

    def now(self) -> datetime:
        """The current time (a seam for tests)."""
        return utcnow()

    def schedule(self) -> dict[str, RetentionRule]:
        """The retention schedule: defaults with the lender file's ``privacy.retention`` applied."""
        return build_schedule(self.config.retention)


def build_privacy_context(settings: Settings, tickets: TicketContext, files: FileStore) -> PrivacyContext:
    """Read the ``privacy:`` section and the rights clock; share the tickets part's calendar and bus and
    the attachments part's file store."""
    config = load_privacy_config(settings.lender_content)
    build_schedule(config.retention)  # a schedule below a legal minimum stops the desk at start-up
    return PrivacyContext(policy=load_hours_policy(RIGHTS_POLICY, config.rights_sla_overrides),
                          calendar=tickets.calendar, config=config, events=tickets.events,
                          public_base_url=tickets.public_base_url, brand=tickets.lender.brand, files=files)


def install_context(app: Sanic, ctx: PrivacyContext) -> None:
    """Make ``ctx`` what ``privacy_context(app)`` returns (``privacy.api.install`` calls this)."""
    app.ctx.privacy = ctx


def privacy_context(app: Sanic) -> PrivacyContext:
    """The context installed on ``app``; raises if the privacy part was not installed."""
    ctx = getattr(app.ctx, "privacy", None)
    if not isinstance(ctx, PrivacyContext):
        raise RuntimeError("the privacy part is not installed on this app")
    return ctx
