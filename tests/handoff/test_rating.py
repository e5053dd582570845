"""A rating comment only when one was asked for; questions after a bare score go to the bot."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from desk.store import append_message
from handoff import rating
from handoff.models import Handoff
from storage.base import utcnow
from storage.models import Conversation
from tests.handoff.conftest import get_conversation, get_handoff


async def _closed(database, handed_off) -> tuple[Conversation, int]:
    public_id, handoff_id = await handed_off()
    async with database.transaction() as session:
        await session.execute(update(Handoff).where(Handoff.id == handoff_id).values(status="closed",
                                                                                       closed_at=utcnow()))
    return await get_conversation(database, public_id), handoff_id


async def _score(database, conv: Conversation, text: str = "5") -> None:
    """The borrower's bare score and the desk's request for a comment, as the router stores them."""
    async with database.transaction() as session:
        conv = await session.get(Conversation, conv.id)
        reply = await rating.capture(session, conv, text, None)
        assert reply is not None and reply.text == rating.THANKS_SCORE
        await append_message(session, conv, direction="out", author="bot", text=reply.text)


async def _capture(database, conv: Conversation, text: str):  # type: ignore[no-untyped-def]
    async with database.transaction() as session:
        return await rating.capture(session, await session.get(Conversation, conv.id), text, None)


async def test_a_question_after_a_bare_score_goes_to_the_bot(database, handed_off) -> None:
    conv, handoff_id = await _closed(database, handed_off)
    await _score(database, conv)
    for question in ("status tiket saya gimana?", "mau bayar cicilan lewat indomaret", "cek tiket DCI-261122-0042-7"):
        assert await _capture(database, conv, question) is None, question
    handoff = await get_handoff(database, handoff_id)
    assert handoff.rating == 5 and handoff.rating_comment is None


async def test_the_comment_that_was_asked_for_is_kept(database, handed_off) -> None:
    conv, handoff_id = await _closed(database, handed_off)
    await _score(database, conv, "4")
    reply = await _capture(database, conv, "agennya cepat dan ramah")
    assert reply is not None and reply.text == rating.THANKS_COMMENT
    assert (await get_handoff(database, handoff_id)).rating_comment == "agennya cepat dan ramah"


async def test_no_comment_once_the_conversation_moved_on(database, handed_off) -> None:
    conv, handoff_id = await _closed(database, handed_off)
    await _score(database, conv)
    # The borrower asked something else and the bot answered: the request for a comment is no longer
    # the last thing said, so the next message is not taken as a comment either.
    assert await _capture(database, conv, "jam buka cs kapan") is None
    async with database.transaction() as session:
        await append_message(session, await session.get(Conversation, conv.id), direction="out", author="bot",
                             text="CS kami buka setiap hari 08.00–20.00 WIB.")
    assert await _capture(database, conv, "oke makasih") is None
    assert (await get_handoff(database, handoff_id)).rating_comment is None


def test_what_reads_as_a_question_or_request() -> None:
    asks = ["status tiket saya gimana?", "kapan dana cair", "tolong sambungkan ke agen", "brp tagihan sy",
            "Apakah bisa diperpanjang"]
    comments = ["cepat dan ramah", "mantap, terima kasih", "lama banget balasnya", "sangat membantu"]
    assert all(rating.reads_as_question_or_request(t) for t in asks)
    assert not any(rating.reads_as_question_or_request(t) for t in comments)


async def test_a_greeting_after_a_bare_score_goes_to_the_bot(database, handed_off) -> None:
    """'halo' after the request for a comment starts over with the bot; it is not the comment."""
    conv, handoff_id = await _closed(database, handed_off)
    await _score(database, conv)
    for greeting in ("halo", "Hai kak", "selamat pagi min", "P"):
        assert await _capture(database, conv, greeting) is None, greeting
    assert (await get_handoff(database, handoff_id)).rating_comment is None
    assert rating.reads_as_greeting("halo") and not rating.reads_as_greeting("halo, agennya ramah sekali")


async def test_a_score_days_after_the_close_counts_only_when_a_rating_was_just_asked(database, handed_off) -> None:
    """After accepting a resolution the bot asks for a rating again; that request reopens the score, nothing else."""
    conv, handoff_id = await _closed(database, handed_off)
    async with database.transaction() as session:
        await session.execute(update(Handoff).where(Handoff.id == handoff_id)
                              .values(closed_at=utcnow() - timedelta(days=5)))
        await append_message(session, await session.get(Conversation, conv.id), direction="out", author="bot",
                             text="Pengaduan Anda sudah selesai.")
    assert await _capture(database, conv, "5") is None  # past the window, and nobody asked
    async with database.transaction() as session:
        await append_message(session, await session.get(Conversation, conv.id), direction="out", author="bot",
                             text="Bagaimana penilaian Anda? Pilih 1 sampai 5.",
                             payload={"buttons": [{"title": str(n), "payload": f"rating:{n}"}
                                                  for n in range(1, 6)]})
    reply = await _capture(database, conv, "5")
    assert reply is not None and reply.text == rating.THANKS_SCORE
    assert (await get_handoff(database, handoff_id)).rating == 5
