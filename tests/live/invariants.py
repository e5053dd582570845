"""What must hold for every borrower message, whatever the conversation (issue #11).

* Stored exactly once: one borrower message is one inbound row.
* Bot mode: 1 to 4 replies, none repeated within the turn.
* Human mode (handed to people): no bot reply, and the conversation waits in
  (or is assigned from) the human queue, so a person sees the message.
* Delivered exactly once: every stored reply reached the borrower's channel,
  once, in order.

* Privacy notice: the conversation's first message is answered first with
  the notice of the lender file (read from ``lender/demo.yml``, which the
  live stack copies), its version recorded, delivered once like any reply —
  or, when the borrower's first message asked about their data, by the bot's
  answer that contains it (never the same paragraph twice).

Across a conversation: the same question at most 3 times in a row, no
"Circuit breaker tripped" for it in Rasa's log, no bot failure (Rasa
answering nothing or a flood, which the desk turns into a holding reply).
"""
from __future__ import annotations

import html
import re
from collections.abc import Sequence

from desk.config import REPO_ROOT
from privacy.context import notice_from_lender_file
from privacy.notice import NOTICE_KEY
from tests.live.borrowers import Turn

MAX_BOT_REPLIES = 4
# What a borrower must never read literally: HTML tags or entities the channel did not render.
RAW_MARKUP = re.compile(r"</?(?:b|i|strong|em|u|code|pre|br)\s*/?>|&(?:amp|lt|gt|quot|nbsp);")
# The desk's neutral bold marker, which only WhatsApp renders itself (connectors.markup).
NEUTRAL_BOLD = re.compile(r"\*([^*\n]+)\*")
MAX_SAME_QUESTION = 3
BOT_FAILURE_REASONS = ("bot_failed", "bot_unavailable")
# What the desk sends at first contact, from the lender file (None: the lender configures no notice).
LENDER_NOTICE = notice_from_lender_file(REPO_ROOT / "lender" / "demo.yml")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def turn_problems(turn: Turn) -> list[str]:
    """Everything wrong with one turn (empty when it is fine)."""
    problems: list[str] = []
    if turn.inbound_count != 1:
        problems.append(f"the message was stored {turn.inbound_count} times")
    if turn.mode_before in (None, "bot"):
        count = len(turn.replies)
        if not 1 <= count <= MAX_BOT_REPLIES:
            problems.append(f"{count} replies in bot mode (expected 1–{MAX_BOT_REPLIES})")
        texts = [normalise(r.text) for r in turn.replies if normalise(r.text)]
        repeated = sorted({t for t in texts if texts.count(t) > 1})
        if repeated:
            problems.append(f"reply repeated within the turn: {repeated[0][:80]!r}")
    else:
        bot = [r for r in turn.replies if r.author == "bot"]
        if bot:
            problems.append(f"the bot answered a conversation handed to people: {bot[0].text[:80]!r}")
        if not turn.open_handoff:
            problems.append("handed to people but no open handoff holds the message")
    problems += notice_problems(turn)
    problems += delivery_problems(turn)
    return problems


def notice_problems(turn: Turn) -> list[str]:
    """The lender file's privacy notice comes with the first message of a conversation, and only as configured."""
    expected = LENDER_NOTICE("any") if LENDER_NOTICE is not None else None
    if turn.notice is None:
        if turn.mode_before is None and expected is not None:
            return ["no privacy notice at first contact"]
        return []
    if expected is None:
        return ["a privacy notice was sent though the lender file configures none"]
    problems = []
    if normalise(expected.text) not in normalise(turn.notice.text):
        problems.append(f"the privacy notice is not the lender file's: {turn.notice.text[:80]!r}")
    if turn.notice.custom.get(NOTICE_KEY) != expected.custom[NOTICE_KEY]:
        problems.append(f"the privacy notice's version is not recorded: {turn.notice.custom!r}")
    return problems


def delivery_problems(turn: Turn) -> list[str]:
    """Every stored reply reached the channel once and in order."""
    received = normalise(" ".join(_without_tags(m) for m in turn.received))
    problems: list[str] = []
    position = 0
    stored = ([turn.notice] if turn.notice is not None and turn.notice not in turn.replies else []) + turn.replies
    for reply in stored:
        text = normalise(_as_shown(reply.text, turn.channel))
        if not text:
            continue
        found = received.find(text, position)
        if found < 0:
            problems.append(f"stored reply never reached the {turn.channel} borrower: {text[:80]!r}")
            continue
        position = found + len(text)
        same = sum(1 for r in stored if normalise(_as_shown(r.text, turn.channel)) == text)
        if received.count(text) > same:
            problems.append(f"reply delivered more than once: {text[:80]!r}")
    if stored and not turn.received:
        problems.append("nothing reached the borrower's channel")
    raw = [m for m in turn.received if RAW_MARKUP.search(m)]
    if raw:
        problems.append(f"markup shown raw to the {turn.channel} borrower: {RAW_MARKUP.search(raw[0]).group(0)!r}")
    stars = [m for m in turn.received if turn.channel != "whatsapp" and NEUTRAL_BOLD.search(m)]
    if stars:
        problems.append(f"bold markers shown raw to the {turn.channel} borrower: "
                        f"{NEUTRAL_BOLD.search(stars[0]).group(0)!r}")
    return problems


def _as_shown(stored: str, channel: str) -> str:
    """A stored reply (neutral markup) as the channel displays it: only WhatsApp shows the markers."""
    text = _without_tags(stored)
    return text if channel == "whatsapp" else NEUTRAL_BOLD.sub(lambda m: m.group(1), text)


def _without_tags(text: str) -> str:
    """Text as displayed once a client renders HTML: the comparison of stored and received ignores markup."""
    return html.unescape(re.sub(r"</?(?:b|i|strong|em|u|s|code|pre|a)(?: [^>]*)?>", "", text or ""))


def question_of(turn: Turn) -> str | None:
    """The question a bot turn ends with (its last reply if it asks or offers buttons)."""
    if not turn.replies:
        return None
    last = turn.replies[-1]
    text = normalise(last.text)
    if last.buttons or text.endswith("?") or "?" in text[-80:]:
        return text
    return None


def repeated_question(turns: Sequence[Turn], limit: int = MAX_SAME_QUESTION) -> str | None:
    """The question asked more than ``limit`` times in a row, if any."""
    run, previous = 0, None
    for turn in turns:
        if turn.mode_before not in (None, "bot"):
            run, previous = 0, None
            continue
        question = question_of(turn)
        if question is not None and question == previous:
            run += 1
        else:
            run = 1 if question is not None else 0
        previous = question
        if run > limit:
            return question
    return None


def circuit_breaker_lines(rasa_log: str, conversation_id: str) -> list[str]:
    """Rasa's circuit-breaker warnings for one conversation (Rasa's sender id is the desk's public id)."""
    return [line for line in rasa_log.splitlines()
            if "Circuit breaker tripped" in line and f"'{conversation_id}'" in line]


def is_normal_greeting_answer(turn: Turn) -> bool:
    """A plain "halo" in bot mode gets a real answer: 1–4 bot replies, not the fallback or a holding reply."""
    if turn.mode_before not in (None, "bot") or not 1 <= len(turn.replies) <= MAX_BOT_REPLIES:
        return False
    if any(r.author != "bot" for r in turn.replies):
        return False
    text = " ".join(normalise(r.text).lower() for r in turn.replies)
    return "kurang yakin maksud" not in text and "gangguan" not in text and bool(text)
