"""Log lines never carry a full phone number or NIK, whatever path the data took."""
from __future__ import annotations

import io
import json
import logging

import pytest

from desk.logging import configure_logging

PHONE = "+6281234567890"
NIK = "3174012345678901"


@pytest.fixture
def capture():
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level

    def configure(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        configure_logging("INFO", fmt, stream=stream)
        return stream

    yield configure
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved_handlers:
        root.addHandler(h)
    root.setLevel(saved_level)


@pytest.mark.parametrize("fmt", ["kv", "json"])
def test_phone_and_nik_are_masked_everywhere(capture, fmt) -> None:
    stream = capture(fmt)
    log = logging.getLogger("desk.test")
    log.info("borrower %s sent NIK %s", PHONE, NIK)
    log.info("inline 0812-3456-7890 and nik %s", NIK, extra={"phone": PHONE})
    try:
        raise ValueError(f"bad phone {PHONE}")
    except ValueError:
        log.exception("failed")
    logging.getLogger("sanic.access").info("GET /x?phone=%s", PHONE)
    out = stream.getvalue()
    assert out.count("\n") >= 4
    for secret in (PHONE, NIK, "0812-3456-7890", "081234567890", "34567890"):
        assert secret not in out
    assert "+6281****890" in out and "317401******8901" in out


def test_json_lines_are_json_with_fields(capture) -> None:
    stream = capture("json")
    logging.getLogger("desk.router").warning("bot unavailable", extra={"conversation": "abc"})
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["level"] == "warning" and record["logger"] == "desk.router"
    assert record["msg"] == "bot unavailable" and record["conversation"] == "abc"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        configure_logging("INFO", "xml", stream=io.StringIO())
