"""The attachments table: one row per file a message carries, whatever became of it.

A row is written for every media reference of an inbound message (and for every
file an agent sends), before anything is fetched, so a file that cannot be
retrieved is still visible with its reason: nothing a borrower sent is dropped.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class AttachmentStatus(str, enum.Enum):
    """Where a file stands: waiting for the fetch job, stored, not retrieved (with a reason), or erased.

    ``erased``: the conversation was anonymised (retention schedule or an
    erasure request); the file is destroyed, or about to be while
    ``storage_key`` is still set (``attachments.service.destroy_erased``).
    """

    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"
    ERASED = "erased"


class FailureReason(str, enum.Enum):
    """Why a file was not retrieved; shown to staff (``attachments.service.REASON_LABELS``)."""

    TOO_LARGE = "too_large"
    WRONG_TYPE = "wrong_type"
    PROVIDER_ERROR = "provider_error"
    NOT_FOUND = "not_found"
    UNSUPPORTED_SOURCE = "unsupported_source"


class Attachment(Base):
    """A file of one message: its source reference, fetch state, checked type and storage key."""

    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("message_id", "position"),
        Index("ix_attachments_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    # NULL only inside the transaction that sends an agent's file: the row is written first
    # so the message's payload can name it (attachments.service.record_outbound).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    # Index of the file among the message's media references (Twilio's MediaUrl<N>).
    position: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(16))
    # Where the bytes come from: Twilio's MediaUrl, ``telegram-file:<file_id>``, ``upload:<key>``.
    source_ref: Mapped[str] = mapped_column(Text)
    declared_type: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(8), default=AttachmentStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(String(24))
    # English detail for staff and logs (provider status code, size found); never file content.
    reason_detail: Mapped[str | None] = mapped_column(Text)
    # The type found in the bytes (magic numbers), not the one the sender claimed.
    content_type: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    filename: Mapped[str | None] = mapped_column(String(255))
    storage_key: Mapped[str | None] = mapped_column(String(255))
    # Identity documents (KTP, power of attorney): hidden from roles that see masked identity.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str | None] = mapped_column(String(32))
    labelled_by: Mapped[int | None] = mapped_column(Integer)
    # The customer an identity document belongs to, written when its conversation is anonymised while the
    # document must still be kept (identity records outlive the chat: privacy.retention, "identity_documents").
    customer_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fetched_at: Mapped[datetime | None] = mapped_column()
