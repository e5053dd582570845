"""The console's ticket pages and the admin's take-over: the same ticket use cases as the staff API."""
from __future__ import annotations

from sqlalchemy import select

from handoff.models import AuditEntry
from tickets.calendar import WIB
from storage.models import Message
from tickets.models import Ticket, TicketEvent
from tests.handoff.conftest import get_handoff
from tests.handoff.test_case import FETCH, _conversation, _events, _file, _hand_off, _ticket


async def test_an_admin_takes_a_conversation_over(client, sign_in, handed_off, database) -> None:
    ani = await sign_in("ani")
    root = await sign_in("root", "admin")
    public_id, handoff_id = await handed_off()
    assert (await client.post(f"/console/c/{public_id}/pickup", ani, headers=FETCH)).status == 200
    r = await client.post(f"/console/c/{public_id}/takeover", root, headers=FETCH)
    assert r.status == 200, r.text
    assert (await get_handoff(database, handoff_id)).assigned_to == root.id
    # Admins still cannot be handed conversations by others.
    sri = await sign_in("sri", "supervisor")
    other, _ = await handed_off()
    assert (await client.post(f"/console/c/{other}/takeover", sri, headers=FETCH)).status == 200
    refused = await client.post(f"/console/c/{other}/transfer", sri, {"to": str(root.id)}, headers=FETCH)
    assert refused.status == 400 and refused.json["error"] == "bad_target"


async def test_ticket_page_shows_the_case_and_only_the_roles_actions(client, sign_in, database, services) -> None:
    ani = await sign_in("ani")
    sari = await sign_in("sari", "specialist")
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    await _hand_off(database, conv, ticket.number)
    page = await client.get(f"/console/tickets/{ticket.number.lower()}", ani)
    assert page.status == 200
    assert ticket.number in page.text and f"/console/c/{conv.public_id}" in page.text
    assert 'data-testid="ticket-resolve"' in page.text
    for senior_only in ("ticket-reject", "ticket-extend"):
        assert f'data-testid="{senior_only}"' not in page.text
    page = await client.get(f"/console/tickets/{ticket.number}", sari)
    for form in ("ticket-resolve", "ticket-reject", "ticket-extend", "ticket-escalate"):
        assert f'data-testid="{form}"' in page.text
    assert (await client.get("/console/tickets/DCI-000000-0000-0", sari)).status == 404
    async with database.session() as session:
        reads = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == ticket.number)))
    assert reads.count("ticket_read") == 2


async def test_ticket_actions_from_the_console(client, sign_in, database, services) -> None:
    ani = await sign_in("ani")
    sari = await sign_in("sari", "specialist")
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    number = ticket.number

    # Role rules are the staff API's: an agent may not extend, reject or escalate to a department.
    for action, data in [("extend", {"reason": "menunggu data bank"}),
                         ("reject", {"ground": "not_our_product"}),
                         ("escalate", {"level": "department", "department": "finance"})]:
        r = await client.post(f"/console/tickets/{number}/{action}", ani, data, headers=FETCH)
        assert r.status == 403 and r.json["error"] == "forbidden", (action, r.text)
    assert (await client.post(f"/console/tickets/{number}/start", ani, headers=FETCH)).status == 200
    assert (await client.post(f"/console/tickets/{number}/start", ani, headers=FETCH)).status == 409

    r = await client.post(f"/console/tickets/{number}/extend", sari, {"reason": "menunggu konfirmasi bank"},
                          headers=FETCH)
    assert r.status == 200, r.text
    extended = await _ticket(database, ticket.id)
    assert extended.extension_count == 1 and extended.resolution_due > ticket.resolution_due
    async with database.session() as session:
        notice = await session.scalar(select(Message.text).where(Message.conversation_id == conv.id,
                                                                 Message.text.contains("perpanjang")))
    assert notice is not None and "menunggu konfirmasi bank" in notice  # the borrower is told
    again = await client.post(f"/console/tickets/{number}/extend", sari, {"reason": "lagi"}, headers=FETCH)
    assert again.status == 409 and again.json["error"] == "extension_not_allowed"

    r = await client.post(f"/console/tickets/{number}/escalate", sari,
                          {"level": "department", "department": "finance", "note": "cek mutasi"}, headers=FETCH)
    assert r.status == 200, r.text
    r = await client.post(f"/console/tickets/{number}/feedback", sari, {"text": "dana sudah masuk"}, headers=FETCH)
    assert r.status == 200
    bad = await client.post(f"/console/tickets/{number}/reject", sari, {"ground": "bosan"}, headers=FETCH)
    assert bad.status == 422
    empty = await client.post(f"/console/tickets/{number}/resolve", sari, {"kind": "explanation"}, headers=FETCH)
    assert empty.status == 422
    r = await client.post(f"/console/tickets/{number}/resolve", sari,
                          {"kind": "offer", "apology": "Mohon maaf.", "compensation_amount": "25.000",
                           "cause": "kelalaian_petugas"}, headers=FETCH)
    assert r.status == 200, r.text
    done = await _ticket(database, ticket.id)
    assert done.cause == "kelalaian_petugas" and done.negative_publicity is False
    assert done.status == "resolved" and float(done.compensation_amount) == 25000.0
    kinds = [e.kind for e in await _events(database, ticket.id)]
    assert kinds[2:] == ["status_changed", "extended", "extension_notice_sent", "escalated", "status_changed",
                         "feedback", "status_changed", "status_changed", "resolution_sent"]
    async with database.session() as session:
        audited = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == number)
                                             .order_by(AuditEntry.id)))
    assert audited == ["ticket.start", "ticket.extend", "ticket.escalate", "ticket.feedback", "ticket.resolve"]

    # Without JavaScript the form answers with the page again.
    plain = await client.post(f"/console/tickets/{number}/note", sari, {"text": "selesai"},
                              follow_redirects=False)
    assert plain.status == 302 and plain.headers["location"] == f"/console/tickets/{number}"
    async with database.session() as session:
        assert await session.scalar(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
                                    .order_by(TicketEvent.seq.desc()).limit(1)) == "note"
    assert (await _ticket(database, ticket.id)).status == "resolved"
    assert isinstance(done, Ticket)


async def test_the_handler_sets_the_new_expectation_from_the_ticket_page(client, sign_in, database, services
                                                                         ) -> None:
    ani = await sign_in("ani")
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    page = await client.get(f"/console/tickets/{ticket.number}", ani)
    assert 'data-testid="ticket-expect"' in page.text
    past = await client.post(f"/console/tickets/{ticket.number}/expect", ani, {"expected_on": "2020-01-02"},
                             headers=FETCH)
    assert past.status == 422
    r = await client.post(f"/console/tickets/{ticket.number}/expect", ani, {"expected_on": "2099-01-02"},
                          headers=FETCH)
    assert r.status == 200, r.text
    expected = (await _ticket(database, ticket.id)).expected_resolution_at
    assert expected is not None and expected.astimezone(WIB).isoformat() == "2099-01-02T23:59:59+07:00"


async def test_resolving_in_the_console_without_a_cause_is_refused(client, sign_in, database, services) -> None:
    ani = await sign_in("ani")
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    page = await client.get(f"/console/tickets/{ticket.number}", ani)
    # The form offers the lender file's causes.
    assert 'name="cause"' in page.text and "Kelalaian petugas" in page.text
    answer = {"kind": "explanation", "explanation": "Dana sudah kami kembalikan."}
    refused = await client.post(f"/console/tickets/{ticket.number}/resolve", ani, answer, headers=FETCH)
    assert refused.status == 422 and refused.json["error"] == "invalid_request"
    assert "choose the cause of the complaint" in refused.json["message"]
    unknown = await client.post(f"/console/tickets/{ticket.number}/resolve", ani, {**answer, "cause": "bosan"},
                                headers=FETCH)
    assert unknown.status == 422 and "unknown cause" in unknown.json["message"]
    no_link = await client.post(f"/console/tickets/{ticket.number}/resolve", ani,
                                {**answer, "cause": "kesalahan_sistem", "negative_publicity": "1"}, headers=FETCH)
    assert no_link.status == 422 and "link" in no_link.json["message"]
    unchanged = await _ticket(database, ticket.id)
    assert unchanged.status == "received" and unchanged.closed_at is None and unchanged.cause is None

    ok = await client.post(f"/console/tickets/{ticket.number}/resolve", ani,
                           {**answer, "cause": "kesalahan_sistem", "negative_publicity": "1",
                            "publicity_url": "https://x.com/peminjam/status/1"}, headers=FETCH)
    assert ok.status == 200, ok.text
    done = await _ticket(database, ticket.id)
    assert (done.status, done.cause, done.negative_publicity, done.negative_publicity_url) == (
        "resolved", "kesalahan_sistem", True, "https://x.com/peminjam/status/1")
    page = await client.get(f"/console/tickets/{ticket.number}", ani)
    assert 'data-testid="ticket-cause"' in page.text and "https://x.com/peminjam/status/1" in page.text


async def test_rejecting_in_the_console_records_the_cause(client, sign_in, database, services) -> None:
    sari = await sign_in("sari", "specialist")
    conv = await _conversation(database)
    ticket = await _file(database, services, conv)
    refused = await client.post(f"/console/tickets/{ticket.number}/reject", sari, {"ground": "not_our_product"},
                                headers=FETCH)
    assert refused.status == 422 and "choose the cause" in refused.json["message"]
    r = await client.post(f"/console/tickets/{ticket.number}/reject", sari,
                          {"ground": "not_our_product", "cause": "pihak_ketiga"}, headers=FETCH)
    assert r.status == 200, r.text
    assert (await _ticket(database, ticket.id)).cause == "pihak_ketiga"


async def test_a_complaint_from_ojk_is_registered_in_the_console(client, sign_in, database, services) -> None:
    ani = await sign_in("ani")
    page = await client.get("/console/external-complaints", ani)
    assert page.status == 200 and 'name="external_reference"' in page.text and "OJK (APPK)" in page.text
    form = {"source": "ojk_appk", "external_reference": "APPK-2026-000123", "received_on": "2026-11-23",
            "received_time": "10:00", "category": "unethical_collection", "full_name": "Rina Wati",
            "phone": "081234567890", "product": "pinjaman_tunai",
            "chronology": "Penagih menghubungi kontak darurat saya."}
    r = await client.post("/console/external-complaints", ani, form, headers=FETCH)
    assert r.status == 200, r.text
    number = r.json["ticket_number"]
    async with database.session() as session:
        t = await session.scalar(select(Ticket).where(Ticket.number == number))
    assert (t.source, t.external_reference, t.channel, t.form) == ("ojk_appk", "APPK-2026-000123", "ojk_appk",
                                                                   "written")
    assert t.received_at.astimezone(WIB).isoformat() == "2026-11-23T10:00:00+07:00"
    again = await client.post("/console/external-complaints", ani, form, headers=FETCH)
    assert again.status == 422 and "already ticket" in again.json["message"]
    bad = await client.post("/console/external-complaints", ani, {**form, "received_on": "kemarin"}, headers=FETCH)
    assert bad.status == 422
    page = await client.get(f"/console/tickets/{number}", ani)
    assert 'data-testid="ticket-source"' in page.text and "APPK-2026-000123" in page.text
