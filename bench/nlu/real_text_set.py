"""Checks a real-text evaluation set before `make nlu-eval-real` scores it.

The set is third-party text (messages written by real customers, from public
data sets whose licences allow redistribution with attribution). It lives in
this repository, `bot/eval/real_text/` (rebuilt from its picks by
`build_real_set.py`, attributions in its NOTICE.md); `NLU_REAL_SET` can name
another one (docs/bot.md). A set is only worth scoring while it is held out,
sourced, licensed and masked; `problems()` lists every way it is not, the
evaluation refuses to score a set that has any, and
`bot/tests/unit/test_real_text_in_repo.py` runs the same checks on the set in
the repository in `make bot-test`.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Iterable, Sequence

# Licences that allow redistributing the lines with attribution.
ALLOWED_LICENCE = re.compile(r"\b(MIT|CC BY(-SA)? 4\.0|Apache-2\.0)\b")
# What a masked line must no longer contain.
UNMASKED = {
    "phone": re.compile(r"(?:\+?62|\b0)8\d{7,12}"),
    "e-mail": re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", re.I),
    "long digit run": re.compile(r"\d{8,}"),
}
SOURCE_COLUMNS = ("intent", "text", "repository", "file", "line", "license")


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, spaces collapsed: what 'the same line' means."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def training_texts(data_dir: Path) -> list[str]:
    """Every user text the assistant trains on: NLU examples and end-to-end story/rule turns."""
    import yaml
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
    from rasa.shared.nlu.training_data.loading import load_data

    texts: list[str] = []
    for path in sorted(data_dir.rglob("*.yml")):
        if RasaYAMLReader.is_yaml_nlu_file(path):
            texts += [e.get("text") for e in load_data(str(path)).intent_examples]
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in (content.get("stories") or []) + (content.get("rules") or []):
            texts += [step["user"] for step in block.get("steps", []) if isinstance(step, dict) and "user" in step]
    return texts


def held_out_violations(real: Sequence[tuple[str, str]], training: Iterable[str]) -> list[str]:
    """Real-text lines whose normalised form is also a training example."""
    train = {normalise(t) for t in training}
    return [text for _, text in real if normalise(text) in train]


def read_sources(path: Path) -> list[dict[str, str]]:
    """The rows of a set's `sources.tsv` (tab-separated, header `SOURCE_COLUMNS`)."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def problems(real: Sequence[tuple[str, str]], sources: Sequence[dict[str, str]], training: Iterable[str],
             known_intents: Iterable[str]) -> list[str]:
    """Everything that makes the set unfit to score, one line each; empty when it is fit."""
    found = [f"also training data: {t!r}" for t in held_out_violations(real, training)]
    unknown = sorted({i for i, _ in real} - set(known_intents))
    found += [f"intent not in domain.yml: {i}" for i in unknown]
    seen = [normalise(t) for _, t in real]
    found += [f"listed twice: {t!r}" for t in sorted({t for t in seen if seen.count(t) > 1})]
    sourced = {(r.get("intent"), r.get("text")) for r in sources}
    found += [f"no source row: {t!r}" for pair in real if pair not in sourced for t in [pair[1]]]
    found += [f"licence does not allow redistribution: {r.get('text')!r}" for r in sources
              if not ALLOWED_LICENCE.search(r.get("license") or "")]
    found += [f"source row without repository/file/line: {r.get('text')!r}" for r in sources
              if not (r.get("repository") and r.get("file") and (r.get("line") or "").isdigit())]
    found += [f"unmasked {kind}: {text!r}" for _, text in real for kind, rx in UNMASKED.items() if rx.search(text)]
    return found
