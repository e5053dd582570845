"""Form validators: good values are cleaned, bad ones get a helpful re-prompt."""
import datetime as dt
from pathlib import Path

import pytest
import yaml

from actions import validators as v
from actions.forms import ValidateComplaintForm, ValidateTicketForm, ValidateVerifyForm
from conftest import BOT_DIR, make_tracker, run, texts

DOMAIN = yaml.safe_load(Path(BOT_DIR, "domain.yml").read_text())


@pytest.mark.parametrize("raw, clean", [
    ("nama saya budi santoso", "Budi Santoso"),
    ("Siti Aminah", "Siti Aminah"),
    ("sy andi wijaya", "Andi Wijaya"),
    ("a.n. Dewi Lestari", "Dewi Lestari"),
    ("Budi Santoso, 0812 3456 7890", "Budi Santoso"),
])
def test_full_name_cleaned(raw, clean):
    assert v.check_full_name(raw) == (clean, None)


@pytest.mark.parametrize("raw", ["08123456789", "ab", "", "!!!"])
def test_full_name_rejected_with_reprompt(raw):
    value, reprompt = v.check_full_name(raw)
    assert value is None and "nama lengkap" in reprompt


def test_phone_reprompt_gives_an_example():
    value, reprompt = v.check_phone("nomor saya 12345")
    assert value is None and "0812" in reprompt


@pytest.mark.parametrize("raw, code", [("paylater", "PayLater"), ("yang pay later kak", "PayLater"),
                                       ("KTA", "Pinjaman Tunai"), ("modal usaha", "Pinjaman Produktif UMKM")])
def test_product_maps_synonyms_to_lender_products(raw, code):
    assert v.check_product(raw) == (code, None)


def test_unknown_product_lists_the_choices():
    value, reprompt = v.check_product("kartu kredit")
    assert value is None
    assert "PayLater" in reprompt and "Pinjaman Tunai" in reprompt


def test_transaction_date_future_and_unknown_reprompts():
    today = dt.date(2024, 3, 15)
    assert v.check_transaction_date("3 hari lalu", today) == ("2024-03-12", None)
    future, msg = v.check_transaction_date("besok", today)
    assert future is None and "masa depan" in msg
    unknown, msg = v.check_transaction_date("nggak inget", today)
    assert unknown is None and "12 Januari" in msg
    assert "masa depan" in v.check_transaction_date("20 Desember 2030", today)[1]


def test_chronology_needs_detail():
    assert v.check_chronology("gagal bayar")[0] is None
    long_text = "Saya bayar cicilan lewat Indomaret kemarin sore tapi status di aplikasi masih belum lunas."
    assert v.check_chronology(long_text) == (long_text, None)


@pytest.mark.parametrize("raw, clean", [("PJ-2024-000123", "PJ-2024-000123"), ("pj 2024 000123", "PJ-2024-000123"),
                                       ("nomornya APP88001", "APP-88001"), ("app-88017", "APP-88017")])
def test_loan_id(raw, clean):
    assert v.check_loan_id(raw) == (clean, None)


@pytest.mark.parametrize("raw", ["000123", "88012345", "pinjaman saya", "LN-1234567"])
def test_loan_id_rejected_with_the_real_formats_as_example(raw):
    value, reprompt = v.check_loan_id(raw)
    assert value is None and "PJ-2024-000123" in reprompt and "APP-88001" in reprompt


def test_ticket_number_normalised_with_its_check_digit():
    assert v.check_ticket_number("dci 261130 0005 4") == ("DCI-261130-0005-4", None)
    assert v.check_ticket_number("cek status tiket DCI-261130-0005-4") == ("DCI-261130-0005-4", None)
    assert v.check_ticket_number("tiket saya")[0] is None


def test_category_from_code_or_label():
    assert v.check_category("fraud") == "fraud"
    assert v.check_category("Keringanan") == "relief"
    assert v.check_category("penipuan") == "fraud"
    assert v.check_category("entah") is None


def test_validate_phone_in_form_reprompts(dispatcher):
    form = ValidateComplaintForm()
    out = run(form.validate_phone("12", dispatcher, make_tracker(), DOMAIN))
    assert out == {"phone": None}
    assert "format" in texts(dispatcher)


def test_validate_date_in_form(dispatcher):
    out = run(ValidateComplaintForm().validate_transaction_date("kemarin", dispatcher, make_tracker(), DOMAIN))
    from actions.dates import today_jakarta
    assert out["transaction_date"] == (today_jakarta() - dt.timedelta(days=1)).isoformat()
    assert dispatcher.messages == []


def test_category_confirmed_takes_the_proposal(dispatcher):
    tracker = make_tracker(slots={"proposed_category": "relief"})
    out = run(ValidateComplaintForm().validate_complaint_category("confirmed", dispatcher, tracker, DOMAIN))
    assert out["complaint_category"] == "relief"
    out = run(ValidateComplaintForm().validate_complaint_category("rejected", dispatcher, tracker, DOMAIN))
    assert out == {"complaint_category": None, "proposed_category": "other"}  # the next ask lists them all
    out = run(ValidateComplaintForm().validate_complaint_category("app", dispatcher, tracker, DOMAIN))
    assert out["complaint_category"] == "app"


def test_more_story_typed_at_the_category_question_goes_into_the_chronology(dispatcher):
    story = "Saya bayar cicilan lewat Indomaret tanggal 3 tapi status di aplikasi masih belum lunas"
    more = "oh iya kak, saya juga sudah kirim bukti bayar ke email CS tapi belum dibalas sampai sekarang"
    tracker = make_tracker(slots={"requested_slot": "complaint_category", "chronology": story,
                                  "proposed_category": "payment"})
    out = run(ValidateComplaintForm().validate_complaint_category(more, dispatcher, tracker, DOMAIN))
    assert out["complaint_category"] is None  # the question is asked again
    assert out["chronology"] == f"{story}\n{more}"
    assert out["form_misses"] == {"slot": "complaint_category", "count": 1}  # bounded like any other miss
    assert "kronologi" in texts(dispatcher)
    # The same words again are not told twice; a short non-answer is only a miss.
    tracker = make_tracker(slots={"requested_slot": "complaint_category", "chronology": out["chronology"]})
    again = run(ValidateComplaintForm().validate_complaint_category(more, dispatcher, tracker, DOMAIN))
    assert again["chronology"] == out["chronology"]
    short = run(ValidateComplaintForm().validate_complaint_category("yang mana ya", dispatcher, tracker, DOMAIN))
    assert "chronology" not in short and short["complaint_category"] is None


def test_summary_change_clears_confirmation(dispatcher):
    form = ValidateComplaintForm()
    changed = run(form.validate_complaint_confirmed("change", dispatcher, make_tracker(), DOMAIN))
    assert changed["complaint_confirmed"] is None and changed["confirm_step"] == "fields"
    assert run(form.validate_complaint_confirmed("submit", dispatcher, make_tracker(), DOMAIN))[
        "complaint_confirmed"] == "submit"


def test_field_button_on_summary_clears_that_field(dispatcher):
    tracker = make_tracker(slots={"requested_slot": "complaint_confirmed", "phone": "+6281234567890"},
                           intent="inform", entities=[{"entity": "correct_field", "value": "phone"}])
    out = run(ValidateComplaintForm().extract_complaint_confirmed(dispatcher, tracker, DOMAIN))
    assert out["phone"] is None and out["complaint_confirmed"] is None and out["correct_field"] is None


def test_form_run_applies_a_correction_and_reasks_the_field(dispatcher):
    slots = {"requested_slot": "complaint_confirmed", "full_name": "Budi Santoso", "phone": "+6281234567890",
             "product": "PayLater", "transaction_date": "2024-03-12", "chronology": "x" * 40,
             "complaint_category": "payment", "complaint_confirmed": None}
    tracker = make_tracker(slots=slots, intent="inform", active_loop="complaint_form",
                           entities=[{"entity": "correct_field", "value": "transaction_date"}])
    events = run(ValidateComplaintForm().run(dispatcher, tracker, DOMAIN))
    set_slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert set_slots.get("transaction_date", "kept") is None


def test_verify_form_loan_id_reprompt(dispatcher):
    out = run(ValidateVerifyForm().validate_loan_id("gak tau", dispatcher, make_tracker(), DOMAIN))
    assert out == {"loan_id": None}
    assert "belum sesuai format" in texts(dispatcher)


def test_ticket_form(dispatcher):
    out = run(ValidateTicketForm().validate_ticket_number("DCI-261130-0005-4", dispatcher, make_tracker(), DOMAIN))
    assert out["ticket_number"] == "DCI-261130-0005-4"


def test_date_reads_the_whole_message_when_asked(dispatcher):
    from actions.dates import parse_indonesian_date
    tracker = make_tracker(slots={"requested_slot": "transaction_date"}, intent="inform", text="tgl 5 kemarin",
                           entities=[{"entity": "date", "value": "kemarin"}])
    out = run(ValidateComplaintForm().validate_transaction_date("kemarin", dispatcher, tracker, DOMAIN))
    assert out["transaction_date"] == parse_indonesian_date("tgl 5 kemarin").value.isoformat()


def test_field_chosen_by_number_ends_the_field_list_so_the_summary_comes_back(dispatcher):
    """After "Ubah data" → "2" (Nomor HP) the form must leave the field list: confirm_step is cleared
    in the returned events, so once the phone is answered the summary shows again (no endless loop)."""
    from actions.actions import EDITABLE_FIELDS, FIELD_TITLES

    buttons = [{"title": FIELD_TITLES[f], "payload": f'/inform{{"correct_field":"{f}"}}'} for f in EDITABLE_FIELDS]
    slots = {"requested_slot": "complaint_confirmed", "full_name": "Siti Aminah", "phone": "+6281298765432",
             "product": "PayLater", "transaction_date": "2025-01-12", "chronology": "x" * 40,
             "complaint_category": "payment", "complaint_confirmed": None, "confirm_step": "fields"}
    tracker = make_tracker(slots=slots, intent="inform", text="2", active_loop="complaint_form",
                           events=[{"event": "bot", "text": "Bagian mana yang ingin Anda ubah, Kak?",
                                    "data": {"buttons": buttons}}])
    events = run(ValidateComplaintForm().run(dispatcher, tracker, DOMAIN))
    set_slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert set_slots.get("phone", "kept") is None
    assert "confirm_step" in set_slots and set_slots["confirm_step"] is None
