"""Helpers shared by the actions: metadata, office hours, handoff payloads."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import desk_client
from actions.content import CATEGORY_LABELS, contacts_text
from actions.dates import JAKARTA, format_date_id
from actions.phone import mask_phone

logger = logging.getLogger(__name__)

# Intents that start a complaint, the category proposed for each, and the
# priority the ticket starts with. Fraud and collection threats are never
# below "high" (shared/domain.md).
COMPLAINT_INTENTS: Dict[str, Dict[str, str]] = {
    "complain_payment": {"category": "payment", "priority": "medium"},
    "complain_fraud": {"category": "fraud", "priority": "high"},
    "complain_collection": {"category": "unethical_collection", "priority": "high"},
    "request_relief": {"category": "relief", "priority": "medium"},
    "change_phone_number": {"category": "phone_change", "priority": "medium"},
    "complain_app": {"category": "app", "priority": "low"},
    "lodge_complaint": {"category": "other", "priority": "medium"},
}

# Words that make a fraud or collection report urgent (threats, data spread).
URGENT_WORDS = ("ancam", "sebar", "teror", "bunuh", "viral", "malu", "pukul", "kekerasan", "polisi")

URGENT_CATEGORIES = ("fraud", "unethical_collection")


def complaint_priority(category: str, priority: str, text: str) -> str:
    """``priority``, raised to urgent for a fraud or collection report with threat words in ``text``."""
    if category in URGENT_CATEGORIES and any(word in text.lower() for word in URGENT_WORDS):
        return "urgent"
    return priority


# A complaint the borrower names while asking for a person counts when the NLU
# ranks it at least this high: the FallbackClassifier's threshold, below which
# the bot would not act on an intent either (config.yml).
NAMED_COMPLAINT_MIN_CONFIDENCE = 0.25


def complaint_named_alongside(tracker: Tracker) -> Optional[Dict[str, str]]:
    """Category and priority of a complaint named in the same message as the best intent.

    "sambungkan ke cs, penagihnya kasar" reads as ``request_human`` first and
    ``complain_collection`` second; the handoff should still carry the
    collection category, so the queue puts it at high priority. The generic
    ``lodge_complaint`` names no category and is ignored.
    """
    latest = tracker.latest_message or {}
    text = latest.get("text") or ""
    for ranked in (latest.get("intent_ranking") or [])[1:3]:
        name = ranked.get("name")
        if name == "lodge_complaint" or name not in COMPLAINT_INTENTS:
            continue
        if float(ranked.get("confidence") or 0.0) < NAMED_COMPLAINT_MIN_CONFIDENCE:
            continue
        spec = dict(COMPLAINT_INTENTS[name])
        spec["priority"] = complaint_priority(spec["category"], spec["priority"], text)
        return spec
    return None


def latest_metadata(tracker: Tracker) -> Dict[str, Any]:
    """Metadata of the newest user message that carried any (desk channel)."""
    latest = tracker.latest_message or {}
    if latest.get("metadata"):
        return dict(latest["metadata"])
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("metadata"):
            return dict(event["metadata"])
    return {}


def conversation_id(tracker: Tracker) -> str:
    """The desk's conversation id (metadata), else the Rasa sender id."""
    return str(latest_metadata(tracker).get("conversation_id") or tracker.sender_id)


def channel_of(tracker: Tracker) -> str:
    """The channel the borrower writes on (whatsapp, telegram, inapp, …)."""
    return str(latest_metadata(tracker).get("channel") or "default")


def verified_customer(tracker: Tracker) -> Optional[str]:
    """Customer id verified by the desk (in-app metadata) or by our check."""
    return latest_metadata(tracker).get("customer_id") or tracker.get_slot("verified_customer_id")


def format_wib(iso_text: Optional[str]) -> Optional[str]:
    """Render an ISO-8601 timestamp as '5 Januari 2024 pukul 09.00 WIB'."""
    if not iso_text:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(iso_text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JAKARTA)
    local = moment.astimezone(JAKARTA)
    return f"{format_date_id(local.date())} pukul {local:%H.%M} WIB"


async def office_status(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """Ask the desk whether a person is available now on this channel."""
    result = await desk_client.office_hours(channel_of(tracker))
    if not result.ok:
        return None
    return result.data


FALLBACK_INTENT = "nlu_fallback"


def missed_in_a_row(tracker: Tracker) -> List[Dict[str, Any]]:
    """The borrower's latest messages the NLU did not understand, in a row, oldest first.

    Each is ``{"text", "candidates": [{"intent", "confidence"}, ...]}`` with the
    two likeliest intents: what the agent needs to answer, and what the desk
    offers as labels (issue #16).
    """
    missed: List[Dict[str, Any]] = []
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        if (parse.get("intent") or {}).get("name") != FALLBACK_INTENT:
            break
        ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT][:2]
        missed.append({"text": (event.get("text") or "")[:500],
                       "candidates": [{"intent": r.get("name"), "confidence": round(float(r.get("confidence") or 0), 3)}
                                      for r in ranking]})
    return list(reversed(missed))


def form_summary(tracker: Tracker, reason: str) -> Dict[str, Any]:
    """What the bot already knows, as data: the desk renders it for agents (handoff/summary.py)."""
    summary: Dict[str, Any] = {"reason": reason,
                               "last_intent": (tracker.latest_message or {}).get("intent", {}).get("name")}
    for slot in ("full_name", "product", "transaction_date", "complaint_category", "proposed_category",
                 "ticket_number", "account_query"):
        value = tracker.get_slot(slot)
        if value:
            summary[slot] = value
    if tracker.get_slot("phone"):
        summary["phone"] = mask_phone(tracker.get_slot("phone"))
    # The bot's view only; the desk shows "verified" from its own records.
    summary["verified"] = bool(tracker.get_slot("verified_customer_id") or latest_metadata(tracker).get("customer_id"))
    chronology = tracker.get_slot("chronology")
    if chronology:
        summary["chronology"] = chronology[:500]
    text = (tracker.latest_message or {}).get("text")
    if text and not chronology:
        summary["last_message"] = text[:500]
    missed = missed_in_a_row(tracker)
    if missed:
        summary["misunderstood"] = missed
    sentences = (tracker.latest_message or {}).get("sentences")
    if sentences:
        # A long message was read by its strongest complaint; the agent sees what each sentence was about.
        summary["sentences"] = [{"text": (s.get("text") or "")[:300], "intent": s.get("name")} for s in sentences][:8]
    return summary


async def hand_off(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    priority: str = "medium",
    category: Optional[str] = None,
    ticket_number: Optional[str] = None,
    intro: Optional[str] = None,
) -> List[EventType]:
    """Tell the borrower a person takes over and emit the handoff payload.

    The desk switches the conversation to a human when a bot message carries
    ``{"handoff": {...}}`` (docs/architecture.md). Outside office hours we say
    when a person will reply, from the desk's ``next_open_at``.
    """
    status = await office_status(tracker)
    lines = [intro or "Baik, Kak, saya hubungkan Anda dengan petugas CS kami."]
    hours_told = False
    if status is None:
        lines.append("Petugas kami akan membalas secepatnya di percakapan ini. "
                     f"Anda juga bisa menghubungi CS lewat {contacts_text()}.")
    elif status.get("open"):
        lines.append("Mohon tunggu sebentar, petugas akan segera membalas di percakapan ini.")
    else:
        when = format_wib(status.get("next_open_at"))
        if when:
            lines.append(f"Saat ini di luar jam layanan, petugas akan membalas mulai {when}. "
                         "Pesan Anda sudah kami teruskan, jadi tidak perlu mengulang cerita.")
            hours_told = True
        else:
            lines.append("Saat ini di luar jam layanan; petugas akan membalas pada jam kerja berikutnya.")
    if ticket_number:
        lines.append(f"Nomor tiket Anda: {ticket_number}.")
    dispatcher.utter_message(text=" ".join(lines))
    payload = {
        "handoff": {
            "reason": reason,
            "priority": priority,
            "category": category,
            "summary": form_summary(tracker, reason),
            "ticket_number": ticket_number,
            # This reply already says when a person answers, so the desk adds no notice of its own.
            "hours_told": hours_told,
        }
    }
    dispatcher.utter_message(json_message=payload)
    logger.info("handoff conversation=%s reason=%s priority=%s", conversation_id(tracker), reason, priority)
    return []


def category_label(code: Optional[str]) -> str:
    """Indonesian label of a complaint category code."""
    return CATEGORY_LABELS.get(code or "", CATEGORY_LABELS["other"])


def reset_slots(names: List[str]) -> List[EventType]:
    """SlotSet(None) for each name."""
    return [SlotSet(name, None) for name in names]
