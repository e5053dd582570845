"""Actions against a desk faked at the HTTP level (aioresponses)."""
import pytest

from actions import actions as a
from conftest import DESK, handoffs, make_tracker, run, slot_events, texts, url

DOMAIN = {}
OPEN = {"open": True, "next_open_at": None, "hours_text": "08:00–20:00"}
CLOSED = {"open": False, "next_open_at": "2024-03-18T09:00:00+07:00", "hours_text": "Senin–Jumat"}
IDENTITY = {"full_name": "Budi Santoso", "phone": "+6281234567890", "loan_id": "LN-1234567"}


def sent_requests(desk, method, path):
    return [calls for (m, u), calls in desk.requests.items() if m == method and str(u).startswith(DESK + path)]


# --- FAQ --------------------------------------------------------------------

def test_faq_answers_from_lender_content(dispatcher, desk):
    run(a.ActionAnswerFaq().run(dispatcher, make_tracker(intent="ask_payment_method"), DOMAIN))
    assert "Indomaret" in texts(dispatcher)


def test_product_faq_uses_the_product_entity(dispatcher, desk):
    tracker = make_tracker(intent="ask_product_info", entities=[{"entity": "product", "value": "PayLater"}])
    run(a.ActionAnswerFaq().run(dispatcher, tracker, DOMAIN))
    assert texts(dispatcher).startswith("PayLater DanaContoh")


def test_faq_content_path_can_be_overridden(dispatcher, desk, tmp_path, monkeypatch):
    custom = tmp_path / "lender.yml"
    custom.write_text("faq:\n  how_to_apply: Daftar lewat aplikasi XYZ.\n")
    monkeypatch.setenv("LENDER_CONTENT", str(custom))
    run(a.ActionAnswerFaq().run(dispatcher, make_tracker(intent="ask_how_to_apply"), DOMAIN))
    assert texts(dispatcher) == "Daftar lewat aplikasi XYZ."


def test_office_hours_open_now(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    tracker = make_tracker(intent="ask_operating_hours", metadata={"channel": "whatsapp"})
    run(a.ActionAnswerFaq().run(dispatcher, tracker, DOMAIN))
    out = texts(dispatcher)
    assert "WhatsApp: Setiap hari, 08:00–20:00 WIB" in out and "sedang bertugas" in out
    assert "channel=whatsapp" in str(list(desk.requests)[0][1])


def test_operating_hours_answer_uses_the_desks_wording_of_each_channel(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload={**OPEN, "channels": [
        {"channel": "whatsapp", "label": "WhatsApp", "hours_text": "Setiap hari 08.00–20.00 WIB"},
        {"channel": "default", "label": "Telepon & e-mail", "hours_text": "Senin–Jumat 09.00–17.00 WIB"}]})
    run(a.ActionAnswerFaq().run(dispatcher, make_tracker(intent="ask_operating_hours"), DOMAIN))
    out = texts(dispatcher)
    assert "• WhatsApp: Setiap hari 08.00–20.00 WIB\n• Telepon & e-mail: Senin–Jumat 09.00–17.00 WIB" in out
    assert "08:00" not in out  # not the bot's own reading of the file


def test_office_hours_closed_says_when(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=CLOSED)
    run(a.ActionAnswerFaq().run(dispatcher, make_tracker(intent="ask_operating_hours"), DOMAIN))
    assert "18 Maret 2024 pukul 09.00 WIB" in texts(dispatcher)


def test_office_hours_desk_down_still_answers(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), status=503)
    run(a.ActionAnswerFaq().run(dispatcher, make_tracker(intent="ask_operating_hours"), DOMAIN))
    out = texts(dispatcher)
    assert "Jam layanan CS" in out and "1500-000" in out


# --- account data -------------------------------------------------------------

def test_prepare_uses_verified_customer_from_metadata(dispatcher):
    tracker = make_tracker(intent="ask_bill_amount", metadata={"customer_id": "C-9", "channel": "inapp"})
    events = slot_events(run(a.ActionPrepareAccountQuery().run(dispatcher, tracker, DOMAIN)))
    assert events == {"account_query": "bill", "verified_customer_id": "C-9", "verification_status": "verified"}


def test_prepare_metadata_found_on_an_earlier_user_event(dispatcher):
    earlier = [{"event": "user", "text": "hi", "metadata": {"customer_id": "C-7"}}]
    tracker = make_tracker(intent="ask_application_status", events=earlier)
    tracker.latest_message["metadata"] = {}
    events = slot_events(run(a.ActionPrepareAccountQuery().run(dispatcher, tracker, DOMAIN)))
    assert events["verified_customer_id"] == "C-7" and events["account_query"] == "application"


def test_prepare_unverified_asks_for_identity(dispatcher):
    events = slot_events(run(a.ActionPrepareAccountQuery().run(dispatcher, make_tracker(intent="ask_bill_amount"), DOMAIN)))
    assert events["verification_status"] == "unverified"
    assert "memastikan identitas" in texts(dispatcher)


def test_verify_success(dispatcher, desk):
    desk.post(url("/api/v1/customers/verify"), payload={"verified": True, "customer_id": "C-1"})
    events = slot_events(run(a.ActionVerifyCustomer().run(dispatcher, make_tracker(slots=IDENTITY), DOMAIN)))
    assert events == {"verified_customer_id": "C-1", "verification_status": "verified", "verify_attempts": 0}
    (call,) = sent_requests(desk, "POST", "/api/v1/customers/verify")[0]
    assert call.kwargs["json"] == {"conversation_id": "conv-1", **IDENTITY}
    assert call.kwargs["headers"]["Authorization"] == "Bearer test-token"


def test_verify_failure_never_says_which_part(dispatcher, desk):
    desk.post(url("/api/v1/customers/verify"), payload={"verified": False})
    events = slot_events(run(a.ActionVerifyCustomer().run(
        dispatcher, make_tracker(slots={**IDENTITY, "verify_attempts": 0}), DOMAIN)))
    assert events["verification_status"] == "retry" and events["verify_attempts"] == 1
    assert events["full_name"] is None and events["phone"] is None and events["loan_id"] is None
    out = texts(dispatcher).lower()
    assert "1 dari 3" in out
    for leak in ("tidak terdaftar", "nomor hp salah", "nama salah", "nomor tidak"):
        assert leak not in out
    assert not handoffs(dispatcher)


def test_third_failure_hands_off(dispatcher, desk):
    desk.post(url("/api/v1/customers/verify"), payload={"verified": False})
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    events = slot_events(run(a.ActionVerifyCustomer().run(
        dispatcher, make_tracker(slots={**IDENTITY, "verify_attempts": 2}), DOMAIN)))
    assert events["verification_status"] == "locked"
    (handoff,) = handoffs(dispatcher)
    assert handoff["reason"] == "verification_failed"
    assert "81234567890" not in str(handoff["summary"])  # phone masked in the summary
    assert handoff["summary"]["phone"].endswith("890")


def test_verify_desk_down_hands_off_politely(dispatcher, desk):
    desk.post(url("/api/v1/customers/verify"), exception=TimeoutError())
    desk.get(url("/api/v1/office-hours"), status=500)
    events = slot_events(run(a.ActionVerifyCustomer().run(dispatcher, make_tracker(slots=IDENTITY), DOMAIN)))
    assert events["verification_status"] == "locked"
    assert handoffs(dispatcher) and "gangguan" in texts(dispatcher)


def test_bill_answer_for_verified_customer(dispatcher, desk):
    desk.get(url("/api/v1/customers/C-1/account"), payload={
        "customer_id": "C-1", "full_name": "Budi", "sample": True, "applications": [],
        "loans": [{"loan_id": "LN-1", "product": "PayLater", "status": "active", "bill_amount": 1250000,
                   "due_date": "2024-03-25", "late_fee": 15000, "outstanding": 3000000}]})
    tracker = make_tracker(slots={"verified_customer_id": "C-1", "account_query": "bill"})
    run(a.ActionAnswerAccountQuery().run(dispatcher, tracker, DOMAIN))
    out = texts(dispatcher)
    assert "Rp1.250.000" in out and "25 Maret 2024" in out and "Rp15.000" in out


def test_bill_answer_names_products_not_codes(dispatcher, desk):
    desk.get(url("/api/v1/customers/C-1/account"), payload={"applications": [], "loans": [
        {"loan_id": "LN-2", "product": "pinjaman_tunai", "bill_amount": 500000, "due_date": "2024-04-01"}]})
    tracker = make_tracker(slots={"verified_customer_id": "C-1", "account_query": "bill"})
    run(a.ActionAnswerAccountQuery().run(dispatcher, tracker, DOMAIN))
    assert "Pinjaman Tunai (LN-2)" in texts(dispatcher) and "pinjaman_tunai" not in texts(dispatcher)


def test_application_status_answer(dispatcher, desk):
    desk.get(url("/api/v1/customers/C-1/account"), payload={"loans": [], "applications": [
        {"application_id": "AP-9", "product": "Pinjaman Tunai", "status": "review", "status_label": "Sedang ditinjau"}]})
    tracker = make_tracker(slots={"verified_customer_id": "C-1", "account_query": "application"})
    run(a.ActionAnswerAccountQuery().run(dispatcher, tracker, DOMAIN))
    assert "Sedang ditinjau" in texts(dispatcher)


def test_application_status_names_the_product_not_its_code(dispatcher, desk):
    """Issue #11 item 5: "pinjaman_tunai" reached the borrower."""
    desk.get(url("/api/v1/customers/CUST-0001/account"), payload={"loans": [], "applications": [
        {"application_id": "APP-88001", "product": "pinjaman_tunai", "status": "disbursed",
         "status_label": "Dana sudah dicairkan", "updated_at": "2026-06-02T10:15:00+07:00"},
        {"application_id": "APP-88017", "product": "pinjaman_produktif", "status": "in_review", "status_label": None,
         "updated_at": "2026-11-18T14:30:00+07:00"}]})
    tracker = make_tracker(slots={"verified_customer_id": "CUST-0001", "account_query": "application"})
    run(a.ActionAnswerAccountQuery().run(dispatcher, tracker, DOMAIN))
    out = texts(dispatcher)
    assert "Pinjaman Tunai (APP-88001): Dana sudah dicairkan (diperbarui 2 Juni 2026)." in out
    assert "Pinjaman Produktif UMKM (APP-88017): Sedang ditinjau" in out
    assert "pinjaman_tunai" not in out and "pinjaman_produktif" not in out and "None" not in out


def test_loan_with_nothing_due_reads_naturally(dispatcher, desk):
    """Issue #11 item 5: a paid-off loan read "tagihan Rp0, jatuh tempo -."."""
    desk.get(url("/api/v1/customers/CUST-0004/account"), payload={"applications": [], "loans": [
        {"loan_id": "PJ-2023-000998", "product": "pinjaman_tunai", "status": "paid_off", "bill_amount": 0,
         "due_date": None, "late_fee": 0, "outstanding": 0},
        {"loan_id": "PL-2026-000321", "product": "paylater", "status": "active", "bill_amount": 275000,
         "due_date": "2026-12-15", "late_fee": 0, "outstanding": 825000},
        {"loan_id": "PL-2025-004567", "product": "paylater", "status": "overdue", "bill_amount": 480000,
         "due_date": "2026-11-10", "late_fee": 36000, "outstanding": 1440000},
        {"loan_id": "PJ-2025-000001", "product": "pinjaman_tunai", "status": "active", "bill_amount": 0,
         "due_date": None, "late_fee": 0, "outstanding": 900000}]})
    tracker = make_tracker(slots={"verified_customer_id": "CUST-0004", "account_query": "bill"})
    run(a.ActionAnswerAccountQuery().run(dispatcher, tracker, DOMAIN))
    out = texts(dispatcher)
    assert "Rp0" not in out and "jatuh tempo -" not in out
    assert "Pinjaman Tunai (PJ-2023-000998): sudah lunas, tidak ada tagihan." in out
    # A bill without a fine says so (asked by hand: "kalo telat bayar dendanya berapa min?").
    assert "PayLater (PL-2026-000321): tagihan Rp275.000, jatuh tempo 15 Desember 2026, tanpa denda." in out
    assert "PayLater (PL-2025-004567): tagihan Rp480.000, jatuh tempo 10 November 2026, denda Rp36.000 " \
           "(sudah lewat jatuh tempo)." in out
    assert "(PJ-2025-000001): tidak ada tagihan yang perlu dibayar saat ini (sisa pinjaman Rp900.000)." in out


def test_account_answer_refuses_without_verification(dispatcher, desk):
    run(a.ActionAnswerAccountQuery().run(dispatcher, make_tracker(slots={"account_query": "bill"}), DOMAIN))
    assert "memastikan identitas" in texts(dispatcher)
    assert not desk.requests


# --- complaints ---------------------------------------------------------------

def test_start_complaint_proposes_category_and_prefills(dispatcher):
    tracker = make_tracker(intent="complain_payment", text="udh bayar paylater tp blm masuk",
                           metadata={"phone": "0812-3456-7890"})
    events = slot_events(run(a.ActionStartComplaint().run(dispatcher, tracker, DOMAIN)))
    assert events["proposed_category"] == "payment" and events["complaint_route"] == "form"
    assert events["phone"] == "+6281234567890" and events["product"] == "PayLater"
    assert events["complaint_id"]
    assert not handoffs(dispatcher)


@pytest.mark.parametrize("intent, text, reason, priority", [
    ("complain_fraud", "ada yang pinjam atas nama saya", "fraud", "high"),
    ("complain_collection", "dc ngancam sebar data saya", "collection_threat", "urgent"),
    ("complain_collection", "penagih nelpon keluarga saya", "collection_threat", "high"),
])
def test_fraud_and_collection_hand_off_at_once(dispatcher, desk, intent, text, reason, priority):
    desk.get(url("/api/v1/office-hours"), payload=CLOSED)
    events = slot_events(run(a.ActionStartComplaint().run(dispatcher, make_tracker(intent=intent, text=text), DOMAIN)))
    assert events["complaint_route"] == "handoff"
    (handoff,) = handoffs(dispatcher)
    assert handoff["reason"] == reason and handoff["priority"] == priority
    assert "18 Maret 2024" in texts(dispatcher)  # outside hours: when a person replies
    assert handoff["hours_told"] is True  # so the desk does not say it a second time


def test_inside_hours_the_handoff_leaves_the_hours_to_the_desk(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    run(a.ActionStartComplaint().run(dispatcher, make_tracker(intent="complain_fraud", text="akun saya dibobol"),
                                     DOMAIN))
    (handoff,) = handoffs(dispatcher)
    assert handoff["hours_told"] is False


def test_fraud_handoff_files_an_incomplete_ticket_and_carries_its_number(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    desk.post(url("/api/v1/tickets"), status=201, payload={
        "ticket_number": "DCI-261130-0005-4", "receipt_text": "Tanda Bukti Terima DCI-261130-0005-4",
        "missing_fields": ["full_name", "product", "transaction_date"]})
    words = "Ada yang pinjam atas nama saya pakai KTP saya, saya tidak pernah daftar"
    tracker = make_tracker(intent="complain_fraud", text=words,
                           metadata={"conversation_id": "desk-7", "channel": "whatsapp", "phone": "+6281234567890"})
    events = slot_events(run(a.ActionStartComplaint().run(dispatcher, tracker, DOMAIN)))
    (call,) = sent_requests(desk, "POST", "/api/v1/tickets")[0]
    payload = call.kwargs["json"]
    assert payload["incomplete"] is True and payload["reason"] == "fraud"
    assert payload["category"] == "fraud" and payload["priority"] in ("high", "urgent")
    assert payload["chronology"] == words  # the borrower's own words
    assert payload["phone"] == "+6281234567890" and payload["conversation_id"] == "desk-7"
    assert call.kwargs["headers"]["Idempotency-Key"] == f"desk-7:{events['complaint_id']}"
    (handoff,) = handoffs(dispatcher)
    assert handoff["ticket_number"] == "DCI-261130-0005-4" and handoff["reason"] == "fraud"
    assert "DCI-261130-0005-4" in texts(dispatcher) and "Tanda Bukti Terima" in texts(dispatcher)
    assert events["ticket_number"] == "DCI-261130-0005-4"


def test_collection_threat_hands_off_even_when_the_ticket_cannot_be_filed(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    desk.post(url("/api/v1/tickets"), status=503, payload={"error": "down"})
    tracker = make_tracker(intent="complain_collection", text="dc ngancam sebar data saya")
    run(a.ActionStartComplaint().run(dispatcher, tracker, DOMAIN))
    (handoff,) = handoffs(dispatcher)
    assert handoff["reason"] == "collection_threat" and handoff["ticket_number"] is None


COMPLAINT = {"full_name": "Budi Santoso", "phone": "+6281234567890", "product": "PayLater",
             "transaction_date": "2024-03-12", "chronology": "Saya bayar lewat Indomaret tapi belum masuk sampai sekarang.",
             "complaint_category": "payment", "priority": "medium", "complaint_id": "abc123"}


def test_submit_creates_ticket_idempotently_and_shows_receipt(dispatcher, desk):
    body = {"ticket_number": "DCI-20240315-0001", "status": "received", "receipt_text": "TANDA BUKTI TERIMA DCI-20240315-0001"}
    desk.post(url("/api/v1/tickets"), payload=body, status=201)
    desk.post(url("/api/v1/tickets"), payload=body, status=201)
    tracker = make_tracker(slots=COMPLAINT, metadata={"conversation_id": "desk-42", "channel": "whatsapp"})
    events = slot_events(run(a.ActionSubmitComplaint().run(dispatcher, tracker, DOMAIN)))
    run(a.ActionSubmitComplaint().run(dispatcher, tracker, DOMAIN))  # a retry
    calls = sent_requests(desk, "POST", "/api/v1/tickets")[0]
    keys = {c.kwargs["headers"]["Idempotency-Key"] for c in calls}
    assert len(calls) == 2 and keys == {"desk-42:abc123"}
    payload = calls[0].kwargs["json"]
    assert payload["transaction_date"] == "2024-03-12" and payload["channel"] == "whatsapp"
    assert payload["category"] == "payment" and payload["conversation_id"] == "desk-42"
    assert "TANDA BUKTI TERIMA DCI-20240315-0001" in texts(dispatcher)
    assert "Simpan nomor tiket" not in texts(dispatcher)  # the desk's receipt says it; never twice
    assert events["ticket_number"] == "DCI-20240315-0001"


def test_submit_desk_error_hands_off_and_keeps_data(dispatcher, desk):
    desk.post(url("/api/v1/tickets"), status=500, payload={"error": "boom"})
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    events = slot_events(run(a.ActionSubmitComplaint().run(dispatcher, make_tracker(slots=COMPLAINT), DOMAIN)))
    (handoff,) = handoffs(dispatcher)
    assert handoff["category"] == "payment" and "Indomaret" in handoff["summary"]["chronology"]
    assert "chronology" not in events and events["complaint_id"] == "abc123"
    assert "tidak hilang" in texts(dispatcher)


def test_ask_category_offers_confirmation_then_list(dispatcher):
    tracker = make_tracker(slots={"proposed_category": "relief"}, intent="request_relief")
    run(a.ActionAskComplaintCategory().run(dispatcher, tracker, DOMAIN))
    assert "Keringanan" in texts(dispatcher) and len(dispatcher.messages[0]["buttons"]) == 2
    other = type(dispatcher)()
    run(a.ActionAskComplaintCategory().run(other, make_tracker(slots={"proposed_category": "relief"}, intent="deny"), DOMAIN))
    assert len(other.messages[0]["buttons"]) == 7


def test_summary_and_field_choice(dispatcher):
    run(a.ActionAskComplaintConfirmed().run(dispatcher, make_tracker(slots=COMPLAINT, intent="inform"), DOMAIN))
    assert "12 Maret 2024" in texts(dispatcher) and "Pembayaran" in texts(dispatcher)
    other = type(dispatcher)()
    run(a.ActionAskComplaintConfirmed().run(other, make_tracker(slots=COMPLAINT, intent="deny"), DOMAIN))
    assert [b["title"] for b in other.messages[0]["buttons"]][:2] == ["Nama", "Nomor HP"]


def test_ask_product_buttons_come_from_content(dispatcher):
    run(a.ActionAskProduct().run(dispatcher, make_tracker(), DOMAIN))
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == \
        ["Pinjaman Tunai", "PayLater", "Pinjaman Produktif UMKM"]


def test_cancel_resets_form(dispatcher):
    events = slot_events(run(a.ActionCancelForm().run(dispatcher, make_tracker(slots=COMPLAINT), DOMAIN)))
    assert events["chronology"] is None and events["complaint_id"] is None
    assert "batalkan" in texts(dispatcher)


# --- tickets ------------------------------------------------------------------

def test_ticket_found(dispatcher, desk):
    desk.get(url("/api/v1/tickets/DCI-20240105-0001"), payload={
        "ticket_number": "DCI-20240105-0001", "status": "in_progress", "status_label": "Sedang diproses",
        "category": "payment", "resolution_due": "2024-02-02T17:00:00+07:00",
        # As tickets/api.py sends it: the time of the last change, ISO 8601 with microseconds.
        "last_update": "2024-01-08T02:15:30.573693+00:00"})
    tracker = make_tracker(slots={"ticket_number": "DCI-20240105-0001"}, metadata={"conversation_id": "desk-42"})
    events = slot_events(run(a.ActionCheckTicket().run(dispatcher, tracker, DOMAIN)))
    assert events["ticket_lookup"] == "found"
    assert "Sedang diproses" in texts(dispatcher) and "2 Februari 2024" in texts(dispatcher)
    assert "Terakhir diperbarui: 8 Januari 2024 pukul 09.15 WIB." in texts(dispatcher)
    assert "T02:15" not in texts(dispatcher)  # never a raw timestamp in a borrower's chat
    assert "conversation_id=desk-42" in str(list(desk.requests)[0][1])


def test_ticket_not_found(dispatcher, desk):
    desk.get(url("/api/v1/tickets/DCI-1-1"), status=404, payload={"error": "not_found"})
    events = slot_events(run(a.ActionCheckTicket().run(dispatcher, make_tracker(slots={"ticket_number": "DCI-1-1"}), DOMAIN)))
    assert events["ticket_lookup"] == "not_found" and "tidak kami temukan" in texts(dispatcher)


def test_ticket_forbidden_asks_to_verify(dispatcher, desk):
    desk.get(url("/api/v1/tickets/DCI-1-1"), status=403, payload={"error": "verification_required"})
    events = slot_events(run(a.ActionCheckTicket().run(dispatcher, make_tracker(slots={"ticket_number": "DCI-1-1"}), DOMAIN)))
    assert events["ticket_lookup"] == "forbidden" and events["account_query"] == "ticket"
    assert "memastikan" in texts(dispatcher)


def test_ticket_after_verification_is_looked_up_again(dispatcher, desk):
    desk.get(url("/api/v1/tickets/DCI-1-1"), payload={"ticket_number": "DCI-1-1", "status": "received"})
    tracker = make_tracker(slots={"ticket_number": "DCI-1-1", "account_query": "ticket", "verified_customer_id": "C-1"})
    events = slot_events(run(a.ActionAnswerAccountQuery().run(dispatcher, tracker, DOMAIN)))
    assert events["ticket_lookup"] == "found"


def test_ticket_desk_down_hands_off(dispatcher, desk):
    desk.get(url("/api/v1/tickets/DCI-1-1"), exception=ConnectionError())
    desk.get(url("/api/v1/office-hours"), exception=ConnectionError())
    events = slot_events(run(a.ActionCheckTicket().run(dispatcher, make_tracker(slots={"ticket_number": "DCI-1-1"}), DOMAIN)))
    assert events["ticket_lookup"] == "error"
    assert handoffs(dispatcher)[0]["ticket_number"] == "DCI-1-1"


# --- handoff and fallback -----------------------------------------------------

def test_request_human_payload(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    tracker = make_tracker(intent="request_human", slots={"proposed_category": "app", "full_name": "Budi"})
    run(a.ActionHandoff().run(dispatcher, tracker, DOMAIN))
    (handoff,) = handoffs(dispatcher)
    assert set(handoff) == {"reason", "priority", "category", "summary", "ticket_number", "hours_told"}
    assert handoff["reason"] == "request_human" and handoff["category"] == "app"
    # Data, not text: the desk renders it for agents in Indonesian (handoff/summary.py).
    assert handoff["summary"]["full_name"] == "Budi" and handoff["summary"]["last_intent"] == "request_human"
    assert handoff["summary"]["verified"] is False
    assert "segera membalas" in texts(dispatcher)


@pytest.mark.parametrize("text,runner_up,confidence,category,priority", [
    # Seen by hand on Telegram: request_human 0.59, complain_collection 0.32; it queued at medium, no category.
    ("min tolong sambungkan ke cs manusia, saya mau komplain soal penagih yang kasar",
     "complain_collection", 0.32, "unethical_collection", "high"),
    ("sambungkan ke petugas, penagihnya ngancam sebar data saya", "complain_collection", 0.4,
     "unethical_collection", "urgent"),
    ("mau bicara sama orang, saldo kepotong dua kali", "complain_payment", 0.3, "payment", "medium"),
    # Below the fallback threshold, or the generic complaint: nothing is guessed.
    ("mau bicara sama petugas", "complain_collection", 0.1, None, "medium"),
    ("mau bicara sama petugas, mau komplain", "lodge_complaint", 0.6, None, "medium"),
])
def test_a_request_for_a_person_keeps_the_complaint_it_names(dispatcher, desk, text, runner_up, confidence,
                                                             category, priority):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    ranking = [{"name": "request_human", "confidence": 0.55}, {"name": runner_up, "confidence": confidence}]
    run(a.ActionHandoff().run(dispatcher, make_tracker(intent="request_human", text=text, ranking=ranking), DOMAIN))
    (handoff,) = handoffs(dispatcher)
    assert (handoff["reason"], handoff["category"], handoff["priority"]) == ("request_human", category, priority)


def test_a_category_already_collected_wins_over_the_ranking(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    ranking = [{"name": "request_human", "confidence": 0.55}, {"name": "complain_fraud", "confidence": 0.4}]
    tracker = make_tracker(intent="request_human", text="petugas saja", ranking=ranking,
                           slots={"proposed_category": "app"})
    run(a.ActionHandoff().run(dispatcher, tracker, DOMAIN))
    (handoff,) = handoffs(dispatcher)
    assert handoff["category"] == "app"


def test_fallback_offers_top_topics(dispatcher):
    ranking = [{"name": "nlu_fallback"}, {"name": "ask_bill_amount"}, {"name": "greet"},
               {"name": "ask_payment_method"}, {"name": "complain_payment"}, {"name": "ask_product_info"}]
    tracker = make_tracker(intent="nlu_fallback", ranking=ranking)
    assert run(a.ActionSuggestTopics().run(dispatcher, tracker, DOMAIN)) == []
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == ["/ask_bill_amount", "/ask_payment_method", "/complain_payment"]


def test_second_fallback_in_a_row_hands_off(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    earlier = [{"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}},
               {"event": "bot", "text": "..."}]
    run(a.ActionSuggestTopics().run(dispatcher, make_tracker(intent="nlu_fallback", events=earlier), DOMAIN))
    assert handoffs(dispatcher)[0]["reason"] == "fallback"


def test_fallback_counter_resets_after_understood_message(dispatcher):
    earlier = [{"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}},
               {"event": "user", "parse_data": {"intent": {"name": "greet"}}}]
    run(a.ActionSuggestTopics().run(dispatcher, make_tracker(intent="nlu_fallback", events=earlier), DOMAIN))
    assert not handoffs(dispatcher) and dispatcher.messages[0]["buttons"]


def test_clarification_names_the_two_best_topics_in_plain_indonesian(dispatcher):
    # Two close intents (FallbackClassifier's ambiguity) -> a question with both, best first.
    ranking = [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "complain_payment", "confidence": 0.29},
               {"name": "ask_bill_amount", "confidence": 0.27}, {"name": "greet", "confidence": 0.1}]
    run(a.ActionSuggestTopics().run(dispatcher, make_tracker(intent="nlu_fallback", ranking=ranking), DOMAIN))
    (message,) = dispatcher.messages
    assert message["text"] == a.CLARIFY_FIRST
    assert [b["title"] for b in message["buttons"]] == ["Masalah pembayaran", "Cek tagihan"]
    assert [b["payload"] for b in message["buttons"]] == ["/complain_payment", "/ask_bill_amount"]


def test_clarification_without_topic_candidates_still_offers_two(dispatcher):
    ranking = [{"name": "nlu_fallback"}, {"name": "greet"}, {"name": "out_of_scope"}]
    run(a.ActionSuggestTopics().run(dispatcher, make_tracker(intent="nlu_fallback", ranking=ranking), DOMAIN))
    assert 2 <= len(dispatcher.messages[0]["buttons"]) <= 3


def test_the_apology_is_said_once_per_conversation(dispatcher):
    # An earlier clarification was resolved (a button was picked); the next one asks plainly.
    earlier = [{"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}},
               {"event": "bot", "text": a.CLARIFY_FIRST},
               {"event": "user", "parse_data": {"intent": {"name": "complain_app"}}}]
    run(a.ActionSuggestTopics().run(dispatcher, make_tracker(intent="nlu_fallback", events=earlier), DOMAIN))
    assert dispatcher.messages[0]["text"] == a.CLARIFY_AGAIN
    assert "maaf" not in a.CLARIFY_AGAIN.lower()


def test_second_miss_hands_off_with_the_borrowers_words_and_no_second_apology(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    earlier = [{"event": "user", "text": "dana sy ketahan gmn nih",
                "parse_data": {"intent": {"name": "nlu_fallback"},
                               "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3},
                                                  {"name": "complain_payment", "confidence": 0.22},
                                                  {"name": "ask_application_status", "confidence": 0.2}]}},
               {"event": "bot", "text": a.CLARIFY_FIRST}]
    tracker = make_tracker(intent="nlu_fallback", text="itu loh yg kemarin", events=earlier)
    run(a.ActionSuggestTopics().run(dispatcher, tracker, DOMAIN))
    (handoff,) = handoffs(dispatcher)
    assert handoff["reason"] == "fallback"
    missed = handoff["summary"]["misunderstood"]
    assert [m["text"] for m in missed] == ["dana sy ketahan gmn nih", "itu loh yg kemarin"]
    assert missed[0]["candidates"][0] == {"intent": "complain_payment", "confidence": 0.22}
    assert "maaf" not in texts(dispatcher).lower()
    assert not any(m.get("buttons") for m in dispatcher.messages)


def test_handoff_summary_keeps_the_sentences_of_a_long_message(dispatcher, desk):
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    tracker = make_tracker(intent="request_human")
    tracker.latest_message["sentences"] = [{"text": "sudah bayar kemarin", "name": "complain_payment",
                                            "confidence": 0.8}]
    run(a.ActionHandoff().run(dispatcher, tracker, DOMAIN))
    assert handoffs(dispatcher)[0]["summary"]["sentences"] == [{"text": "sudah bayar kemarin",
                                                               "intent": "complain_payment"}]


@pytest.mark.parametrize("cls, needle", [(a.ActionAskFullName, "nama lengkap"), (a.ActionAskPhone, "nomor HP"),
                                         (a.ActionAskLoanId, "PJ-2024-000123"), (a.ActionAskTransactionDate, "kemarin"),
                                         (a.ActionAskChronology, "kronologi"), (a.ActionAskTicketNumber, "DCI-")])
def test_form_prompts_come_from_content(dispatcher, cls, needle):
    assert cls().name().startswith("action_ask_")
    run(cls().run(dispatcher, make_tracker(), DOMAIN))
    assert needle in texts(dispatcher)


# --- personal data (docs/privacy.md) ---------------------------------------------

def test_privacy_info_gives_the_lenders_notice_and_link(dispatcher):
    run(a.ActionPrivacyInfo().run(dispatcher, make_tracker(intent="ask_data_use"), DOMAIN))
    text = texts(dispatcher)
    assert "UU 27/2022" in text and "https://danacontoh.example/privasi" in text and "hapus data saya" in text


def test_erasure_request_is_filed_with_the_desk(dispatcher, desk):
    desk.post(url("/api/v1/privacy/requests"), status=201, payload={
        "number": "PDP-261120-ABC123", "verified": False, "status_link": "https://desk.example/privacy/requests/t"})
    run(a.ActionRequestErasure().run(dispatcher, make_tracker(intent="request_data_erasure"), DOMAIN))
    (call,) = sent_requests(desk, "POST", "/api/v1/privacy/requests")[0]
    assert call.kwargs["json"] == {"conversation_id": "conv-1", "kind": "erasure", "details": ""}
    text = texts(dispatcher)
    assert "PDP-261120-ABC123" in text and "memverifikasi identitas" in text and "privacy/requests/t" in text


def test_erasure_request_desk_down_answers_politely(dispatcher, desk):
    desk.post(url("/api/v1/privacy/requests"), status=503, payload={"error": "unavailable"})
    run(a.ActionRequestErasure().run(dispatcher, make_tracker(intent="request_data_erasure"), DOMAIN))
    assert texts(dispatcher).startswith("Maaf, permintaan penghapusan data belum bisa kami catat")


# --- the borrower's answer to a resolution ------------------------------------

ANSWER_PATH = "/api/v1/tickets/answer"


def _answer_body(desk):
    (calls,) = sent_requests(desk, "POST", ANSWER_PATH)
    return calls[0].kwargs["json"]


def _answered(events):
    return slot_events(events).get(a.RESOLUTION_SLOT)


def test_a_dispute_goes_to_the_desk_and_its_reply_is_said(dispatcher, desk):
    desk.post(url(ANSWER_PATH), payload={
        "ticket_number": "DCI-261130-0001-4", "status": "in_progress", "outcome": "reopened", "rating_open": False,
        "reply_text": "Baik, Kak, pengaduan *DCI-261130-0001-4* kami buka kembali. LAPS SJK ..."})
    tracker = make_tracker(intent="resolution_dispute", text="saya tidak setuju, masih dipotong")
    events = run(a.ActionAnswerResolution().run(dispatcher, tracker, DOMAIN))
    assert _answered(events) == "answered"
    assert _answer_body(desk) == {"conversation_id": "conv-1", "answer": "dispute",
                                  "text": "saya tidak setuju, masih dipotong", "only_if_last": False}
    assert "kami buka kembali" in texts(dispatcher) and len(dispatcher.messages) == 1


def test_accepting_asks_for_a_rating_only_when_the_desk_can_take_one(dispatcher, desk):
    reply = {"ticket_number": "DCI-261130-0001-4", "status": "resolved", "outcome": "accepted",
             "reply_text": "Terima kasih, Kak. Kami catat bahwa Anda menyetujui penyelesaian pengaduan."}
    desk.post(url(ANSWER_PATH), payload={**reply, "rating_open": True})
    events = run(a.ActionAnswerResolution().run(dispatcher, make_tracker(intent="resolution_accept",
                                                                         text="saya terima"), DOMAIN))
    assert _answer_body(desk)["answer"] == "accept" and _answered(events) == "rate"
    assert "menyetujui" in texts(dispatcher)
    desk.post(url(ANSWER_PATH), payload={**reply, "rating_open": False})
    events = run(a.ActionAnswerResolution().run(dispatcher, make_tracker(intent="resolution_accept", text="oke"),
                                                DOMAIN))
    assert _answered(events) == "answered"  # nothing to rate: no question


def test_a_bare_no_counts_only_when_the_desk_says_the_notice_was_last(dispatcher, desk):
    desk.post(url(ANSWER_PATH), status=404, payload={"error": "not_found"})
    events = run(a.ActionAnswerResolution().run(dispatcher, make_tracker(intent="deny", text="tidak"), DOMAIN))
    assert _answer_body(desk)["only_if_last"] is True and _answer_body(desk)["answer"] == "dispute"
    assert _answered(events) == "nothing_pending" and not dispatcher.messages  # the rule says the usual thing


def test_a_dispute_with_no_pending_notice_is_left_to_the_rule(dispatcher, desk):
    desk.post(url(ANSWER_PATH), status=404, payload={"error": "not_found"})
    events = run(a.ActionAnswerResolution().run(dispatcher, make_tracker(intent="resolution_dispute",
                                                                         text="belum beres"), DOMAIN))
    assert _answered(events) == "nothing_pending"
    assert not dispatcher.messages and not handoffs(dispatcher)


def test_the_next_step_comes_from_the_lender_file_even_without_a_ticket(dispatcher, desk):
    desk.post(url(ANSWER_PATH), status=404, payload={"error": "not_found"})
    events = run(a.ActionAnswerResolution().run(dispatcher, make_tracker(intent="resolution_next_step",
                                                                         text="terus saya harus ke mana?"), DOMAIN))
    out = texts(dispatcher)
    assert "LAPS SJK" in out and "kontak157.ojk.go.id" in out and _answered(events) == "answered"


def test_a_dispute_the_desk_cannot_record_goes_to_a_person(dispatcher, desk):
    desk.post(url(ANSWER_PATH), status=503)
    desk.get(url("/api/v1/office-hours"), payload=OPEN)
    run(a.ActionAnswerResolution().run(dispatcher, make_tracker(intent="resolution_dispute",
                                                                text="saya tidak setuju"), DOMAIN))
    (handoff,) = handoffs(dispatcher)
    assert handoff["reason"] == "complex_case" and "belum bisa saya catat" in texts(dispatcher)
