"""A message that is one ambiguous word gets the clarifying question, not a guess (issue #16)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.bare_word_clarifier import AMBIGUOUS_WORD_KEY, BareWordClarifier
from components.borrower_tokenizer import BorrowerTokenizer

# "denda" under four intents, never alone; "keringanan" under one; "komplain" alone is an example.
EXAMPLES: Dict[str, List[str]] = {
    "ask_bill_amount": ["denda saya berapa", "berapa denda sy sekarang", "total tagihan termasuk denda"],
    "ask_product_info": ["denda per hari berapa persen", "denda keterlambatan dihitung gimana"],
    "request_relief": ["dendanya bisa dihapus gak", "minta keringanan denda", "minta keringanan cicilan",
                       "keringanan buat yang kena phk", "ajukan keringanan bisa", "keringanan tenor dong"],
    "complain_payment": ["sudah bayar tapi kena denda", "kok masih kena denda padahal lunas"],
    "lodge_complaint": ["komplain", "mau komplain", "saya mau komplain kak", "komplain soal aplikasi"],
}
CONFIG = {"min_examples": 5, "max_share": 0.6}


def _tokenized(texts: List[str]) -> List[Message]:
    tokenizer = BorrowerTokenizer(BorrowerTokenizer.get_default_config())
    messages = [Message(data={"text": t}) for t in texts]
    tokenizer.process(messages)
    return messages


def _classified(text: str, ranking: List[Dict]) -> Message:
    """A message as the classifier leaves it: intent and ranking set."""
    message = _tokenized([text])[0]
    message.set("intent", ranking[0])
    message.set("intent_ranking", ranking)
    return message


RANKING = [{"name": "request_relief", "confidence": 0.62}, {"name": "ask_bill_amount", "confidence": 0.2},
           {"name": "ask_product_info", "confidence": 0.1}]


@pytest.fixture
def trained(tmp_path: Path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="clarifier")
    resource = Resource("clarifier")
    data = TrainingData([Message(data={"text": t, "intent": i}) for i, ts in EXAMPLES.items() for t in ts])
    BorrowerTokenizer(BorrowerTokenizer.get_default_config()).process_training_data(data)
    clarifier = BareWordClarifier.create(CONFIG, storage, resource, context)
    clarifier.train(data)
    return clarifier, storage, resource, context


def test_learns_words_spread_over_intents_and_never_alone(trained):
    clarifier = trained[0]
    assert "denda" in clarifier.ambiguous
    assert set(clarifier.ambiguous["denda"]) == {"ask_bill_amount", "ask_product_info", "request_relief",
                                                  "complain_payment"}
    assert "keringanan" not in clarifier.ambiguous  # one intent holds it
    assert "komplain" not in clarifier.ambiguous  # an example on its own says what it means alone


@pytest.mark.parametrize("text", ["denda", "Denda?", "denda dong kak", "dendanya min", "@dana_contoh denda saya"])
def test_a_bare_ambiguous_word_falls_back_with_the_ranking_kept(trained, text):
    clarifier = trained[0]
    message = clarifier.process([_classified(text, list(RANKING))])[0]
    assert message.get("intent")["name"] == "nlu_fallback"
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "nlu_fallback"
    # What `rasa test nlu` (undo_fallback_prediction) and the topic buttons read: the classifier's ranking.
    assert ranking[1:] == RANKING
    assert message.get(AMBIGUOUS_WORD_KEY) == "denda"


@pytest.mark.parametrize("text", ["denda saya berapa", "keringanan", "komplain", "2", "berapa denda per hari"])
def test_a_message_that_says_more_is_left_to_the_classifier(trained, text):
    clarifier = trained[0]
    message = clarifier.process([_classified(text, list(RANKING))])[0]
    assert message.get("intent") == RANKING[0]
    assert message.get("intent_ranking") == RANKING


def test_an_existing_fallback_is_left_alone(trained):
    clarifier = trained[0]
    fallback = [{"name": "nlu_fallback", "confidence": 0.25}] + RANKING
    message = clarifier.process([_classified("denda", list(fallback))])[0]
    assert message.get("intent_ranking") == fallback


def test_persists_and_loads(trained):
    clarifier, storage, resource, context = trained
    loaded = BareWordClarifier.load(CONFIG, storage, resource, context)
    assert loaded.ambiguous == clarifier.ambiguous


def test_loads_without_a_trained_resource(tmp_path: Path):
    context = ExecutionContext(GraphSchema({}), node_name="clarifier")
    loaded = BareWordClarifier.load(CONFIG, LocalModelStorage(tmp_path), Resource("never_trained"), context)
    message = loaded.process([_classified("denda", list(RANKING))])[0]
    assert message.get("intent") == RANKING[0]
