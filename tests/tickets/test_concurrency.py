"""Two OS processes creating tickets at once: unique, gap-free numbers and histories.

Runs on both engines; on PostgreSQL (the multi-instance production setup and
`make test`'s --db=postgres run) with 5,000 tickets, on SQLite with 200.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict

from sqlalchemy import select

from desk.config import REPO_ROOT
from tests.tickets.conftest import complaint, make_conversation
from tickets import service
from tickets.context import build_context
from tickets.models import Ticket, TicketEvent
from tickets.service import NewTicket

PROCESSES = 2


async def test_two_processes_create_tickets_without_duplicates_or_gaps(database, database_url, db_engine_name,
                                                                       settings) -> None:
    total = 5000 if db_engine_name == "postgres" else 200
    conv = await make_conversation(database, "whatsapp", "+6281234567890")
    ctx = build_context(settings)
    shared = (await service.create_ticket(database, ctx, NewTicket.model_validate(complaint(conv.public_id)),
                                          "shared")).ticket
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "tests.tickets.concurrent_create", database_url,
                               str(total // PROCESSES), conv.public_id, f"w{w}", shared.number],
                              cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True)
             for w in range(PROCESSES)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    elapsed = time.monotonic() - started
    print(f"\n{total} tickets from {PROCESSES} processes on {db_engine_name}: {elapsed:.1f}s")

    async with database.session() as s:
        tickets = list(await s.scalars(select(Ticket)))
        events = list(await s.execute(select(TicketEvent.ticket_id, TicketEvent.seq)))
    assert len(tickets) == total + 1
    numbers = [t.number for t in tickets]
    assert len(set(numbers)) == len(numbers)
    by_day: dict[str, list[int]] = defaultdict(list)
    for n in numbers:
        prefix, day, seq, _check = n.split("-")
        by_day[day].append(int(seq))
    for seqs in by_day.values():  # no gaps: 1..n on each day
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
    seqs_by_ticket: dict[int, list[int]] = defaultdict(list)
    for ticket_id, seq in events:
        seqs_by_ticket[ticket_id].append(seq)
    for ticket_id, seqs in seqs_by_ticket.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), ticket_id
    assert len(seqs_by_ticket[shared.id]) == 2 + PROCESSES * 50  # created, receipt, notes from both
    assert set(seqs_by_ticket) == {t.id for t in tickets}
