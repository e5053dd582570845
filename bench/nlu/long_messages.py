"""Prototype (issue #16 item 3): understand a long message by its complaint.

A review or angry WhatsApp message mixes a story, an accusation and a
question; scored as one bag of n-grams, its complaint is diluted by the rest
and the model often falls back or picks small talk. The prototype splits the
message into sentences, parses each, and lets the strongest complaint intent
win; when no sentence is a confident complaint, the whole message's parse
stands. The other sentences' intents are kept (`sentences`) as context for
the agent.

Not in the pipeline: `make nlu-eval-real NLU_REAL_ARGS=--long-messages`
measures it on the real-text set (docs/bot.md). Phase 2 decides whether it
becomes a component.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

Parse = Callable[[str], Awaitable[Mapping[str, Any]]]

FALLBACK = "nlu_fallback"
# Complaint intents in order of precedence when two are equally confident:
# fraud and collector threats are never below `high` priority (domain.md).
COMPLAINTS = (
    "complain_fraud",
    "complain_collection",
    "complain_payment",
    "request_relief",
    "change_phone_number",
    "complain_app",
    "check_ticket_status",
    "lodge_complaint",
)
# A sentence's complaint must be at least this confident to override the whole message.
MIN_COMPLAINT_CONFIDENCE = 0.30
MIN_WORDS = 3
# Sentence ends: . ! ? (repeated or spaced, as in "tolong !!!" or " . ") and line breaks.
_SPLIT = re.compile(r"(?:\s*[.!?]+(?:\s*[.!?])*\s+|\n+)")


@dataclass(frozen=True)
class Scored:
    """The best real intent of one piece of text."""

    text: str
    intent: str
    confidence: float


def sentences(text: str) -> list[str]:
    """The message's sentences with at least MIN_WORDS words ("8.000" and "m-bca" stay whole)."""
    parts = [p.strip(" .!?") for p in _SPLIT.split(text)]
    return [p for p in parts if len(p.split()) >= MIN_WORDS]


def best_real_intent(text: str, parsed: Mapping[str, Any]) -> Scored:
    """The top intent other than the fallback, with its confidence."""
    for r in parsed.get("intent_ranking") or [parsed.get("intent") or {}]:
        if r.get("name") and r["name"] != FALLBACK:
            return Scored(text, r["name"], float(r.get("confidence") or 0.0))
    return Scored(text, FALLBACK, 0.0)


def strongest_complaint(scored: list[Scored]) -> Scored | None:
    """The most confident complaint among the sentences (precedence breaks ties), if confident enough."""
    complaints = [s for s in scored if s.intent in COMPLAINTS and s.confidence >= MIN_COMPLAINT_CONFIDENCE]
    if not complaints:
        return None
    return max(complaints, key=lambda s: (s.confidence, -COMPLAINTS.index(s.intent)))


def sentence_scoring_parser(parse: Parse) -> Parse:
    """Wrap a parser: a message of two or more sentences is read by its strongest complaint."""

    async def parse_long(text: str) -> Mapping[str, Any]:
        whole = await parse(text)
        parts = sentences(text)
        if len(parts) < 2:
            return whole
        scored = [best_real_intent(p, await parse(p)) for p in parts]
        winner = strongest_complaint(scored)
        context = [{"text": s.text, "intent": s.intent, "confidence": s.confidence} for s in scored]
        if winner is None:
            return {**whole, "sentences": context}
        chosen = {"name": winner.intent, "confidence": winner.confidence}
        rest = [r for r in whole.get("intent_ranking") or [] if r.get("name") not in (winner.intent, FALLBACK)]
        return {**whole, "intent": chosen, "intent_ranking": [chosen, *rest], "sentences": context}

    return parse_long
