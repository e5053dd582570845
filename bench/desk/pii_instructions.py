"""Instruction count of inbound messages through the SQLite store, for side-by-side runs of two commits.

Instruction counts do not depend on the shared machine's load, unlike times. Run under callgrind with
0 and N messages and divide the difference by N (docs/privacy.md, "Cost"):

    for n in 0 2000; do
        PYTHONPATH=. valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
            .venv/bin/python bench/desk/pii_instructions.py $n 2>&1 | grep Collected
    done

The first message opens the conversation; the next N are appended to it, as the router stores a
borrower's messages (``NewInbound`` without a precomputed key: the store makes the one HMAC).
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import datetime, timezone

from aduan.registry import metadata
from desk.store import NewInbound
from desk.store.sqlite import SqliteConversationStore
from handoff.fastpath import QueueHandoffs
from storage.db import Database


async def main(n: int, text: str) -> None:
    """Append ``n + 1`` messages of one WhatsApp borrower to a fresh SQLite file."""
    folder = tempfile.mkdtemp()
    db = Database(f"sqlite:///{folder}/bench.db")
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    store = SqliteConversationStore(db, QueueHandoffs())
    now = datetime(2026, 11, 30, tzinfo=timezone.utc)
    for i in range(n + 1):
        await store.append_inbound(NewInbound(channel="whatsapp", sender="+6281234567890", external_id=f"m{i}",
                                              text=text, payload={}, created_at=now))
    await store.close()
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "halo"))
