"""Masking of personal data (phone numbers, NIK, e-mail, names).

Used by the log formatter and by any view shown to a role that does not need
the full value. One place, so every log line and page masks the same way.
"""
from __future__ import annotations

import logging
import re

# NIK: 16 digits. Phones: +62/62/08 followed by 7–12 digits, with optional separators.
_NIK = re.compile(r"(?<!\d)(\d{6})\d{6}(\d{4})(?!\d)")
_PHONE = re.compile(r"(?<![\w])(\+?62|0)(8\d)[\d\s.-]{5,12}(\d{3})(?!\d)")
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")


def mask_phone(phone: str | None) -> str:
    """+6281234567890 → +62812****890."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:5] + "*" * (len(digits) - 8) + digits[-3:]


def mask_name(name: str | None) -> str:
    """Budi Santoso → B*** S******."""
    if not name:
        return ""
    return " ".join(w[0] + "*" * (len(w) - 1) if w else w for w in name.split(" "))


def mask_text(text: str) -> str:
    """Mask every NIK, phone number and e-mail address inside free text."""
    text = _NIK.sub(lambda m: m.group(1) + "******" + m.group(2), text)
    text = _PHONE.sub(lambda m: m.group(1) + m.group(2) + "****" + m.group(3), text)
    text = _EMAIL.sub(lambda m: m.group(1) + "***" + m.group(2), text)
    return text


class MaskingFilter(logging.Filter):
    """A logging filter that masks personal data in every record's rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
