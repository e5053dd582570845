"""`make nlu-eval-real`'s scoring and report (bench/nlu/real_text_eval.py), without a model."""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench" / "nlu"))

import real_text_eval as rte  # noqa: E402


def parsed(top: str, confidence: float, *rest: tuple[str, float]) -> dict:
    ranking = [{"name": top, "confidence": confidence}] + [{"name": n, "confidence": c} for n, c in rest]
    return {"intent": {"name": top, "confidence": confidence}, "intent_ranking": ranking}


def test_a_fallback_is_the_prediction_but_the_best_real_intent_is_kept():
    p = rte.to_prediction(
        "complain_app", "otp ga masuk", parsed("nlu_fallback", 0.25, ("complain_app", 0.24), ("greet", 0.2))
    )
    assert (p.predicted, p.top, p.second) == ("nlu_fallback", "complain_app", "greet")
    assert p.top_confidence == pytest.approx(0.24)


def test_a_ranking_with_one_intent_has_an_empty_runner_up():
    p = rte.to_prediction("greet", "halo", parsed("greet", 0.9))
    assert (p.predicted, p.top, p.second, p.second_confidence) == ("greet", "greet", "", 0.0)


def test_metrics_count_a_fallback_as_wrong_and_average_like_rasa():
    report = rte.metrics(["greet", "greet", "thank"], ["greet", "nlu_fallback", "thank"])
    assert report["accuracy"] == pytest.approx(2 / 3)
    assert report["greet"]["recall"] == pytest.approx(0.5)
    # nlu_fallback is a row of its own (support 0), as in Rasa's intent_report.json.
    assert report["nlu_fallback"]["support"] == 0
    assert report["macro avg"]["f1-score"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_outputs_hold_every_prediction_and_only_the_wrong_ones_as_errors(tmp_path):
    preds = [
        rte.to_prediction("greet", "halo min", parsed("greet", 0.9)),
        rte.to_prediction("ask_bill_amount", "angsuran saya brp", parsed("request_relief", 0.5, ("ask_bill_amount", 0.4))),
    ]
    report = rte.metrics([p.intent for p in preds], [p.predicted for p in preds])
    errors = rte.write_outputs(tmp_path / "out", report, preds)
    rows = list(csv.DictReader(errors.open(encoding="utf-8"), delimiter="\t"))
    assert [(r["intent"], r["predicted"], r["second"]) for r in rows] == [
        ("ask_bill_amount", "request_relief", "ask_bill_amount")
    ]
    assert len((tmp_path / "out" / "predictions.tsv").read_text().splitlines()) == 3
    assert json.loads((tmp_path / "out" / "intent_report.json").read_text())["accuracy"] == 0.5


def test_cv_figure_is_shown_and_flagged_when_older_than_the_training_data(tmp_path):
    bot = tmp_path / "bot"
    (bot / "data").mkdir(parents=True)
    nlu = bot / "data" / "nlu.yml"
    nlu.write_text("nlu: []\n")
    report = bot / "results" / "nlu-cv" / "intent_report.json"
    assert "no report" in rte.cv_summary(bot, report)

    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"accuracy": 0.908, "macro avg": {"f1-score": 0.915}}))
    past = time.time() - 3600
    os.utime(nlu, (past, past))
    line = rte.cv_summary(bot, report)
    assert "accuracy 0.908, macro-F1 0.915" in line and "OLDER" not in line

    os.utime(nlu, (time.time() + 60, time.time() + 60))
    assert "OLDER than the training data" in rte.cv_summary(bot, report)


def test_render_puts_real_text_and_cv_figures_side_by_side():
    preds = [
        rte.to_prediction("greet", "halo", parsed("greet", 0.9)),
        rte.to_prediction("thank", "makasih", parsed("nlu_fallback", 0.25, ("thank", 0.2))),
    ]
    report = rte.metrics([p.intent for p in preds], [p.predicted for p in preds])
    text = "\n".join(rte.render(preds, report, Path("x.yml"), "make nlu-eval (...): accuracy 0.908", Path("e.tsv"), "model"))
    assert "intent accuracy: 0.500" in text
    assert "fell back to nlu_fallback: 1 of 2" in text
    assert "best intent without the fallback: accuracy 1.000" in text
    assert "real text:    accuracy 0.500" in text and "make nlu-eval (...): accuracy 0.908" in text
    assert "NOT met" in text
