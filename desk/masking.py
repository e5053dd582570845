"""Masking of personal data (phone numbers, NIK, e-mail, names) and of secrets in logs.

Used by the log formatter and by any view shown to a role that does not need
the full value. One place, so every log line and page masks the same way.
"""
from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable

# NIK: 16 digits.
_NIK = re.compile(r"(?<!\d)(\d{6})\d{6}(\d{4})(?!\d)")
# Indonesian mobile numbers as people and providers write them: +62 / 62 / 0, then 8…,
# with spaces, dots, dashes or brackets anywhere: +6281234567890, +62 857 9573 0601,
# +62 812-3456-7890, 0812 3456 7890, 0812-3456-7890, (0812) 3456-7890, 62812….
_PHONE = re.compile(r"(?<![\w+.,])\(?(\+62|62|0)\)?[\s-]?\(?(8)((?:[\s.()-]{0,2}\d){8,11})(?!\d)")
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")

REDACTED = "<redacted>"
# Secrets that travel in URLs and headers, whatever their value.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Telegram's Bot API puts the token in the path: https://api.telegram.org/bot<token>/sendMessage
    (re.compile(r"(/bot)[^/\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b"), REDACTED),
    # Authorization: Basic …, 'authorization': 'Bearer …', authorization=…
    (re.compile(r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer|token)\s+)?)[^\s\"',;}]+"),
     r"\1" + REDACTED),
    # https://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s:@\"']+:[^/\s@\"']+@"), r"\1" + REDACTED + "@"),
    # ?token=…&secret=…
    (re.compile(r"(?i)\b((?:[a-z_]*token|secret|password|passwd|api_key|signature)=)[^&\s\"']+"), r"\1" + REDACTED),
    # SQLAlchemy appends a statement's parameters (a message's text) to its errors.
    # (The formatter masks the exception text before escaping it, so this is one real line.)
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: hidden]"),
    # asyncpg names the refused value: "invalid input for query argument $2: 'text' (…)".
    (re.compile(r"(invalid input for query argument \$\d+: )[^\n]*"), r"\1" + REDACTED),
)
_secrets: set[str] = set()


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


def _masked_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(3))
    return match.group(1) + "8" + digits[0] + "****" + digits[-3:]


def mask_text(text: str) -> str:
    """Mask every NIK, phone number (any common format) and e-mail address inside free text."""
    text = _NIK.sub(lambda m: m.group(1) + "******" + m.group(2), text)
    text = _PHONE.sub(_masked_phone, text)
    text = _EMAIL.sub(lambda m: m.group(1) + "***" + m.group(2), text)
    return text


def register_secrets(values: Iterable[str | None]) -> None:
    """Never let these values (tokens, passwords) appear in a log line; short values are ignored."""
    for value in values:
        if value and len(value) >= 8:
            _secrets.add(value)


def register_basic_auth(user: str, password: str) -> None:
    """Register ``password`` and the ``Authorization: Basic`` value built from it."""
    register_secrets([password, base64.b64encode(f"{user}:{password}".encode()).decode()])


def redact_secrets(text: str) -> str:
    """Replace registered secrets and secret-shaped values (tokens in URLs, auth headers) with <redacted>."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_log_text(text: str) -> str:
    """What a log line may show: secrets redacted, personal data masked."""
    return mask_text(redact_secrets(text))


class MaskingFilter(logging.Filter):
    """A logging filter that redacts secrets and masks personal data in every record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_log_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
