"""One complaint from chat to closure (issue #13): the people's work moves the ticket, the borrower's answer counts.

WhatsApp and Telegram, each: a payment complaint filed with the bot → "hubungkan
ke petugas" → the agent's reply stops the first-response clock → the agent
passes the chat to the complaint specialist, who escalates it to finance
(the ticket's history says so) → finance answers, the specialist closes the
chat and resolves the ticket → the borrower disputes ("saya tidak setuju…")
→ the ticket reopens → resolved again → the borrower accepts → the bot thanks
and asks for a rating → the borrower's "5" is recorded. On Telegram, what the
borrower's screen shows (the fake Bot API's text as a client renders it) has
no markup: no ``<b>``, no ``&amp;``/``&lt;``, no ``*…*``.

Reuses the session's stack; about a minute per channel on the shared machine.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest

from tests.live.borrowers import Borrower, TelegramBorrower
from tests.live.console import Console, page_text
from tests.live.flows import Answers, ticket_number_in
from tests.live.stack import LiveStack
from tests.live.test_complaint import file_complaint

MARKUP = re.compile(r"</?[a-z]+>|&(amp|lt|gt|quot);|\*[^*\n]+\*")


@pytest.fixture
def specialist(stack: LiveStack) -> Iterator[Console]:
    console = Console(stack, "specialist")
    yield console
    console.close_session()


def _ticket(stack: LiveStack, number: str) -> dict:
    with stack.db() as db:
        row = db.execute("SELECT id, status, escalation_level, department, first_responded_at, reopen_count "
                         "FROM tickets WHERE number = ?", (number,)).fetchone()
    assert row is not None, f"no ticket {number}"
    return dict(row)


def _history(stack: LiveStack, ticket_id: int) -> list[tuple[str, dict]]:
    with stack.db() as db:
        rows = db.execute("SELECT kind, data FROM ticket_events WHERE ticket_id = ? ORDER BY seq",
                          (ticket_id,)).fetchall()
    return [(r["kind"], json.loads(r["data"]) if isinstance(r["data"], str) else dict(r["data"] or {}))
            for r in rows]


def _ticket_action(staff: Console, number: str, action: str, form: dict[str, str]) -> None:
    response = staff._post(f"/console/tickets/{number}/{action}", form)
    assert response.status_code in (200, 303), f"{action}: {response.status_code} {response.text[:300]}"


def _screen(b: Borrower) -> str:
    """Everything the borrower's channel showed, as the client renders it."""
    return "\n".join(b._received_since(0))


@pytest.mark.parametrize("channel", ["whatsapp", "telegram"])
def test_one_case_from_complaint_to_rating(channel: str, stack: LiveStack, borrower: Callable[..., Borrower],
                                           agent: Console, specialist: Console) -> None:
    b = borrower(channel, name="Sari Wulandari")
    receipt = file_complaint(b, Answers(full_name="Sari Wulandari"))
    number = ticket_number_in(receipt)
    ticket = _ticket(stack, number)
    assert ticket["status"] == "received" and ticket["first_responded_at"] is None, ticket

    # The bot hands the chat to people; the handoff carries the ticket (one case).
    ask = b.say("hubungkan ke petugas")
    assert ask.mode_after == "human" and ask.open_handoff, ask.transcript()
    conversation = ask.conversation_id
    agent.pick_up(conversation)
    assert b.latest_handoff()["ticket_id"] == ticket["id"], b.latest_handoff()

    # The agent's reply is the first response: the clock stops, the history says which message.
    agent.reply(conversation, "Halo Kak Sari, saya Rani dari CS DanaContoh. Pembayaran Kakak kami cek ke tim keuangan.")
    b.wait_for_reply(lambda replies: any(r.author == "agent" for r in replies))
    ticket = _ticket(stack, number)
    assert ticket["first_responded_at"] is not None, ticket
    history = _history(stack, ticket["id"])
    assert any(kind == "first_response" or data.get("first_response") for kind, data in history), history

    # Agent → specialist (the chat's queue), specialist → finance: escalations in the ticket's history.
    moved = agent._post(f"/console/c/{conversation}/transfer", {"to": "specialist"})
    assert moved.status_code == 200, moved.text[:300]
    specialist.pick_up(conversation)
    moved = specialist._post(f"/console/c/{conversation}/transfer", {"to": "finance"})
    assert moved.status_code == 200, moved.text[:300]
    ticket = _ticket(stack, number)
    assert (ticket["status"], ticket["escalation_level"], ticket["department"]) == ("escalated", "department",
                                                                                    "finance"), ticket
    escalations = [data for kind, data in _history(stack, ticket["id"]) if kind == "escalated"]
    assert [(e.get("to_level"), e.get("department")) for e in escalations][-2:] == [
        ("specialist", None), ("department", "finance")], escalations
    page = specialist.http.get(f"/console/tickets/{number}")
    assert page.status_code == 200 and number in page.text
    assert re.search(r"finance|keuangan", page_text(page.text), re.I), "the ticket page does not show finance"

    # Finance answers, the chat closes (the desk asks for a rating once), the ticket is resolved.
    _ticket_action(specialist, number, "feedback", {"text": "Keuangan: dana sudah diposting ulang."})
    specialist.close(conversation, "Pembayaran dicek bersama tim keuangan.")
    b.wait_for_reply(lambda replies: any("penilaian" in r.text for r in replies))
    # Closing a ticket records its cause for the OJK report (issue 15).
    _ticket_action(specialist, number, "resolve", {
        "kind": "explanation", "explanation": "Pembayaran Kakak sudah kami posting dan status tagihan sudah lunas.",
        "cause": "kesalahan_sistem"})
    b.wait_for_reply(lambda replies: any(number in r.text for r in replies))

    # The borrower disputes: the ticket reopens, the bot says so with the number and the next step.
    dispute = b.say("saya tidak setuju dengan penyelesaiannya, saldo saya masih dipotong")
    assert dispute.mode_after == "bot" and number in dispute.all_text, dispute.transcript()
    assert "buka kembali" in dispute.all_text and "LAPS SJK" in dispute.all_text, dispute.transcript()
    ticket = _ticket(stack, number)
    assert ticket["status"] == "in_progress" and ticket["reopen_count"] == 1, ticket
    assert "settlement_refused" in [kind for kind, _ in _history(stack, ticket["id"])]

    # Resolved again with an offer; this time the borrower accepts and rates when asked.
    _ticket_action(specialist, number, "resolve", {
        "kind": "offer", "apology": "Potongan ganda sudah kami kembalikan.",
        "service_fix": "Sinkronisasi pembayaran virtual account kami perbaiki.", "cause": "kesalahan_sistem"})
    b.wait_for_reply(lambda replies: any("menyetujui" in r.text for r in replies))
    accept = b.say("oke saya terima penyelesaiannya")
    assert "menyetujui" in accept.all_text and "penilaian" in accept.all_text, accept.transcript()
    assert [t for t, _ in accept.buttons] == ["1", "2", "3", "4", "5"], accept.transcript()
    assert _history(stack, ticket["id"])[-1][0] == "settlement_accepted"
    rated = b.press("5")
    assert "terima kasih atas penilaian" in rated.all_text.lower(), rated.transcript()
    assert b.latest_handoff()["id"] and _rating(stack, b) == 5

    if isinstance(b, TelegramBorrower):
        screen = _screen(b)
        assert number in screen
        found = MARKUP.findall(screen)
        assert not MARKUP.search(screen), f"markup on the borrower's Telegram screen: {found}\n{screen}"


def _rating(stack: LiveStack, b: Borrower) -> int | None:
    with stack.db() as db:
        row = db.execute("SELECT rating FROM handoffs WHERE id = ?", (b.latest_handoff()["id"],)).fetchone()
    return row["rating"] if row else None
