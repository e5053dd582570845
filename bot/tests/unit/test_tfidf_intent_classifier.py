"""The tf-idf intent classifier trains, predicts, persists and loads like Rasa's own."""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.tfidf_intent_classifier import TfidfIntentClassifier, sentence_spans

EXAMPLES = {
    "ask_bill_amount": ["tagihan saya berapa", "brp tagihan bulan ini", "total utang saya berapa kak",
                        "cek tagihan dong", "sisa cicilan saya berapa"],
    "ask_payment_method": ["cara bayar gimana", "bayar lewat apa aja", "bisa bayar pakai va bca",
                           "metode pembayaran apa saja", "gmn cara bayar cicilan"],
    "greet": ["halo", "hai kak", "selamat pagi", "pagi min", "assalamualaikum"],
    "complain_payment": ["sudah bayar tapi belum masuk", "saldo terpotong tapi status belum lunas",
                         "uang sudah ditransfer tapi tagihan masih ada", "pembayaran saya belum tercatat",
                         "sudah transfer kok belum lunas"],
}


def _pipeline(tmp_path: Path) -> Tuple[LocalModelStorage, ExecutionContext, WhitespaceTokenizer, List[CountVectorsFeaturizer]]:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="classifier")
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    featurizers = [
        CountVectorsFeaturizer.create({**CountVectorsFeaturizer.get_default_config(), **config},
                                      storage, Resource(f"cvf{i}"), context)
        for i, config in enumerate([{}, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 5}])
    ]
    return storage, context, tokenizer, featurizers


def _featurize(texts: List[str], tokenizer: WhitespaceTokenizer, featurizers: List[CountVectorsFeaturizer]) -> List[Message]:
    messages = [Message(data={"text": t}) for t in texts]
    tokenizer.process(messages)
    for featurizer in featurizers:
        featurizer.process(messages)
    return messages


@pytest.fixture
def trained(tmp_path: Path):
    storage, context, tokenizer, featurizers = _pipeline(tmp_path)
    data = TrainingData([Message(data={"text": t, "intent": i}) for i, ts in EXAMPLES.items() for t in ts])
    tokenizer.process_training_data(data)
    for featurizer in featurizers:
        featurizer.train(data)
        featurizer.process_training_data(data)
    resource = Resource("intent_classifier")
    classifier = TfidfIntentClassifier.create(TfidfIntentClassifier.get_default_config(), storage, resource, context)
    classifier.train(data)
    return classifier, storage, resource, context, tokenizer, featurizers


def _top(message: Message) -> Tuple[str, float]:
    intent = message.get("intent")
    return intent["name"], intent["confidence"]


def test_predicts_unseen_paraphrases(trained):
    classifier, _, _, _, tokenizer, featurizers = trained
    messages = classifier.process(_featurize(["brp sisa tagihan sy", "bayarnya lewat apa", "hai selamat siang"],
                                             tokenizer, featurizers))
    assert [_top(m)[0] for m in messages] == ["ask_bill_amount", "ask_payment_method", "greet"]
    ranking = messages[0].get("intent_ranking")
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])


def test_repeating_a_word_does_not_raise_confidence(trained):
    # On raw counts (Rasa's plain classifier) this data gives "tagihan" ->
    # greet 0.71 but "tagihan tagihan tagihan" -> ask_bill_amount 0.9997.
    # Unit-length tf-idf vectors keep the two close (only sublinear tf moves it).
    classifier, _, _, _, tokenizer, featurizers = trained
    once, thrice = classifier.process(_featurize(["tagihan", "tagihan tagihan tagihan"], tokenizer, featurizers))
    assert _top(once)[0] == _top(thrice)[0] == "ask_bill_amount"
    assert _top(thrice)[1] == pytest.approx(_top(once)[1], abs=0.01)


def test_round_trips_through_model_storage(trained):
    classifier, storage, resource, context, tokenizer, featurizers = trained
    loaded = TfidfIntentClassifier.load(TfidfIntentClassifier.get_default_config(), storage, resource, context)
    texts = ["cara bayar pakai va", "total tagihan saya", "pagi kak"]
    before = classifier.process(_featurize(texts, tokenizer, featurizers))
    after = loaded.process(_featurize(texts, tokenizer, featurizers))
    assert [_top(m) for m in after] == [_top(m) for m in before]
    # The loaded estimator is the fitted tf-idf + regression pipeline, not a fresh one.
    assert loaded.clf.named_steps["tfidf"].idf_.shape == classifier.clf.named_steps["tfidf"].idf_.shape


def test_weights_are_laid_out_so_a_prediction_does_not_copy_them(trained):
    # scipy copies a dense operand that is not C-contiguous on every sparse
    # product; sklearn's operand is coef_.T. Row-major coef_ cost ~40 % of the
    # parse with word pairs (docs/bot.md, sixth pass).
    import numpy as np

    classifier, storage, resource, context, tokenizer, featurizers = trained
    loaded = TfidfIntentClassifier.load(TfidfIntentClassifier.get_default_config(), storage, resource, context)
    for component in (classifier, loaded):
        assert component.clf.named_steps["logreg"].coef_.T.flags["C_CONTIGUOUS"]
    # Same numbers as the row-major weights would give.
    messages = _featurize(["cara bayar pakai va", "saldo terpotong tapi belum lunas"], tokenizer, featurizers)
    X = loaded._create_X(messages)
    fast = loaded.clf.predict_proba(X)
    logreg = loaded.clf.named_steps["logreg"]
    logreg.coef_ = np.ascontiguousarray(logreg.coef_)
    assert np.allclose(loaded.clf.predict_proba(X), fast)


def test_load_refuses_untrusted_types_instead_of_running_unfitted(trained, monkeypatch):
    # Rasa's parent would log at debug level and return an unfitted classifier.
    import components.tfidf_intent_classifier as module

    classifier, storage, resource, context, _, _ = trained
    monkeypatch.setattr(module, "TRUSTED_TYPES", [])
    with pytest.raises(TypeError, match="does not trust"):
        TfidfIntentClassifier.load(TfidfIntentClassifier.get_default_config(), storage, resource, context)


def test_load_without_a_trained_resource_starts_untrained(tmp_path: Path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="classifier")
    loaded = TfidfIntentClassifier.load(TfidfIntentClassifier.get_default_config(), storage, Resource("never"), context)
    assert not hasattr(loaded.clf.named_steps["logreg"], "classes_")


def test_config_reaches_the_estimators(tmp_path: Path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="classifier")
    config = {**TfidfIntentClassifier.get_default_config(), "C": 3.0, "sublinear_tf": False}
    classifier = TfidfIntentClassifier.create(config, storage, Resource("c"), context)
    assert classifier.clf.named_steps["logreg"].C == 3.0
    assert classifier.clf.named_steps["tfidf"].sublinear_tf is False
    assert classifier.clf.named_steps["logreg"].class_weight == "balanced"


def test_feature_matrix_matches_rasas_own(trained):
    # _create_X is a faster build of the parent's matrix; any difference in
    # column order or values would silently change every prediction.
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    classifier, _, _, _, tokenizer, featurizers = trained
    messages = _featurize(["brp tagihan saya", "halo", "", "cara bayar lewat va bca gimana kak"],
                          tokenizer, featurizers)
    ours = classifier._create_X(messages)
    rasas = LogisticRegressionClassifier._create_X(classifier, messages)
    assert ours.shape == rasas.shape
    assert abs(ours - rasas).sum() == 0
    assert ours.nnz == rasas.nnz > 0


# --- long messages (issue #16) ------------------------------------------------

def _sentences(text: str) -> List[str]:
    return [text[a:b].strip() for a, b in sentence_spans(text, 3)]


def test_sentences_split_on_end_marks_and_drop_fragments():
    text = "Sudah bayar tgl 5 . tapi status belum lunas!!! Tolong dicek min ?? ok"
    assert _sentences(text) == ["Sudah bayar tgl 5", "tapi status belum lunas", "Tolong dicek min"]
    assert _sentences("limit rp.188.702 kok kepotong m-bca") == ["limit rp.188.702 kok kepotong m-bca"]
    assert _sentences("halo kak\nsaya sudah bayar kemarin\ntapi belum masuk") == [
        "saya sudah bayar kemarin", "tapi belum masuk"]


def test_a_sentence_row_is_what_the_sentence_alone_would_get(trained):
    # The rows are summed from token features; they must equal the features
    # the featurizers give the sentence as a message of its own.
    classifier, _, _, _, tokenizer, featurizers = trained
    long_text = "halo selamat pagi kak. sudah bayar tapi belum masuk"
    message, first, second = _featurize([long_text, "halo selamat pagi kak", "sudah bayar tapi belum masuk"],
                                        tokenizer, featurizers)
    spans, rows = classifier._sentence_rows(message)
    alone = classifier._create_X([first, second])
    assert len(spans) == 2
    assert abs(rows - alone).sum() == 0


def test_the_strongest_complaint_sentence_decides_a_long_message(trained):
    classifier, _, _, _, tokenizer, featurizers = trained
    text = ("halo selamat pagi kak. saya mau tanya cara bayar lewat va bca gimana. "
            "kemarin saldo terpotong tapi status belum lunas!!!")
    (message,) = classifier.process(_featurize([text], tokenizer, featurizers))
    assert _top(message)[0] == "complain_payment"
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "complain_payment"
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])
    sentences = message.get("sentences")
    assert [s["name"] for s in sentences] == ["greet", "ask_payment_method", "complain_payment"]
    assert "sentences" in message.as_dict(only_output_properties=True)


def test_a_short_or_single_sentence_message_is_left_alone(trained):
    classifier, _, _, _, tokenizer, featurizers = trained
    (message,) = classifier.process(_featurize(["sudah bayar tapi belum masuk"], tokenizer, featurizers))
    assert _top(message)[0] == "complain_payment"
    assert message.get("sentences") is None


def test_a_long_message_without_a_complaint_keeps_its_whole_reading(trained):
    classifier, _, _, _, tokenizer, featurizers = trained
    text = "halo selamat pagi kak. cara bayar lewat va bca gimana"
    (whole,) = classifier.process(_featurize([text], tokenizer, featurizers))
    assert _top(whole)[0] == "ask_payment_method"
    assert [s["name"] for s in whole.get("sentences")] == ["greet", "ask_payment_method"]


def test_a_request_wrapped_in_courtesies_is_read_as_the_request(trained, monkeypatch):
    # "halo kak, mau tanya. cicilan saya berapa?": as a whole the greeting
    # wins; the request sentence must, even when it is the less confident.
    classifier, _, _, _, tokenizer, featurizers = trained
    text = "halo selamat pagi kak, pagi min, halo hai. brp tagihan sy"
    (message,) = classifier.process(_featurize([text], tokenizer, featurizers))
    assert _top(message)[0] == "ask_bill_amount"
    assert [s["name"] for s in message.get("sentences")] == ["greet", "ask_bill_amount"]
    # The whole message alone reads as the greeting (so the rule did the work).
    monkeypatch.setattr(TfidfIntentClassifier, "_read_by_sentence", lambda self, m: None)
    (whole,) = classifier.process(_featurize([text], tokenizer, featurizers))
    assert _top(whole)[0] == "greet"


def test_a_short_closing_courtesy_makes_a_message_long(trained):
    # "... tolong dicek. terima kasih": the closing courtesy is too short to
    # be scored alone, yet it makes the message one of two sentences.
    classifier, _, _, _, tokenizer, featurizers = trained
    (message,) = classifier.process(_featurize(["saldo terpotong tapi status belum lunas. halo"], tokenizer, featurizers))
    assert [s["name"] for s in message.get("sentences")] == ["complain_payment"]
