"""Indonesian phone numbers: the one place that normalises and masks them."""
from __future__ import annotations

import re
from typing import Optional

# Separators people type inside a number: spaces, dashes, dots, brackets.
_SEPARATORS = re.compile(r"[\s\-.()]")
# A candidate number inside free text, with or without country code.
_CANDIDATE = re.compile(r"(?:\+?62|0)?\s?8[\d\s\-.()]{7,16}\d")


def normalise_phone(text: str) -> Optional[str]:
    """Return the mobile number in ``text`` as ``+628…`` or None.

    Accepts 0812…, 62812…, +62 812-…, 812…, with any spacing. Indonesian
    mobile numbers have 9 to 12 digits after the country code and start
    with 8; anything else is rejected so the form can re-prompt.
    """
    if not text:
        return None
    match = _CANDIDATE.search(text)
    if not match:
        return None
    digits = _SEPARATORS.sub("", match.group(0)).lstrip("+")
    if digits.startswith("62"):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    if not national.isdigit() or not national.startswith("8"):
        return None
    if not 9 <= len(national) <= 12:
        return None
    return "+62" + national


def mask_phone(phone: Optional[str]) -> str:
    """Mask a phone number for logs: keep the prefix and the last 3 digits."""
    if not phone:
        return "<none>"
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 6:
        return "***"
    return f"+{digits[:5]}****{digits[-3:]}"
