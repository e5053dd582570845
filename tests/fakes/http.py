"""The shared machinery of the provider fakes: a threaded HTTP server that records requests."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    """The status the fake answered with."""
    at: float = 0.0
    """``time.monotonic()`` when the fake answered (to check a client's retry spacing)."""

    def form(self) -> dict[str, str]:
        """The body as a form (first value of each field)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    """What a fake answers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any) -> Reply:
        return cls(status, json.dumps(data).encode("utf-8"))


class FakeHTTPService:
    """Base class: subclasses implement ``handle`` and may override ``failure_reply``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        # An outage answers every request with this status until it is ended.
        self._outage_status: int | None = None
        self._changed = threading.Condition(self._lock)
        self._fail_remaining = 0
        self._fail_status = 500
        self.retry_after: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> FakeHTTPService:
        """Listen on 127.0.0.1 and a free port (port 0: the OS picks)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                reply = fake._dispatch(self.command, parts.path, parse_qs(parts.query),
                                       {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=type(self).__name__,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHTTPService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: what the desk's *_API_BASE setting takes."""
        return f"http://127.0.0.1:{self.port}"

    # -- behaviour -------------------------------------------------------
    def fail_next(self, count: int, status: int = 500, *, retry_after: int | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (a provider outage).

        ``retry_after``: the provider's wait hint in seconds, sent the provider's
        way (``failure_reply`` decides: a header for Twilio, a body field for Telegram).
        """
        with self._lock:
            self._fail_remaining = count
            self._fail_status = status
            self.retry_after = retry_after

    def reset(self) -> None:
        """Forget recorded requests and pending failures."""
        with self._lock:
            self.requests.clear()
            self._fail_remaining = 0
            self._outage_status = None
            self._reset_state()

    def start_outage(self, status: int = 500, *, retry_after: int | None = None) -> None:
        """Answer every request with ``status`` until ``end_outage()``: a provider outage.

        ``retry_after`` adds the provider's wait hint to each answer, sent the
        provider's way (as for ``fail_next``), as with a 429 rate limit.
        """
        with self._lock:
            self._outage_status = status
            self.retry_after = retry_after

    def end_outage(self) -> None:
        """The provider is back: requests are handled again."""
        with self._lock:
            self._outage_status = None
            self.retry_after = None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate()`` is true (re-checked on each request) or the timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    async def wait_for_async(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """``wait_for`` for async tests: polls without blocking the event loop."""
        import asyncio

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate():
                    return True
            await asyncio.sleep(0.01)
        with self._lock:
            return predicate()

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]],
                  headers: dict[str, str], body: bytes) -> Reply:
        # One request at a time: the fakes are tiny and this keeps records consistent.
        with self._changed:
            if self._outage_status is not None:
                reply = self.failure_reply(self._outage_status)
            elif self._fail_remaining > 0:
                self._fail_remaining -= 1
                reply = self.failure_reply(self._fail_status)
            else:
                try:
                    reply = self.handle(method, path, query, headers, body)
                except Exception as exc:  # noqa: BLE001 - a fake must answer, not hang
                    reply = Reply.json(500, {"error": "fake crashed", "detail": repr(exc)})
            self.requests.append(RecordedRequest(method, path, query, headers, body, reply.status,
                                                 time.monotonic()))
            self._changed.notify_all()
        return reply

    # -- for subclasses --------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request and keep provider-level records (called under the lock)."""
        raise NotImplementedError

    def failure_reply(self, status: int) -> Reply:
        return Reply.json(status, {"message": "injected failure", "status": status})

    def _reset_state(self) -> None:
        """Forget provider-level records (called under the lock)."""
