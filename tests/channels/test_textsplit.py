"""Long replies are cut where a reader expects a break, never beyond the provider's limit."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connectors.textsplit import split_text


def test_short_text_is_one_piece() -> None:
    assert split_text("Halo Kak", 1600) == ["Halo Kak"]
    assert split_text("", 1600) == [""]


def test_prefers_paragraphs_then_lines_then_words() -> None:
    assert split_text("satu dua\n\ntiga empat", 12) == ["satu dua", "tiga empat"]
    assert split_text("satu dua\ntiga empat", 12) == ["satu dua", "tiga empat"]
    assert split_text("satu dua tiga empat", 12) == ["satu dua", "tiga empat"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


@given(st.text(alphabet=st.sampled_from("ab \n"), max_size=400), st.integers(min_value=1, max_value=50))
def test_pieces_fit_and_keep_every_visible_character(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
