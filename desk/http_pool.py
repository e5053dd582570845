"""A small keep-alive HTTP/1.1 client for one origin (the desk → Rasa hot path).

Measured on the two-core CI machine, httpx spent about 7 ms of CPU per request
under load against 0.25 ms for this client; every bot-mode message makes one
such request, so the desk uses this. It does exactly what the bot client
needs: JSON POST/GET to one ``http://`` or ``https://`` origin, bodies framed
by ``Content-Length`` or chunked encoding, a bounded pool of idle connections.

A request on a reused connection that the server had already closed (idle
keep-alive expiry) is retried once on a new connection, but only when not a
single byte of the answer arrived, as browsers and urllib3 do.
"""
from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit


class HttpError(Exception):
    """The server could not be reached or answered with something that is not HTTP."""


class _StaleConnection(Exception):
    pass


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HttpPool:
    """Keep-alive connections to one origin; at most ``max_connections`` requests at a time."""

    def __init__(self, base_url: str, *, max_connections: int = 100, connect_timeout: float = 3.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._host_header = parts.netloc
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(max_connections)
        self.connect_timeout = connect_timeout

    async def request(self, method: str, path: str, body: bytes | None = None, *,
                      content_type: str = "application/json") -> tuple[int, bytes]:
        """Send one request and return (status, body). Raises ``HttpError`` or ``OSError``.

        Callers bound the total time with ``asyncio.timeout``; a cancelled
        request closes its connection, so no half-read answer is reused.
        """
        async with self._slots:
            while self._idle:
                conn = self._idle.pop()
                try:
                    return await self._exchange(conn, method, path, body, content_type, reused=True)
                except _StaleConnection:
                    continue
            conn = await self._connect()
            try:
                return await self._exchange(conn, method, path, body, content_type, reused=False)
            except _StaleConnection as exc:
                raise HttpError("connection closed before any answer") from exc

    async def _connect(self) -> _Conn:
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.open_connection(self.host, self.port, ssl=self._ssl)
        except TimeoutError as exc:
            raise HttpError(f"connect to {self.host}:{self.port} timed out") from exc

    async def _exchange(self, conn: _Conn, method: str, path: str, body: bytes | None, content_type: str,
                        *, reused: bool) -> tuple[int, bytes]:
        reader, writer = conn
        keep = False
        try:
            head = f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
            if body is not None:
                head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
            try:
                await writer.drain()
                status_line = await reader.readline()
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                if reused:
                    raise _StaleConnection from exc
                raise
            if not status_line:
                if reused:
                    raise _StaleConnection
                raise HttpError("server closed the connection without answering")
            header_lines = []
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                header_lines.append(line)
            status, headers = _parse_head(status_line, b"".join(header_lines))
            payload = await _read_body(reader, headers)
            framed = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()
            keep = framed and headers.get("connection", "").lower() != "close"
            return status, payload
        except asyncio.IncompleteReadError as exc:
            raise HttpError("answer cut short") from exc
        except asyncio.LimitOverrunError as exc:
            raise HttpError("answer header too large") from exc
        finally:
            if keep:
                self._idle.append(conn)
            else:
                writer.close()

    async def aclose(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()


def _parse_head(status_line: bytes, rest: bytes) -> tuple[int, dict[str, str]]:
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpError("not an HTTP answer")
    headers: dict[str, str] = {}
    for line in rest.splitlines():
        if b":" in line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError as exc:
                raise HttpError("bad chunk size") from exc
            if size == 0:
                await reader.readuntil(b"\r\n")  # the (empty) trailer
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = headers.get("content-length")
    if length is None:
        return await reader.read()  # no framing: the server closes (and we do not reuse)
    return await reader.readexactly(int(length))
