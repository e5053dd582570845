"""docker-compose.yml and the Dockerfiles stay honest (Docker itself is not available in CI)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from desk.config import REPO_ROOT, Settings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_every_production_service_is_there_with_a_health_check() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"desk", "rasa", "actions", "postgres", "redis"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name
    assert services["desk"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["rasa"]["depends_on"]["actions"]["condition"] == "service_healthy"


def test_build_files_exist_and_copy_only_what_exists() -> None:
    for name in ("desk", "rasa", "actions"):
        build = COMPOSE["services"][name]["build"]
        dockerfile = REPO_ROOT / build["context"] / build["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY ") and "--from" not in line:
                *sources, _ = line.split()[1:]
                for source in sources:
                    if source in (".", "bot/", "bot/requirements.txt") or source.endswith("*"):
                        continue  # the build context, the bot engineer's tree, optional files
                    assert (REPO_ROOT / source).exists(), f"{dockerfile.name} copies missing {source}"


def test_desk_environment_names_real_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    desk_env = COMPOSE["x-desk-env"]
    unknown = set(desk_env) - fields
    assert not unknown, f"compose sets variables the desk does not read: {unknown}"
    assert desk_env["DATABASE_URL"].startswith("postgresql://")
    assert desk_env["REDIS_URL"].startswith("redis://")
    assert desk_env["DEMO_MODE"] == "false"


def test_secrets_are_required_not_defaulted() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "DESK_SERVICE_TOKEN", "SESSION_SECRET", "TWILIO_AUTH_TOKEN",
                   "INAPP_SIGNING_SECRET", "PII_KEYS", "LENDING_CORE_TOKEN"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), secret


def test_rasa_endpoints_reach_actions_by_service_name() -> None:
    endpoints = yaml.safe_load(Path(REPO_ROOT / "deploy" / "rasa-endpoints.yml").read_text())
    assert endpoints["action_endpoint"]["url"] == "${ACTION_ENDPOINT_URL}"
    env = COMPOSE["services"]["rasa"]["environment"]
    assert env["ACTION_ENDPOINT_URL"] == "http://actions:5055/webhook"
    assert env["DESK_API_URL"] == "http://desk:8000"
