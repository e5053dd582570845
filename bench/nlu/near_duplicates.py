"""Flag NLU examples in one file that (nearly) repeat an example anywhere in the NLU data.

Usage (from the repository root, with the bot venv), for a file of candidate
lines written in Rasa's NLU format before they are added to bot/data/nlu.yml:
    bot/.venv/bin/python bench/nlu/near_duplicates.py candidates.yml
The data compared against is bot/data/nlu.yml, or the NLU file or directory
given as a second argument.

A pair is flagged when the lower-cased word sets have Jaccard similarity >= 0.7,
or when both have the same number (>= 3) of words and differ in exactly one
word. Such pairs are near-duplicate padding: they inflate cross-validation
scores without teaching the classifier anything new. Exits 1 if any line of
the checked file is flagged.
"""
from __future__ import annotations

import glob
import re
import sys
from pathlib import Path

import yaml

ENTITY = re.compile(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})")
WORD = re.compile(r"\w+")


def examples(path: str) -> list[tuple[str, str]]:
    """(intent, plain text) for every example of every intent block in a Rasa NLU file."""
    out = []
    for block in yaml.safe_load(Path(path).read_text(encoding="utf-8"))["nlu"]:
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                out.append((block["intent"], ENTITY.sub(r"\1", line[2:]).strip()))
    return out


def is_near(a: set[str], b: set[str]) -> bool:
    """True when two word sets are near-duplicates by the rule in the module docstring."""
    if not a or not b:
        return False
    one_word_apart = len(a) == len(b) >= 3 and len(a ^ b) == 2
    return len(a & b) / len(a | b) >= 0.7 or one_word_apart


def main(checked: str, data: str = "bot/data/nlu.yml") -> int:
    """Print every flagged line of `checked` with the example it repeats; return the exit code."""
    new = examples(checked)
    checked_path = Path(checked).resolve()
    # Every example of the data except the checked file's own lines at their own position.
    every = [
        (path, i, ex)
        for path in sorted(Path(p).resolve() for p in ([data] if data.endswith(".yml") else glob.glob(f"{data}/*.yml")))
        for i, ex in enumerate(examples(str(path)))
    ]
    flagged = 0
    for i, (intent, text) in enumerate(new):
        words = set(WORD.findall(text.lower()))
        for path, j, (other_intent, other) in every:
            if path == checked_path and j == i:
                continue
            if other.lower() == text.lower() or is_near(words, set(WORD.findall(other.lower()))):
                print(f"[{intent}] {text!r} ~ [{other_intent}] {other!r}")
                flagged += 1
                break
    print(f"{len(new)} examples checked, {flagged} flagged")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
