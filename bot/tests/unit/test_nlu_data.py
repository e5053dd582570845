"""The NLU data keeps the contract: every domain intent, enough examples, a safe name lookup."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

BOT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data():
    # Every NLU file Rasa trains on (nlu.yml, the borrower phrasings, the desk's reviewed lines).
    files = sorted(p for p in (BOT_DIR / "data").rglob("*.yml") if RasaYAMLReader.is_yaml_nlu_file(p))
    assert BOT_DIR / "data" / "nlu.yml" in files
    return TrainingData().merge(*[load_data(str(p)) for p in files])


def test_every_domain_intent_has_at_least_40_examples(data):
    intents = yaml.safe_load((BOT_DIR / "domain.yml").read_text(encoding="utf-8"))["intents"]
    counts = Counter(e.get("intent") for e in data.intent_examples)
    assert set(counts) == set(intents)
    assert {i: n for i, n in counts.items() if n < 40} == {}


def test_no_example_is_listed_under_two_intents(data):
    seen: dict[str, str] = {}
    clashes = []
    for e in data.intent_examples:
        text = e.get("text").strip().lower()
        if seen.setdefault(text, e.get("intent")) != e.get("intent"):
            clashes.append((text, seen[text], e.get("intent")))
    assert clashes == []


def test_person_lookup_holds_no_everyday_word(data):
    # A name that is also a common word ("hari" = day) would fire the
    # `person` feature in messages of every intent.
    names = {n.lower() for t in data.lookup_tables if t["name"] == "person" for n in t["elements"]}
    assert len(names) > 200
    used_elsewhere = Counter(
        word
        for e in data.intent_examples
        if e.get("intent") != "inform"
        for word in re.findall(r"\w+", e.get("text").lower())
        if word in names
    )
    assert dict(used_elsewhere) == {}
