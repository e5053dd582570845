"""WhatsApp's 24-hour window and delivery status, against a fake Twilio that behaves like the real one.

The fake accepts free text outside the window as ``queued`` and reports it
``failed`` with 63016 through the signed status callback, as WhatsApp does;
the desk must then send the approved template (once), hold what has none,
and record every report without moving a status backwards.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from connectors.whatsapp import STATUS_PATH
from desk.config import Settings
from desk.messages import OutboundMessage, TemplateUse
from desk.outbox import enqueue
from desk.templates import load_templates
from storage.base import utcnow
from storage.models import Conversation, Direction, Message, OutboxItem
from tests.channels.conftest import NOTICES_AT_FIRST_CONTACT, PUBLIC_BASE_URL, TELEGRAM_TOKEN, Desk
from tests.channels.support import count_rows, telegram_message_update, twilio_form, twilio_signature
from tests.fakes import FakeTelegram, FakeTwilio

BORROWER = "+6281234567890"
STATUS_URL = PUBLIC_BASE_URL + STATUS_PATH
TEMPLATES = load_templates(Settings().lender_content)


@pytest.fixture
def fake_twilio(settings: Settings) -> Iterator[FakeTwilio]:
    with FakeTwilio(auth_token=settings.twilio_auth_token, enforce_window=True, callback_delay=0.05) as fake:
        yield fake


@pytest.fixture
async def wdesk(desk: Desk, fake_twilio: FakeTwilio) -> Desk:
    """The desk behind a proxy: Twilio calls the public URL, the proxy forwards to the desk."""
    fake_twilio.forward_callbacks_to = desk.url
    return desk


async def borrower_writes(desk: Desk, twilio: FakeTwilio, n: int, *, hours_ago: float = 0.0,
                          tell_whatsapp: bool = True) -> None:
    """The borrower sends message ``n``; ``hours_ago`` moves it back in time at the desk (and at WhatsApp)."""
    sid = f"SM{n:032d}"
    form = twilio_form(Body=f"pesan {n}", MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    sig = twilio_signature(desk.settings.twilio_auth_token, PUBLIC_BASE_URL + "/webhooks/whatsapp", form)
    async with httpx.AsyncClient() as client:
        answer = await client.post(desk.url + "/webhooks/whatsapp", data=form, headers={"X-Twilio-Signature": sig})
    assert answer.status_code == 200
    if hours_ago:
        async with desk.db.transaction() as session:
            await session.execute(update(Message).where(Message.external_id == sid)
                                  .values(created_at=utcnow() - timedelta(hours=hours_ago)))
    if tell_whatsapp:
        import time
        twilio.borrower_wrote(BORROWER, time.time() - hours_ago * 3600)


async def queue(desk: Desk, message: OutboundMessage, *, author: str = "system") -> int:
    async with desk.db.transaction() as session:
        conversation = await session.scalar(select(Conversation).where(Conversation.sender == BORROWER))
        assert conversation is not None
        _, item = await enqueue(session, conversation, message, author=author)
        return item.id


async def item(desk: Desk, item_id: int) -> OutboxItem:
    async with desk.db.session() as session:
        found = await session.get(OutboxItem, item_id)
        assert found is not None
        return found


async def until(desk: Desk, item_id: int, predicate, timeout: float = 10.0) -> OutboxItem:  # type: ignore[no-untyped-def]
    """Run the outbox until the item satisfies ``predicate`` (callbacks arrive from the fake's thread)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        await desk.deliver()
        found = await item(desk, item_id)
        if predicate(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


STATUS_UPDATE = OutboundMessage(
    text="Aduan DCI-1 sedang kami proses.\nKami kabari lagi paling lambat 5 hari kerja.",
    template=TemplateUse("status_update", {"ticket_number": "DCI-1",
                                           "summary": "Aduan DCI-1 sedang kami proses.\nKami kabari lagi."}))


async def test_inside_the_window_free_text_goes_with_a_status_callback(wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    await borrower_writes(wdesk, fake_twilio, 1)
    [reply] = await wdesk.deliver_replies()
    [sent] = fake_twilio.messages[NOTICES_AT_FIRST_CONTACT:]
    assert sent.body.startswith("Halo Kak") and sent.content_sid is None
    assert sent.status_callback == STATUS_URL
    done = await until(wdesk, reply.id, lambda i: i.delivery_status == "read")
    assert (done.form, done.delivery_status) == ("text", "read")
    # The fake records a callback after the desk answered it, so the desk can be a step ahead.
    fake_twilio.wait_for_callbacks(3 * (1 + NOTICES_AT_FIRST_CONTACT))
    callbacks = [c for c in fake_twilio.callbacks if c.sid == sent.sid]
    assert [c.status for c in callbacks] == ["sent", "delivered", "read"]
    assert all(c.answer == 200 for c in fake_twilio.callbacks)


async def test_outside_the_window_the_desk_sends_the_approved_template(wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    await borrower_writes(wdesk, fake_twilio, 1, hours_ago=30)
    await wdesk.deliver()
    fake_twilio.reset()
    item_id = await queue(wdesk, STATUS_UPDATE)

    done = await until(wdesk, item_id, lambda i: i.delivery_status == "read")
    [sent] = fake_twilio.messages
    assert sent.content_sid == TEMPLATES.get("status_update").content_sid  # type: ignore[union-attr]
    # One line per variable: WhatsApp refuses newlines in template parameters.
    assert sent.content_variables == {"1": "DCI-1", "2": "Aduan DCI-1 sedang kami proses. Kami kabari lagi."}
    assert sent.body == "" and sent.status_callback == STATUS_URL
    assert (done.status, done.form, done.delivery_status) == ("sent", "template", "read")


async def test_a_message_with_no_template_outside_the_window_is_held_until_the_borrower_writes(
        wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    await borrower_writes(wdesk, fake_twilio, 1, hours_ago=30)
    await wdesk.deliver()
    fake_twilio.reset()
    item_id = await queue(wdesk, OutboundMessage(text="Baik Kak, kami cek dulu ya."), author="agent")

    await wdesk.deliver()
    held = await item(wdesk, item_id)
    assert fake_twilio.messages == []  # never sent blindly
    assert (held.status, held.delivery_error) == ("held", "no_template")
    assert "outside the customer-care window" in (held.last_error or "")

    await borrower_writes(wdesk, fake_twilio, 2)
    assert wdesk.services.outbox is not None
    # The bot's greeting to the old message (and the privacy notice before it) was held too: all go now.
    assert await wdesk.services.outbox.release_held() == 2 + NOTICES_AT_FIRST_CONTACT
    done = await until(wdesk, item_id, lambda i: i.status == "sent")
    assert (done.status, done.form) == ("sent", "text")
    assert "Baik Kak, kami cek dulu ya." in [m.body for m in fake_twilio.messages]


async def test_63016_switches_the_message_to_its_template_and_resends_it_once(
        wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    # The desk believes the window is open; WhatsApp knows better (the borrower's message was
    # stored late, clocks differ): the text is accepted as queued and fails with 63016.
    await borrower_writes(wdesk, fake_twilio, 1, tell_whatsapp=False)
    await wdesk.deliver()
    item_id = await queue(wdesk, STATUS_UPDATE)

    done = await until(wdesk, item_id, lambda i: i.form == "template" and i.delivery_status == "read")
    texts = [m for m in fake_twilio.messages if m.body.startswith("Aduan DCI-1")]
    templates = [m for m in fake_twilio.messages if m.content_sid]
    assert len(texts) == 1 and len(templates) == 1
    assert (done.form, done.delivery_status, done.template_only) == ("template", "read", True)
    assert ("failed", "63016") in [(c.status, c.error_code) for c in fake_twilio.callbacks if c.sid == texts[0].sid]

    # Once: a 63016 reported for the template itself does not send it again.
    assert await fake_twilio.send_status_async(templates[0].sid, "failed", "63016") == 200
    await wdesk.deliver()
    assert len([m for m in fake_twilio.messages if m.content_sid]) == 1


async def test_63016_on_a_message_with_no_template_holds_it_with_the_reason(
        wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    await borrower_writes(wdesk, fake_twilio, 1, tell_whatsapp=False)
    [greeting] = await wdesk.deliver_replies()
    done = await until(wdesk, greeting.id, lambda i: i.status == "held")
    assert (done.status, done.delivery_error) == ("held", "no_template")
    assert len(fake_twilio.messages) == 1 + NOTICES_AT_FIRST_CONTACT


async def test_callbacks_out_of_order_never_move_a_status_backwards(wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    fake_twilio.callback_delay = 3600.0  # automatic callbacks never come: the test sends them
    await borrower_writes(wdesk, fake_twilio, 1)
    [reply] = await wdesk.deliver_replies()
    sid = fake_twilio.messages[NOTICES_AT_FIRST_CONTACT].sid
    for status in ("read", "delivered", "sent", "queued"):
        assert await fake_twilio.send_status_async(sid, status) == 200
    assert (await item(wdesk, reply.id)).delivery_status == "read"


async def test_forged_and_malformed_callbacks_are_refused_and_change_nothing(
        wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    fake_twilio.callback_delay = 3600.0
    await borrower_writes(wdesk, fake_twilio, 1)
    [reply] = await wdesk.deliver_replies()
    sid = fake_twilio.messages[NOTICES_AT_FIRST_CONTACT].sid
    assert await fake_twilio.send_status_async(sid, "read", signature="bm90IGEgc2lnbmF0dXJl") == 403
    forged = FakeTwilio(auth_token="another-accounts-token")
    forged.messages = fake_twilio.messages
    forged.forward_callbacks_to = wdesk.url
    assert await forged.send_status_async(sid, "failed", "63016") == 403
    assert await fake_twilio.send_status_async(sid, "exploded") == 400
    assert await fake_twilio.send_status_async(sid, "failed", "not-a-code") == 400
    async with httpx.AsyncClient() as client:
        form = {"AccountSid": "ACx"}
        answer = await client.post(wdesk.url + STATUS_PATH, data=form, headers={
            "X-Twilio-Signature": twilio_signature(wdesk.settings.twilio_auth_token, STATUS_URL, form)})
        assert answer.status_code == 400
        assert answer.json()["error"] == "malformed"
    after = await item(wdesk, reply.id)
    assert (after.status, after.delivery_status, after.delivery_error) == ("sent", None, None)


async def test_a_failure_other_than_63016_is_recorded_and_not_resent(wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    fake_twilio.callback_delay = 3600.0
    await borrower_writes(wdesk, fake_twilio, 1)
    [reply] = await wdesk.deliver_replies()
    sid = fake_twilio.messages[NOTICES_AT_FIRST_CONTACT].sid
    assert await fake_twilio.send_status_async(sid, "undelivered", "30008") == 200
    await wdesk.deliver()
    after = await item(wdesk, reply.id)
    assert (after.status, after.delivery_status, after.delivery_error) == ("sent", "undelivered", "30008")
    assert len(fake_twilio.messages) == 1 + NOTICES_AT_FIRST_CONTACT


async def test_a_borrower_who_blocked_the_telegram_bot_is_recorded_once_not_retried(
        wdesk: Desk, fake_telegram: FakeTelegram) -> None:
    fake_telegram.block(555001)
    update_ = telegram_message_update(9001, 555001, "halo")
    async with httpx.AsyncClient() as client:
        answer = await client.post(wdesk.url + "/webhooks/telegram", json=update_,
                                   headers={"X-Telegram-Bot-Api-Secret-Token": wdesk.settings.telegram_secret_token})
    assert answer.status_code == 200
    [reply] = await wdesk.deliver_replies()
    assert (reply.status, reply.attempts, reply.delivery_status, reply.delivery_error) == (
        "failed", 1, "failed", "Forbidden")
    await wdesk.make_retries_due()
    await wdesk.deliver()
    sends = [r for r in fake_telegram.requests if r.path.endswith("/sendMessage")]
    assert len(sends) == 1 + NOTICES_AT_FIRST_CONTACT  # the notice and the reply, once each


async def test_template_payload_survives_storage(wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    await borrower_writes(wdesk, fake_twilio, 1)
    item_id = await queue(wdesk, STATUS_UPDATE)
    async with wdesk.db.session() as session:
        message = await session.scalar(select(Message).join(OutboxItem, OutboxItem.message_id == Message.id)
                                       .where(OutboxItem.id == item_id))
    assert message is not None and message.direction == Direction.OUTBOUND.value
    assert OutboundMessage.from_payload(message.text, message.payload).template == STATUS_UPDATE.template
    assert json.loads(json.dumps(message.payload))["template"]["key"] == "status_update"
    assert TELEGRAM_TOKEN  # the module's fixtures run with the shared channel settings
    assert await count_rows(wdesk.db) == (3 + NOTICES_AT_FIRST_CONTACT, 2 + NOTICES_AT_FIRST_CONTACT)


async def test_a_callback_that_comes_before_the_send_is_recorded_is_not_lost(
        wdesk: Desk, fake_twilio: FakeTwilio) -> None:
    import asyncio

    fake_twilio.callback_delay = 3600.0
    await borrower_writes(wdesk, fake_twilio, 1)
    [reply] = await wdesk.deliver_replies()
    sid = fake_twilio.messages[NOTICES_AT_FIRST_CONTACT].sid
    async with wdesk.db.transaction() as session:  # as if the worker had not recorded the send yet
        await session.execute(update(OutboxItem).where(OutboxItem.id == reply.id).values(provider_message_id=None))

    async def record_late() -> None:
        await asyncio.sleep(1.0)
        async with wdesk.db.transaction() as session:
            await session.execute(update(OutboxItem).where(OutboxItem.id == reply.id).values(provider_message_id=sid))

    late = asyncio.create_task(record_late())
    assert await fake_twilio.send_status_async(sid, "delivered") == 200
    await late
    assert (await item(wdesk, reply.id)).delivery_status == "delivered"
