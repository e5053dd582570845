"""The desk's input channel: Rasa's REST channel plus message metadata.

The desk service posts ``{"sender", "message", "metadata": {"channel",
"conversation_id", "customer_id", "phone"}}`` to ``/webhooks/desk/webhook``
and gets the same answer as the REST channel (a list of bot messages; a
``custom`` entry may carry ``{"handoff": {...}}``).

Rasa 3.6's ``RestInput.get_metadata`` already returns ``metadata`` from the
JSON body; this class pins that behaviour under its own name (so a Rasa
upgrade that changes the REST channel cannot silently drop the metadata the
actions rely on) and drops metadata that is not a JSON object.

After the bot's messages the answer carries one more entry, ``{"custom":
{"nlu": {...}}}``: how the NLU read the borrower's message (intent,
confidence, the two likeliest intents, and ``flag`` = ``fallback``,
``clarified`` or ``low_confidence`` when the bot did not understand). The
desk keeps it on the stored message and never sends it to the borrower; the
agent console marks those messages so staff can label them (issue #16).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, Sanic
from sanic.request import Request

METADATA_KEYS = ("channel", "conversation_id", "customer_id", "phone")
FALLBACK_INTENT = "nlu_fallback"
CLARIFY_ACTION = "action_suggest_topics"
# Below this the bot answered, but the message is worth a person's look.
LOW_CONFIDENCE = 0.5


def nlu_marker(events: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """How the NLU read the newest user message of a tracker's events, or None without one."""
    turn: List[Dict[str, Any]] = []
    for event in reversed(events):
        turn.append(event)
        if event.get("event") == "user":
            break
    else:
        return None
    user = turn[-1]
    parse = user.get("parse_data") or {}
    intent = parse.get("intent") or {}
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT][:2]
    confidence = float(intent.get("confidence") or 0.0)
    clarified = any(e.get("event") == "action" and e.get("name") == CLARIFY_ACTION for e in turn)
    if intent.get("name") == FALLBACK_INTENT:
        flag: Optional[str] = "fallback"
    elif clarified:
        flag = "clarified"
    elif confidence < LOW_CONFIDENCE and not (user.get("text") or "").startswith("/"):
        flag = "low_confidence"
    else:
        flag = None
    return {
        "intent": intent.get("name"),
        "confidence": round(confidence, 3),
        "candidates": [{"intent": r.get("name"), "confidence": round(float(r.get("confidence") or 0), 3)}
                       for r in ranking],
        "flag": flag,
    }


class DeskInput(RestInput):
    """REST input channel named ``desk`` that forwards the desk's metadata."""

    @classmethod
    def name(cls) -> Text:
        return "desk"

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """Return the ``metadata`` object of the request body (or None)."""
        body = request.json or {}
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            return None
        # Keep unknown keys too (forward compatible), but make sure the
        # contract keys exist so actions can rely on them.
        return {**{key: None for key in METADATA_KEYS}, **metadata}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's REST webhook, with the NLU marker appended to every answer."""

        async def handle_and_report(message: UserMessage) -> None:
            await on_new_message(message)
            if not isinstance(message.output_channel, CollectingOutputChannel):
                return
            agent = getattr(Sanic.get_app().ctx, "agent", None)
            if agent is None or agent.tracker_store is None:
                return
            tracker = await agent.tracker_store.retrieve(message.sender_id)
            marker = nlu_marker([e.as_dict() for e in tracker.events]) if tracker else None
            if marker:
                message.output_channel.messages.append({"recipient_id": message.sender_id,
                                                        "custom": {"nlu": marker}})

        return super().blueprint(handle_and_report)
