"""A small fake of Rasa's ``desk`` channel over real HTTP/1.1 (keep-alive), for tests and the bench.

It answers ``POST /webhooks/desk/webhook`` with a list of REST-channel
messages and ``GET /`` like Rasa does. It can be slowed down (``delay``),
made to fail (``status``), stopped and started again on the same port.
Run it alone with ``python -m tests.desk.fake_rasa --port 5055 --delay 0.02``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any

Responder = Callable[[dict[str, Any]], list[dict[str, Any]]]


def echo_responder(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer like a tiny assistant: echo, offer buttons, or hand off on request."""
    text = str(body.get("message", ""))
    if text in ("/request_human", "sambungkan ke agen"):
        return [
            {"recipient_id": body.get("sender"), "text": "Baik Kak, saya sambungkan ke petugas CS."},
            {"recipient_id": body.get("sender"),
             "custom": {"handoff": {"reason": "request_human", "priority": "high",
                                    "category": "payment", "summary": {"intent": "request_human"},
                                    "ticket_number": None}}},
        ]
    if text == "menu":
        return [{"recipient_id": body.get("sender"), "text": "Pilih topik:",
                 "buttons": [{"title": "Tagihan", "payload": "/ask_bill_amount"},
                             {"title": "Aduan", "payload": "/complain_payment"},
                             {"title": "Agen", "payload": "/request_human"}]}]
    return [{"recipient_id": body.get("sender"), "text": f"echo: {text}"}]


NLU_READING = {"intent": "greet", "confidence": 0.97, "candidates": [{"intent": "greet", "confidence": 0.97}],
               "flag": None}


def with_nlu_reading(responder: Responder) -> Responder:
    """``responder``'s answer followed by the NLU reading the real bot appends to every answer
    (``bot/channels/desk.py``), so that benchmarks make the desk do what the real bot makes it do."""
    def respond(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [*responder(body), {"recipient_id": body.get("sender"), "custom": {"nlu": NLU_READING}}]
    return respond


class _Discard(list):  # type: ignore[type-arg]
    def append(self, item: object) -> None:
        pass


class FakeRasa:
    """The fake server. ``calls`` records every webhook body, in arrival order."""

    def __init__(self, responder: Responder = echo_responder, *, delay: float = 0.0,
                 capacity: int | None = None) -> None:
        self.responder = responder
        self.delay = delay
        # Like a real Rasa process (CPU-bound NLU), handle at most ``capacity`` messages at once.
        self._slots = asyncio.Semaphore(capacity) if capacity else None
        self.status = 200
        self.raw_body: bytes | None = None  # answer this instead of JSON (a broken Rasa)
        self.calls: list[dict[str, Any]] = []
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int | None = None) -> str:
        """Listen on 127.0.0.1 (a free port the first time, the same port on restart)."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port if port is not None else self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.url

    async def stop(self) -> None:
        """Stop listening and drop open connections: Rasa is down."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                status, payload = await self._respond(method, path, body)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n".encode() + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _respond(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method == "GET" and path == "/":
            return 200, b'"Hello from Rasa: fake"'
        if method != "POST" or path != "/webhooks/desk/webhook":
            return 404, b'{"error": "not found"}'
        data = json.loads(body or b"{}")
        self.calls.append(data)
        if self._slots is not None:
            async with self._slots:
                await asyncio.sleep(self.delay)
        elif self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return self.status, b'{"error": "fake failure"}'
        if self.raw_body is not None:
            return 200, self.raw_body
        return 200, json.dumps(self.responder(data)).encode()


async def _main(port: int, delay: float, capacity: int | None, nlu: bool = False) -> None:
    fake = FakeRasa(with_nlu_reading(echo_responder) if nlu else echo_responder, delay=delay, capacity=capacity)
    fake.calls = _Discard()  # long benchmark runs must not grow memory
    await fake.start(port)
    print(f"fake rasa on {fake.url} delay={delay} capacity={capacity}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--capacity", type=int, default=None)
    parser.add_argument("--nlu", action="store_true", help="end every answer with an NLU reading, like the real bot")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_main(args.port, args.delay, args.capacity, args.nlu))
