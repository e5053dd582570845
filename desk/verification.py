"""Identity checks for the bot, throttled against guessing.

The bot hands a conversation to a person after three failed checks, but that
alone does not stop someone from guessing the loan id that goes with a phone
number across several conversations (or after each handoff is closed). So the
desk counts failed checks per claimed phone number, per claimed loan id and per
conversation over a sliding window, and once a limit is reached it answers
"not verified" without asking the lending core at all.

The answer is the same ``{"verified": false}`` either way: a throttled check
reveals neither that the limit was hit nor whether the phone is registered.
The bot's own three-strikes rule then brings a person in, who can verify the
borrower by other means.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk.phone import InvalidPhone, normalise_phone
from desk.store import ConversationStore
from desk.lending import LendingCore
from storage.base import utcnow
from storage.db import Database
from storage.models import VerificationAttempt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerificationLimits:
    """How many failed checks are allowed within ``window`` before refusing."""

    per_claim: int = 5
    per_conversation: int = 6
    window: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class VerifyOutcome:
    """What the check decided. ``throttled`` is for logs and tests, never for the borrower."""

    customer_id: str | None
    throttled: bool = False

    @property
    def verified(self) -> bool:
        return self.customer_id is not None


def claim_key(secret: str, kind: str, value: str) -> str:
    """A keyed hash of a claimed identifier, so the table holds no personal data."""
    return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _canonical_phone(phone: str) -> str:
    # "0812…" and "+62812…" are the same claim; text that is no phone at all
    # still counts as a guess, under its own spelling.
    try:
        return normalise_phone(phone)
    except InvalidPhone:
        return phone.strip().lower()


class VerifyCustomer:
    """One use case: check name + phone + loan id for a conversation, with throttling."""

    def __init__(self, db: Database, lending: LendingCore, *, secret: str, store: ConversationStore,
                 limits: VerificationLimits | None = None) -> None:
        """``store`` records the verified customer on the conversation (its one writer)."""
        self._db = db
        self._store = store
        self._lending = lending
        self._secret = secret
        self._limits = limits or VerificationLimits()

    async def __call__(self, *, conversation_id: str, full_name: str, phone: str, loan_id: str,
                       now: datetime | None = None) -> VerifyOutcome:
        """Check the claim; on success record the customer on the conversation."""
        now = now or utcnow()
        phone_key = claim_key(self._secret, "phone", _canonical_phone(phone))
        loan_key = claim_key(self._secret, "loan", loan_id.strip().upper())
        async with self._db.transaction() as session:
            throttled = await self._over_limit(session, conversation_id, phone_key, loan_key, now)
        customer_id = None if throttled else await self._lending.verify(
            full_name=full_name, phone=phone, loan_id=loan_id)
        async with self._db.transaction() as session:
            if customer_id is not None:
                # Earlier failed tries in this conversation that named the same phone or the same loan were
                # this customer's own check too (a typo): tie them to the customer, so they are kept as long
                # as its identity records (privacy.retention). Tries naming neither were someone else's.
                await session.execute(update(VerificationAttempt).where(
                    VerificationAttempt.conversation_public_id == conversation_id,
                    VerificationAttempt.customer_id.is_(None),
                    or_(VerificationAttempt.phone_key == phone_key, VerificationAttempt.loan_key == loan_key))
                    .values(customer_id=customer_id))
            session.add(VerificationAttempt(
                conversation_public_id=conversation_id, phone_key=phone_key, loan_key=loan_key,
                customer_id=customer_id, succeeded=customer_id is not None, throttled=throttled, created_at=now))
        if customer_id is not None and not await self._store.record_verified_customer(conversation_id, customer_id):
            log.warning("verified customer for unknown conversation %s", conversation_id)
        if throttled:
            log.warning("customer verification throttled conversation=%s", conversation_id)
        else:
            log.info("customer verification %s conversation=%s",
                     "succeeded" if customer_id else "failed", conversation_id)
        return VerifyOutcome(customer_id=customer_id, throttled=throttled)

    async def _over_limit(self, session: AsyncSession, conversation_id: str, phone_key: str,
                          loan_key: str, now: datetime) -> bool:
        since = now - self._limits.window
        failed = (VerificationAttempt.succeeded.is_(False), VerificationAttempt.created_at > since)

        async def count(*where) -> int:
            return int(await session.scalar(
                select(func.count()).select_from(VerificationAttempt).where(*failed, *where)) or 0)

        # Failed checks that named the same phone number or the same loan id,
        # from any conversation: that is what a guesser repeats.
        per_claim = await count(or_(VerificationAttempt.phone_key == phone_key,
                                    VerificationAttempt.loan_key == loan_key))
        if per_claim >= self._limits.per_claim:
            return True
        per_conversation = await count(VerificationAttempt.conversation_public_id == conversation_id)
        return per_conversation >= self._limits.per_conversation
