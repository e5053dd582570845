"""Ticket models: the complaint, its append-only history, and its conversations."""
from __future__ import annotations

import enum
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from desk import pii
from desk.config import DEFAULT_SLA_POLICY
from storage.alerts import AlertColumns
from storage.base import Base, utcnow
from storage.sealed import opened, seal_column


class Category(str, enum.Enum):
    """Complaint categories counted in the reports to OJK (see domain.md)."""

    PAYMENT = "payment"
    FRAUD = "fraud"
    UNETHICAL_COLLECTION = "unethical_collection"
    RELIEF = "relief"
    PHONE_CHANGE = "phone_change"
    APP = "app"
    OTHER = "other"


def _load_category_labels() -> dict[str, str]:
    """Labels from ``tickets/categories.yml``, the one list the bot reads too."""
    with open(Path(__file__).with_name("categories.yml"), encoding="utf-8") as fh:
        labels = {str(k): str(v) for k, v in yaml.safe_load(fh).items()}
    # The enum and the file must agree, or reports would count a category
    # no borrower can pick (or drop one they can).
    if list(labels) != [c.value for c in Category]:
        raise RuntimeError(f"tickets/categories.yml lists {list(labels)}, expected {[c.value for c in Category]}")
    return labels


CATEGORY_LABELS: dict[str, str] = _load_category_labels()


class Priority(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class Status(str, enum.Enum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    REJECTED = "rejected"


class EscalationLevel(str, enum.Enum):
    AGENT = "agent"
    SPECIALIST = "specialist"
    DEPARTMENT = "department"
    DIRECTORS = "directors"


class ComplainantType(str, enum.Enum):
    USER = "user"          # borrower or lender on the platform
    REPORTER = "reporter"  # not a user


class Department(str, enum.Enum):
    COLLECTION = "collection"
    FINANCE = "finance"
    IT = "it"
    LEGAL = "legal"


class RejectionGround(str, enum.Enum):
    """The only grounds on which a complaint may be rejected (domain.md)."""

    DOCUMENTS_NOT_SUPPLIED = "documents_not_supplied"
    ALREADY_RESOLVED = "already_resolved"
    NOT_OUR_PRODUCT = "not_our_product"
    NO_FINANCIAL_LOSS = "no_financial_loss"


class Source(str, enum.Enum):
    """Where a complaint reached the lender: directly, or forwarded by OJK's portal or LAPS SJK."""

    DIRECT = "direct"
    OJK_APPK = "ojk_appk"    # OJK's consumer-protection portal (Aplikasi Portal Perlindungan Konsumen)
    LAPS_SJK = "laps_sjk"    # Lembaga Alternatif Penyelesaian Sengketa Sektor Jasa Keuangan


EXTERNAL_SOURCES = (Source.OJK_APPK.value, Source.LAPS_SJK.value)


def sealed_phone(phone: str | None) -> tuple[str | None, str | None]:
    """``(phone_key, phone_enc)`` of a normalised phone number, or ``(None, None)``."""
    if not phone:
        return None, None
    ring = pii.keyring()
    return pii.phone_key(ring, phone), ring.encrypt(pii.PHONE, phone)


class Ticket(Base):
    """One complaint. Columns the reports aggregate on are indexed."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_received_at", "received_at"),
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_category_product", "category", "product"),
        # Reports and the dashboard select by closing time and scan open tickets.
        Index("ix_tickets_closed_at", "closed_at"),
        # One ticket per reference number an external body gave the complaint.
        UniqueConstraint("source", "external_reference", name="uq_tickets_source_external_reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8), default=Priority.MEDIUM.value)
    status: Mapped[str] = mapped_column(String(16), default=Status.RECEIVED.value)
    channel: Mapped[str] = mapped_column(String(16))
    # oral (phone, walk-in) or written (e-mail, chat, WhatsApp): picks the resolution clock.
    form: Mapped[str] = mapped_column(String(8), default="written")
    complainant_type: Mapped[str] = mapped_column(String(8), default=ComplainantType.USER.value)
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)

    # Fields the regulation requires (domain.md, "A complaint").
    full_name: Mapped[str] = mapped_column(String(128))
    # The complainant's phone number, never in clear (desk.pii): its keyed hash for search and
    # matching, and its ciphertext for the views and exports allowed to show it.
    phone_key: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_enc: Mapped[str | None] = mapped_column(String(255))
    # Sealed at rest (storage.sealed, set below): ``email`` keeps the address masked, ``chronology``
    # the story with phone numbers, NIK and e-mail masked, ``id_card_address`` nothing; the
    # originals are in the ``…_enc`` columns, for the views and exports allowed to show them.
    email: Mapped[str | None] = mapped_column(String(128))
    email_enc: Mapped[str | None] = mapped_column(String(512))
    product: Mapped[str] = mapped_column(String(64))
    transaction_date: Mapped[date | None] = mapped_column(Date)
    chronology: Mapped[str] = mapped_column(Text)
    chronology_enc: Mapped[str | None] = mapped_column(Text)
    id_card_address: Mapped[str | None] = mapped_column(Text)
    id_card_address_enc: Mapped[str | None] = mapped_column(Text)
    power_of_attorney_ref: Mapped[str | None] = mapped_column(String(256))

    # Clocks (UTC). Computed by tickets.sla.deadline only.
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    clock_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_due: Mapped[datetime | None] = mapped_column()
    resolution_due: Mapped[datetime | None] = mapped_column()
    first_responded_at: Mapped[datetime | None] = mapped_column()
    extended_at: Mapped[datetime | None] = mapped_column()
    # When the person handling an overdue ticket now expects to resolve it (set in the console);
    # the overdue status update gives it to the borrower (tickets.wording.status_update).
    expected_resolution_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    # The policy the clocks were computed under; kept for the ticket's whole life.
    sla_policy: Mapped[str] = mapped_column(String(32), default=DEFAULT_SLA_POLICY)

    escalation_level: Mapped[str] = mapped_column(String(16), default=EscalationLevel.AGENT.value)
    department: Mapped[str | None] = mapped_column(String(32))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    # Outcome and reporting. The outcome's free text (explanation, apology) is sealed like the chronology.
    outcome: Mapped[dict[str, Any] | None] = mapped_column()
    outcome_enc: Mapped[str | None] = mapped_column(Text)
    compensation_amount: Mapped[float | None] = mapped_column(Numeric(14, 2))
    rejection_ground: Mapped[str | None] = mapped_column(String(32))
    # Recorded when the ticket is resolved or rejected, from the lender file's complaint_causes.
    cause: Mapped[str | None] = mapped_column(String(64))
    negative_publicity: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the complaint went public (news article, social-media post), when it did.
    negative_publicity_url: Mapped[str | None] = mapped_column(String(500))
    # direct, ojk_appk or laps_sjk (Source); an external one carries the body's reference number.
    source: Mapped[str] = mapped_column(String(16), default=Source.DIRECT.value)
    external_reference: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)

    # Bookkeeping of the workflow (tickets.workflow owns the rules).
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    last_status_update_at: Mapped[datetime | None] = mapped_column()
    # Last used TicketEvent.seq; bumped with UPDATE … RETURNING so history has no gaps.
    last_event_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Unguessable token of the borrower's receipt link (/tickets/receipt/<token>).
    receipt_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __init__(self, *, phone: str | None = None, **kw: Any) -> None:
        """``phone`` (clear, normalised) is stored as ``phone_key`` and ``phone_enc``."""
        if phone is not None:
            kw["phone_key"], kw["phone_enc"] = sealed_phone(phone)
        super().__init__(**kw)

    def clear_phone(self) -> str | None:
        """The complainant's phone number in clear (decrypted now), or None. Raises
        ``desk.pii.PiiKeyError`` when the configured keys do not open it."""
        if not self.phone_enc:
            return None
        return pii.keyring().decrypt(pii.PHONE, self.phone_enc)

    def set_phone(self, phone: str | None) -> None:
        """Store ``phone`` (already normalised) as its look-up key and ciphertext; None clears both."""
        self.phone_key, self.phone_enc = sealed_phone(phone)

    def opened(self, name: str) -> Any:
        """The clear value of a sealed column (``chronology``, ``email``, ``id_card_address``,
        ``outcome``; storage.sealed). Raises ``desk.pii.PiiKeyError`` when the keys do not open it."""
        return opened(self, name)


class TicketEvent(Base):
    """Append-only history: status changes, assignments, escalations, notes, messages."""

    __tablename__ = "ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))  # "bot", "system", "borrower", "user:<id>"
    # Free text in it (notes, reasons, messages to the borrower) is masked; the original entry is
    # sealed in ``data_enc`` when it held an identifier (storage.sealed).
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def opened_data(self) -> dict[str, Any]:
        """The entry as written (the sealed original opened)."""
        return opened(self, "data")


class TicketConversation(Base):
    """Which conversations a ticket was raised or discussed in."""

    __tablename__ = "ticket_conversations"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )


class TicketNumberCounter(Base):
    """The last sequence number issued per prefix and WIB day; one row per day."""

    __tablename__ = "ticket_number_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class TicketAlert(AlertColumns, Base):
    """Something the scheduler raised once: an SLA alert, a reminder, a borrower update.

    ``key`` names the occurrence (e.g. ``resolution_overdue`` or
    ``status_update:3``); the unique (ticket_id, key) makes the scheduler
    idempotent across runs and desk instances. Recipients are user ids and/or
    roles ("supervisor", "department:legal"); the shared columns are
    ``storage.alerts.AlertColumns``.
    """

    __tablename__ = "ticket_alerts"
    __table_args__ = (UniqueConstraint("ticket_id", "key"), Index("ix_ticket_alerts_created", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    read_at: Mapped[datetime | None] = mapped_column(sort_order=1)  # after the shared columns, as migrated


# Free text and identifiers typed by borrowers, the bot or staff: stored masked, originals sealed.
seal_column(Ticket, "chronology")
seal_column(Ticket, "email", "value")
seal_column(Ticket, "id_card_address", "hidden")
seal_column(Ticket, "outcome", "json")
seal_column(TicketEvent, "data", "json")
