"""A TCP proxy in front of PostgreSQL that the fault harness can switch off.

The desk connects to the proxy instead of the server. ``refuse()`` closes the
listening socket (new connections get ECONNREFUSED, as from a database that is
down) and resets every live connection (as when the server or the network
drops them mid-statement); ``accept()`` listens again on the same port.

It runs its own event loop in a daemon thread, so the harness's load does not
slow the database traffic down.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine
from typing import Any

CHUNK = 64 * 1024


class PgProxy:
    """Forwards 127.0.0.1:<port> to ``upstream``; ``refuse()`` / ``accept()`` switch it."""

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.connections_dropped = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._live: set[frozenset[asyncio.BaseTransport]] = set()  # (client, server) pairs

    # -- lifecycle (called from any thread) ------------------------------------
    def start(self) -> PgProxy:
        """Listen on a free port (chosen by the OS) and forward to the upstream server."""
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        """Close everything and end the proxy's thread (nothing to do if it never started)."""
        if not self._thread.is_alive():
            return
        self._call(self._close(drop=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def refuse(self) -> int:
        """The database goes away: refuse new connections and reset live ones; return how many."""
        return int(self._call(self._close(drop=True)))

    def accept(self) -> None:
        """The database is back: listen again on the same port."""
        self._call(self._listen())

    # -- inside the proxy's loop -----------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._pipe, sock=sock)

    async def _close(self, *, drop: bool) -> int:
        if self._server is not None:
            self._server.close()
            self._server = None
        dropped = 0
        if drop:
            for pair in list(self._live):
                for transport in pair:
                    transport.abort()  # RST, like a server that died
                dropped += 1
            self._live.clear()
        self.connections_dropped += dropped
        return dropped

    async def _pipe(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        pair = frozenset({client_writer.transport, server_writer.transport})
        self._live.add(pair)

        async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(CHUNK):
                    writer.write(data)
                    await writer.drain()

        tasks = {asyncio.ensure_future(copy(client_reader, server_writer)),
                 asyncio.ensure_future(copy(server_reader, client_writer))}
        try:
            # Either side closing ends the pair (PostgreSQL's Terminate, or a drop).
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            self._live.discard(pair)
            for transport in pair:
                transport.abort()
