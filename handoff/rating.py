"""The borrower's rating after a closed handoff, taken before the bot sees the message.

Design: the closing message carries buttons 1–5 whose payload is
``rating:N`` (desk-handled, never sent to Rasa). On WhatsApp the buttons are a
numbered list, so a bare digit works too; a digit followed by text
("5 cepat dan ramah") is a score with a comment. After a score alone the desk
asks for an optional comment (``THANKS_SCORE``); the next message is taken as
that comment only while the request is the last thing the desk said, within
``handoff_comment_window_minutes``, and only when it does not read as a
question or request ("status tiket saya gimana?", "mau bayar lewat apa") or a
bare greeting ("halo", "selamat pagi kak": the borrower starts over): those go
to the bot like any other message. A score is taken within
``handoff_rating_window_minutes`` of the close, or later when a rating request
(buttons with ``rating:N`` payloads, as the bot sends after the borrower
accepts the complaint's resolution) is the last thing the borrower was told. The router calls ``capture`` for
every bot-mode inbound message; when it returns a reply, the message was a
rating and the bot is not asked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.messages import OutboundMessage
from handoff.actions import RATING_PAYLOAD_PREFIX
from handoff.config import HandoffSettings
from handoff.models import Handoff, HandoffStatus
from storage.base import utcnow
from storage.models import Conversation, Message

_SCORE_TEXT = re.compile(r"^\s*([1-5])(?:\s*[.)/-]?\s*(?:dari\s*5)?)?(?:\s+(.+))?\s*$", re.S)
THANKS_SCORE = ("Terima kasih atas penilaian Anda, Kak. Jika berkenan, balas dengan komentar singkat "
                "tentang layanan kami (opsional).")
THANKS_COMMENT = "Terima kasih atas masukan Anda, Kak. Ada lagi yang bisa kami bantu?"
THANKS_BOTH = "Terima kasih atas penilaian dan masukan Anda, Kak. Ada lagi yang bisa kami bantu?"


# Words that make a message a question or a request rather than a comment on the service.
_ASKING_WORDS = frozenset("""
apa apakah apa2 bagaimana gimana gmn gmana gmna bgmn kapan kpn berapa brp kenapa knp mengapa napa
dimana dmn siapa bisakah boleh bolehkah mohon tolong tlg minta mau pengen ingin cek cekin status tiket
ajukan batal ganti ubah hubungi sambungkan
""".split())
_WORD = re.compile(r"[a-z0-9]+")
# A message made only of these starts a new conversation; it is no comment on the service.
_GREETING_WORDS = frozenset("""
halo hallo helo hello hai hay hi hei hey p ping permisi assalamualaikum assalamu alaikum salam
selamat pagi siang sore malam kak ka kakak min admin mimin bang mas mbak sis gan
""".split())


def reads_as_question_or_request(text: str) -> bool:
    """Does ``text`` ask something or ask for something (then it goes to the bot, never into a rating)?"""
    lowered = (text or "").lower()
    if "?" in lowered:
        return True
    return any(word in _ASKING_WORDS for word in _WORD.findall(lowered))


def reads_as_greeting(text: str) -> bool:
    """Is ``text`` only a greeting ("halo", "pagi min")? Then it goes to the bot, never into a comment."""
    words = _WORD.findall((text or "").lower())
    return bool(words) and all(word in _GREETING_WORDS for word in words)


@dataclass(frozen=True)
class Rating:
    score: int | None
    comment: str | None


def parse(text: str, button_payload: str | None) -> Rating | None:
    """A score (and comment) from a ``rating:N`` payload or a message like "4" or "5 ramah"."""
    if button_payload and button_payload.startswith(RATING_PAYLOAD_PREFIX):
        digits = button_payload[len(RATING_PAYLOAD_PREFIX):].strip()
        if digits in {"1", "2", "3", "4", "5"}:
            return Rating(int(digits), None)
        return None
    match = _SCORE_TEXT.match(text or "")
    if not match:
        return None
    comment = (match.group(2) or "").strip() or None
    return Rating(int(match.group(1)), comment[:2000] if comment else None)


async def capture(session: AsyncSession, conversation: Conversation, text: str, button_payload: str | None = None,
                  *, settings: HandoffSettings | None = None) -> OutboundMessage | None:
    """Record a rating or comment for the conversation's last closed handoff; the thank-you reply, or None."""
    settings = settings or HandoffSettings()
    # Every bot-mode message passes here: read a few columns first (no ORM object), and load
    # the handoff only when this message may rate it.
    latest = (await session.execute(
        select(Handoff.id, Handoff.status, Handoff.closed_at)
        .where(Handoff.conversation_id == conversation.id).order_by(Handoff.id.desc()).limit(1))).first()
    if latest is None or latest.status != HandoffStatus.CLOSED.value or latest.closed_at is None:
        return None
    handoff = await session.get(Handoff, latest.id)
    if handoff is None:
        return None
    now = utcnow()
    if handoff.rating is None:
        if (now - handoff.closed_at > timedelta(minutes=settings.handoff_rating_window_minutes)
                and not await _rating_was_asked(session, conversation)):
            return None
        rating = parse(text, button_payload)
        if rating is None or rating.score is None:
            return None
        handoff.rating, handoff.rated_at = rating.score, now
        if rating.comment:
            handoff.rating_comment = rating.comment
            await session.flush()
            return OutboundMessage(text=THANKS_BOTH)
        await session.flush()
        return OutboundMessage(text=THANKS_SCORE)
    if (handoff.rating_comment is None and handoff.rated_at is not None and not button_payload
            and now - handoff.rated_at <= timedelta(minutes=settings.handoff_comment_window_minutes)
            and (text or "").strip() and not reads_as_question_or_request(text) and not reads_as_greeting(text)
            and await _comment_was_asked(session, conversation)):
        handoff.rating_comment = text.strip()[:2000]
        await session.flush()
        return OutboundMessage(text=THANKS_COMMENT)
    return None


async def _rating_was_asked(session: AsyncSession, conversation: Conversation) -> bool:
    """Is a request for a rating (buttons with ``rating:N`` payloads) the last thing the borrower was told?

    The bot asks again after the borrower accepts a complaint's resolution,
    which may come days after the chat closed; the score is taken then too.
    The buttons are the mark because Rasa sends a ``custom`` payload as a
    message of its own.
    """
    payload = await session.scalar(
        select(Message.payload).where(Message.conversation_id == conversation.id, Message.direction == "out")
        .order_by(Message.seq.desc()).limit(1))
    buttons = payload.get("buttons") if isinstance(payload, dict) else None
    return any(isinstance(b, dict) and str(b.get("payload", "")).startswith(RATING_PAYLOAD_PREFIX)
               for b in buttons or [])


async def _comment_was_asked(session: AsyncSession, conversation: Conversation) -> bool:
    """Is the desk's request for a comment the last thing the borrower was told?"""
    last = await session.scalar(
        select(Message.text).where(Message.conversation_id == conversation.id, Message.direction == "out")
        .order_by(Message.seq.desc()).limit(1))
    return last == THANKS_SCORE
