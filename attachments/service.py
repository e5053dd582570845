"""Attachment use cases: record, list, claim for fetching, finish, retry, mark sensitive, send, erase.

The one writer of the ``attachments`` table. Functions that take a session
write in the caller's transaction (no commit); those that take a ``Database``
run their own short transaction. Access checks are the caller's (the console
checks ``handoff.access`` before it calls anything here).
"""
from __future__ import annotations

import logging

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.checks import is_image
from attachments.files import FileStore
from attachments.models import Attachment, AttachmentStatus, FailureReason
from desk.messages import MediaRef, OutboundFile
from storage.base import utcnow
from storage.db import Database
from storage.models import Message

log = logging.getLogger("aduan.attachments")

# Media references that are files (the rest, geo: and tel:, are kept on the message only).
FILE_PREFIXES = ("https://", "http://", "telegram-file:", "upload:")
UPLOAD_PREFIX = "upload:"
# A claimed row is someone's for this long; a crashed instance's rows come back after it.
CLAIM_SECONDS = 120
SENSITIVE_LABELS = ("ktp", "power_of_attorney", "identity_other")
# Of those, the records of a person's identity (UU 8/2010): kept on their own retention clock, counted from
# the end of the customer's relationship. A power of attorney is the complaint's own document.
IDENTITY_DOCUMENT_LABELS = ("ktp", "identity_other")

REASON_LABELS: dict[str, dict[str, str]] = {
    "en": {
        FailureReason.TOO_LARGE.value: "file too large",
        FailureReason.WRONG_TYPE.value: "not a JPEG, PNG, WebP or PDF file",
        FailureReason.PROVIDER_ERROR.value: "the provider did not deliver the file",
        FailureReason.NOT_FOUND.value: "the provider no longer has the file",
        FailureReason.UNSUPPORTED_SOURCE.value: "unknown file source",
    },
    "id": {
        FailureReason.TOO_LARGE.value: "berkas terlalu besar",
        FailureReason.WRONG_TYPE.value: "bukan berkas JPEG, PNG, WebP atau PDF",
        FailureReason.PROVIDER_ERROR.value: "penyedia layanan tidak mengirimkan berkas",
        FailureReason.NOT_FOUND.value: "berkas sudah tidak tersedia di penyedia layanan",
        FailureReason.UNSUPPORTED_SOURCE.value: "sumber berkas tidak dikenal",
    },
}


@dataclass(frozen=True)
class StoredFile:
    """A checked file already in the file store (an upload)."""

    key: str
    content_type: str
    size: int


def is_file_ref(url: str) -> bool:
    """Does this media reference point at a file (as opposed to a location or a contact)?"""
    return url.startswith(FILE_PREFIXES)


@dataclass(frozen=True)
class AttachmentView:
    """One attachment as a staff page shows it. ``hidden``: sensitive, and this viewer sees masked identity."""

    id: int
    message_id: int
    status: str
    content_type: str | None
    size: int | None
    filename: str | None
    reason: str | None
    reason_detail: str | None
    sensitive: bool
    label: str | None
    hidden: bool

    @property
    def image(self) -> bool:
        """Shown inline (an ``<img>``); PDFs are links."""
        return is_image(self.content_type)

    def reason_label(self, lang: str) -> str:
        """The reason in the viewer's language."""
        labels = REASON_LABELS.get(lang, REASON_LABELS["en"])
        return labels.get(self.reason or "", self.reason or "")


def view(row: Attachment, *, sees_sensitive: bool) -> AttachmentView:
    """The staff view of ``row``; identity documents are hidden from viewers who may not see them."""
    hidden = row.sensitive and not sees_sensitive
    return AttachmentView(row.id, row.message_id, row.status, None if hidden else row.content_type,
                          None if hidden else row.size, None if hidden else row.filename, row.reason,
                          None if hidden else row.reason_detail, row.sensitive, row.label, hidden)


async def record_inbound(session: AsyncSession, *, conversation_id: int, message_id: int, channel: str,
                         media: Sequence[MediaRef], now: datetime | None = None) -> list[Attachment]:
    """Write a pending row for each file reference of an inbound message (no commit). Idempotent.

    Positions are the references' indexes in ``media``; a redelivery finds
    its rows and adds nothing. Returns the rows written now.
    """
    existing = set(await session.scalars(select(Attachment.position).where(Attachment.message_id == message_id)))
    now = now or utcnow()
    rows = [Attachment(conversation_id=conversation_id, message_id=message_id, position=i, direction="in",
                       channel=channel, source_ref=ref.url, declared_type=ref.content_type,
                       status=AttachmentStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now,
                       sensitive=False)
            for i, ref in enumerate(media) if is_file_ref(ref.url) and i not in existing]
    session.add_all(rows)
    await session.flush()
    return rows


async def conversation_of_message(session: AsyncSession, message_id: int) -> int:
    """The conversation a stored message belongs to."""
    conversation_id = await session.scalar(select(Message.conversation_id).where(Message.id == message_id))
    if conversation_id is None:
        raise LookupError(f"message {message_id} is not stored")
    return int(conversation_id)


async def record_outbound(session: AsyncSession, *, conversation_id: int, channel: str, upload: StoredFile,
                          filename: str | None, agent_id: int | None) -> Attachment:
    """The row of a file an agent sends, already checked and stored (no commit).

    Written before its message, so the message's payload can name it; the
    caller links the message with ``link_message`` in the same transaction.
    """
    now = utcnow()
    row = Attachment(conversation_id=conversation_id, message_id=None, position=0, direction="out",
                     channel=channel, source_ref=UPLOAD_PREFIX + upload.key, declared_type=upload.content_type,
                     status=AttachmentStatus.STORED.value, content_type=upload.content_type, size=upload.size,
                     filename=filename, storage_key=upload.key, attempts=0, next_attempt_at=now,
                     created_at=now, fetched_at=now, sensitive=False, labelled_by=agent_id)
    session.add(row)
    await session.flush()
    return row


async def link_message(session: AsyncSession, row: Attachment, message_id: int) -> None:
    """Attach an outbound file's row to the message that carries it (no commit)."""
    row.message_id = message_id
    await session.flush()


def outbound_file(row: Attachment) -> OutboundFile:
    """What the outbox hands the channel's sender for this stored file."""
    assert row.storage_key and row.content_type
    return OutboundFile(row.id, row.storage_key, row.content_type, row.filename)


async def for_conversation(session: AsyncSession, conversation_id: int) -> list[Attachment]:
    """Every attachment of a conversation, in message order."""
    return list(await session.scalars(select(Attachment).where(Attachment.conversation_id == conversation_id)
                                      .order_by(Attachment.message_id, Attachment.position)))


async def for_conversations(session: AsyncSession, conversation_ids: Sequence[int]) -> list[Attachment]:
    """Every attachment of several conversations (a ticket's), oldest first."""
    if not conversation_ids:
        return []
    return list(await session.scalars(select(Attachment).where(Attachment.conversation_id.in_(conversation_ids))
                                      .order_by(Attachment.created_at, Attachment.id)))


async def claim_due(db: Database, *, limit: int, now: datetime | None = None) -> list[Attachment]:
    """Pending rows whose time has come, each claimed for ``CLAIM_SECONDS`` (commits).

    The claim moves ``next_attempt_at`` forward only if nobody else moved it
    first, so two desk instances never fetch the same file at once; a claim
    whose holder died runs out and the row is fetched again.
    """
    now = now or utcnow()
    async with db.transaction() as session:
        due = list(await session.scalars(
            select(Attachment).where(Attachment.status == AttachmentStatus.PENDING.value,
                                     Attachment.next_attempt_at <= now)
            .order_by(Attachment.next_attempt_at, Attachment.id).limit(limit)))
        claimed: list[Attachment] = []
        for row in due:
            done = await session.execute(
                update(Attachment).where(Attachment.id == row.id, Attachment.status == AttachmentStatus.PENDING.value,
                                         Attachment.next_attempt_at == row.next_attempt_at)
                .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS), attempts=Attachment.attempts + 1)
                .execution_options(synchronize_session=False))
            if done.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row)
    return claimed


async def finish_stored(db: Database, attachment_id: int, *, storage_key: str, content_type: str, size: int,
                        filename: str | None) -> bool:
    """The file is checked and stored (commits). False when the row is no longer pending: its
    conversation was anonymised while the file was being fetched, and the caller destroys the bytes."""
    async with db.transaction() as session:
        result = await session.execute(update(Attachment).where(
            Attachment.id == attachment_id, Attachment.status == AttachmentStatus.PENDING.value).values(
            status=AttachmentStatus.STORED.value, storage_key=storage_key, content_type=content_type, size=size,
            filename=filename, reason=None, reason_detail=None, fetched_at=utcnow()))
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish_failed(db: Database, attachment_id: int, *, reason: FailureReason, detail: str,
                        retry_at: datetime | None) -> None:
    """The fetch failed: try again at ``retry_at``, or (None) show it as not retrieved (commits)."""
    values: dict[str, object] = {"reason": reason.value, "reason_detail": detail[:500]}
    if retry_at is None:
        values["status"] = AttachmentStatus.FAILED.value
    else:
        values["next_attempt_at"] = retry_at
    async with db.transaction() as session:
        # Only a pending row: an erased one (anonymised meanwhile) stays erased.
        await session.execute(update(Attachment).where(
            Attachment.id == attachment_id, Attachment.status == AttachmentStatus.PENDING.value).values(**values))


async def retry(session: AsyncSession, row: Attachment) -> None:
    """Put a not-retrieved file back in the fetch queue, attempts from zero (no commit)."""
    row.status = AttachmentStatus.PENDING.value
    row.attempts = 0
    row.next_attempt_at = utcnow()
    await session.flush()


async def mark_sensitive(session: AsyncSession, row: Attachment, *, label: str | None, user_id: int | None) -> None:
    """Flag (label in ``SENSITIVE_LABELS``) or unflag (None) an identity document (no commit)."""
    if label is not None and label not in SENSITIVE_LABELS:
        raise ValueError(f"label must be one of {', '.join(SENSITIVE_LABELS)}")
    row.sensitive = label is not None
    row.label = label
    row.labelled_by = user_id
    await session.flush()


async def erase_for_conversations(session: AsyncSession, conversation_ids: Sequence[int], *,
                                  keep: Collection[int] = ()) -> int:
    """Mark every attachment of these conversations erased, except the ids in ``keep`` (no commit).

    Called in the transaction that anonymises the conversations (``keep``: identity
    documents still inside their own retention period). Returns how many rows changed.
    """
    if not conversation_ids:
        return 0
    rows = [row for row in await session.scalars(select(Attachment).where(
        Attachment.conversation_id.in_(conversation_ids), Attachment.status != AttachmentStatus.ERASED.value))
        if row.id not in keep]
    return await erase_rows(session, rows)


async def erase_rows(session: AsyncSession, rows: Sequence[Attachment]) -> int:
    """Mark these attachments erased and drop what identifies the file (no commit).

    What a report or an auditor counts stays: direction, channel, checked type,
    size, identity-document label and the dates. The source reference (a
    provider URL or file id), the file name and the fetch error go now; the
    bytes go after commit (``destroy_erased``), so a rolled-back anonymisation
    never loses a file the desk still has to keep. Returns how many rows changed.
    """
    for row in rows:
        if row.storage_key is None and row.source_ref.startswith(UPLOAD_PREFIX):
            # An in-app upload is in the store before its row is fetched: keep its key to destroy it.
            row.storage_key = row.source_ref.removeprefix(UPLOAD_PREFIX)
        row.status = AttachmentStatus.ERASED.value
        row.source_ref = ""
        row.filename = row.reason_detail = row.customer_id = None
    await session.flush()
    return len(rows)


async def destroy_erased(db: Database, files: FileStore, *, batch: int = 200) -> int:
    """Delete from the file store every erased attachment's bytes, then forget its key (commits per file).

    Crash-safe and idempotent: the key is cleared only after the store
    confirmed the delete (a missing object counts as deleted), so a file the
    store failed to delete is tried again on the next call, and an interrupted
    run deletes nothing twice that matters. Returns how many files were
    destroyed; a failing store is logged (key shape only, never content) and
    its files wait for the next run.
    """
    destroyed = 0
    after_id = 0
    while True:
        async with db.session() as session:
            rows = (await session.execute(
                select(Attachment.id, Attachment.storage_key)
                .where(Attachment.status == AttachmentStatus.ERASED.value, Attachment.storage_key.is_not(None),
                       Attachment.id > after_id)
                .order_by(Attachment.id).limit(batch))).all()
        for attachment_id, key in rows:
            try:
                await files.delete(key)
            except Exception:  # noqa: BLE001 - retried on the next run; the row still names the key
                log.exception("could not destroy the file of erased attachment %s", attachment_id)
                continue
            async with db.transaction() as session:
                await session.execute(update(Attachment).where(Attachment.id == attachment_id)
                                      .values(storage_key=None))
            destroyed += 1
        if len(rows) < batch:
            return destroyed
        after_id = rows[-1][0]
