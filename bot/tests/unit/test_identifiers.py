"""Every identifier the product prints is read back exactly, alone and inside a sentence.

Ticket numbers are generated with the desk's own formatter
(``tickets/number_format.py``, pure Python), loan and application ids in the
formats of the lending core's sample data (``lending/demo_data.yml``), phone
numbers in every common spelling.
"""
from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions import identifiers as ids
from actions import validators as v
from conftest import BOT_DIR

REPO = BOT_DIR.parent
sys.path.insert(0, str(REPO))
from tickets.number_format import format_number, parse_number  # noqa: E402  (the desk's own code)

DEMO = yaml.safe_load((REPO / "lending" / "demo_data.yml").read_text(encoding="utf-8"))
LOAN_IDS = [loan["loan_id"] for c in DEMO["customers"] for loan in c["loans"]]
APPLICATION_IDS = [a["application_id"] for c in DEMO["customers"] for a in c["applications"]]
DEMO_PHONES = [c["phone"] for c in DEMO["customers"]]

SENTENCES = [
    "{id}",
    "cek status tiket {id}",
    "nomor tiket saya {id}, sudah selesai?",
    "{id} ini tiketnya kak",
    "min tolong cek {id} ya, udah 3 hari",
    "nomor pinjaman saya {id}",
    "saya Budi Santoso, pinjaman {id}.",
    "({id})",
    "id: {id}!",
]
settings.register_profile("ids", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ids")

prefixes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=5)
days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
sequences = st.integers(min_value=1, max_value=9_999_999)
sentences = st.sampled_from(SENTENCES)


@st.composite
def ticket_numbers(draw) -> str:
    """A ticket number exactly as the desk issues it."""
    return format_number(draw(prefixes), draw(days), draw(sequences))


@st.composite
def loan_ids(draw) -> str:
    """A loan id in the lending core's format: PJ-2024-000123."""
    prefix = draw(st.sampled_from(sorted({i.split("-")[0] for i in LOAN_IDS})) | prefixes.filter(lambda p: len(p) <= 4))
    return f"{prefix}-{draw(st.integers(2000, 2099))}-{draw(st.integers(0, 999_999)):06d}"


@st.composite
def application_ids(draw) -> str:
    """An application (order) id in the lending core's format: APP-88001."""
    return f"APP-{draw(st.integers(10_000, 99_999))}"


@st.composite
def phones(draw) -> Dict[str, str]:
    """An Indonesian mobile number, canonical and as a borrower might type it."""
    rest = draw(st.text(alphabet="0123456789", min_size=8, max_size=11))
    national = "8" + rest
    canonical = "+62" + national
    head, mid, tail = national[:3], national[3:7], national[7:]
    spelled = draw(st.sampled_from([
        f"0{national}", f"62{national}", canonical, f"0{head} {mid} {tail}", f"+62 {head}-{mid}-{tail}",
        f"+62 {head} {mid} {tail}", f"0{head}-{mid}-{tail}", f"0{head}.{mid}.{tail}", f"(0{head}) {mid} {tail}",
        f"+62{head}{mid}{tail}", f"62 {head} {mid} {tail}",
    ]))
    return {"canonical": canonical, "spelled": spelled}


@given(number=ticket_numbers(), sentence=sentences)
def test_ticket_numbers_read_back_exactly(number, sentence):
    found = ids.find_ticket_number(sentence.format(id=number))
    assert found == number
    assert parse_number(found) == number  # the desk accepts what the bot extracted


@given(number=ticket_numbers(), sentence=sentences)
def test_ticket_numbers_typed_loosely_read_back_canonical(number, sentence):
    typed = number.lower().replace("-", " ")
    assert ids.find_ticket_number(sentence.format(id=typed)) == number
    compact = number.replace("-", "")
    assert ids.find_ticket_number(sentence.format(id=compact)) == number


@given(number=ticket_numbers(), sentence=sentences)
def test_ticket_numbers_are_not_phones_or_loan_ids(number, sentence):
    text = sentence.format(id=number)
    assert ids.find_phone(text) is None
    assert ids.find_loan_id(text) is None


@given(number=ticket_numbers())
def test_ticket_number_without_prefix_only_where_asked(number):
    bare = number.split("-", 1)[1]
    prefix = number.split("-", 1)[0]
    assert ids.find_ticket_number(bare, default_prefix=prefix) == number


@given(number=ticket_numbers())
def test_ticket_number_without_check_digit_is_flagged_not_cut(number):
    cut = number.rsplit("-", 1)[0]
    assert ids.find_ticket_number(f"cek status tiket {cut}") is None
    assert ids.find_incomplete_ticket_number(f"cek status tiket {cut}") == cut
    value, reprompt = v.check_ticket_number(cut)
    assert value is None and cut in reprompt


@given(loan=loan_ids() | application_ids(), sentence=sentences)
def test_loan_and_application_ids_read_back_exactly(loan, sentence):
    text = sentence.format(id=loan)
    assert ids.find_loan_id(text) == loan
    assert v.check_loan_id(text) == (loan, None)
    assert ids.find_ticket_number(text) is None
    assert ids.find_phone(text) is None


@given(loan=loan_ids() | application_ids())
def test_loan_ids_typed_loosely(loan):
    assert ids.find_loan_id(loan.lower()) == loan
    assert ids.find_loan_id(loan.replace("-", " ")) == loan


@pytest.mark.parametrize("loan", LOAN_IDS + APPLICATION_IDS)
def test_every_sample_loan_and_application_id(loan):
    """The ids of lending/demo_data.yml (PJ-2024-000123 was cut to 000123)."""
    assert ids.find_loan_id(loan) == loan
    assert ids.find_loan_id(f"nomor pinjaman saya {loan} kak") == loan


@given(phone=phones(), sentence=sentences)
def test_phones_read_back_exactly(phone, sentence):
    text = sentence.format(id=phone["spelled"])
    assert ids.find_phone(text) == phone["canonical"]
    assert v.check_phone(text) == (phone["canonical"], None)
    assert ids.find_ticket_number(text) is None
    assert ids.find_loan_id(text) is None


@pytest.mark.parametrize("raw, canonical", [
    ("0812 3456 7890", "+6281234567890"), ("+62 812-3456-7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"), ("+62 857 9573 0601", "+6285795730601"),
    ("0812 3456 7890 12 januari", "+6281234567890"), ("hp 081234567890, tgl 5", "+6281234567890"),
])
def test_phone_examples_of_the_issue(raw, canonical):
    assert ids.find_phone(raw) == canonical


@pytest.mark.parametrize("raw", DEMO_PHONES)
def test_sample_borrower_phones(raw):
    assert ids.find_phone(raw) is not None and ids.find_phone(raw).startswith("+628")


@pytest.mark.parametrize("text", ["transfer Rp 8.500.000.000 kemarin", "12 januari 2025", "kemarin", "2",
                                  "tanggal 25/12/2024", "DCI-261130-0005-4", "PJ-2024-000123"])
def test_no_phone_in_amounts_dates_and_ids(text):
    assert ids.find_phone(text) is None


def _nlu_regexes() -> Dict[str, List[str]]:
    data = yaml.safe_load((BOT_DIR / "data" / "nlu.yml").read_text(encoding="utf-8"))
    out: Dict[str, List[str]] = {}
    for block in data["nlu"]:
        if "regex" in block:
            out[block["regex"]] = [line[2:].strip() for line in block["examples"].splitlines() if line.strip()]
    return out


NLU_REGEXES = _nlu_regexes()


def _whole(entity: str, value: str) -> bool:
    """Whether one of the NLU regexes for ``entity`` matches all of ``value`` inside a sentence."""
    text = f"cek {value} ya"
    for pattern in NLU_REGEXES[entity]:
        for match in re.finditer(pattern, text, re.IGNORECASE):
            if match.group(0) == value:
                return True
    return False


@given(number=ticket_numbers())
def test_nlu_ticket_regex_matches_whole_numbers(number):
    assert _whole("ticket_number", number)


@given(loan=loan_ids() | application_ids())
def test_nlu_loan_regex_matches_whole_ids(loan):
    assert _whole("loan_id", loan)


@given(phone=phones())
def test_nlu_phone_regex_matches_whole_numbers(phone):
    if "(" in phone["spelled"] or "." in phone["spelled"][:4]:
        return  # brackets are not part of the NLU pattern; the actions read them (test above)
    assert _whole("phone", phone["spelled"])


def test_prompt_examples_use_the_formats_the_product_issues():
    """The ask prompts show a real ticket number (lender prefix, valid check digit) and real loan ids."""
    from actions import content

    prefix = content.load_content()["lender"]["ticket_prefix"]
    ticket_prompt = content.prompt("ask_ticket_number")
    example = ids.find_ticket_number(ticket_prompt)
    assert example and example.startswith(prefix + "-") and parse_number(example) == example
    loan_prompt = content.prompt("ask_loan_id")
    assert ids.find_loan_id(loan_prompt) in LOAN_IDS + APPLICATION_IDS or re.search(ids.EXAMPLE_LOAN_ID, loan_prompt)
    assert "LN-" not in loan_prompt and "LN-" not in ticket_prompt
