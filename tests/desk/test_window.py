"""The window rule (desk.window.choose_form) and the lender file's templates (desk.templates)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from desk.config import Settings
from desk.delivery import advances, reason_id
from desk.messages import Button, OutboundMessage, TemplateUse
from desk.templates import TEMPLATE_KEYS, TemplateConfigError, clean_variable, load_templates, parse_templates
from desk.window import Form, choose_form, window_of

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
BOOK = load_templates(Settings().lender_content)
NOTICE = OutboundMessage(text="Aduan DCI-1 selesai.", buttons=(Button("Terima", "/accept"),),
                         template=TemplateUse("resolution", {"ticket_number": "DCI-1", "summary": "Dana\n dikembalikan."}))


def test_the_demo_lender_has_a_template_for_every_message_the_desk_sends_on_its_own() -> None:
    assert sorted(BOOK.templates) == sorted(TEMPLATE_KEYS)
    assert [t.key for t in BOOK.for_agents()] == ["agent_replied"]


def test_inside_the_window_free_text_goes_as_it_is() -> None:
    decision = choose_form("whatsapp", NOTICE, last_inbound_at=NOW - timedelta(hours=23), now=NOW, templates=BOOK)
    assert decision.form is Form.TEXT and decision.message is NOTICE


def test_outside_the_window_the_template_goes_filled_and_without_buttons() -> None:
    decision = choose_form("whatsapp", NOTICE, last_inbound_at=NOW - timedelta(hours=25), now=NOW, templates=BOOK)
    assert decision.form is Form.TEMPLATE and decision.message is not None
    sent = decision.message
    assert sent.as_template and sent.buttons == ()
    assert sent.template is not None and sent.template.content_sid == BOOK.templates["resolution"].content_sid
    assert sent.template.content_variables == {"1": "DCI-1", "2": "Dana dikembalikan."}


def test_the_window_closes_a_little_early_and_a_borrower_who_never_wrote_has_none() -> None:
    edge = choose_form("whatsapp", NOTICE, last_inbound_at=NOW - timedelta(hours=23, minutes=59), now=NOW,
                       templates=BOOK)
    assert edge.form is Form.TEMPLATE
    assert choose_form("whatsapp", NOTICE, last_inbound_at=None, now=NOW, templates=BOOK).form is Form.TEMPLATE
    assert window_of("whatsapp", None) is not None and not window_of("whatsapp", None).is_open(NOW)  # type: ignore[union-attr]


def test_other_channels_have_no_window() -> None:
    for channel in ("telegram", "inapp"):
        decision = choose_form(channel, NOTICE, last_inbound_at=None, now=NOW, templates=BOOK)
        assert decision.form is Form.TEXT
        assert window_of(channel, None) is None


def test_without_a_usable_template_the_message_is_held_with_the_reason() -> None:
    old = NOW - timedelta(days=3)
    free = choose_form("whatsapp", OutboundMessage(text="Halo"), last_inbound_at=old, now=NOW, templates=BOOK)
    assert (free.form, free.message, free.hold_reason) == (Form.HOLD, None, "no_template")
    unknown = OutboundMessage(text="x", template=TemplateUse("promo"))
    assert choose_form("whatsapp", unknown, last_inbound_at=old, now=NOW,
                       templates=BOOK).hold_reason == "template_not_registered"
    short = OutboundMessage(text="x", template=TemplateUse("resolution", {"ticket_number": "DCI-1"}))
    assert choose_form("whatsapp", short, last_inbound_at=old, now=NOW,
                       templates=BOOK).hold_reason == "template_variable_missing"
    assert "Ditahan" in reason_id("no_template")


def test_template_only_sends_the_template_inside_the_window() -> None:
    decision = choose_form("whatsapp", NOTICE, last_inbound_at=NOW, now=NOW, templates=BOOK, template_only=True)
    assert decision.form is Form.TEMPLATE


def test_template_variables_are_one_clean_line() -> None:
    assert clean_variable("a\n\n b\t  c") == "a b c"
    assert clean_variable("   ") == "-"
    assert len(clean_variable("x" * 2000)) == 600


@pytest.mark.parametrize("raw, problem", [
    ({"promo": {"content_sid": "HX" + "0" * 32, "text": "x"}}, "unknown key"),
    ({"receipt": {"content_sid": "HX123", "text": "x"}}, "content_sid"),
    ({"receipt": {"content_sid": "HX" + "0" * 32, "text": "{{1}} {{2}}", "variables": ["a"]}}, "placeholders"),
])
def test_a_wrong_templates_section_is_refused_at_start_up(raw: dict, problem: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(TemplateConfigError, match=problem):
        parse_templates(raw)


def test_statuses_only_move_forward() -> None:
    assert advances(None, "queued") and advances("sent", "delivered") and advances("delivered", "read")
    assert not advances("read", "delivered") and not advances("delivered", "sent")
    assert advances("sent", "failed") and not advances("failed", "delivered")
