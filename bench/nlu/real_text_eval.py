"""Score the trained assistant on real customers' messages: `make nlu-eval-real`.

Cross-validation (`make nlu-eval`) scores the training data against itself.
This parses every line of a held-out real-text set (`--data`, from
`NLU_REAL_SET`; `make nlu-eval-real` scores `bot/eval/real_text/` and
`bot/eval/real_text_holdout/` one after the other, docs/bot.md)
with the trained model, exactly as the
running bot would (FallbackClassifier included: a message that falls back to
`nlu_fallback` counts as wrong), and prints the same table as `make nlu-eval`
(bench/nlu/cv_report.py) with the cross-validation figure next to it. It
writes the report, every prediction and the misclassified lines under
`--out` (default `results/nlu-real/`, i.e. `bot/results/nlu-real/`).

Long messages are read sentence by sentence inside the model itself
(bot/components/tfidf_intent_classifier.py); the predictions list how many
lines that reading changed.

Run from `bot/` with `PYTHONPATH=bot` (the pipeline's custom components).
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cv_report import RULE, accuracy_and_macro_f1, intent_table  # noqa: E402
from real_text_set import problems, read_sources, training_texts  # noqa: E402

TARGET = 0.85  # issue #16: accuracy and macro-F1 on real borrower text
FALLBACK = "nlu_fallback"
# Files whose change makes an older cross-validation report describe another model.
TRAINING_INPUTS = ("config.yml", "data/**/*.yml", "components/*.py")

Parse = Callable[[str], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Prediction:
    """One real-text line and what the model made of it."""

    intent: str
    text: str
    predicted: str
    confidence: float
    # Best intent other than nlu_fallback, and the runner-up: what a
    # clarifying question would offer.
    top: str
    top_confidence: float
    second: str
    second_confidence: float


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(intent, text) for every example of a Rasa NLU YAML file, in file order."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = [(e.get("intent"), e.get("text")) for e in data.intent_examples]
    if not examples:
        raise SystemExit(f"nlu-eval-real: no labelled examples in {path}")
    return examples


def check_set(examples: Sequence[tuple[str, str]], sources: Path, bot_dir: Path) -> None:
    """Refuse to score a set that is not held out, sourced, licensed and masked."""
    import yaml

    if not sources.is_file():
        raise SystemExit(f"nlu-eval-real: no {sources} beside the set (source and licence of every line)")
    intents = yaml.safe_load((bot_dir / "domain.yml").read_text(encoding="utf-8"))["intents"]
    found = problems(examples, read_sources(sources), training_texts(bot_dir / "data"), intents)
    if found:
        raise SystemExit("nlu-eval-real: the set is not fit to score:\n  " + "\n  ".join(found))


def to_prediction(intent: str, text: str, parsed: Mapping[str, Any]) -> Prediction:
    """Condense a Rasa parse result into a Prediction."""
    chosen = parsed.get("intent") or {}
    ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    ranking += [{"name": "", "confidence": 0.0}] * (2 - len(ranking))
    return Prediction(
        intent=intent,
        text=text,
        predicted=chosen.get("name") or "",
        confidence=float(chosen.get("confidence") or 0.0),
        top=ranking[0]["name"],
        top_confidence=float(ranking[0]["confidence"]),
        second=ranking[1]["name"],
        second_confidence=float(ranking[1]["confidence"]),
    )


async def predict_all(examples: Sequence[tuple[str, str]], parse: Parse) -> list[Prediction]:
    """Parse every example, one after the other (the model is CPU-bound)."""
    return [to_prediction(intent, text, await parse(text)) for intent, text in examples]


def metrics(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Per-intent precision/recall/F1/support, accuracy and averages, as Rasa computes them."""
    from sklearn.metrics import classification_report

    return classification_report(truth, predicted, output_dict=True, zero_division=0)


def cv_summary(bot_dir: Path, cv_report: Path) -> str:
    """One line with the latest `make nlu-eval` figure, or why there is none."""
    if not cv_report.is_file():
        return f"make nlu-eval: no report at {cv_report} (run `make nlu-eval` to compare)"
    accuracy, macro = accuracy_and_macro_f1(json.loads(cv_report.read_text()))
    written = cv_report.stat().st_mtime
    newest_input = max(
        (p.stat().st_mtime for pattern in TRAINING_INPUTS for p in bot_dir.glob(pattern)), default=0.0
    )
    when = datetime.fromtimestamp(written).strftime("%Y-%m-%d %H:%M")
    stale = "; OLDER than the training data, rerun `make nlu-eval`" if newest_input > written else ""
    return f"make nlu-eval (5-fold CV, {when}{stale}): accuracy {accuracy:.3f}, macro-F1 {macro:.3f}"


def write_outputs(out: Path, report: Mapping[str, Any], predictions: Iterable[Prediction]) -> Path:
    """intent_report.json, predictions.tsv (all lines) and errors.tsv (wrong ones); returns errors.tsv."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "intent_report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    rows = list(predictions)
    fields = list(asdict(rows[0]))
    for name, keep in (("predictions.tsv", lambda p: True), ("errors.tsv", lambda p: p.predicted != p.intent)):
        with (out / name).open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, delimiter="\t", lineterminator="\n")
            w.writeheader()
            for p in rows:
                if keep(p):
                    w.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in asdict(p).items()})
    return out / "errors.tsv"


def render(
    predictions: Sequence[Prediction], report: Mapping[str, Any], data: Path, cv_line: str, errors: Path, mode: str
) -> list[str]:
    """The printed report: table, headline figures, the CV figure beside them."""
    accuracy, macro = accuracy_and_macro_f1(report)
    truth = [p.intent for p in predictions]
    top_accuracy, top_macro = accuracy_and_macro_f1(metrics(truth, [p.top for p in predictions]))
    in_set = sorted(set(truth))
    macro_in_set = sum(report[i]["f1-score"] for i in in_set) / len(in_set)
    fell_back = sum(p.predicted == FALLBACK for p in predictions)
    met = "met" if min(accuracy, macro) >= TARGET else "NOT met"
    return [
        f"Real-text set: {len(predictions)} messages, {len(set(truth))} intents ({data}); parser: {mode}",
        *intent_table(report),
        f"intent accuracy: {accuracy:.3f}",
        f"macro-F1:        {macro:.3f}  (target: both >= {TARGET:.2f}: {met})",
        f"macro-F1 over the {len(in_set)} intents of the set only (rows with support 0 left out): {macro_in_set:.3f}",
        f"fell back to {FALLBACK}: {fell_back} of {len(predictions)} (counted wrong above)",
        f"best intent without the fallback: accuracy {top_accuracy:.3f}, macro-F1 {top_macro:.3f}",
        RULE,
        f"real text:    accuracy {accuracy:.3f}, macro-F1 {macro:.3f}",
        cv_line,
        f"misclassified lines: {errors}",
    ]


def quiet_logging() -> None:
    """Rasa logs every parse at debug level through structlog; keep the report readable."""
    import logging

    import structlog
    from rasa.utils.common import configure_logging_and_warnings

    configure_logging_and_warnings(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def model_parser(model: Path) -> Parse:
    """Parse with the trained model, as the running bot does."""
    from rasa.core.agent import Agent

    quiet_logging()
    agent = Agent.load(str(model))
    return agent.parse_message


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=Path("models/aduan.tar.gz"))
    ap.add_argument("--data", type=Path, required=True,
                    help="the set (Rasa NLU YAML) with its sources.tsv beside it")
    ap.add_argument("--out", type=Path, default=Path("results/nlu-real"))
    ap.add_argument("--cv-report", type=Path, default=Path("results/nlu-cv/intent_report.json"))
    args = ap.parse_args(argv)
    if not args.model.is_file():
        raise SystemExit(f"nlu-eval-real: no trained model at {args.model} (run `make bot-train`)")

    if not args.data.is_file():
        raise SystemExit(f"nlu-eval-real: no real-text set at {args.data}; set NLU_REAL_SET to the set's "
                         "real_text.yml (with its sources.tsv beside it), see docs/bot.md")
    examples = load_examples(args.data)
    check_set(examples, args.data.with_name("sources.tsv"), Path.cwd())
    parse = model_parser(args.model)
    mode = "model (long messages read by their strongest complaint sentence)"
    predictions = asyncio.run(predict_all(examples, parse))
    report = metrics([p.intent for p in predictions], [p.predicted for p in predictions])
    errors = write_outputs(args.out, report, predictions)
    bot_dir = Path.cwd()
    print("\n".join(render(predictions, report, args.data, cv_summary(bot_dir, args.cv_report), errors, mode)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
