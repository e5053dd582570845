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
from privacy.models import RelationshipEnd
from privacy.retention import build_schedule
from reports.synthetic import Shape, synthetic_tickets
from storage.models import Conversation, Message
from tickets.calendar import WIB
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


async def _relationship_ended(database, customer_id: str, at: datetime) -> None:
    """What the lender's core reports (privacy.relationships): identity documents count from it."""
    async with database.transaction() as s:
        s.add(RelationshipEnd(customer_id=customer_id, ended_at=at, source="cli", recorded_at=at))


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
    # The KTP photo is an identity document: it goes 5 years after the relationship ended, here long before.
    await _relationship_ended(database, "CUST-0000", datetime(2022, 12, 31, tzinfo=timezone.utc))
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
    # Budi's relationship ended long ago: his KTP photos are no longer kept for UU 8/2010 (see below when not).
    await _relationship_ended(database, "CUST-0001", datetime(2015, 1, 1, tzinfo=timezone.utc))
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


async def _closed_complaint_chat(database, closed_at: datetime) -> tuple[Conversation, Ticket]:
    """A complaint closed at ``closed_at`` and its chat (handed to people) of verified customer CUST-0000."""
    conv = await make_conversation(database, "whatsapp", "+6281234567890", customer_id="CUST-0000")
    async with database.transaction() as s:
        ticket = Ticket(number="DCI-FILES", category="payment", channel="whatsapp", customer_id="CUST-0000",
                        full_name="Budi Santoso", product="pinjaman_tunai", chronology="sudah bayar",
                        status="resolved", closed_at=closed_at)
        s.add(ticket)
        await s.flush()
        s.add(TicketConversation(ticket_id=ticket.id, conversation_id=conv.id))
        s.add(Handoff(conversation_id=conv.id, reason="complaint", status="closed"))
    return conv, ticket


async def test_a_file_goes_when_its_own_period_ends_though_the_complaint_is_kept_longer(
        database, privacy_ctx, store) -> None:
    closed = datetime(2022, 3, 1, tzinfo=timezone.utc)
    conv, _ = await _closed_complaint_chat(database, closed)
    ktp, receipt = await _attach(database, store, conv.id)
    privacy_ctx.files = store
    privacy_ctx.config.retention = {"complaint_records": {"period_days": 6000}}  # the lender keeps complaints longer
    assert privacy_ctx.schedule()["attachments"].period_days == 4018

    report = await jobs.daily(database, privacy_ctx, closed + timedelta(days=4017))
    assert "attachments" not in report.anonymised and not await _gone(store, [receipt])
    report = await jobs.daily(database, privacy_ctx, closed + timedelta(days=4018))
    assert report.anonymised == {"attachments": 1, "attachment_files": 1}
    assert await _gone(store, [receipt])
    # The KTP photo is an identity document: the relationship has not ended, so it stays; so does the chat.
    assert await store.get(ktp) == PNG
    async with database.session() as s:
        kept = await s.get(Conversation, conv.id)
        assert kept.customer_id == "CUST-0000" and kept.clear_sender() == "+6281234567890"
    assert [a.status for a in await _rows(database, conv.id)] == ["stored", "erased"]

    await _relationship_ended(database, "CUST-0000", datetime(2023, 1, 1, tzinfo=timezone.utc))
    report = await jobs.daily(database, privacy_ctx, closed + timedelta(days=4019))
    assert report.anonymised == {"identity_documents": 1, "attachment_files": 1}
    assert await _gone(store, [ktp])
    async with database.session() as s:
        assert (await s.get(Conversation, conv.id)).customer_id == "CUST-0000"  # the complaint's chat is kept


async def test_an_identity_document_outlives_its_chat_until_five_years_after_the_relationship_ended(
        database, privacy_ctx, store) -> None:
    conv, _ = await _closed_complaint_chat(database, datetime(2022, 3, 1, tzinfo=timezone.utc))
    ktp, receipt = await _attach(database, store, conv.id)
    privacy_ctx.files = store
    ended = datetime(2031, 6, 30, tzinfo=WIB)
    await _relationship_ended(database, "CUST-0000", ended)

    # The complaint's 11 years ran out in 2033: the chat is anonymised and the receipt destroyed ...
    report = await jobs.daily(database, privacy_ctx, datetime(2034, 1, 1, tzinfo=timezone.utc))
    assert report.anonymised["complaint_transcripts"] == 1 and report.anonymised["attachment_files"] == 1
    assert await _gone(store, [receipt])
    # ... but the KTP photo is kept, tied to its customer now that the chat forgot who it was.
    photo, _ = await _rows(database, conv.id)
    assert (photo.status, photo.customer_id, photo.filename) == ("stored", "CUST-0000", "ktp-budi.png")
    async with database.session() as s:
        assert (await s.get(Conversation, conv.id)).customer_id is None

    period = build_schedule({})["identity_documents"].period_days
    report = await jobs.daily(database, privacy_ctx, ended + timedelta(days=period - 1))
    assert "identity_documents" not in report.anonymised and await store.get(ktp) == PNG
    report = await jobs.daily(database, privacy_ctx, ended + timedelta(days=period))
    assert report.anonymised == {"identity_documents": 1, "attachment_files": 1}
    assert await _gone(store, [ktp])
    photo, _ = await _rows(database, conv.id)
    assert (photo.status, photo.customer_id, photo.storage_key, photo.label) == ("erased", None, None, "ktp")


async def test_an_identity_document_of_an_open_complaint_stays_though_the_relationship_ended_long_ago(
        database, privacy_ctx, store) -> None:
    conv, ticket = await _closed_complaint_chat(database, datetime(2022, 3, 1, tzinfo=timezone.utc))
    async with database.transaction() as s:
        row = await s.get(Ticket, ticket.id)
        row.status, row.closed_at = "in_progress", None  # an ex-customer complains, with a KTP photo
    ktp, _ = await _attach(database, store, conv.id)
    await _relationship_ended(database, "CUST-0000", datetime(2015, 1, 1, tzinfo=timezone.utc))
    privacy_ctx.files = store
    report = await jobs.daily(database, privacy_ctx, datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert report.anonymised == {} and await store.get(ktp) == PNG


async def test_erasure_keeps_a_customers_identity_documents_and_says_so(app, database, staff, clock, store) -> None:
    clock.at = NOW
    privacy_context(app).files = store
    free, _, _, _, _ = await _seed(database)  # Budi (CUST-0001) is still a customer: no end reported
    ktp, upload = await _attach(database, store, free.id)
    number = await _verified_erasure(app, staff)
    _, res = await app.asgi_client.post(f"/api/v1/staff/privacy/requests/{number}/erase",
                                        headers=as_user(staff["agent"]))
    assert res.status == 200, res.text
    assert res.json["identity_documents_kept"] == 1 and res.json["files_destroyed"] == 1
    assert await _gone(store, [upload]) and await store.get(ktp) == PNG
    assert "Foto dokumen identitas (1 berkas)" in res.json["outcome"] and "UU 8/2010" in res.json["outcome"]
