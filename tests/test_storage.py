"""The conversation store keeps order and refuses duplicate deliveries."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.models import Conversation, Message


async def test_times_come_back_aware_utc(database) -> None:
    async with database.transaction() as s:
        conv = Conversation(channel="whatsapp", sender="+6281234567890")
        s.add(conv)
    async with database.session() as s:
        loaded = (await s.execute(select(Conversation))).scalar_one()
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset().total_seconds() == 0


async def test_same_external_id_on_a_channel_is_refused(database) -> None:
    async with database.transaction() as s:
        conv = Conversation(channel="whatsapp", sender="+6281234567890")
        s.add(conv)
        await s.flush()
        s.add(Message(conversation_id=conv.id, seq=1, channel="whatsapp", external_id="SM1",
                      direction="in", author="borrower", text="halo"))
    with pytest.raises(IntegrityError):
        async with database.transaction() as s:
            s.add(Message(conversation_id=conv.id, seq=2, channel="whatsapp", external_id="SM1",
                          direction="in", author="borrower", text="halo"))


async def test_naive_datetimes_are_rejected(database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with database.transaction() as s:
            s.add(Conversation(channel="telegram", sender="42", created_at=datetime(2026, 1, 1)))
    async with database.transaction() as s:
        s.add(Conversation(channel="telegram", sender="43",
                           created_at=datetime(2026, 1, 1, tzinfo=timezone.utc)))


@pytest.mark.parametrize("idle_seconds, survives", [(0.0, True), (3600.0, False)],
                         ids=["pinged-when-idle", "not-idle-long-enough"])
async def test_postgres_idle_connection_that_died_is_replaced_before_use(idle_seconds, survives) -> None:
    """No ping per checkout (three round trips with asyncpg), but a connection idle for
    ``ping_after_idle_seconds`` is checked and replaced if the server dropped it.
    Always on PostgreSQL (the pool behaviour exists only there), whatever --db says."""
    import asyncpg
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from storage.db import Database
    from tests.conftest import PG_ADMIN_URL
    from tests.support.services import ensure_postgres

    ensure_postgres()
    db = Database(PG_ADMIN_URL, pool_size=1, ping_after_idle_seconds=idle_seconds)
    try:
        async with db.engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        admin = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://"))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await asyncio.sleep(0.1)
        if survives:
            async with db.engine.connect() as conn:
                assert await conn.scalar(text("SELECT pg_backend_pid()")) != pid
        else:
            with pytest.raises(DBAPIError):
                async with db.engine.connect() as conn:
                    await conn.scalar(text("SELECT 1"))
    finally:
        await db.dispose()
