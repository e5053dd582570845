"""Pure checks of form values; each returns (clean value or None, re-prompt)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Optional, Tuple

from actions.content import CATEGORY_LABELS, match_product, products
from actions.dates import format_date_id, parse_indonesian_date
from actions.phone import normalise_phone

Checked = Tuple[Optional[str], Optional[str]]

MIN_CHRONOLOGY_CHARS = 30
MIN_CHRONOLOGY_WORDS = 6

_NAME_PREFIX = re.compile(
    r"^\s*(?:(?:nama|nm)\s+(?:saya|sy|aku|lengkap(?:\s+saya)?)\s*(?:adalah|:)?|saya|sy|aku|atas\s+nama|a\.?n\.?)\s+",
    re.IGNORECASE,
)
_LOAN_ID = re.compile(r"\b([A-Za-z]{2,4})?[\s\-/]?(\d{5,15})\b")
_TICKET = re.compile(r"\b([A-Za-z]{2,5})[\s\-/]?(\d{4,8})[\s\-/]?(\d{1,6})?\b")


def check_full_name(value: str) -> Checked:
    """A person's name: letters, spaces, apostrophes, dots; 3–80 characters."""
    # "Budi Santoso, 0812…" → keep the part before the first comma or digit.
    text = re.split(r"[,;\n\d]", _NAME_PREFIX.sub("", (value or "").strip()), maxsplit=1)[0].strip(" .,!-")
    if re.search(r"\d", text) or len(text) < 3 or len(text) > 80 or len(re.sub(r"[^A-Za-z]", "", text)) < 3:
        return None, "Mohon tuliskan nama lengkap Anda dengan huruf saja, Kak (contoh: Budi Santoso)."
    if not re.fullmatch(r"[A-Za-z][A-Za-z .'\-]*", text):
        return None, "Mohon tuliskan nama lengkap Anda dengan huruf saja, Kak (contoh: Budi Santoso)."
    return " ".join(part.capitalize() if part.islower() else part for part in text.split()), None


def check_phone(value: str) -> Checked:
    """An Indonesian mobile number, normalised to +628…"""
    phone = normalise_phone(value or "")
    if not phone:
        return None, "Nomor HP-nya belum sesuai format, Kak (contoh: 081234567890 atau +6281234567890)."
    return phone, None


def check_loan_id(value: str) -> Checked:
    """A loan or order id such as LN-1234567 or 88012345 (letters optional)."""
    match = _LOAN_ID.search(value or "")
    if not match:
        return None, "Nomor pinjaman/order belum sesuai format, Kak."
    prefix, digits = match.group(1), match.group(2)
    return (f"{prefix.upper()}-{digits}" if prefix else digits), None


def product_choices() -> str:
    """The lender's product names for a re-prompt."""
    return ", ".join(p.get("name", "") for p in products())


def check_product(value: str) -> Checked:
    """One of the lender's products (by name, code or synonym) → its name."""
    product = match_product(value or "")
    if not product:
        return None, f"Produk tersebut belum saya kenali, Kak. Pilih salah satu: {product_choices()}."
    return product["name"], None


def check_transaction_date(value: str, today: Optional[dt.date] = None) -> Checked:
    """An Indonesian date phrase → YYYY-MM-DD; never in the future."""
    parsed = parse_indonesian_date(value or "", today)
    if parsed.error == "future":
        return None, "Tanggal transaksi tidak bisa di masa depan, Kak."
    if parsed.value is None:
        return None, "Maaf Kak, tanggalnya belum bisa saya pahami (contoh: \"12 Januari\", \"05/01/2024\")."
    return parsed.value.isoformat(), None


def describe_date(iso_value: Optional[str]) -> str:
    """YYYY-MM-DD → '5 Januari 2024' for summaries."""
    try:
        return format_date_id(dt.date.fromisoformat(iso_value or ""))
    except ValueError:
        return iso_value or "-"


def check_chronology(value: str) -> Checked:
    """Enough text for an agent to act on."""
    text = (value or "").strip()
    if len(text) < MIN_CHRONOLOGY_CHARS or len(text.split()) < MIN_CHRONOLOGY_WORDS:
        return None, "Ceritanya masih terlalu singkat untuk kami tindak lanjuti, Kak."
    return text[:2000], None


def check_category(value: str) -> Optional[str]:
    """A category code from a code or an Indonesian label, else None."""
    low = (value or "").strip().lower()
    if low in CATEGORY_LABELS:
        return low
    for code, label in CATEGORY_LABELS.items():
        if low and (low == label.lower() or low in label.lower().split("/")):
            return code
    return None


def check_ticket_number(value: str) -> Checked:
    """A ticket number like DCI-20240105-0001 → upper case with dashes."""
    match = _TICKET.search(value or "")
    if not match:
        return None, "Nomor tiketnya belum sesuai format, Kak."
    parts = [match.group(1).upper(), match.group(2)] + ([match.group(3)] if match.group(3) else [])
    return "-".join(parts), None
