"""The cached action-response validator accepts what Rasa accepts and rejects the rest."""
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import channels  # noqa: F401  (installs the validator)
from channels.action_validation import validate_action_result


def _action() -> RemoteAction:
    return RemoteAction("action_answer_faq", None)


def test_installed_on_import():
    assert RemoteAction._validate_action_result is validate_action_result


def test_valid_response_passes():
    result = {"events": [{"event": "slot", "name": "phone", "value": "+6281234567890"}],
              "responses": [{"text": "Halo, Kak"}]}
    assert _action()._validate_action_result(result) is True


@pytest.mark.parametrize("bad", [
    {"events": [{"event": "slot"}]},            # slot event without a name
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"responses": ["plain string"]},
])
def test_invalid_response_raises_with_rasa_hint(bad):
    with pytest.raises(ValidationError) as err:
        _action()._validate_action_result(bad)
    assert "Failed to validate Action server response" in err.value.message
