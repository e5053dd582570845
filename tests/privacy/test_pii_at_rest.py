"""Least exposure (issue 18, item 7): a database dump shows no phone number, NIK, e-mail address, ID-card
address or channel address in clear — typed into a message, a chronology, a note, a handoff summary or the
ticket history included — yet every match on them still works; keys rotate; a wrong key is a clear error."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from aduan.pii_keys import check_keys, rekey
from aduan.registry import metadata
from aduan.services import build_store
from desk import pii
from desk.handoff_request import HandoffRequest
from desk.messages import OutboundMessage
from desk.store import NewInbound
from handoff import actions, queue
from handoff.fastpath import QueueHandoffs
from handoff.models import Handoff, Note
from handoff.transcripts import Filters, open_transcript, search_query
from privacy import export, service
from privacy.models import RequestKind, RequestSource
from privacy.retention import anonymise_conversation, anonymise_ticket
from storage.models import Conversation, Message, OutboxItem
from storage.sealed import SEALED_COLUMNS
from tests.privacy.conftest import BOT_AUTH
from tickets import service as ticket_service
from tickets.models import Ticket, TicketEvent

# Budi of the demo lending core (lending/demo_data.yml), who writes on WhatsApp from his registered number.
PHONE = "+6281234567890"
TELEGRAM_CHAT = "998877665544"
NIK = "3174012345670001"
# What the bot's identity check makes a borrower type, and the bot's confirmation of it.
TYPED = f"nama saya Budi, nomor HP 0812-3456-7890, NIK {NIK}"
ECHO = "Terima kasih Kak Budi, nomor HP +6281234567890 sudah kami catat."
EMAIL = "budi.santoso@example.com"
ADDRESS = "Jl. Melati Raya No. 5, Kebayoran Baru, Jakarta Selatan"
# Free text outside messages, as the bot, the borrower and staff type it.
SUMMARY = {"last_intent": "request_human", "last_message": TYPED, "phone": "0812-3456-7890",
           "misunderstood": [{"text": f"NIK saya {NIK}", "candidates": []}]}
CHRONOLOGY = f"Saya bayar tanggal 10 tapi belum lunas. Hubungi 0812 3456 7890 atau {EMAIL}, NIK {NIK}."
NOTE = f"Peminjam mengirim NIK {NIK} lewat telepon."
TICKET_NOTE = f"Sudah ditelepon ke 0812-3456-7890, minta bukti ke {EMAIL}."
CLOSING = "Kami sudah cek pembayaran Kakak; bila ada pertanyaan hubungi kami, kami telepon ke 081234567890."
COMMENT = f"Cepat, terima kasih. Kabari saya di {EMAIL}"
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


def needle(digits: str) -> re.Pattern[str]:
    """The national digits of a number with any separators between them (0812-3456-7890, 62 812…)."""
    return re.compile(r"[\s.()-]?".join(re.escape(d) for d in digits))


# 81234567890 matches +6281234567890, 6281234567890, 081234567890 and their spaced or dashed forms.
CLEAR_VALUES = {"Budi's phone": needle(PHONE[3:]), "the Telegram chat id": needle(TELEGRAM_CHAT),
                "Budi's NIK": needle(NIK), "Budi's e-mail": re.compile(re.escape(EMAIL.split("@")[0] + "@")),
                "Budi's address": re.compile("Melati")}


async def dump(database) -> str:
    """Every row of every table as text: the SQLite file's own SQL dump, or PostgreSQL rows as JSON."""
    if database.is_sqlite:
        conn = sqlite3.connect(make_url(database.url).database)
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    lines = []
    async with database.session() as s:
        for table in metadata.sorted_tables:
            rows = await s.execute(text(f'SELECT row_to_json(t)::text FROM "{table.name}" t'))
            lines += [f"{table.name}: {row[0]}" for row in rows]
    return "\n".join(lines)


def clear_values_in(dumped: str) -> list[str]:
    """The dump's lines that show one of ``CLEAR_VALUES``, with what they show."""
    return [f"{what}: {line[:160]}" for line in dumped.splitlines()
            for what, pattern in CLEAR_VALUES.items() if pattern.search(line)]


def inbound(channel: str, sender: str, external_id: str, text_: str = "halo") -> NewInbound:
    return NewInbound(channel=channel, sender=sender, external_id=external_id, text=text_, payload={},
                      created_at=NOW)


async def full_scenario(app, database, privacy_ctx, staff) -> dict[str, object]:
    """A borrower's first contact, bot replies, a handoff, a complaint, identity checks, a supervisor's
    search and an access export: every path that used to write or match the clear number."""
    store = build_store(database, QueueHandoffs())
    try:
        first = await store.append_inbound(inbound("whatsapp", PHONE, "SM1", "halo, tagihan saya salah"))
        await store.append_replies(first.conversation, [OutboundMessage("Baik Kak, kami bantu.")],
                                   author="bot", created_at=NOW, in_reply_to=first.message.id)
        typed = await store.append_inbound(inbound("whatsapp", PHONE, "SM1b", TYPED))
        echo = await store.append_replies(typed.conversation, [OutboundMessage(ECHO)], author="bot",
                                          created_at=NOW, in_reply_to=typed.message.id)
        assert typed.message.text == TYPED and echo[0].text == ECHO  # the records hold the words as written
        assert [r.text for r in await store.replies_to(typed.message.id)] == [ECHO]
        again = await store.append_inbound(inbound("whatsapp", PHONE, "SM2", "minta bicara dengan petugas"))
        # The bot's handoff summary quotes the borrower (the store's one-write handoff).
        await store.hand_off(again.conversation, [OutboundMessage("Kami sambungkan ke petugas.")],
                             HandoffRequest(reason="request_human", summary=SUMMARY), author="bot",
                             created_at=NOW, in_reply_to=again.message.id)
        tg = await store.append_inbound(inbound("telegram", TELEGRAM_CHAT, "u1"))
        await store.append_replies(tg.conversation, [OutboundMessage("Halo Kak")], author="bot", created_at=NOW)
    finally:
        await store.close()
    public_id = first.conversation.public_id
    assert again.conversation.id == first.conversation.id  # one conversation per channel and sender

    # The bot files the complaint with the number as the borrower typed it, and checks his identity.
    body = {"conversation_id": public_id, "channel": "whatsapp", "category": "payment", "priority": "medium",
            "complainant_type": "user", "full_name": "Budi Santoso", "phone": "0812-3456-7890",
            "product": "pinjaman_tunai", "transaction_date": "2026-11-10", "chronology": CHRONOLOGY,
            "email": EMAIL, "id_card_address": ADDRESS}
    _, res = await app.asgi_client.post("/api/v1/tickets", json=body,
                                        headers={**BOT_AUTH, "Idempotency-Key": "pii-at-rest-1"})
    assert res.status == 201, res.json
    ticket_number = res.json["ticket_number"]

    # An agent takes the chat, writes a note and a ticket note, closes it; the borrower rates it.
    agent = staff["agent"]
    async with database.transaction() as s:
        conversation = await s.scalar(select(Conversation).where(Conversation.public_id == public_id))
        handoff = await queue.pick_up(s, agent, (await s.scalar(select(Handoff))).id)
        await actions.add_note(s, agent, conversation, handoff, NOTE)
        ticket = await ticket_service.get_ticket(s, ticket_number)
        await ticket_service.add_note(s, ticket, TICKET_NOTE, ticket_service.Actor.staff(agent.id))
        ticket.outcome = {"kind": "explanation", "explanation": f"Dana dikembalikan; konfirmasi ke {EMAIL}."}
        await actions.close(s, agent, conversation, handoff, CLOSING)
        handoff.rating, handoff.rated_at, handoff.rating_comment = 5, NOW, COMMENT
    _, res = await app.asgi_client.post("/api/v1/customers/verify", headers=BOT_AUTH, json={
        "conversation_id": public_id, "full_name": "Budi Santoso", "phone": "62 812 3456 7890",
        "loan_id": "PJ-2024-000123"})
    assert res.status == 200 and res.json["verified"] is True, res.json

    # A rights request from the chat, and the borrower's own copy.
    async with database.transaction() as s:
        request = await service.record_request(s, privacy_ctx, service.NewRequest(
            kind=RequestKind.COPY, source=RequestSource.CHAT, conversation_id=public_id), None)
        number = request.number
        # And one an agent records from a phone call, with the number to call back on.
        called = await service.record_request(s, privacy_ctx, service.NewRequest(
            kind=RequestKind.ACCESS, source=RequestSource.PHONE, requester_name="Budi Santoso",
            requester_contact="0812 3456 7890"), staff["agent"].id)
        assert (called.requester_contact, called.clear_contact()) == ("081****890", "0812 3456 7890")
    async with database.transaction() as s:
        copy = (await export.export_for(s, privacy_ctx, await service.get_request(s, number),
                                        actor_id=staff["supervisor"].id, fmt="json")).as_json()
    return {"public_id": public_id, "copy": copy, "ticket_number": ticket_number}


async def found_by_search(database, q: str) -> set[str]:
    dialect = "sqlite" if database.is_sqlite else "postgresql"
    async with database.session() as s:
        return {row.public_id for row in (await s.execute(search_query(Filters(q=q), dialect, NOW))).all()}


async def test_a_dump_after_a_full_scenario_shows_no_phone_in_clear(app, database, privacy_ctx, staff) -> None:
    seen = await full_scenario(app, database, privacy_ctx, staff)
    # Everything that matched on the clear number still matches.
    for spelling in ("0812 3456 7890", "+62 812-3456-7890", "6281234567890", "081234567890"):
        assert await found_by_search(database, spelling) == {seen["public_id"]}, spelling
    assert await found_by_search(database, TELEGRAM_CHAT) != set()
    async with database.session() as s:
        conversation = await s.scalar(select(Conversation).where(Conversation.public_id == seen["public_id"]))
        assert conversation.customer_id == "CUST-0001"  # the identity check matched the number
        ticket = await s.scalar(select(Ticket))
        assert ticket.phone_key == conversation.sender_key  # a ticket and its chat match by key
        assert ticket.clear_phone() == PHONE
        recipients = {o.recipient_enc.split("$")[0] for o in await s.scalars(select(OutboxItem))}
    assert recipients == {pii.keyring().current_id}
    # The borrower's own copy has his number in clear, and not the desk's hash or ciphertext.
    copy = seen["copy"]["tables"]
    assert [c["sender"] for c in copy["conversations"]] == [PHONE]
    assert [t["phone"] for t in copy["tickets"]] == [PHONE]
    assert "sender_enc" not in copy["conversations"][0] and "phone_key" not in copy["tickets"][0]
    # Typed identifiers: stored masked, the original sealed; the borrower's copy has his own words.
    assert TYPED in [m["text"] for m in copy["messages"]] and "text_enc" not in copy["messages"][0]
    async with database.session() as s:
        stored = {m.clear_text(): m for m in await s.scalars(select(Message))}
    assert stored[TYPED].text == "nama saya Budi, nomor HP 081****890, NIK 317401******0001"
    assert stored[ECHO].text == "Terima kasih Kak Budi, nomor HP +6281****890 sudah kami catat."
    assert stored["halo, tagihan saya salah"].text_enc is None  # nothing to hide, nothing sealed

    # Free text outside messages: stored masked, the originals sealed; the copy opens them.
    (handoff,) = copy["handoffs"]
    assert handoff["summary"] == SUMMARY and handoff["rating_comment"] == COMMENT
    assert handoff["closing_summary"] == "Kami sudah cek pembayaran Kakak; bila ada pertanyaan hubungi kami, " \
        "kami telepon ke 081****890."  # staff's text: masked in the copy, as before (third parties)
    (exported,) = copy["tickets"]
    assert (exported["email"], exported["id_card_address"]) == (EMAIL, ADDRESS)
    assert exported["chronology"] == CHRONOLOGY.replace("0812 3456 7890", "081****890").replace(
        EMAIL, "b***@example.com").replace(NIK, "317401******0001")
    assert not [key for table in copy.values() for row in table for key in row if key.endswith("_enc")]
    async with database.session() as s:
        ticket = await s.scalar(select(Ticket))
        assert (ticket.email, ticket.id_card_address) == ("b***@example.com", "")
        assert (ticket.opened("email"), ticket.opened("id_card_address")) == (EMAIL, ADDRESS)
        assert ticket.chronology == copy["tickets"][0]["chronology"] and ticket.opened("chronology") == CHRONOLOGY
        stored_handoff = await s.scalar(select(Handoff))
        assert stored_handoff.summary["phone"] == "081****890" and stored_handoff.opened("summary") == SUMMARY
        assert stored_handoff.summary["last_intent"] == "request_human"  # words without identifiers stay
        note = await s.scalar(select(Note))
        assert note.text == "Peminjam mengirim NIK 317401******0001 lewat telepon." and note.clear_text() == NOTE
        history = {e.kind: e for e in await s.scalars(select(TicketEvent))}
        assert history["note"].opened_data() == {"text": TICKET_NOTE}
        assert history["conversation_closed"].opened_data()["text"] == CLOSING
        assert history["created"].data_enc is None  # no identifier in it, nothing sealed

    dumped = await dump(database)
    assert "conversations" in dumped and "outbox" in dumped and "ticket_events" in dumped  # the dump has the rows
    assert clear_values_in(dumped) == []


async def test_staff_views_open_what_their_role_may_see(app, database, privacy_ctx, staff) -> None:
    """The conversation panel shows what it showed before the columns were sealed: notes as written, like
    messages, to whoever may read the transcript; the summary, chronology and e-mail opened for the roles
    that see full personal data and masked for the others."""
    seen = await full_scenario(app, database, privacy_ctx, staff)
    async with database.transaction() as s:
        full = await open_transcript(s, staff["supervisor"], seen["public_id"])
        masked = await open_transcript(s, staff["agent"], seen["public_id"])
    assert NOTE in [i.text for i in full.items if i.note] and NOTE in [i.text for i in masked.items if i.note]
    assert full.fields["chronology"] == CHRONOLOGY and full.fields["email"] == EMAIL
    assert NIK not in masked.fields["chronology"] and masked.fields["email"] == "b***@example.com"
    assert any(TYPED in line for line in full.summary)
    assert not any(NIK in line for line in masked.summary)
    # The staff API's full view of the ticket opens the history and the sealed fields.
    supervisor = {"x-test-user": f"{staff['supervisor'].id}:supervisor"}
    _, res = await app.asgi_client.get(f"/api/v1/staff/tickets/{seen['ticket_number']}", headers=supervisor)
    assert res.status == 200, res.json
    assert (res.json["email"], res.json["id_card_address"], res.json["chronology"]) == (EMAIL, ADDRESS, CHRONOLOGY)
    assert {"text": TICKET_NOTE} in [e["data"] for e in res.json["events"]]


async def test_anonymising_a_borrower_drops_every_sealed_original(app, database, privacy_ctx, staff) -> None:
    """Retention and erasure clear the ``…_enc`` columns too: nothing is left that a key could open."""
    await full_scenario(app, database, privacy_ctx, staff)
    async with database.transaction() as s:
        for ticket in await s.scalars(select(Ticket)):
            await anonymise_ticket(s, ticket, "test", NOW)
        for conversation_id in await s.scalars(select(Conversation.id)):
            await anonymise_conversation(s, conversation_id, "test", NOW)
    async with database.session() as s:
        left = {f"{c.table}.{c.enc}": await s.scalar(text(f"SELECT count(*) FROM {c.table} WHERE {c.enc} IS NOT NULL"))
                for c in SEALED_COLUMNS}
    assert set(left.values()) == {0}, left
    assert len(left) == 9  # every sealed free-text column was looked at


async def test_the_dump_scan_finds_a_number_stored_in_clear(database) -> None:
    """The scan above can fail: a column holding the number as before is found."""
    async with database.transaction() as s:
        s.add(Conversation(channel="whatsapp", sender=PHONE))
        await s.flush()
        await s.execute(text("UPDATE conversations SET sender_name = :n"), {"n": "0812-3456-7890"})
    assert clear_values_in(await dump(database))


def _key(key_id: str) -> str:
    return f"{key_id}={base64.b64encode(hashlib.sha256(key_id.encode()).digest()).decode()}"


@pytest.fixture
def restore_keys():
    before = pii.keyring()
    yield
    pii.configure(before)


async def test_rotation_keeps_everything_readable_and_matching(database, restore_keys) -> None:
    old = pii.Keyring(pii.parse_keys(_key("k1")))
    pii.configure(old)
    await check_keys(database)
    store = build_store(database, QueueHandoffs())
    try:
        stored = await store.append_inbound(inbound("whatsapp", PHONE, "SM1", TYPED))
        await store.append_replies(stored.conversation, [OutboundMessage("ok")], author="bot", created_at=NOW)
    finally:
        await store.close()
    async with database.transaction() as s:
        ticket = Ticket(number="DCI-1", category="payment", channel="whatsapp", full_name="Budi", phone=PHONE,
                        product="x", chronology="x")
        s.add(ticket)
        await s.flush()
        s.add(TicketEvent(ticket_id=ticket.id, seq=1, kind="note", actor="user:1", data={"text": NOTE}))
        old_key = (await s.get(Conversation, stored.conversation.id)).sender_key

    # New key first, old key still configured: the desk refuses to start until re-keyed.
    both = pii.Keyring(pii.parse_keys(f"{_key('k2')},{_key('k1')}"))
    pii.configure(both)
    with pytest.raises(pii.PiiKeyError, match="run `aduan pii-rekey`"):
        await check_keys(database)
    report = await rekey(database)
    assert report.rewritten == {"conversations": 1, "outbox": 1, "tickets": 1, "messages": 1, "ticket_events": 1}
    await check_keys(database)
    assert (await rekey(database)).rewritten == {}  # idempotent

    # Only the new key now: everything opens and matches.
    pii.configure(pii.Keyring(pii.parse_keys(_key("k2"))))
    await check_keys(database)
    async with database.session() as s:
        found = await s.scalar(select(Conversation).where(Conversation.sender_is("0812 3456 7890")))
        ticket = await s.scalar(select(Ticket).where(Ticket.phone_key == pii.phone_key(pii.keyring(), PHONE)))
    assert found is not None and found.sender_key != old_key and found.sender_enc.startswith("k2$")
    assert found.clear_sender() == PHONE and ticket is not None and ticket.clear_phone() == PHONE
    async with database.session() as s:
        (outbox,) = await s.scalars(select(OutboxItem))
    assert outbox.recipient_enc.startswith("k2$") and pii.keyring().decrypt("phone", outbox.recipient_enc) == PHONE
    async with database.session() as s:
        typed = await s.scalar(select(Message).where(Message.text_enc.is_not(None)))
    assert typed.text_enc.startswith("k2$") and typed.clear_text() == TYPED
    async with database.session() as s:
        event = await s.scalar(select(TicketEvent))
    assert event.data_enc.startswith("k2$") and event.opened_data() == {"text": NOTE}


async def test_a_wrong_key_is_a_clear_error(database, restore_keys) -> None:
    pii.configure(pii.Keyring(pii.parse_keys(_key("k1"))))
    await check_keys(database)
    async with database.transaction() as s:
        s.add(Conversation(channel="whatsapp", sender=PHONE))
    # Same id, other material: the canary does not open, and neither would any row.
    pii.configure(pii.Keyring([("k1", b"\x07" * 32)]))
    with pytest.raises(pii.PiiKeyError, match="PII key k1 does not open this value: wrong key material"):
        await check_keys(database)
    async with database.session() as s:
        conversation = await s.scalar(select(Conversation))
        with pytest.raises(pii.PiiKeyError, match="wrong key material"):
            conversation.clear_sender()
    # The key left out of the configuration: named.
    pii.configure(pii.Keyring(pii.parse_keys(_key("k9"))))
    with pytest.raises(pii.PiiKeyError, match="sealed with PII key k1, which is not configured"):
        await check_keys(database)


def test_keys_come_from_configuration_never_from_nowhere(tmp_path) -> None:
    with pytest.raises(pii.PiiKeyError, match="no PII key configured"):
        pii.load_keyring(None, None, allow_dev=False)
    dev = tmp_path / "var" / "pii-keys"
    ring = pii.load_keyring(None, None, allow_dev=True, dev_file=dev)
    assert dev.stat().st_mode & 0o777 == 0o600 and ring.key_ids == ["dev1"]
    assert pii.load_keyring(None, None, allow_dev=True, dev_file=dev).lookup_key("x", "y") == ring.lookup_key("x", "y")
    with pytest.raises(pii.PiiKeyError, match="expected 32"):
        pii.load_keyring("k1=" + base64.b64encode(b"short").decode(), None, allow_dev=False)


async def test_anonymising_drops_the_ciphertext_and_the_hash(database) -> None:
    async with database.transaction() as s:
        conv = Conversation(channel="whatsapp", sender=PHONE)
        s.add(conv)
        await s.flush()
        await anonymise_conversation(s, conv.id, "test", NOW)
    async with database.session() as s:
        row = await s.get(Conversation, conv.id)
        assert (row.sender_key, row.sender_enc, row.clear_sender()) == (f"anon-{conv.id}", None, None)
        assert await s.scalar(select(Conversation).where(Conversation.sender_is(PHONE))) is None
    assert json.dumps(clear_values_in(await dump(database))) == "[]"


def test_the_commands_check_rekey_and_make_keys(database, database_url, monkeypatch, capsys, restore_keys) -> None:
    from aduan.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PII_KEYS", _key("k1"))
    assert main(["pii-check"]) == 0 and "current key k1" in capsys.readouterr().out
    monkeypatch.setenv("PII_KEYS", f"{_key('k2')},{_key('k1')}")
    assert main(["pii-check"]) == 1 and "run `aduan pii-rekey`" in capsys.readouterr().err
    assert main(["pii-rekey"]) == 0 and "current key k2" in capsys.readouterr().out
    monkeypatch.setenv("PII_KEYS", _key("k1"))  # the old key alone: refused, named, no value shown
    assert main(["pii-check"]) == 1
    err = capsys.readouterr().err
    assert "sealed with PII key k2, which is not configured" in err and _key("k1").split("=", 1)[1] not in err
    assert main(["pii-new-key", "k3"]) == 0
    entry = capsys.readouterr().out.strip()
    assert pii.parse_keys(entry)[0][0] == "k3" and len(pii.parse_keys(entry)[0][1]) == 32


def test_json_free_text_is_sealed_whatever_separates_the_digits() -> None:
    """seal_json masks every string inside a JSON value (a number split by a new line too) and seals the
    original; a value without identifiers is stored as it is, with nothing sealed."""
    stored, sealed = pii.seal_json({"last_message": "nomor saya 0812\n3456 7890", "n": 3}, "handoffs.summary")
    assert stored == {"last_message": "nomor saya 081****890", "n": 3}
    assert pii.open_json(stored, sealed, "handoffs.summary") == {"last_message": "nomor saya 0812\n3456 7890", "n": 3}
    plain = {"last_intent": "request_human", "at": "2026-11-30T10:00:00+07:00", "ticket_number": "DCI-261130-0001-3"}
    assert pii.seal_json(plain, "handoffs.summary") == (plain, None)
