"""Identifiers survive the real trained NLU model's entity extraction (bot/models/aduan.tar.gz).

`make bot-test` trains the model before running these tests. The CRF must tag
the whole id, never a part of it; the actions then re-read the raw text
(test_identifiers.py), but a partial tag would still mislead slot filling.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import sys
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions import identifiers as ids
from conftest import BOT_DIR

sys.path.insert(0, str(BOT_DIR.parent))
from tickets.number_format import format_number  # noqa: E402

MODEL = BOT_DIR / "models" / "aduan.tar.gz"


@pytest.fixture(scope="module")
def parse():
    """Parse a message with the trained model (loaded once for the module)."""
    assert MODEL.exists(), f"{MODEL} is missing: run `make bot-train` (make bot-test does it first)"
    from rasa.core.agent import Agent

    loop = asyncio.new_event_loop()
    agent = Agent.load(str(MODEL))

    def _parse(text: str) -> Dict[str, Any]:
        return loop.run_until_complete(agent.parse_message(text))

    yield _parse
    loop.close()


def values(parsed: Dict[str, Any], entity: str) -> List[str]:
    return [str(e["value"]) for e in parsed.get("entities") or [] if e["entity"] == entity]


TICKETS = st.builds(lambda day, seq: format_number("DCI", day, seq),
                    st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 12, 31)),
                    st.integers(min_value=1, max_value=9999))
LOANS = st.builds(lambda p, y, n: f"{p}-{y}-{n:06d}", st.sampled_from(["PJ", "PL"]), st.integers(2020, 2027),
                  st.integers(0, 999_999))
APPS = st.builds(lambda n: f"APP-{n}", st.integers(10_000, 99_999))


@settings(max_examples=25, deadline=None)
@given(number=TICKETS, template=st.sampled_from(["cek status tiket {}", "{}", "nomor tiket saya {} gimana"]))
def test_ticket_numbers_survive_entity_extraction(parse, number, template):
    assert values(parse(template.format(number)), "ticket_number") == [number]


@settings(max_examples=25, deadline=None)
@given(loan=LOANS | APPS, template=st.sampled_from(["{}", "nomor pinjaman saya {}", "id order {} kak"]))
def test_loan_and_order_ids_survive_entity_extraction(parse, loan, template):
    assert values(parse(template.format(loan)), "loan_id") == [loan]


@pytest.mark.parametrize("text, canonical", [
    ("0812 3456 7890", "+6281234567890"), ("+62 812-3456-7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"), ("+62 857 9573 0601", "+6285795730601"),
    ("nomor saya 081377778888", "+6281377778888"), ("no hp 0813-5555-0101", "+6281355550101"),
])
def test_phone_numbers_survive_entity_extraction(parse, text, canonical):
    found = values(parse(text), "phone")
    assert len(found) == 1 and ids.find_phone(found[0]) == canonical


@pytest.mark.parametrize("text", ["PJ-2024-000123", "PL-2025-004567", "APP-88001", "PJ-2023-000998"])
def test_sample_data_loan_ids_survive_entity_extraction(parse, text):
    assert values(parse(f"nomor pinjaman {text}"), "loan_id") == [text]
