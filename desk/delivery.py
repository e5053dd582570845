"""What became of a sent message: provider delivery reports, recorded in order, explained to agents.

Twilio reports each WhatsApp message's progress to the ``StatusCallback`` URL
(``connectors.whatsapp``): queued → sent → delivered → read, or failed /
undelivered with an error code. Callbacks can arrive out of order, so a
status only ever moves forward (a ``delivered`` after ``read`` is ignored).
Telegram answers a send to a borrower who blocked the bot with 403
``Forbidden``; the outbox worker records that here too (``failed``,
``Forbidden``).

``record_status`` is the one writer of ``outbox.delivery_*`` after a send.
A WhatsApp text refused with 63016 (outside the 24-hour window) is queued
again once, as its template (``outbox.template_only``; ``desk.window``).
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from desk.messages import Channel
from desk.window import HOLD_NO_TEMPLATE, HOLD_TEMPLATE_NOT_REGISTERED, HOLD_TEMPLATE_VARIABLE
from storage.base import utcnow
from storage.models import Conversation, DeliveryStatus, OutboxItem, OutboxStatus

log = logging.getLogger(__name__)

# Forward order; failed and undelivered are final.
_RANK = {DeliveryStatus.QUEUED.value: 0, DeliveryStatus.SENT.value: 1, DeliveryStatus.DELIVERED.value: 2,
         DeliveryStatus.READ.value: 3, DeliveryStatus.FAILED.value: 4, DeliveryStatus.UNDELIVERED.value: 4}
FAILURES = frozenset({DeliveryStatus.FAILED.value, DeliveryStatus.UNDELIVERED.value})
# Twilio's "outside the allowed window" error (WhatsApp's 470).
OUTSIDE_WINDOW = "63016"
TELEGRAM_BLOCKED = "Forbidden"

# What agents read about a failure or a hold, in Indonesian (the console shows it beside the message).
REASONS_ID: dict[str, str] = {
    OUTSIDE_WINDOW: "Di luar jendela 24 jam WhatsApp: pesan bebas ditolak, dikirim ulang sebagai templat.",
    "63003": "Nomor tujuan tidak dapat menerima pesan WhatsApp.",
    "63024": "Nomor tujuan tidak valid untuk WhatsApp.",
    "63018": "Batas kecepatan kirim WhatsApp terlampaui.",
    "63032": "Pelanggan tidak menerima pesan jenis ini (pilihan pelanggan di WhatsApp).",
    "63049": "WhatsApp menahan pesan ini (kebijakan Meta).",
    "63027": "Templat tidak ada atau belum disetujui WhatsApp.",
    "63028": "Jumlah variabel templat tidak sesuai dengan templat yang disetujui.",
    "63030": "Parameter templat tidak didukung.",
    "30003": "Nomor tujuan tidak dapat dihubungi.",
    "30005": "Nomor tujuan tidak dikenal atau sudah tidak aktif.",
    "30006": "Nomor tujuan tidak dapat menerima pesan (telepon rumah atau operator tidak terjangkau).",
    "30007": "Pesan disaring oleh operator atau WhatsApp.",
    "30008": "Gagal terkirim karena alasan yang tidak diketahui.",
    TELEGRAM_BLOCKED: "Pelanggan memblokir bot Telegram kita; pesan tidak dapat dikirim.",
    HOLD_NO_TEMPLATE: "Ditahan: di luar jendela 24 jam WhatsApp hanya templat yang boleh dikirim. "
                      "Pesan ini terkirim otomatis setelah pelanggan membalas; kirim templat untuk menghubunginya.",
    HOLD_TEMPLATE_NOT_REGISTERED: "Ditahan: di luar jendela 24 jam dan templatnya belum terdaftar di berkas "
                                  "konten pemberi pinjaman. Pesan terkirim setelah pelanggan membalas.",
    HOLD_TEMPLATE_VARIABLE: "Ditahan: templat tidak dapat diisi (variabel kurang). "
                            "Pesan terkirim setelah pelanggan membalas.",
}


def reason_id(code: str | None) -> str:
    """The Indonesian explanation of a provider error code or hold reason ("" for none)."""
    if not code:
        return ""
    return REASONS_ID.get(code, f"Gagal terkirim (kode {code}).")


class Recorded(str, enum.Enum):
    """What ``record_status`` did."""

    UPDATED = "updated"
    UNCHANGED = "unchanged"   # not newer than what was recorded (out of order or repeated)
    UNKNOWN = "unknown"       # no outbox item has that provider id (yet)
    RESENT = "resent"         # 63016: queued again, as its template


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One provider report about one sent message."""

    provider_message_id: str
    status: str
    error_code: str | None = None


def advances(current: str | None, new: str) -> bool:
    """True when ``new`` is a later status than ``current`` (statuses never move backwards)."""
    if current is None:
        return True
    return _RANK.get(new, -1) > _RANK.get(current, -1)


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """What ``record_status`` did, and in which conversation (to tell its open consoles)."""

    recorded: Recorded
    conversation_public_id: str | None = None


async def record_status(session: AsyncSession, report: StatusReport, *,
                        now: datetime | None = None) -> StatusOutcome:
    """Record ``report`` on the outbox item sent as ``provider_message_id`` (no commit).

    Ignores a status that is not newer than the recorded one. A WhatsApp text
    that failed with 63016 and was not yet resent as a template is queued
    again, due now, ``template_only`` (once: a template is never resent); the
    caller nudges the outbox worker after the commit. Concurrent reports for
    one item are serialised by the conditional update on the status read.
    """
    if report.status not in _RANK:
        raise ValueError(f"unknown delivery status {report.status!r}")
    at = now or utcnow()
    # A conditional update on the status read; when another report changed it in between,
    # read again and decide again (a newer status must not be lost to an older one's race).
    for _ in range(5):
        row = (await session.execute(
            select(OutboxItem.id, OutboxItem.channel, OutboxItem.status, OutboxItem.delivery_status,
                   OutboxItem.template_only, Conversation.public_id)
            .join(Conversation, Conversation.id == OutboxItem.conversation_id)
            .where(OutboxItem.provider_message_id == report.provider_message_id)
            .order_by(OutboxItem.id.desc()).limit(1))).first()
        if row is None:
            return StatusOutcome(Recorded.UNKNOWN)
        if not advances(row.delivery_status, report.status):
            return StatusOutcome(Recorded.UNCHANGED, row.public_id)
        values: dict[str, object] = {"delivery_status": report.status, "delivery_error": report.error_code,
                                     "delivery_updated_at": at}
        resend = (report.status in FAILURES and report.error_code == OUTSIDE_WINDOW
                  and row.channel == Channel.WHATSAPP.value and not row.template_only
                  and row.status == OutboxStatus.SENT.value)
        if resend:
            # The give-up window starts again: this is a new attempt in another form.
            values.update(status=OutboxStatus.PENDING.value, template_only=True, attempts=0, next_attempt_at=at,
                          created_at=at, last_error="63016: outside the 24-hour window, resending as its template")
        current = OutboxItem.delivery_status
        done = await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == row.id, OutboxItem.provider_message_id == report.provider_message_id,
                   current.is_(None) if row.delivery_status is None else current == row.delivery_status)
            .values(**values))
        if done.rowcount == 1:  # type: ignore[attr-defined]
            break
    else:
        return StatusOutcome(Recorded.UNCHANGED, row.public_id)
    if resend:
        log.info("outbox item %s: WhatsApp refused the text outside the window (63016); resending as template",
                 row.id)
        return StatusOutcome(Recorded.RESENT, row.public_id)
    if report.status in FAILURES:
        log.warning("outbox item %s (%s): provider reports %s, error %s", row.id, row.channel, report.status,
                    report.error_code or "-")
    return StatusOutcome(Recorded.UPDATED, row.public_id)
