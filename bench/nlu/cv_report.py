"""Print intent accuracy and per-intent F1 from a Rasa intent_report.json.

Used by `make nlu-eval` after `rasa test nlu --cross-validation --folds 5`,
and (its table) by `make nlu-eval-real` (real_text_eval.py), so both reports
have one shape. Exits non-zero when the report is missing. Target: macro-F1 >= 0.90.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Mapping

TARGET = 0.90
SKIP = {"accuracy", "macro avg", "weighted avg", "micro avg"}
RULE = "-" * 66


def intent_table(report: Mapping[str, Any]) -> list[str]:
    """The per-intent rows (precision, recall, F1, support) of an sklearn/Rasa report."""
    rows = sorted((name, vals) for name, vals in report.items() if name not in SKIP and isinstance(vals, dict))
    lines = [f"{'intent':32} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}", RULE]
    for name, vals in rows:
        lines.append(
            f"{name:32} {vals['precision']:9.3f} {vals['recall']:7.3f} {vals['f1-score']:6.3f} {int(vals['support']):8d}"
        )
    lines.append(RULE)
    return lines


def accuracy_and_macro_f1(report: Mapping[str, Any]) -> tuple[float, float]:
    """Intent accuracy and macro-averaged F1 of a report (0.0 when absent)."""
    return float(report.get("accuracy", 0.0)), float(report.get("macro avg", {}).get("f1-score", 0.0))


def main(path: str) -> int:
    report = json.loads(Path(path).read_text())
    print("\n".join(intent_table(report)))
    accuracy, macro = accuracy_and_macro_f1(report)
    print(f"intent accuracy: {accuracy:.3f}")
    print(f"macro-F1:        {macro:.3f}  (target >= {TARGET:.2f}: {'met' if macro >= TARGET else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "results/nlu-cv/intent_report.json"))
