"""The columns every alert raised once on a clock shares, defined once.

Three tables hold such alerts: the tickets part's SLA alerts
(``tickets.models.TicketAlert``) and the privacy part's rights-request and
breach alerts (``privacy.models.RightsAlert``, ``BreachAlert``). Each is
claimed once per (record, key) by ``desk.periodic.claim_once`` and read by the
one visibility rule ``tickets.alerts.visible_to``, so the columns those two
rely on are declared here and nowhere else. A table adds its own id, the
foreign key to the record the clock runs on, the unique (record, key)
constraint and any column of its own.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import utcnow


class AlertColumns:
    """Mixin for an alert table's shared columns (use with ``storage.base.Base``).

    ``key`` names the occurrence (``resolution_overdue``, ``status_update:3``)
    and makes the claim idempotent together with the record's id; ``kind`` is
    what the console shows and filters on; ``recipients`` has the shape
    ``visible_to`` reads (``{"user_ids": [...], "roles": [...]}``).
    """

    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    recipients: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
