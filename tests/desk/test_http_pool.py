"""The keep-alive HTTP client the bot client uses: framing, reuse, stale connections, errors."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from desk.botclient import BotClient, BotUnavailable
from desk.http_pool import HttpError, HttpPool

Script = Callable[[int], bytes]  # request number -> raw answer (b"" = close without answering)


class RawServer:
    """Answers each request with bytes from a script; counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests = 0
        self.connections = 0
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                self.requests += 1
                answer = self.script(self.requests)
                if not answer:
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Script], asyncio.Future]]:
    servers: list[RawServer] = []

    async def start(script: Script) -> tuple[RawServer, HttpPool]:
        server = RawServer(script)
        port = await server.start()
        servers.append(server)
        return server, HttpPool(f"http://127.0.0.1:{port}")

    yield start
    for s in servers:
        s.server.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"


async def test_connections_are_kept_alive(serve) -> None:
    server, pool = await serve(lambda n: OK)
    for _ in range(5):
        assert await pool.request("POST", "/x", b"{}") == (200, b"[]")
    assert server.connections == 1 and server.requests == 5
    await pool.aclose()


async def test_chunked_answers_are_decoded(serve) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\n[{\"te\r\n8\r\nxt\": 1}]\r\n0\r\n\r\n")
    _, pool = await serve(lambda n: chunked)
    assert await pool.request("POST", "/x", b"{}") == (200, b'[{"text": 1}]')
    assert await pool.request("POST", "/x", b"{}") == (200, b'[{"text": 1}]')
    await pool.aclose()


async def test_a_stale_idle_connection_is_replaced_once(serve) -> None:
    # The server answers the first request, then drops that connection (keep-alive expiry).
    server, pool = await serve(lambda n: OK if n != 2 else b"")
    assert (await pool.request("POST", "/x", b"{}"))[0] == 200
    assert (await pool.request("POST", "/x", b"{}"))[0] == 200
    assert server.connections == 2 and server.requests == 3
    await pool.aclose()


async def test_connection_close_is_honoured(serve) -> None:
    close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]"
    server, pool = await serve(lambda n: close)
    for _ in range(3):
        assert await pool.request("GET", "/") == (200, b"[]")
    assert server.connections == 3
    await pool.aclose()


async def test_not_http_is_an_error(serve) -> None:
    _, pool = await serve(lambda n: b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(HttpError):
        await pool.request("GET", "/")


async def test_bot_client_maps_refused_connections_to_unavailable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    bot = BotClient(f"http://127.0.0.1:{port}", timeout_seconds=1)
    with pytest.raises(BotUnavailable):
        await bot.send("c1", "halo", {})
    assert await bot.ping() is False


def test_only_http_urls() -> None:
    with pytest.raises(ValueError):
        HttpPool("ftp://example")
