"""Run the `rasa` command line with NumPy's global random generator seeded.

`rasa test nlu --cross-validation` draws its folds with scikit-learn's
`StratifiedKFold(shuffle=True)` and no seed, so the same data scored
0.891 in one run and 0.897 in the next. Rasa 3.6 has no option for a seed,
but an unseeded scikit-learn splitter falls back to NumPy's global
generator: seeding that before Rasa starts makes the folds, and so the
figure, reproducible.

Usage: seeded_rasa.py --seed N <rasa arguments...>
"""
from __future__ import annotations

import sys

import numpy as np


def main(argv: list[str]) -> None:
    """Seed NumPy from ``--seed N`` and hand the remaining arguments to Rasa."""
    if len(argv) < 2 or argv[0] != "--seed":
        sys.exit("usage: seeded_rasa.py --seed N <rasa arguments...>")
    np.random.seed(int(argv[1]))
    sys.argv = ["rasa", *argv[2:]]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main(sys.argv[1:])
