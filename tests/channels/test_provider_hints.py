"""Providers' wait hints reach the outbox: Telegram's 429 ``retry_after``, Twilio's 429 ``Retry-After``."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from desk.sender import ProviderError
from connectors.telegram import TelegramSender
from connectors.whatsapp import TwilioSender, parse_retry_after
from desk.messages import Channel, OutboundMessage
from desk.outbox import enqueue
from desk.outbox_worker import OutboxWorker
from desk.store import find_or_open_conversation
from storage.base import utcnow
from storage.models import OutboxItem


async def test_twilio_429_retry_after_header_is_passed_on(channel_settings, fake_twilio) -> None:
    sender = TwilioSender(channel_settings)
    fake_twilio.fail_next(1, 429, retry_after=10)
    try:
        with pytest.raises(ProviderError) as raised:
            await sender.send("+6281234567890", OutboundMessage(text="halo"))
        assert raised.value.retryable and raised.value.retry_after == 10
        fake_twilio.fail_next(1, 503)  # a 5xx carries no hint, and a later one does not inherit the 429's
        with pytest.raises(ProviderError) as raised:
            await sender.send("+6281234567890", OutboundMessage(text="halo"))
        assert raised.value.retryable and raised.value.retry_after is None
    finally:
        await sender.close()


def test_retry_after_header_forms() -> None:
    assert parse_retry_after("120") == 120 and parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past: now


async def test_telegram_429_retry_after_is_passed_on(channel_settings, fake_telegram) -> None:
    sender = TelegramSender(channel_settings)
    try:
        await sender.answer_callback("warm-up")
        fake_telegram.fail_next(1, 429, retry_after=10)
        with pytest.raises(ProviderError) as raised:
            await sender.send("5550001", OutboundMessage(text="halo"))
        assert raised.value.retryable and raised.value.retry_after == 10
    finally:
        await sender.close()


async def test_the_outbox_waits_as_long_as_telegram_says(database, channel_settings, fake_telegram) -> None:
    """Told 10 s, the next attempt comes no sooner (it used to come after the 2 s backoff)."""
    now = [utcnow()]
    sender = TelegramSender(channel_settings)
    worker = OutboxWorker(database, {Channel.TELEGRAM: sender}, clock=lambda: now[0], rand=lambda: 1.0)
    async with database.transaction() as s:
        conv = await find_or_open_conversation(s, "telegram", "5550001")
        await enqueue(s, conv, OutboundMessage(text="halo Kak"), author="bot")
    now[0] = start = utcnow()
    try:
        await sender.answer_callback("warm-up")  # the bot's getMe, so the 429 below meets sendMessage
        before = len(fake_telegram.requests)
        fake_telegram.fail_next(1, 429, retry_after=10)
        await worker.run_once()
        for seconds in (2, 5, 9.9):
            now[0] = start + timedelta(seconds=seconds)
            assert await worker.run_once() == 0
        assert len(fake_telegram.requests) == before + 1  # only the refused sendMessage
        now[0] = start + timedelta(seconds=10)
        assert await worker.run_once() == 1
    finally:
        await sender.close()
    assert [c.params["text"] for c in fake_telegram.sent_messages] == ["halo Kak"]
    async with database.session() as s:
        assert (await s.scalar(select(OutboxItem.status))) == "sent"
