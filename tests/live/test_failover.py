"""Two Rasa replicas behind one desk: one is killed mid-conversation, the conversation goes on.

Its own stack (the session's has one replica): two ``rasa run`` with the trained
model, trackers in Redis and Rasa's Redis lock store (bot/endpoints.redis.yml),
the desk with ``RASA_URLS`` naming both. A borrower starts a complaint and
answers the form's first questions on the conversation's home replica; that
replica is killed with ``kill -9``; the next answer must come from the bot (not
the desk's holding reply), no question answered before the kill is asked
again, and the ticket carries what was said before the kill: the slots lived
in the shared tracker store, not in the dead process.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from desk.replicas import Ring
from tests.live.borrowers import InAppBorrower
from tests.live.flows import Answers, answer, answer_until, asked_field, has_ticket_number, ticket_number_in
from tests.live.invariants import turn_problems
from tests.live.stack import LiveStack
from tests.live.test_complaint import ticket_row

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def replicated() -> Iterator[LiveStack]:
    live = LiveStack.create("failover", rasa_replicas=2)
    with live:
        yield live
    print(f"\nfailover stack logs: {live.run_dir}")


def test_killing_the_home_replica_mid_form_keeps_the_slots(replicated: LiveStack) -> None:
    b = InAppBorrower(replicated, "LIVE-FAILOVER-0001", name="Sari Wulandari")
    answers = Answers(full_name="Sari Wulandari", phone="0813-2222-3333", product="Pinjaman Tunai",
                      transaction_date="kemarin")
    turn = b.say("sudah bayar tapi status belum lunas")
    assert turn.mode_after == "bot", turn.transcript()
    # Answer until two fields of the form are filled (they live in the tracker's slots).
    filled: list[str] = []
    while len(filled) < 2:
        asked = asked_field(turn)
        turn = answer(b, turn, answers)
        assert not turn_problems(turn), turn.transcript()
        assert turn.mode_after == "bot", turn.transcript()
        if asked in ("full_name", "phone", "loan_id", "product", "transaction_date"):
            filled.append(asked)

    home, other = Ring(replicated.rasa_urls).preference(b.conversation_id)
    replicated.kill_rasa(home)

    after_kill = answer(b, turn, answers)
    assert after_kill.mode_after == "bot", ("the desk handed the conversation to people instead of moving it "
                                            "to the other replica:\n" + after_kill.transcript())
    assert not turn_problems(after_kill), after_kill.transcript()
    receipt = answer_until(b, after_kill, answers, has_ticket_number)
    assert has_ticket_number(receipt), receipt.transcript()

    asked_after = answers.asked[answers.asked.index(filled[-1]) + 1:]
    again = [f for f in filled if f in asked_after]
    assert not again, (f"asked again after the replica died: {again} (asked in order: {answers.asked}); the "
                       "slots were lost")
    stored = ticket_row(replicated, ticket_number_in(receipt))
    assert stored is not None and stored["full_name"] == "Sari Wulandari", stored
    # The survivor answered the turns after the kill.
    assert replicated.processes[replicated.rasa_name(replicated.rasa_urls.index(other))].alive()
