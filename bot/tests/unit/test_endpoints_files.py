"""Rasa substitutes ${VAR} in endpoints files only in unquoted values: every variant must read fully.

A quoted "${REDIS_HOST}" stays the literal text, and Rasa then tries to reach a
host called "${REDIS_HOST}" (the lock store of every replica fails).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import rasa.shared.utils.io as rasa_io

BOT = Path(__file__).resolve().parents[2]
ENV = {"ACTION_ENDPOINT_URL": "http://actions:5055/webhook", "REDIS_HOST": "redis", "RASA_REDIS_PREFIX": "stack1",
       "POSTGRES_HOST": "postgres", "RASA_TRACKER_DB": "rasa", "POSTGRES_USER": "aduan", "POSTGRES_PASSWORD": "pw"}


def leftovers(value: object) -> list[str]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in leftovers(v)]
    return [str(value)] if "${" in str(value) else []


@pytest.mark.parametrize("path", [BOT / "endpoints.redis.yml", BOT.parent / "deploy" / "rasa-endpoints.yml"])
def test_every_variable_is_substituted(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = rasa_io.read_config_file(str(path))
    assert leftovers(config) == []
    assert config["lock_store"]["type"] == "redis" and config["lock_store"]["url"] == "redis"
    assert config["tracker_store"]["url"] in ("redis", "postgres")
