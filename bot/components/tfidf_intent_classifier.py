"""Intent classifier: logistic regression on sublinear tf-idf of the sparse features.

Rasa's LogisticRegressionClassifier fits on the raw n-gram counts the
CountVectorsFeaturizers produce. On our data that has two costs:

* a long message has large counts, so the model is most certain about long
  rambling messages and a repeated word ("tolong tolong tolong") inflates the
  confidence the FallbackClassifier relies on;
* frequent character n-grams shared by every intent (" ya", "kak", "min")
  weigh as much as the rare ones that tell intents apart.

This component keeps everything else about Rasa's classifier (features in,
balanced class weights, ranking out, skops persistence) and puts a
``TfidfTransformer`` in front of the regression: counts become 1 + log(count),
are weighted by inverse document frequency learned at training, and each
message's vector gets unit length. On the same 5 cross-validation folds this
raised macro-F1 from 0.897 to 0.915 and cut the fit from ~50 s to ~25 s
(docs/bot.md).

Long messages (issue #16): a review or an angry WhatsApp message mixes a
story, an accusation and a question. Scored as one bag of n-grams its
complaint is diluted by the rest, so the model falls back or picks small
talk. A message of two or more sentences is therefore also scored sentence by
sentence - from the per-token features the featurizers already produced, so
nothing is featurized twice - and the strongest complaint sentence wins when
it is more confident than the whole message. A request wrapped in courtesies
("halo kak, mau tanya. cicilan saya berapa?", "... tolong dicek. terima
kasih") reads as the courtesy as a whole; there the strongest sentence of
another intent wins. Every sentence's best intent is kept in the parse under
``sentences`` as context for the agent.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

# skops refuses to load types it does not know are safe. scikit-learn 1.1's
# TfidfTransformer keeps its idf weights as a sparse diagonal matrix, the one
# non-sklearn type in the persisted pipeline.
TRUSTED_TYPES: List[Text] = ["scipy.sparse._csr.csr_matrix"]

# The parse key that carries each sentence's best intent for the agent.
SENTENCES_KEY = "sentences"
# Intents a sentence may carry a long message to, in order of precedence when
# two are equally confident: fraud and collector threats are never below
# `high` priority (shared/domain.md), so they come first.
COMPLAINT_INTENTS: Tuple[Text, ...] = (
    "complain_fraud",
    "complain_collection",
    "complain_payment",
    "request_relief",
    "change_phone_number",
    "complain_app",
    "ask_application_status",
    "check_ticket_status",
    "lodge_complaint",
)
# Courtesies that wrap a request ("halo kak, mau tanya. ...", "... tolong dicek.
# terima kasih"): when the whole message reads as one of these, its strongest
# other sentence says what the borrower wants.
SMALL_TALK_INTENTS: Tuple[Text, ...] = ("greet", "thank", "goodbye", "affirm", "deny")
# Sentence ends: . ! ? (repeated or spaced, as in "tolong !!!" or " . ") and
# line breaks; a dot inside "8.000" or "m-bca" is not an end.
_SENTENCE_END = re.compile(r"[.!?]+(?:\s*[.!?])*(?=\s|$)|\n+")


def sentence_spans(text: Text, min_words: int) -> List[Tuple[int, int]]:
    """(start, end) of each sentence of ``text`` with at least ``min_words`` words."""
    spans: List[Tuple[int, int]] = []
    start = 0
    for end_mark in list(_SENTENCE_END.finditer(text)) + [None]:
        end = end_mark.start() if end_mark else len(text)
        if len(text[start:end].split()) >= min_words:
            spans.append((start, end))
        if end_mark:
            start = end_mark.end()
    return spans


def _strength(scored: Tuple[Text, Text, float, Any]) -> Tuple[float, int]:
    """Sort key of a scored sentence: confidence, then complaint precedence on a tie."""
    _, intent, confidence, _ = scored
    rank = COMPLAINT_INTENTS.index(intent) if intent in COMPLAINT_INTENTS else len(COMPLAINT_INTENTS)
    return confidence, -rank


def _sentence_features(message: Message) -> List[Features]:
    """The message's sentence-level features in the parent's column order: sparse, then dense."""
    sentence = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
    return [f for f in sentence if f.is_sparse()] + [f for f in sentence if f.is_dense()]


def column_major_weights(pipeline: Pipeline) -> Pipeline:
    """Store the regression's weights column-major, so a prediction does not copy them.

    scikit-learn scores a sparse row as ``X @ coef_.T``; scipy's sparse-times-
    dense product needs that dense operand C-contiguous and copies it when it
    is not. ``coef_`` is (intents x vocabulary), row-major, so every parse
    copied the whole weight matrix - most of the classifier's time, and more
    with every feature added. Column-major ``coef_`` makes ``coef_.T``
    row-major: the same numbers, no copy (docs/bot.md, sixth pass).
    """
    logreg = pipeline.steps[-1][1]
    if hasattr(logreg, "coef_"):
        logreg.coef_ = np.asfortranarray(logreg.coef_)
    return pipeline


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfIntentClassifier(LogisticRegressionClassifier):
    """Rasa's logistic-regression intent classifier on tf-idf weighted, unit-length features."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Rasa's defaults plus the regularisation strength and tf scaling.

        ``C`` is larger than scikit-learn's default of 1 because unit-length
        vectors have small entries; 20 was best of 1-50 in cross-validation.
        """
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "C": 20.0,
            "sublinear_tf": True,
            # Long messages: sentences shorter than this are not scored alone,
            # and a complaint sentence must be at least this confident to win.
            "sentence_min_words": 3,
            "sentence_min_confidence": 0.3,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        name: Text,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        """Build the parent's regression, then put the tf-idf step in front of it."""
        super().__init__(config, name, model_storage, resource)
        # `clf` is the estimator the parent fits, persists, loads and asks for
        # `predict_proba` / `classes_`; a Pipeline answers all of those.
        self.clf = Pipeline(
            [
                ("tfidf", TfidfTransformer(sublinear_tf=self.config["sublinear_tf"])),
                ("logreg", self.clf.set_params(C=self.config["C"])),
            ]
        )

    def train(self, training_data: TrainingData) -> Resource:
        """Fit as Rasa does, then lay the weights out for fast products (see `column_major_weights`)."""
        resource = super().train(training_data)
        column_major_weights(self.clf)
        return resource

    def _create_X(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        """One row per message: its sentence features, sparse then dense, side by side.

        The same matrix as the parent's, built in one step. The parent goes
        through ``Message.get_sparse_features``, which also deep-copies and
        stacks the per-token sequence features it then throws away, and
        stacks sparse matrices pairwise; building it directly took the parse
        p50 from 5.3 to 4.2 ms.
        """
        data: List[np.ndarray] = []
        columns: List[np.ndarray] = []
        row_ends = [0]
        nonzeros = 0
        width = 0
        for message in messages:
            offset = 0
            for features in _sentence_features(message):
                row = scipy.sparse.coo_matrix(features.features)
                data.append(row.data.astype(np.float64, copy=False))
                columns.append(row.col + offset)
                offset += row.shape[1]
                nonzeros += row.nnz
            row_ends.append(nonzeros)
            width = max(width, offset)
        if not data:
            return scipy.sparse.csr_matrix((len(messages), width))
        return scipy.sparse.csr_matrix(
            (np.concatenate(data), np.concatenate(columns), np.array(row_ends)), shape=(len(messages), width)
        )

    def process(self, messages: List[Message]) -> List[Message]:
        """Rasa's prediction for the whole message, then the long-message reading."""
        messages = super().process(messages)
        for message in messages:
            self._read_by_sentence(message)
        return messages

    def _read_by_sentence(self, message: Message) -> None:
        """Let the strongest complaint sentence of a long message decide its intent.

        When the whole message reads as a courtesy (greet, thank...), its
        strongest sentence with another intent decides instead, however
        confident the courtesy was.
        """
        rows = self._sentence_rows(message)
        if rows is None:
            return
        spans, X = rows
        probabilities = self.clf.predict_proba(X)
        classes = list(self.clf.classes_)
        text = message.get(TEXT) or ""
        scored = []
        for (start, end), row in zip(spans, probabilities):
            best = int(np.argmax(row))
            scored.append((text[start:end].strip(), classes[best], float(row[best]), row))
        message.set(
            SENTENCES_KEY,
            [{"text": t, INTENT_NAME_KEY: i, PREDICTED_CONFIDENCE_KEY: c} for t, i, c, _ in scored],
            add_to_output=True,
        )
        whole = message.get(INTENT) or {}
        confident = [s for s in scored if s[2] >= self.config["sentence_min_confidence"]]
        if whole.get(INTENT_NAME_KEY) in SMALL_TALK_INTENTS:
            # A request wrapped in courtesies wins however sure the model is of the courtesy.
            requests = [s for s in confident if s[1] not in SMALL_TALK_INTENTS and s[1] != "out_of_scope"]
            if requests:
                self._set_ranking(message, max(requests, key=_strength)[3], classes)
            return
        complaints = [s for s in confident if s[1] in COMPLAINT_INTENTS]
        if not complaints:
            return
        _, intent, confidence, row = max(complaints, key=_strength)
        if intent == whole.get(INTENT_NAME_KEY) or confidence <= float(whole.get(PREDICTED_CONFIDENCE_KEY) or 0.0):
            return
        self._set_ranking(message, row, classes)

    @staticmethod
    def _set_ranking(message: Message, row: np.ndarray, classes: List[Text]) -> None:
        """Make one sentence's probabilities the message's intent and ranking."""
        order = np.argsort(row)[::-1][: len(message.get(INTENT_RANKING_KEY) or classes)]
        ranking = [{INTENT_NAME_KEY: classes[i], PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def _sentence_rows(self, message: Message) -> Optional[Tuple[List[Tuple[int, int]], scipy.sparse.csr_matrix]]:
        """Each long-enough sentence's feature row, summed from the tokens' features; None for a one-sentence message.

        A CountVectorsFeaturizer's sentence vector is the sum of its token
        vectors, so summing the tokens of one sentence gives what that
        sentence alone would get. The RegexFeaturizer marks a pattern once per
        sentence, hence its block is capped at 1.
        """
        text = message.get(TEXT) or ""
        # Two sentences make a long message even when one is as short as
        # "terima kasih"; only the longer ones are scored alone.
        if len(sentence_spans(text, 1)) < 2:
            return None
        spans = sentence_spans(text, self.config["sentence_min_words"])
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        if not spans or not tokens:
            return None
        sequence = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SEQUENCE]
        if any(f.is_dense() for f in sequence) or any(f.is_dense() for f in _sentence_features(message)):
            return None  # no dense features in this pipeline; do not guess their pooling
        membership = scipy.sparse.lil_matrix((len(spans), len(tokens)))
        for t, token in enumerate(tokens):
            for s, (start, end) in enumerate(spans):
                if start <= token.start < end:
                    membership[s, t] = 1.0
        membership = membership.tocsr()
        blocks = []
        for features in sequence:
            block = membership @ scipy.sparse.csr_matrix(features.features, dtype=np.float64)
            if "Regex" in (features.origin or ""):
                block = block.minimum(1.0)
            blocks.append(block)
        return spans, scipy.sparse.hstack(blocks, format="csr")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TfidfIntentClassifier":
        """Load the fitted pipeline; fail loudly rather than run with an unfitted one.

        Rasa's parent falls back to a fresh, unfitted classifier when skops
        reports a type it does not trust, which would turn every prediction
        into an error at run time. Only a missing resource (no intents were
        trained) gets that fallback here.
        """
        import skops.io as sio

        path = None
        try:
            with model_storage.read_from(resource) as model_dir:
                path = model_dir / f"{resource.name}.skops"
                untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
                if untrusted:
                    raise TypeError(f"{path} holds types skops does not trust: {untrusted}")
                classifier = sio.load(path, trusted=TRUSTED_TYPES)
        except ValueError:
            if path is not None:  # the resource exists, so its file is broken: not "untrained"
                raise
            logger.debug("No trained intent classifier in resource '%s'; starting untrained.", resource.name)
            return cls.create(config, model_storage, resource, execution_context)
        component = cls(config, execution_context.node_name, model_storage, resource)
        component.clf = column_major_weights(classifier)
        return component
