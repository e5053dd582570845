"""The ticket number format, pure Python (no database, no third-party imports).

``<prefix>-<YYMMDD>-<sequence>-<check>``; the why is in ``tickets/numbers.py``,
which allocates the numbers. This module is the one definition of the format:
the desk formats and parses with it, and the bot's tests generate numbers with
it to prove the assistant reads every issued number back exactly.
"""
from __future__ import annotations

import re
from datetime import date

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_TYPED = re.compile(r"^([A-Z]{2,5})(\d{6})(\d{4,7})(\d)$")
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class InvalidTicketNumber(ValueError):
    """The text is not a well-formed ticket number (or its check digit is wrong)."""


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def format_number(prefix: str, day: date, sequence: int) -> str:
    """The ticket number for ``sequence`` on ``day`` (WIB)."""
    body = f"{day:%y%m%d}"
    seq = f"{sequence:04d}"
    return f"{prefix}-{body}-{seq}-{check_digit(body + seq)}"


def parse_number(text: str) -> str:
    """Normalise what a borrower typed (any case, spaces, dashes) to the canonical number.

    Raises ``InvalidTicketNumber`` when it is malformed or the check digit does not match.
    """
    compact = re.sub(r"[\s\-./_]", "", text or "").upper()
    letters = re.match(r"^[A-Z]{2,5}", compact)
    if not letters:
        raise InvalidTicketNumber(text)
    prefix = letters.group(0)
    # The prefix may itself end in I/L/O; try the longest reading that parses.
    for cut in range(len(prefix), 1, -1):
        candidate = compact[:cut] + compact[cut:].translate(_LOOKALIKES)
        m = _TYPED.match(candidate)
        if m and m.group(1) == compact[:cut]:
            p, body, seq, check = m.groups()
            if check_digit(body + seq) != check:
                raise InvalidTicketNumber(text)
            return f"{p}-{body}-{seq}-{check}"
    raise InvalidTicketNumber(text)
