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
from actions import validators as v
from actions.common import (
    COMPLAINT_INTENTS, URGENT_WORDS, category_label, channel_of, conversation_id, format_wib,
    hand_off, latest_metadata, office_status, reset_slots, verified_customer,
)
from actions.content import CATEGORY_LABELS
from actions.forms import EDITABLE_FIELDS
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
        if data.get("last_update"):
            lines.append(f"Perkembangan terakhir: {data['last_update']}")
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


class ActionCheckTicket(Action):
    """Look up a ticket for the borrower who filed it."""

    def name(self) -> Text:
        return "action_check_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        number = tracker.get_slot("ticket_number") or ""
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
            lines = ["Status pengajuan Anda:"]
            for app in apps:
                lines.append(f"• {app.get('product')} ({app.get('application_id')}): "
                             f"{app.get('status_label') or app.get('status')}")
            dispatcher.utter_message(text="\n".join(lines))
            return done
        loans = data.get("loans") or []
        if not loans:
            dispatcher.utter_message(text="Saat ini tidak ada tagihan aktif atas nama Anda, Kak.")
            return done
        lines = ["Tagihan Anda:"]
        for loan in loans:
            due = v.describe_date(loan.get("due_date"))
            line = (f"• {content.product_name(loan.get('product'))} ({loan.get('loan_id')}): tagihan {_rupiah(loan.get('bill_amount'))}, "
                    f"jatuh tempo {due}")
            if loan.get("late_fee"):
                line += f", denda {_rupiah(loan.get('late_fee'))}"
            lines.append(line + ".")
        lines.append("Cara bayar bisa Anda tanyakan ke saya kapan saja, Kak.")
        dispatcher.utter_message(text="\n".join(lines))
        return done


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
        if category in ("fraud", "unethical_collection"):
            if any(word in text for word in URGENT_WORDS):
                priority = "urgent"
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
        events += [SlotSet("priority", priority), SlotSet("complaint_route", "form")] + reset_slots(COMPLAINT_SLOTS)
        phone = normalise_phone(tracker.get_slot("phone") or "") or normalise_phone(
            str(latest_metadata(tracker).get("phone") or ""))
        events.append(SlotSet("phone", phone))
        product = content.match_product(tracker.get_slot("product") or text)
        if product:
            events.append(SlotSet("product", product["name"]))
        name = tracker.get_slot("full_name")
        if name and v.check_full_name(name)[0] is None:
            events.append(SlotSet("full_name", None))
        return events


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


class ActionAskProduct(Action):
    """Ask for the product with one button per lender product."""

    def name(self) -> Text:
        return "action_ask_product"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        buttons = [{"title": p["name"], "payload": f'/inform{{"product":"{p["name"]}"}}'}
                   for p in content.products()]
        dispatcher.utter_message(text="Produk apa yang terkait dengan aduan Anda, Kak?", buttons=buttons)
        return []


class ActionAskComplaintCategory(Action):
    """Propose the category from the intent, or list all after a 'bukan'."""

    def name(self) -> Text:
        return "action_ask_complaint_category"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        proposed = tracker.get_slot("proposed_category") or "other"
        if _intent(tracker) == "deny" or proposed == "other":
            buttons = [{"title": label, "payload": f'/inform{{"category":"{code}"}}'}
                       for code, label in CATEGORY_LABELS.items()]
            dispatcher.utter_message(text="Aduan Anda termasuk kategori apa, Kak? Silakan pilih:", buttons=buttons)
            return []
        dispatcher.utter_message(
            text=f"Aduan Anda saya catat dengan kategori *{category_label(proposed)}*. Apakah sudah sesuai, Kak?",
            buttons=[{"title": "Ya, sesuai", "payload": "/affirm"},
                     {"title": "Bukan, pilih lain", "payload": "/deny"}])
        return []


FIELD_TITLES = {
    "full_name": "Nama", "phone": "Nomor HP", "product": "Produk",
    "transaction_date": "Tanggal transaksi", "chronology": "Kronologi", "complaint_category": "Kategori",
}


class ActionAskComplaintConfirmed(Action):
    """Show the summary with Kirim / Ubah; after 'Ubah', list the fields."""

    def name(self) -> Text:
        return "action_ask_complaint_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if _intent(tracker) == "deny":
            buttons = [{"title": FIELD_TITLES[f], "payload": f'/inform{{"correct_field":"{f}"}}'}
                       for f in EDITABLE_FIELDS]
            dispatcher.utter_message(text="Bagian mana yang ingin Anda ubah, Kak?", buttons=buttons)
            return []
        summary = (
            "Mohon periksa data aduan Anda, Kak:\n"
            f"• Nama: {tracker.get_slot('full_name')}\n"
            f"• Nomor HP: {tracker.get_slot('phone')}\n"
            f"• Produk: {tracker.get_slot('product')}\n"
            f"• Tanggal transaksi: {v.describe_date(tracker.get_slot('transaction_date'))}\n"
            f"• Kategori: {category_label(tracker.get_slot('complaint_category'))}\n"
            f"• Kronologi: {tracker.get_slot('chronology')}\n"
            "Kirim aduan ini? Anda juga bisa langsung menulis koreksinya, misalnya \"nomor saya 0812…\"."
        )
        dispatcher.utter_message(text=summary, buttons=[
            {"title": "Kirim", "payload": "/affirm"}, {"title": "Ubah data", "payload": "/deny"}])
        return []


class ActionSubmitComplaint(Action):
    """Create the ticket (idempotent) and show the receipt from the desk."""

    def name(self) -> Text:
        return "action_submit_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
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
            "transaction_date": tracker.get_slot("transaction_date"),
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
                                              "account_query", "requested_slot"])


class ActionHandoff(Action):
    """Hand the conversation to a person when asked."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        category = tracker.get_slot("complaint_category") or tracker.get_slot("proposed_category")
        priority = tracker.get_slot("priority") or "medium"
        return await hand_off(dispatcher, tracker, "request_human", priority, category)


class ActionSuggestTopics(Action):
    """Low NLU confidence: offer the likeliest topics; the second miss in a row → human."""

    def name(self) -> Text:
        return "action_suggest_topics"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        misses = 0
        for event in reversed(tracker.events):
            if event.get("event") != "user":
                continue
            if ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "nlu_fallback":
                misses += 1
            else:
                break
        if misses >= 2:
            return await hand_off(
                dispatcher, tracker, "fallback", "medium", None,
                intro="Mohon maaf, Kak, sepertinya saya belum bisa memahami pertanyaan Anda. "
                      "Saya hubungkan dengan petugas CS kami.")
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        buttons = []
        for item in ranking:
            name = item.get("name")
            if name in TOPIC_TITLES and len(buttons) < 3:
                buttons.append({"title": TOPIC_TITLES[name], "payload": f"/{name}"})
        if len(buttons) < 2:
            for name in ("ask_payment_method", "lodge_complaint", "request_human"):
                if len(buttons) < 3 and all(b["payload"] != f"/{name}" for b in buttons):
                    buttons.append({"title": TOPIC_TITLES[name], "payload": f"/{name}"})
        dispatcher.utter_message(
            text="Mohon maaf, Kak, saya kurang yakin maksud Anda. Apakah maksudnya salah satu dari ini?",
            buttons=buttons)
        return []


class ActionAskFromContent(Action):
    """Ask for a form slot with the lender's prompt text (``prompts.ask_<slot>``)."""

    slot: Text = ""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(text=content.prompt(f"ask_{self.slot}"))
        return []


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
