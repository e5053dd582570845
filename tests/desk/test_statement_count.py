"""What one bot-path message costs the database, counted (counts, unlike timings, do not depend on the machine).

A borrower message the bot answers is two writes: the message (stored before
anything else) and the bot's replies with their outbox rows and the message's
outcome (issue #12). Everything else the router keeps about the message goes
into those two: the bot's NLU reading (issue #16) once cost every message a
third transaction — on SQLite one more hop to the writer thread, on
PostgreSQL one more round trip with its own WAL flush — which no timing on a
shared machine could show (docs/benchmarks.md, "Tail latency").
"""
from __future__ import annotations

from collections import Counter

from sqlalchemy import event, select

from desk.messages import Channel, InboundMessage
from storage.models import Message
from tests.desk.test_router import NOW

READING = {"intent": "greet", "confidence": 0.97, "candidates": [{"intent": "greet", "confidence": 0.97}],
           "flag": None}
# Statements per steady-state bot-path message (the conversation exists; the outbox worker is not running).
# SQLite, on the store's writer thread: BEGIN IMMEDIATE, UPDATE conversations, INSERT message, SELECT closed
# handoff, COMMIT; BEGIN IMMEDIATE, UPDATE conversations, INSERT reply, INSERT outbox, UPDATE inbound
# (answered, with the reading), COMMIT. PostgreSQL: one statement per write.
EXPECTED = {"sqlite": 11, "postgres": 2}
TRANSACTIONS = 2


def answer_with_reading(body: dict) -> list[dict]:
    """The real bot's answer (bot/channels/desk.py): its messages, then the NLU reading."""
    return [{"recipient_id": body["sender"], "text": f"echo: {body['message']}"},
            {"recipient_id": body["sender"], "custom": {"nlu": READING}}]


async def test_a_bot_path_message_is_two_writes_with_the_nlu_reading_inside(router, database, fake_rasa,
                                                                            db_engine_name) -> None:
    fake_rasa.responder = answer_with_reading

    def message(n: int) -> InboundMessage:
        return InboundMessage(channel=Channel.INAPP, sender="cust-1", external_id=f"c{n}", text=f"halo {n}",
                              received_at=NOW, customer_id="cust-1")

    await router.receive(message(0))  # opens the conversation: not the steady state
    statements: Counter[str] = Counter()

    def count(sql: str) -> None:
        statements[" ".join(sql.split()[:2]).upper()] += 1

    def count_sa(conn, cursor, sql: str, *args) -> None:  # noqa: ANN001, ANN002
        count(sql)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count_sa)
    writer = getattr(router.store, "_conn", None)  # the SQLite store's writer-thread connection
    if writer is not None:
        writer.set_trace_callback(count)
    try:
        for n in range(1, 4):
            result = await router.receive(message(n))
            assert [r.text for r in result.replies] == [f"echo: halo {n}"]
    finally:
        event.remove(engine, "before_cursor_execute", count_sa)
        if writer is not None:
            writer.set_trace_callback(None)
    per_message = sum(statements.values()) / 3
    assert per_message == EXPECTED[db_engine_name], dict(statements)
    if db_engine_name == "sqlite":
        assert statements["BEGIN IMMEDIATE"] / 3 == TRANSACTIONS, dict(statements)
    async with database.session() as s:
        kept = (await s.scalars(select(Message.payload).where(Message.direction == "in")
                                .order_by(Message.id))).all()
    assert [p.get("nlu") for p in kept] == [READING] * 4
