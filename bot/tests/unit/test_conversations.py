"""Issue #11, bot side: no dialogue dead ends, bounded form retries, plausible values,
prefilled complaint fields, ids read whole inside the forms."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

from actions import actions as a
from actions import forms as f
from actions import validators as v
from actions.dates import today_jakarta
from conftest import BOT_DIR, handoffs, make_tracker, run, slot_events, texts, url

DOMAIN = yaml.safe_load(Path(BOT_DIR, "domain.yml").read_text())
RULES = yaml.safe_load(Path(BOT_DIR, "data", "rules.yml").read_text())["rules"]
DEMO = yaml.safe_load((BOT_DIR.parent / "lending" / "demo_data.yml").read_text(encoding="utf-8"))
CLOSED = {"open": False, "next_open_at": "2030-01-07T09:00:00+07:00", "hours_text": "-"}
PRODUCT_BUTTONS = [{"title": "Pinjaman Tunai", "payload": '/inform{"product":"Pinjaman Tunai"}'},
                   {"title": "PayLater", "payload": '/inform{"product":"PayLater"}'},
                   {"title": "Pinjaman Produktif UMKM", "payload": '/inform{"product":"Pinjaman Produktif UMKM"}'}]


def asked(slot: str, text: str, intent: str = "inform", misses: int = 0, slots: Optional[Dict[str, Any]] = None,
          bot_buttons: Optional[List[Dict[str, str]]] = None, active_loop: Optional[str] = "complaint_form"):
    """A tracker where the form asked for ``slot`` (missed ``misses`` times) and the borrower wrote ``text``."""
    values = {"requested_slot": slot, **(slots or {})}
    if misses:
        values[f.MISSES_SLOT] = {"slot": slot, "count": misses}
    events = [{"event": "user", "text": "sebelumnya"},
              {"event": "bot", "text": "pertanyaan", "data": {"buttons": bot_buttons or []}}]
    return make_tracker(slots=values, intent=intent, text=text, events=events, active_loop=active_loop)


# --- item 1: the dialogue has no dead end -------------------------------------------------

def _rule_intents(condition_loop: Optional[str]) -> set:
    out = set()
    for rule in RULES:
        loops = [c.get("active_loop", "absent") for c in rule.get("condition") or [] if "active_loop" in c]
        if loops and loops != [condition_loop]:
            continue
        first = (rule["steps"] or [{}])[0]
        if "intent" in first:
            out.add(first["intent"])
        for alt in first.get("or") or []:
            out.add(alt.get("intent"))
    return out


def test_every_intent_has_a_rule_outside_forms():
    """With no rule the policies guess, and a low guess ran the core fallback (the ten-message flood)."""
    missing = set(DOMAIN["intents"]) - _rule_intents(None)
    assert not missing, f"intents with no rule outside a form: {sorted(missing)}"


def test_the_core_fallback_is_always_followed_by_listening():
    config = yaml.safe_load(Path(BOT_DIR, "config.yml").read_text())
    fallback = next(p for p in config["policies"] if p["name"] == "RulePolicy")["core_fallback_action_name"]
    listeners = [r for r in RULES if r["steps"] == [{"action": fallback}] and not r.get("condition")
                 and r.get("wait_for_user_input", True)]
    assert listeners, f"no rule makes the bot listen after {fallback} whatever the intent"


@pytest.mark.parametrize("form", ["complaint_form", "verify_form", "ticket_form"])
def test_every_form_handles_digressions_cancel_and_a_human(form):
    handled = _rule_intents(form)
    for intent in f.DIGRESSION_INTENTS | {"cancel", "request_human"}:
        assert intent in handled, f"{intent} inside {form} has no rule"


@pytest.mark.parametrize("text", ["Agus Salim", "kemarin", "12 januari 2025", "2", "0812 3456 7890"])
def test_off_script_information_gets_one_message_with_topics(dispatcher, text):
    run(a.ActionHandleInform().run(dispatcher, make_tracker(intent="inform", text=text), DOMAIN))
    assert len(dispatcher.messages) == 1 and dispatcher.messages[0]["buttons"]
    assert "kurang yakin" not in texts(dispatcher)


def test_a_ticket_number_sent_alone_offers_its_status_with_the_check_digit(dispatcher):
    run(a.ActionHandleInform().run(dispatcher, make_tracker(intent="inform", text="DCI-261130-0005-4"), DOMAIN))
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert '/check_ticket_status{"ticket_number":"DCI-261130-0005-4"}' in payloads
    assert "DCI-261130-0005-4" in texts(dispatcher)


def test_off_script_data_never_gets_the_same_question_a_third_time_in_a_row(dispatcher):
    """Phone after phone outside a form: the third answer offers a person instead of repeating itself."""
    first = a.CollectingDispatcher()
    run(a.ActionHandleInform().run(first, make_tracker(intent="inform", text="0812 3456 7890"), DOMAIN))
    said = first.messages[0]["text"]
    earlier = [{"event": "user", "text": "0812 3456 7890"}, {"event": "bot", "text": said},
               {"event": "user", "text": "PJ-2025-007777"}, {"event": "bot", "text": said}]
    run(a.ActionHandleInform().run(dispatcher, make_tracker(intent="inform", text="+62 857 1111 2222",
                                                            events=earlier), DOMAIN))
    assert dispatcher.messages[0]["text"] == a.INFORM_WAY_OUT
    assert "/request_human" in [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    once = [{"event": "user", "text": "0812 3456 7890"}, {"event": "bot", "text": said}]
    again = a.CollectingDispatcher()
    run(a.ActionHandleInform().run(again, make_tracker(intent="inform", text="0812 3456 7890", events=once), DOMAIN))
    assert again.messages[0]["text"] == said


# --- items 2 and 3: ids read whole in the forms ----------------------------------------

SAMPLES = [(c["full_name"], str(c["phone"]), ref) for c in DEMO["customers"]
           for ref in [loan["loan_id"] for loan in c["loans"]] + [x["application_id"] for x in c["applications"]]]


@pytest.mark.parametrize("name, phone, ref", SAMPLES)
def test_every_sample_borrower_passes_the_identity_form_with_ids_as_printed(dispatcher, desk, name, phone, ref):
    """PJ-2024-000123 reached the desk as 000123 (the CRF span / old regex cut it)."""
    form = f.ValidateVerifyForm()
    out = {}
    out.update(run(form.validate_full_name(name, dispatcher, asked("full_name", name), DOMAIN)))
    out.update(run(form.validate_phone(phone, dispatcher, asked("phone", phone), DOMAIN)))
    cut = ref.split("-")[-1]  # what a partial entity span would hold
    out.update(run(form.validate_loan_id(cut, dispatcher, asked("loan_id", f"nomor pinjaman saya {ref}"), DOMAIN)))
    assert out["full_name"] == name and out["loan_id"] == ref and out["phone"].startswith("+628")
    desk.post(url("/api/v1/customers/verify"), payload={"verified": True, "customer_id": "CUST-1"})
    events = slot_events(run(a.ActionVerifyCustomer().run(dispatcher, make_tracker(slots=out), DOMAIN)))
    body = next(iter(desk.requests.values()))[0].kwargs["json"]
    assert body["loan_id"] == ref and body["full_name"] == name
    assert events["verification_status"] == "verified"


@pytest.mark.parametrize("text, crf_value", [
    ("cek status tiket DCI-261130-0005-4", "DCI-261130-0005"),
    ("DCI-261130-0005-4", "DCI-261130-0005"),
    ("dci 261130 0005 4", "dci 261130 0005"),
    ("261130-0005-4", "261130-0005-4"),
])
def test_ticket_form_keeps_the_check_digit(dispatcher, text, crf_value):
    tracker = asked("ticket_number", text, active_loop="ticket_form")
    out = run(f.ValidateTicketForm().validate_ticket_number(crf_value, dispatcher, tracker, DOMAIN))
    assert out["ticket_number"] == "DCI-261130-0005-4"


def test_ticket_number_in_the_opening_message_keeps_its_check_digit(dispatcher):
    tracker = make_tracker(intent="check_ticket_status", text="cek status tiket DCI-261130-0005-4")
    out = run(f.ValidateTicketForm().validate_ticket_number("DCI-261130-0005", dispatcher, tracker, DOMAIN))
    assert out["ticket_number"] == "DCI-261130-0005-4"


def test_ticket_without_check_digit_is_asked_again_precisely(dispatcher):
    out = run(f.ValidateTicketForm().validate_ticket_number(
        "DCI-261130-0005", dispatcher, asked("ticket_number", "DCI-261130-0005"), DOMAIN))
    assert out["ticket_number"] is None and "belum lengkap" in texts(dispatcher)


# --- item 11: bounded retries ---------------------------------------------------------

@pytest.mark.parametrize("text", ["12 januari", "saya sudah bayar tapi belum masuk", "iya benar", "hmm"])
def test_product_question_moves_on_after_the_third_miss(text):
    form = f.ValidateComplaintForm()
    seen = []
    for misses in range(f.MAX_ASKS):
        dispatcher = a.CollectingDispatcher()
        out = run(form.validate_product(text, dispatcher, asked("product", text, misses=misses), DOMAIN))
        seen.append((out, texts(dispatcher)))
    assert seen[0][0]["product"] is None and seen[0][0][f.MISSES_SLOT] == {"slot": "product", "count": 1}
    assert seen[1][0][f.MISSES_SLOT] == {"slot": "product", "count": 2}
    assert seen[2][0]["product"] == v.UNKNOWN_PRODUCT and "Lainnya/tidak tahu" in seen[2][1]


def test_product_ask_after_two_misses_offers_lainnya_tidak_tahu(dispatcher):
    run(a.ActionAskProduct().run(dispatcher, asked("product", "x", misses=2), DOMAIN))
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles[-1] == "Lainnya / tidak tahu" and "PayLater" in titles


def test_a_digit_answers_the_buttons_of_the_last_question(dispatcher):
    """'1' in the web chat, where buttons are not numbered."""
    out = run(f.ValidateComplaintForm().validate_product(
        "1", dispatcher, asked("product", "1", bot_buttons=PRODUCT_BUTTONS), DOMAIN))
    assert out["product"] == "Pinjaman Tunai"


@pytest.mark.parametrize("slot, text, moves_on_to", [
    ("transaction_date", "entahlah kak wkwk", f.UNKNOWN_DATE),
    ("chronology", "gagal bayar", "gagal bayar"),
    ("complaint_category", "hmm", "other"),
    ("full_name", "iya", None),
    ("phone", "nomor saya 12345", None),
    ("complaint_confirmed", "hmm", None),
])
def test_every_complaint_slot_is_bounded(desk, slot, text, moves_on_to):
    desk.get(url("/api/v1/office-hours"), payload=CLOSED, repeat=True)
    form = f.ValidateComplaintForm()
    method = getattr(form, f"validate_{slot}")
    dispatcher = a.CollectingDispatcher()
    out = run(method(text, dispatcher, asked(slot, text, misses=f.MAX_ASKS - 1), DOMAIN))
    if moves_on_to is not None:
        assert out[slot] == moves_on_to and not handoffs(dispatcher)
    else:
        assert out[slot] is None and out["requested_slot"] is None and out[f.HANDOFF_SLOT] is True
        assert handoffs(dispatcher) and handoffs(dispatcher)[0]["reason"] == "fallback"
        assert f"{slot}={text}" not in handoffs(dispatcher)[0]["summary"]  # a rejected text is no value


@pytest.mark.parametrize("form, slot, text", [
    (f.ValidateVerifyForm, "loan_id", "lupa kak"), (f.ValidateTicketForm, "ticket_number", "tidak tahu"),
])
def test_identity_and_ticket_forms_hand_over_after_the_third_miss(desk, form, slot, text):
    desk.get(url("/api/v1/office-hours"), payload=CLOSED, repeat=True)
    dispatcher = a.CollectingDispatcher()
    early = run(getattr(form(), f"validate_{slot}")(text, dispatcher, asked(slot, text, misses=1), DOMAIN))
    assert early[slot] is None and not handoffs(dispatcher)
    out = run(getattr(form(), f"validate_{slot}")(text, dispatcher, asked(slot, text, misses=2), DOMAIN))
    assert out["requested_slot"] is None and handoffs(dispatcher)


def test_third_question_in_a_row_inside_a_form_hands_over(desk):
    """Digressions count too: the name question is never asked a fourth time in a row."""
    desk.get(url("/api/v1/office-hours"), payload=CLOSED, repeat=True)
    dispatcher = a.CollectingDispatcher()
    events = run(a.ActionAskFullName().run(
        dispatcher, asked("full_name", "jam buka cs?", intent="ask_operating_hours", misses=1), DOMAIN))
    assert slot_events(events)[f.MISSES_SLOT] == {"slot": "full_name", "count": 2}
    assert "petugas" in texts(dispatcher) and not handoffs(dispatcher)
    dispatcher = a.CollectingDispatcher()
    events = run(a.ActionAskFullName().run(
        dispatcher, asked("full_name", "kamu bot?", intent="bot_challenge", misses=2), DOMAIN))
    assert slot_events(events)["requested_slot"] is None and handoffs(dispatcher)


def _form_text_mappings():
    """(slot, mapping) for every from_text mapping a form reads its answer from."""
    for slot, spec in DOMAIN["slots"].items():
        for mapping in spec.get("mappings") or []:
            loops = {c.get("active_loop") for c in mapping.get("conditions") or []}
            if mapping.get("type") == "from_text" and loops & {"complaint_form", "verify_form", "ticket_form"}:
                yield slot, mapping


@pytest.mark.parametrize("slot, mapping", list(_form_text_mappings()))
def test_a_greeting_is_never_taken_as_a_form_answer(slot, mapping):
    """'halo' at the product question was read as the product (seen on the live stack)."""
    assert "greet" in mapping.get("not_intent", []), f"a greeting would fill {slot}"


def test_a_greeting_inside_a_form_is_greeted_back_and_counts_as_an_ask(dispatcher):
    """The greeting rule asks the question again; the ask counts it, so the three-ask bound holds."""
    events = run(a.ActionAskProduct().run(dispatcher, asked("product", "selamat pagi", intent="greet"), DOMAIN))
    assert slot_events(events)[f.MISSES_SLOT] == {"slot": "product", "count": 1}
    assert dispatcher.messages[-1]["buttons"] == PRODUCT_BUTTONS
    for form in ("complaint_form", "verify_form", "ticket_form"):
        rule = next(r for r in RULES if r.get("condition") == [{"active_loop": form}]
                    and r["steps"][0] == {"intent": "greet"})
        assert rule["steps"][1:] == [{"action": "utter_greet_in_form"}, {"action": form}, {"active_loop": form}]
    assert "utter_greet_in_form" in DOMAIN["responses"]


def test_the_third_greeting_in_a_row_hands_over(desk):
    desk.get(url("/api/v1/office-hours"), payload=CLOSED, repeat=True)
    dispatcher = a.CollectingDispatcher()
    events = run(a.ActionAskProduct().run(dispatcher, asked("product", "halo", intent="greet", misses=2), DOMAIN))
    assert slot_events(events)["requested_slot"] is None and handoffs(dispatcher)


def test_quiet_after_a_form_handover(dispatcher, desk):
    events = slot_events(run(a.ActionSubmitComplaint().run(
        dispatcher, make_tracker(slots={f.HANDOFF_SLOT: True, "full_name": "Budi"}), DOMAIN)))
    assert not dispatcher.messages and not desk.requests and events[f.HANDOFF_SLOT] is None


def test_unknown_date_goes_to_the_desk_as_null(dispatcher, desk):
    body = {"ticket_number": "DCI-261130-0005-4", "receipt_text": "TANDA TERIMA DCI-261130-0005-4"}
    desk.post(url("/api/v1/tickets"), payload=body, status=201)
    slots = {"full_name": "Budi Santoso", "phone": "+6281234567890", "product": v.UNKNOWN_PRODUCT,
             "transaction_date": f.UNKNOWN_DATE, "chronology": "x" * 40, "complaint_category": "other",
             "complaint_confirmed": "submit", "complaint_id": "c1"}
    run(a.ActionSubmitComplaint().run(dispatcher, make_tracker(slots=slots), DOMAIN))
    payload = next(iter(desk.requests.values()))[0].kwargs["json"]
    assert payload["transaction_date"] is None and payload["product"] == v.UNKNOWN_PRODUCT


# --- item 12: plausible values ----------------------------------------------------------

@pytest.mark.parametrize("text", ["iya", "ya benar", "oke", "halo kak", "paylater", "kemarin", "tidak tahu",
                                  "mau komplain", "saya sudah bayar", "08123456789", "2"])
def test_not_a_name(text):
    value, reprompt = v.check_full_name(text)
    assert value is None and "nama lengkap" in reprompt


@pytest.mark.parametrize("text, name", [("Budi Santoso", "Budi Santoso"), ("nama saya siti nurhaliza", "Siti Nurhaliza"),
                                        ("Suharto", "Suharto"), ("I Made Wirawan", "I Made Wirawan")])
def test_names_still_pass(text, name):
    assert v.check_full_name(text) == (name, None)


def test_dates_far_in_the_past_are_questioned():
    today = dt.date(2026, 11, 30)
    assert v.check_transaction_date("12 januari 2015", today)[0] is None
    assert v.check_transaction_date("12 januari 2025", today) == ("2025-01-12", None)


def test_name_question_reads_the_whole_message_not_half_a_span(dispatcher):
    out = run(f.ValidateComplaintForm().validate_full_name(
        "Budi", dispatcher, asked("full_name", "nama saya Budi Santoso"), DOMAIN))
    assert out["full_name"] == "Budi Santoso"


# --- item 13: what the bot already knows is not asked again ------------------------------------

def test_verified_in_app_borrower_is_not_asked_name_and_phone(dispatcher, desk):
    desk.get(url("/api/v1/customers/CUST-0001/account"),
             payload={"customer_id": "CUST-0001", "full_name": "Budi Santoso", "loans": [], "applications": []})
    tracker = make_tracker(intent="complain_app", text="aplikasinya error terus",
                           metadata={"channel": "inapp", "customer_id": "CUST-0001", "phone": "+6281234567890"})
    events = slot_events(run(a.ActionStartComplaint().run(dispatcher, tracker, DOMAIN)))
    assert events["full_name"] == "Budi Santoso" and events["phone"] == "+6281234567890"
    assert "nama Budi Santoso" in texts(dispatcher) and "ringkasan" in texts(dispatcher)


def test_opening_message_prefills_date_and_chronology(dispatcher, desk):
    text = "sy udh bayar cicilan tgl 25 kmrn tp di aplikasi masih nunggak"
    tracker = make_tracker(intent="complain_payment", text=text, metadata={"channel": "whatsapp"})
    events = slot_events(run(a.ActionStartComplaint().run(dispatcher, tracker, DOMAIN)))
    expected = v.check_transaction_date("tgl 25 kmrn")[0]
    assert events["transaction_date"] == expected and events["chronology"] == text
    assert "kronologi" in texts(dispatcher) and v.describe_date(expected) in texts(dispatcher)
    assert expected <= today_jakarta().isoformat()


def test_a_short_opening_prefills_nothing(dispatcher, desk):
    tracker = make_tracker(intent="lodge_complaint", text="mau komplain", metadata={"channel": "telegram"})
    events = slot_events(run(a.ActionStartComplaint().run(dispatcher, tracker, DOMAIN)))
    assert events.get("chronology") is None and events.get("transaction_date") is None
