"""The console's words in Indonesian (default) and English: a small dict catalogue."""
from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("id", "en")
DEFAULT = "id"

CATALOGUE: dict[str, dict[str, str]] = {
    "file_pending": {"id": "Berkas sedang diambil…", "en": "Fetching the file…"},
    "file_not_retrieved": {"id": "Berkas tidak terambil", "en": "File not retrieved"},
    "file_erased": {"id": "Berkas sudah dimusnahkan (retensi/penghapusan data)",
                    "en": "File destroyed (retention schedule or erasure)"},
    "file_retry": {"id": "Ambil ulang", "en": "Retry"},
    "file_hidden": {"id": "Dokumen identitas (tersembunyi untuk peran Anda)",
                    "en": "Identity document (hidden from your role)"},
    "file_open": {"id": "Buka PDF", "en": "Open PDF"},
    "file_sensitive": {"id": "Dokumen identitas", "en": "Identity document"},
    "file_mark": {"id": "Tandai", "en": "Mark"},
    "file_label_none": {"id": "bukan dokumen identitas", "en": "not an identity document"},
    "file_label_ktp": {"id": "KTP", "en": "KTP (identity card)"},
    "file_label_power_of_attorney": {"id": "Surat kuasa", "en": "Power of attorney"},
    "file_label_identity_other": {"id": "Dokumen identitas lain", "en": "Other identity document"},
    "send_file": {"id": "Kirim berkas", "en": "Send file"},
    "file_hint": {"id": "JPEG, PNG, WebP atau PDF", "en": "JPEG, PNG, WebP or PDF"},
    "files": {"id": "Berkas", "en": "Files"},
    "login": {"id": "Masuk", "en": "Sign in"},
    "logout": {"id": "Keluar", "en": "Sign out"},
    "username": {"id": "Nama pengguna", "en": "Username"},
    "password": {"id": "Kata sandi", "en": "Password"},
    # One message for a wrong password, an unknown user and a locked account: it reveals nothing.
    "bad_login": {"id": "Gagal masuk. Periksa nama pengguna dan kata sandi, atau coba lagi beberapa menit lagi.",
                  "en": "Sign-in failed. Check the username and password, or try again in a few minutes."},
    "queue": {"id": "Antrean", "en": "Queue"},
    "mine": {"id": "Percakapan saya", "en": "My conversations"},
    "empty_queue": {"id": "Antrean kosong.", "en": "The queue is empty."},
    "pick_up": {"id": "Ambil", "en": "Pick up"},
    "open": {"id": "Buka", "en": "Open"},
    "available": {"id": "Tersedia", "en": "Available"},
    "away": {"id": "Istirahat", "en": "Away"},
    "set_available": {"id": "Set tersedia", "en": "Set available"},
    "set_away": {"id": "Set istirahat", "en": "Set away"},
    "channel": {"id": "Kanal", "en": "Channel"},
    "category": {"id": "Kategori", "en": "Category"},
    "priority": {"id": "Prioritas", "en": "Priority"},
    "status": {"id": "Status", "en": "Status"},
    "waiting": {"id": "Menunggu", "en": "Waiting"},
    "sla": {"id": "SLA", "en": "SLA"},
    "no_sla": {"id": "tanpa tiket", "en": "no ticket"},
    "late": {"id": "lewat", "en": "late"},
    "transcript": {"id": "Transkrip", "en": "Transcript"},
    "bot_part": {"id": "Percakapan dengan bot sebelum dialihkan", "en": "Bot conversation before the handoff"},
    "handoff_marker": {"id": "Dialihkan ke petugas", "en": "Handed to people"},
    "fields": {"id": "Data aduan", "en": "Complaint fields"},
    "bot": {"id": "Hanya bot", "en": "Bot only"},
    "search_hint": {"id": "Nomor tiket, nomor HP, nama atau kata", "en": "Ticket number, phone, name or word"},
    "handoff_summary": {"id": "Ringkasan pengalihan", "en": "Handoff summary (Indonesian)"},
    "identity": {"id": "Identitas", "en": "Identity"},
    "account": {"id": "Ringkasan akun", "en": "Account summary"},
    "verified": {"id": "Terverifikasi", "en": "Verified"},
    "not_verified": {"id": "Belum terverifikasi", "en": "Not verified"},
    "ticket": {"id": "Tiket", "en": "Ticket"},
    "first_response_due": {"id": "Batas respons pertama", "en": "First response due"},
    "resolution_due": {"id": "Batas penyelesaian", "en": "Resolution due"},
    "reply": {"id": "Balas", "en": "Reply"},
    "send": {"id": "Kirim", "en": "Send"},
    "canned": {"id": "Template jawaban", "en": "Canned responses"},
    "use_canned": {"id": "Kirim template", "en": "Send template"},
    "note": {"id": "Catatan internal", "en": "Private note"},
    "add_note": {"id": "Simpan catatan", "en": "Save note"},
    "note_hint": {"id": "Tidak terlihat oleh peminjam", "en": "The borrower never sees this"},
    "save": {"id": "Simpan", "en": "Save"},
    "transfer": {"id": "Alihkan ke", "en": "Transfer to"},
    "escalate": {"id": "Eskalasi", "en": "Escalate"},
    "specialist": {"id": "Spesialis aduan", "en": "Complaint specialist"},
    "close": {"id": "Tutup percakapan", "en": "Close conversation"},
    "close_summary": {"id": "Ringkasan penanganan untuk peminjam", "en": "Summary for the borrower"},
    "take_over": {"id": "Ambil alih", "en": "Take over"},
    "reassign": {"id": "Alihkan", "en": "Reassign"},
    "supervisor": {"id": "Supervisi", "en": "Supervision"},
    "nlu_misunderstood": {"id": "Pesan yang tidak dipahami bot", "en": "Messages the bot did not understand"},
    "nlu_window": {"id": "30 hari terakhir, paling sering dulu", "en": "Last 30 days, most frequent first"},
    "nlu_flag_fallback": {"id": "bot tidak paham", "en": "bot did not understand"},
    "nlu_flag_clarified": {"id": "bot bertanya ulang", "en": "bot asked to clarify"},
    "nlu_flag_low_confidence": {"id": "bot ragu", "en": "bot unsure"},
    "nlu_read_as": {"id": "dibaca bot sebagai", "en": "bot read it as"},
    "nlu_label": {"id": "Label maksud", "en": "Label intent"},
    "nlu_choose": {"id": "— pilih maksud —", "en": "— choose an intent —"},
    "nlu_labelled": {"id": "label", "en": "label"},
    "nlu_count": {"id": "Jumlah", "en": "Count"},
    "nlu_message": {"id": "Pesan (data pribadi disamarkan)", "en": "Message (personal data masked)"},
    "audit": {"id": "Log audit", "en": "Audit log"},
    "agents_load": {"id": "Beban agen", "en": "Agents' load"},
    "search": {"id": "Cari", "en": "Search"},
    "agent": {"id": "Agen", "en": "Agent"},
    "rating": {"id": "Nilai", "en": "Rating"},
    "date_from": {"id": "Dari", "en": "From"},
    "date_to": {"id": "Sampai", "en": "To"},
    "all": {"id": "Semua", "en": "All"},
    "closed": {"id": "Ditutup", "en": "Closed"},
    "assigned": {"id": "Ditangani", "en": "Assigned"},
    "propose": {"id": "Usulkan", "en": "Propose"},
    "approve": {"id": "Setujui", "en": "Approve"},
    "approved": {"id": "Disetujui", "en": "Approved"},
    "pending_approval": {"id": "Menunggu persetujuan", "en": "Awaiting approval"},
    "title": {"id": "Judul", "en": "Title"},
    "body": {"id": "Isi", "en": "Body"},
    "when": {"id": "Waktu", "en": "When"},
    "who": {"id": "Siapa", "en": "Who"},
    "action": {"id": "Aksi", "en": "Action"},
    "object": {"id": "Objek", "en": "Object"},
    "forbidden": {"id": "Anda tidak berhak membuka percakapan ini.", "en": "You may not open this conversation."},
    "not_found": {"id": "Percakapan tidak ditemukan.", "en": "Conversation not found."},
    "live": {"id": "terhubung", "en": "live"},
    "offline": {"id": "terputus, menyambung ulang…", "en": "disconnected, reconnecting…"},
    "you_hold": {"id": "Ditangani oleh", "en": "Held by"},
    "department": {"id": "Departemen", "en": "Department"},
    "load": {"id": "Beban", "en": "Load"},
    "author_borrower": {"id": "Peminjam", "en": "Borrower"},
    "author_bot": {"id": "Bot", "en": "Bot"},
    "author_agent": {"id": "Agen", "en": "Agent"},
    "author_system": {"id": "Sistem", "en": "System"},
    "pick_hint": {"id": "Pilih percakapan dari antrean atau daftar Anda untuk membukanya di sini; beberapa percakapan bisa dibuka sebagai tab.",
                  "en": "Pick a conversation from the queue or your list to open it here; several can stay open as tabs."},
    "dashboard": {"id": "Dasbor", "en": "Dashboard"},
    "reports": {"id": "Laporan", "en": "Reports"},
    "language": {"id": "English", "en": "Bahasa Indonesia"},
    "failed_replies": {"id": "Balasan gagal terkirim", "en": "Replies that failed"},
    "failed_hint": {"id": "Penyedia kanal menolak atau tidak bisa dihubungi sampai batas waktu. Kirim ulang setelah "
                           "masalahnya selesai.",
                    "en": "The channel's provider refused them or stayed unreachable until the deadline. "
                          "Retry once the problem is solved."},
    "retry_send": {"id": "Kirim ulang", "en": "Retry"},
    "attempts": {"id": "percobaan", "en": "attempts"},
    "open_ticket": {"id": "Buat tiket aduan", "en": "Open a ticket"},
    "open_ticket_page": {"id": "Halaman tiket", "en": "Ticket page"},
    "alerts": {"id": "Peringatan SLA", "en": "SLA alerts"},
    "expected_on": {"id": "Perkiraan selesai (disampaikan ke peminjam bila terlambat)",
                    "en": "Expected resolution (told to the borrower when late)"},
    "no_alerts": {"id": "Tidak ada peringatan.", "en": "No alerts."},
    "new_alert": {"id": "Peringatan baru", "en": "New alert"},
    "deadline": {"id": "batas", "en": "due"},
    "owner": {"id": "penanggung jawab", "en": "owner"},
    "unassigned": {"id": "belum ada", "en": "nobody yet"},
    "alert_first_response_overdue": {"id": "Respons pertama terlambat", "en": "First response overdue"},
    "alert_first_response_due_soon": {"id": "Respons pertama segera jatuh tempo", "en": "First response due soon"},
    "alert_resolution_overdue": {"id": "Penyelesaian terlambat", "en": "Resolution overdue"},
    "alert_resolution_due_soon": {"id": "Penyelesaian segera jatuh tempo", "en": "Resolution due soon"},
    "alert_department_reminder": {"id": "Menunggu jawaban departemen", "en": "Waiting for the department"},
    "alert_laps_notice": {"id": "Batas akhir lewat, peminjam diarahkan ke LAPS SJK", "en": "Final deadline passed (LAPS SJK notice)"},
    "received": {"id": "Diterima", "en": "Received"},
    "extended": {"id": "diperpanjang", "en": "extended"},
    "outcome": {"id": "Hasil penyelesaian", "en": "Outcome"},
    "explanation": {"id": "Penjelasan", "en": "Explanation"},
    "apology": {"id": "Permohonan maaf", "en": "Apology"},
    "service_fix": {"id": "Perbaikan layanan", "en": "Service fix"},
    "compensation": {"id": "Kompensasi (Rp)", "en": "Compensation (Rp)"},
    "resolve": {"id": "Selesaikan", "en": "Resolve"},
    "reject": {"id": "Tolak", "en": "Reject"},
    "rejection_ground": {"id": "Alasan penolakan", "en": "Rejection ground"},
    "cause": {"id": "Penyebab pengaduan", "en": "Cause of the complaint"},
    "choose_cause": {"id": "— pilih penyebab —", "en": "— choose the cause —"},
    "went_public": {"id": "Pengaduan dipublikasikan (media/media sosial)", "en": "The complaint went public"},
    "publicity_url": {"id": "Tautan publikasi", "en": "Link to the publication"},
    "external_complaint": {"id": "Catat pengaduan dari OJK / LAPS SJK", "en": "Register a complaint from OJK / LAPS SJK"},
    "source": {"id": "Sumber pengaduan", "en": "Source"},
    "external_reference": {"id": "Nomor referensi", "en": "Reference number"},
    "received_on": {"id": "Tanggal diterima", "en": "Date received"},
    "received_time": {"id": "Jam diterima (WIB)", "en": "Time received (WIB)"},
    "form_oral": {"id": "Lisan", "en": "Oral"},
    "form_written": {"id": "Tertulis", "en": "Written"},
    "register": {"id": "Catat", "en": "Register"},
    "extend": {"id": "Perpanjang batas waktu", "en": "Extend the deadline"},
    "extend_reason": {"id": "Alasan perpanjangan (dibaca peminjam)", "en": "Reason (the borrower reads it)"},
    "feedback": {"id": "Umpan balik ke agen", "en": "Feedback to the agent"},
    "start_work": {"id": "Mulai proses", "en": "Start work"},
    "message_borrower": {"id": "Pesan ke peminjam", "en": "Message to the borrower"},
    "history": {"id": "Riwayat", "en": "History"},
    "missing": {"id": "Data belum lengkap", "en": "Missing fields"},
    "ticket_not_found": {"id": "Tiket tidak ditemukan.", "en": "Ticket not found."},
    "ticket_forbidden": {"id": "Anda tidak berhak membuka tiket ini.", "en": "You may not open this ticket."},
    "chronology": {"id": "Kronologi", "en": "Chronology"},
}


def translate(lang: str, key: str) -> str:
    """The text of ``key`` in ``lang`` (falls back to Indonesian, then the key)."""
    entry = CATALOGUE.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry[DEFAULT]


FIELD_LABELS: dict[str, dict[str, str]] = {
    "full_name": {"id": "Nama lengkap", "en": "Full name"},
    "phone": {"id": "Telepon", "en": "Phone"},
    "email": {"id": "E-mail", "en": "E-mail"},
    "product": {"id": "Produk", "en": "Product"},
    "transaction_date": {"id": "Tanggal transaksi", "en": "Transaction date"},
    "chronology": {"id": "Kronologi", "en": "Chronology"},
    "ticket_number": {"id": "Nomor tiket", "en": "Ticket number"},
    "intent": {"id": "Intent", "en": "Intent"},
    "note": {"id": "Catatan bot", "en": "Bot note"},
}


def field_label(lang: str, key: str) -> str:
    """A complaint field's label; unknown fields from the bot show their own name."""
    entry = FIELD_LABELS.get(key)
    return (entry.get(lang) or entry[DEFAULT]) if entry else key.replace("_", " ")


def translator(lang: str) -> Callable[[str], str]:
    lang = lang if lang in LANGUAGES else DEFAULT
    return lambda key: translate(lang, key)


def pick(query_lang: str | None, cookie_lang: str | None, user_lang: str | None) -> str:
    """The language to show: ``?lang=``, then the cookie, then the user's setting, then Indonesian."""
    for candidate in (query_lang, cookie_lang, user_lang):
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    return DEFAULT
