"""Ask instead of guessing when a message is one ambiguous word (issue #16).

"denda" is a bill question in the training data ("denda saya berapa"), a
product question ("denda per hari berapa"), a relief request ("dendanya bisa
dihapus?") and a payment complaint ("sudah bayar tapi kena denda"). Sent
alone, the classifier still names one of them, and confidently enough to pass
the FallbackClassifier: on the live stack "denda" opened the complaint form
as a relief request. One word cannot say which of the four the borrower means.

This component runs after the FallbackClassifier. When a message's only
content word (fillers such as "dong", "saya" and forms of address left out)

* is spread over several intents in the training data - no intent holds
  more than ``max_share`` of the examples that use it, and it is used in at
  least ``min_examples`` of them - and
* never is a whole training example on its own ("komplain", "petugas" and
  "halo" are: the data says what they mean alone),

the message gets ``nlu_fallback`` exactly as the FallbackClassifier gives it:
the fallback on top of the classifier's ranking, which stays below it. The
dialogue then asks with buttons naming the likeliest topics
(``action_suggest_topics``); ``rasa test nlu`` undoes the fallback and scores
the classifier's own answer, so cross-validation is unchanged.

The ambiguous words are learnt from the training data at training time and
persisted with the model, so new data moves them without code changes.
"""
from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from typing import Any, Dict, List, Optional, Set, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

# Words that never say what a message is about: particles and the borrower
# speaking of themselves ("denda saya dong" is still just "denda"). Forms of
# address (min, kak) are already dropped by the BorrowerTokenizer, slang is
# already mapped ("aja" -> "saja", "sy" -> "saya").
FILLER_WORDS = frozenset(
    "dong donk sih nih ya yah yaa deh kok tuh saja lah kah pun saya ku".split()
)
# The parse key naming the word that was too ambiguous alone (for logs and the agent).
AMBIGUOUS_WORD_KEY = "ambiguous_word"
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_FILE = "ambiguous_words.json"


def content_words(message: Message) -> List[Text]:
    """The message's words without fillers, from the tokenizer's lemmas; '-nya' dropped from long words."""
    words = []
    for token in message.get(TOKENS_NAMES[TEXT]) or []:
        word = (token.lemma or token.text or "").lower()
        if word in FILLER_WORDS:
            continue
        # "dendanya" is "denda"; short words ending in -nya ("tanya", "punya") are words of their own.
        if word.endswith("nya") and len(word) > 6:
            word = word[:-3]
        words.append(word)
    return words


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BareWordClarifier(GraphComponent):
    """Turns a message that is one ambiguous word into ``nlu_fallback``, keeping the ranking."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """A word is ambiguous when used in >= ``min_examples`` examples, none of its intents holding > ``max_share``.

        On the data of 2026-11-30 that makes denda (request_relief 0.35 at
        most), tagihan (0.42), cicilan, angsuran, bayar, pinjaman, otp, nomor
        ambiguous, and leaves bunga (ask_product_info 0.68), tenor, saldo,
        refund, keringanan, penipuan to the classifier (docs/bot.md).
        """
        return {"min_examples": 8, "max_share": 0.6}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 ambiguous: Optional[Dict[Text, List[Text]]] = None) -> None:
        """``ambiguous``: word -> the intents that use it, most first."""
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.ambiguous: Dict[Text, List[Text]] = dict(ambiguous or {})

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "BareWordClarifier":
        """An untrained clarifier (it knows no ambiguous word yet)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn which words are spread over intents and never an example alone; persist them."""
        uses: Dict[Text, Counter] = defaultdict(Counter)
        alone: Set[Text] = set()
        for example in training_data.intent_examples:
            words = content_words(example)
            for word in set(words):
                uses[word][example.get(INTENT)] += 1
            if len(words) == 1:
                alone.add(words[0])
        self.ambiguous = {}
        for word, intents in uses.items():
            total = sum(intents.values())
            if (_WORD.fullmatch(word) and word not in alone and total >= self._config["min_examples"]
                    and max(intents.values()) <= self._config["max_share"] * total):
                self.ambiguous[word] = [intent for intent, _ in intents.most_common()]
        with self._model_storage.write_to(self._resource) as directory:
            (directory / _FILE).write_text(json.dumps(self.ambiguous, ensure_ascii=False, sort_keys=True))
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        """Mark a bare ambiguous word as ``nlu_fallback`` on top of the classifier's ranking."""
        for message in messages:
            intent = message.get(INTENT) or {}
            if not intent.get(INTENT_NAME_KEY) or intent.get(INTENT_NAME_KEY) == DEFAULT_NLU_FALLBACK_INTENT_NAME:
                continue
            words = content_words(message)
            if len(words) != 1 or words[0] not in self.ambiguous:
                continue
            # The FallbackClassifier's shape: the fallback first, the classifier's ranking under it.
            fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                        PREDICTED_CONFIDENCE_KEY: float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)}
            ranking = list(message.get(INTENT_RANKING_KEY) or [intent])
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback] + ranking, add_to_output=True)
            message.set(AMBIGUOUS_WORD_KEY, words[0], add_to_output=True)
        return messages

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "BareWordClarifier":
        """The words learnt at training; none when the model was trained without intents."""
        try:
            with model_storage.read_from(resource) as directory:
                ambiguous = json.loads((directory / _FILE).read_text())
        except ValueError:
            logger.debug("No trained %s in resource '%s'; no word is ambiguous.", cls.__name__, resource.name)
            ambiguous = {}
        return cls(config, model_storage, resource, ambiguous)
