"""Splitting long replies into the pieces a provider accepts (WhatsApp 1600, Telegram 4096 characters)."""
from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, preferring paragraph, line, then word breaks.

    Joining the pieces with the separators they were cut at gives back the text
    (modulo the whitespace at the cut); no piece is empty unless ``text`` is.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator, 0, limit + 1)
            if cut > 0:
                break
        if cut <= 0:  # one unbroken run of characters: cut it hard
            cut = limit
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            pieces.append(head)
    if rest or not pieces:
        pieces.append(rest)
    return pieces
