"""Anonymising destroys attachment files (local and S3 stores); the rows keep counts, types and dates.

The retention job and an erasure both anonymise through
``privacy.retention.anonymise_conversation``; the files leave the store once
that commits (``privacy.jobs.destroy_files``). A conversation under a hold
keeps its files until the hold is lifted.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from attachments.files import FileMissing, FileStore, LocalFileStore, new_key
from attachments.models import Attachment, AttachmentStatus
from attachments.service import erase_for_conversations
from attachments.worker import AttachmentWorker, Fetched
from handoff.models import Handoff
from privacy import jobs
from privacy.context import privacy_context
from reports.synthetic import Shape, synthetic_tickets
from storage.models import Message
from tests.attachments import samples
from tests.attachments.test_stores import s3_endpoint, store  # noqa: F401 - the two stores, as fixtures
from tests.privacy.conftest import as_user, make_conversation
from tests.privacy.test_erasure import NOW, _seed, _verified_erasure
from tests.privacy.test_retention import LATER, _report_csv
from tickets.models import Ticket, TicketConversation

PNG = samples.png()
PDF = samples.pdf()


async def _attach(database, files: FileStore, conversation_id: int, *, upload_pending: bool = False) -> list[str]:
    """A stored photo (fetched from the channel) and an in-app upload; returns their store keys."""
    at = datetime(2022, 3, 1, tzinfo=timezone.utc)
    photo, upload = new_key("image/png", at), new_key("application/pdf", at)
    await files.put(photo, PNG, "image/png")
    await files.put(upload, PDF, "application/pdf")
    async with database.transaction() as s:
        message = Message(conversation_id=conversation_id, seq=2, channel="whatsapp", direction="in",
                          author="borrower", text="foto KTP saya")
        s.add(message)
        await s.flush()
        s.add(Attachment(conversation_id=conversation_id, message_id=message.id, position=0, direction="in",
                         channel="whatsapp", source_ref="https://api.twilio.com/Media/ME123", status="stored",
                         content_type="image/png", size=len(PNG), filename="ktp-budi.png", storage_key=photo,
                         sensitive=True, label="ktp", created_at=at, fetched_at=at, next_attempt_at=at))
        # An upload whose fetch has not run yet: its bytes are only named in source_ref.
        s.add(Attachment(conversation_id=conversation_id, message_id=message.id, position=1, direction="in",
                         channel="whatsapp", source_ref=f"upload:{upload}",
                         status="pending" if upload_pending else "stored",
                         content_type=None if upload_pending else "application/pdf",
                         size=None if upload_pending else len(PDF), filename="surat kuasa Budi.pdf",
                         storage_key=None if upload_pending else upload, created_at=at, next_attempt_at=at))
    return [photo, upload]


async def _gone(files: FileStore, keys: list[str]) -> bool:
    for key in keys:
        try:
            await files.get(key)
        except FileMissing:
            continue
        return False
    return True


async def _rows(database, conversation_id: int) -> list[Attachment]:
    async with database.session() as s:
        return list(await s.scalars(select(Attachment).where(Attachment.conversation_id == conversation_id)
                                    .order_by(Attachment.position)))


async def test_retention_destroys_the_files_and_keeps_the_report_figures(database, privacy_ctx, store) -> None:
    rows = list(synthetic_tickets(2022, {"payment": 12, "fraud": 5}, seed=3, shape=Shape(close_within_year=True)))
    async with database.transaction() as s:
        await s.execute(insert(Ticket.__table__), rows)
        closed = await s.scalar(select(Ticket).where(Ticket.closed_at.is_not(None)).order_by(Ticket.id).limit(1))
    conv = await make_conversation(database, "whatsapp", "+6281234567890", customer_id="CUST-0000")
    async with database.transaction() as s:
        s.add(TicketConversation(ticket_id=closed.id, conversation_id=conv.id))
        s.add(Handoff(conversation_id=conv.id, reason="complaint", status="closed"))
    keys = await _attach(database, store, conv.id, upload_pending=True)
    before = await _report_csv(database)
    rows_before = await _rows(database, conv.id)

    privacy_ctx.files = store
    report = await jobs.daily(database, privacy_ctx, LATER)
    assert report.anonymised["attachment_files"] == 2
    assert await _gone(store, keys)
    assert await _report_csv(database) == before
    after = await _rows(database, conv.id)
    assert [a.status for a in after] == [AttachmentStatus.ERASED.value] * 2
    assert {a.storage_key for a in after} == {None} and {a.source_ref for a in after} == {""}
    assert {a.filename for a in after} == {None}
    # What can be counted stays: how many, which direction and channel, type, size, label, when.
    assert [(a.direction, a.channel, a.content_type, a.size, a.label, a.created_at) for a in after] == \
        [(a.direction, a.channel, a.content_type, a.size, a.label, a.created_at) for a in rows_before]
    # Nothing left to do on the next run.
    assert "attachment_files" not in (await jobs.daily(database, privacy_ctx, LATER)).anonymised


async def test_a_held_chat_keeps_its_files_until_the_hold_is_lifted(app, database, staff, clock, store) -> None:
    clock.at = NOW
    privacy_context(app).files = store
    free, disputed, complaint_chat, _, _ = await _seed(database)
    free_keys = await _attach(database, store, free.id)
    held_keys = await _attach(database, store, disputed.id)
    open_keys = await _attach(database, store, complaint_chat.id)
    supervisor = as_user(staff["supervisor"])
    _, res = await app.asgi_client.post("/api/v1/staff/privacy/holds", headers=supervisor, json={
        "record_type": "conversation", "record_id": disputed.id, "reason": "legal_case"})
    hold_id = res.json["id"]

    number = await _verified_erasure(app, staff)
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{number}/erase",
                                        headers=as_user(staff["agent"]))
    assert res.status == 200, res.text
    assert res.json["files_destroyed"] == 2
    assert await _gone(store, free_keys)
    assert not await _gone(store, held_keys) and await store.get(held_keys[0]) == PNG
    assert await store.get(open_keys[1]) == PDF  # the open complaint's files stay too
    assert {a.status for a in await _rows(database, disputed.id)} == {"stored"}

    # The daily job does not touch them while the hold stands.
    await jobs.daily(database, privacy_context(app), NOW + timedelta(days=1))
    assert await store.get(held_keys[1]) == PDF

    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/holds/{hold_id}/lift", headers=supervisor)
    assert res.status == 200 and res.json["erased_now"] == 1 and res.json["files_destroyed"] == 2
    assert await _gone(store, held_keys)
    assert {a.status for a in await _rows(database, disputed.id)} == {"erased"}
    assert not await _gone(store, open_keys)


class _BrokenStore:
    """A store whose deletes fail, like an S3 outage."""

    name = "broken"

    def __init__(self, inner: FileStore) -> None:
        self.inner = inner

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.inner.put(key, data, content_type)

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def delete(self, key: str) -> None:
        raise ConnectionError("object store unreachable")


@pytest.mark.parametrize("store", ["local"], indirect=True)
async def test_a_failed_delete_is_tried_again_on_the_next_run(database, privacy_ctx, store) -> None:
    conv = await make_conversation(database, "telegram")
    keys = await _attach(database, store, conv.id)
    privacy_ctx.files = _BrokenStore(store)
    now = datetime(2040, 1, 1, tzinfo=timezone.utc)
    report = await jobs.daily(database, privacy_ctx, now)  # the bot-only chat's period ran out
    assert report.anonymised.get("bot_conversations") == 1 and "attachment_files" not in report.anonymised
    assert not await _gone(store, keys)
    assert {a.storage_key for a in await _rows(database, conv.id)} == set(keys)  # still known, not orphaned
    privacy_ctx.files = store
    assert (await jobs.daily(database, privacy_ctx, now)).anonymised == {"attachment_files": 2}
    assert await _gone(store, keys)


async def test_a_file_fetched_while_its_chat_is_anonymised_is_not_kept(database, tmp_path) -> None:
    conv = await make_conversation(database, "whatsapp", "+6281234567890")
    async with database.transaction() as s:
        message = Message(conversation_id=conv.id, seq=1, channel="whatsapp", direction="in", author="borrower",
                          text="ini KTP saya")
        s.add(message)
        await s.flush()
        s.add(Attachment(conversation_id=conv.id, message_id=message.id, position=0, direction="in",
                         channel="whatsapp", source_ref="https://api.twilio.com/Media/ME9", status="pending"))
    files = LocalFileStore(tmp_path / "files")

    class SlowProvider:
        """Delivers the photo only after the retention job anonymised the chat."""

        async def fetch(self, ref: str, *, max_bytes: int) -> Fetched:
            async with database.transaction() as s:
                await erase_for_conversations(s, [conv.id])
            return Fetched(PNG)

    worker = AttachmentWorker(database, files, {"whatsapp": SlowProvider()}, max_bytes=10_000_000)
    assert await worker.run_once() == 1
    [row] = await _rows(database, conv.id)
    assert (row.status, row.storage_key, row.content_type) == ("erased", None, None)
    assert not any(p.is_file() for p in (tmp_path / "files").rglob("*"))  # the fetched bytes were deleted
