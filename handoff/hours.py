"""Office hours as the human queue sees them: open now, or when a person will answer.

The calendar is ``tickets.calendar`` (one place for working days and office
hours). When it cannot be built the queue still works; the borrower is then
told only that a person will answer as soon as possible.
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from desk.config import Settings
from tickets.context import build_context

log = logging.getLogger(__name__)
WIB = ZoneInfo("Asia/Jakarta")
_DAYS = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
_MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
           "September", "Oktober", "November", "Desember"]


class Calendar(Protocol):
    def is_open(self, channel: str | None, at: datetime) -> bool: ...

    def next_open(self, channel: str | None, at: datetime) -> datetime: ...

    def hours_text(self, channel: str | None) -> str: ...


_configured: Any = None


def configure(calendar: Calendar | None) -> None:
    """Use ``calendar`` (the app wires the tickets part's calendar here at start-up)."""
    global _configured
    _configured = calendar


def configure_default(calendar: Calendar | None) -> None:
    """Use ``calendar`` unless one was configured explicitly (tests pin their own hours)."""
    if _configured is None:
        configure(calendar)


@lru_cache(maxsize=1)
def _default_calendar() -> Calendar | None:
    try:
        return build_context(Settings()).calendar
    except Exception as exc:  # noqa: BLE001 - no calendar yet: degrade, never block a handoff
        log.warning("office hours unavailable (%s); the queue treats the desk as open", type(exc).__name__)
        return None


def calendar() -> Calendar | None:
    """The calendar in use, or None when there is none."""
    return _configured if _configured is not None else _default_calendar()


def format_wib(at: datetime) -> str:
    """"Senin, 23 November 2026 pukul 09.00 WIB"."""
    local = at.astimezone(WIB)
    return f"{_DAYS[local.weekday()]}, {local.day} {_MONTHS[local.month - 1]} {local.year} pukul {local:%H.%M} WIB"


def out_of_hours_notice(channel: str, now: datetime) -> str | None:
    """The borrower-facing notice when people are not working on ``channel`` now; else None."""
    cal = calendar()
    if cal is None:
        return None
    try:
        if cal.is_open(channel, now):
            return None
        opens = cal.next_open(channel, now)
        hours = cal.hours_text(channel)
    except Exception:  # noqa: BLE001
        log.exception("office hours lookup failed for channel %s", channel)
        return None
    # Sent right after the desk's holding reply or the bot's handoff text, so it neither thanks the borrower
    # for waiting nor apologises a second time.
    return (f"Saat ini di luar jam layanan petugas CS kami ({hours}), Kak. Pesan Anda sudah masuk antrean "
            f"dan tidak akan hilang; petugas kami akan membalas mulai {format_wib(opens)}.")
