"""The background job that fetches files, checks them and stores them.

The router never waits for a file: the webhook records pending rows
(``attachments.service.record_inbound``) and nudges this worker, which claims
due rows, asks the channel's ``MediaSource`` for the bytes, checks type and
size (``attachments.checks``) and stores them in the ``FileStore``. Provider
errors are retried (at most ``ATTACHMENTS_MAX_ATTEMPTS``, 5 s then 10 s…);
a file that is too large or of another type fails at once. Either way the row
stays, visible as "not retrieved" with its reason and a retry.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from attachments import service
from attachments.checks import sniff
from attachments.files import FileMissing, FileStore, new_key
from attachments.models import Attachment, FailureReason
from storage.base import utcnow
from storage.db import Database

log = logging.getLogger("aduan.attachments")


@dataclass(frozen=True)
class Fetched:
    """The bytes a source delivered, and the file name it knows (documents), if any."""

    data: bytes
    filename: str | None = None


class FetchFailed(Exception):
    """A source could not deliver the file. ``retryable``: a later attempt may succeed."""

    def __init__(self, reason: FailureReason, detail: str, *, retryable: bool = False) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retryable = retryable


class MediaSource(Protocol):
    """Fetches the bytes behind one media reference of one channel."""

    async def fetch(self, ref: str, *, max_bytes: int) -> Fetched:
        """The file's bytes, at most ``max_bytes`` (more raises ``FetchFailed(TOO_LARGE)``)."""
        ...


class UploadSource:
    """In-app uploads: the upload endpoint already stored the bytes (``upload:<key>``)."""

    def __init__(self, files: FileStore) -> None:
        self._files = files

    async def fetch(self, ref: str, *, max_bytes: int) -> Fetched:
        """Read the uploaded object back so it is checked like any other file."""
        key = ref.removeprefix(service.UPLOAD_PREFIX)
        try:
            data = await self._files.get(key)
        except (FileMissing, ValueError):
            raise FetchFailed(FailureReason.NOT_FOUND, "uploaded file is missing from the store") from None
        return Fetched(data)


Listener = Callable[[Attachment, str], Awaitable[None]]


class AttachmentWorker:
    """Polls for pending attachments (and is nudged when new ones are recorded) and fetches them."""

    def __init__(self, db: Database, files: FileStore, sources: Mapping[str, MediaSource], *,
                 max_bytes: int, max_attempts: int = 3, poll_seconds: float = 2.0,
                 timeout_seconds: float = 30.0, concurrency: int = 4) -> None:
        self.db = db
        self.files = files
        self.sources: dict[str, MediaSource] = dict(sources)
        self.max_bytes = max_bytes
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.concurrency = concurrency
        # Called after each row's outcome is committed (the console refreshes the conversation).
        self.listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def register_source(self, channel: str, source: MediaSource) -> None:
        """The channel's fetcher; one per channel value."""
        self.sources[channel] = source

    def nudge(self) -> None:
        """New rows were recorded: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run the loop in the background until ``stop``."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="attachments-worker")

    async def stop(self) -> None:
        """Stop the loop; a fetch in flight is abandoned and its claim runs out (fetched again later)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be down; try again at the next poll
                log.exception("attachment fetch round failed")
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """Claim due rows and process them; returns how many were claimed (tests call this directly)."""
        rows = await service.claim_due(self.db, limit=self.concurrency * 4)
        if rows:
            gate = asyncio.Semaphore(self.concurrency)

            async def one(row: Attachment) -> None:
                async with gate:
                    await self.process(row)

            await asyncio.gather(*(one(row) for row in rows))
        return len(rows)

    async def process(self, row: Attachment) -> None:
        """Fetch, check and store one claimed row, and record the outcome (never raises)."""
        outcome = "stored"
        try:
            await self._fetch_and_store(row)
        except FetchFailed as exc:
            attempts = row.attempts + 1
            retry_at = None
            if exc.retryable and attempts < self.max_attempts:
                retry_at = utcnow() + timedelta(seconds=5 * 2 ** (attempts - 1))
            outcome = "retry" if retry_at else "failed"
            log.warning("attachment %s from %s not retrieved (%s, attempt %s): %s", row.id, row.channel,
                        exc.reason.value, attempts, exc.detail)
            await service.finish_failed(self.db, row.id, reason=exc.reason, detail=exc.detail, retry_at=retry_at)
        except Exception as exc:  # noqa: BLE001 - an unknown failure must still leave a visible row
            log.exception("attachment %s fetch crashed", row.id)
            await service.finish_failed(self.db, row.id, reason=FailureReason.PROVIDER_ERROR,
                                        detail=f"unexpected error: {type(exc).__name__}", retry_at=None)
            outcome = "failed"
        for listener in self.listeners:
            try:
                await listener(row, outcome)
            except Exception:  # noqa: BLE001 - the outcome is committed; a view can reload
                log.exception("attachment listener failed")

    async def _fetch_and_store(self, row: Attachment) -> None:
        source = self.sources.get("upload" if row.source_ref.startswith(service.UPLOAD_PREFIX) else row.channel)
        if source is None:
            raise FetchFailed(FailureReason.UNSUPPORTED_SOURCE, f"no fetcher for channel {row.channel}")
        try:
            fetched = await asyncio.wait_for(source.fetch(row.source_ref, max_bytes=self.max_bytes),
                                             self.timeout_seconds)
        except asyncio.TimeoutError:
            raise FetchFailed(FailureReason.PROVIDER_ERROR, "fetch timed out", retryable=True) from None
        data = fetched.data
        if len(data) > self.max_bytes:
            raise FetchFailed(FailureReason.TOO_LARGE, f"{len(data)} bytes, limit {self.max_bytes}")
        content_type = sniff(data)
        if content_type is None:
            raise FetchFailed(FailureReason.WRONG_TYPE,
                              f"content is not JPEG, PNG, WebP or PDF (declared {row.declared_type or 'none'})")
        upload = row.source_ref.startswith(service.UPLOAD_PREFIX)
        if upload:
            key = row.source_ref.removeprefix(service.UPLOAD_PREFIX)
        else:
            key = new_key(content_type, utcnow())
            await self.files.put(key, data, content_type)
        if not await service.finish_stored(self.db, row.id, storage_key=key, content_type=content_type,
                                           size=len(data), filename=fetched.filename) and not upload:
            # Erased while we fetched it: nobody may keep these bytes (an upload's key went to the row).
            await self.files.delete(key)
