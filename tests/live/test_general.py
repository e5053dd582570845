"""General questions on every channel: the answers come from the lender content file."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.live.borrowers import Borrower
from tests.live.conftest import CHANNELS

REPO = Path(__file__).resolve().parents[2]
CONTENT = yaml.safe_load((REPO / "lender" / "demo.yml").read_text(encoding="utf-8"))


def faq_opening(key: str) -> str:
    """The first line of an FAQ answer: the bot must send the lender's text, not something else."""
    entry = CONTENT["faq"][key]
    text = entry["text"] if isinstance(entry, dict) else entry
    return text.splitlines()[0].strip()


@pytest.mark.parametrize("channel", CHANNELS)
def test_greeting_and_general_questions(channel: str, borrower: Callable[..., Borrower]) -> None:
    b = borrower(channel)
    greeting = b.say("halo")
    assert any("DanaContoh" in r.text for r in greeting.replies), greeting.transcript()

    pay = b.say("bayar cicilan gimana caranya")
    assert faq_opening("payment_method") in pay.all_text, pay.transcript()

    apply = b.say("syarat pengajuan apa aja")
    assert faq_opening("how_to_apply") in apply.all_text, apply.transcript()

    product = b.say("bunganya berapa persen")
    assert faq_opening("product_info") in product.all_text, product.transcript()

    procedure = b.say("berapa lama aduan diproses")
    assert faq_opening("complaint_procedure") in procedure.all_text, procedure.transcript()


@pytest.mark.parametrize("channel", CHANNELS)
def test_operating_hours_name_this_channels_hours(channel: str, borrower: Callable[..., Borrower]) -> None:
    """The suite's content file opens every channel day and night; Monday–Friday 09–17 is only the default."""
    b = borrower(channel)
    hours = b.say("cs buka jam berapa")
    text = hours.all_text
    assert faq_opening("operating_hours") in text, hours.transcript()
    assert re.search(r"Setiap hari,? 00[.:]00\s*[–-]\s*24[.:]00", text), hours.transcript()
    # People answer now (the desk says so for this channel).
    assert "siap membantu" in text or "sedang bertugas" in text, hours.transcript()


@pytest.mark.parametrize("channel", CHANNELS)
def test_product_question_names_the_product(channel: str, borrower: Callable[..., Borrower]) -> None:
    b = borrower(channel)
    turn = b.say("berapa bunga paylater per bulan")
    by_product = CONTENT["faq"]["product_info"]["by_product"]["paylater"].splitlines()[0]
    assert by_product[:40] in turn.all_text, turn.transcript()
