"""The router stores first, deduplicates, keeps order, and never loses a message when Rasa fails."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from desk.botclient import BotClient
from aduan.services import build_store
from desk.handoff_request import BOT_UNAVAILABLE
from desk.messages import Channel, InboundMessage
from desk.router import HOLDING_REPLY, MessageTooLong, Router
from desk.store import DuplicateMessage
from handoff.fastpath import QueueHandoffs
from handoff.models import Handoff
from storage.models import Conversation, Message, OutboxItem
from tests.support.pii import opened_sender

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


def inbound(text: str = "halo min", *, external_id: str = "SM1", sender: str = "+6281234567890",
            channel: Channel = Channel.WHATSAPP, **kw) -> InboundMessage:
    return InboundMessage(channel=channel, sender=sender, external_id=external_id, text=text,
                          received_at=NOW, **kw)


async def count(db, model, *where) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)))


async def transcript(db, sender: str = "+6281234567890") -> list[tuple[str, str]]:
    async with db.session() as s:
        rows = (await s.execute(
            select(Message.direction, Message.text).join(Conversation)
            .where(Conversation.sender_is(sender)).order_by(Message.seq)
        )).all()
    return [(r.direction, r.text) for r in rows]


async def test_bot_reply_is_stored_and_queued(router, database, fake_rasa) -> None:
    result = await router.receive(inbound("halo min"))
    assert not result.duplicate and result.mode == "bot"
    assert [r.text for r in result.replies] == ["echo: halo min"]
    assert await transcript(database) == [("in", "halo min"), ("out", "echo: halo min")]
    assert await count(database, OutboxItem) == 1
    body = fake_rasa.calls[0]
    assert body["sender"] == result.conversation_public_id
    assert body["metadata"] == {"channel": "whatsapp", "conversation_id": result.conversation_public_id,
                                "customer_id": None, "phone": "+6281234567890"}


async def test_sequential_duplicate_gets_no_second_reply(router, database, fake_rasa) -> None:
    first = await router.receive(inbound(external_id="SMdup"))
    second = await router.receive(inbound(external_id="SMdup"))
    assert not first.duplicate and second.duplicate
    assert second.message_id == first.message_id
    assert second.conversation_public_id == first.conversation_public_id
    assert len(fake_rasa.calls) == 1
    assert await count(database, Message) == 2  # one inbound, one reply
    assert await count(database, OutboxItem) == 1


async def test_concurrent_duplicates_produce_one_message_and_one_reply(router, database, fake_rasa) -> None:
    fake_rasa.delay = 0.05
    results = await asyncio.gather(*(router.receive(inbound(external_id="SMrace")) for _ in range(8)))
    assert sum(not r.duplicate for r in results) == 1
    assert len(fake_rasa.calls) == 1
    assert await count(database, Message, Message.direction == "in") == 1
    assert await count(database, OutboxItem) == 1


async def test_concurrent_duplicates_across_two_instances(database, store, bot, event_bus, handoff_queue,
                                                          fake_rasa) -> None:
    """Two routers (two desk instances, separate in-process locks) share one database."""
    fake_rasa.delay = 0.02
    other = build_store(database, handoff_queue)
    a = Router(store=store, bot=bot, events=event_bus)
    b = Router(store=other, bot=bot, events=event_bus)
    results = await asyncio.gather(*(r.receive(inbound(external_id="SMmulti")) for r in (a, b, a, b)))
    assert sum(not r.duplicate for r in results) == 1
    assert len(fake_rasa.calls) == 1
    assert await count(database, Message, Message.direction == "in") == 1
    assert await count(database, OutboxItem) == 1
    await other.close()


async def test_concurrent_messages_in_one_conversation_keep_arrival_order(router, database, fake_rasa) -> None:
    fake_rasa.delay = 0.005
    texts = [f"pesan {i}" for i in range(20)]
    results = await asyncio.gather(*(router.receive(inbound(t, external_id=f"SM{i}"))
                                     for i, t in enumerate(texts)))
    assert not any(r.duplicate for r in results)
    assert [c["message"] for c in fake_rasa.calls] == texts
    expected = [pair for t in texts for pair in (("in", t), ("out", f"echo: {t}"))]
    assert await transcript(database) == expected
    async with database.session() as s:
        seqs = list((await s.scalars(select(Message.seq).order_by(Message.seq))).all())
    assert seqs == list(range(1, 41))


async def test_many_conversations_at_once_lose_nothing(router, database) -> None:
    senders = [f"+62812000000{i:02d}" for i in range(30)]
    await asyncio.gather(*(router.receive(inbound("halo", external_id=f"X{i}", sender=s))
                           for i, s in enumerate(senders)))
    assert await count(database, Conversation) == 30
    assert await count(database, Message, Message.direction == "in") == 30
    assert await count(database, OutboxItem) == 30


async def test_whatsapp_number_picks_the_button_last_shown(router, fake_rasa) -> None:
    await router.receive(inbound("menu", external_id="m1"))
    await router.receive(inbound("2", external_id="m2"))
    assert fake_rasa.calls[-1]["message"] == "/complain_payment"
    # Out of range, and a number typed after the borrower already answered: plain text.
    await router.receive(inbound("menu", external_id="m3"))
    await router.receive(inbound("7", external_id="m4"))
    assert fake_rasa.calls[-1]["message"] == "7"


async def test_numbers_are_not_mapped_on_telegram_but_button_payloads_are(router, fake_rasa) -> None:
    kw = {"channel": Channel.TELEGRAM, "sender": "4242"}
    await router.receive(inbound("menu", external_id="t1", **kw))
    await router.receive(inbound("1", external_id="t2", **kw))
    assert fake_rasa.calls[-1]["message"] == "1"
    await router.receive(inbound("Tagihan", external_id="t3", button_payload="/ask_bill_amount", **kw))
    assert fake_rasa.calls[-1]["message"] == "/ask_bill_amount"


async def test_inapp_token_sets_the_customer(router, database, fake_rasa) -> None:
    result = await router.receive(inbound("halo", channel=Channel.INAPP, sender="CUST-0001",
                                          external_id="c1", customer_id="CUST-0001"))
    async with database.session() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.public_id == result.conversation_public_id))
    assert conv.customer_id == "CUST-0001"
    assert fake_rasa.calls[0]["metadata"]["customer_id"] == "CUST-0001"
    assert fake_rasa.calls[0]["metadata"]["phone"] is None


async def test_handoff_reply_switches_to_people(router, database, fake_rasa, handoff_queue, event_bus) -> None:
    result = await router.receive(inbound("sambungkan ke agen", external_id="h1"))
    assert result.mode == "human"
    assert [r.text for r in result.replies] == ["Baik Kak, saya sambungkan ke petugas CS."]
    (conv_id, request), = handoff_queue.calls
    assert (request.reason, request.priority, request.category) == ("request_human", "high", "payment")
    # The next message goes to people, live, not to the bot.
    async with event_bus.subscribe("queue") as queue, \
            event_bus.subscribe(f"conversation:{result.conversation_public_id}") as conv_events:
        nxt = await router.receive(inbound("tolong cepat", external_id="h2"))
        q_event = await asyncio.wait_for(anext(queue), 1)
        c_event = await asyncio.wait_for(anext(conv_events), 1)
    assert nxt.mode == "human" and nxt.replies == []
    assert len(fake_rasa.calls) == 1
    for event in (q_event, c_event):
        assert event["type"] == "message" and event["text"] == "tolong cepat"
        assert event["conversation_id"] == result.conversation_public_id
        assert event["direction"] == "in"


async def test_rasa_stopped_mid_conversation(router, database, fake_rasa, handoff_queue) -> None:
    """Real HTTP: Rasa goes away, the borrower is held politely and queued; Rasa comes back."""
    first = await router.receive(inbound("halo", external_id="r1"))
    assert first.replies[0].text == "echo: halo"
    await fake_rasa.stop()
    held = await router.receive(inbound("tagihan saya berapa", external_id="r2"))
    assert held.mode == "human"
    assert [r.text for r in held.replies] == [HOLDING_REPLY]
    assert handoff_queue.calls[-1][1].reason == BOT_UNAVAILABLE
    assert ("in", "tagihan saya berapa") in await transcript(database)
    assert await count(database, OutboxItem) == 2  # the echo and the holding reply
    # Rasa is back: a new conversation is answered by the bot ...
    await fake_rasa.start()
    other = await router.receive(inbound("halo", external_id="r3", sender="+6281399990000"))
    assert other.replies[0].text == "echo: halo"
    # ... and so is the held one, once its handoff is closed.
    conv = await router.store.conversation_by_public_id(held.conversation_public_id)
    await router.store.set_mode(conv.id, "bot")
    again = await router.receive(inbound("halo lagi", external_id="r4"))
    assert again.mode == "bot" and again.replies[0].text == "echo: halo lagi"


@pytest.mark.parametrize("failure", ["status_500", "status_404", "garbage", "not_a_list"])
async def test_rasa_failure_modes_hold_and_queue(router, database, handoff_queue, fake_rasa, failure) -> None:
    if failure.startswith("status_"):
        fake_rasa.status = int(failure[-3:])
    else:
        fake_rasa.raw_body = b"<html>oops" if failure == "garbage" else b'{"text": "not a list"}'
    result = await router.receive(inbound("halo", external_id=f"f-{failure}"))
    assert result.mode == "human" and result.replies[0].text == HOLDING_REPLY
    assert handoff_queue.calls[0][1].reason == BOT_UNAVAILABLE
    assert ("in", "halo") in await transcript(database)


async def test_rasa_slower_than_the_timeout(store, event_bus, fake_rasa) -> None:
    fake_rasa.delay = 1.0
    bot = BotClient(fake_rasa.url, timeout_seconds=0.3)
    router = Router(store=store, bot=bot, events=event_bus, bot_timeout_seconds=0.2)
    result = await router.receive(inbound("halo", external_id="slow"))
    assert result.mode == "human" and result.replies[0].text == HOLDING_REPLY
    await bot.aclose()


async def test_oversized_message_is_refused_before_storing(router, database) -> None:
    with pytest.raises(MessageTooLong):
        await router.receive(inbound("x" * 4097, external_id="big"))
    assert await count(database, Message) == 0


async def test_handoff_part_writes_a_waiting_handoff(database, bot, event_bus, fake_rasa) -> None:
    store = build_store(database, QueueHandoffs())
    router = Router(store=store, bot=bot, events=event_bus)
    await router.receive(inbound("sambungkan ke agen", external_id="d1"))
    await store.close()
    async with database.session() as s:
        row = await s.scalar(select(Handoff))
    assert (row.reason, row.priority, row.status) == ("request_human", "high", "waiting")


async def close_a_handoff(db, conversation_public_id: str) -> None:
    async with db.transaction() as s:
        conversation = await s.scalar(select(Conversation).where(Conversation.public_id == conversation_public_id))
        s.add(Handoff(conversation_id=conversation.id, reason="request_human", status="closed", closed_at=NOW))


async def test_rating_hook_answers_instead_of_the_bot(database, store, bot, event_bus, fake_rasa) -> None:
    """The handoff part's rating hook sees each bot-mode message once a handoff was closed."""
    from desk.messages import OutboundMessage

    seen: list[tuple[str, str | None]] = []

    async def capture(session, conversation, text, button_payload):
        seen.append((text, button_payload))
        return OutboundMessage(text="Terima kasih atas penilaian Anda, Kak.") if text == "5" else None

    router = Router(store=store, bot=bot, events=event_bus, capture_rating=capture)
    first = await router.receive(inbound("halo", external_id="rate0"))
    assert seen == []  # no handoff yet: a "5" now would just be a message for the bot
    await close_a_handoff(database, first.conversation_public_id)
    rated = await router.receive(inbound("5", external_id="rate1"))
    assert [r.text for r in rated.replies] == ["Terima kasih atas penilaian Anda, Kak."]
    assert len(fake_rasa.calls) == 1
    normal = await router.receive(inbound("halo", external_id="rate2"))
    assert normal.replies[0].text == "echo: halo" and len(fake_rasa.calls) == 2
    assert seen == [("5", None), ("halo", None)]
    assert await transcript(database) == [("in", "halo"), ("out", "echo: halo"),
                                          ("in", "5"), ("out", "Terima kasih atas penilaian Anda, Kak."),
                                          ("in", "halo"), ("out", "echo: halo")]
    assert await count(database, OutboxItem) == 3


async def test_rating_hook_is_not_asked_without_a_closed_handoff(database, store, bot, event_bus,
                                                                 fake_rasa) -> None:
    """An open (waiting) handoff is no reason to ask: only a closed one can be rated."""
    asked: list[str] = []

    async def capture(session, conversation, text, button_payload):
        asked.append(text)

    router = Router(store=store, bot=bot, events=event_bus, capture_rating=capture)
    first = await router.receive(inbound("halo", external_id="norate0"))
    async with database.transaction() as s:
        conversation = await s.scalar(select(Conversation).where(Conversation.public_id == first.conversation_public_id))
        s.add(Handoff(conversation_id=conversation.id, reason="request_human", status="assigned"))
    await router.receive(inbound("5", external_id="norate1"))
    assert asked == [] and len(fake_rasa.calls) == 2


def test_closed_status_literal_matches_the_handoff_model() -> None:
    from desk.store import CLOSED_HANDOFF_STATUS
    from handoff.models import HandoffStatus

    assert CLOSED_HANDOFF_STATUS == HandoffStatus.CLOSED.value


async def test_fast_path_rows_read_back_like_orm_rows(router, database) -> None:
    """The one-statement (PostgreSQL) / one-hop (SQLite) path writes what the ORM path writes."""
    from desk.messages import MediaRef

    first = await router.receive(inbound("halo", external_id="fp1", channel=Channel.INAPP, sender="CUST-0003"))
    later = NOW.replace(hour=4)
    router.clock = lambda: later
    second = await router.receive(inbound("ini fotonya", external_id="fp2", channel=Channel.INAPP,
                                          sender="CUST-0003", customer_id="CUST-0003",
                                          media=(MediaRef("https://files.example/a.jpg", "image/jpeg"),)))
    assert second.conversation_public_id == first.conversation_public_id
    async with database.session() as s:
        msg = await s.scalar(select(Message).where(Message.external_id == "fp2"))
        conv = await s.scalar(select(Conversation).where(Conversation.sender_is("CUST-0003")))
    assert msg.created_at == later and msg.created_at.tzinfo is not None
    assert msg.payload == {"media": [{"url": "https://files.example/a.jpg", "content_type": "image/jpeg"}]}
    assert (msg.seq, msg.direction, msg.author) == (3, "in", "borrower")
    assert conv.customer_id == "CUST-0003" and conv.last_seq == 4
    assert conv.last_message_at.tzinfo is not None


async def test_sqlite_group_commit_fails_only_the_duplicate(tmp_path) -> None:
    """Messages written together (one transaction, a savepoint each): a duplicate in the middle
    of a batch fails alone, every other message is stored, numbered in order, gap-free.
    (The SQLite store exists whatever --db says, so this always runs on a SQLite file.)"""
    from desk.store import DuplicateMessage, NewInbound
    from desk.store.sqlite import SqliteConversationStore
    from storage.db import Database
    from aduan.registry import metadata

    database = Database(f"sqlite:///{tmp_path / 'group.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with database.transaction() as s:
        s.add_all([Conversation(channel="telegram", sender=str(k)) for k in range(3)])
    store = SqliteConversationStore(database, QueueHandoffs())

    def append(k: int, external_id: str, sender: str | None = None):
        return store._append_inbound_fast(NewInbound("telegram", sender or str(k % 3), external_id, f"m{k}", {},
                                                     NOW))

    try:
        ids = [f"u{k}" for k in range(30)]
        ids[17] = "u5"  # a provider retry arriving in the same batch as the original
        results = await asyncio.gather(*(append(k, ids[k]) for k in range(30)),
                                       append(99, "unknown", sender="no-such-chat"), return_exceptions=True)
    finally:
        await store.close()
    failed = [k for k, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [17] and isinstance(results[17], DuplicateMessage)
    # No conversation yet: the writer opens it in the same transaction (issue 17, item 3).
    assert results[30] is not None and results[30].message.seq == 1
    async with database.session() as s:
        rows = sorted((opened_sender(r.channel, r.sender_enc), r.seq, r.text) for r in (await s.execute(
            select(Conversation.channel, Conversation.sender_enc, Message.seq, Message.text).join(Conversation)
        )).all())
    assert len(rows) == 30 and ("no-such-chat", 1, "m99") in rows
    for sender in ("0", "1", "2"):
        texts = [t for c, _, t in rows if c == sender]
        seqs = [q for c, q, _ in rows if c == sender]
        assert seqs == list(range(1, len(seqs) + 1))
        assert texts == [f"m{k}" for k in range(30) if k % 3 == int(sender) and k != 17]
    await database.dispose()


async def test_first_messages_open_their_conversations_in_the_fast_write(database, monkeypatch) -> None:
    """A burst of borrowers writing for the first time: every conversation is opened by the engine's
    fast write, not by one ORM transaction each. On SQLite the ORM used a second connection that met
    the writer thread at the file lock and slept in SQLite's busy handler (seconds each with 32 at
    once); on PostgreSQL it cost about ten round trips per conversation, each waiting for a pooled
    connection. Both made the first messages of a burst the bot path's p99 at 32 concurrent in
    bench-desk (issue 17, item 3; docs/benchmarks.md)."""
    from desk.store import NewInbound

    store = build_store(database, QueueHandoffs())

    async def no_orm(new):  # noqa: ANN001, ANN202
        raise AssertionError(f"{new.sender} was opened through the ORM")

    monkeypatch.setattr(store, "_append_inbound_orm", no_orm)
    try:
        stored = await asyncio.gather(*(store.append_inbound(
            NewInbound("inapp", f"cust-{k}", f"m{k}", "halo", {}, NOW, sender_name=f"Nama {k}", customer_id=f"cust-{k}"))
            for k in range(32)))
        # A conversation's second message and a repeated first delivery take the same path.
        again = await store.append_inbound(NewInbound("inapp", "cust-0", "m0b", "lagi", {}, NOW, customer_id="cust-0"))
        with pytest.raises(DuplicateMessage):
            await store.append_inbound(NewInbound("inapp", "cust-1", "m1", "halo", {}, NOW, customer_id="cust-1"))
    finally:
        await store.close()
    assert len({s.conversation.public_id for s in stored}) == 32
    assert all(s.message.seq == 1 and s.conversation.mode == "bot" for s in stored)
    assert again.message.seq == 2 and again.conversation.public_id == stored[0].conversation.public_id
    async with database.session() as s:
        rows = [(opened_sender(r.channel, r.sender_enc), *r[2:]) for r in (await s.execute(
            select(Conversation.channel, Conversation.sender_enc, Conversation.sender_name, Conversation.customer_id,
                   Conversation.last_seq))).all()]
    assert sorted(rows) == sorted((f"cust-{k}", f"Nama {k}", f"cust-{k}", 2 if k == 0 else 1) for k in range(32))


async def test_the_bots_nlu_reading_is_kept_on_the_message_and_never_sent(router, database, fake_rasa) -> None:
    # Issue #16: the bot's answer ends with {"custom": {"nlu": ...}}; the console marks misunderstood messages.
    reading = {"intent": "nlu_fallback", "confidence": 0.31, "flag": "fallback", "debug": "dropped",
               "candidates": [{"intent": "complain_payment", "confidence": 0.22}]}
    fake_rasa.responder = lambda body: [{"recipient_id": body["sender"], "text": "Maksud Anda yang mana?"},
                                        {"recipient_id": body["sender"], "custom": {"nlu": reading}}]
    result = await router.receive(inbound("dana sy ketahan gmn", external_id="n1"))
    assert [r.text for r in result.replies] == ["Maksud Anda yang mana?"]
    assert await count(database, OutboxItem) == 1
    async with database.session() as s:
        stored = await s.scalar(select(Message).where(Message.text == "dana sy ketahan gmn"))
    assert stored.payload["nlu"] == {k: reading[k] for k in ("intent", "confidence", "candidates", "flag")}
