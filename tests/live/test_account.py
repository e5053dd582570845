"""Identity check with every sample borrower, then bill and application status, on every channel.

WhatsApp and Telegram borrowers prove who they are (full name, registered
phone in one of its common forms, loan id exactly as the product prints it;
the application id for a borrower without a loan). In-app borrowers are
vouched for by the app's token and must not be asked again.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.live.borrowers import Borrower, Turn
from tests.live.flows import Answers, SampleBorrower, answer_until, asked_field, phone_forms, sample_borrowers

SAMPLES = sample_borrowers()
RAW_PRODUCT_CODES = ("pinjaman_tunai", "pinjaman_produktif", "paylater_")


def rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


def answered_account(turn: Turn) -> bool:
    text = turn.all_text.lower()
    return "tagihan anda" in text or "status pengajuan" in text or "tidak ada tagihan" in text \
        or "tidak ada pengajuan" in text


def check_bill(person: SampleBorrower, turn: Turn) -> None:
    text = turn.all_text
    assert "belum sesuai" not in text, f"verification refused {person.customer_id}:\n{turn.transcript()}"
    due = [loan for loan in person.loans if loan["bill_amount"]]
    if not due:
        assert "tidak ada tagihan" in text.lower(), turn.transcript()
    for loan in due:
        # Every loan id and amount the product prints is read back exactly.
        assert loan["loan_id"] in text, f"{loan['loan_id']} missing:\n{turn.transcript()}"
        assert rupiah(loan["bill_amount"]) in text, turn.transcript()
    # A loan with nothing due is not shown as "tagihan Rp0, jatuh tempo -." (issue #11 item 5).
    assert not re.search(r"tagihan Rp0\b", text), turn.transcript()
    assert "jatuh tempo -" not in text, turn.transcript()


def check_applications(person: SampleBorrower, turn: Turn) -> None:
    text = turn.all_text
    if not person.applications:
        assert "tidak ada pengajuan" in text.lower(), turn.transcript()
    for app in person.applications:
        assert app["application_id"] in text, turn.transcript()
        assert app["status_label"] in text, turn.transcript()
    for code in RAW_PRODUCT_CODES:
        # The borrower reads the product's name, never its code (issue #11 item 5).
        assert code not in text, f"raw product code {code!r} shown:\n{turn.transcript()}"


def verify_and_ask_bill(b: Borrower, person: SampleBorrower, phone_typed: str) -> Turn:
    answers = Answers(full_name=person.full_name, phone=phone_typed, loan_id=person.identifier)
    first = b.say("cek tagihan dong")
    assert asked_field(first) in ("full_name", "phone", "loan_id"), \
        "an unverified borrower must be asked who they are:\n" + first.transcript()
    assert person.identifier not in first.all_text
    # Stop at the first refusal: a refused identity is the finding, not a loop.
    return answer_until(b, first, answers, lambda t: answered_account(t) or "belum sesuai" in t.all_text,
                        max_turns=8)


@pytest.mark.parametrize("channel", ["whatsapp", "telegram"])
@pytest.mark.parametrize("person", SAMPLES, ids=[p.customer_id for p in SAMPLES])
def test_identity_check_then_bill_and_applications(channel: str, person: SampleBorrower,
                                                   borrower: Callable[..., Borrower]) -> None:
    # Each borrower types the phone in another common form (0812…, +62 812-…, 62812…, with spaces).
    form = phone_forms(person.e164)[SAMPLES.index(person) % 7]
    sender = person.e164 if channel == "whatsapp" else None
    b = borrower(channel, sender, name=person.full_name)
    bill = verify_and_ask_bill(b, person, form)
    assert bill.mode_after == "bot", bill.transcript()
    check_bill(person, bill)

    applications = b.say("status pengajuan saya apa")
    # Verified once: the bot does not ask again in the same conversation.
    assert asked_field(applications) not in ("full_name", "phone", "loan_id"), applications.transcript()
    check_applications(person, applications)


@pytest.mark.parametrize("person", SAMPLES, ids=[p.customer_id for p in SAMPLES])
def test_inapp_borrower_is_not_asked_who_they_are(person: SampleBorrower,
                                                   borrower: Callable[..., Borrower]) -> None:
    b = borrower("inapp", person.customer_id, name=person.full_name)
    bill = b.say("berapa tagihan saya")
    assert asked_field(bill) not in ("full_name", "phone", "loan_id"), bill.transcript()
    check_bill(person, bill)
    applications = b.say("status pengajuan saya apa")
    check_applications(person, applications)


@pytest.mark.parametrize("channel", ["whatsapp", "telegram"])
def test_wrong_identity_is_refused_without_saying_which_part(channel: str,
                                                             borrower: Callable[..., Borrower]) -> None:
    person = SAMPLES[0]
    b = borrower(channel)
    answers = Answers(full_name=person.full_name, phone="081299990000", loan_id=person.identifier)
    first = b.say("cek tagihan dong")
    turn = answer_until(b, first, answers, lambda t: "belum sesuai" in t.all_text or answered_account(t),
                        max_turns=8)
    assert "belum sesuai" in turn.all_text, turn.transcript()
    assert rupiah(person.loans[0]["bill_amount"]) not in turn.all_text, turn.transcript()
