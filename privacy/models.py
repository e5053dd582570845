"""Privacy models: a data subject's rights request and the alerts raised on its clock.

A rights request is its own kind of record, not a complaint ticket: it has
its own clock (``tickets.sla.HoursPolicy``, clock hours), its own outcomes and
it is never counted in the complaint reports to OJK.
"""
from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from desk import pii
from storage.base import Base, utcnow


class RequestKind(str, enum.Enum):
    """The rights of UU 27/2022 a borrower may exercise through the desk."""

    ACCESS = "access"                      # Pasal 7, 32: confirmation and access, with the processing record
    COPY = "copy"                          # Pasal 7, 32: a copy of the data
    CORRECTION = "correction"              # Pasal 6, 30
    WITHDRAW_CONSENT = "withdraw_consent"  # Pasal 9, 40
    RESTRICTION = "restriction"            # Pasal 11, 41
    ERASURE = "erasure"                    # Pasal 8, 42-44 (no fixed deadline)


# Requests the law puts on the 3 x 24 hour clock; erasure has none.
TIMED_KINDS = frozenset({RequestKind.ACCESS, RequestKind.COPY, RequestKind.CORRECTION,
                         RequestKind.WITHDRAW_CONSENT, RequestKind.RESTRICTION})

KIND_LABELS = {
    "access": "Akses data pribadi",
    "copy": "Salinan data pribadi",
    "correction": "Perbaikan data pribadi",
    "withdraw_consent": "Penarikan persetujuan",
    "restriction": "Pembatasan pemrosesan",
    "erasure": "Penghapusan data pribadi",
}


class RequestStatus(str, enum.Enum):
    RECEIVED = "received"      # recorded, identity not yet verified: nothing is released
    VERIFIED = "verified"      # identity verified; being answered
    COMPLETED = "completed"    # answered (data released, corrected, processing stopped, erased)
    REFUSED = "refused"        # refused with a reason (e.g. identity could not be verified)


STATUS_LABELS = {
    "received": "Diterima, menunggu verifikasi identitas",
    "verified": "Identitas terverifikasi, sedang diproses",
    "completed": "Selesai",
    "refused": "Ditolak",
}

OPEN_STATUSES = frozenset({RequestStatus.RECEIVED.value, RequestStatus.VERIFIED.value})


class RequestSource(str, enum.Enum):
    CHAT = "chat"        # the borrower asked the bot
    PHONE = "phone"      # an agent recorded it from a call
    LETTER = "letter"
    EMAIL = "email"
    WALK_IN = "walk_in"


def new_status_token() -> str:
    """The unguessable token of the borrower's status link."""
    return secrets.token_urlsafe(24)


class RightsRequest(Base):
    """One data subject's request under UU 27/2022 (Pasal 14: recorded)."""

    __tablename__ = "rights_requests"
    __table_args__ = (Index("ix_rights_requests_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default=RequestStatus.RECEIVED.value)
    source: Mapped[str] = mapped_column(String(12))
    # Set once the identity is verified (from the verified chat, or by the agent).
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"),
                                                        index=True)
    requester_name: Mapped[str] = mapped_column(String(128), default="")
    # How to reach the requester (phone, e-mail or postal address): personal data, so sealed whole in
    # ``requester_contact_enc`` (desk.pii.seal_value); ``requester_contact`` keeps only its masked form.
    requester_contact: Mapped[str | None] = mapped_column(String(256))
    requester_contact_enc: Mapped[str | None] = mapped_column(String(512))
    details: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Computed by tickets.sla.deadline only; NULL for erasure (no fixed deadline).
    due_at: Mapped[datetime | None] = mapped_column()
    sla_policy: Mapped[str] = mapped_column(String(32), default="uu-pdp-27-2022")
    verified_at: Mapped[datetime | None] = mapped_column()
    verification_method: Mapped[str | None] = mapped_column(String(32))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(Text)
    # True when closed before due_at (None while open or without a deadline).
    answered_in_time: Mapped[bool | None] = mapped_column()
    status_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_status_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __init__(self, *, requester_contact: str | None = None, **kw: Any) -> None:
        """``requester_contact`` (clear) is stored sealed, with its masked form (``desk.pii.seal_value``)."""
        if requester_contact:
            kw["requester_contact"], kw["requester_contact_enc"] = pii.seal_value(pii.CONTACT, requester_contact)
        super().__init__(**kw)

    def clear_contact(self) -> str | None:
        """The requester's contact as given (decrypted now), or None. Raises ``desk.pii.PiiKeyError`` when
        the configured keys do not open it."""
        return pii.keyring().decrypt(pii.CONTACT, self.requester_contact_enc) if self.requester_contact_enc \
            else self.requester_contact


class RightsAlert(Base):
    """An alert raised once on a rights request's clock (like ``tickets.models.TicketAlert``).

    ``recipients`` has the shape ``tickets.alerts.visible_to`` reads, so the
    one rule of who sees an alert applies to these too.
    """

    __tablename__ = "rights_alerts"
    __table_args__ = (UniqueConstraint("request_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_requests.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    recipients: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnonymisedRecord(Base):
    """The ledger of the retention job: which conversation or ticket was anonymised, when, under which rule.

    It makes the daily job idempotent and shows an auditor that the schedule
    ran; it holds no personal data (the record's own id and a rule name).
    """

    __tablename__ = "anonymised_records"
    __table_args__ = (UniqueConstraint("record_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column()
    rule: Mapped[str] = mapped_column(String(32))
    anonymised_at: Mapped[datetime] = mapped_column(default=utcnow)


class RelationshipEnd(Base):
    """The lender's core said this customer's business relationship ended, and when.

    UU 8/2010 Pasal 21(2) keeps identity records at least 5 years after the
    relationship ends; only the lender's core knows when that is, and tells the
    desk (``privacy.relationships``). No row: the relationship has not ended (or
    resumed), and the customer's identity records are kept.
    """

    __tablename__ = "relationship_ends"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), unique=True)
    ended_at: Mapped[datetime] = mapped_column()
    # "lending_core" (the authenticated endpoint) or "cli" (aduan relationship-ended).
    source: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class HoldReason(str, enum.Enum):
    """Why a borrower's record may not be erased yet (UU 27/2022 Pasal 43-44: "sesuai peraturan")."""

    OPEN_COMPLAINT = "open_complaint"        # computed: the complaint is still being handled
    RETENTION_MINIMUM = "retention_minimum"  # computed: another law's minimum period (privacy.retention)
    LAPS_SJK_DISPUTE = "laps_sjk_dispute"    # set by a supervisor: the dispute is before LAPS SJK
    LEGAL_CASE = "legal_case"                # set by a supervisor: a court case or investigation needs it
    REGULATOR_REQUEST = "regulator_request"  # set by a supervisor: OJK or another authority asked for it


# What the requester is told for each reason (Bahasa Indonesia).
HOLD_LABELS = {
    "open_complaint": "pengaduan Anda masih kami tangani",
    "retention_minimum": "wajib kami simpan sampai batas waktu penyimpanan menurut undang-undang",
    "laps_sjk_dispute": "sedang menjadi sengketa di LAPS SJK",
    "legal_case": "diperlukan untuk proses hukum yang sedang berjalan",
    "regulator_request": "diminta oleh OJK atau otoritas yang berwenang",
}
MANUAL_HOLDS = frozenset({HoldReason.LAPS_SJK_DISPUTE, HoldReason.LEGAL_CASE, HoldReason.REGULATOR_REQUEST})


class LegalHold(Base):
    """A hold a supervisor set on one record (conversation or ticket); erasure and retention skip it."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_record", "record_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    record_type: Mapped[str] = mapped_column(String(16))  # "conversation" | "ticket"
    record_id: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None] = mapped_column()


class ErasureItem(Base):
    """One record an erasure request could not erase at once, with the reason; erased when the hold ends."""

    __tablename__ = "erasure_items"
    __table_args__ = (UniqueConstraint("request_id", "record_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_requests.id", ondelete="CASCADE"), index=True)
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(24))
    held_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column()


# Data classes a breach may expose (UU 27/2022 Pasal 4: general and specific personal data).
DATA_CLASSES = {
    "name": "nama",
    "phone": "nomor telepon",
    "email": "alamat e-mail",
    "nik": "NIK",
    "address": "alamat",
    "loan_data": "data pinjaman dan pembayaran",
    "transcripts": "isi percakapan dengan layanan pengaduan",
    "id_documents": "foto KTP dan swafoto",
}


class Breach(Base):
    """A personal-data breach in the register, with its 72-hour notification clock (Pasal 46)."""

    __tablename__ = "breaches"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # What happened and how (told to the people affected, Pasal 46(2)(b)).
    description: Mapped[str] = mapped_column(Text)
    # What was done to contain it and recover (Pasal 46(2)(c)).
    remediation: Mapped[str] = mapped_column(Text, default="")
    data_classes: Mapped[list[Any]] = mapped_column(default=list)
    occurred_at: Mapped[datetime | None] = mapped_column()
    discovered_at: Mapped[datetime] = mapped_column()
    # Computed by tickets.sla.deadline (Clock.BREACH_NOTICE) only.
    notify_due: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | notified | closed
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BreachSubject(Base):
    """A borrower affected by a breach, and when they were notified."""

    __tablename__ = "breach_subjects"
    __table_args__ = (UniqueConstraint("breach_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breaches.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    notified_at: Mapped[datetime | None] = mapped_column()
    # True when notified within the 72 hours.
    notified_in_time: Mapped[bool | None] = mapped_column()


class BreachAlert(Base):
    """An alert raised once on a breach's notification clock (like ``RightsAlert``).

    ``recipients`` has the shape ``tickets.alerts.visible_to`` reads:
    supervisors by role, and admins, who see every staff alert.
    """

    __tablename__ = "breach_alerts"
    __table_args__ = (UniqueConstraint("breach_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breaches.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    recipients: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
