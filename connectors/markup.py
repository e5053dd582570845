"""One neutral chat markup, rendered per channel at the edge.

Every text the desk and the bot send is stored in one neutral form: plain text
with WhatsApp-style ``*bold*`` markers. Each connector renders it for its
channel, so the store, the console and the transcripts hold one form and no
channel ever shows another channel's markup:

* WhatsApp: as is (WhatsApp renders ``*bold*`` itself).
* Telegram: HTML (``parse_mode="HTML"``): ``&``, ``<`` and ``>`` escaped, then
  ``*x*`` turned into ``<b>x</b>``.
* In-app chat (and anything else plain): the markers removed, since the web
  chat shows text as text.
"""
from __future__ import annotations

import html
import re

BOLD = re.compile(r"\*([^*\n]+)\*")


def to_telegram_html(text: str) -> str:
    """Neutral text as Telegram HTML (send it with ``parse_mode="HTML"``)."""
    return BOLD.sub(lambda m: f"<b>{m.group(1)}</b>", html.escape(text, quote=False))


def to_plain(text: str) -> str:
    """Neutral text without its markers, for channels that show text as text."""
    return BOLD.sub(lambda m: m.group(1), text)
