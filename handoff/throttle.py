"""Staff login throttling: a temporary lock per account and per client address.

Every sign-in attempt is a row in ``login_attempts`` (username and address as
HMAC-SHA256 keyed with ``SESSION_SECRET``), so the counts hold across every
desk instance and worker sharing the database. Within ``window``:

* ``per_account`` failed attempts for one username (since its last successful
  sign-in) lock that username;
* ``per_address`` failed attempts from one address, whatever usernames it
  tried, lock that address (spraying one password over many accounts).

A locked attempt is refused without checking the password, answered exactly
like a wrong password (same page, same status, a password hash is still
computed so the timing matches), recorded with ``throttled = true`` and
audited as ``login.throttled``. Locked attempts do not extend the lock: it
ends once the failures that caused it are older than ``window``. Two
attempts racing past the check at once may both be counted; the limit is a
ceiling on guessing speed, not an exact count.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import LoginAttempt
from storage.base import utcnow


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failures before a lock, and how long a failure counts (= how long a lock lasts)."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class LoginKeys:
    """The keyed hashes one attempt is counted under."""

    account: str
    address: str


def login_keys(secret: str, username: str, address: str) -> LoginKeys:
    """Hash the username (case-insensitive, as people type it) and the client address."""
    def key(kind: str, value: str) -> str:
        return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    return LoginKeys(key("account", username.strip().lower()), key("address", address or "-"))


async def locked_scope(session: AsyncSession, keys: LoginKeys, limits: LoginLimits,
                       *, now: datetime | None = None) -> str | None:
    """``"account"`` or ``"address"`` when that key is locked now, else None (read only)."""
    since = (now or utcnow()) - limits.window
    last_success = await session.scalar(
        select(func.max(LoginAttempt.created_at))
        .where(LoginAttempt.account_key == keys.account, LoginAttempt.succeeded.is_(True),
               LoginAttempt.created_at >= since))
    account_since = max(since, _aware(last_success)) if last_success is not None else since
    if await _failures(session, LoginAttempt.account_key == keys.account, account_since) >= limits.per_account:
        return "account"
    if await _failures(session, LoginAttempt.address_key == keys.address, since) >= limits.per_address:
        return "address"
    return None


async def record_attempt(session: AsyncSession, keys: LoginKeys, *, succeeded: bool, throttled: bool = False,
                         now: datetime | None = None) -> None:
    """Store one attempt in the caller's transaction (no commit)."""
    session.add(LoginAttempt(account_key=keys.account, address_key=keys.address, succeeded=succeeded,
                             throttled=throttled, created_at=now or utcnow()))
    await session.flush()


async def _failures(session: AsyncSession, which: object, since: datetime) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(LoginAttempt)
        .where(which, LoginAttempt.succeeded.is_(False), LoginAttempt.throttled.is_(False),
               LoginAttempt.created_at > since)) or 0)


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes.
    return at if at.tzinfo is not None else at.replace(tzinfo=utcnow().tzinfo)
