"""The borrower tokenizer drops @mentions and forms of address and undoes stretched words."""
from __future__ import annotations

from typing import List

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.borrower_tokenizer import BorrowerTokenizer, normalise_word


def _lemmas(text: str) -> List[str]:
    tokenizer = BorrowerTokenizer(BorrowerTokenizer.get_default_config())
    message = Message(data={"text": text})
    tokenizer.process([message])
    return [t.lemma for t in message.get("text_tokens")]


@pytest.mark.parametrize("word, expected", [
    ("HALOOO", "halo"), ("tolongg", "tolong"), ("sayaa", "saya"), ("adminnn", "admin"),
    ("maaf", "maaf"), ("saat", "saat"), ("cc", "cc"), ("full", "full"), ("ga", "ga"),
])
def test_stretched_words_are_undone(word: str, expected: str) -> None:
    assert normalise_word(word) == expected


def test_mentions_and_forms_of_address_are_dropped() -> None:
    assert _lemmas("@danacontoh min tolong cek dm saya kak!!!") == ["tolong", "cek", "dm", "saya"]
    assert _lemmas("MIMIN, CICILAN SAYA BERAPAAA???") == ["cicilan", "saya", "berapa"]


def test_the_same_request_looks_the_same_with_or_without_noise() -> None:
    assert _lemmas("@user KAK angsuran saya bulan ini berapa ya min???") == _lemmas("angsuran saya bulan ini berapa ya")


def test_chat_slang_reads_as_the_standard_word() -> None:
    # One lexicon for slang (components.slang_tokenizer.SLANG).
    assert _lemmas("min kok sy gk bs login") == ["kok", "saya", "tidak", "bisa", "login"]


def test_a_message_of_only_address_words_keeps_its_tokens() -> None:
    assert _lemmas("kak?") == ["kak"]
    assert _lemmas("min min") == ["min", "min"]


def test_token_text_and_offsets_stay_as_sent() -> None:
    """The entity extractor reads the tokens' case and the raw text's offsets."""
    tokenizer = BorrowerTokenizer(BorrowerTokenizer.get_default_config())
    text = "@user kak nama saya Budi Santoso"
    message = Message(data={"text": text})
    tokenizer.process([message])
    tokens = message.get("text_tokens")
    assert [t.text for t in tokens] == ["nama", "saya", "Budi", "Santoso"]
    assert all(text[t.start:t.end] == t.text for t in tokens)
