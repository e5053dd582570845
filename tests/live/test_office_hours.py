"""Outside office hours: the bot still answers and takes complaints, and says when a person will reply.

The module restarts the desk with a lender content file whose channels are
closed today and tomorrow (WIB), each channel with its own hours, and puts the
always-open file back afterwards. Nothing fakes the clock: the hours move
instead, so the test holds at any time of day.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest

from tests.live.borrowers import Borrower
from tests.live.conftest import CHANNELS
from tests.live.flows import Answers, answer_until, has_ticket_number, ticket_number_in
from tests.live.test_complaint import channel_hours_line
from tests.live.stack import DAYS, WIB, LiveStack, always_open_hours

MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember"]
HOURS = {"default": ("09:00", "17:00"), "whatsapp": ("08:00", "20:00"), "telegram": ("10:00", "16:00"),
         "inapp": ("07:00", "21:00")}


def closed_now_hours(today: date) -> dict[str, dict]:
    shut = {DAYS[today.weekday()], DAYS[(today + timedelta(days=1)).weekday()]}
    days = [d for d in DAYS if d not in shut]
    return {name: {"days": days, "open": opens, "close": closes, "closed_on_holidays": False}
            for name, (opens, closes) in HOURS.items()}


def next_opening(today: date, channel: str) -> tuple[date, str]:
    return today + timedelta(days=2), HOURS[channel][0]


def time_pattern(hhmm: str) -> str:
    return hhmm.replace(":", "[.:]")


@pytest.fixture(scope="module")
def closed(stack: LiveStack) -> Iterator[date]:
    today = datetime.now(WIB).date()
    stack.restart_desk(closed_now_hours(today))
    try:
        yield today
    finally:
        stack.restart_desk(always_open_hours())


@pytest.mark.parametrize("channel", CHANNELS)
def test_handoff_outside_hours_says_when_a_person_replies(channel: str, closed: date,
                                                          borrower: Callable[..., Borrower]) -> None:
    b = borrower(channel)
    turn = b.say("hubungkan ke petugas")
    assert turn.mode_after == "human" and turn.open_handoff, turn.transcript()
    text = turn.all_text
    # Said once: the bot's handoff reply names the hour, and the desk adds no second notice.
    assert text.count("di luar jam layanan") == 1, turn.transcript()
    day, opens = next_opening(closed, channel)
    assert f"{day.day} {MONTHS[day.month - 1]}" in text, f"next opening {day} missing:\n{turn.transcript()}"
    assert re.search(time_pattern(opens), text), f"opening time {opens} of {channel} missing:\n{turn.transcript()}"
    # The borrower is not asked to repeat themselves, and the bot stays silent now.
    later = b.say("oke saya tunggu")
    assert not later.bot_replies


@pytest.mark.parametrize("channel", CHANNELS)
def test_complaint_outside_hours_is_filed_with_this_channels_hours(channel: str, closed: date,
                                                                   borrower: Callable[..., Borrower]) -> None:
    b = borrower(channel)
    answers = Answers(full_name="Putri Ayu Lestari", phone="081311112222")
    first = b.say("otp tidak masuk dari kemarin, saya tidak bisa login")
    receipt = answer_until(b, first, answers, has_ticket_number)
    assert receipt.mode_after == "bot", receipt.transcript()
    number = ticket_number_in(receipt)
    text = next(r.text for r in receipt.replies if number in r.text)
    opens, closes = HOURS[channel]
    line = channel_hours_line(text)
    assert re.search(rf"{time_pattern(opens)}\s*[–-]\s*{time_pattern(closes)}", line), \
        f"the receipt must name {channel}'s hours {opens}–{closes}:\n{text}"


@pytest.mark.parametrize("channel", CHANNELS)
def test_operating_hours_answer_says_people_are_away(channel: str, closed: date,
                                                     borrower: Callable[..., Borrower]) -> None:
    b = borrower(channel)
    turn = b.say("cs buka jam berapa")
    assert "di luar jam layanan" in turn.all_text, turn.transcript()
    day, opens = next_opening(closed, channel)
    assert f"{day.day} {MONTHS[day.month - 1]}" in turn.all_text, turn.transcript()
