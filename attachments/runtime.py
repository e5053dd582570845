"""The attachments part's long-lived pieces, built once per process by the root."""
from __future__ import annotations

from dataclasses import dataclass

from sanic import Sanic

from attachments.checks import sniff
from attachments.config import AttachmentSettings
from attachments.files import FileStore, LocalFileStore, new_key
from attachments.s3 import S3FileStore
from attachments.service import StoredFile
from attachments.signing import signed_url
from attachments.worker import AttachmentWorker, UploadSource
from storage.base import utcnow
from storage.db import Database


class UploadRefused(ValueError):
    """An uploaded file was refused: ``status`` 413 (too large) or 415 (type), ``code`` for the JSON error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def build_file_store(settings: AttachmentSettings) -> FileStore:
    """The store ``ATTACHMENTS_STORAGE`` names: the one place that asks which backend runs."""
    if settings.attachments_storage == "s3":
        return S3FileStore(settings)
    return LocalFileStore(settings.attachments_dir)


@dataclass
class Attachments:
    """Settings, file store and fetch worker of the attachments part."""

    settings: AttachmentSettings
    files: FileStore
    worker: AttachmentWorker
    link_secret: str
    public_base_url: str

    def link(self, attachment_id: int) -> str:
        """A signed, expiring URL of an outbound file (what Twilio fetches, what the in-app chat links)."""
        return signed_url(self.public_base_url, self.link_secret, attachment_id,
                          ttl_seconds=self.settings.attachments_url_ttl_seconds)

    async def store_upload(self, data: bytes) -> StoredFile:
        """Check an uploaded file (size, then type by content) and store it; ``UploadRefused`` otherwise."""
        limit = self.settings.attachments_max_bytes
        if len(data) > limit:
            raise UploadRefused(413, "file_too_large", f"files may be at most {limit} bytes")
        if not data:
            raise UploadRefused(415, "file_type", "the file is empty")
        content_type = sniff(data)
        if content_type is None:
            raise UploadRefused(415, "file_type", "only JPEG, PNG, WebP and PDF files are accepted")
        key = new_key(content_type, utcnow())
        await self.files.put(key, data, content_type)
        return StoredFile(key, content_type, len(data))


def build_attachments(db: Database, *, public_base_url: str, link_secret: str,
                      settings: AttachmentSettings | None = None, files: FileStore | None = None) -> Attachments:
    """The part's runtime: file store from settings, a worker that already knows in-app uploads."""
    settings = settings or AttachmentSettings()
    files = files or build_file_store(settings)
    worker = AttachmentWorker(db, files, {"upload": UploadSource(files)}, max_bytes=settings.attachments_max_bytes,
                              max_attempts=settings.attachments_max_attempts,
                              poll_seconds=settings.attachments_poll_seconds,
                              timeout_seconds=settings.attachments_fetch_timeout_seconds)
    return Attachments(settings, files, worker, link_secret, public_base_url)


def attachments_of(app: Sanic) -> Attachments:
    """The part's runtime installed on ``app`` (``attachments.web.install``); raises when it is not."""
    runtime = getattr(app.ctx, "attachments", None)
    if not isinstance(runtime, Attachments):
        raise RuntimeError("the attachments part is not installed on this app")
    return runtime
