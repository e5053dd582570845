"""Sample borrowers, identifiers, and a borrower who answers whatever the form asks.

The form's wording and order may change (prefilled fields are only
confirmed, re-prompts after an implausible value): ``answer_until`` reads the
bot's last question and answers it from what the borrower knows, like a
person would, and fails with the transcript when it cannot tell what is asked
or when the conversation does not end within a bound (a loop).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.live.borrowers import Borrower, Turn

REPO = Path(__file__).resolve().parents[2]
TICKET_NUMBER = re.compile(r"\b[A-Z]{2,5}-\d{6}-\d{4,7}-\d\b")
LOAN_ID = re.compile(r"\b(?:PJ|PL)-\d{4}-\d{6}\b")
APPLICATION_ID = re.compile(r"\bAPP-\d{5}\b")


@dataclass(frozen=True)
class SampleBorrower:
    """One sample borrower of lending/demo_data.yml."""

    customer_id: str
    full_name: str
    phone: str
    """As written in the sample data (any common form)."""
    loans: tuple[dict, ...]
    applications: tuple[dict, ...]

    @property
    def e164(self) -> str:
        digits = re.sub(r"\D", "", self.phone)
        if digits.startswith("0"):
            digits = "62" + digits[1:]
        return "+" + digits

    @property
    def identifier(self) -> str:
        """What the borrower gives as "nomor pinjaman": a loan id, or the application id when there is no loan."""
        if self.loans:
            return str(self.loans[0]["loan_id"])
        return str(self.applications[0]["application_id"])


def sample_borrowers() -> list[SampleBorrower]:
    data = yaml.safe_load((REPO / "lending" / "demo_data.yml").read_text(encoding="utf-8"))
    return [SampleBorrower(str(c["customer_id"]), str(c["full_name"]), str(c["phone"]),
                           tuple(c.get("loans") or ()), tuple(c.get("applications") or ()))
            for c in data["customers"]]


def phone_forms(e164: str) -> list[str]:
    """The forms Indonesian borrowers type a number in: 0812…, 0812-…, +62 812-…, 62812…, 0812 3456 7890."""
    national = "0" + e164[3:]
    rest = e164[3:]
    return [national, f"{national[:4]}-{national[4:8]}-{national[8:]}", f"+62 {rest[:3]}-{rest[3:7]}-{rest[7:]}",
            e164[1:], f"{national[:4]} {national[4:8]} {national[8:]}", e164, f"+62 {rest[:3]} {rest[3:7]} {rest[7:]}"]


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


def same_phone(a: str, b: str) -> bool:
    """Two spellings of one Indonesian number (0812… = 62812… = +62 812…)."""
    def canon(x: str) -> str:
        d = digits_of(x)
        return "62" + d[1:] if d.startswith("0") else d
    return canon(a) == canon(b)


@dataclass
class Answers:
    """What the borrower knows and says when asked."""

    full_name: str = "Budi Santoso"
    phone: str = "081234567890"
    loan_id: str = "PJ-2024-000123"
    product: str = "Pinjaman Tunai"
    transaction_date: str = "kemarin"
    chronology: str = ("Saya sudah bayar cicilan lewat virtual account BCA kemarin sore sebesar Rp1.250.000 "
                       "tapi di aplikasi status tagihan masih belum lunas dan saya kena denda.")
    ticket_number: str = ""
    # The topic button the borrower presses when the bot, unsure, asks which
    # topic is meant ("Maaf, Kak, saya belum yakin maksud Anda …"); None: the
    # flow does not expect the question.
    topic: str | None = None
    # When the summary shows, change one field first ("field", "new value"), then send.
    correction: tuple[str, str] | None = None
    corrected: bool = field(default=False, init=False)
    asked: list[str] = field(default_factory=list, init=False)


# Which form field the bot's last message asks for, by what it says; order matters
# (the summary names every field, the category question names the complaint).
_ASKS: list[tuple[str, re.Pattern[str]]] = [
    ("summary", re.compile(r"periksa (kembali )?data|kirim aduan|sudah benar semua|ringkasan aduan", re.I)),
    ("which_field", re.compile(r"bagian mana|data mana|yang ingin (anda )?(ubah|perbaiki)", re.I)),
    ("chronology", re.compile(r"kronologi|ceritakan", re.I)),
    ("category", re.compile(r"kategori", re.I)),
    ("ticket_number", re.compile(r"nomor tiket", re.I)),
    ("loan_id", re.compile(r"nomor (pinjaman|order|kontrak|pengajuan)|id pinjaman", re.I)),
    ("full_name", re.compile(r"nama lengkap|siapa nama|sebutkan nama|nama (anda )?sesuai", re.I)),
    ("phone", re.compile(r"nomor (hp|telepon|ponsel|whatsapp|handphone)|no\.? ?hp", re.I)),
    ("product", re.compile(r"produk", re.I)),
    ("transaction_date", re.compile(r"kapan|tanggal", re.I)),
]
# A reply asks something when it ends in a question, offers buttons, or requests input.
_ASKING = re.compile(r"\?|\b(mohon|silakan|sebutkan|tuliskan|ketik|pilih)\b", re.I)
_CONFIRM_TITLES = ("ya", "benar", "betul", "sesuai", "kirim", "lanjut")
FIELD_TITLES = {"full_name": "Nama", "phone": "Nomor HP", "product": "Produk",
                "transaction_date": "Tanggal", "chronology": "Kronologi"}


def asked_field(turn: Turn) -> str | None:
    """The field the bot's last reply asks for, or None."""
    if not turn.replies:
        return None
    last = turn.replies[-1]
    text = last.text
    if not last.buttons and not _ASKING.search(text):
        return None
    for name, pattern in _ASKS:
        if pattern.search(text):
            return name
    return None


def confirm_button(turn: Turn) -> str | None:
    for title, _ in turn.buttons:
        if title.casefold().startswith(_CONFIRM_TITLES):
            return title
    return None


_CLARIFYING = re.compile(r"belum yakin maksud", re.I)


def answer(borrower: Borrower, turn: Turn, answers: Answers) -> Turn:
    """Answer the bot's last question once."""
    if answers.topic and turn.replies and _CLARIFYING.search(turn.replies[-1].text):
        answers.asked.append("topic")
        return borrower.press(answers.topic)
    asked = asked_field(turn)
    answers.asked.append(asked or "?")
    if asked == "summary":
        if answers.correction and not answers.corrected:
            answers.corrected = True
            name, value = answers.correction
            setattr(answers, name, value)
            return borrower.press("Ubah")
        return borrower.press("Kirim")
    if asked == "which_field":
        assert answers.correction, "the bot asked which field to change, unprompted:\n" + turn.transcript()
        return borrower.press(FIELD_TITLES[answers.correction[0]])
    if asked == "product":
        for title, _ in turn.buttons:
            if title.casefold() == answers.product.casefold():
                return borrower.press(title)
        return borrower.say(answers.product)
    if asked in ("full_name", "phone", "loan_id", "transaction_date", "chronology", "ticket_number"):
        confirm = confirm_button(turn)
        if confirm and _shows_value(turn, getattr(answers, asked)):
            # A prefilled value shown for confirmation (issue #11 item 13).
            return borrower.press(confirm)
        return borrower.say(getattr(answers, asked))
    confirm = confirm_button(turn)
    if confirm:  # "Aduan Anda saya catat dengan kategori … sudah sesuai?" and the like
        return borrower.press(confirm)
    raise AssertionError("cannot tell what the bot asks:\n" + "\n".join(t.transcript() for t in borrower.turns[-4:]))


def _shows_value(turn: Turn, value: str) -> bool:
    """Whether the bot's question already shows ``value`` (a prefilled field to confirm)."""
    text = turn.replies[-1].text
    if value.casefold() in text.casefold():
        return True
    if len(digits_of(value)) >= 9:
        return any(same_phone(value, found) for found in re.findall(r"\+?\d[\d\s.-]{7,}\d", text))
    return False


def answer_until(borrower: Borrower, turn: Turn, answers: Answers, done: Callable[[Turn], bool],
                 max_turns: int = 14) -> Turn:
    """Answer questions until ``done(turn)`` or the conversation is handed to people; fail on a loop."""
    for _ in range(max_turns):
        if done(turn) or turn.mode_after == "human":
            return turn
        turn = answer(borrower, turn, answers)
    raise AssertionError(f"no end after {max_turns} answers (asked: {answers.asked}):\n"
                         + "\n".join(t.transcript() for t in borrower.turns[-6:]))


def has_ticket_number(turn: Turn) -> bool:
    return any(TICKET_NUMBER.search(r.text) for r in turn.replies)


def ticket_number_in(turn: Turn) -> str:
    for reply in turn.replies:
        found = TICKET_NUMBER.search(reply.text)
        if found:
            return found.group(0)
    raise AssertionError("no ticket number in:\n" + turn.transcript())
