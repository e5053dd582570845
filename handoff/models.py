"""Staff users, handoffs (queue entries), private notes, canned responses, audit log, NLU labels."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow
from storage.sealed import opened, seal_column


class Role(str, enum.Enum):
    AGENT = "agent"
    SPECIALIST = "specialist"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class HandoffStatus(str, enum.Enum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class User(Base):
    """A member of staff who signs in to the console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default=Role.AGENT.value)
    available: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    language: Mapped[str] = mapped_column(String(2), default="id")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Round-robin cursor: the agent assigned longest ago gets the next handoff.
    last_assigned_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A signed-in browser. Server-side so logout and expiry really end it."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Handoff(Base):
    """A conversation handed to people; the queue is the set of waiting handoffs."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_status_requested", "status", "requested_at"),
        # At most one open handoff per conversation, even across desk instances
        # (the one-statement handoff in handoff.fastpath relies on it).
        Index("uq_handoffs_open_conversation", "conversation_id", unique=True,
              postgresql_where=text("status IN ('waiting', 'assigned')"),
              sqlite_where=text("status IN ('waiting', 'assigned')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    reason: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8), default="medium")
    category: Mapped[str | None] = mapped_column(String(32))
    # The bot's summary, with phone numbers, NIK and e-mail masked in its strings; the original in
    # ``summary_enc`` when it held any (storage.sealed). So are the closing summary and the comment.
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary_enc: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default=HandoffStatus.WAITING.value)
    # Who may take it from the queue: any agent, or only specialists after an escalation.
    queue_role: Mapped[str] = mapped_column(String(16), default=Role.AGENT.value)
    department: Mapped[str | None] = mapped_column(String(32))
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closing_summary: Mapped[str | None] = mapped_column(Text)
    closing_summary_enc: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rating_comment_enc: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column()

    def opened(self, name: str) -> Any:
        """The clear value of a sealed column (``summary``, ``closing_summary``, ``rating_comment``)."""
        return opened(self, name)


class Note(Base):
    """A private note on a conversation; the borrower never sees it."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Masked when it held a phone number, NIK or e-mail; the original in ``text_enc`` (storage.sealed).
    text: Mapped[str] = mapped_column(Text)
    text_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def clear_text(self) -> str:
        """The note as written (the sealed original opened)."""
        return opened(self, "text")


# Free text typed by the bot, borrowers and staff: stored masked, originals sealed (storage.sealed).
seal_column(Handoff, "summary", "json")
seal_column(Handoff, "closing_summary")
seal_column(Handoff, "rating_comment")
seal_column(Note, "text")


class CannedResponse(Base):
    """A reply template with placeholders such as {nama} and {nomor_tiket}; used once approved."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who read or changed what, when. Every staff opening of a transcript lands here."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(48))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LoginAttempt(Base):
    """One staff sign-in attempt, kept to throttle password guessing (``handoff.throttle``).

    The username and the client address are stored only as keyed hashes: enough
    to count failures per account and per address across every desk instance,
    useless to anyone reading the table. The audit log names the username.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_account_time", "account_key", "created_at"),
        Index("ix_login_attempts_address_time", "address_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(String(64))
    address_key: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    # True when the attempt was refused by the lock without checking the password.
    throttled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NluLabel(Base):
    """The right intent of one borrower message, as a member of staff labelled it."""

    __tablename__ = "nlu_labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    intent: Mapped[str] = mapped_column(String(64))
    labelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    labelled_at: Mapped[datetime] = mapped_column(default=utcnow)
