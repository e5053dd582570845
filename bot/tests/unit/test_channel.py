"""The desk input channel forwards metadata from the JSON body."""
from types import SimpleNamespace

from channels.desk import DeskInput, nlu_marker


def test_name_and_webhook():
    assert DeskInput.name() == "desk"


def test_metadata_forwarded_with_contract_keys():
    request = SimpleNamespace(json={"sender": "c1", "message": "halo",
                                    "metadata": {"channel": "inapp", "customer_id": "C-1"}})
    meta = DeskInput().get_metadata(request)
    assert meta == {"channel": "inapp", "conversation_id": None, "customer_id": "C-1", "phone": None}


def test_missing_or_bad_metadata_is_none():
    assert DeskInput().get_metadata(SimpleNamespace(json={"message": "x"})) is None
    assert DeskInput().get_metadata(SimpleNamespace(json={"message": "x", "metadata": "oops"})) is None


def _user(text, intent, confidence, ranking=()):
    return {"event": "user", "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": confidence},
                           "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking]}}


def test_nlu_marker_flags_a_fallback_with_its_two_likeliest_intents():
    events = [_user("halo", "greet", 0.9), {"event": "action", "name": "utter_greet"},
              _user("dana sy ketahan", "nlu_fallback", 0.3,
                    [("nlu_fallback", 0.3), ("complain_payment", 0.22), ("ask_application_status", 0.2),
                     ("greet", 0.1)]),
              {"event": "action", "name": "action_suggest_topics"}]
    marker = nlu_marker(events)
    assert marker["flag"] == "fallback" and marker["intent"] == "nlu_fallback"
    assert marker["candidates"] == [{"intent": "complain_payment", "confidence": 0.22},
                                    {"intent": "ask_application_status", "confidence": 0.2}]


def test_nlu_marker_flags_a_clarification_and_low_confidence_but_not_a_button():
    clarified = [_user("itu loh", "ask_bill_amount", 0.7), {"event": "action", "name": "action_suggest_topics"}]
    assert nlu_marker(clarified)["flag"] == "clarified"
    assert nlu_marker([_user("tagihan?", "ask_bill_amount", 0.4)])["flag"] == "low_confidence"
    assert nlu_marker([_user("/ask_bill_amount", "ask_bill_amount", 0.4)])["flag"] is None
    assert nlu_marker([_user("tagihan saya berapa", "ask_bill_amount", 0.93)])["flag"] is None
    assert nlu_marker([{"event": "action", "name": "action_listen"}]) is None
