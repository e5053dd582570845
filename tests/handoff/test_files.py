"""Conversation files in the console: who may open them (the transcript rule), the audit of every
opening, identity documents hidden from roles that see masked identity, "not retrieved" with a retry,
and an agent sending an image or PDF back."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from sanic import Sanic
from sqlalchemy import select

from aduan.app import create_app

from attachments import service
from attachments.models import Attachment, FailureReason
from attachments.runtime import Attachments
from desk.messages import MediaRef, OutboundMessage
from desk.store import append_message
from handoff.audit import recent
from storage.models import Message, OutboxItem
from tests.attachments import samples
from tests.handoff.conftest import get_conversation
from tests.handoff.test_case import _conversation, _file, _hand_off


@pytest.fixture
def app(settings: Any, services: Any) -> Sanic:
    """The console app with the attachment fetch job stopped: the tests decide when rows change."""
    Sanic.test_mode = True
    return create_app(settings, services, name=f"files_{uuid.uuid4().hex[:8]}", run_outbox=False)


async def _pick(client: Any, staff: Any, public_id: str) -> Any:
    return await client.post(f"/console/c/{public_id}/pickup", staff, headers={"X-Requested-With": "fetch"})


def _runtime(services: Any) -> Attachments:
    assert services.attachments is not None
    return services.attachments


async def borrower_file(database: Any, services: Any, public_id: str, data: bytes | None, *,
                        reason: FailureReason | None = None, sensitive: str | None = None) -> int:
    """A borrower message with one file: stored (``data``) or not retrieved (``reason``)."""
    conversation = await get_conversation(database, public_id)
    async with database.transaction() as session:
        conv = await session.merge(conversation)
        message = await append_message(session, conv, direction="in", author="borrower", text="ini buktinya",
                                       external_id=f"ext-{id(data)}-{reason}", payload={})
        [row] = await service.record_inbound(session, conversation_id=conv.id, message_id=message.id,
                                             channel=conv.channel, media=[MediaRef("upload:x", "image/png")])
        if sensitive:
            await service.mark_sensitive(session, row, label=sensitive, user_id=None)
        row_id = row.id
    if data is not None:
        stored = await _runtime(services).store_upload(data)
        await service.finish_stored(database, row_id, storage_key=stored.key, content_type=stored.content_type,
                                    size=stored.size, filename="bukti.png")
    elif reason is not None:
        await service.finish_failed(database, row_id, reason=reason, detail="twilio answered 404", retry_at=None)
    return row_id


async def test_assignee_opens_the_file_and_the_opening_is_audited(client, sign_in, handed_off, database,
                                                                  services) -> None:
    ani = await sign_in("ani")
    public_id, _ = await handed_off(channel="whatsapp", sender="+6281200000001")
    file_id = await borrower_file(database, services, public_id, samples.png())
    await _pick(client, ani, public_id)

    page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert f'<img src="/console/files/{file_id}"' in page
    response = await client.get(f"/console/files/{file_id}", ani)
    assert response.status == 200 and response.body == samples.png()
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    async with database.session() as session:
        [entry] = await recent(session, action="attachment.opened")
    assert (entry.actor, entry.object_id, entry.details["conversation"]) == ("ani", str(file_id), public_id)


async def test_staff_who_may_not_read_the_transcript_get_403_and_it_is_audited(client, sign_in, handed_off,
                                                                               database, services) -> None:
    ani, budi = await sign_in("ani"), await sign_in("budi")
    public_id, _ = await handed_off(channel="whatsapp", sender="+6281200000002")
    file_id = await borrower_file(database, services, public_id, samples.png())
    await _pick(client, ani, public_id)

    response = await client.get(f"/console/files/{file_id}", budi)  # another agent's conversation
    assert response.status == 403
    assert (await client.get(f"/console/files/{file_id}")).status == 401  # not signed in
    async with database.session() as session:
        [denied] = await recent(session, action="attachment.denied")
        assert await recent(session, action="attachment.opened") == []
    assert (denied.actor, denied.details["why"]) == ("budi", "transcript")


async def test_identity_documents_are_hidden_from_roles_that_see_masked_identity(client, sign_in, handed_off,
                                                                                 database, services) -> None:
    ani, spv = await sign_in("ani"), await sign_in("spv", "supervisor")
    public_id, _ = await handed_off(channel="whatsapp", sender="+6281200000003")
    file_id = await borrower_file(database, services, public_id, samples.png(), sensitive="ktp")
    await _pick(client, ani, public_id)

    page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert 'data-testid="file-hidden"' in page and f"/console/files/{file_id}" not in page
    assert (await client.get(f"/console/files/{file_id}", ani)).status == 403
    supervisor_page = (await client.get(f"/console/c/{public_id}", spv)).text
    assert f'<img src="/console/files/{file_id}"' in supervisor_page
    assert (await client.get(f"/console/files/{file_id}", spv)).status == 200
    async with database.session() as session:
        denied = await recent(session, action="attachment.denied")
    assert [(d.actor, d.details["why"]) for d in denied] == [("ani", "sensitive")]


async def test_agent_marks_an_identity_document_and_it_is_hidden_from_agents(client, sign_in, handed_off,
                                                                             database, services) -> None:
    ani = await sign_in("ani")
    public_id, _ = await handed_off(channel="whatsapp", sender="+6281200000004")
    file_id = await borrower_file(database, services, public_id, samples.png())
    await _pick(client, ani, public_id)
    assert (await client.get(f"/console/files/{file_id}", ani)).status == 200

    r = await client.post(f"/console/files/{file_id}/label", ani, {"label": "power_of_attorney"},
                          headers={"X-Requested-With": "fetch"})
    assert r.status == 200, r.text
    assert (await client.get(f"/console/files/{file_id}", ani)).status == 403
    bad = await client.post(f"/console/files/{file_id}/label", ani, {"label": "selfie"},
                            headers={"X-Requested-With": "fetch"})
    assert bad.status == 400
    async with database.session() as session:
        row = await session.get(Attachment, file_id)
        [entry] = await recent(session, action="attachment.labelled")
    assert row is not None and (row.sensitive, row.label, row.labelled_by) == (True, "power_of_attorney", ani.id)
    assert entry.details["label"] == "power_of_attorney"


async def test_a_file_not_retrieved_is_shown_with_its_reason_and_can_be_retried(client, sign_in, handed_off,
                                                                                database, services) -> None:
    ani = await sign_in("ani")
    public_id, _ = await handed_off(channel="whatsapp", sender="+6281200000005")
    file_id = await borrower_file(database, services, public_id, None, reason=FailureReason.NOT_FOUND)
    await _pick(client, ani, public_id)

    page = (await client.get(f"/console/c/{public_id}?lang=id", ani)).text
    assert "Berkas tidak terambil: berkas sudah tidak tersedia di penyedia layanan" in page
    assert f'action="/console/files/{file_id}/retry"' in page
    assert (await client.get(f"/console/files/{file_id}", ani)).status == 404

    r = await client.post(f"/console/files/{file_id}/retry", ani, headers={"X-Requested-With": "fetch"})
    assert r.status == 200, r.text
    async with database.session() as session:
        row = await session.get(Attachment, file_id)
    assert row is not None and (row.status, row.attempts) == ("pending", 0)
    again = await client.post(f"/console/files/{file_id}/retry", ani, headers={"X-Requested-With": "fetch"})
    assert again.status == 409  # already queued


async def send_file(client: Any, staff: Any, public_id: str, data: bytes, name: str, text: str = "") -> Any:
    client.asgi.cookies.clear()
    _, response = await client.asgi.post(
        f"/console/c/{public_id}/file", cookies=staff.cookies, data={"text": text},
        files={"file": (name, data, "application/octet-stream")},
        headers={"X-CSRF-Token": staff.csrf, "X-Requested-With": "fetch"})
    return response


async def test_agent_sends_a_pdf_it_is_queued_with_the_message(client, sign_in, handed_off, database,
                                                               services) -> None:
    ani = await sign_in("ani")
    public_id, _ = await handed_off(channel="whatsapp", sender="+6281200000006")
    await _pick(client, ani, public_id)

    response = await send_file(client, ani, public_id, samples.pdf(), "surat balasan.pdf", "Berikut suratnya, Kak.")
    assert response.status == 200, response.text
    conversation = await get_conversation(database, public_id)
    async with database.session() as session:
        message = (await session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                         .order_by(Message.seq.desc()))).first()
        [row] = await session.scalars(select(Attachment).where(Attachment.direction == "out"))
        queued = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message.id))
    assert queued is not None and message.author == "agent" and message.text == "Berikut suratnya, Kak."
    out = OutboundMessage.from_payload(message.text, message.payload)
    assert [(f.attachment_id, f.content_type, f.filename) for f in out.files] == [
        (row.id, "application/pdf", "surat balasan.pdf")]
    assert row.message_id == message.id and await _runtime(services).files.get(row.storage_key) == samples.pdf()
    page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert f'href="/console/files/{row.id}?download=1"' in page


async def test_agent_cannot_send_a_wrong_file_or_into_someone_elses_conversation(client, sign_in, handed_off,
                                                                                 database, services) -> None:
    ani, budi = await sign_in("ani"), await sign_in("budi")
    public_id, _ = await handed_off(channel="whatsapp", sender="+6281200000007")
    await _pick(client, ani, public_id)

    assert (await send_file(client, ani, public_id, samples.HTML, "x.pdf")).status == 415
    assert (await send_file(client, budi, public_id, samples.png(), "a.png")).status == 403
    no_csrf = await client.asgi.post(f"/console/c/{public_id}/file", cookies=ani.cookies,
                                     files={"file": ("a.png", samples.png(), "image/png")})
    assert no_csrf[1].status == 403
    async with database.session() as session:
        assert list(await session.scalars(select(Attachment))) == []
    # The refused upload's bytes were removed again: nothing belongs to no row.
    root = _runtime(services).settings.attachments_dir
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))


async def test_the_ticket_page_shows_the_case_files_by_the_same_rules(client, sign_in, database, services) -> None:
    ani, sari = await sign_in("ani"), await sign_in("sari", "specialist")
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    await _hand_off(database, conv, ticket.number)
    photo = await borrower_file(database, services, conv.public_id, samples.png())
    ktp = await borrower_file(database, services, conv.public_id, samples.jpeg_like(), sensitive="ktp")
    lost = await borrower_file(database, services, conv.public_id, None, reason=FailureReason.TOO_LARGE)

    page = (await client.get(f"/console/tickets/{ticket.number}?lang=en", ani)).text
    files = page[page.index('data-testid="ticket-files"'):]
    assert f'<img src="/console/files/{photo}"' in files
    assert f"/console/files/{ktp}" not in files and 'data-testid="file-hidden"' in files
    assert "File not retrieved: file too large" in files and f'data-file="{lost}"' in files
    specialist = (await client.get(f"/console/tickets/{ticket.number}", sari)).text
    assert f'<img src="/console/files/{ktp}"' in specialist
