"""Reminders to supervisors that a periodic report falls due."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class ReportReminder(Base):
    """One alert per (period, stage): the unique key makes the reminder job idempotent."""

    __tablename__ = "report_reminders"
    __table_args__ = (UniqueConstraint("period_key", "working_days_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_key: Mapped[str] = mapped_column(String(16))
    period_kind: Mapped[str] = mapped_column(String(8))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    # The stage: how many working days before the due date this reminder belongs to.
    working_days_before: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
