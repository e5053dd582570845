"""Signed, expiring links to an agent's file, for providers that fetch media by URL (Twilio).

``/files/<id>/<expires>/<signature>``: HMAC-SHA256 over the id and the expiry,
keyed by a key derived from ``SESSION_SECRET``. Only outbound attachments are
served this way (``attachments.web``); a borrower's files are never public.
"""
from __future__ import annotations

import hashlib
import hmac
import time

PATH_PREFIX = "/files"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"aduan-attachment-links", hashlib.sha256).digest()


def signature(secret: str, attachment_id: int, expires: int) -> str:
    """The hex signature of one link."""
    return hmac.new(_key(secret), f"{attachment_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_path(secret: str, attachment_id: int, *, ttl_seconds: int, now: float | None = None) -> str:
    """The path (to join to ``PUBLIC_BASE_URL``) of a link valid for ``ttl_seconds``."""
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    return f"{PATH_PREFIX}/{attachment_id}/{expires}/{signature(secret, attachment_id, expires)}"


def signed_url(base_url: str, secret: str, attachment_id: int, *, ttl_seconds: int) -> str:
    """The full link a provider fetches."""
    return base_url.rstrip("/") + signed_path(secret, attachment_id, ttl_seconds=ttl_seconds)


def valid(secret: str, attachment_id: int, expires: int, sig: str, *, now: float | None = None) -> bool:
    """Is the signature right and the link unexpired? (constant-time comparison)."""
    if expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature(secret, attachment_id, expires), sig)
