"""The PostgreSQL store's group commit of inbound messages (desk.store.postgres).

These run on PostgreSQL only (``--db=postgres``); the SQLite store's group
commit is tested in test_router.py, and what both engines promise in
test_store_contract.py.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

import desk.store.postgres as pg_store
from desk.store import DuplicateMessage, NewInbound
from desk.store.postgres import PostgresConversationStore
from handoff.fastpath import QueueHandoffs
from storage.models import Conversation, Message
from tests.support.pii import opened_sender

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def batches(monkeypatch) -> list[list[str]]:
    """The external ids of every multi-row statement the writer runs, in order."""
    seen: list[list[str]] = []
    real = pg_store._append_inbound_batch

    async def spy(conn, batch):
        seen.append([a.new.external_id for a in batch])
        return await real(conn, batch)

    monkeypatch.setattr(pg_store, "_append_inbound_batch", spy)
    return seen


@pytest.fixture
async def conversations(database) -> list[int]:
    if database.is_sqlite:
        pytest.skip("PostgreSQL writer; runs with --db=postgres")
    async with database.transaction() as s:
        rows = [Conversation(channel="telegram", sender=str(k)) for k in range(3)]
        s.add_all(rows)
    return [c.id for c in rows]


def _writer(database) -> PostgresConversationStore:
    return PostgresConversationStore(database, QueueHandoffs())


def _append(writer: PostgresConversationStore, sender: str, external_id: str, body: str):
    return writer._append_inbound_fast(NewInbound("telegram", sender, external_id, body, {"k": body}, NOW))


async def _stored(database) -> list[tuple[str, int, str, str]]:
    async with database.session() as s:
        return sorted((opened_sender(r.channel, r.sender_enc), r.seq, r.text, r.external_id) for r in (
            await s.execute(select(Conversation.channel, Conversation.sender_enc, Message.seq, Message.text,
                                   Message.external_id).join(Conversation))).all())


async def test_batch_with_duplicates_fails_only_them_and_keeps_order(database, conversations, batches) -> None:
    """30 messages at once over 3 conversations: one already stored, one repeated inside the
    burst, one for a conversation that does not exist yet. Only the two duplicates fail; the rest
    are numbered per conversation in arrival order, gap-free, in a few multi-row statements."""
    writer = _writer(database)
    await _append(writer, "0", "old", "before")  # alone: the single statement
    ids = [f"u{k}" for k in range(30)]
    ids[12] = "old"  # a provider retry of a message stored earlier (same conversation), mid-batch
    ids[17] = "u5"   # a retry arriving in the same burst as its original
    results = await asyncio.gather(*(_append(writer, str(k % 3), ids[k], f"m{k}") for k in range(30)),
                                   _append(writer, "no-such-chat", "unknown", "x"), return_exceptions=True)
    failed = [k for k, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [12, 17] and all(isinstance(results[k], DuplicateMessage) for k in failed)
    # No conversation yet: the writer opens it in one more statement and stores the message.
    opened = results[30]
    assert (opened.conversation.clear_sender(), opened.message.seq, opened.message.text) == ("no-such-chat", 1, "x")
    assert max(len(b) for b in batches) >= 3, batches  # really grouped
    for k in range(30):
        if k not in failed:
            conversation, message = results[k].conversation, results[k].message
            assert (conversation.clear_sender(), message.text, message.payload) == \
                (str(k % 3), f"m{k}", {"k": f"m{k}"})
            assert message.seq == conversation.last_seq and message.id > 0
    rows = await _stored(database)
    assert len(rows) == 1 + 28 + 1
    for sender in ("0", "1", "2"):
        texts = [t for c, _, t, _ in rows if c == sender]
        seqs = [q for c, q, _, _ in rows if c == sender]
        expected = (["before"] if sender == "0" else []) + \
            [f"m{k}" for k in range(30) if k % 3 == int(sender) and k not in failed]
        assert texts == expected
        assert seqs == list(range(1, len(seqs) + 1))
        # The returned numbers are the stored ones.
        for k in range(30):
            if k not in failed and k % 3 == int(sender):
                assert (sender, results[k].message.seq, f"m{k}", ids[k]) in rows
    async with database.session() as s:
        last = {opened_sender(r.channel, r.sender_enc): r.last_seq for r in (await s.execute(
            select(Conversation.channel, Conversation.sender_enc, Conversation.last_seq))).all()}
    assert last == {"0": 10, "1": 10, "2": 9, "no-such-chat": 1}


async def test_concurrent_messages_in_one_conversation_keep_arrival_order(database, conversations,
                                                                         batches) -> None:
    """Many messages of one conversation at once, mixed with others: never two of one
    conversation in a statement, and the conversation's seq follows arrival order."""
    writer = _writer(database)
    calls = []
    for k in range(40):
        sender = "0" if k % 2 == 0 else str(1 + k % 4 // 2)
        calls.append(_append(writer, sender, f"c{k}", f"m{k}"))
    results = await asyncio.gather(*calls)
    assert any(len(b) > 1 for b in batches)
    senders = {f"c{k}": ("0" if k % 2 == 0 else str(1 + k % 4 // 2)) for k in range(40)}
    for batch in batches:
        in_batch = [senders[e] for e in batch]
        assert len(in_batch) == len(set(in_batch)), batch
    rows = await _stored(database)
    assert [t for c, _, t, _ in rows if c == "0"] == [f"m{k}" for k in range(0, 40, 2)]
    assert [q for c, q, _, _ in rows if c == "0"] == list(range(1, 21))
    assert [r.message.seq for r in results[::2]] == list(range(1, 21))


async def test_failed_commit_fails_every_message_of_the_batch(database, conversations, batches) -> None:
    """A commit refused by the database (a deferred constraint trigger, checked at commit)
    fails every message written with the failing one, and none of them is stored."""
    async with database.engine.begin() as conn:
        await conn.execute(text(
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.text = 'boom' THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$"))
        await conn.execute(text(
            "CREATE CONSTRAINT TRIGGER refuse_boom AFTER INSERT ON messages DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW EXECUTE FUNCTION refuse_boom()"))
    try:
        writer = _writer(database)
        results = await asyncio.gather(_append(writer, "0", "f0", "ok0"), _append(writer, "1", "f1", "boom"),
                                       _append(writer, "2", "f2", "ok2"), return_exceptions=True)
        # The first statement after the writer wakes up takes all three.
        assert batches == [["f0", "f1", "f2"]]
        assert all(isinstance(r, DBAPIError) and "refused at commit" in str(r) for r in results), results
        assert await _stored(database) == []
        async with database.session() as s:
            assert set((await s.execute(select(Conversation.last_seq))).scalars()) == {0}
        # The writer carries on with the next messages.
        assert (await _append(writer, "1", "f3", "after")).message.seq == 1
    finally:
        async with database.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_boom ON messages"))
            await conn.execute(text("DROP FUNCTION refuse_boom()"))


async def test_race_lost_to_another_instance_falls_back_message_by_message(database, conversations,
                                                                          batches) -> None:
    """Another instance stores one of the batch's messages after the statement started: the
    database refuses the batch (unique violation); each message is written again alone and
    only the duplicate fails."""
    other = await database.engine.connect()
    tx = await other.begin()
    await other.execute(text(
        "INSERT INTO messages (conversation_id, seq, channel, external_id, direction, author, text, payload, "
        "created_at) VALUES (:c, 1000, 'telegram', 'race', 'in', 'borrower', 'theirs', '{}', now())"),
        {"c": conversations[1]})
    try:
        writer = _writer(database)
        pending = asyncio.gather(_append(writer, "0", "r0", "m0"), _append(writer, "1", "race", "mine"),
                                 _append(writer, "2", "r2", "m2"), return_exceptions=True)
        await asyncio.sleep(0.3)  # the batch is now waiting on the other instance's index entry
        await tx.commit()
        results = await pending
    finally:
        await other.close()
    assert batches[0] == ["r0", "race", "r2"]
    assert isinstance(results[1], DuplicateMessage)
    assert [r.message.seq for r in (results[0], results[2])] == [1, 1]
    rows = await _stored(database)
    assert ("1", 1, "mine", "race") not in rows
    assert [(c, q, t) for c, q, t, _ in rows if t != "theirs"] == [("0", 1, "m0"), ("2", 1, "m2")]
    async with database.session() as s:
        assert (await s.scalar(select(Conversation.last_seq).where(Conversation.sender_is("1")))) == 0


async def test_first_messages_fall_back_to_the_orm_when_the_one_statement_open_fails(
        database, conversations, monkeypatch, caplog) -> None:
    """If opening a batch's new conversations in one statement fails, nothing is lost: each
    message is opened and stored by the ORM path, and the failure is logged."""
    async def broken(conn, items):  # noqa: ANN001, ANN202
        raise RuntimeError("simulated")

    monkeypatch.setattr(pg_store, "_open_and_append", broken)
    store = _writer(database)
    try:
        stored = await asyncio.gather(*(store.append_inbound(NewInbound("telegram", f"new-{k}", f"n{k}", "halo", {},
                                                                        NOW)) for k in range(3)))
    finally:
        await store.close()
    assert sorted(s.conversation.clear_sender() for s in stored) == ["new-0", "new-1", "new-2"]
    assert all(s.message.seq == 1 for s in stored)
    assert "opening" in caplog.text and "one by one" in caplog.text


async def test_the_batch_checks_duplicates_by_the_unique_index_in_a_generic_plan(database, conversations) -> None:
    """asyncpg prepares the batch statement and PostgreSQL caches one generic plan for it, made
    while the tables are small and kept while they grow. That plan must find a repeated delivery
    by probing messages' unique (conversation_id, external_id) index, never by reading the whole
    table: as an anti-join it read every stored message in every batch (issue #12)."""
    async with database.engine.connect() as conn:
        compiled = pg_store._APPEND_INBOUND_BATCH.compile(dialect=conn.dialect)
        await conn.exec_driver_sql(f"PREPARE inbound_batch AS {compiled.string}")
        # The tables of a new database have no statistics: the planner's guess is what the
        # statement meets on a fresh deployment, or in a burst before autoanalyze runs.
        await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        nulls = ", ".join(["NULL"] * len(compiled.positiontup))
        plan = "\n".join(row[0] for row in (await conn.exec_driver_sql(f"EXPLAIN EXECUTE inbound_batch({nulls})")).all())
        await conn.rollback()
        await conn.exec_driver_sql("DEALLOCATE inbound_batch")  # a prepared statement outlives the transaction
        await conn.rollback()
    assert "uq_messages_conversation_id_external_id" in plan, plan
    assert "Seq Scan on messages" not in plan, plan
