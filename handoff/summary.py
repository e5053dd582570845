"""The handoff summary as agents read it: a few Indonesian lines, rendered in one place.

The bot sends a structured summary with each handoff (``custom.handoff.summary``,
a JSON object: ``last_intent``, ``last_message``, ``chronology``, ``full_name``,
``phone`` (masked), ``product``, ``transaction_date``, ``complaint_category``,
``proposed_category``, ``ticket_number``, …; docs/handoff.md). The desk adds
what only it knows for sure: whether the borrower is verified (the
conversation's ``customer_id``: the lending core knows the in-app customer, or
the identity check passed — never the bot's own claim) and which fields the
ticket still lacks. ``summary_lines`` turns all of that into the lines the
queue and the conversation panel show.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desk import masking
from tickets.models import CATEGORY_LABELS

REASONS = {
    "request_human": "peminjam minta bicara dengan petugas",
    "fraud": "laporan penipuan",
    "collection_threat": "keluhan penagihan (ancaman/penyebaran data)",
    "fallback": "bot tidak memahami pesan peminjam",
    "verification_failed": "verifikasi identitas gagal berulang kali",
    "complex_case": "kasus perlu ditangani petugas",
    "bot_unavailable": "bot tidak merespons; pesan terakhir peminjam belum dijawab",
    "bot_failed": "bot gagal menjawab dengan benar; pesan terakhir peminjam belum dijawab",
}
TOPICS = {
    "ask_payment_method": "cara pembayaran",
    "ask_bill_amount": "cek tagihan",
    "ask_application_status": "status pengajuan",
    "ask_how_to_apply": "cara mengajukan pinjaman",
    "ask_product_info": "info produk dan bunga",
    "ask_complaint_procedure": "prosedur pengaduan",
    "ask_operating_hours": "jam layanan",
    "complain_payment": "masalah pembayaran",
    "complain_fraud": "penipuan",
    "complain_collection": "penagihan",
    "request_relief": "keringanan pembayaran",
    "change_phone_number": "ganti nomor HP",
    "complain_app": "masalah aplikasi",
    "request_human": "bicara dengan petugas",
    "check_ticket_status": "cek status tiket",
    "lodge_complaint": "pengaduan",
}
MISSING_LABELS = {"full_name": "nama", "contact": "nomor HP/e-mail", "product": "produk",
                  "transaction_date": "tanggal transaksi", "chronology": "kronologi"}
QUOTE_CHARS = 200
# An older bot sent "key=value; key=value" text; read it rather than show debug text to agents.
_PAIR = re.compile(r"(\w+)=([^;]*)(?:;\s*|$)")


@dataclass(frozen=True)
class SummaryInput:
    """What one handoff's summary is rendered from."""

    reason: str
    category: str | None
    ticket_number: str | None
    missing_fields: Sequence[str]
    customer_id: str | None
    summary: Mapping[str, Any] | None


def structured(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """The summary as a dict, reading the legacy ``{"text": "k=v; …"}`` form too."""
    data = dict(summary or {})
    text = data.get("text")
    if isinstance(text, str) and text.startswith("reason="):
        data.pop("text")
        data = {**{k: v.strip() for k, v in _PAIR.findall(text)}, **data}
    return data


def _quote(text: str, mask: bool) -> str:
    text = " ".join(text.split())
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 1].rstrip() + "…"
    return f"“{masking.mask_text(text) if mask else text}”"


def summary_lines(item: SummaryInput, *, mask: bool) -> list[str]:
    """The handoff summary in a few Indonesian lines an agent can act on.

    ``mask``: the reader may not see full personal data (``handoff.access``);
    names and numbers inside the lines are then masked like everywhere else.
    """
    data = structured(item.summary)
    category = item.category or data.get("complaint_category") or data.get("proposed_category")
    lines = [f"Alasan: {REASONS.get(item.reason, item.reason.replace('_', ' '))}."]
    if category:
        lines.append(f"Kategori: {CATEGORY_LABELS.get(category, category)}.")
    number = item.ticket_number or data.get("ticket_number")
    if number:
        line = f"Tiket: {number}"
        if item.missing_fields:
            line += " — data belum lengkap: " + ", ".join(MISSING_LABELS.get(f, f) for f in item.missing_fields)
        lines.append(line + ".")
    else:
        lines.append("Tiket: belum ada.")
    if item.customer_id:
        lines.append(f"Identitas: terverifikasi ({item.customer_id}).")
    else:
        lines.append("Identitas: belum terverifikasi.")
    known = []
    if data.get("full_name"):
        name = str(data["full_name"])
        known.append(f"nama {masking.mask_name(name) if mask else name}")
    if data.get("phone"):
        known.append(f"HP {masking.mask_phone(str(data['phone'])) if mask else data['phone']}")
    if data.get("product"):
        known.append(f"produk {data['product']}")
    if data.get("transaction_date"):
        known.append(f"tanggal kejadian {data['transaction_date']}")
    if known:
        lines.append("Disebutkan peminjam: " + ", ".join(known) + ".")
    topic = TOPICS.get(str(data.get("last_intent") or data.get("intent") or ""))
    words = data.get("chronology") or data.get("last_message")
    if words:
        lines.append(("Permintaan peminjam" + (f" ({topic})" if topic else "") + ": ") + _quote(str(words), mask))
    elif topic:
        lines.append(f"Permintaan peminjam: {topic}.")
    missed = data.get("misunderstood")
    if isinstance(missed, list) and missed:
        # Issue #16: the bot handed over after not understanding; the agent reads the borrower's own words.
        quoted = [_quote(str(m.get("text") or ""), mask) + _guess(m) for m in missed if isinstance(m, Mapping)]
        lines.append("Pesan yang tidak dipahami bot: " + "; ".join(q for q in quoted if q) + ".")
    sentences = data.get("sentences")
    if isinstance(sentences, list) and len(sentences) > 1:
        topics = [TOPICS.get(str(s.get("intent")), "") for s in sentences if isinstance(s, Mapping)]
        named = list(dict.fromkeys(t for t in topics if t))
        if named:
            lines.append("Isi pesan panjang: " + ", ".join(named) + ".")
    return lines


def _guess(missed: Mapping[str, Any]) -> str:
    """" (mungkin: cek tagihan)" from the bot's likeliest topic of a misunderstood message."""
    candidates = missed.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping) else {}
    topic = TOPICS.get(str(first.get("intent") or ""))
    return f" (mungkin: {topic})" if topic else ""
