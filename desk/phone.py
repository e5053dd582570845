"""Indonesian phone numbers: the one place that normalises them on the desk side."""
from __future__ import annotations

import re

_DIGITS = re.compile(r"\D+")
# The result's own shape: +62, a national number not starting with 0, 8–12 digits (as checked below).
_CANONICAL = re.compile(r"\+62[1-9]\d{7,11}")


class InvalidPhone(ValueError):
    """The text is not a plausible Indonesian phone number."""


def normalise_phone(raw: str) -> str:
    """Return ``raw`` as +62… (E.164). Accepts 08…, 628…, +62…, spaces, dashes, dots.

    Raises ``InvalidPhone`` when it cannot be an Indonesian number.
    """
    if _CANONICAL.fullmatch(raw):
        # Already +62…: what connectors hand over, so the per-message look-up key (desk.pii) skips the rest.
        return raw
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:"):]
    digits = _DIGITS.sub("", text)
    if digits.startswith("62"):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    elif digits.startswith("8"):
        national = digits
    else:
        raise InvalidPhone(raw)
    if national.startswith("0"):
        national = national[1:]
    # Indonesian numbers: mobile 8xx (9–12 digits after 0), landlines 2x–9x.
    if not 8 <= len(national) <= 12 or not national[0].isdigit() or national[0] == "0":
        raise InvalidPhone(raw)
    return "+62" + national
