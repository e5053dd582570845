"""Form validation actions (financial-demo style FormValidationAction)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import validators as v

# Fields a borrower may correct from the summary, in form order.
EDITABLE_FIELDS = ("full_name", "phone", "product", "transaction_date", "chronology", "complaint_category")


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


class IdentityValidators:
    """Name and phone checks shared by the complaint and verification forms."""

    async def validate_full_name(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Accept a plausible full name; strip 'nama saya …'."""
        if not value:
            return {"full_name": None}
        return _apply("full_name", v.check_full_name(str(value)), dispatcher)

    async def validate_phone(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Normalise to +62…; re-prompt with an example otherwise."""
        if not value:
            return {"phone": None}
        return _apply("phone", v.check_phone(str(value)), dispatcher)


class ValidateComplaintForm(IdentityValidators, FormValidationAction):
    """Validates the complaint form; handles corrections from the summary."""

    def name(self) -> Text:
        return "validate_complaint_form"

    async def extract_complaint_confirmed(self, dispatcher: CollectingDispatcher,
                                          tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """A field button on the summary clears that field so the form asks it again."""
        if tracker.get_slot("requested_slot") != "complaint_confirmed":
            return {}
        field = _latest_entity(tracker, "correct_field")
        if field in EDITABLE_FIELDS:
            return {field: None, "complaint_confirmed": None, "correct_field": None}
        return {}

    async def validate_product(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Map a name or synonym to one of the lender's products."""
        if not value:
            return {"product": None}
        return _apply("product", v.check_product(str(value)), dispatcher)

    async def validate_transaction_date(self, value: Any, dispatcher: CollectingDispatcher,
                                        tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Resolve Indonesian date phrases against today (WIB); no future dates."""
        if not value:
            return {"transaction_date": None}
        return _apply("transaction_date", v.check_transaction_date(str(value)), dispatcher)

    async def validate_chronology(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Require enough detail for an agent to act on."""
        if not value:
            return {"chronology": None}
        return _apply("chronology", v.check_chronology(str(value)), dispatcher)

    async def validate_complaint_category(self, value: Any, dispatcher: CollectingDispatcher,
                                          tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """'confirmed' takes the proposed category; a code or label picks one."""
        if not value or value == "rejected":
            return {"complaint_category": None}
        if value == "confirmed":
            return {"complaint_category": tracker.get_slot("proposed_category") or "other"}
        code = v.check_category(str(value))
        if code is None:
            dispatcher.utter_message(text="Mohon pilih salah satu kategori dari tombol yang tersedia, Kak.")
        return {"complaint_category": code}

    async def validate_complaint_confirmed(self, value: Any, dispatcher: CollectingDispatcher,
                                           tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """'submit' ends the form; 'change' re-asks with the list of fields."""
        if value == "submit":
            return {"complaint_confirmed": "submit"}
        return {"complaint_confirmed": None}


class ValidateVerifyForm(IdentityValidators, FormValidationAction):
    """Validates the identity check form (format only; the desk decides)."""

    def name(self) -> Text:
        return "validate_verify_form"

    async def validate_loan_id(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Accept LN-1234567 style ids or plain digits."""
        if not value:
            return {"loan_id": None}
        return _apply("loan_id", v.check_loan_id(str(value)), dispatcher)


class ValidateTicketForm(FormValidationAction):
    """Validates the ticket number asked before a status lookup."""

    def name(self) -> Text:
        return "validate_ticket_form"

    async def validate_ticket_number(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Normalise DCI 20240105 0001 → DCI-20240105-0001."""
        if not value:
            return {"ticket_number": None}
        return _apply("ticket_number", v.check_ticket_number(str(value)), dispatcher)
