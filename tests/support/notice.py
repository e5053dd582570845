"""The privacy notice the desk sends before the first reply of every conversation, as the lender file says.

Read the way the desk reads it (``privacy.context.notice_from_lender_file``):
suites expect what the lender configured — the notice is not switched off for
them, and a lender that changes its text or turns it off changes no test.
"""
from __future__ import annotations

from desk.config import Settings
from privacy.context import notice_from_lender_file

_NOTICE = notice_from_lender_file(Settings().lender_content)
NOTICE_TEXT = _NOTICE("whatsapp").text if _NOTICE is not None else ""
"""The stored text of the notice ("" when the lender file sends none)."""
NOTICES_AT_FIRST_CONTACT = 1 if _NOTICE is not None else 0
"""How many notice messages come before the first reply of a conversation."""


def after_notice(texts: list[str]) -> list[str]:
    """What a borrower received after the first-contact notice, which must come first (if configured)."""
    if not NOTICE_TEXT:
        return texts
    assert texts and texts[0] == NOTICE_TEXT, f"the privacy notice did not come first: {texts[:1]!r}"
    return texts[1:]
