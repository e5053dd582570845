"""Where file bytes live: one ``FileStore`` interface, one implementation per backend.

``LocalFileStore`` (the default, under ``ATTACHMENTS_DIR``) and
``attachments.s3.S3FileStore`` (S3-compatible object storage, production).
The root picks one from ``ATTACHMENTS_STORAGE`` (``attachments.wiring``);
nothing else asks which backend runs. Keys are made by ``new_key`` and never
contain user input.
"""
from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Protocol

from attachments.checks import EXTENSIONS

_KEY = re.compile(r"^[0-9]{4}/[0-9]{2}/[0-9a-f]{32}\.[a-z]{3,4}$")


class FileMissing(LookupError):
    """The store has no object under this key."""


class FileStore(Protocol):
    """Stores and returns file bytes by key. Implementations are safe to share between tasks."""

    name: str

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` (overwrites; the write is complete or absent, never partial)."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; raises ``FileMissing`` when there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...


def new_key(content_type: str, now: datetime) -> str:
    """A fresh, unguessable key: ``YYYY/MM/<32 hex>.<ext>`` (month folders keep listings small)."""
    return f"{now:%Y/%m}/{secrets.token_hex(16)}.{EXTENSIONS.get(content_type, 'bin')}"


def check_key(key: str) -> str:
    """``key`` if it has ``new_key``'s shape; ``ValueError`` otherwise (no path tricks reach a backend)."""
    if not _KEY.match(key):
        raise ValueError("not an attachment key")
    return key


class LocalFileStore:
    """Files under one directory on the local filesystem (single-host deployments, development)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write to a temporary file beside the target, then rename: readers never see half a file."""
        await asyncio.to_thread(self._put, self._path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        """The file's bytes; ``FileMissing`` when it is not there."""
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise FileMissing(key) from None

    async def delete(self, key: str) -> None:
        """Remove the file if present."""
        await asyncio.to_thread(self._path(key).unlink, True)
