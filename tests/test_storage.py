"""The conversation store keeps order and refuses duplicate deliveries."""
from __future__ import annotations

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
