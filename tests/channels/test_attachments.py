"""Files from all three channels: recorded without delaying the reply, fetched by the background job,
checked by content and size, stored; a file that cannot be fetched stays visible with its reason.

Twilio media and Telegram files come from the provider fakes, which behave as
the providers document: Twilio media needs HTTP basic auth (401 without) and
redirects to the content; Telegram needs getFile, then the file path, and
refuses files over 20 MB.
"""
from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from attachments import service
from attachments.models import Attachment
from attachments.runtime import Attachments
from connectors.inapp import mint_token
from desk.messages import OutboundMessage
from desk.outbox import enqueue
from desk.store import find_or_open_conversation
from storage.base import utcnow
from storage.models import Direction, Message, OutboxItem
from tests.attachments import samples
from tests.channels.conftest import NOTICES_AT_FIRST_CONTACT, PUBLIC_BASE_URL, Desk, after_notice
from tests.channels.support import telegram_message_update, twilio_form
from tests.channels.test_telegram import post_update
from tests.channels.test_whatsapp import post_signed
from tests.fakes import FakeTelegram, FakeTwilio


def runtime(desk: Desk) -> Attachments:
    assert desk.services.attachments is not None
    return desk.services.attachments


async def rows(desk: Desk) -> list[Attachment]:
    async with desk.db.session() as session:
        return list(await session.scalars(select(Attachment).order_by(Attachment.id)))


async def whatsapp_media(desk: Desk, fake: FakeTwilio, data: bytes, content_type: str = "image/jpeg",
                         sid: str | None = None) -> httpx.Response:
    url = fake.add_media(desk.settings.twilio_account_sid, data, content_type)
    sid = sid or "SM" + uuid.uuid4().hex
    form = twilio_form(Body="", NumMedia="1", MediaUrl0=url, MediaContentType0=content_type, MessageSid=sid,
                       SmsMessageSid=sid)
    return await post_signed(desk, form)


@pytest.fixture(autouse=True)
def twilio_media_auth(desk: Desk, fake_twilio: FakeTwilio) -> None:
    # Media authentication on, as Twilio recommends: the token is checked too.
    fake_twilio.auth_token = desk.settings.twilio_auth_token


async def test_the_fake_twilio_refuses_media_without_basic_auth(desk: Desk, fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(desk.settings.twilio_account_sid, samples.png(), "image/png")
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, auth=(desk.settings.twilio_account_sid, "wrong"))).status_code == 401
        ok = await client.get(url, auth=(desk.settings.twilio_account_sid, desk.settings.twilio_auth_token),
                              follow_redirects=True)
    assert ok.status_code == 200 and ok.content == samples.png()


async def test_whatsapp_photo_is_answered_at_once_and_fetched_in_the_background(
        desk: Desk, fake_twilio: FakeTwilio) -> None:
    response = await whatsapp_media(desk, fake_twilio, samples.jpeg_like(), "image/jpeg")
    assert response.status_code == 200

    # The borrower's message went through the router as usual; the file waits for the job.
    [row] = await rows(desk)
    assert row.status == "pending" and row.direction == "in" and row.channel == "whatsapp"
    items = await desk.deliver_replies()
    assert [i.status for i in items] == ["sent"] and len(after_notice([m.body for m in fake_twilio.messages])) == 1
    media_requests = [r for r in fake_twilio.requests if "/Media/" in r.path]
    assert media_requests == []  # nothing fetched inside the webhook

    assert await runtime(desk).worker.run_once() == 1
    [row] = await rows(desk)
    assert (row.status, row.content_type, row.size, row.reason) == ("stored", "image/jpeg", 2048, None)
    assert await runtime(desk).files.get(row.storage_key) == samples.jpeg_like()
    [media_request] = [r for r in fake_twilio.requests if "/Media/" in r.path]
    assert media_request.headers["authorization"].startswith("Basic ")
    assert await runtime(desk).worker.run_once() == 0


async def test_redelivered_webhook_records_each_file_once(desk: Desk, fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(desk.settings.twilio_account_sid, samples.png(), "image/png")
    form = twilio_form(Body="bukti bayar", NumMedia="1", MediaUrl0=url, MediaContentType0="image/png")
    assert (await post_signed(desk, form)).status_code == 200
    assert (await post_signed(desk, form)).status_code == 200
    assert len(await rows(desk)) == 1


async def test_declared_type_is_not_trusted(desk: Desk, fake_twilio: FakeTwilio) -> None:
    await whatsapp_media(desk, fake_twilio, samples.HTML, "image/jpeg")
    await runtime(desk).worker.run_once()
    [row] = await rows(desk)
    assert (row.status, row.reason, row.storage_key) == ("failed", "wrong_type", None)
    assert "declared image/jpeg" in (row.reason_detail or "")


async def test_too_large_file_is_not_retrieved_with_the_reason(desk: Desk, fake_twilio: FakeTwilio) -> None:
    runtime(desk).worker.max_bytes = 1000
    await whatsapp_media(desk, fake_twilio, samples.jpeg_like(5000))
    await runtime(desk).worker.run_once()
    [row] = await rows(desk)
    assert (row.status, row.reason) == ("failed", "too_large")


async def test_provider_errors_are_retried_then_shown_as_not_retrieved(desk: Desk, fake_twilio: FakeTwilio) -> None:
    await whatsapp_media(desk, fake_twilio, samples.png(), "image/png")
    fake_twilio.start_outage(503)
    worker = runtime(desk).worker
    for attempt in range(1, worker.max_attempts + 1):
        async with desk.db.transaction() as session:  # skip the backoff
            await session.execute(update(Attachment).values(next_attempt_at=utcnow()))
        assert await worker.run_once() == 1
        [row] = await rows(desk)
        assert row.attempts == attempt and row.reason == "provider_error"
        assert row.status == ("failed" if attempt == worker.max_attempts else "pending")
    fake_twilio.end_outage()
    assert await worker.run_once() == 0  # given up: only a person's retry fetches it again


async def test_media_url_off_twilio_is_never_sent_credentials(desk: Desk, fake_twilio: FakeTwilio,
                                                             fake_telegram: FakeTelegram) -> None:
    # A URL on another host (here the Telegram fake) is refused before any request.
    url = fake_telegram.base_url + "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    form = twilio_form(Body="", NumMedia="1", MediaUrl0=url, MediaContentType0="image/png")
    assert (await post_signed(desk, form)).status_code == 200
    await runtime(desk).worker.run_once()
    [row] = await rows(desk)
    assert (row.status, row.reason) == ("failed", "unsupported_source")
    assert fake_telegram.requests == []


async def test_telegram_photo_is_fetched_with_get_file(desk: Desk, fake_telegram: FakeTelegram) -> None:
    file_id = fake_telegram.add_file(samples.png())
    update_ = telegram_message_update(5001, 777001, "", caption="ini bukti transfer",
                                      photo=[{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
                                             {"file_id": file_id, "file_unique_id": "b", "width": 800,
                                              "height": 800}])
    assert (await post_update(desk, update_)).status_code == 200
    assert (await runtime(desk).worker.run_once()) == 1
    [row] = await rows(desk)
    assert (row.status, row.content_type, row.channel) == ("stored", "image/png", "telegram")
    assert await runtime(desk).files.get(row.storage_key) == samples.png()
    [get_file] = [c for c in fake_telegram.calls if c.method == "getFile"]
    assert get_file.params["file_id"] == file_id  # the largest size Telegram offered


async def test_telegram_file_over_20_mb_is_shown_as_too_large(desk: Desk, fake_telegram: FakeTelegram) -> None:
    file_id = fake_telegram.add_file(samples.pdf(), size=21 * 1024 * 1024, suffix="pdf")
    update_ = telegram_message_update(5002, 777002, "", document={
        "file_id": file_id, "file_unique_id": "d", "file_name": "surat-kuasa.pdf", "mime_type": "application/pdf",
        "file_size": 21 * 1024 * 1024})
    assert (await post_update(desk, update_)).status_code == 200
    await runtime(desk).worker.run_once()
    [row] = await rows(desk)
    assert (row.status, row.reason) == ("failed", "too_large")
    assert "20 MB" in (row.reason_detail or "")


async def test_telegram_unknown_file_is_not_found(desk: Desk, fake_telegram: FakeTelegram) -> None:
    update_ = telegram_message_update(5003, 777003, "", photo=[
        {"file_id": "gone", "file_unique_id": "g", "width": 1, "height": 1}])
    assert (await post_update(desk, update_)).status_code == 200
    await runtime(desk).worker.run_once()
    [row] = await rows(desk)
    assert (row.status, row.reason) == ("failed", "not_found")


async def test_location_is_kept_on_the_message_not_as_a_file(desk: Desk) -> None:
    form = twilio_form(Body="", Latitude="-6.2", Longitude="106.8")
    assert (await post_signed(desk, form)).status_code == 200
    assert await rows(desk) == []


# -- in-app uploads --------------------------------------------------------------------------------
async def upload(desk: Desk, data: bytes, *, client_id: str | None = None, text: str = "",
                 token: str | None = None, filename: str = "bukti.png") -> httpx.Response:
    token = token or mint_token(desk.settings, "CUST-0001")
    async with httpx.AsyncClient() as client:
        return await client.post(desk.url + "/chat/api/uploads", headers={"Authorization": f"Bearer {token}"},
                                 data={"client_message_id": client_id or uuid.uuid4().hex, "text": text},
                                 files={"file": (filename, data, "application/octet-stream")})


async def test_inapp_upload_is_a_message_answered_like_any_other(desk: Desk) -> None:
    big = samples.jpeg_like(3 * 1024 * 1024)  # over the desk's 2 MB body limit for other requests
    response = await upload(desk, big, text="ini KTP saya")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["duplicate"] is False and after_notice([r["text"] for r in body["replies"]])[0].startswith("Halo Kak")
    [row] = await rows(desk)
    assert row.status == "pending" and row.source_ref.startswith("upload:")
    await runtime(desk).worker.run_once()
    [row] = await rows(desk)
    assert (row.status, row.content_type, row.size) == ("stored", "image/jpeg", len(big))
    async with desk.db.session() as session:
        [message] = await session.scalars(select(Message).where(Message.direction == Direction.INBOUND.value))
    assert message.text == "ini KTP saya" and row.message_id == message.id


@pytest.mark.parametrize(("data", "status", "code"), [
    (samples.HTML, 415, "file_type"), (samples.GIF, 415, "file_type"),
    (samples.jpeg_like(10 * 1024 * 1024 + 1), 413, "file_too_large"),
    (samples.jpeg_like(12 * 1024 * 1024), 413, "file_too_large"),
])
async def test_inapp_upload_of_a_wrong_file_is_refused_with_the_reason(desk: Desk, data: bytes, status: int,
                                                                        code: str) -> None:
    response = await upload(desk, data)
    assert response.status_code == status and response.json()["error"] == code
    assert await rows(desk) == []
    async with desk.db.session() as session:
        assert list(await session.scalars(select(Message))) == []
    assert not any(p.is_file() for p in runtime(desk).settings.attachments_dir.rglob("*"))


async def test_inapp_upload_needs_the_token(desk: Desk) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(desk.url + "/chat/api/uploads", data={"client_message_id": "x"},
                                     files={"file": ("a.png", samples.png(), "image/png")})
    assert response.status_code == 401
    assert await rows(desk) == []


async def test_outbox_item_count_unaffected_by_files(desk: Desk, fake_twilio: FakeTwilio) -> None:
    await whatsapp_media(desk, fake_twilio, samples.png(), "image/png")
    async with desk.db.session() as session:
        # The bot's reply (after the privacy notice), nothing more.
        assert len(list(await session.scalars(select(OutboxItem)))) == 1 + NOTICES_AT_FIRST_CONTACT


# -- agents' files out -------------------------------------------------------------------------------
async def queue_agent_file(desk: Desk, channel: str, sender: str, data: bytes, filename: str,
                           caption: str = "") -> int:
    """What the console's send-file action writes: the stored file's row, the message, the outbox item."""
    stored = await runtime(desk).store_upload(data)
    async with desk.db.transaction() as session:
        conversation = await find_or_open_conversation(session, channel, sender)
        row = await service.record_outbound(session, conversation_id=conversation.id, channel=channel,
                                            upload=stored, filename=filename, agent_id=None)
        message, _ = await enqueue(session, conversation,
                                   OutboundMessage(text=caption, files=(service.outbound_file(row),)),
                                   author="agent")
        await service.link_message(session, row, message.id)
        return row.id


def local_path(desk: Desk, public_url: str) -> str:
    assert public_url.startswith(PUBLIC_BASE_URL + "/files/")
    return desk.url + public_url[len(PUBLIC_BASE_URL):]


async def test_whatsapp_agent_file_goes_out_as_a_signed_expiring_media_url(desk: Desk,
                                                                         fake_twilio: FakeTwilio) -> None:
    # The borrower wrote first: inside WhatsApp's 24-hour window an agent's file goes as free media.
    assert (await post_signed(desk, twilio_form(Body="mana buktinya kak?"))).status_code == 200
    await desk.deliver()
    fake_twilio.reset()
    file_id = await queue_agent_file(desk, "whatsapp", "+6281234567890", samples.png(), "balasan.png",
                                     "Ini bukti pengembalian dana, Kak.")
    items = await desk.deliver()
    assert items[-1].status == "sent", items[-1].last_error
    [sent] = fake_twilio.messages
    assert sent.body == "Ini bukti pengembalian dana, Kak."
    [url] = sent.media_url
    async with httpx.AsyncClient() as client:
        fetched = await client.get(local_path(desk, url))  # what Twilio does, without credentials
        assert fetched.status_code == 200 and fetched.content == samples.png()
        assert fetched.headers["content-type"] == "image/png"
        ident, expires, sig = url.rsplit("/", 3)[1:]
        assert ident == str(file_id)
        tampered = f"{desk.url}/files/{file_id}/{int(expires) + 3600}/{sig}"
        assert (await client.get(tampered)).status_code == 404
        other = f"{desk.url}/files/{file_id + 1}/{expires}/{sig}"
        assert (await client.get(other)).status_code == 404


async def test_borrowers_files_are_never_served_by_signed_link(desk: Desk, fake_twilio: FakeTwilio) -> None:
    await whatsapp_media(desk, fake_twilio, samples.png(), "image/png")
    await runtime(desk).worker.run_once()
    [row] = await rows(desk)
    assert row.status == "stored"
    async with httpx.AsyncClient() as client:
        response = await client.get(local_path(desk, runtime(desk).link(row.id)))
    assert response.status_code == 404


async def test_telegram_agent_image_is_sent_as_photo_and_pdf_as_document(desk: Desk,
                                                                       fake_telegram: FakeTelegram) -> None:
    await queue_agent_file(desk, "telegram", "777100", samples.png(), "foto.png", "Foto dari kami")
    await queue_agent_file(desk, "telegram", "777100", samples.pdf(), "surat.pdf")
    items = await desk.deliver()
    assert [i.status for i in items] == ["sent", "sent"], [i.last_error for i in items]
    photo, document = fake_telegram.sent_files
    assert photo.method == "sendPhoto" and photo.params["photo"] == samples.png()
    assert photo.params["caption"] == "Foto dari kami" and str(photo.params["chat_id"]) == "777100"
    assert document.method == "sendDocument" and document.params["document"] == samples.pdf()
    assert document.params["document_filename"] == "surat.pdf"


async def test_inapp_agent_file_is_a_message_with_a_link(desk: Desk) -> None:
    await queue_agent_file(desk, "inapp", "CUST-0001", samples.pdf(), "surat.pdf", "Surat balasan")
    await desk.deliver()
    token = mint_token(desk.settings, "CUST-0001")
    async with httpx.AsyncClient() as client:
        listed = (await client.get(desk.url + "/chat/api/messages",
                                   headers={"Authorization": f"Bearer {token}"})).json()["messages"]
        [message] = [m for m in listed if m["files"]]
        assert message["text"] == "Surat balasan"
        [file] = message["files"]
        assert (file["content_type"], file["filename"]) == ("application/pdf", "surat.pdf")
        fetched = await client.get(local_path(desk, file["url"]))
    assert fetched.status_code == 200 and fetched.content == samples.pdf()
