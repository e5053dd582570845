"""``aduan telegram-webhook`` against the fake Bot API."""
from __future__ import annotations

import pytest

from aduan.cli import main
from tests.channels.conftest import TELEGRAM_TOKEN
from tests.fakes import FakeTelegram


@pytest.fixture
def telegram_env(monkeypatch: pytest.MonkeyPatch, fake_telegram: FakeTelegram, tmp_path) -> FakeTelegram:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("TELEGRAM_API_BASE", fake_telegram.base_url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", "cli-secret-token")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://aduan.example.co.id/")
    return fake_telegram


def test_registers_the_webhook_with_the_secret(telegram_env: FakeTelegram, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telegram-webhook"]) == 0
    assert telegram_env.webhook is not None
    assert telegram_env.webhook["url"] == "https://aduan.example.co.id/webhooks/telegram"
    assert telegram_env.webhook["secret_token"] == "cli-secret-token"
    assert telegram_env.webhook["allowed_updates"] == ["message", "callback_query"]
    assert "webhook set" in capsys.readouterr().out

    assert main(["telegram-webhook", "--info"]) == 0
    assert "url=https://aduan.example.co.id/webhooks/telegram" in capsys.readouterr().out
    assert main(["telegram-webhook", "--delete"]) == 0
    assert telegram_env.webhook is None


def test_refuses_a_plain_http_url(telegram_env: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    assert main(["telegram-webhook"]) == 2
    assert telegram_env.webhook is None


def test_reports_a_refusal(telegram_env: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:wrong-token")
    assert main(["telegram-webhook"]) == 1
