"""Custom actions: FAQ answers, account data behind verification,
complaint tickets, ticket look-up, handoff and fallback suggestions."""
from __future__ import annotations

import logging
import uuid
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import content, desk_client
from actions import identifiers as ids
from actions import validators as v
from actions.common import (
    COMPLAINT_INTENTS, URGENT_CATEGORIES, category_label, channel_of, complaint_named_alongside,
    complaint_priority, conversation_id, format_wib, hand_off, latest_metadata, missed_in_a_row, office_status,
    reset_slots, verified_customer,
)
from actions.content import CATEGORY_LABELS
from actions.forms import (
    DIGRESSION_INTENTS, EDITABLE_FIELDS, HANDOFF_SLOT, MAX_ASKS, MISSES_SLOT, UNKNOWN_DATE, misses,
)
from actions.phone import mask_phone, normalise_phone

logger = logging.getLogger(__name__)

MAX_VERIFY_ATTEMPTS = 3
COMPLAINT_SLOTS = ["product", "transaction_date", "chronology", "complaint_category",
                   "complaint_confirmed", "correct_field"]
VERIFY_SLOTS = ["full_name", "phone", "loan_id"]

FAQ_KEYS = {
    "ask_payment_method": "payment_method",
    "ask_how_to_apply": "how_to_apply",
    "ask_product_info": "product_info",
    "ask_complaint_procedure": "complaint_procedure",
    "ask_operating_hours": "operating_hours",
}

# Short Indonesian titles for fallback buttons.
TOPIC_TITLES = {
    "ask_payment_method": "Cara pembayaran",
    "ask_bill_amount": "Cek tagihan",
    "ask_application_status": "Status pengajuan",
    "ask_how_to_apply": "Cara mengajukan pinjaman",
    "ask_product_info": "Info produk & bunga",
    "ask_complaint_procedure": "Prosedur pengaduan",
    "ask_operating_hours": "Jam layanan CS",
    "complain_payment": "Masalah pembayaran",
    "complain_fraud": "Lapor penipuan",
    "complain_collection": "Keluhan penagihan",
    "request_relief": "Keringanan pembayaran",
    "change_phone_number": "Ganti nomor HP",
    "complain_app": "Masalah aplikasi",
    "request_human": "Bicara dengan petugas",
    "check_ticket_status": "Cek status tiket",
    "lodge_complaint": "Buat pengaduan",
}


def _rupiah(amount: Any) -> str:
    try:
        return "Rp" + f"{int(float(amount)):,}".replace(",", ".")
    except (TypeError, ValueError):
        return "-"


def _intent(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


class ActionAnswerFaq(Action):
    """Answer general questions from the lender content file."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        intent = _intent(tracker)
        key = FAQ_KEYS.get(intent or "", "")
        product = None
        for entity in (tracker.latest_message or {}).get("entities") or []:
            if entity.get("entity") == "product":
                product = content.match_product(str(entity.get("value")))
        text = content.faq(key, product.get("code") if product else None) if key else None
        if not text:
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        status = await office_status(tracker) if key == "operating_hours" else None
        # The desk words every channel's hours (tickets.calendar); our own reading of the file is the fallback.
        hours = "\n".join(f"• {c['label']}: {c['hours_text']}" for c in (status or {}).get("channels") or []) \
            or content.office_hours_text()
        text = text.replace("{hours}", hours).replace("{contacts}", content.contacts_text())
        if key == "operating_hours":
            if status is not None:
                if status.get("open"):
                    text += "\nSaat ini petugas kami sedang bertugas dan siap membantu."
                else:
                    when = format_wib(status.get("next_open_at"))
                    text += ("\nSaat ini di luar jam layanan" +
                             (f"; petugas kembali melayani mulai {when}." if when else "."))
        dispatcher.utter_message(text=text)
        return []


class ActionPrepareAccountQuery(Action):
    """Remember what account data was asked and whether the borrower is verified."""

    def name(self) -> Text:
        return "action_prepare_account_query"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        query = "application" if _intent(tracker) == "ask_application_status" else "bill"
        customer_id = verified_customer(tracker)
        events: List[EventType] = [SlotSet("account_query", query)]
        if customer_id:
            return events + [SlotSet("verified_customer_id", customer_id),
                             SlotSet("verification_status", "verified")]
        dispatcher.utter_message(text=content.prompt("start_verification"))
        return events + [SlotSet("verification_status", "unverified")]


class ActionVerifyCustomer(Action):
    """Check name + registered phone + loan id with the desk; 3 strikes → human."""

    def name(self) -> Text:
        return "action_verify_customer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if verified_customer(tracker):
            return [SlotSet("verified_customer_id", verified_customer(tracker)),
                    SlotSet("verification_status", "verified")]
        if tracker.get_slot(HANDOFF_SLOT):
            # The identity form handed over after its last miss; the borrower was told.
            return [SlotSet(HANDOFF_SLOT, None), SlotSet("verification_status", "locked")] + reset_slots(VERIFY_SLOTS)
        phone = normalise_phone(tracker.get_slot("phone") or "") or ""
        result = await desk_client.verify_customer(
            conversation_id(tracker), tracker.get_slot("full_name") or "", phone, tracker.get_slot("loan_id") or "")
        if result.ok and result.data.get("verified") and result.data.get("customer_id"):
            logger.info("verified conversation=%s phone=%s", conversation_id(tracker), mask_phone(phone))
            return [SlotSet("verified_customer_id", str(result.data["customer_id"])),
                    SlotSet("verification_status", "verified"), SlotSet("verify_attempts", 0)]
        if not result.ok:
            # The desk is down or refused the call: never guess, hand over.
            events = await hand_off(
                dispatcher, tracker, "verification_failed", "medium", tracker.get_slot("proposed_category"),
                intro="Mohon maaf, Kak, sistem verifikasi kami sedang mengalami gangguan.")
            return events + [SlotSet("verification_status", "locked")] + reset_slots(["loan_id"])
        attempts = int(tracker.get_slot("verify_attempts") or 0) + 1
        logger.info("verification failed conversation=%s attempt=%s", conversation_id(tracker), attempts)
        if attempts >= MAX_VERIFY_ATTEMPTS:
            events = await hand_off(
                dispatcher, tracker, "verification_failed", "medium", None,
                intro="Mohon maaf, Kak, data yang Anda berikan belum dapat kami verifikasi.")
            return events + [SlotSet("verify_attempts", attempts), SlotSet("verification_status", "locked")] \
                + reset_slots(VERIFY_SLOTS)
        # Never say which part did not match or whether the number is registered.
        dispatcher.utter_message(
            text=(f"Mohon maaf, Kak, data tersebut belum sesuai dengan catatan kami. Mohon periksa kembali "
                  f"nama lengkap, nomor HP terdaftar dan nomor pinjaman Anda "
                  f"(percobaan {attempts} dari {MAX_VERIFY_ATTEMPTS})."))
        return [SlotSet("verify_attempts", attempts), SlotSet("verification_status", "retry")] \
            + reset_slots(VERIFY_SLOTS)


async def describe_ticket(dispatcher: CollectingDispatcher, tracker: Tracker,
                          number: str, verified: bool) -> str:
    """Look a ticket up and answer; returns the outcome (found/not_found/forbidden/error)."""
    result = await desk_client.get_ticket(number, conversation_id(tracker))
    if result.ok:
        data = result.data
        due = format_wib(data.get("resolution_due"))
        lines = [f"Status tiket {data.get('ticket_number', number)}: {data.get('status_label') or data.get('status')}."]
        if data.get("category"):
            lines.append(f"Kategori: {category_label(data.get('category'))}.")
        # The desk sends the time of the ticket's last change (ISO 8601), not a text.
        updated = format_wib(data.get("last_update"))
        if updated:
            lines.append(f"Terakhir diperbarui: {updated}.")
        if due:
            lines.append(f"Batas waktu penyelesaian: {due}.")
        dispatcher.utter_message(text="\n".join(lines))
        return "found"
    if result.status == 404 or (result.status == 403 and verified):
        dispatcher.utter_message(
            text=(f"Mohon maaf, Kak, tiket {number} tidak kami temukan untuk akun Anda. Mohon periksa kembali "
                  "nomornya, atau hubungi CS kami di " + content.contacts_text() + "."))
        return "not_found"
    if result.status == 403:
        dispatcher.utter_message(
            text="Untuk melihat status tiket ini, saya perlu memastikan bahwa Anda adalah pelapornya, Kak.")
        return "forbidden"
    await hand_off(dispatcher, tracker, "complex_case", "medium", None, ticket_number=number,
                   intro="Mohon maaf, Kak, status tiket belum bisa saya cek karena sistem kami sedang gangguan.")
    return "error"


# The borrower's answer to a resolution or rejection notice (docs/bot.md, "Answering a resolution").
# Explicit intents always ask the desk; a bare "ya"/"tidak" (affirm/deny outside a form) counts only
# while the notice is the last thing the borrower was told (``only_if_last``).
RESOLUTION_ANSWERS = {"resolution_accept": "accept", "affirm": "accept", "resolution_dispute": "dispute",
                      "deny": "dispute", "resolution_next_step": "next_step"}
BARE_INTENTS = ("affirm", "deny")
# The slot the rules branch on (data/rules.yml): answered (the action said everything), rate (ask
# for a rating next), nothing_pending (the rule's response for the intent: no notice awaits it).
RESOLUTION_SLOT = "resolution_answer"


class ActionAnswerResolution(Action):
    """Accept, dispute or ask the next step after a resolution: the desk records it and words the reply."""

    def name(self) -> Text:
        return "action_answer_resolution"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        intent = _intent(tracker) or ""
        answer = RESOLUTION_ANSWERS.get(intent, "next_step")
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        bare = intent in BARE_INTENTS
        result = await desk_client.answer_resolution(conversation_id(tracker), answer, text, only_if_last=bare)
        if result.ok and result.data.get("reply_text"):
            dispatcher.utter_message(text=str(result.data["reply_text"]))
            # The desk takes the score (handoff.rating) when there is a chat to rate.
            rate = result.data.get("outcome") == "accepted" and bool(result.data.get("rating_open"))
            return [SlotSet(RESOLUTION_SLOT, "rate" if rate else "answered")]
        if answer == "next_step":
            # Where to go next does not depend on a ticket: the lender's own text, even with the desk down.
            dispatcher.utter_message(text=content.dispute_next_step() or content.faq("complaint_procedure") or "")
            return [SlotSet(RESOLUTION_SLOT, "answered")]
        if bare or result.status in (403, 404, 409):
            # No notice awaits this answer (or, for a bare "ya"/"tidak", the desk cannot tell):
            # the rule for the intent says the usual thing.
            return [SlotSet(RESOLUTION_SLOT, "nothing_pending")]
        # The desk is down or refused the request: a person reads the answer rather than losing it.
        events = await hand_off(dispatcher, tracker, "complex_case", "medium", None,
                                intro=("Mohon maaf, Kak, tanggapan Anda atas penyelesaian pengaduan belum bisa "
                                       "saya catat karena sistem kami sedang gangguan. Saya teruskan ke petugas "
                                       "kami agar tetap ditindaklanjuti."))
        return events + [SlotSet(RESOLUTION_SLOT, "answered")]


class ActionCheckTicket(Action):
    """Look up a ticket for the borrower who filed it."""

    def name(self) -> Text:
        return "action_check_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        number = tracker.get_slot("ticket_number") or ""
        if tracker.get_slot(HANDOFF_SLOT) or not number:
            # The ticket form handed over after its last miss; the borrower was told.
            return [SlotSet(HANDOFF_SLOT, None), SlotSet("ticket_lookup", "error"), SlotSet("ticket_number", None)]
        outcome = await describe_ticket(dispatcher, tracker, number, bool(verified_customer(tracker)))
        events: List[EventType] = [SlotSet("ticket_lookup", outcome)]
        if outcome == "forbidden":
            return events + [SlotSet("account_query", "ticket"), SlotSet("verification_status", "unverified")]
        return events + [SlotSet("ticket_number", None)]


class ActionAnswerAccountQuery(Action):
    """Answer bill / application / ticket questions for a verified borrower."""

    def name(self) -> Text:
        return "action_answer_account_query"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        customer_id = verified_customer(tracker)
        query = tracker.get_slot("account_query") or "bill"
        done: List[EventType] = [SlotSet("account_query", None)]
        if not customer_id:  # rules only get here verified; stay safe anyway
            dispatcher.utter_message(text=content.prompt("start_verification"))
            return done
        if query == "ticket":
            number = tracker.get_slot("ticket_number") or ""
            outcome = await describe_ticket(dispatcher, tracker, number, verified=True)
            return done + [SlotSet("ticket_lookup", outcome), SlotSet("ticket_number", None)]
        result = await desk_client.get_account(customer_id)
        if not result.ok:
            events = await hand_off(dispatcher, tracker, "complex_case", "medium", None,
                                    intro="Mohon maaf, Kak, data akun belum bisa saya tampilkan saat ini.")
            return done + events
        data = result.data
        if query == "application":
            apps = data.get("applications") or []
            if not apps:
                dispatcher.utter_message(text="Saat ini tidak ada pengajuan pinjaman yang tercatat atas nama Anda, Kak.")
                return done
            lines = ["Status pengajuan Anda:"] + [describe_application(app) for app in apps]
            dispatcher.utter_message(text="\n".join(lines))
            return done
        loans = data.get("loans") or []
        if not loans:
            dispatcher.utter_message(text="Saat ini tidak ada tagihan aktif atas nama Anda, Kak.")
            return done
        lines = ["Tagihan Anda:"] + [describe_loan(loan) for loan in loans]
        lines.append("Cara bayar bisa Anda tanyakan ke saya kapan saja, Kak.")
        dispatcher.utter_message(text="\n".join(lines))
        return done


# Plain Indonesian for the lending core's status codes, used when it sends no label.
APPLICATION_STATUS = {
    "submitted": "Sudah kami terima dan menunggu peninjauan", "in_review": "Sedang ditinjau",
    "review": "Sedang ditinjau", "approved": "Disetujui, dana segera dicairkan",
    "disbursed": "Dana sudah dicairkan", "rejected": "Belum dapat disetujui",
    "cancelled": "Dibatalkan",
}
LOAN_STATUS_NOTE = {"overdue": "sudah lewat jatuh tempo", "restructured": "dalam program restrukturisasi"}


def describe_application(app: Dict[str, Any]) -> str:
    """One bullet line: product name (not its code), application id, status in words."""
    status = app.get("status_label") or APPLICATION_STATUS.get(str(app.get("status")), "Sedang diproses")
    line = f"• {content.product_name(app.get('product'))} ({app.get('application_id')}): {status}"
    updated = v.describe_date(str(app.get("updated_at") or "")[:10]) if app.get("updated_at") else ""
    return line + (f" (diperbarui {updated})." if updated and updated != "-" else ".")


def describe_loan(loan: Dict[str, Any]) -> str:
    """One bullet line per loan; a loan with nothing due says so instead of "Rp0, jatuh tempo -"."""
    head = f"• {content.product_name(loan.get('product'))} ({loan.get('loan_id')})"
    bill = _amount(loan.get("bill_amount"))
    outstanding = _amount(loan.get("outstanding"))
    if loan.get("status") == "paid_off" or (not bill and not outstanding):
        return f"{head}: sudah lunas, tidak ada tagihan."
    if not bill:
        return f"{head}: tidak ada tagihan yang perlu dibayar saat ini (sisa pinjaman {_rupiah(outstanding)})."
    line = f"{head}: tagihan {_rupiah(bill)}"
    if loan.get("due_date"):
        line += f", jatuh tempo {v.describe_date(loan.get('due_date'))}"
    # Borrowers ask "dendanya berapa" as often as "tagihannya berapa": a bill without a fine says so.
    line += f", denda {_rupiah(loan.get('late_fee'))}" if _amount(loan.get("late_fee")) else ", tanpa denda"
    note = LOAN_STATUS_NOTE.get(str(loan.get("status")))
    return line + (f" ({note})." if note else ".")


def _amount(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


class ActionStartComplaint(Action):
    """Propose a category from the intent; fraud and collection threats go to a person now."""

    def name(self) -> Text:
        return "action_start_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        spec = COMPLAINT_INTENTS.get(_intent(tracker) or "", COMPLAINT_INTENTS["lodge_complaint"])
        category, priority = spec["category"], spec["priority"]
        text = ((tracker.latest_message or {}).get("text") or "").lower()
        events: List[EventType] = [SlotSet("proposed_category", category),
                                   SlotSet("complaint_id", uuid.uuid4().hex)]
        if category in URGENT_CATEGORIES:
            priority = complaint_priority(category, priority, text)
            reason = "fraud" if category == "fraud" else "collection_threat"
            intro = ("Terima kasih sudah melapor, Kak. Laporan ini kami tangani sebagai prioritas dan "
                     "saya teruskan langsung ke petugas kami. Mohon jangan berikan kode OTP, PIN, atau "
                     "kata sandi kepada siapa pun, termasuk yang mengaku petugas kami.")
            if category == "unethical_collection":
                intro = ("Mohon maaf atas pengalaman yang tidak menyenangkan ini, Kak. Penagihan dengan ancaman "
                         "atau menyebarkan data tidak dibenarkan, dan laporan Anda saya teruskan langsung ke "
                         "petugas kami sebagai prioritas.")
            number, receipt = await _file_urgent_ticket(tracker, category, priority, reason, events)
            handoff = await hand_off(dispatcher, tracker, reason, priority, category, ticket_number=number,
                                     intro=intro)
            if receipt:
                dispatcher.utter_message(text=receipt)
            return events + handoff + [SlotSet("priority", priority), SlotSet("complaint_route", "handoff"),
                                       SlotSet("ticket_number", number)]
        dispatcher.utter_message(
            text=(f"Baik, Kak, saya bantu catat pengaduan Anda ({category_label(category)}). "
                  "Saya perlu beberapa data singkat. Ketik \"batal\" kapan saja jika tidak jadi."))
        events += [SlotSet("priority", priority), SlotSet("complaint_route", "form")] \
            + reset_slots(COMPLAINT_SLOTS + [MISSES_SLOT, HANDOFF_SLOT, "confirm_step"])
        known = await self._prefill(tracker, text)
        events += [SlotSet(slot, value) for slot, value in known.items()]
        note = self._prefill_note(known)
        if note:
            dispatcher.utter_message(text=note)
        return events

    async def _prefill(self, tracker: Tracker, lowered: str) -> Dict[str, Any]:
        """What the form need not ask: the verified account's name and phone, the opening message's facts."""
        known: Dict[str, Any] = {}
        metadata = latest_metadata(tracker)
        name = tracker.get_slot("full_name")
        if name and v.check_full_name(name)[0] is None:
            name = None
        customer_id = verified_customer(tracker)
        account_phone = None
        if customer_id:
            result = await desk_client.get_account(customer_id)
            if result.ok and result.data.get("full_name"):
                name = v.check_full_name(str(result.data["full_name"]))[0] or name
                account_phone = normalise_phone(str(result.data.get("phone") or ""))
                known["prefilled_from_account"] = True
        known["full_name"] = name
        known["phone"] = (account_phone or normalise_phone(tracker.get_slot("phone") or "")
                          or normalise_phone(str(metadata.get("phone") or "")))
        product = content.match_product(tracker.get_slot("product") or lowered)
        if product:
            known["product"] = product["name"]
        # "sy udh bayar cicilan tgl 25 kmrn tp di aplikasi masih nunggak" already says when and what.
        opening = ((tracker.latest_message or {}).get("text") or "").strip()
        if opening and not opening.startswith("/"):
            date, _ = v.check_transaction_date(opening)
            if date:
                known["transaction_date"] = date
            story, _ = v.check_chronology(opening)
            if story:
                known["chronology"] = story
        return known

    @staticmethod
    def _prefill_note(known: Dict[str, Any]) -> Optional[str]:
        """Tell the borrower what was taken over, to be confirmed on the summary instead of asked again."""
        parts = []
        if known.pop("prefilled_from_account", False) and known.get("full_name"):
            parts.append(f"nama {known['full_name']}" + (f" dan nomor HP {known['phone']}" if known.get("phone") else "")
                         + " dari akun Anda")
        if known.get("transaction_date"):
            parts.append(f"tanggal transaksi {v.describe_date(known['transaction_date'])}")
        if known.get("chronology"):
            parts.append("cerita Anda tadi sebagai kronologi")
        if not parts:
            return None
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " dan " + parts[-1]
        return (f"Saya sudah mencatat {listed}, jadi tidak perlu ditulis ulang. "
                "Semuanya bisa Anda periksa dan ubah di ringkasan sebelum aduan dikirim.")


async def _file_urgent_ticket(tracker: Tracker, category: str, priority: str, reason: str,
                              events: List[EventType]) -> tuple:
    """File the ticket of a complaint that goes to people before the form (fraud, collection threats).

    Every complaint that reaches people has a ticket, so its regulatory clock
    starts now: the desk gets what the bot knows (the borrower's own words as
    the chronology) marked ``incomplete``; the agent completes the rest.
    Returns (ticket number, receipt text), or (None, None) when the desk
    could not file it (the handoff still goes, its summary keeps the words).
    """
    complaint_id = next(e["value"] for e in events if e.get("name") == "complaint_id")
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    product = content.match_product(tracker.get_slot("product") or text)
    phone = normalise_phone(tracker.get_slot("phone") or "") or normalise_phone(
        str(latest_metadata(tracker).get("phone") or ""))
    payload: Dict[str, Any] = {
        "conversation_id": conversation_id(tracker), "channel": channel_of(tracker), "category": category,
        "priority": priority, "reason": reason, "incomplete": True, "complainant_type": "user",
        "customer_id": verified_customer(tracker), "full_name": tracker.get_slot("full_name"),
        "phone": phone, "product": product["name"] if product else None,
        "transaction_date": tracker.get_slot("transaction_date"), "chronology": text or "-",
    }
    result = await desk_client.create_ticket(payload, f"{conversation_id(tracker)}:{complaint_id}")
    if not result.ok or not result.data.get("ticket_number"):
        logger.warning("urgent ticket not filed conversation=%s reason=%s", conversation_id(tracker), reason)
        return None, None
    return result.data["ticket_number"], result.data.get("receipt_text")


class BoundedAsk(Action):
    """Asks for one form slot; counts a re-ask after a digression as a miss (at most MAX_ASKS asks in a row).

    Misses are counted by the form validators (actions/forms.py); a question
    answered with another question (FAQ, "kamu bot?") is asked again by the
    digression rules without any validation, so the ask counts it here. The
    third such turn in a row hands over instead of asking a fourth time.
    """

    slot: Text = ""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        events: List[EventType] = []
        if _intent(tracker) in DIGRESSION_INTENTS and tracker.get_slot("requested_slot") == self.slot:
            count = misses(tracker, self.slot) + 1
            if count >= MAX_ASKS:
                await hand_off(
                    dispatcher, tracker, "fallback", tracker.get_slot("priority") or "medium",
                    tracker.get_slot("complaint_category") or tracker.get_slot("proposed_category"),
                    intro=("Sepertinya ada beberapa hal yang ingin Anda tanyakan, Kak. Agar lebih tuntas, saya "
                           "hubungkan Anda dengan petugas CS kami; data yang sudah Anda berikan ikut saya teruskan."))
                # requested_slot None ends the form; the action after it sees form_handoff and stays quiet.
                return [SlotSet(MISSES_SLOT, None), SlotSet(HANDOFF_SLOT, True), SlotSet("requested_slot", None)]
            events.append(SlotSet(MISSES_SLOT, {"slot": self.slot, "count": count}))
            tracker.slots[MISSES_SLOT] = {"slot": self.slot, "count": count}
        await self.ask(dispatcher, tracker, last_try=misses(tracker, self.slot) >= MAX_ASKS - 1)
        return events

    async def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, last_try: bool) -> None:
        """Utter the question; ``last_try``: this is its last ask, show the way out."""
        raise NotImplementedError


class ActionAskProduct(BoundedAsk):
    """Ask for the product with one button per lender product."""

    slot = "product"

    async def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, last_try: bool) -> None:
        buttons = [{"title": p["name"], "payload": f'/inform{{"product":"{p["name"]}"}}'}
                   for p in content.products()]
        text = "Produk apa yang terkait dengan aduan Anda, Kak?"
        if last_try:
            buttons.append({"title": "Lainnya / tidak tahu", "payload": f'/inform{{"product":"{v.UNKNOWN_PRODUCT}"}}'})
            text = ("Silakan pilih produknya dari tombol berikut, Kak. Jika tidak ada yang cocok atau Anda tidak "
                    "yakin, pilih \"Lainnya / tidak tahu\".")
        dispatcher.utter_message(text=text, buttons=buttons)


class ActionAskComplaintCategory(BoundedAsk):
    """Propose the category from the intent, or list all after a 'bukan' or a miss."""

    slot = "complaint_category"

    async def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, last_try: bool) -> None:
        proposed = tracker.get_slot("proposed_category") or "other"
        if _intent(tracker) == "deny" or proposed == "other" or misses(tracker, "complaint_category"):
            buttons = [{"title": label, "payload": f'/inform{{"category":"{code}"}}'}
                       for code, label in CATEGORY_LABELS.items()]
            text = "Aduan Anda termasuk kategori apa, Kak? Silakan pilih:"
            if last_try:
                text = "Silakan pilih kategori dari tombol berikut, Kak; jika ragu, pilih \"Lainnya\":"
            dispatcher.utter_message(text=text, buttons=buttons)
            return
        dispatcher.utter_message(
            text=f"Aduan Anda saya catat dengan kategori *{category_label(proposed)}*. Apakah sudah sesuai, Kak?",
            buttons=[{"title": "Ya, sesuai", "payload": "/affirm"},
                     {"title": "Bukan, pilih lain", "payload": "/deny"}])


FIELD_TITLES = {
    "full_name": "Nama", "phone": "Nomor HP", "product": "Produk",
    "transaction_date": "Tanggal transaksi", "chronology": "Kronologi", "complaint_category": "Kategori",
}


class ActionAskComplaintConfirmed(BoundedAsk):
    """Show the summary with Kirim / Ubah; after 'Ubah', list the fields."""

    slot = "complaint_confirmed"

    async def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, last_try: bool) -> None:
        if _intent(tracker) == "deny" or tracker.get_slot("confirm_step") == "fields":
            buttons = [{"title": FIELD_TITLES[f], "payload": f'/inform{{"correct_field":"{f}"}}'}
                       for f in EDITABLE_FIELDS]
            dispatcher.utter_message(text="Bagian mana yang ingin Anda ubah, Kak?", buttons=buttons)
            return
        summary = (
            "Mohon periksa data aduan Anda, Kak:\n"
            f"• Nama: {tracker.get_slot('full_name')}\n"
            f"• Nomor HP: {tracker.get_slot('phone')}\n"
            f"• Produk: {tracker.get_slot('product')}\n"
            f"• Tanggal transaksi: {describe_transaction_date(tracker.get_slot('transaction_date'))}\n"
            f"• Kategori: {category_label(tracker.get_slot('complaint_category'))}\n"
            f"• Kronologi: {tracker.get_slot('chronology')}\n"
            "Kirim aduan ini? Anda juga bisa langsung menulis koreksinya, misalnya \"nomor saya 0812…\"."
        )
        dispatcher.utter_message(text=summary, buttons=[
            {"title": "Kirim", "payload": "/affirm"}, {"title": "Ubah data", "payload": "/deny"}])


class ActionSubmitComplaint(Action):
    """Create the ticket (idempotent) and show the receipt from the desk."""

    def name(self) -> Text:
        return "action_submit_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if tracker.get_slot(HANDOFF_SLOT):
            # The form handed over after its last miss (the borrower was told): nothing to submit.
            return [SlotSet(HANDOFF_SLOT, None)] + reset_slots(
                COMPLAINT_SLOTS + ["proposed_category", "complaint_route", "confirm_step"])
        complaint_id = tracker.get_slot("complaint_id") or uuid.uuid4().hex
        # One key per complaint: a retried submit returns the same ticket.
        key = f"{conversation_id(tracker)}:{complaint_id}"
        payload: Dict[str, Any] = {
            "conversation_id": conversation_id(tracker),
            "channel": channel_of(tracker),
            "category": tracker.get_slot("complaint_category") or "other",
            "priority": tracker.get_slot("priority") or "medium",
            "complainant_type": "user",
            "customer_id": verified_customer(tracker),
            "full_name": tracker.get_slot("full_name"),
            "phone": tracker.get_slot("phone"),
            "email": None,
            "product": tracker.get_slot("product"),
            "transaction_date": None if tracker.get_slot("transaction_date") == UNKNOWN_DATE
            else tracker.get_slot("transaction_date"),
            "chronology": tracker.get_slot("chronology"),
        }
        result = await desk_client.create_ticket(payload, key)
        if not result.ok or not result.data.get("ticket_number"):
            # Keep every slot: the summary in the handoff carries the complaint.
            events = await hand_off(
                dispatcher, tracker, "complex_case", payload["priority"], payload["category"],
                intro=("Mohon maaf, Kak, aduan Anda belum berhasil tercatat karena sistem kami sedang gangguan. "
                       "Data yang Anda berikan tidak hilang; petugas kami akan melanjutkannya."))
            return events + [SlotSet("complaint_id", complaint_id)]
        data = result.data
        logger.info("ticket %s created conversation=%s phone=%s", data.get("ticket_number"),
                    conversation_id(tracker), mask_phone(payload["phone"]))
        receipt = data.get("receipt_text")
        if not receipt:
            receipt = (f"Aduan Anda sudah kami terima dengan nomor tiket {data['ticket_number']}, "
                       f"diterima {format_wib(data.get('received_at')) or '-'}. Tanggapan pertama paling lambat "
                       f"{format_wib(data.get('first_response_due')) or '2 hari kerja'}, penyelesaian paling lambat "
                       f"{format_wib(data.get('resolution_due')) or '20 hari kerja'}. "
                       f"Hubungi CS: {data.get('cs_contact') or content.contacts_text()}.")
            # The desk's receipt already tells the borrower to keep the number; ours must too.
            receipt += (" Simpan nomor tiket ini ya, Kak. Anda bisa menanyakan statusnya kapan saja "
                        "di kanal mana pun dengan menyebutkan nomor tiket tersebut.")
        dispatcher.utter_message(text=receipt)
        return [SlotSet("ticket_number", data["ticket_number"]), SlotSet("complaint_id", None)] \
            + reset_slots(COMPLAINT_SLOTS + ["proposed_category", "complaint_route"])


class ActionCancelForm(Action):
    """Leave a form without submitting anything ("gak jadi")."""

    def name(self) -> Text:
        return "action_cancel_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(text=content.prompt("cancelled"))
        return reset_slots(COMPLAINT_SLOTS + ["proposed_category", "complaint_id", "complaint_route", "loan_id",
                                              "account_query", "requested_slot", MISSES_SLOT, HANDOFF_SLOT,
                                              "confirm_step"])


class ActionHandoff(Action):
    """Hand the conversation to a person when asked."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        category = tracker.get_slot("complaint_category") or tracker.get_slot("proposed_category")
        priority = tracker.get_slot("priority") or "medium"
        named = None if category else complaint_named_alongside(tracker)
        if named:
            category, priority = named["category"], named["priority"]
        return await hand_off(dispatcher, tracker, "request_human", priority, category)


# The clarifying question (issue #16). The apology is said once per
# conversation: a later clarification asks plainly, and the handoff after a
# second miss does not apologise again.
CLARIFY_FIRST = "Maaf, Kak, saya belum yakin maksud Anda. Apakah maksud Anda salah satu dari ini?"
CLARIFY_AGAIN = "Supaya tidak salah paham, Kak: maksud Anda yang mana? Boleh juga ditulis dengan kalimat lain."
HANDOFF_AFTER_MISSES = ("Agar Anda tidak perlu mengulang lagi, saya hubungkan dengan petugas CS kami. "
                        "Pesan Anda sudah saya teruskan.")
# Offered when the ranking names fewer than two topics.
DEFAULT_TOPICS = ("lodge_complaint", "ask_bill_amount", "request_human")
MAX_CANDIDATES = 3


def clarify_candidates(ranking: List[Dict[str, Any]]) -> List[str]:
    """The two or three likeliest topics of a parse, best first, padded with the defaults."""
    names = [r.get("name") for r in ranking if r.get("name") in TOPIC_TITLES]
    names = list(dict.fromkeys(names))[:MAX_CANDIDATES]
    for name in DEFAULT_TOPICS:
        if len(names) >= 2:
            break
        if name not in names:
            names.append(name)
    return names


class ActionSuggestTopics(Action):
    """Clarify instead of guessing: two or three buttons naming the likeliest topics.

    Runs on ``nlu_fallback`` (low confidence, or the two best intents too
    close: FallbackClassifier in config.yml) and as RulePolicy's core
    fallback. The second misunderstood message in a row goes to a person with
    the borrower's words (``misunderstood`` in the handoff summary), so the
    borrower is never asked the same thing a third time.
    """

    def name(self) -> Text:
        return "action_suggest_topics"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if len(missed_in_a_row(tracker)) >= 2:
            return await hand_off(dispatcher, tracker, "fallback", "medium", None, intro=HANDOFF_AFTER_MISSES)
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        buttons = _topic_buttons(clarify_candidates(ranking))
        apologised = any(e.get("event") == "bot" and e.get("text") == CLARIFY_FIRST for e in tracker.events)
        dispatcher.utter_message(text=CLARIFY_AGAIN if apologised else CLARIFY_FIRST, buttons=buttons)
        return []


def _topic_buttons(names: List[str]) -> List[Dict[str, str]]:
    return [{"title": TOPIC_TITLES[name], "payload": f"/{name}"} for name in names]


class ActionHandleInform(Action):
    """A name, number, date, id or digit sent while no form asks for one.

    Off-script information is never a dead end (issue #11): a ticket number
    gets a one-tap status check, a loan id or phone the account topics, anything
    else the main topics. One message, always a different one from the fallback,
    so a run of such turns never repeats the same question.
    """

    def name(self) -> Text:
        return "action_handle_inform"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        text = (tracker.latest_message or {}).get("text") or ""
        found = ids.find_all(text)
        if found.ticket_number:
            payload = f'/check_ticket_status{{"ticket_number":"{found.ticket_number}"}}'
            reply, buttons = (f"Apakah {found.ticket_number} nomor tiket aduan Anda, Kak? Saya bisa cek statusnya.",
                              [{"title": "Cek status tiket ini", "payload": payload}]
                              + _topic_buttons(["lodge_complaint", "request_human"]))
        elif found.loan_id or found.phone:
            reply, buttons = ("Terima kasih, Kak. Data seperti nomor pinjaman atau nomor HP saya tanyakan saat "
                              "memeriksa identitas Anda. Apa yang ingin Anda lakukan?",
                              _topic_buttons(["ask_bill_amount", "ask_application_status", "lodge_complaint"]))
        else:
            reply, buttons = ("Baik, Kak. Agar bisa saya bantu, pilih salah satu topik berikut atau tulis "
                              "pertanyaan Anda.",
                              _topic_buttons(["ask_payment_method", "ask_bill_amount", "lodge_complaint",
                                              "check_ticket_status", "request_human"]))
        if _said_in_a_row(tracker, reply) >= MAX_ASKS - 1:
            # The same question a third time would be a loop: offer a person instead (issue #11).
            reply, buttons = INFORM_WAY_OUT, _topic_buttons(["request_human", "lodge_complaint"])
        dispatcher.utter_message(text=reply, buttons=buttons)
        return []


INFORM_WAY_OUT = ("Sepertinya saya belum menangkap maksud Anda, Kak. Jika lebih nyaman, saya bisa hubungkan "
                  "dengan petugas CS kami, atau Anda bisa langsung membuat pengaduan.")


def _said_in_a_row(tracker: Tracker, text: Text) -> int:
    """How many of the bot's last utterances, in a row, were ``text`` (the newest first)."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "bot":
            continue
        if (event.get("text") or "") != text:
            break
        count += 1
    return count


class ActionAskFromContent(BoundedAsk):
    """Ask for a form slot with the lender's prompt text (``prompts.ask_<slot>``)."""

    async def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker, last_try: bool) -> None:
        text = content.prompt(f"ask_{self.slot}")
        if last_try and RETRY_HINTS.get(self.slot):
            text += " " + RETRY_HINTS[self.slot]
        if last_try and self.slot == "transaction_date":
            dispatcher.utter_message(text=text, buttons=[
                {"title": "Tidak ingat", "payload": f'/inform{{"date":"{UNKNOWN_DATE}"}}'}])
            return
        dispatcher.utter_message(text=text)


# Added to a question asked for the third time: the way out of it.
RETRY_HINTS = {
    "full_name": "Jika lebih nyaman dibantu petugas, ketik \"petugas\".",
    "phone": "Nomor HP Indonesia diawali 08 atau +62. Jika lebih nyaman dibantu petugas, ketik \"petugas\".",
    "loan_id": "Jika tidak menemukan nomornya, ketik \"petugas\" dan petugas kami akan membantu.",
    "ticket_number": "Jika tidak menemukan nomornya, ketik \"petugas\" dan petugas kami akan membantu.",
    "transaction_date": "Jika tidak ingat tanggalnya, pilih \"Tidak ingat\".",
    "chronology": ("Cukup satu atau dua kalimat, misalnya: \"Saya bayar cicilan Rp500.000 lewat Indomaret "
                   "tanggal 25, tapi di aplikasi masih tertunggak.\""),
}


def describe_transaction_date(value: Optional[str]) -> str:
    """The summary line's date: '5 Januari 2024', or 'tidak ingat'."""
    return "tidak ingat" if value == UNKNOWN_DATE else v.describe_date(value)


class ActionAskFullName(ActionAskFromContent):
    slot = "full_name"


class ActionAskPhone(ActionAskFromContent):
    slot = "phone"


class ActionAskLoanId(ActionAskFromContent):
    slot = "loan_id"


class ActionAskTransactionDate(ActionAskFromContent):
    slot = "transaction_date"


class ActionAskChronology(ActionAskFromContent):
    slot = "chronology"


class ActionAskTicketNumber(ActionAskFromContent):
    slot = "ticket_number"


# --- personal data (UU 27/2022; docs/privacy.md) -----------------------------------------


class ActionPrivacyInfo(Action):
    """What the borrower's data is used for: the lender's privacy notice, with the link and their rights."""

    def name(self) -> Text:
        return "action_privacy_info"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        notice = ((content.load_content().get("privacy") or {}).get("notice") or {})
        text = str(notice.get("text") or "").strip()
        link = str(notice.get("link") or "").strip()
        if not text:
            text = (f"{content.lender_brand()} memproses data Anda hanya untuk melayani pertanyaan dan "
                    "pengaduan Anda, sesuai UU 27/2022 tentang Pelindungan Data Pribadi.")
        lines = [f"{text} {link}".strip(),
                 "Anda dapat meminta salinan, perbaikan, atau penghapusan data Anda kapan saja. "
                 "Untuk penghapusan, cukup ketik \"hapus data saya\"."]
        dispatcher.utter_message(text="\n".join(lines))
        return []


class ActionRequestErasure(Action):
    """File an erasure request with the desk; identity is verified before anything is erased."""

    def name(self) -> Text:
        return "action_request_erasure"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        result = await desk_client.file_rights_request(tracker.sender_id, "erasure")
        if not result.ok:
            dispatcher.utter_message(text=(
                "Maaf, permintaan penghapusan data belum bisa kami catat saat ini. Silakan coba lagi nanti "
                f"atau hubungi kami: {content.contacts_text()}"))
            return []
        number = result.data.get("number", "")
        if result.data.get("verified"):
            next_step = "Identitas Anda sudah terverifikasi; petugas kami akan memprosesnya."
        else:
            next_step = ("Sebelum data dihapus, petugas kami akan memverifikasi identitas Anda terlebih dahulu "
                         "agar data Anda tidak dihapus oleh orang lain.")
        dispatcher.utter_message(text=(
            f"Permintaan penghapusan data Anda sudah kami catat dengan nomor {number}. {next_step} "
            "Data yang masih wajib kami simpan menurut undang-undang (misalnya pengaduan yang masih berjalan) "
            "akan kami sampaikan beserta alasannya. "
            f"Status permintaan dapat Anda lihat di {result.data.get('status_link', '')}"))
        return []
