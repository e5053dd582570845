"""The long-message prototype (bench/nlu/long_messages.py): split, score, strongest complaint wins."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench" / "nlu"))

import long_messages as lm  # noqa: E402


def fake_parser(table: dict[str, tuple[str, float]], default: tuple[str, float] = ("out_of_scope", 0.4)):
    """A parser that answers from a table of sentence -> (intent, confidence) and records its calls."""
    calls: list[str] = []

    async def parse(text: str) -> dict:
        calls.append(text)
        name, conf = table.get(text, default)
        ranking = [{"name": name, "confidence": conf}, {"name": "greet", "confidence": 0.1}]
        return {"text": text, "intent": ranking[0], "intent_ranking": ranking}

    parse.calls = calls  # type: ignore[attr-defined]
    return parse


def run(parse, text):
    return asyncio.run(lm.sentence_scoring_parser(parse)(text))


def test_sentences_split_on_end_marks_and_drop_fragments():
    text = "Sudah bayar tgl 5 . tapi status belum lunas!!! Tolong dicek min ?? ok"
    assert lm.sentences(text) == ["Sudah bayar tgl 5", "tapi status belum lunas", "Tolong dicek min"]
    assert lm.sentences("limit rp.188.702 kok kepotong m-bca") == ["limit rp.188.702 kok kepotong m-bca"]


def test_a_one_sentence_message_is_parsed_once_and_unchanged():
    parse = fake_parser({"otp saya tidak masuk": ("complain_app", 0.8)})
    result = run(parse, "otp saya tidak masuk")
    assert result["intent"]["name"] == "complain_app"
    assert parse.calls == ["otp saya tidak masuk"]


def test_the_strongest_complaint_sentence_wins_and_the_rest_is_context():
    text = "Saya nasabah lama. Kemarin sudah bayar angsuran tapi belum masuk. Pelayanan kalian jelek sekali"
    parse = fake_parser(
        {
            text: ("out_of_scope", 0.5),
            "Kemarin sudah bayar angsuran tapi belum masuk": ("complain_payment", 0.7),
            "Pelayanan kalian jelek sekali": ("complain_app", 0.4),
        }
    )
    result = run(parse, text)
    assert result["intent"] == {"name": "complain_payment", "confidence": 0.7}
    assert result["intent_ranking"][0]["name"] == "complain_payment"
    assert [s["intent"] for s in result["sentences"]] == ["out_of_scope", "complain_payment", "complain_app"]


def test_fraud_beats_an_equally_confident_payment_complaint():
    text = "ada yang pinjam atas nama saya. saldo saya terpotong juga"
    parse = fake_parser(
        {"ada yang pinjam atas nama saya": ("complain_fraud", 0.6), "saldo saya terpotong juga": ("complain_payment", 0.6)}
    )
    assert run(parse, text)["intent"]["name"] == "complain_fraud"


def test_without_a_confident_complaint_the_whole_message_stands():
    text = "halo min selamat pagi. mau tanya cara bayar angsuran lewat indomaret"
    parse = fake_parser(
        {
            text: ("ask_payment_method", 0.6),
            "halo min selamat pagi": ("greet", 0.9),
            "mau tanya cara bayar angsuran lewat indomaret": ("complain_payment", 0.2),
        }
    )
    result = run(parse, text)
    assert result["intent"] == {"name": "ask_payment_method", "confidence": 0.6}
    assert len(result["sentences"]) == 2


def test_a_fallback_sentence_is_scored_by_its_best_real_intent():
    scored = lm.best_real_intent(
        "x", {"intent_ranking": [{"name": "nlu_fallback", "confidence": 0.25}, {"name": "complain_app", "confidence": 0.24}]}
    )
    assert (scored.intent, scored.confidence) == ("complain_app", 0.24)
