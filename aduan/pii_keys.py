"""The database's side of the PII keys (desk.pii): the start-up check and the re-key after a rotation.

The root knows every part's tables, so the list of sealed columns lives here,
next to the two operations that walk it. A part that adds a column holding a
phone number or another identifier adds it to ``SEALED`` (and the dump test,
``tests/privacy/test_pii_at_rest.py``, fails until it is sealed); a free-text
column declared with ``storage.sealed.seal_column`` joins it by itself.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aduan.registry import metadata
from desk import pii
from storage.base import utcnow
from storage.db import Database
from storage.models import Conversation, Message, OutboxItem, PiiKeyCheck
from storage.sealed import SEALED_COLUMNS
from privacy.models import RightsRequest
from tickets.models import Ticket

CANARY_KIND = "canary"
CANARY_TEXT = "aduan-pii-canary"
# Rows re-keyed per transaction: bounded so a large table does not hold one long transaction.
BATCH = 500


@dataclass(frozen=True)
class Sealed:
    """One table's sealed column and, when it has one, its look-up key column."""

    table: Table
    enc: str
    key: str | None
    kind: Callable[[object], str]
    """The encryption kind of a row (its channel's, for channel addresses)."""
    lookup: Callable[[pii.Keyring, object, str], str] | None = None
    """The look-up key of a row's clear value."""


def _sender_kind(row: object) -> str:
    return pii.sender_kind(row.channel)  # type: ignore[attr-defined]


SEALED: tuple[Sealed, ...] = (
    Sealed(Conversation.__table__, "sender_enc", "sender_key", _sender_kind,
           lambda ring, row, clear: pii.sender_key(ring, row.channel, clear)),  # type: ignore[attr-defined]
    Sealed(OutboxItem.__table__, "recipient_enc", None, _sender_kind),
    Sealed(Ticket.__table__, "phone_enc", "phone_key", lambda row: pii.PHONE,
           lambda ring, row, clear: pii.phone_key(ring, clear)),
    Sealed(Message.__table__, "text_enc", None, lambda row: pii.MESSAGE),
    Sealed(RightsRequest.__table__, "requester_contact_enc", None, lambda row: pii.CONTACT),
) + tuple(
    # Chronologies, notes, summaries, ticket history, e-mail, ID-card address (storage.sealed).
    Sealed(metadata.tables[c.table], c.enc, None, lambda row, kind=c.kind: kind) for c in SEALED_COLUMNS
)


async def check_keys(db: Database, ring: pii.Keyring | None = None) -> None:
    """Refuse to run with keys that do not fit the database; raises ``desk.pii.PiiKeyError`` with what to do.

    The first run on a database records the current key (a sealed canary).
    Later runs open the canary: a key id that is not configured, or key
    material that does not open it, is reported before any borrower's row is
    touched. A current key other than the recorded one means the keys were
    rotated and ``aduan pii-rekey`` has not run: look-ups would miss every
    existing conversation, so the desk does not start.
    """
    ring = ring or pii.keyring()
    async with db.transaction() as session:
        row = await session.scalar(select(PiiKeyCheck).order_by(PiiKeyCheck.id).limit(1))
        if row is None:
            session.add(PiiKeyCheck(key_id=ring.current_id, canary=ring.encrypt(CANARY_KIND, CANARY_TEXT)))
            return
        if ring.decrypt(CANARY_KIND, row.canary) != CANARY_TEXT:
            raise pii.PiiKeyError(f"PII key {row.key_id} opens the canary to the wrong text")
        if row.key_id != ring.current_id:
            raise pii.PiiKeyError(
                f"the database's look-up keys were made with PII key {row.key_id}, but the current key is "
                f"{ring.current_id}: run `aduan pii-rekey` (with both keys configured) before starting the desk")


@dataclass
class RekeyReport:
    """How many rows of each table ``rekey`` rewrote."""

    rewritten: dict[str, int]


async def rekey(db: Database, ring: pii.Keyring | None = None) -> RekeyReport:
    """Re-seal every sealed value with the current key and recompute every look-up key; idempotent.

    Every key that sealed a value must still be configured (a value it cannot
    open raises ``desk.pii.PiiKeyError`` naming the key, and the batch it was
    in is rolled back; batches before it stay done and a rerun continues).
    Finally records the current key in ``pii_key_check``. Run it with the desk
    stopped: until it ends, look-ups by the new key miss the rows not yet done.
    """
    ring = ring or pii.keyring()
    report = RekeyReport({})
    for sealed in SEALED:
        table = sealed.table
        last_id = 0
        while True:
            async with db.transaction() as session:
                rows = (await session.execute(
                    select(table).where(table.c.id > last_id).order_by(table.c.id).limit(BATCH))).all()
                if not rows:
                    break
                last_id = rows[-1].id
                done = await _rekey_rows(session, ring, sealed, rows)
            if done:
                report.rewritten[table.name] = report.rewritten.get(table.name, 0) + done
    async with db.transaction() as session:
        row = await session.scalar(select(PiiKeyCheck).order_by(PiiKeyCheck.id).limit(1))
        canary = ring.encrypt(CANARY_KIND, CANARY_TEXT)
        if row is None:
            session.add(PiiKeyCheck(key_id=ring.current_id, canary=canary))
        else:
            row.key_id, row.canary, row.updated_at = ring.current_id, canary, utcnow()
    return report


async def _rekey_rows(session: AsyncSession, ring: pii.Keyring, sealed: Sealed,
                      rows: Sequence[Row[Any]]) -> int:
    table, done = sealed.table, 0
    for row in rows:
        token = getattr(row, sealed.enc)
        if not token:
            continue  # anonymised: nothing to open, and its key is not a hash
        kind = sealed.kind(row)
        clear = ring.decrypt(kind, token)
        values = {}
        if not ring.is_current(token):
            values[sealed.enc] = ring.encrypt(kind, clear)
        if sealed.key is not None and sealed.lookup is not None:
            key = sealed.lookup(ring, row, clear)
            if key != getattr(row, sealed.key):
                values[sealed.key] = key
        if values:
            await session.execute(update(table).where(table.c.id == row.id).values(**values))
            done += 1
    return done


def sealed_with(rows_keys: dict[str, int]) -> str:
    """``table: n`` pairs for the command's output."""
    return ", ".join(f"{name}: {n}" for name, n in sorted(rows_keys.items())) or "nothing to rewrite"
