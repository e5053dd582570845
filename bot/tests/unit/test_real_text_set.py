"""The checks `make nlu-eval-real` runs on a real-text set before scoring it (bench/nlu/real_text_set.py)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench" / "nlu"))

import real_text_set as rts  # noqa: E402

BOT_DIR = ROOT / "bot"


def source(intent: str, text: str, licence: str = "MIT") -> dict[str, str]:
    return {"intent": intent, "text": text, "repository": "owner/data", "file": "tweets.txt", "line": "7",
            "license": licence}


def test_a_line_copied_into_training_data_is_caught_whatever_its_case_and_punctuation():
    real = [("complain_app", "min , kok akun saya gabisa login ya ?")]
    assert rts.held_out_violations(real, ["Min, kok akun saya gabisa login ya??"]) == [real[0][1]]
    assert rts.held_out_violations(real, ["akun saya tidak bisa login"]) == []


def test_the_training_texts_include_nlu_examples_and_story_turns():
    texts = rts.training_texts(BOT_DIR / "data")
    assert len(texts) > 1000
    assert any(rts.normalise(t) == "halo" for t in texts)


def test_a_fit_set_has_no_problems():
    real = [("greet", "pagi @user"), ("complain_app", "otp tidak masuk dari tadi")]
    assert rts.problems(real, [source(*real[0]), source(*real[1], "CC BY-SA 4.0")], ["halo"],
                        ["greet", "complain_app"]) == []


def test_every_kind_of_problem_is_reported():
    real = [("greet", "halo"), ("greet", "Halo!"), ("nonsense", "apa ini"), ("complain_app", "hub 081234567890"),
            ("thank", "makasih min")]
    sources = [source(*real[0]), source(*real[1], "all rights reserved"), source(*real[2]),
               {**source(*real[3]), "line": ""}]
    found = "\n".join(rts.problems(real, sources, ["HALO"], ["greet", "complain_app", "thank"]))
    assert "also training data: 'halo'" in found
    assert "intent not in domain.yml: nonsense" in found
    assert "listed twice: 'halo'" in found
    assert "no source row: 'makasih min'" in found
    assert "licence does not allow redistribution: 'Halo!'" in found
    assert "source row without repository/file/line: 'hub 081234567890'" in found
    assert "unmasked phone: 'hub 081234567890'" in found
