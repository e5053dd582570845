"""Test helpers for the sealed columns (desk.pii): read back in clear what the desk stores sealed."""
from __future__ import annotations

from desk import pii


def opened_sender(channel: str, sealed: str | None) -> str | None:
    """A conversation's (or outbox row's) address in clear, from its channel and ciphertext."""
    return pii.keyring().decrypt(pii.sender_kind(channel), sealed) if sealed else None


def opened_phone(sealed: str | None) -> str | None:
    """A ticket's phone number in clear, from its ciphertext."""
    return pii.keyring().decrypt(pii.PHONE, sealed) if sealed else None
