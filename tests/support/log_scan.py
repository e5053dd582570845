"""A log handler that formats every record like production and remembers lines that leak.

The test session installs one on the root logger at DEBUG (tests/conftest.py)
and fails at the end if any line of the whole run carries a test secret or an
unmasked phone number or NIK. The detectors here are deliberately broader than
``desk.masking``'s patterns, so a phone format the masking misses is caught.
"""
from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from desk.logging import StructuredFormatter
from desk.masking import MaskingFilter

# Any Indonesian mobile number still in clear: +62 / 62 / 0, 8, then at least 7 digits,
# with any separators a person might type ("081234567890ya" included: borrowers glue words on).
UNMASKED_PHONE = re.compile(r"(?<![\w.])(?:\+?62|0)[\s.()-]*8(?:[\s.()-]{0,2}\d){7,12}")
UNMASKED_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
# Ids are not personal data, but about one uuid4 in 7,000 starts like a phone number
# ("082730907b06…"), so uuids (hex or dashed) are taken out of a line before it is scanned.
UUID = re.compile(r"\b(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")

# The values the test fixtures use (tests/conftest.py settings, tests/channels/conftest.py) and
# the Settings defaults: none of them may ever be printed.
TEST_SECRETS = (
    "test-service-token", "test-session-secret-0123456789", "test-twilio-auth-token", "test-telegram-secret",
    "test-inapp-signing-secret-0123456789", "123456:test-telegram-token", "test-telegram-token",
    "dev-service-token", "dev-session-secret-change-me", "dev-twilio-auth-token", "123456:dev-telegram-token",
    "dev-telegram-token", "dev-telegram-secret", "dev-inapp-signing-secret-32-bytes!",
    base64.b64encode(b"ACdev00000000000000000000000000000:test-twilio-auth-token").decode(),
    base64.b64encode(b"ACdev00000000000000000000000000000:dev-twilio-auth-token").decode(),
)


@dataclass(frozen=True)
class Leak:
    """One log line that showed what it must not, and what it showed."""

    what: str
    line: str
    test: str


class LeakScanner(logging.Handler):
    """Formats each record (``formatter``, by default the production one) and keeps the leaking lines."""

    def __init__(self, secrets: Iterable[str] = TEST_SECRETS, formatter: logging.Formatter | None = None,
                 *, mask: bool = True) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter or StructuredFormatter("kv"))
        if mask:
            self.addFilter(MaskingFilter())
        self.secrets = tuple(secrets)
        self.leaks: list[Leak] = []
        self.lines = 0
        self.current_test = ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is logging's own problem
            return
        self.lines += 1
        for what in self.findings(line):
            self.leaks.append(Leak(what, line[:500], self.current_test))

    def findings(self, line: str) -> list[str]:
        """What ``line`` leaks: secret values, unmasked phone numbers, NIKs."""
        found = [f"secret {s[:6]}…" for s in self.secrets if s in line]
        without_ids = UUID.sub("<id>", line)
        found += [f"phone {m.group(0)!r}" for m in UNMASKED_PHONE.finditer(without_ids)]
        found += [f"NIK {m.group(0)!r}" for m in UNMASKED_NIK.finditer(without_ids)]
        return found
