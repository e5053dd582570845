"""The conversation workflow through HTTP: access, audit, replies, notes, canned responses, closing, rating."""
from __future__ import annotations

import re

from sqlalchemy import func, select, update

from handoff import rating
from handoff.audit import recent
from handoff.models import CannedResponse, Note
from storage.base import utcnow
from storage.models import Conversation, Message, OutboxItem
from tickets.models import Ticket
from desk.store import append_message
from tests.handoff.conftest import get_conversation, get_handoff


async def _pick(client, staff, public_id):
    return await client.post(f"/console/c/{public_id}/pickup", staff, headers={"X-Requested-With": "fetch"})


async def test_agents_see_queued_and_their_own_only(client, sign_in, handed_off, database) -> None:
    ani = await sign_in("ani")
    budi = await sign_in("budi")
    public_id, _ = await handed_off()
    # Queued: every agent may look before taking it.
    assert (await client.get(f"/console/c/{public_id}", budi)).status == 200
    assert (await _pick(client, ani, public_id)).status == 200
    assert (await client.get(f"/console/c/{public_id}", ani)).status == 200
    forbidden = await client.get(f"/console/c/{public_id}", budi)
    assert forbidden.status == 403
    assert (await client.get(f"/console/c/{public_id}/panel", budi)).status == 403
    assert (await client.get(f"/console/c/{public_id}/messages?after=0", budi)).status == 403
    # and budi cannot act on it either
    reply = await client.post(f"/console/c/{public_id}/reply", budi, {"text": "halo"})
    assert reply.status == 403
    sri = await sign_in("sri", "supervisor")
    assert (await client.get(f"/console/c/{public_id}", sri)).status == 200
    async with database.session() as session:
        rows = await recent(session, object_id=public_id)
    opened = [(r.actor, r.action) for r in rows if r.action.startswith("transcript.")]
    assert ("sri", "transcript.opened") in opened
    assert ("budi", "transcript.denied") in opened
    assert opened.count(("ani", "transcript.opened")) == 1


async def test_second_pick_up_over_http_is_409(client, sign_in, handed_off) -> None:
    ani, budi = await sign_in("ani"), await sign_in("budi")
    public_id, _ = await handed_off()
    assert (await _pick(client, ani, public_id)).status == 200
    assert (await _pick(client, budi, public_id)).status == 409


async def test_admin_sees_the_audit_log(client, sign_in, handed_off) -> None:
    sri = await sign_in("sri", "supervisor")
    public_id, _ = await handed_off()
    await client.get(f"/console/c/{public_id}", sri)
    root = await sign_in("root", "admin")
    page = await client.get("/console/admin/audit", root)
    assert page.status == 200
    assert "transcript.opened" in page.text and public_id in page.text and "sri" in page.text


async def test_panel_shows_transcript_fields_and_masks_for_agents(client, sign_in, handed_off) -> None:
    ani = await sign_in("ani")
    public_id, _ = await handed_off(channel="whatsapp", sender="+6281234567890",
                                    summary={"full_name": "Budi Santoso", "chronology": "transfer 12 Mei"})
    await _pick(client, ani, public_id)
    page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert "sudah bayar tapi belum lunas" in page and "Baik, saya sambungkan ke agen." in page
    assert "transfer 12 Mei" in page
    assert "+6281234567890" not in page and "+6281******890" in page
    assert "B*** S******" in page
    spec = await sign_in("sri", "supervisor")
    full = (await client.get(f"/console/c/{public_id}", spec)).text
    assert "+6281234567890" in full and "Budi Santoso" in full


async def test_reply_goes_through_the_outbox_and_notes_never_do(client, sign_in, handed_off, database) -> None:
    ani = await sign_in("ani")
    public_id, _ = await handed_off()
    await _pick(client, ani, public_id)
    r = await client.post(f"/console/c/{public_id}/reply", ani, {"text": "Halo Kak, saya Ani."},
                          headers={"X-Requested-With": "fetch"})
    assert r.status == 200
    n = await client.post(f"/console/c/{public_id}/note", ani, {"text": "RAHASIA: cek mutasi bank"},
                          headers={"X-Requested-With": "fetch"})
    assert n.status == 200
    conv = await get_conversation(database, public_id)
    async with database.session() as session:
        outgoing = list(await session.scalars(
            select(Message.text).join(OutboxItem, OutboxItem.message_id == Message.id)
            .where(Message.conversation_id == conv.id)))
        all_texts = list(await session.scalars(select(Message.text).where(Message.conversation_id == conv.id)))
        notes = list(await session.scalars(select(Note.text).where(Note.conversation_id == conv.id)))
    assert "Halo Kak, saya Ani." in outgoing
    assert notes == ["RAHASIA: cek mutasi bank"]
    assert not any("RAHASIA" in t for t in all_texts)
    page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert "RAHASIA: cek mutasi bank" in page  # staff see it in the transcript


async def test_canned_responses_need_approval(client, sign_in, handed_off, database) -> None:
    ani = await sign_in("ani")
    public_id, _ = await handed_off(summary={"ticket_number": "DCI-9"})
    await _pick(client, ani, public_id)
    await client.post("/console/canned", ani, {"title": "Salam", "body": "Halo {nama}, tiket {nomor_tiket}. Salam, {agen}"})
    async with database.session() as session:
        row = (await session.scalars(select(CannedResponse))).one()
    assert row.approved is False
    refused = await client.post(f"/console/c/{public_id}/reply", ani, {"canned_id": str(row.id)})
    assert refused.status == 400
    assert (await client.post(f"/console/canned/{row.id}/approve", ani)).status == 403
    sri = await sign_in("sri", "supervisor")
    assert (await client.post(f"/console/canned/{row.id}/approve", sri, follow_redirects=False)).status == 302
    sent = await client.post(f"/console/c/{public_id}/reply", ani, {"canned_id": str(row.id)},
                             headers={"X-Requested-With": "fetch"})
    assert sent.status == 200
    conv = await get_conversation(database, public_id)
    async with database.session() as session:
        last = await session.scalar(select(Message.text).where(Message.conversation_id == conv.id)
                                    .order_by(Message.seq.desc()).limit(1))
    assert last == "Halo Budi Santoso, tiket DCI-9. Salam, Ani"


async def test_close_sends_summary_and_rating_buttons_and_returns_to_bot(client, sign_in, handed_off, database) -> None:
    ani = await sign_in("ani")
    public_id, handoff_id = await handed_off()
    await _pick(client, ani, public_id)
    r = await client.post(f"/console/c/{public_id}/close", ani, {"summary": "Dana sudah kami kembalikan."},
                          headers={"X-Requested-With": "fetch"})
    assert r.status == 200
    conv = await get_conversation(database, public_id)
    assert conv.mode == "bot"
    handoff = await get_handoff(database, handoff_id)
    assert handoff.status == "closed" and handoff.closed_by == ani.id
    async with database.session() as session:
        closing = await session.scalar(select(Message).where(Message.conversation_id == conv.id)
                                       .order_by(Message.seq.desc()).limit(1))
    assert "Dana sudah kami kembalikan." in closing.text
    assert [b["payload"] for b in closing.payload["buttons"]] == [f"rating:{n}" for n in range(1, 6)]
    # The agent no longer acts on it; a closed conversation stays readable for them.
    assert (await client.post(f"/console/c/{public_id}/reply", ani, {"text": "x"})).status == 403
    assert (await client.get(f"/console/c/{public_id}", ani)).status == 200
    # The borrower rates with the button, then comments.
    async with database.transaction() as session:
        conv = await get_conversation(database, public_id)
        reply = await rating.capture(session, conv, "4", "rating:4")
        assert reply is not None and "penilaian" in reply.text
        # The router stores the request for a comment; only then is the next message a comment.
        await append_message(session, await session.get(Conversation, conv.id), direction="out", author="bot",
                             text=reply.text)
    async with database.transaction() as session:
        reply = await rating.capture(session, conv, "Agennya ramah", None)
        assert reply is not None
    async with database.transaction() as session:
        assert await rating.capture(session, conv, "mau tanya tagihan", None) is None  # back to the bot
    handoff = await get_handoff(database, handoff_id)
    assert handoff.rating == 4 and handoff.rating_comment == "Agennya ramah"


async def test_rating_in_one_message_and_not_for_open_handoffs(database, handed_off) -> None:
    public_id, handoff_id = await handed_off()
    conv = await get_conversation(database, public_id)
    async with database.transaction() as session:
        assert await rating.capture(session, conv, "5", None) is None  # still open: not a rating
    from sqlalchemy import update
    from handoff.models import Handoff
    from storage.base import utcnow
    async with database.transaction() as session:
        await session.execute(update(Handoff).where(Handoff.id == handoff_id)
                              .values(status="closed", closed_at=utcnow()))
    async with database.transaction() as session:
        assert await rating.capture(session, conv, "halo lagi", None) is None
        reply = await rating.capture(session, conv, "5 cepat sekali", None)
        assert reply is not None and reply.text == rating.THANKS_BOTH
    handoff = await get_handoff(database, handoff_id)
    assert handoff.rating == 5 and handoff.rating_comment == "cepat sekali"


async def test_transfer_escalate_and_take_over(client, sign_in, handed_off, database) -> None:
    ani, budi = await sign_in("ani"), await sign_in("budi")
    spec = await sign_in("sari", "specialist")
    sri = await sign_in("sri", "supervisor")
    public_id, handoff_id = await handed_off()
    await _pick(client, ani, public_id)
    assert (await client.post(f"/console/c/{public_id}/transfer", ani, {"to": str(budi.id)},
                              headers={"X-Requested-With": "fetch"})).status == 200
    assert (await get_handoff(database, handoff_id)).assigned_to == budi.id
    assert (await client.get(f"/console/c/{public_id}", ani)).status == 403
    assert (await client.post(f"/console/c/{public_id}/transfer", budi, {"to": "specialist"},
                              headers={"X-Requested-With": "fetch"})).status == 200
    h = await get_handoff(database, handoff_id)
    assert h.status == "waiting" and h.queue_role == "specialist"
    assert (await _pick(client, ani, public_id)).status == 409
    assert (await _pick(client, spec, public_id)).status == 200
    assert (await client.post(f"/console/c/{public_id}/transfer", spec, {"to": "legal"},
                              headers={"X-Requested-With": "fetch"})).status == 200
    assert (await get_handoff(database, handoff_id)).department == "legal"
    assert (await client.post(f"/console/c/{public_id}/takeover", sri,
                              headers={"X-Requested-With": "fetch"})).status == 200
    assert (await get_handoff(database, handoff_id)).assigned_to == sri.id
    assert (await client.post(f"/console/c/{public_id}/takeover", ani)).status == 403


async def test_set_category_priority_and_ticket_status(client, sign_in, handed_off, database) -> None:
    from tickets.models import Ticket, TicketEvent
    async with database.transaction() as session:
        session.add(Ticket(number="DCI-7", category="payment", channel="inapp", full_name="Budi",
                           product="pinjaman_tunai", chronology="x"))
    ani = await sign_in("ani")
    public_id, handoff_id = await handed_off(ticket_number="DCI-7")
    await _pick(client, ani, public_id)
    r = await client.post(f"/console/c/{public_id}/fields", ani,
                          {"category": "app", "priority": "high", "status": "in_progress"},
                          headers={"X-Requested-With": "fetch"})
    assert r.status == 200
    h = await get_handoff(database, handoff_id)
    assert (h.category, h.priority) == ("app", "high")
    async with database.session() as session:
        ticket = (await session.scalars(select(Ticket).where(Ticket.number == "DCI-7"))).one()
        kinds = set(await session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)))
    assert ticket.status == "in_progress" and ticket.category == "app" and ticket.priority == "high"
    assert {"priority_changed", "category_changed", "status_changed"} <= kinds
    bad = await client.post(f"/console/c/{public_id}/fields", ani, {"priority": "sangat"})
    assert bad.status == 400
    resolve = await client.post(f"/console/c/{public_id}/fields", ani, {"status": "resolved"})
    assert resolve.status == 400  # resolution needs the outcome the ticket pages collect


async def test_supervisor_filters_and_full_text_search(client, sign_in, handed_off, database) -> None:
    ani = await sign_in("ani")
    sri = await sign_in("sri", "supervisor")
    wa, _ = await handed_off(channel="whatsapp", category="fraud")
    app_, _ = await handed_off(channel="inapp", category="payment")
    await _pick(client, ani, app_)
    await client.post(f"/console/c/{app_}/reply", ani, {"text": "Mohon kirim bukti transfer Indomaret"})
    async def listed(query: str) -> set[str]:
        page = (await client.get(f"/console/supervisor?{query}", sri)).text
        return {p for p in (wa, app_) if p in page}
    assert await listed("") == {wa, app_}
    assert await listed("channel=whatsapp") == {wa}
    assert await listed("category=payment") == {app_}
    assert await listed(f"agent={ani.id}") == {app_}
    assert await listed("q=indomaret") == {app_}
    assert await listed("q=tidakada") == set()
    assert await listed("status=waiting") == {wa}
    assert await listed("sla=none") == {wa, app_}
    assert await listed("sla=late") == set()
    assert await listed("from=2000-01-01&to=2000-01-02") == set()
    assert (await client.get("/console/supervisor?q=indomaret", ani)).status == 403


async def test_english_is_available(client, sign_in) -> None:
    ani = await sign_in("ani")
    assert "Antrean" in (await client.get("/console", ani)).text
    assert "Queue" in (await client.get("/console?lang=en", ani)).text


# -- the handoff summary agents read (issue 11, items 8 and 9) -----------------------------------

BOT_SUMMARY = {"reason": "fraud", "last_intent": "complain_fraud", "verified": True,
               "phone": "+62812****890", "last_message": "ada yang pinjam atas nama saya pakai KTP saya"}


def _summary_block(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</ul>', page, re.S)
    assert match, f"no {testid} block"
    return re.sub(r"<[^>]+>", "\n", match.group(1))


async def test_agents_read_a_short_indonesian_summary_in_queue_and_panel(client, sign_in, handed_off,
                                                                         database) -> None:
    ani = await sign_in("ani")
    async with database.transaction() as session:
        conv = Conversation(channel="inapp", sender="CUST-7777")  # an app user the core does not know
        session.add(conv)
        await session.flush()
        session.add(Ticket(number="DCI-261130-0005-4", category="fraud", priority="high", channel="inapp",
                           full_name="", product="", chronology="ada yang pinjam atas nama saya",
                           received_at=utcnow(), clock_started_at=utcnow()))
    public_id, _ = await handed_off(sender="CUST-7777", reason="fraud", category="fraud",
                                    ticket_number="DCI-261130-0005-4", summary=BOT_SUMMARY)
    queue_page = (await client.get("/console", ani)).text
    for text in (_summary_block(queue_page, "queue-summary"),):
        assert "Alasan: laporan penipuan." in text
        assert "Kategori: Penipuan." in text
        assert "Tiket: DCI-261130-0005-4 — data belum lengkap: nama, nomor HP/e-mail, produk, tanggal transaksi." in text
        # The bot said "verified", but the desk has no verified customer on this conversation.
        assert "Identitas: belum terverifikasi." in text and "terverifikasi (" not in text
        assert "Permintaan peminjam (penipuan): “ada yang pinjam atas nama saya pakai KTP saya”" in text
    await _pick(client, ani, public_id)
    panel = (await client.get(f"/console/c/{public_id}", ani)).text
    text = _summary_block(panel, "summary")
    assert "Identitas: belum terverifikasi." in text and "DCI-261130-0005-4" in text
    for debug in ("reason=", "last_intent", "complain_fraud", "verified=yes", "True"):
        assert debug not in panel


async def test_summary_shows_verified_only_for_a_customer_the_desk_verified(client, sign_in, handed_off,
                                                                             database) -> None:
    sri = await sign_in("sri", "supervisor")
    public_id, _ = await handed_off(summary={"last_intent": "ask_bill_amount", "last_message": "tagihan saya?"})
    conv = await get_conversation(database, public_id)
    async with database.transaction() as session:
        await session.execute(update(Conversation).where(Conversation.id == conv.id).values(customer_id="CUST-0001"))
    text = _summary_block((await client.get(f"/console/c/{public_id}", sri)).text, "summary")
    assert "Identitas: terverifikasi (CUST-0001)." in text
    assert "Permintaan peminjam (cek tagihan): “tagihan saya?”" in text
    assert "Tiket: belum ada." in text


async def test_summary_masks_personal_data_for_agents_and_reads_the_old_text_form(client, sign_in, handed_off) -> None:
    ani = await sign_in("ani")
    public_id, _ = await handed_off(summary={
        "text": "reason=request_human; last_intent=request_human; full_name=Budi Santoso; "
                "last_message=hubungi saya di 081234567890"})
    await _pick(client, ani, public_id)
    text = _summary_block((await client.get(f"/console/c/{public_id}", ani)).text, "summary")
    assert "Alasan: peminjam minta bicara dengan petugas." in text
    assert "nama B*** S******" in text and "081234567890" not in text
    assert "reason=" not in text


# -- supervisors find any conversation (issue 11, item 10) ---------------------------------------

async def _bot_only_conversation(database, *, channel: str, sender: str, name: str | None, text: str,
                                 ticket: Ticket | None = None) -> str:
    from tickets.models import TicketConversation

    async with database.transaction() as session:
        conv = Conversation(channel=channel, sender=sender, sender_name=name)
        session.add(conv)
        await session.flush()
        session.add(Message(conversation_id=conv.id, seq=1, direction="in", author="borrower", channel=channel,
                            text=text, external_id=f"ext-{conv.public_id}"))
        if ticket is not None:
            session.add(ticket)
            await session.flush()
            session.add(TicketConversation(ticket_id=ticket.id, conversation_id=conv.id))
        return conv.public_id


async def test_supervisor_finds_bot_only_conversations_by_ticket_phone_name_or_word(
        client, sign_in, handed_off, database) -> None:
    sri = await sign_in("sri", "supervisor")
    now = utcnow()
    filed = Ticket(number="DCI-261130-0005-4", category="payment", priority="medium", channel="whatsapp",
                   full_name="Sari Wulandari", phone="+6285795730601", product="PayLater",
                   chronology="Cicilan sudah dipotong autodebet tapi aplikasi masih menagih", received_at=now,
                   clock_started_at=now)
    wa = await _bot_only_conversation(database, channel="whatsapp", sender="+6285795730601", name="Sari",
                                      text="cek status tiket saya", ticket=filed)
    tg = await _bot_only_conversation(database, channel="telegram", sender="99887766", name="Joko Susilo",
                                      text="berapa tagihan saya bulan ini")
    people, _ = await handed_off(channel="inapp")

    async def listed(query: str) -> set[str]:
        page = await client.get(f"/console/supervisor?{query}", sri)
        assert page.status == 200
        return {p for p in (wa, tg, people) if p in page.text}

    assert await listed("") == {wa, tg, people}
    assert await listed("status=bot") == {wa, tg}
    assert await listed("q=DCI-261130-0005-4") == {wa}
    assert await listed("q=dci 261130 0005 4") == {wa}  # typed loosely
    for phone in ("0857 9573 0601", "%2B62 857-9573-0601", "6285795730601", "+6285795730601"):
        assert await listed(f"q={phone}") == {wa}, phone
    assert await listed("q=wulandari") == {wa}  # the name on the ticket
    assert await listed("q=joko") == {tg}  # the sender's name
    assert await listed("q=autodebet") == {wa}  # a word of the chronology
    assert await listed("q=tagihan") == {tg}  # a word the borrower wrote

    # Opening a bot-only transcript is audited, and the masking rules still hold.
    page = await client.get(f"/console/c/{tg}", sri)
    assert page.status == 200 and "berapa tagihan saya bulan ini" in page.text
    entries = [e for e in await _audit(database) if e.object_id == tg]
    assert [(e.actor, e.action) for e in entries] == [("sri", "transcript.opened")]
    root = await sign_in("root", "admin")  # supervises, but without full personal data
    assert wa in (await client.get("/console/supervisor?q=0857 9573 0601", root)).text
    page = (await client.get(f"/console/c/{wa}", root)).text
    assert "+6285795730601" not in page and "Sari Wulandari" not in page
    ani = await sign_in("ani")
    assert (await client.get("/console/supervisor?q=joko", ani)).status == 403
    assert (await client.get(f"/console/c/{tg}", ani)).status == 403


async def _audit(database):  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return await recent(session)
