"""Off-script turns, form loops, implausible values, prefill, example formats (issue #11 items 1, 4, 11–13).

Deterministic counterparts of what the fuzzer finds, so a regression names
itself. Every turn is still checked against the invariants (conftest.strict).
"""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.live.borrowers import Borrower, Turn
from tests.live.conftest import CHANNELS
from tests.live.flows import (
    LOAN_ID,
    TICKET_NUMBER,
    Answers,
    answer,
    answer_until,
    asked_field,
    has_ticket_number,
    sample_borrowers,
)
from tests.live.invariants import is_normal_greeting_answer

OFF_SCRIPT = ["Agus Salim", "0812 3456 7890", "kemarin", "12 januari 2025", "2", "PJ-2024-000123",
              "+62 857 9573 0601", "🙏", "asdfgh qwerty"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_off_script_turns_after_an_answer_never_flood_or_silence(channel: str,
                                                                 borrower: Callable[..., Borrower]) -> None:
    """Item 1: names, phones, dates, digits after an answer get 1–4 replies each, and "halo" still works."""
    b = borrower(channel)
    b.say("bayar cicilan gimana caranya")
    for text in OFF_SCRIPT:
        turn = b.say(text)
        if turn.mode_after == "human":
            break  # handing over is an acceptable way out; the invariants still held on every turn
    final = b.say("halo")
    if final.mode_before == "bot":
        assert is_normal_greeting_answer(final), final.transcript()


def _at_the_product_question(b: Borrower) -> Turn:
    """Open a complaint and answer until the form asks for the product."""
    answers = Answers(full_name="Hendra Wijaya", phone="081377711122")
    turn = b.say("mau buat pengaduan")
    for _ in range(4):
        if asked_field(turn) == "product":
            break
        turn = answer(b, turn, answers)
    assert asked_field(turn) == "product", "the form never asked for the product:\n" + turn.transcript()
    return turn


@pytest.mark.parametrize("channel", CHANNELS)
def test_product_question_offers_a_way_out_after_two_misses(channel: str,
                                                             borrower: Callable[..., Borrower]) -> None:
    """Item 11: at the product question a date, the story, "iya benar" or "1" never loop forever."""
    b = borrower(channel)
    turn = _at_the_product_question(b)
    misses = ["12 januari", "uang saya kepotong dua kali waktu bayar", "iya benar", "1"]
    for text in misses:
        turn = b.say(text)
        if asked_field(turn) != "product" or turn.mode_after == "human":
            break
    else:
        pytest.fail("the product question was asked after every miss:\n"
                    + "\n".join(t.transcript() for t in b.turns[-5:]))
    offered = " ".join(t.all_text.lower() for t in b.turns[-len(misses):])
    moved_on = asked_field(turn) not in ("product", None) or turn.mode_after == "human"
    assert moved_on or "lainnya" in offered or "tidak tahu" in offered, \
        "after two misses the borrower gets the choices with lainnya / tidak tahu:\n" + turn.transcript()


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("implausible", ["iya", "12345", "Pinjaman Tunai"])
def test_implausible_full_name_is_asked_again(channel: str, implausible: str,
                                              borrower: Callable[..., Borrower]) -> None:
    """Item 12: a yes/no, a number or a product is not a full name."""
    b = borrower(channel)
    turn = b.say("mau buat pengaduan")
    assert asked_field(turn) == "full_name", turn.transcript()
    again = b.say(implausible)
    assert asked_field(again) == "full_name", f"{implausible!r} was taken as a name:\n{again.transcript()}"


def test_verified_inapp_borrower_is_only_asked_to_confirm(borrower: Callable[..., Borrower]) -> None:
    """Item 13: name and phone come from the verified account; the opening message fills date and story."""
    person = next(p for p in sample_borrowers() if p.customer_id == "CUST-0005")
    b = borrower("inapp", person.customer_id, name=person.full_name)
    opening = "sy udh bayar cicilan tgl 25 kmrn tp di aplikasi masih nunggak"
    answers = Answers(full_name=person.full_name, phone=person.phone)
    first = b.say(opening)
    receipt = answer_until(b, first, answers, has_ticket_number)
    asked = list(answers.asked)
    typed = [t.text for t in b.turns[1:] if t.payload is None]
    assert person.full_name not in typed, f"a verified borrower was asked for their name: {asked}"
    assert not any(re.sub(r"\D", "", t) == re.sub(r"\D", "", person.phone) for t in typed), \
        f"a verified borrower was asked for their registered phone: {asked}"
    assert answers.chronology not in typed, f"the opening message already told the story: {asked}"
    assert answers.transaction_date not in typed, f"the opening message already gave the date: {asked}"
    assert has_ticket_number(receipt)


@pytest.mark.parametrize("channel", ["whatsapp", "telegram"])
def test_prompt_examples_use_the_formats_the_product_issues(channel: str,
                                                            borrower: Callable[..., Borrower]) -> None:
    """Item 4: an example id in a prompt looks like the ids the product prints."""
    b = borrower(channel)
    examples: list[str] = []
    turn = b.say("cek tagihan dong")
    person = sample_borrowers()[0]
    answers = Answers(full_name=person.full_name, phone=person.phone)
    for _ in range(3):
        if asked_field(turn) == "loan_id":
            break
        turn = answer(b, turn, answers)
    assert asked_field(turn) == "loan_id", turn.transcript()
    examples += re.findall(r"contoh:?\s*([A-Z]{2,5}-[\dA-Z-]+)", turn.all_text)
    b.say("batal")
    ticket = b.say("cek status tiket")
    examples += re.findall(r"contoh:?\s*([A-Z]{2,5}-[\dA-Z-]+)", ticket.all_text)
    for example in examples:
        example = example.rstrip(").,")
        assert LOAN_ID.fullmatch(example) or TICKET_NUMBER.fullmatch(example) or \
            re.fullmatch(r"APP-\d{5}", example), f"prompt example {example!r} is not a format the product issues"


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_bare_ambiguous_word_is_asked_about_not_guessed(channel: str,
                                                          borrower: Callable[..., Borrower]) -> None:
    """Issue #16: "denda" alone opened the complaint form as a relief request; it means a bill question as
    often. The bot asks which topic with buttons, and the one picked goes on."""
    b = borrower(channel)
    turn = b.say("denda")
    titles = [title for title, _ in turn.buttons]
    assert asked_field(turn) is None and "kategori" not in turn.all_text.lower(), turn.transcript()
    assert len(titles) >= 2 and "Cek tagihan" in titles, turn.transcript()
    assert turn.mode_after == "bot", turn.transcript()
    picked = b.press("Cek tagihan")
    assert "maksud anda" not in picked.all_text.lower(), picked.transcript()


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_greeting_inside_the_complaint_form_is_not_taken_as_the_product(channel: str,
                                                                          borrower: Callable[..., Borrower]) -> None:
    """Seen on the live stack: "halo" at the product question was read as the product. It is greeted back
    and the product asked again; the three-ask bound still holds."""
    b = borrower(channel)
    turn = _at_the_product_question(b)
    for greeting in ("halo", "selamat pagi"):
        turn = b.say(greeting)
        assert "halo juga" in turn.all_text.lower(), turn.transcript()
        assert "belum saya kenali" not in turn.all_text, turn.transcript()
        assert asked_field(turn) == "product", turn.transcript()
    turn = b.press("PayLater")
    assert asked_field(turn) == "transaction_date", turn.transcript()
