"""What the borrower reads about their ticket, in polite Bahasa Indonesia.

Chat text is plain with WhatsApp-style *bold* markers, the neutral markup
every chat connector renders for its channel (``connectors.markup``);
``for_channel`` keeps it for chat channels and strips it for plain ones
(e-mail, printed pages).
"""
from __future__ import annotations

import re
from datetime import datetime

from tickets.calendar import to_wib

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember")
DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")

STATUS_LABELS = {
    "received": "Diterima",
    "in_progress": "Sedang diproses",
    "escalated": "Sedang ditangani tim terkait",
    "resolved": "Selesai",
    "rejected": "Ditolak",
}

REJECTION_REASONS = {
    "documents_not_supplied": "dokumen pendukung yang kami minta belum kami terima sampai batas waktu yang ditentukan",
    "already_resolved": "pengaduan yang sama telah diselesaikan sebelumnya sesuai ketentuan yang berlaku",
    "not_our_product": "pengaduan tersebut tidak berkaitan dengan produk atau layanan kami",
    "no_financial_loss": "tidak terdapat kerugian finansial secara langsung dan tidak ada hal yang diperjanjikan dalam kontrak",
}

LAPS_SJK = ("Apabila Anda belum sepakat dengan penyelesaian ini, Anda dapat menempuh penyelesaian "
            "sengketa melalui Lembaga Alternatif Penyelesaian Sengketa Sektor Jasa Keuangan (LAPS SJK, "
            "www.lapssjk.id) atau melalui pengadilan.")

_BOLD = re.compile(r"\*([^*\n]+)\*")


def tanggal(at: datetime, *, with_time: bool = True) -> str:
    """``Rabu, 9 April 2025 pukul 23.59 WIB``."""
    local = to_wib(at)
    text = f"{DAYS_ID[local.weekday()]}, {local.day} {MONTHS_ID[local.month - 1]} {local.year}"
    if with_time:
        text += f" pukul {local:%H.%M} WIB"
    return text


CHAT_CHANNELS = ("whatsapp", "telegram", "inapp")


def for_channel(text: str, channel: str) -> str:
    """``text`` for ``channel``: the neutral markup for chat (its connector renders it), plain otherwise."""
    if channel in CHAT_CHANNELS:
        return text
    return _BOLD.sub(lambda m: m.group(1), text)


def rejection_notice(number: str, ground: str, note: str | None) -> str:
    """The written rejection with its reason."""
    text = (f"Kak, terima kasih atas kesabaran Anda. Dengan berat hati kami sampaikan bahwa pengaduan "
            f"*{number}* tidak dapat kami tindak lanjuti karena {REJECTION_REASONS[ground]}.")
    if note:
        text += f"\n\nKeterangan: {note}"
    text += ("\n\nJika ada informasi atau dokumen baru, Anda dapat mengajukan pengaduan kembali. "
             + LAPS_SJK)
    return text


def resolution_notice(number: str, outcome: dict[str, object]) -> str:
    """The outcome: an explanation, or an offer (apology, fix of the service, compensation)."""
    lines = [f"Kak, pengaduan *{number}* telah selesai kami tangani."]
    if outcome.get("kind") == "explanation":
        lines.append(str(outcome["explanation"]))
    else:
        if outcome.get("apology"):
            lines.append(f"Kami mohon maaf atas ketidaknyamanan yang Anda alami. {outcome['apology']}".strip())
        if outcome.get("service_fix"):
            lines.append(f"Perbaikan layanan: {outcome['service_fix']}")
        if outcome.get("compensation_amount"):
            lines.append(f"Kompensasi: {rupiah(float(outcome['compensation_amount']))}")
        lines.append("Mohon balas pesan ini apabila Anda menyetujui atau tidak menyetujui penyelesaian ini.")
    return "\n\n".join(lines)


def refusal_notice(number: str) -> str:
    """What the borrower hears after refusing the settlement."""
    return (f"Baik Kak, kami catat bahwa Anda belum menyetujui penyelesaian pengaduan *{number}*. "
            f"Pengaduan Anda kami buka kembali dan akan kami tinjau ulang. " + LAPS_SJK)


def extension_notice(number: str, new_due: datetime, reason: str) -> str:
    """Notice that the resolution deadline is extended (once)."""
    return (f"Kak, penanganan pengaduan *{number}* memerlukan waktu tambahan karena {reason}. "
            f"Batas waktu penyelesaian kami perpanjang sampai *{tanggal(new_due)}*. "
            f"Mohon maaf atas ketidaknyamanannya, kami akan terus mengabari Anda.")


def status_update(number: str, status: str, resolution_due: datetime | None, *, now: datetime,
                  expected_at: datetime | None = None) -> str:
    """The periodic update while the complaint is investigated; the one wording of it.

    On time it names the deadline. Past the deadline it never repeats a date
    already gone: it says the complaint is late, apologises, and gives the new
    expectation the person handling it set (``expected_at``, when still in the
    future), or says that person will contact the borrower with it.
    """
    text = (f"Kak, kami ingin mengabarkan bahwa pengaduan *{number}* masih kami proses "
            f"(status: {STATUS_LABELS.get(status, status)}).")
    if resolution_due is None or resolution_due > now:
        if resolution_due:
            text += f" Kami akan menyelesaikannya paling lambat {tanggal(resolution_due)}."
        return text + " Terima kasih atas kesabaran Anda."
    text += " Penanganannya sudah melewati batas waktu yang kami janjikan, dan kami mohon maaf atas keterlambatan ini."
    if expected_at is not None and expected_at > now:
        text += (" Petugas yang menangani pengaduan Anda kini memperkirakan penyelesaiannya paling lambat "
                 f"{tanggal(expected_at)}.")
    else:
        text += (" Petugas yang menangani pengaduan Anda akan segera menghubungi Anda untuk menyampaikan "
                 "perkiraan waktu penyelesaian yang baru.")
    return text + " Terima kasih atas kesabaran Anda."


def laps_notice(number: str) -> str:
    """After the final deadline passes unresolved (POJK 22/2023)."""
    return (f"Kak, mohon maaf pengaduan *{number}* belum dapat kami selesaikan dalam batas waktu "
            f"yang berlaku. Kami tetap menanganinya; " + LAPS_SJK[0].lower() + LAPS_SJK[1:])


def rupiah(amount: float) -> str:
    """``Rp1.250.000``."""
    whole = f"{int(round(amount)):,}".replace(",", ".")
    return f"Rp{whole}"


def acceptance_reply(number: str) -> str:
    """The borrower agreed with the outcome."""
    return (f"Terima kasih, Kak. Kami catat bahwa Anda menyetujui penyelesaian pengaduan *{number}*. "
            "Jika ada hal lain, silakan sampaikan kapan saja.")


def dispute_reply(number: str, *, reopened: bool, next_step: str) -> str:
    """The borrower disagrees: what happens now, and the way further (the lender's ``next_step`` text)."""
    if reopened:
        first = (f"Baik, Kak, kami catat bahwa Anda belum menyetujui penyelesaian pengaduan *{number}*. "
                 "Pengaduan Anda kami buka kembali dan petugas kami akan meninjaunya ulang serta menghubungi Anda.")
    else:
        first = (f"Baik, Kak, kami catat keberatan Anda atas keputusan pengaduan *{number}*, "
                 "dan petugas kami akan mempelajarinya.")
    return f"{first} {next_step}"


def next_step_reply(number: str, next_step: str) -> str:
    """Where the borrower can take the complaint further."""
    return f"Untuk pengaduan *{number}*: {next_step}"
