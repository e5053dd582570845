"""Knobs of the human side, read from the environment (see docs/handoff.md)."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HandoffSettings(BaseSettings):
    """Environment: STAFF_SESSION_HOURS, HANDOFF_AUTO_ASSIGN, HANDOFF_RATING_WINDOW_MINUTES."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    staff_session_hours: float = Field(default=10.0, gt=0)
    # New handoffs go round-robin to available agents under capacity; off = pick-up only.
    handoff_auto_assign: bool = True
    # How long after closing a rating (and then a comment) is taken from the borrower.
    handoff_rating_window_minutes: int = Field(default=60 * 24, gt=0)
    handoff_comment_window_minutes: int = Field(default=15, gt=0)
    # Staff sign-in throttling (handoff/throttle.py): failed attempts per username
    # and per client address within LOGIN_LOCK_MINUTES before that key is locked
    # for the rest of the window.
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_lock_minutes: float = Field(default=15.0, gt=0)
