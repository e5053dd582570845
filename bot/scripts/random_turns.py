"""Seeded random conversations against a running bot (REST / desk channel): the bot-side
check of the dialogue invariants. The formal fuzzer through the desk is `make fuzz-dialogue`.

    .venv/bin/python scripts/random_turns.py --url http://127.0.0.1:5110/webhooks/desk/webhook \\
        --rasa-log /tmp/rasa.log --conversations 200 --turns 8 --seed 1

Each conversation mixes NLU examples of every intent with names, phone numbers,
dates, ids, digits, button payloads from the bot's last answer, emoji and
gibberish. A conversation is broken when, for a borrower message while the bot
is in charge:

* the bot answers with no message or with more than 4;
* one answer repeats a message;
* the same question is asked more than 3 turns in a row;
* Rasa logs "Circuit breaker tripped" for the conversation;
* a plain "halo" at the end (when nobody took over) gets no normal answer.

A reply carrying ``{"handoff": …}`` ends the conversation: people take over.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

BOT = Path(__file__).resolve().parents[1]
REPO = BOT.parent
sys.path.insert(0, str(REPO))
from tickets.number_format import format_number  # noqa: E402

FALLBACK_TEXT = "saya kurang yakin maksud Anda"
NAMES = ["Agus Salim", "Budi Santoso", "Siti Nurhaliza Rahmawati", "Dewi Lestari", "Rizky Pratama", "Made Wirawan",
         "Hendro Wibowo", "Yohanes Simanjuntak", "Lim Wei Ming", "Nur Aini", "Andi", "Putu Ayu Kartika"]
DATES = ["kemarin", "12 januari 2025", "tgl 25 kmrn", "3 hari lalu", "senin kemarin", "05/01/2025", "tadi pagi",
         "minggu lalu", "besok", "31 februari", "2 minggu yang lalu"]
EMOJI = ["🙏", "😡😡", "👍", "😭", "🙏🙏🙏", "?", "...", "!!!"]
GIBBERISH = ["asdfgh", "qwerty zxc", "hmmm", "p", "ok google", "zzzz", "wkwkwk", "ggg hhh jjj", "123abc", "a"]


def nlu_examples() -> List[str]:
    """Every NLU training example, annotations stripped."""
    data = yaml.safe_load((BOT / "data" / "nlu.yml").read_text(encoding="utf-8"))
    out = []
    for block in data["nlu"]:
        if "intent" in block:
            for line in block["examples"].splitlines():
                line = line.strip()[2:].strip()
                if line:
                    out.append(re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line))
    return out


def phone(rng: random.Random) -> str:
    national = "8" + "".join(rng.choice("0123456789") for _ in range(rng.randint(9, 10)))
    head, mid, tail = national[:3], national[3:7], national[7:]
    return rng.choice([f"0{national}", f"+62 {head}-{mid}-{tail}", f"0{head} {mid} {tail}", f"62{national}",
                       f"+62 {head} {mid} {tail}"])


def identifier(rng: random.Random) -> str:
    day = date(2026, 1, 1) + timedelta(days=rng.randint(0, 330))
    return rng.choice([format_number("DCI", day, rng.randint(1, 50)), "PJ-2024-000123", "PL-2025-004567",
                       "APP-88001", f"PJ-20{rng.randint(20, 26)}-{rng.randint(0, 999999):06d}"])


@dataclass
class Turn:
    text: str
    replies: List[Dict[str, Any]]


@dataclass
class Outcome:
    sender: str
    turns: List[Turn] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    handed_off: bool = False


def post(url: str, sender: str, text: str, channel: str) -> List[Dict[str, Any]]:
    body = {"sender": sender, "message": text,
            "metadata": {"channel": channel, "conversation_id": sender, "customer_id": None,
                         "phone": "+6281234567890" if channel == "whatsapp" else None}}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def next_message(rng: random.Random, examples: List[str], last: List[Dict[str, Any]]) -> str:
    buttons = [b for r in last for b in (r.get("buttons") or [])]
    kind = rng.random()
    if buttons and kind < 0.15:
        return rng.choice(buttons)["payload"]
    pick = rng.random()
    if pick < 0.45:
        return rng.choice(examples)
    if pick < 0.55:
        return rng.choice(NAMES)
    if pick < 0.63:
        return phone(rng)
    if pick < 0.71:
        return rng.choice(DATES)
    if pick < 0.79:
        return identifier(rng)
    if pick < 0.87:
        return str(rng.randint(1, 9))
    if pick < 0.93:
        return rng.choice(EMOJI)
    return rng.choice(GIBBERISH)


def check_turn(outcome: Outcome, turn: Turn, question_run: Counter) -> None:
    # The desk channel's NLU reading ({"custom": {"nlu": ...}}) is for the desk, not a message.
    replies = [r for r in turn.replies if set(r) - {"recipient_id", "custom"} or set(r.get("custom") or {}) - {"nlu"}]
    texts = [r.get("text") for r in replies if r.get("text")]
    if not 1 <= len(replies) <= 4:
        outcome.problems.append(f"{len(replies)} replies to {turn.text!r}")
    repeated = [t for t, n in Counter(texts).items() if n > 1]
    if repeated:
        outcome.problems.append(f"repeated within a turn: {repeated[0][:60]!r}")
    if any((r.get("custom") or {}).get("handoff") for r in replies):
        outcome.handed_off = True
    last_question = texts[-1] if texts and texts[-1].rstrip().endswith("?") else None
    if last_question and question_run.get("text") == last_question:
        question_run["n"] += 1
    else:
        question_run.clear()
        if last_question:
            question_run.update({"n": 1})
            question_run["text"] = last_question  # type: ignore[assignment]
    if question_run.get("n", 0) > 3:
        outcome.problems.append(f"same question {question_run['n']} times: {last_question[:60]!r}")


def run_conversation(url: str, rng: random.Random, examples: List[str], index: int, turns: int,
                     prefix: str) -> Outcome:
    sender = f"{prefix}-{index:04d}"
    channel = rng.choice(["whatsapp", "telegram", "inapp"])
    outcome = Outcome(sender)
    question_run: Counter = Counter()
    last: List[Dict[str, Any]] = []
    for _ in range(turns):
        text = next_message(rng, examples, last)
        last = post(url, sender, text, channel)
        turn = Turn(text, last)
        outcome.turns.append(turn)
        check_turn(outcome, turn, question_run)
        if outcome.handed_off:
            return outcome
    last = post(url, sender, "halo", channel)
    outcome.turns.append(Turn("halo", last))
    texts = [r.get("text") or "" for r in last]
    if not 1 <= len(last) <= 4 or any(FALLBACK_TEXT in t for t in texts):
        outcome.problems.append(f"'halo' at the end got {texts!r}")
    return outcome


def breaker_senders(log_path: Optional[str], start: int) -> Counter:
    """Senders named in 'Circuit breaker tripped' lines written after ``start`` bytes."""
    if not log_path:
        return Counter()
    with open(log_path, encoding="utf-8", errors="replace") as fh:
        fh.seek(start)
        return Counter(re.findall(r"Circuit breaker tripped.*?sender '([^']+)'", fh.read()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:5005/webhooks/desk/webhook")
    ap.add_argument("--rasa-log", default=None, help="Rasa's log file, for circuit-breaker lines")
    ap.add_argument("--conversations", type=int, default=200)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=3, help="print this many broken conversations in full")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    examples = nlu_examples()
    start = Path(args.rasa_log).stat().st_size if args.rasa_log else 0
    prefix = f"rt{args.seed}-{rng.randrange(10**6):06d}"
    outcomes = [run_conversation(args.url, rng, examples, i, args.turns, prefix) for i in range(args.conversations)]
    tripped = breaker_senders(args.rasa_log, start)
    for outcome in outcomes:
        if tripped.get(outcome.sender):
            outcome.problems.append(f"circuit breaker tripped {tripped[outcome.sender]}x")
    broken = [o for o in outcomes if o.problems]
    kinds = Counter(p.split(":")[0].split(" to ")[0] for o in broken for p in o.problems)
    for outcome in broken[:args.show]:
        print(f"--- {outcome.sender}: {outcome.problems}")
        for turn in outcome.turns:
            print(f"  > {turn.text}")
            for reply in turn.replies:
                print(f"    < {(reply.get('text') or json.dumps(reply.get('custom')))[:110]!s}")
    print("problem kinds:", dict(kinds.most_common(10)))
    print(f"broken conversations: {len(broken)}/{len(outcomes)} (seed {args.seed}, {args.turns} turns, "
          f"handed off {sum(o.handed_off for o in outcomes)})")
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
