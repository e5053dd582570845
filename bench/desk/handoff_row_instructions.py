"""Instruction count of planning a one-write handoff row (``handoff.fastpath.plan_row``), which since
e9c4a7d1f260 seals the bot's summary (storage.sealed). Run under callgrind with 0 and N rows and divide
the difference by N (docs/privacy.md, "Cost"):

    for n in 0 2000; do
        PYTHONPATH=. valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
            .venv/bin/python bench/desk/handoff_row_instructions.py $n plain 2>&1 | grep Collected
    done

``plain``: a summary as the bot sends it for a request for a person (no identifier in it);
``typed``: the same quoting a borrower's message with a phone number and NIK (masked and sealed).
"""
from __future__ import annotations

import sys

from desk import pii
from desk.handoff_request import HandoffRequest
from handoff.fastpath import plan_row

SUMMARIES = {
    "plain": {"last_intent": "request_human", "last_message": "saya mau bicara dengan petugas saja",
              "full_name": "Budi Santoso", "product": "pinjaman_tunai", "complaint_category": "payment",
              "misunderstood": [{"text": "tolong dong", "candidates": [{"intent": "request_human"}]}]},
    "typed": {"last_intent": "request_human",
              "last_message": "nomor saya 0812-3456-7890, NIK 3174012345670001, tolong hubungi",
              "full_name": "Budi Santoso", "product": "pinjaman_tunai", "complaint_category": "payment",
              "misunderstood": [{"text": "tolong dong", "candidates": [{"intent": "request_human"}]}]},
}


def main(n: int, which: str) -> None:
    """Plan ``n`` handoff rows for the summary named ``which``."""
    pii.keyring()  # load the keys outside the counted loop's first pass
    request = HandoffRequest(reason="request_human", summary=SUMMARIES[which])
    for _ in range(n):
        plan_row(request)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "plain")
