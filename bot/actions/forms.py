"""Form validation actions (financial-demo style FormValidationAction).

Two rules hold for every slot of every form (issue #11):

* **Plausible values only.** Each value goes through a check in
  ``validators.py`` (a name is not "iya", a phone is a phone, a date is a
  date and not in the future…); identifiers are read from the raw message
  text with ``identifiers.py``, not from the NLU entity span alone.
* **Bounded retries.** A question is asked at most ``MAX_ASKS`` times in a
  row. The first miss re-prompts; after the second the ask shows the choices
  again with a way out ("Lainnya / tidak tahu", "Tidak ingat", "petugas");
  the third miss either moves on with what the borrower could say (product
  unknown, date not remembered, the chronology as written, category
  "Lainnya") or, where the form cannot go on without the value (name, phone,
  loan id, ticket number, consent to submit), hands over to a person.

A bare digit answers the buttons of the bot's last question ("1" in the web
chat, where buttons are not numbered as on WhatsApp).
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import content
from actions import identifiers as ids
from actions import validators as v
from actions.common import hand_off

# Fields a borrower may correct from the summary, in form order.
EDITABLE_FIELDS = ("full_name", "phone", "product", "transaction_date", "chronology", "complaint_category")
# How often one question is asked in a row before the form moves on or hands over.
MAX_ASKS = 3
# transaction_date when the borrower does not remember it (sent to the desk as null).
UNKNOWN_DATE = "unknown"
MISSES_SLOT = "form_misses"
# Intents answered inside a form before the question is asked again (rules.yml);
# domain.yml keeps them out of the from_text mappings. A greeting is one of them:
# "halo" at the product question is greeted back, not taken as a product.
DIGRESSION_INTENTS = frozenset({"ask_payment_method", "ask_how_to_apply", "ask_product_info",
                                "ask_complaint_procedure", "ask_operating_hours", "bot_challenge", "greet"})
HANDOFF_SLOT = "form_handoff"

_PAYLOAD = re.compile(r"^/(?P<intent>\w+)(?P<entities>\{.*\})?$")


def _apply(slot: str, checked: v.Checked, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
    """Turn a validator result into slot values, uttering the re-prompt on failure."""
    value, reprompt = checked
    if value is None and reprompt:
        dispatcher.utter_message(text=reprompt)
    return {slot: value}


def _latest_entity(tracker: Tracker, entity: str) -> Optional[str]:
    for item in (tracker.latest_message or {}).get("entities") or []:
        if item.get("entity") == entity and item.get("value"):
            return str(item["value"])
    return None


def raw_text(tracker: Tracker) -> str:
    """What the borrower typed this turn ("" for a button payload such as /affirm)."""
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    return "" if text.startswith("/") else text


def digit_choice(tracker: Tracker) -> Optional[Tuple[str, Dict[str, Any]]]:
    """A bare "1".."9" picks that button of the bot's previous answer: (intent, entities)."""
    match = re.fullmatch(r"(?:no\.?\s*|nomor\s*)?(\d{1,2})[.)]?", raw_text(tracker), re.IGNORECASE)
    if not match:
        return None
    index = int(match.group(1))
    users_seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users_seen += 1
            if users_seen > 1:
                return None  # only the answer to the message before this one counts
            continue
        if event.get("event") != "bot":
            continue
        buttons = (event.get("data") or {}).get("buttons") or []
        if buttons:
            return parse_payload(str(buttons[index - 1].get("payload") or "")) if 1 <= index <= len(buttons) else None
    return None


def parse_payload(payload: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """'/inform{"product":"PayLater"}' → ("inform", {"product": "PayLater"})."""
    match = _PAYLOAD.match(payload.strip())
    if not match:
        return None
    try:
        entities = json.loads(match.group("entities") or "{}")
    except ValueError:
        entities = {}
    return match.group("intent"), entities if isinstance(entities, dict) else {}


def misses(tracker: Tracker, slot: str) -> int:
    """How often the value asked for ``slot`` was missed in a row."""
    state = tracker.get_slot(MISSES_SLOT) or {}
    if isinstance(state, dict) and state.get("slot") == slot:
        return int(state.get("count") or 0)
    return 0


def add_to_chronology(chronology: str, detail: str) -> str:
    """The chronology with ``detail`` appended on a line of its own, within the 2,000 characters kept."""
    if detail.strip() in chronology:
        return chronology  # the same words sent twice are told once
    return f"{chronology}\n{detail.strip()}"[:2000]


class BoundedForm:
    """Re-prompt, count, then move on or hand over: the retry rule of every form slot."""

    #: slot → the value to move on with after the last miss; absent → hand over.
    move_on_values: Dict[str, Any] = {}
    #: what the borrower hears when the form moves on, per slot.
    move_on_notes: Dict[str, str] = {}
    handoff_reason = "fallback"

    def accepted(self, slot: str, value: Any, tracker: Tracker) -> Dict[Text, Any]:
        """A good value: store it and forget this slot's misses (not another slot's: a phone
        given while the name is asked must not reset the count of the name question)."""
        if misses(tracker, slot):
            return {slot: value, MISSES_SLOT: None}
        return {slot: value}

    async def missed(self, slot: str, reprompt: Optional[str], dispatcher: CollectingDispatcher,
                     tracker: Tracker, fallback_value: Any = None) -> Dict[Text, Any]:
        """A value that did not pass for ``slot``; the third miss in a row ends the question."""
        if tracker.get_slot("requested_slot") != slot:
            # A prefilled value or a correction typed elsewhere: say why, count nothing.
            if reprompt:
                dispatcher.utter_message(text=reprompt)
            return {slot: None}
        count = misses(tracker, slot) + 1
        if count < MAX_ASKS:
            if reprompt:
                dispatcher.utter_message(text=reprompt)
            return {slot: None, MISSES_SLOT: {"slot": slot, "count": count}}
        if slot in self.move_on_values:
            value = fallback_value if fallback_value is not None else self.move_on_values[slot]
            note = self.move_on_notes.get(slot)
            if note:
                dispatcher.utter_message(text=note)
            return {slot: value, MISSES_SLOT: None}
        tracker.slots[slot] = None  # the summary for the agent must not carry the rejected text as a value
        await hand_off(
            dispatcher, tracker, self.handoff_reason, tracker.get_slot("priority") or "medium",
            tracker.get_slot("complaint_category") or tracker.get_slot("proposed_category"),
            intro=("Mohon maaf, Kak, sepertinya saya belum bisa menangkap jawabannya. Agar tidak berulang-ulang, "
                   "saya hubungkan Anda dengan petugas CS kami; data yang sudah Anda berikan ikut saya teruskan."))
        # requested_slot None ends the form; the action after it sees form_handoff and stays quiet.
        return {slot: None, MISSES_SLOT: None, HANDOFF_SLOT: True, "requested_slot": None}


class IdentityValidators(BoundedForm):
    """Name and phone checks shared by the complaint and verification forms."""

    async def validate_full_name(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """A plausible full name, read from the whole message when it was asked for, else the entity."""
        if not value:
            return {"full_name": None}
        candidates = [str(value)]
        if tracker.get_slot("requested_slot") == "full_name" and raw_text(tracker):
            candidates.insert(0, raw_text(tracker))  # a CRF span may hold half the name
        reprompt = None
        for candidate in candidates:
            name, reprompt = v.check_full_name(candidate)
            if name:
                return self.accepted("full_name", name, tracker)
        return await self.missed("full_name", reprompt, dispatcher, tracker)

    async def validate_phone(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Read the number from the whole message (a CRF span may be cut); normalise to +62…"""
        if not value:
            return {"phone": None}
        phone = ids.find_phone(raw_text(tracker)) if tracker.get_slot("requested_slot") in ("phone", "full_name",
                                                                                              "complaint_confirmed") else None
        checked = (phone, None) if phone else v.check_phone(str(value))
        if checked[0]:
            return self.accepted("phone", checked[0], tracker)
        return await self.missed("phone", checked[1], dispatcher, tracker)


class ValidateComplaintForm(IdentityValidators, FormValidationAction):
    """Validates the complaint form; handles corrections from the summary."""

    move_on_values = {"product": v.UNKNOWN_PRODUCT, "transaction_date": UNKNOWN_DATE,
                      "chronology": "", "complaint_category": "other"}
    move_on_notes = {
        "product": "Baik, Kak, produknya saya catat sebagai \"Lainnya/tidak tahu\"; petugas kami akan melengkapinya.",
        "transaction_date": "Baik, Kak, tanggalnya saya catat \"tidak ingat\"; petugas kami akan menanyakannya bila perlu.",
        "chronology": "Baik, Kak, cerita Anda saya catat apa adanya; petugas kami akan menanyakan detailnya bila perlu.",
        "complaint_category": "Baik, Kak, kategorinya saya catat sebagai \"Lainnya\"; petugas kami akan menyesuaikannya.",
    }

    def name(self) -> Text:
        return "validate_complaint_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        """Extract, validate, and keep what the extraction set on helper slots.

        rasa_sdk returns only the validated *required* slots, dropping what an
        ``extract_`` method set on others: the field choice on the summary
        clears ``confirm_step``, and losing that made the form list the fields
        again after every corrected answer, forever.
        """
        extracted = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extracted)
        validated = await self._extract_validation_events(dispatcher, tracker, domain)
        names = {e.get("name") for e in validated if e.get("event") == "slot"}
        return [e for e in extracted if e.get("name") not in names] + validated

    async def extract_complaint_confirmed(self, dispatcher: CollectingDispatcher,
                                          tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """A field button (or its number) on the summary clears that field so the form asks it again."""
        if tracker.get_slot("requested_slot") != "complaint_confirmed":
            return {}
        field = _latest_entity(tracker, "correct_field")
        choice = digit_choice(tracker)
        if not field and choice:
            field = choice[1].get("correct_field")
        if field in EDITABLE_FIELDS:
            return {field: None, "complaint_confirmed": None, "correct_field": None, "confirm_step": None,
                    MISSES_SLOT: None}
        return {}

    async def validate_product(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Map a name, synonym, button number or 'tidak tahu' to one of the lender's products."""
        if not value:
            return {"product": None}
        choice = digit_choice(tracker)
        if choice and choice[1].get("product"):
            value = choice[1]["product"]
        name, reprompt = v.check_product(str(value))
        if name:
            return self.accepted("product", name, tracker)
        return await self.missed("product", reprompt, dispatcher, tracker)

    async def validate_transaction_date(self, value: Any, dispatcher: CollectingDispatcher,
                                        tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Resolve Indonesian date phrases against today (WIB); no future dates; 'tidak ingat' is an answer."""
        if not value:
            return {"transaction_date": None}
        if value == UNKNOWN_DATE:
            return self.accepted("transaction_date", UNKNOWN_DATE, tracker)
        choice = digit_choice(tracker)
        if choice and choice[1].get("date"):
            value = choice[1]["date"]
        # The CRF may tag only part of a phrase ("kemarin" in "tgl 5 kemarin"):
        # when the date was what we asked for, read the whole message first.
        text = raw_text(tracker)
        asked = tracker.get_slot("requested_slot") == "transaction_date"
        if asked and v.is_dont_know(text or str(value)):
            return self.accepted("transaction_date", UNKNOWN_DATE, tracker)
        if asked and text:
            whole = v.check_transaction_date(text)
            if whole[0] is not None:
                return self.accepted("transaction_date", whole[0], tracker)
        if v.is_dont_know(str(value)):
            return self.accepted("transaction_date", UNKNOWN_DATE, tracker)
        date, reprompt = v.check_transaction_date(str(value))
        if date:
            return self.accepted("transaction_date", date, tracker)
        return await self.missed("transaction_date", reprompt, dispatcher, tracker)

    async def validate_chronology(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Require enough detail for an agent to act on; after the last miss keep what was written."""
        if not value:
            return {"chronology": None}
        story, reprompt = v.check_chronology(str(value))
        if story:
            return self.accepted("chronology", story, tracker)
        return await self.missed("chronology", reprompt, dispatcher, tracker,
                                 fallback_value=str(value).strip()[:2000] or None)

    async def validate_complaint_category(self, value: Any, dispatcher: CollectingDispatcher,
                                          tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """'confirmed' takes the proposed category; a code, label or button number picks one."""
        if not value:
            return {"complaint_category": None}
        choice = digit_choice(tracker)
        if choice:
            intent, entities = choice
            value = {"affirm": "confirmed", "deny": "rejected"}.get(intent) or entities.get("category") or value
        if value == "rejected":
            # Show every category next; not a miss.
            return {"complaint_category": None, "proposed_category": "other"}
        if value == "confirmed":
            return self.accepted("complaint_category", tracker.get_slot("proposed_category") or "other", tracker)
        code = v.check_category(str(value))
        if code is None and v.is_dont_know(str(value)):
            code = "other"
        if code:
            return self.accepted("complaint_category", code, tracker)
        detail, _ = v.check_chronology(str(value))
        if detail and tracker.get_slot("chronology") and tracker.get_slot("requested_slot") == "complaint_category":
            # Borrowers often answer the category question with more of their story; it belongs
            # in the chronology the agent reads, not thrown away. Still a miss of the question,
            # so a borrower who keeps writing is not asked forever.
            out = await self.missed(
                "complaint_category",
                "Baik, Kak, keterangan itu saya tambahkan ke kronologi aduan Anda. Sekarang mohon pilih salah satu "
                "kategori dari tombol yang tersedia.", dispatcher, tracker)
            return {**out, "chronology": add_to_chronology(tracker.get_slot("chronology"), detail)}
        return await self.missed(
            "complaint_category", "Mohon pilih salah satu kategori dari tombol yang tersedia, Kak.", dispatcher,
            tracker)

    async def validate_complaint_confirmed(self, value: Any, dispatcher: CollectingDispatcher,
                                           tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """'submit' ends the form; 'change' lists the fields; a typed correction shows the summary again."""
        choice = digit_choice(tracker)
        if choice:
            value = {"affirm": "submit", "deny": "change"}.get(choice[0], value)
        if value == "submit":
            return self.accepted("complaint_confirmed", "submit", tracker)
        if value == "change":
            return {"complaint_confirmed": None, "confirm_step": "fields", MISSES_SLOT: None}
        corrected = [s for s, val in tracker.slots_to_validate().items() if s in EDITABLE_FIELDS and val]
        if corrected or not value:
            return {"complaint_confirmed": None, "confirm_step": None}  # show the corrected summary
        return await self.missed(
            "complaint_confirmed", "Mohon pilih \"Kirim\" untuk mengirim aduan, atau \"Ubah data\" bila ada yang "
            "perlu diperbaiki, Kak.", dispatcher, tracker)


class ValidateVerifyForm(IdentityValidators, FormValidationAction):
    """Validates the identity check form (format only; the desk decides)."""

    handoff_reason = "verification_failed"

    def name(self) -> Text:
        return "validate_verify_form"

    async def validate_loan_id(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """A loan id (PJ-2024-000123) or order id (APP-88001), read whole from the message."""
        if not value:
            return {"loan_id": None}
        found = ids.find_loan_id(raw_text(tracker)) or ids.find_loan_id(str(value))
        if found:
            return self.accepted("loan_id", found, tracker)
        return await self.missed("loan_id", v.check_loan_id(str(value))[1], dispatcher, tracker)


class ValidateTicketForm(BoundedForm, FormValidationAction):
    """Validates the ticket number asked before a status lookup."""

    handoff_reason = "complex_case"

    def name(self) -> Text:
        return "validate_ticket_form"

    async def validate_ticket_number(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """The whole number with its check digit, read from the message; the lender's prefix may be left out."""
        if not value:
            return {"ticket_number": None}
        prefix = content.ticket_prefix() if tracker.get_slot("requested_slot") == "ticket_number" else None
        for candidate in (raw_text(tracker), str(value)):
            number, reprompt = v.check_ticket_number(candidate, prefix)
            if number:
                return self.accepted("ticket_number", number, tracker)
        _, reprompt = v.check_ticket_number(raw_text(tracker) or str(value))
        return await self.missed("ticket_number", reprompt, dispatcher, tracker)
