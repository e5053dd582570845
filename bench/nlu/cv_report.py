"""Print intent accuracy and per-intent F1 from a Rasa intent_report.json.

Used by `make nlu-eval` after `rasa test nlu --cross-validation --folds 5`.
Exits non-zero when the report is missing. Target: macro-F1 >= 0.90.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET = 0.90
SKIP = {"accuracy", "macro avg", "weighted avg", "micro avg"}


def main(path: str) -> int:
    report = json.loads(Path(path).read_text())
    rows = sorted((name, vals) for name, vals in report.items() if name not in SKIP and isinstance(vals, dict))
    print(f"{'intent':32} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    print("-" * 66)
    for name, vals in rows:
        print(f"{name:32} {vals['precision']:9.3f} {vals['recall']:7.3f} {vals['f1-score']:6.3f} {int(vals['support']):8d}")
    print("-" * 66)
    macro = report.get("macro avg", {}).get("f1-score", 0.0)
    print(f"intent accuracy: {report.get('accuracy', 0.0):.3f}")
    print(f"macro-F1:        {macro:.3f}  (target >= {TARGET:.2f}: {'met' if macro >= TARGET else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "results/nlu-cv/intent_report.json"))
