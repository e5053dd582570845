"""Pure checks of form values; each returns (clean value or None, re-prompt)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Optional, Tuple

from actions.content import CATEGORY_LABELS, match_product, products
from actions.dates import format_date_id, parse_indonesian_date, today_jakarta
from actions import identifiers as ids
from actions.phone import normalise_phone

Checked = Tuple[Optional[str], Optional[str]]

MIN_CHRONOLOGY_CHARS = 30
MIN_CHRONOLOGY_WORDS = 6

_NAME_PREFIX = re.compile(
    r"^\s*(?:(?:nama|nm)\s+(?:saya|sy|aku|lengkap(?:\s+saya)?)\s*(?:adalah|:)?|saya|sy|aku|atas\s+nama|a\.?n\.?)\s+",
    re.IGNORECASE,
)


# Words that are never a person's name: answers, greetings, chat words, the
# topics of this desk. "iya" was accepted as a full name (issue #11 item 12).
NOT_NAME_WORDS = frozenset("""
    iya ya yah yaa yoi ok oke okay okey siap sip baik betul benar bener tidak tdk nggak ngga enggak gak ga gk g
    bukan belum sudah udah udh sdh blm ada halo hallo hai hay hi hello pagi siang sore malam selamat terima
    kasih makasih thanks thank tq mau ingin minta tolong mohon bantu bantuan min kak admin gan sis bro
    apa apakah kenapa mengapa kapan berapa gimana bagaimana dimana mana siapa bisa boleh kok dong deh sih
    nih tuh aja saja juga lagi lg dan atau tapi tp karena krn kalau kalo yang yg ini itu di ke dari
    bayar pembayaran tagihan cicilan angsuran pinjaman pinjol utang hutang denda bunga lunas nunggak telat
    komplain aduan pengaduan lapor laporan tiket status cek aplikasi app apk akun login otp error gagal
    transfer saldo rekening nomor no nmr hp wa whatsapp telepon telp email petugas cs manusia batal
    kemarin kemaren kmrn hari minggu bulan tahun tanggal tgl besok lusa tadi sekarang lupa tahu tau
    produk paylater tunai kta umkm usaha dana penipuan tipu penagihan debt collector dc
""".split())
NAME_REPROMPT = "Mohon tuliskan nama lengkap Anda sesuai KTP dengan huruf saja, Kak (contoh: Budi Santoso)."
_DONT_KNOW = re.compile(
    r"\b(?:(?:tidak|tdk|nggak|ngga|enggak|gak|ga|gk|g|belum|blm)\s*(?:tahu|tau|ingat|inget|yakin|pasti)"
    r"|lupa|entah|lainnya|lain2|lain-lain|ndak tau|gatau|gatau|gtau|gktau|tidak tahu)\b",
    re.IGNORECASE)
MAX_NAME_WORDS = 6


def is_dont_know(text: str) -> bool:
    """'tidak tahu', 'lupa', 'lainnya'…: the borrower cannot or will not say."""
    return bool(_DONT_KNOW.search(text or ""))


def check_full_name(value: str) -> Checked:
    """A plausible person's name: letters only, 1–6 words, none of them a chat word, answer or topic."""
    # "Budi Santoso, 0812…" → keep the part before the first comma or digit.
    text = re.split(r"[,;\n\d]", _NAME_PREFIX.sub("", (value or "").strip()), maxsplit=1)[0].strip(" .,!-")
    if re.search(r"\d", text) or len(text) < 3 or len(text) > 80 or len(re.sub(r"[^A-Za-z]", "", text)) < 3:
        return None, NAME_REPROMPT
    if not re.fullmatch(r"[A-Za-z][A-Za-z .'\-]*", text):
        return None, NAME_REPROMPT
    words = [w.strip(".'-").lower() for w in text.split()]
    if len(words) > MAX_NAME_WORDS or any(w in NOT_NAME_WORDS for w in words) or match_product(text):
        return None, NAME_REPROMPT
    return " ".join(part.capitalize() if part.islower() else part for part in text.split()), None


def check_phone(value: str) -> Checked:
    """An Indonesian mobile number, normalised to +628…"""
    phone = normalise_phone(value or "")
    if not phone:
        return None, "Nomor HP-nya belum sesuai format, Kak (contoh: 081234567890 atau +6281234567890)."
    return phone, None


def check_loan_id(value: str) -> Checked:
    """A loan id (PJ-2024-000123) or application/order id (APP-88001), read whole."""
    found = ids.find_loan_id(value or "")
    if not found:
        return None, (f"Nomor pinjaman/order belum sesuai format, Kak. Nomor pinjaman tertulis seperti "
                      f"{ids.EXAMPLE_LOAN_ID}, nomor order seperti {ids.EXAMPLE_APPLICATION_ID} "
                      f"(ada di menu \"Pinjaman Saya\").")
    return found, None


def product_choices() -> str:
    """The lender's product names for a re-prompt."""
    return ", ".join(p.get("name", "") for p in products())


# Stored as the product when the borrower does not know it; the agent completes it.
UNKNOWN_PRODUCT = "Lainnya/tidak tahu"


def check_product(value: str) -> Checked:
    """One of the lender's products (by name, code or synonym) → its name; 'tidak tahu' → UNKNOWN_PRODUCT."""
    product = match_product(value or "")
    if product:
        return product["name"], None
    if is_dont_know(value) or (value or "").strip().lower() == UNKNOWN_PRODUCT.lower():
        return UNKNOWN_PRODUCT, None
    return None, f"Produk tersebut belum saya kenali, Kak. Pilih salah satu: {product_choices()}."


MAX_TRANSACTION_AGE_YEARS = 5


def check_transaction_date(value: str, today: Optional[dt.date] = None) -> Checked:
    """An Indonesian date phrase → YYYY-MM-DD; never in the future, never more than 5 years back."""
    parsed = parse_indonesian_date(value or "", today)
    if parsed.error == "future":
        return None, "Tanggal transaksi tidak bisa di masa depan, Kak."
    if parsed.value is None:
        return None, ("Maaf Kak, tanggalnya belum bisa saya pahami (contoh: \"12 Januari\", \"05/01/2024\", "
                      "\"kemarin\"). Jika tidak ingat, tulis \"tidak ingat\".")
    cutoff = (today or today_jakarta()) - dt.timedelta(days=round(365.25 * MAX_TRANSACTION_AGE_YEARS))
    if parsed.value < cutoff:
        return None, (f"Tanggal {format_date_id(parsed.value)} sudah lebih dari {MAX_TRANSACTION_AGE_YEARS} tahun "
                      "lalu, Kak. Mohon periksa kembali tahunnya.")
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


def check_ticket_number(value: str, default_prefix: Optional[str] = None) -> Checked:
    """A ticket number with its check digit (DCI-261130-0005-4), read whole, canonical."""
    found = ids.find_ticket_number(value or "", default_prefix)
    if found:
        return found, None
    cut = ids.find_incomplete_ticket_number(value or "")
    if cut:
        return None, (f"Nomor tiket {cut} sepertinya belum lengkap, Kak: nomor tiket diakhiri satu angka lagi "
                      "setelah tanda hubung terakhir. Mohon salin nomor lengkapnya dari tanda bukti aduan.")
    return None, "Nomor tiketnya belum sesuai format, Kak. Mohon salin nomor lengkapnya dari tanda bukti aduan."
