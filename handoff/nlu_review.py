"""The desk teaches the bot (issue #16): misunderstood messages, staff labels, reviewed training lines.

The bot's answer to every borrower message carries how its NLU read it
(``custom.nlu``: intent, confidence, the two likeliest intents and a ``flag``
- ``fallback``, ``clarified`` or ``low_confidence`` - when it did not
understand; bot/channels/desk.py). The desk router keeps that on the stored
message (``payload["nlu"]``). Here:

* ``flag_of`` / ``labels_for``: what the console marks on each borrower message;
* ``label_message``: an agent or supervisor gives any borrower message its right
  intent in one action; every label (and relabel) is audited;
* ``frequent_misunderstandings``: the supervisor page, the most frequent
  misunderstood messages of the last 30 days;
* ``reviewed_lines`` / ``write_reviewed``: ``make nlu-export-reviewed`` writes the
  labelled lines, personal data replaced by placeholders and de-duplicated, to
  ``bot/data/nlu_reviewed.yml`` for ``rasa train``.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk import pii
from handoff import audit
from handoff.models import NluLabel
from handoff.summary import TOPICS
from storage.base import utcnow
from storage.models import Conversation, Direction, Message

# The intents a label may name: the bot's contract (shared/domain.md) plus the
# the intents the bot adds (resolution answers, personal-data questions); tests
# check this equals bot/domain.yml's list.
INTENTS: tuple[str, ...] = (
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge",
    "ask_payment_method", "ask_bill_amount", "ask_application_status", "ask_how_to_apply",
    "ask_product_info", "ask_complaint_procedure", "ask_operating_hours",
    "complain_payment", "complain_fraud", "complain_collection", "request_relief",
    "change_phone_number", "complain_app", "request_human", "check_ticket_status",
    "inform", "out_of_scope", "lodge_complaint", "cancel",
    "resolution_accept", "resolution_dispute", "resolution_next_step",
    "ask_data_use", "request_data_erasure",
)
# What staff read in the console: plain Indonesian, never the raw intent names.
INTENT_LABELS: dict[str, str] = {
    **TOPICS,
    "greet": "salam", "goodbye": "pamit", "thank": "terima kasih", "affirm": "ya / setuju",
    "deny": "tidak / menolak", "bot_challenge": "bertanya apakah ini bot", "inform": "memberi data",
    "out_of_scope": "di luar layanan", "cancel": "batal",
    "resolution_accept": "menerima penyelesaian", "resolution_dispute": "menolak penyelesaian",
    "resolution_next_step": "bertanya langkah berikutnya",
    "ask_data_use": "bertanya pemakaian data pribadi", "request_data_erasure": "minta data dihapus",
}
FLAGS = ("fallback", "clarified", "low_confidence")
LABELLED = "nlu.labelled"
WINDOW_DAYS = 30
REVIEWED_FILE = Path("bot/data/nlu_reviewed.yml")


def form_value(intent: str) -> str:
    """The label form's option value: the page shows no raw intent name (the console shows no debug text)."""
    return intent.replace("_", "-")


def intent_of(value: str) -> str:
    """The intent a label form's value names."""
    return value.strip().replace("-", "_")


class LabelRefused(ValueError):
    """A label that cannot be recorded (unknown intent, not a borrower message)."""


def flag_of(payload: dict[str, Any] | None) -> str | None:
    """Why the bot did not understand a stored borrower message, or None."""
    nlu = (payload or {}).get("nlu")
    flag = nlu.get("flag") if isinstance(nlu, dict) else None
    return flag if flag in FLAGS else None


def nlu_of(payload: dict[str, Any] | None) -> dict[str, Any]:
    """The NLU reading kept on a stored message (empty when the bot sent none)."""
    nlu = (payload or {}).get("nlu")
    return nlu if isinstance(nlu, dict) else {}


async def labels_for(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, str]:
    """message id -> labelled intent, for the given messages."""
    if not message_ids:
        return {}
    rows = await session.execute(select(NluLabel.message_id, NluLabel.intent)
                                 .where(NluLabel.message_id.in_(list(message_ids))))
    return dict(rows.all())


async def label_message(session: AsyncSession, actor_id: int, message_id: int, intent: str) -> NluLabel:
    """Give a borrower message its right intent (a new label or a relabel), audited."""
    if intent not in INTENTS:
        raise LabelRefused(f"unknown intent: {intent!r}")
    message = await session.get(Message, message_id)
    if message is None or message.direction != Direction.INBOUND.value:
        raise LabelRefused("only a borrower's message can be labelled")
    label = await session.scalar(select(NluLabel).where(NluLabel.message_id == message_id))
    previous = label.intent if label else None
    if label is None:
        label = NluLabel(message_id=message_id, intent=intent, labelled_by=actor_id)
        session.add(label)
    else:
        label.intent, label.labelled_by, label.labelled_at = intent, actor_id, utcnow()
    await session.flush()
    nlu = nlu_of(message.payload)
    await audit.record(session, actor_id, LABELLED, "message", message_id, intent=intent, previous=previous,
                       bot_intent=nlu.get("intent"), flag=nlu.get("flag"))
    return label


# --- personal data -> placeholders ------------------------------------------------

_PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"(?<![\w+])\(?(?:\+62|62|0)\)?[\s-]?8(?:[\s.()-]{0,2}\d){8,11}(?!\d)"), "<nomor hp>"),
    (re.compile(r"(?<!\d)\d{16}(?!\d)"), "<nik>"),
    # Ticket numbers (DCI-261130-0005-4), loan ids (PJ-2024-000123), order ids (APP-88001).
    (re.compile(r"\b[A-Za-z]{2,4}[-.]?\d{2,6}(?:[-.]?\d{1,6}){0,3}\b"), "<id>"),
    (re.compile(r"(?<!\d)\d{6,}(?!\d)"), "<angka>"),
)
# "nama saya Budi Santoso", "atas nama Siti": the words after it are a name.
_NAMED = re.compile(r"\b((?i:nama(?:\s+(?:saya|aku|sy|ku))?|atas\s+nama|a\.n\.?)\s*:?\s+)"
                    r"(?!(?i:saya|aku|sy|ku)\b)([A-Za-z][a-z]*(?:\s+[A-Z][a-z]+){0,3})")


def mask_for_training(text: str, names: Sequence[str] = ()) -> str:
    """The line with personal data replaced by placeholders: e-mail, phone numbers, NIK, ids, numbers, names."""
    out = text
    for pattern, placeholder in _PLACEHOLDERS:
        out = pattern.sub(placeholder, out)
    out = _NAMED.sub(lambda m: m.group(1) + "<nama>", out)
    for name in sorted({n for full in names if full for n in full.split() if len(n) > 2}, key=len, reverse=True):
        out = re.sub(rf"(?i)\b{re.escape(name)}\b", "<nama>", out)
    out = re.sub(r"<nama>(?:\s*<nama>)+", "<nama>", out)
    return " ".join(out.split())


def normalise(text: str) -> str:
    """What 'the same line' means for de-duplication and counting."""
    return " ".join(re.sub(r"[^\w<>]+", " ", text.lower()).split())


# --- the supervisor page ---------------------------------------------------------

@dataclass(frozen=True)
class Misunderstanding:
    """One misunderstood line (masked), how often borrowers sent it, and what it was read as."""

    text: str
    count: int
    last_at: datetime
    flags: dict[str, int]
    bot_intent: str | None
    label: str | None
    message_id: int


async def frequent_misunderstandings(session: AsyncSession, *, now: datetime | None = None,
                                     days: int = WINDOW_DAYS, limit: int = 50) -> list[Misunderstanding]:
    """The most frequent misunderstood borrower messages of the last ``days`` days, most frequent first."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = (await session.execute(
        select(Message.id, Message.text, Message.payload, Message.created_at, Conversation.sender_name,
               NluLabel.intent, Message.text_enc)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(NluLabel, NluLabel.message_id == Message.id)
        .where(Message.direction == Direction.INBOUND.value, Message.created_at >= since)
        .order_by(Message.id))).all()
    groups: dict[str, dict[str, Any]] = {}
    for message_id, text, payload, created_at, sender_name, label, text_enc in rows:
        flag = flag_of(payload)
        if flag is None:
            continue
        # From the original (desk.pii.seal_text), so identifiers become the training placeholders.
        masked = mask_for_training(pii.open_text(text or "", text_enc), [sender_name or ""])
        group = groups.setdefault(normalise(masked), {"text": masked, "count": 0, "flags": Counter(),
                                                      "last_at": created_at, "bot": None, "label": None,
                                                      "message_id": message_id})
        group["count"] += 1
        group["flags"][flag] += 1
        group["last_at"] = max(group["last_at"], created_at)
        group["bot"] = nlu_of(payload).get("candidates", [{}])[0].get("intent") if nlu_of(payload).get(
            "candidates") else nlu_of(payload).get("intent")
        group["label"] = label or group["label"]
        group["message_id"] = message_id
    ranked = sorted(groups.values(), key=lambda g: (-g["count"], -g["last_at"].timestamp()))[:limit]
    return [Misunderstanding(g["text"], g["count"], g["last_at"], dict(g["flags"]), g["bot"], g["label"],
                             g["message_id"]) for g in ranked]


# --- export ----------------------------------------------------------------------

async def reviewed_lines(session: AsyncSession) -> list[tuple[str, str]]:
    """(intent, masked text) of every labelled borrower message, de-duplicated, sorted by intent then text.

    A line labelled with two intents (two borrowers, two reviewers) is left
    out: the reviewers disagree, and Rasa refuses an example under two intents.
    """
    rows = (await session.execute(
        select(NluLabel.intent, Message.text, Conversation.sender_name, Message.text_enc)
        .join(Message, Message.id == NluLabel.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .order_by(NluLabel.id))).all()
    seen: dict[str, tuple[str, str]] = {}
    conflicted: set[str] = set()
    for intent, text, sender_name, text_enc in rows:
        masked = mask_for_training(pii.open_text(text or "", text_enc), [sender_name or ""])
        key = normalise(masked)
        if not key or key.startswith("/"):
            continue
        if key in seen and seen[key][0] != intent:
            conflicted.add(key)
        seen.setdefault(key, (intent, masked))
    return sorted((v for k, v in seen.items() if k not in conflicted), key=lambda v: (v[0], v[1].lower()))


def render_yaml(lines: Sequence[tuple[str, str]]) -> str:
    """A Rasa NLU file with one block per intent (an intent with no line is left out)."""
    out = ['version: "3.1"',
           "# Written by `make nlu-export-reviewed` from the desk's labelled messages (issue #16):",
           "# personal data replaced by placeholders, de-duplicated. Review the diff before committing.",
           "nlu:"]
    by_intent: dict[str, list[str]] = {}
    for intent, text in lines:
        by_intent.setdefault(intent, []).append(text)
    for intent in sorted(by_intent):
        out += [f"- intent: {intent}", "  examples: |"]
        out += ["    - " + yaml.safe_dump(t, allow_unicode=True, width=10_000).strip().removesuffix("\n...")
                if t[:1] in "-[]{}!&*|>'\"%@`#,?:" else f"    - {t}" for t in by_intent[intent]]
    return "\n".join(out) + "\n"


async def write_reviewed(session: AsyncSession, path: Path) -> int:
    """Write the reviewed file; returns how many lines it holds."""
    lines = await reviewed_lines(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_yaml(lines), encoding="utf-8")
    return len(lines)
