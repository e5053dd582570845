"""Worker process of the concurrency test: create tickets and add notes as fast as it can.

Usage: python -m tests.tickets.concurrent_create DATABASE_URL COUNT CONVERSATION_ID WORKER SHARED_NUMBER
"""
from __future__ import annotations

import asyncio
import sys

from desk.config import Settings
from storage.db import Database
from tickets import service
from tickets.context import build_context
from tickets.service import Actor, NewTicket

CONCURRENCY = 8
NOTES_ON_SHARED = 50


async def main(url: str, count: int, conversation_id: str, worker: str, shared: str) -> None:
    db = Database(url, pool_size=CONCURRENCY)
    ctx = build_context(Settings(_env_file=None, database_url=url))
    data = NewTicket.model_validate({
        "conversation_id": conversation_id, "channel": "whatsapp", "category": "payment",
        "full_name": "Budi Santoso", "phone": "081234567890", "product": "pinjaman_tunai",
        "chronology": "Sudah bayar tapi belum lunas.",
    })
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def create_worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await service.create_ticket(db, ctx, data, f"{worker}:{i}")
            if i < NOTES_ON_SHARED:  # interleave writes to one ticket's history from both processes
                async with db.transaction() as session:
                    ticket = await service.get_ticket(session, shared)
                    await service.add_note(session, ticket, f"{worker} note {i}", Actor("system"))

    await asyncio.gather(*(create_worker() for _ in range(CONCURRENCY)))
    await db.dispose()


if __name__ == "__main__":
    url, count, conversation_id, worker, shared = sys.argv[1:6]
    asyncio.run(main(url, int(count), conversation_id, worker, shared))
