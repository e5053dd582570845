"""The live suite's judges, without the live stack: each invariant fails on the defect it exists for.

tests/live runs only with ``--live``; these checks of its pure functions run
with every ordinary suite, so a judge that cannot fail is caught cheaply.
"""
from __future__ import annotations

import random
from dataclasses import replace

from tests.live.borrowers import Reply, Turn, displayed_telegram_text
from tests.live.flows import Answers, asked_field, phone_forms, same_phone
from tests.live.fuzz import Corpus, MessageMaker, conversation_seed
from tests.live.invariants import (
    LENDER_NOTICE,
    circuit_breaker_lines,
    is_normal_greeting_answer,
    repeated_question,
    turn_problems,
)

FALLBACK = "Mohon maaf, Kak, saya kurang yakin maksud Anda. Apakah maksudnya salah satu dari ini?"


def turn(*texts: str, mode_before: str | None = "bot", mode_after: str = "bot", received: list[str] | None = None,
         author: str = "bot", inbound: int = 1, handoff: dict | None = None,
         buttons: tuple[tuple[str, str], ...] = ()) -> Turn:
    replies = [Reply(i + 1, i + 2, author, t, buttons if i == len(texts) - 1 else ()) for i, t in enumerate(texts)]
    return Turn("whatsapp", "+6281200000000", "x", None, mode_before, mode_after, inbound, replies,
                list(texts) if received is None else received, "conv1", handoff)


def test_a_normal_turn_passes() -> None:
    assert turn_problems(turn("Halo Kak, ada yang bisa saya bantu?")) == []


def test_silence_and_floods_in_bot_mode_are_caught() -> None:
    assert any("0 replies" in p for p in turn_problems(turn()))
    flood = turn(*[FALLBACK] * 10)
    problems = turn_problems(flood)
    assert any("10 replies" in p for p in problems)
    assert any("repeated" in p for p in problems)


def test_a_bot_reply_in_human_mode_and_a_lost_message_are_caught() -> None:
    queued = {"status": "waiting", "reason": "request_human"}
    assert turn_problems(turn(mode_before="human", mode_after="human", handoff=queued)) == []
    assert any("the bot answered" in p for p in
               turn_problems(turn("Halo", mode_before="human", mode_after="human", handoff=queued)))
    assert any("no open handoff" in p for p in turn_problems(turn(mode_before="human", mode_after="human")))


def test_storing_twice_losing_and_duplicating_deliveries_are_caught() -> None:
    assert any("stored 2 times" in p for p in turn_problems(turn("ok", inbound=2)))
    assert any("never reached" in p for p in turn_problems(turn("Satu", "Dua", received=["Satu"])))
    assert any("more than once" in p for p in turn_problems(turn("Satu", received=["Satu", "Satu"])))


def test_raw_markup_is_caught_but_rendered_html_is_not() -> None:
    stored = "Nomor tiket: <b>DCI-261130-0002-2</b>"
    raw = displayed_telegram_text({"text": stored})
    shown = displayed_telegram_text({"text": stored, "parse_mode": "HTML"})
    assert any("markup" in p for p in turn_problems(turn(stored, received=[raw])))
    assert turn_problems(turn(stored, received=[shown])) == []


def test_the_same_question_four_times_in_a_row_is_caught() -> None:
    ask = "Produk apa yang terkait dengan aduan Anda, Kak?"
    assert repeated_question([turn(ask)] * 3) is None
    assert repeated_question([turn(ask)] * 4) == ask
    assert repeated_question([turn(ask), turn(ask), turn("Kapan transaksinya, Kak?"), turn(ask), turn(ask)]) is None


def test_circuit_breaker_lines_are_attributed_to_their_conversation() -> None:
    log = ("2026-11-30 WARNING rasa.core.processor - Circuit breaker tripped. Stopped predicting more actions "
           "for sender 'conv1'.\n2026-11-30 INFO other line 'conv1'\n")
    assert len(circuit_breaker_lines(log, "conv1")) == 1
    assert circuit_breaker_lines(log, "conv2") == []


def test_halo_needs_a_real_answer() -> None:
    assert is_normal_greeting_answer(turn("Halo Kak, selamat datang di layanan DanaContoh."))
    assert not is_normal_greeting_answer(turn())
    assert not is_normal_greeting_answer(turn(FALLBACK))
    assert not is_normal_greeting_answer(turn("Terima kasih atas masukan Anda", author="system"))


def test_the_form_reader_tells_questions_from_statements() -> None:
    assert asked_field(turn("Boleh saya tahu nama lengkap Anda sesuai KTP, Kak?")) == "full_name"
    assert asked_field(turn("Saat ini tidak ada tagihan aktif atas nama Anda, Kak.")) is None
    assert asked_field(turn("Silakan ceritakan kronologi masalahnya, Kak: apa yang terjadi, kapan, …")) == "chronology"
    assert asked_field(turn("Produk apa yang terkait dengan aduan Anda, Kak?",
                            buttons=(("PayLater", "/inform"),))) == "product"
    assert Answers().asked == []


def test_phone_forms_are_one_number() -> None:
    forms = phone_forms("+6281234567890")
    assert "0812-3456-7890" in forms and "+62 812-3456-7890" in forms and "6281234567890" in forms
    assert all(same_phone(f, "081234567890") for f in forms)
    assert not same_phone("081234567891", "081234567890")


def test_the_fuzzer_is_reproducible_from_its_seed() -> None:
    corpus = Corpus.load()
    assert "greet" in corpus.examples and corpus.names
    assert all("](" not in e for examples in corpus.examples.values() for e in examples)

    def draw(seed: int) -> list[tuple[str, str]]:
        maker = MessageMaker(corpus, random.Random(seed))
        return [maker.draw() for _ in range(8)]

    assert draw(conversation_seed(11, 3)) == draw(conversation_seed(11, 3))
    assert draw(conversation_seed(11, 3)) != draw(conversation_seed(11, 4))
    assert conversation_seed(11, 3) != conversation_seed(11, 4)


def test_neutral_bold_is_fine_on_whatsapp_but_caught_raw_elsewhere() -> None:
    stored = "Nomor tiket: *DCI-261130-0002-2*"
    assert turn_problems(turn(stored)) == []
    on_telegram = replace(turn(stored, received=[stored]), channel="telegram")
    assert any("bold markers" in p for p in turn_problems(on_telegram))
    rendered = replace(turn(stored, received=["Nomor tiket: DCI-261130-0002-2"]), channel="telegram")
    assert turn_problems(rendered) == []


def test_the_privacy_notice_of_the_lender_file_is_required_at_first_contact() -> None:
    expected = LENDER_NOTICE("whatsapp")
    notice = Reply(1, 2, "bot", expected.text, (), dict(expected.custom))
    first = replace(turn("Halo Kak", mode_before=None, received=[expected.text, "Halo Kak"]), notice=notice)
    assert turn_problems(first) == []
    assert any("no privacy notice" in p for p in turn_problems(replace(first, notice=None)))
    other = replace(notice, text="Info privasi lama https://contoh.example")
    assert any("not the lender file's" in p for p in turn_problems(replace(first, notice=other)))
    assert any("version" in p for p in turn_problems(replace(first, notice=replace(notice, custom={}))))
    assert any("never reached" in p for p in turn_problems(replace(first, received=["Halo Kak"])))
    # The bot's answer that shows the notice (a first question about data) counts as the notice, once.
    answer = Reply(1, 2, "bot", expected.text + "\nAnda dapat meminta salinan data.", (), dict(expected.custom))
    asked = replace(turn(answer.text, mode_before=None), notice=answer)
    asked = replace(asked, replies=[answer])
    assert turn_problems(asked) == []
    # The defect the fuzzer found: the notice sent before a bot answer that shows it again.
    plain = replace(answer, custom={})
    twice = replace(asked, notice=notice, replies=[plain], received=[expected.text, plain.text])
    assert any("more than once" in p for p in turn_problems(twice))
