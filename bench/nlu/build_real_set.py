"""Rebuild a set of labelled real customer messages from its picks file (issue #16).

Two sets are built this way, from public data sets whose licences allow
redistribution with attribution:

* the real-text evaluation set, `bot/eval/real_text/` (`make nlu-eval-real`);
* the licensed real lines the assistant trains on, `bot/data/nlu_real_licensed.yml`.

A picks file names, one line each, a source file, a line number in it and the
intent the line gets by the labelling rules of docs/bot.md (optionally a masked
text where the automatic masking below is not enough). This script reads each
picked line from a local mirror of its repository at the pinned commit, masks
it, and writes the Rasa NLU YAML and `sources.tsv` (intent, text, repository,
file, line, license) beside it.

The eval set and the training lines never share a source FILE: every file
below belongs to one side, and a picks file that reaches into the other side's
files is refused. That keeps the evaluation held out by source, not only by
line (two messages in the same file are often the same customer, the same
week, the same outage).

    python bench/nlu/build_real_set.py --side eval \
        --stif /path/to/stif-indonesia --indonlu /path/to/indonlu \
        --picks bot/eval/real_text/picks.tsv --out bot/eval/real_text/real_text.yml \
        --sources bot/eval/real_text/sources.tsv

`--stif` and `--indonlu` are git directories or checkouts of
github.com/haryoa/stif-indonesia and github.com/IndoNLP/indonlu (any clone that
holds the pinned commits).
"""
from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    repository: str
    commit: str
    license: str


STIF = Source("haryoa/stif-indonesia", "4bb2d90f7d03a35f24a366ba08f35a51cb305bd0", "MIT")
INDONLU = Source("IndoNLP/indonlu", "ce728f6926a36174b9923dfe49d6a6839b6e9bb7", "Apache-2.0")

# key used in picks files -> (source, path in the repository, format)
FILES: dict[str, tuple[Source, str, str]] = {}
for name in ("train", "dev", "test"):
    FILES[f"stif:labelled/{name}.inf"] = (STIF, f"data/labelled/{name}.inf", "line")
for n in range(12):
    FILES[f"stif:unlabelled/batch{n}.inf"] = (STIF, f"data/unlabelled/batch{n}.inf", "line")
for split, fname in (("train", "train"), ("valid", "valid"), ("test", "test")):
    FILES[f"keps:{split}"] = (INDONLU, f"dataset/keps_keyword-extraction-prosa/{fname}_preprocess.txt", "tokens")
    FILES[f"smsa:{split}"] = (INDONLU, f"dataset/smsa_doc-sentiment-prosa/{fname}_preprocess.tsv", "tsv")

# Which side each source file is on. Held out for evaluation: STIF's labelled
# part and unlabelled batches 0-5, KEPS and SmSA validation/test. Training may
# use STIF's unlabelled batches 6-11 and the KEPS and SmSA training files.
EVAL_FILES = frozenset(
    [f"stif:labelled/{n}.inf" for n in ("train", "dev", "test")]
    + [f"stif:unlabelled/batch{n}.inf" for n in range(6)]
    + ["keps:valid", "keps:test", "smsa:valid", "smsa:test"]
)
TRAINING_FILES = frozenset(FILES) - EVAL_FILES

# STIF's own placeholders and what is left to mask, in this order.
PLACEHOLDERS = [
    ("xxxuserxxx", "@user"),
    ("xxxphonexxx", "<nomor hp>"),
    ("xxxdatexxx", "<tanggal>"),
    ("xxxpercentxxx", "<angka> persen"),
    ("xxxmoneyxxx", "<angka>"),
    ("xxxnumberxxx", "<angka>"),
]
MASKS = [
    (re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", re.I), "<email>"),
    (re.compile(r"@\w+"), "@user"),
    (re.compile(r"(?:\+?62|\b0)8\d{7,12}"), "<nomor hp>"),
    (re.compile(r"\d{8,}"), "<angka>"),
]


def mask(text: str) -> str:
    """Replace mentions, phone numbers, e-mail addresses and long digit runs by placeholders."""
    for raw, token in PLACEHOLDERS:
        text = text.replace(raw, token)
    for rx, token in MASKS:
        text = rx.sub(token, text)
    return " ".join(text.split())


def source_lines(repo_dir: Path, source: Source, path: str) -> list[str]:
    """The file's lines at the pinned commit."""
    out = subprocess.run(["git", "-C", str(repo_dir), "show", f"{source.commit}:{path}"],
                         check=True, capture_output=True, text=True).stdout
    return out.split("\n")


def text_at(lines: list[str], line: int, fmt: str) -> str:
    """The message that starts on 1-based `line` of a file in format `fmt`."""
    if fmt == "line":
        return lines[line - 1].strip()
    if fmt == "tsv":  # SmSA: text<TAB>sentiment label
        return lines[line - 1].split("\t")[0].strip()
    # KEPS: one token per line (token<TAB>tag), a blank line after each sentence.
    tokens = []
    for row in lines[line - 1:]:
        if not row.strip():
            break
        tokens.append(row.split("\t")[0])
    return " ".join(tokens)


def read_picks(path: Path) -> list[tuple[str, int, str, str]]:
    picks = []
    for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not row.strip() or row.startswith("#"):
            continue
        cols = row.split("\t")
        if len(cols) not in (3, 4) or not cols[1].isdigit():
            raise SystemExit(f"{path}:{n}: expected source<TAB>line<TAB>intent[<TAB>masked text]")
        picks.append((cols[0], int(cols[1]), cols[2], cols[3] if len(cols) == 4 else ""))
    return picks


def build(picks, side: str, dirs: dict[str, Path]) -> list[dict[str, str]]:
    allowed = EVAL_FILES if side == "eval" else TRAINING_FILES
    cache: dict[str, list[str]] = {}
    rows = []
    for key, line, intent, override in picks:
        if key not in FILES:
            raise SystemExit(f"unknown source file {key!r}")
        if key not in allowed:
            raise SystemExit(f"{key} is on the other side of the eval/training split; not for --side {side}")
        source, path, fmt = FILES[key]
        if key not in cache:
            cache[key] = source_lines(dirs[source.repository], source, path)
        original = text_at(cache[key], line, fmt)
        if not original:
            raise SystemExit(f"{key}:{line} is empty")
        rows.append({"intent": intent, "text": override or mask(original), "repository": source.repository,
                     "file": path, "line": str(line), "license": source.license})
    return rows


def write(rows: list[dict[str, str]], out: Path, sources: Path, header: str) -> None:
    by_intent: dict[str, list[str]] = {}
    for r in rows:
        by_intent.setdefault(r["intent"], []).append(r["text"])
    parts = ['version: "3.1"', *(f"# {h}" if h else "#" for h in header.splitlines()), "nlu:"]
    for intent in sorted(by_intent):
        parts.append(f"- intent: {intent}\n  examples: |")
        parts += [f"    - {t}" for t in by_intent[intent]]
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    with sources.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["intent", "text", "repository", "file", "line", "license"],
                           delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


HEADERS = {
    "eval": ("Real-text evaluation set (issue #16): messages written by real customers to\n"
             "Indonesian companies (tweets to customer-service accounts, app and service\n"
             "reviews), labelled with the assistant's intents by the rules in docs/bot.md.\n"
             "HELD OUT: never train on these lines or their source files. Generated by\n"
             "bench/nlu/build_real_set.py from picks.tsv; source and licence of every line\n"
             "in sources.tsv, attributions in NOTICE.md. Do not edit by hand."),
    "training": ("Real customer messages from licensed public data sets (issue #16 item 2),\n"
                 "labelled with the assistant's intents by the rules in docs/bot.md. Only from\n"
                 "the training side of the split (bench/nlu/build_real_set.py), never from a\n"
                 "file the real-text evaluation set draws on. Generated from\n"
                 "nlu_real_licensed.picks.tsv; source and licence of every line in\n"
                 "nlu_real_licensed.sources.tsv, attributions in bot/eval/real_text/NOTICE.md."),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--side", choices=("eval", "training"), required=True)
    ap.add_argument("--stif", type=Path, required=True)
    ap.add_argument("--indonlu", type=Path, required=True)
    ap.add_argument("--picks", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sources", type=Path, required=True)
    a = ap.parse_args(argv)
    rows = build(read_picks(a.picks), a.side, {STIF.repository: a.stif, INDONLU.repository: a.indonlu})
    write(rows, a.out, a.sources, HEADERS[a.side])
    print(f"{a.out}: {len(rows)} lines, {len({r['intent'] for r in rows})} intents", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
