"""The dialogue fuzzer: seeded random conversations through the desk against the live stack.

Each conversation is drawn from its own seed (``FUZZ_SEED`` and its index),
so one broken conversation replays alone. A conversation is 3 to 10 borrower
messages on a random channel, drawn from the NLU examples (``bot/data/nlu.yml``)
and from what borrowers type between them: names, phone numbers in every
common form, dates ("kemarin", "12 januari 2025"), loan, application and
ticket ids, lone digits, button presses and typed button payloads, emoji and
gibberish. When the bot asks a form question, the borrower often answers it
plausibly (a sample borrower's name, phone, loan id, a date, a story) or
presses the first button, so conversations also reach the summary, the
receipt, the identity check and the ticket lookup. It always ends with a
plain "halo".

A conversation is *broken* when any borrower message breaks an invariant
(``tests/live/invariants.py``): in bot mode 1–4 replies, none repeated in the
turn; a conversation handed to people gets no bot reply and stays queued;
every reply delivered once; the same question at most 3 times in a row; no
"Circuit breaker tripped" for it in Rasa's log; no bot failure (the desk's
holding reply for a bot that answered nothing, a flood or an error); and the
final "halo" gets a normal answer unless people have the conversation.
"""
from __future__ import annotations

import hashlib
import itertools
import random
import re
import string
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

from desk.masking import mask_text
from tests.live.borrowers import Borrower, InAppBorrower, TelegramBorrower, Turn, TurnError, WhatsAppBorrower
from tests.live.flows import asked_field, phone_forms, sample_borrowers
from tests.live.invariants import (
    BOT_FAILURE_REASONS,
    circuit_breaker_lines,
    is_normal_greeting_answer,
    repeated_question,
    turn_problems,
)
from tests.live.stack import LiveStack

REPO = Path(__file__).resolve().parents[2]
CHANNELS = ("whatsapp", "telegram", "inapp")
_ANNOTATION = re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)|\[([^\]]+)\]\{[^}]*\}")
MONTHS = ["januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus", "september", "oktober",
          "november", "desember"]
EMOJI = ["🙏", "👍", "😊", "😡", "😭", "🙏🙏", "👍😊", "❤️", "🤔", "😅", "💸"]


@dataclass(frozen=True)
class Corpus:
    """What random borrower messages are made of."""

    examples: dict[str, list[str]]
    names: list[str]
    products: list[str]

    @classmethod
    def load(cls) -> Corpus:
        data = yaml.safe_load((REPO / "bot" / "data" / "nlu.yml").read_text(encoding="utf-8"))
        examples: dict[str, list[str]] = {}
        names: list[str] = []
        for block in data.get("nlu", []):
            lines = [_plain(line[2:]) for line in str(block.get("examples", "")).splitlines()
                     if line.strip().startswith("- ")]
            if "intent" in block:
                examples[str(block["intent"])] = [line for line in lines if line]
            elif block.get("lookup") == "person":
                names = [line.title() for line in lines if line]
        content = yaml.safe_load((REPO / "lender" / "demo.yml").read_text(encoding="utf-8"))
        products = [p["name"] for p in content["products"]] + [s for p in content["products"]
                                                                for s in p.get("synonyms", [])]
        return cls(examples, names or ["Budi", "Siti", "Agus", "Dewi", "Rizky"], products)


def _plain(text: str) -> str:
    """An NLU example as a borrower types it: entity annotations removed."""
    return _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), text.strip()).strip()


class MessageMaker:
    """Draws one borrower message from a seeded generator."""

    def __init__(self, corpus: Corpus, rng: random.Random) -> None:
        self.corpus = corpus
        self.rng = rng
        self.kinds: list[tuple[str, float, Callable[[], str]]] = [
            ("nlu", 46, self.nlu_example),
            ("name", 8, self.name),
            ("phone", 8, self.phone),
            ("date", 7, self.date),
            ("id", 8, self.identifier),
            ("digit", 6, lambda: str(self.rng.randint(0, 9))),
            ("yesno", 5, lambda: self.rng.choice(["ya", "iya", "iya benar", "tidak", "bukan", "ok", "batal",
                                                  "gak jadi", "lainnya", "tidak tahu"])),
            ("product", 3, lambda: self.rng.choice(self.corpus.products)),
            ("emoji", 3, lambda: self.rng.choice(EMOJI)),
            ("gibberish", 4, self.gibberish),
        ]

    def nlu_example(self) -> str:
        intent = self.rng.choice(sorted(self.corpus.examples))
        return self.rng.choice(self.corpus.examples[intent])

    def name(self) -> str:
        first = self.rng.choice(self.corpus.names)
        full = f"{first} {self.rng.choice(self.corpus.names)}" if self.rng.random() < 0.7 else first
        return self.rng.choice(["{}", "{}", "nama saya {}", "sy {}", "{} kak"]).format(full)

    def phone(self) -> str:
        e164 = "+628" + self.rng.choice(["12", "13", "21", "52", "57", "77", "95"]) + "".join(
            self.rng.choice(string.digits) for _ in range(self.rng.choice([7, 8])))
        return self.rng.choice(phone_forms(e164))

    def date(self) -> str:
        day = date(2025, 1, 1) + timedelta(days=self.rng.randrange(600))
        return self.rng.choice([
            "kemarin", "tadi pagi", "3 hari lalu", "minggu lalu", f"{day.day} {MONTHS[day.month - 1]} {day.year}",
            f"tgl {day.day}", f"{day:%d/%m/%Y}", f"{day:%Y-%m-%d}", f"{day.day} {MONTHS[day.month - 1][:3]}",
            "kemarin sore", "bulan lalu",
        ])

    def identifier(self) -> str:
        samples = sample_borrowers()
        loans = [str(loan["loan_id"]) for s in samples for loan in s.loans]
        apps = [str(a["application_id"]) for s in samples for a in s.applications]
        from tickets.numbers import format_number

        ticket = format_number("DCI", date(2026, 1, 1) + timedelta(days=self.rng.randrange(400)),
                               self.rng.randint(1, 40))
        value = self.rng.choice(loans + apps + [ticket, ticket, f"ORD-{self.rng.randint(10**6, 10**7)}"])
        return self.rng.choice(["{}", "{}", "nomornya {}", "cek status tiket {}", "no pinjaman {}"]).format(value)

    def gibberish(self) -> str:
        length = self.rng.randint(3, 14)
        return "".join(self.rng.choice(string.ascii_lowercase + "  ") for _ in range(length)).strip() or "asdf"

    def plausible_answer(self, asked: str | None) -> str | None:
        """What a cooperative borrower types for the field the bot asks (None: not a form question).

        Mixing these in takes random conversations deep into the forms: the
        summary, the receipt, the identity check and the ticket lookup.
        """
        samples = sample_borrowers()
        person = self.rng.choice(samples)
        if asked == "full_name":
            return person.full_name
        if asked == "phone":
            return self.rng.choice(phone_forms(person.e164))
        if asked == "loan_id":
            return person.identifier
        if asked == "transaction_date":
            return self.date()
        if asked == "chronology":
            return self.rng.choice([
                "Saya sudah bayar cicilan lewat VA BCA kemarin Rp1.250.000 tapi status masih belum lunas dan kena denda.",
                "Aplikasi minta OTP terus tapi SMS OTP tidak pernah masuk sejak tiga hari lalu, saya jadi tidak bisa bayar.",
                "Saldo PayLater terpotong dua kali untuk belanja yang sama, sudah lapor lewat aplikasi tapi belum dijawab.",
            ])
        if asked == "ticket_number":
            return self.identifier().split()[-1]
        if asked == "product":
            return self.rng.choice(self.corpus.products)
        return None

    def draw(self) -> tuple[str, str]:
        total = sum(w for _, w, _ in self.kinds)
        point = self.rng.uniform(0, total)
        for kind, weight, make in self.kinds:
            point -= weight
            if point <= 0:
                return kind, make()
        kind, _, make = self.kinds[-1]
        return kind, make()


@dataclass
class Outcome:
    """One fuzzed conversation: its seed, channel, turns and what broke."""

    index: int
    seed: int
    channel: str
    turns: list[Turn] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def broken(self) -> bool:
        return bool(self.problems or self.error)

    def transcript(self) -> str:
        head = f"### conversation {self.index} seed={self.seed} channel={self.channel}"
        lines = [head] + [f"- {p}" for p in self.problems] + ([f"- error: {self.error}"] if self.error else [])
        lines += [mask_text(t.transcript()) for t in self.turns]
        return "\n".join(lines)


def conversation_seed(base_seed: int, index: int) -> int:
    digest = hashlib.sha256(f"{base_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


_borrower_serial = itertools.count(1)


def make_borrower(stack: LiveStack, channel: str) -> Borrower:
    """A borrower no other conversation of this stack uses (the fuzzer's own number ranges)."""
    serial = next(_borrower_serial)
    if channel == "whatsapp":
        return WhatsAppBorrower(stack, f"+62898{serial:08d}")
    if channel == "telegram":
        return TelegramBorrower(stack, 900_000_000 + serial)
    return InAppBorrower(stack, f"FUZZ-{serial:06d}")


def run_conversation(stack: LiveStack, corpus: Corpus, base_seed: int, index: int) -> Outcome:
    """Play one seeded conversation and judge it."""
    seed = conversation_seed(base_seed, index)
    rng = random.Random(seed)
    channel = rng.choice(CHANNELS)
    outcome = Outcome(index, seed, channel)
    maker = MessageMaker(corpus, rng)
    borrower = make_borrower(stack, channel)
    log_start = stack.rasa_log_size()
    try:
        for _ in range(rng.randint(3, 10)):
            buttons = borrower.last_buttons()
            plausible = maker.plausible_answer(asked_field(borrower.turns[-1])) if borrower.turns else None
            if plausible is not None and rng.random() < 0.6:
                turn = borrower.say(plausible)
            elif buttons and rng.random() < 0.4:
                # Mostly the first button (Ya / Kirim / the first choice), so forms get finished.
                index = 0 if rng.random() < 0.5 else rng.randrange(len(buttons))
                turn = borrower.press_index(index)
            elif rng.random() < 0.04:
                # A button payload typed or replayed from an old keyboard: the desk passes it as text.
                turn = borrower.say(rng.choice(["/affirm", "/deny", "/greet", '/inform{"product":"PayLater"}',
                                                "/request_human", "/ask_bill_amount", "/cancel"]))
            else:
                turn = borrower.say(maker.draw()[1])
            outcome.problems += [f"turn {len(borrower.turns)}: {p}" for p in turn_problems(turn)]
        final = borrower.say("halo")
        outcome.problems += [f"final halo: {p}" for p in turn_problems(final)]
        if final.mode_before in (None, "bot") and not is_normal_greeting_answer(final):
            outcome.problems.append("final halo: no normal answer")
    except TurnError as exc:
        outcome.error = str(exc)[:500]
    except Exception as exc:  # noqa: BLE001 - a harness crash is reported with its seed, not hidden
        outcome.error = f"{type(exc).__name__}: {str(exc)[:400]}"
    finally:
        outcome.turns = list(borrower.turns)
        borrower.close()
    question = repeated_question(outcome.turns)
    if question:
        outcome.problems.append(f"the same question more than 3 times in a row: {question[:80]!r}")
    if outcome.turns:
        log = _wait_for_log(stack, log_start)
        breaker = circuit_breaker_lines(log, outcome.turns[-1].conversation_id)
        if breaker:
            outcome.problems.append("circuit breaker tripped in Rasa's log")
    reasons = {str((t.handoff or {}).get("reason")) for t in outcome.turns if t.handoff}
    failed = sorted(reasons & set(BOT_FAILURE_REASONS))
    if failed:
        outcome.problems.append(f"bot failure handed to people (reason {', '.join(failed)})")
    # One message per problem kind per turn is enough to read; keep the order.
    outcome.problems = list(dict.fromkeys(outcome.problems))
    return outcome


def _wait_for_log(stack: LiveStack, offset: int) -> str:
    # Rasa writes its warning before it answers, so it is in the file by now.
    return stack.rasa_log_since(offset) if stack.rasa_log.exists() else ""


@dataclass
class Report:
    seed: int
    outcomes: list[Outcome]
    seconds: float

    @property
    def broken(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.broken]

    def summary(self) -> str:
        turns = sum(len(o.turns) for o in self.outcomes)
        kinds: dict[str, int] = {}
        for outcome in self.broken:
            for problem in {re.sub(r"^(turn \d+|final halo): ", "", p).split(":")[0] for p in outcome.problems} \
                    | ({"harness error"} if outcome.error else set()):
                kinds[problem] = kinds.get(problem, 0) + 1
        lines = [f"fuzz-dialogue: {len(self.broken)}/{len(self.outcomes)} conversations broken "
                 f"(FUZZ_SEED={self.seed}, {turns} borrower messages, {self.seconds:.0f} s)"]
        lines += [f"  {count:5d}  {kind}" for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1])]
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = [self.summary(), "", "Replay one: FUZZ_SEED=<seed> FUZZ_ONLY=<index> make fuzz-dialogue", ""]
        body += [o.transcript() + "\n" for o in self.broken]
        path.write_text("\n".join(body), encoding="utf-8")


def run_fuzz(stack: LiveStack, n: int, seed: int, *, workers: int = 3, only: int | None = None,
             progress: Callable[[int, int, int], None] | None = None) -> Report:
    """Play ``n`` conversations (``workers`` at a time); ``only`` replays one index."""
    corpus = Corpus.load()
    indices = [only] if only is not None else list(range(n))
    started = time.monotonic()
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def one(index: int) -> Outcome:
        outcome = run_conversation(stack, corpus, seed, index)
        with lock:
            outcomes.append(outcome)
            if progress is not None:
                progress(len(outcomes), len(indices), sum(o.broken for o in outcomes))
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, indices))
    outcomes.sort(key=lambda o: o.index)
    return Report(seed, outcomes, time.monotonic() - started)
