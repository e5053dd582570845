"""The desk input channel forwards metadata from the JSON body."""
from types import SimpleNamespace

from channels.desk import DeskInput


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
