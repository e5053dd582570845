"""What a file is, from its first bytes: the one place for the accepted types.

The sender's claimed type (Twilio's ``MediaContentType``, Telegram's
``mime_type``, the browser's part header) is never trusted: only these magic
numbers decide.
"""
from __future__ import annotations

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}


def sniff(data: bytes) -> str | None:
    """The accepted content type ``data`` starts like, or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def is_image(content_type: str | None) -> bool:
    """Shown inline in the console (and sent as a photo on Telegram)."""
    return bool(content_type) and str(content_type).startswith("image/")
