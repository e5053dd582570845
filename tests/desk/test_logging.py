"""Log lines never carry a full phone number or NIK, whatever path the data took."""
from __future__ import annotations

import io
import json
import logging

import pytest

from sqlalchemy import text as sql_text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.telegram import TelegramSender
from connectors.whatsapp import TwilioSender
from aduan.app import create_app
from desk.logging import SANIC_LOGGERS, configure_logging, quiet_third_parties
from desk.masking import register_secrets
from desk.messages import OutboundMessage
from storage.db import async_url
from tests.fakes import FakeTelegram, FakeTwilio
from tests.support.log_scan import LeakScanner

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


# -- every phone format, secrets, Sanic's and libraries' loggers, database errors ----------

PHONE_FORMATS = ["+62 857 9573 0601", "+62 812-3456-7890", "0812 3456 7890", "6281234567890",
                 "0812-3456-7890", "+6281234567890", "(0812) 3456-7890", "whatsapp:+6285795730601"]


@pytest.mark.parametrize("fmt", ["kv", "json"])
def test_every_phone_format_is_masked(capture, fmt) -> None:
    stream = capture(fmt)
    for phone in PHONE_FORMATS:
        logging.getLogger("desk.test").info("from %s", phone)
    out = stream.getvalue()
    assert out.count("\n") == len(PHONE_FORMATS)
    scanner = LeakScanner()
    assert [scanner.findings(line) for line in out.splitlines()] == [[]] * len(PHONE_FORMATS)
    assert "+6285****601" in out and "081****890" in out


def test_a_conversation_id_that_starts_like_a_phone_is_not_a_leak() -> None:
    """A uuid4 may start with "08" and seven digits (a CI run flagged one); a number glued to a word is still caught."""
    scanner = LeakScanner(formatter=logging.Formatter("%(message)s"), mask=False)
    assert scanner.findings("bot answered conversation=082730907b0645088614b450deadc151 replies=1") == []
    assert scanner.findings("conversation 08273090-7123-4508-8614-b450deadc151 closed") == []
    assert scanner.findings("nomor saya 081234567890ya") == ["phone '081234567890'"]
    assert scanner.findings("to whatsapp:+6285795730601, retry") == ["phone '+6285795730601'"]


def test_secrets_in_urls_headers_and_registered_values_are_redacted(capture) -> None:
    stream = capture("kv")
    register_secrets(["s3cr3t-deployment-value"])
    log = logging.getLogger("httpx")
    log.warning('HTTP Request: POST https://api.telegram.org/bot987654:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage')
    log.warning("headers %s", {"Authorization": "Basic QUNkZXY6dG9rZW4=", "X-Other": "1"})
    logging.getLogger("desk.test").warning("Authorization: Bearer abc.def.ghi and s3cr3t-deployment-value")
    logging.getLogger("desk.test").warning("dsn postgresql://aduan:hunter2hunter2@db/aduan?password=x1")
    out = stream.getvalue()
    for secret in ("987654:AAHdq", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "QUNkZXY6dG9rZW4=", "abc.def.ghi",
                   "s3cr3t-deployment-value", "hunter2hunter2", "password=x1"):
        assert secret not in out
    assert "bot<redacted>/sendMessage" in out and "Basic <redacted>" in out


def test_sanic_writes_one_masked_copy_of_its_lines(capture, unique_name, settings) -> None:
    stream = capture("kv")
    create_app(settings, name=unique_name)  # must not install Sanic's own (unmasked) handlers
    assert all(not logging.getLogger(name).handlers for name in SANIC_LOGGERS)
    logging.getLogger("sanic.access").info("GET /chat?phone=%s", "+62 812-3456-7890")
    out = stream.getvalue()
    assert out.count("GET /chat") == 1 and "3456-7890" not in out


def test_third_party_chatter_is_kept_at_warning(capture) -> None:
    stream = capture("kv")
    for name in ("twilio.http_client", "httpx", "telegram.ext", "asyncio"):
        logging.getLogger(name).info("chatter from %s", name)
        logging.getLogger(name).warning("trouble in %s", name)
    out = stream.getvalue()
    assert "chatter" not in out and out.count("trouble in") == 4


async def test_a_twilio_reply_writes_no_log_line(capture, settings) -> None:
    """The Twilio SDK used to write 11 INFO lines per reply, headers included."""
    stream = capture("kv")
    with FakeTwilio() as fake:
        sender = TwilioSender(settings.model_copy(update={"twilio_api_base": fake.base_url}))
        try:
            await sender.send("+6281234567890", OutboundMessage(text="Halo Kak"))
        finally:
            await sender.close()
    assert fake.messages and stream.getvalue() == ""


async def test_the_bot_token_is_redacted_even_when_http_clients_log_everything(capture, settings) -> None:
    stream = capture("kv")
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # someone turned the chatter back on
    token = "123456:test-telegram-token"
    try:
        with FakeTelegram(token=token) as fake:
            sender = TelegramSender(settings.model_copy(update={"telegram_api_base": fake.base_url,
                                                                "telegram_bot_token": token}))
            try:
                await sender.send("5550001", OutboundMessage(text="Halo Kak"))
            finally:
                await sender.close()
    finally:
        quiet_third_parties()
    out = stream.getvalue()
    assert "/bot<redacted>/sendMessage" in out and "test-telegram-token" not in out


async def test_database_errors_carry_no_message_text(capture, database, database_url) -> None:
    stream = capture("kv")
    text = "Saya mau lapor pinjaman Budi Santoso"
    log = logging.getLogger("desk.test")
    statement = sql_text("INSERT INTO no_such_table (text) VALUES (:text)")
    try:
        async with database.engine.begin() as conn:
            await conn.execute(statement, {"text": text})
    except DBAPIError as exc:
        assert text not in str(exc)  # hide_parameters on the desk's engines
        log.exception("statement failed")
    # An engine built elsewhere without hide_parameters: the masking drops the parameters.
    bare = create_async_engine(async_url(database_url))
    try:
        async with bare.begin() as conn:
            await conn.execute(statement, {"text": text})
    except DBAPIError as exc:
        assert text in str(exc)
        log.exception("statement failed on another engine")
    finally:
        await bare.dispose()
    out = stream.getvalue()
    assert out.count("statement failed") == 2 and "no_such_table" in out
    assert "Budi" not in out and "lapor" not in out


def test_the_scanner_catches_what_masking_would_hide() -> None:
    """The session's log scan must be able to fail: unmasked, a phone, a NIK and a secret are caught."""
    log = logging.getLogger("desk.scan-check")
    log.propagate = False
    raw = LeakScanner(formatter=logging.Formatter("%(message)s"), mask=False)
    real = LeakScanner()
    for handler in (raw, real):
        log.addHandler(handler)
    try:
        log.warning("borrower %s NIK %s", "+62 857 9573 0601", NIK)
        log.warning("GET https://api.telegram.org/bot123456:test-telegram-token/getMe")
        log.warning("twilio auth test-twilio-auth-token")
    finally:
        for handler in (raw, real):
            log.removeHandler(handler)
        log.propagate = True
    assert [leak.what for leak in raw.leaks] == ["phone '+62 857 9573 0601'", f"NIK '{NIK}'",
                                                 "secret 123456…", "secret test-t…", "secret test-t…"]
    assert real.leaks == [] and real.lines == 3
