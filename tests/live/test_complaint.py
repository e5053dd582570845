"""Complaint → ticket → receipt → status lookup by the number the receipt printed; correction and cancel.

Run on every channel. The receipt must arrive as one message naming the
ticket, its deadlines, how to reach CS and this channel's CS hours from the
content file (the suite opens every channel day and night; the line "Jam
layanan petugas di <channel>: …" must show those hours, not the default
Monday–Friday 09–17 — the e-mail and phone contacts listed below it keep their
own Monday–Friday hours, legitimately). Whatever the product prints — the
ticket number with its check digit, the phone number — the bot reads back.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from desk import pii
from tests.live.borrowers import Borrower, Turn
from tests.live.conftest import CHANNELS
from tests.live.console import Console, page_text
from tests.live.flows import (
    Answers,
    answer,
    answer_until,
    asked_field,
    has_ticket_number,
    same_phone,
    ticket_number_in,
)
from tests.live.stack import LiveStack

CHANNEL_HOURS = re.compile(r"Setiap hari,? 00[.:]00\s*[–-]\s*24[.:]00")
DEFAULT_HOURS = re.compile(r"Senin\s*[–-]\s*Jumat,? 09[.:]00\s*[–-]\s*17[.:]00")
CHANNEL_HOURS_LINE = re.compile(r"Jam layanan petugas di [^:\n]+:[^\n]*")
CS_CONTACTS = ("+62 811-0000-1234", "1500-000", "pengaduan@danacontoh.example")


def ticket_row(stack: LiveStack, number: str) -> dict | None:
    """The stored ticket, its phone opened from the sealed column (desk.pii; the stack shares the dev key)."""
    with stack.db() as db:
        row = db.execute("SELECT number, category, priority, channel, full_name, phone_enc, product, chronology, "
                         "transaction_date FROM tickets WHERE number = ?", (number,)).fetchone()
    if not row:
        return None
    stored = dict(row)
    sealed = stored.pop("phone_enc")
    stored["phone"] = pii.keyring().decrypt(pii.PHONE, sealed) if sealed else None
    return stored


def tickets_of(stack: LiveStack, b: Borrower) -> list[str]:
    with stack.db() as db:
        rows = db.execute("SELECT t.number FROM tickets t JOIN ticket_conversations tc ON tc.ticket_id = t.id "
                          "JOIN conversations c ON c.id = tc.conversation_id WHERE c.channel = ? AND c.sender_key = ?",
                          (b.channel, pii.sender_key(pii.keyring(), b.channel, b.sender))).fetchall()
    return [r["number"] for r in rows]


def file_complaint(b: Borrower, answers: Answers, opening: str = "sudah bayar tapi status belum lunas") -> Turn:
    first = b.say(opening)
    assert first.mode_after == "bot", first.transcript()
    return answer_until(b, first, answers, has_ticket_number)


def channel_hours_line(text: str) -> str:
    """The receipt's line naming this channel's CS hours ("Jam layanan petugas di <channel>: …")."""
    match = CHANNEL_HOURS_LINE.search(text)
    assert match, "the receipt has no 'Jam layanan petugas di <channel>' line:\n" + text
    return match.group(0)


def check_receipt(b: Borrower, receipt: Turn) -> str:
    number = ticket_number_in(receipt)
    holding = [r for r in receipt.replies if number in r.text]
    assert len(holding) == 1, "the receipt must be one message:\n" + receipt.transcript()
    text = holding[0].text
    assert "paling lambat" in text, receipt.transcript()
    assert any(contact in text for contact in CS_CONTACTS), receipt.transcript()
    # CS hours of this channel, from the content file (issue #11 item 6).
    line = channel_hours_line(text)
    assert CHANNEL_HOURS.search(line), "the receipt must name this channel's CS hours:\n" + text
    assert not DEFAULT_HOURS.search(line), "the receipt shows the default hours, not the channel's:\n" + text
    # One message on the borrower's side too (WhatsApp once got five).
    delivered = [m for m in receipt.received if number in m]
    assert len(delivered) == 1 and "paling lambat" in delivered[0], receipt.received
    return number


@pytest.mark.parametrize("channel", CHANNELS)
def test_complaint_ticket_receipt_and_status_lookup(channel: str, stack: LiveStack,
                                                    borrower: Callable[..., Borrower]) -> None:
    b = borrower(channel, name="Budi Santoso")
    answers = Answers(full_name="Budi Santoso", phone="0812-3456-7890", product="Pinjaman Tunai",
                      transaction_date="kemarin")
    expected_phone = b.sender if channel == "whatsapp" else answers.phone  # WhatsApp knows the sender's number
    receipt = file_complaint(b, answers)
    assert receipt.mode_after == "bot", receipt.transcript()
    number = check_receipt(b, receipt)

    # The summary the borrower confirmed read back what they typed.
    summaries = [t for t in b.turns if asked_field(t) == "summary"]
    assert summaries, "no summary was shown before sending"
    summary = summaries[-1].replies[-1].text
    assert "Budi Santoso" in summary and "Pinjaman Tunai" in summary, summary
    assert any(same_phone(m, expected_phone) for m in re.findall(r"\+?\d[\d\s-]{8,}\d", summary)), summary

    stored = ticket_row(stack, number)
    assert stored is not None, f"the receipt's ticket {number} does not exist"
    assert stored["channel"] == channel and stored["full_name"] == "Budi Santoso"
    assert same_phone(stored["phone"], expected_phone), stored
    assert stored["transaction_date"] is not None, stored

    # Status by the number the receipt printed, in a sentence (issue #11 item 3).
    status = b.say(f"cek status tiket {number}")
    assert number in status.all_text, status.transcript()
    assert "tidak kami temukan" not in status.all_text, status.transcript()
    assert status.mode_after == "bot"

    # And alone, after the bot asks for it.
    ask = b.say("cek status tiket")
    if not number_found(ask, number):
        assert asked_field(ask) == "ticket_number", ask.transcript()
        alone = b.say(number)
        assert number_found(alone, number), alone.transcript()


def number_found(turn: Turn, number: str) -> bool:
    return number in turn.all_text and "tidak kami temukan" not in turn.all_text


@pytest.mark.parametrize("channel", CHANNELS)
def test_correction_inside_the_complaint_form(channel: str, stack: LiveStack,
                                              borrower: Callable[..., Borrower]) -> None:
    b = borrower(channel, name="Siti Aminah")
    answers = Answers(full_name="Siti Aminah", phone="081298765432", product="PayLater",
                      transaction_date="12 januari 2025",
                      chronology=("Saldo PayLater saya terpotong dua kali untuk belanja yang sama sebesar "
                                  "Rp350.000, sudah saya laporkan lewat aplikasi tapi belum ada jawaban."),
                      correction=("phone", "+62 857 9573 0601"))
    receipt = file_complaint(b, answers, opening="saldo paylater kepotong dua kali")
    number = check_receipt(b, receipt)
    assert answers.corrected, "the summary was never shown, so nothing could be corrected"
    summaries = [t for t in b.turns if asked_field(t) == "summary"]
    assert len(summaries) >= 2, "after the correction the summary is shown again"
    assert "9573" in summaries[-1].replies[-1].text, summaries[-1].transcript()
    stored = ticket_row(stack, number)
    assert stored is not None and same_phone(stored["phone"], "+6285795730601"), stored
    assert str(stored["transaction_date"]).startswith("2025-01-12"), stored


@pytest.mark.parametrize("channel", CHANNELS)
def test_cancel_inside_the_complaint_form_files_nothing(channel: str, stack: LiveStack,
                                                        borrower: Callable[..., Borrower]) -> None:
    b = borrower(channel)
    answers = Answers(full_name="Rina Kartika")
    turn = b.say("mau buat pengaduan")
    # Answer two questions, then leave.
    for _ in range(2):
        if asked_field(turn) in (None, "summary"):
            break
        turn = answer(b, turn, answers)
    cancelled = b.say("batal")
    assert "batal" in cancelled.all_text.lower(), cancelled.transcript()
    assert asked_field(cancelled) not in ("full_name", "phone", "product", "transaction_date", "chronology"), \
        cancelled.transcript()
    assert tickets_of(stack, b) == []
    again = b.say("halo")
    assert "DanaContoh" in again.all_text, again.transcript()


def test_supervisor_finds_a_bot_only_conversation(stack: LiveStack, borrower: Callable[..., Borrower],
                                                  supervisor: Console) -> None:
    """Issue #11 item 10: any conversation, bot-only included, by ticket number, phone, name or a word."""
    b = borrower("whatsapp", name="Yohanes Pardede")
    # App or payment? The message is both, so the bot may ask; the borrower means the payment.
    answers = Answers(full_name="Yohanes Pardede", phone=b.sender, product="Pinjaman Tunai",
                      topic="Masalah pembayaran",
                      chronology=("Aplikasi menolak pembayaran lewat kodebayar Alfamart berkali-kali sejak "
                                  "kemarin padahal saldo cukup, mohon dicek kenapa gagal terus."))
    # The bot takes the opening message as the chronology, so the word searched for must be in it.
    receipt = file_complaint(b, answers, opening=answers.chronology)
    number = ticket_number_in(receipt)
    assert receipt.mode_after == "bot"
    conversation = b.conversation_id
    for query in (number, "Yohanes Pardede", "0" + b.sender[3:], "kodebayar"):
        page = supervisor.supervisor_search(query)
        assert conversation in page, f"supervisor search {query!r} missed the conversation:\n{page_text(page)[:600]}"
