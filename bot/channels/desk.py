"""The desk's input channel: Rasa's REST channel plus message metadata.

The desk service posts ``{"sender", "message", "metadata": {"channel",
"conversation_id", "customer_id", "phone"}}`` to ``/webhooks/desk/webhook``
and gets the same answer as the REST channel (a list of bot messages; a
``custom`` entry may carry ``{"handoff": {...}}``).

Rasa 3.6's ``RestInput.get_metadata`` already returns ``metadata`` from the
JSON body; this class pins that behaviour under its own name (so a Rasa
upgrade that changes the REST channel cannot silently drop the metadata the
actions rely on) and drops metadata that is not a JSON object.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput
from sanic.request import Request

METADATA_KEYS = ("channel", "conversation_id", "customer_id", "phone")


class DeskInput(RestInput):
    """REST input channel named ``desk`` that forwards the desk's metadata."""

    @classmethod
    def name(cls) -> Text:
        return "desk"

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """Return the ``metadata`` object of the request body (or None)."""
        body = request.json or {}
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            return None
        # Keep unknown keys too (forward compatible), but make sure the
        # contract keys exist so actions can rely on them.
        return {**{key: None for key in METADATA_KEYS}, **metadata}
