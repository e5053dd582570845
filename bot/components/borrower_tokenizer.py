"""Whitespace tokenizer that reads borrowers' chat noise the way the training data is written.

Real messages to a lender's account (issue #16) come wrapped in noise the
written examples rarely carry: ``@mentions`` of the company's account, forms of
address (``min``, ``mimin``, ``kak``, ``gan``) in any position, stretched
words (``halooo``, ``tolongg``, ``adminnn``) and ALL CAPS. Case is already
folded by the featurizers; the rest is done here, on the *tokens*, so the
message text and every token's offsets stay as sent (the entity extractor and
the actions read the raw text):

* a token that is an ``@mention`` is dropped;
* a form of address is dropped, unless nothing else is left (``"kak?"``
  still has a token to classify);
* a letter repeated three times or more becomes one (``halooo`` → ``halo``),
  and a doubled vowel or ``n g h k s`` at the end of a word becomes single
  (``tolongg`` → ``tolong``, ``sayaa`` → ``saya``);
* chat slang becomes the standard word (``gk`` → ``tidak``, ``sy`` →
  ``saya``; the lexicon of components/slang_tokenizer.py).

The normalised form is the token's lemma, which the CountVectorsFeaturizers
read; the token's text keeps its case for the entity extractor's shape
features.

Punctuation (``!!!``, ``???``) is already split off by the WhitespaceTokenizer.
"""
from __future__ import annotations

import re
from typing import Any, Dict, FrozenSet, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from components.slang_tokenizer import SLANG

# Forms of address that say nothing about what the borrower wants. "admin"
# is not here: "mau ngobrol sama admin" asks for a person.
ADDRESS_WORDS: FrozenSet[str] = frozenset(
    {"min", "mimin", "kak", "ka", "kk", "kakak", "sis", "gan", "agan", "mas", "mba", "mbak", "om"}
)
_TRIPLED = re.compile(r"([a-z])\1{2,}")
_DOUBLED_END = re.compile(r"([aiueonghks])\1$")


def normalise_word(word: Text) -> Text:
    """Lower case with stretched letters undone: ``HALOOO`` → ``halo``, ``dongg`` → ``dong``."""
    word = _TRIPLED.sub(r"\1", word.lower())
    return _DOUBLED_END.sub(r"\1", word) if len(word) > 3 else word


def is_noise(word: Text) -> bool:
    """True for an @mention or a form of address (after normalisation)."""
    return word.startswith("@") or normalise_word(word) in ADDRESS_WORDS


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class BorrowerTokenizer(WhitespaceTokenizer):
    """WhitespaceTokenizer without @mentions and forms of address, stretched words and slang undone."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Same defaults as the WhitespaceTokenizer."""
        return WhitespaceTokenizer.get_default_config()

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Split on whitespace, drop the noise tokens, normalise the rest."""
        tokens = super().tokenize(message, attribute)
        text = message.get(attribute) or ""
        # The WhitespaceTokenizer strips the "@" of "@user"; look at the raw text.
        kept = [t for t in tokens if not is_noise(_raw(text, t))]
        for token in kept or tokens:
            # Only the lemma, which the featurizers read: the entity
            # extractor's features need the token's case as sent.
            word = normalise_word(token.text)
            token.lemma = SLANG.get(word, word)
        return kept or tokens


def _raw(text: Text, token: Token) -> Text:
    """The token as sent, with an "@" in front when the sender wrote one."""
    before = text[token.start - 1] if token.start > 0 else ""
    return ("@" if before == "@" else "") + text[token.start:token.end]
