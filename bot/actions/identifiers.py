"""Identifiers the product prints, and how to read them in what a borrower types.

The one definition in the bot of each format:

* ticket numbers, issued by the desk (``tickets/number_format.py``):
  ``<prefix>-<YYMMDD>-<sequence>-<check>``, e.g. ``DCI-261130-0005-4``;
* loan ids of the lending core (``lending/demo_data.yml``): ``PJ-2024-000123``;
* application ids, which borrowers call the order number: ``APP-88001``;
* Indonesian mobile numbers in every common spelling (``0812 3456 7890``,
  ``+62 812-3456-7890``, ``6281234567890``), normalised to ``+628…``.

The actions read identifiers from the raw message text with these patterns
instead of trusting the NLU entity span alone: a CRF may tag a part of an id
(``000123`` of ``PJ-2024-000123``) and a cut id reads back as someone else's.
Patterns match whole ids only: a longer run of digits or letters around a
match disqualifies it. ``bot/data/nlu.yml``'s regexes are tested against the
same examples (``tests/unit/test_identifiers.py``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

# Between the groups of an id people type a dash, a space, a dot, a slash or
# nothing; spaces around a dash are common on phones ("DCI - 261130").
_SEP = r"(?:\s*[-./_]\s*|\s+)?"
_START = r"(?<![A-Za-z0-9])"
_END = r"(?![A-Za-z0-9])"

_REQ_SEP = r"(?:\s*[-./_]\s*|\s+)"
# Either every group after the date is separated ("DCI-261130-0005-4", "dci 261130 0005 4")
# or no digit group is ("DCI26113000054", "DCI-26113000054"): a separated number that
# lost its check digit ("DCI-261130-00054") is read as incomplete, never as sequence
# 0005 + check 4, and "nomor 081234567890" is a phone, not ticket NOMOR-081234-56789-0.
_TICKET = re.compile(
    rf"{_START}(?P<prefix>[A-Za-z]{{2,5}})(?:{_SEP}(?P<day>\d{{6}}){_REQ_SEP}(?P<seq>\d{{4,7}}){_REQ_SEP}(?P<check>\d)"
    rf"|[-./_]?(?P<cday>\d{{6}})(?P<cseq>\d{{4,7}})(?P<ccheck>\d)){_END}")
# The same without the prefix, only where a ticket number was asked for.
_TICKET_NO_PREFIX = re.compile(
    rf"{_START}(?P<day>\d{{6}})\s*[-./ ]\s*(?P<seq>\d{{4,7}})\s*[-./ ]\s*(?P<check>\d){_END}")
# A ticket number that lost its last digit (the check digit).
_TICKET_NO_CHECK = re.compile(rf"{_START}(?P<prefix>[A-Za-z]{{2,5}}){_SEP}(?P<day>\d{{6}}){_SEP}(?P<seq>\d{{4,7}}){_END}")

_LOAN_ID = re.compile(
    rf"{_START}(?P<prefix>[A-Za-z]{{2,4}}){_SEP}(?P<year>(?:19|20)\d{{2}}){_SEP}(?P<number>\d{{6}}){_END}")
APPLICATION_PREFIXES = ("APP",)
_APPLICATION_ID = re.compile(
    rf"{_START}(?P<prefix>{'|'.join(APPLICATION_PREFIXES)}){_SEP}(?P<number>\d{{4,8}})(?![A-Za-z0-9]|-\d)", re.IGNORECASE)

# A run of digit groups with single separators between them ("+62 812-3456-7890",
# "(0812) 3456 7890"); the phone is the longest leading part that has a valid length.
_DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9\-/.])(?:\+\s?)?\(?\d+\)?(?:[ \-.]{1,2}\(?\d+\)?)*(?![A-Za-z])")
_AMOUNT_BEFORE = re.compile(r"(?:rp|idr)\.?\s*$", re.IGNORECASE)
MOBILE_DIGITS = (9, 12)  # national significant digits of an Indonesian mobile number, after the 0 / +62

EXAMPLE_LOAN_ID = "PJ-2024-000123"
EXAMPLE_APPLICATION_ID = "APP-88001"


def find_ticket_number(text: str, default_prefix: Optional[str] = None) -> Optional[str]:
    """The first ticket number in ``text``, canonical (upper case, dashes), or None.

    With ``default_prefix``, a number typed without its letters ("261130-0005-4")
    gets the lender's prefix; use it only where a ticket number was asked for.
    """
    match = _TICKET.search(text or "")
    if match:
        return _ticket(match.group("prefix"), match)
    if default_prefix:
        match = _TICKET_NO_PREFIX.search(text or "")
        if match:
            return _ticket(default_prefix, match)
    return None


def _ticket(prefix: str, match: "re.Match[str]") -> str:
    groups = match.groupdict()
    day = groups.get("day") or groups.get("cday")
    seq = groups.get("seq") or groups.get("cseq")
    check = groups.get("check") or groups.get("ccheck")
    return f"{prefix.upper()}-{day}-{seq}-{check}"


def find_incomplete_ticket_number(text: str) -> Optional[str]:
    """A ticket number without its check digit ("DCI-261130-0005"), for a precise re-prompt."""
    if find_ticket_number(text):
        return None
    match = _TICKET_NO_CHECK.search(text or "")
    if not match:
        return None
    return f"{match.group('prefix').upper()}-{match.group('day')}-{match.group('seq')}"


def find_loan_id(text: str) -> Optional[str]:
    """The first loan id (``PJ-2024-000123``) or application id (``APP-88001``) in ``text``."""
    text = _blank(text or "", _TICKET)
    found: List[Tuple[int, str]] = []
    match = _LOAN_ID.search(text)
    if match:
        found.append((match.start(), f"{match.group('prefix').upper()}-{match.group('year')}-{match.group('number')}"))
    match = _APPLICATION_ID.search(text)
    if match:
        found.append((match.start(), f"{match.group('prefix').upper()}-{match.group('number')}"))
    # The earliest id wins; at the same place the longer reading (a loan id).
    return min(found, key=lambda item: (item[0], -len(item[1])))[1] if found else None


def _blank(text: str, *patterns: "re.Pattern[str]") -> str:
    """Replace every match of ``patterns`` with spaces (offsets stay the same)."""
    for pattern in patterns:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def _national(digits: str) -> Optional[str]:
    """The national part of a mobile number (8…) from its digits, if it has a valid shape."""
    if digits.startswith("62"):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    if national.startswith("8") and MOBILE_DIGITS[0] <= len(national) <= MOBILE_DIGITS[1]:
        return national
    return None


def find_phone(text: str) -> Optional[str]:
    """The first Indonesian mobile number in ``text`` as ``+628…``, or None.

    Accepts 0812…, 62812…, +62 812-…, 812…, with spaces, dashes, dots or
    brackets between the groups. Ticket, loan and application ids are skipped;
    so are amounts ("Rp 8.500.000.000"). When a number is followed by more
    digits ("0812 3456 7890 12 januari"), the longest leading part that is a
    valid mobile number wins.
    """
    text = _blank(text or "", _TICKET, _LOAN_ID, _APPLICATION_ID)
    for run in _DIGIT_RUN.finditer(text):
        if _AMOUNT_BEFORE.search(text[:run.start()]):
            continue
        groups = re.findall(r"\d+", run.group(0))
        best = None
        digits = ""
        for group in groups:
            digits += group
            if len(digits) > 15:
                break
            national = _national(digits)
            if national:
                best = national
        if best:
            return "+62" + best
    return None


def normalise_phone(text: str) -> Optional[str]:
    """``text`` (a number on its own or inside a sentence) as ``+628…``, or None."""
    return find_phone(text)


def mask_phone(phone: Optional[str]) -> str:
    """Mask a phone number for logs: keep the prefix and the last 3 digits."""
    if not phone:
        return "<none>"
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 6:
        return "***"
    return f"+{digits[:5]}****{digits[-3:]}"


@dataclass(frozen=True)
class Found:
    """Every identifier found in one message."""

    ticket_number: Optional[str]
    loan_id: Optional[str]
    phone: Optional[str]

    @property
    def any(self) -> bool:
        """Whether the message holds any identifier at all."""
        return bool(self.ticket_number or self.loan_id or self.phone)


def find_all(text: str) -> Found:
    """All identifiers in ``text`` (each canonical)."""
    return Found(find_ticket_number(text), find_loan_id(text), find_phone(text))
