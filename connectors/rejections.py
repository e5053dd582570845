"""How every connector refuses a request: one log line (masked) and one error answer.

Rejected requests are never processed and never stored; the log line is the
only trace, so it names the channel, the reason and a masked hint of who sent it.
"""
from __future__ import annotations

import logging

from sanic import Request
from sanic.response import HTTPResponse

from desk.auth import error
from desk.masking import MaskingFilter, mask_text

log = logging.getLogger("aduan.channels")
log.addFilter(MaskingFilter())

# Webhook and chat bodies are small: a message is at most Settings.max_message_chars
# characters. Anything much bigger is refused before parsing.
MAX_BODY_BYTES = 256 * 1024


class Rejected(Exception):
    """A request the connector refuses: ``status``, a machine ``code`` and an English message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def reject(request: Request, channel: str, exc: Rejected, *, who: str | None = None) -> HTTPResponse:
    """Log the refusal (masked) and answer with the desk's JSON error shape."""
    log.warning(
        "rejected %s request %s %s: %s (%s) from=%s ip=%s",
        channel, request.method, request.path, exc.code, mask_text(exc.message),
        mask_text(who or "-"), request.remote_addr or request.ip,
    )
    return error(exc.status, exc.code, exc.message)


def check_body_size(request: Request) -> None:
    """Refuse bodies over ``MAX_BODY_BYTES`` with 413."""
    if len(request.body or b"") > MAX_BODY_BYTES:
        raise Rejected(413, "payload_too_large", f"request bodies are limited to {MAX_BODY_BYTES} bytes")


def check_text_length(text: str, max_chars: int) -> None:
    """Refuse message texts over ``max_chars`` with 413."""
    if len(text) > max_chars:
        raise Rejected(413, "message_too_long", f"messages are limited to {max_chars} characters")
