import pytest

from actions.phone import mask_phone, normalise_phone


@pytest.mark.parametrize("raw", [
    "081234567890", "0812-3456-7890", "0812 3456 7890", "+6281234567890", "6281234567890",
    "+62 812 3456 7890", "81234567890", "nomor saya 0812.3456.7890 kak", "(0812) 3456-7890",
])
def test_formats_normalise_to_plus62(raw):
    assert normalise_phone(raw) == "+6281234567890"


@pytest.mark.parametrize("raw", ["", "12345", "021555123", "0812", "+1 415 555 0100", "budi", "08123456789012345"])
def test_bad_numbers_are_refused(raw):
    assert normalise_phone(raw) is None


def test_mask_keeps_only_prefix_and_tail():
    masked = mask_phone("+6281234567890")
    assert masked == "+62812****890"
    assert "3456" not in masked
    assert mask_phone(None) == "<none>"
