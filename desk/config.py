"""Settings of the desk service, read from the environment and an optional .env file."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


# The SLA policy in force (POJK 22/2023); tickets.models uses it as the column default too.
DEFAULT_SLA_POLICY = "pojk-22-2023"


class Settings(BaseSettings):
    """Every knob of the desk service. Names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'aduan.db'}"
    desk_host: str = "127.0.0.1"
    desk_port: int = 8000
    # The address borrowers' providers use to reach us; Twilio signs this URL.
    public_base_url: str = "http://127.0.0.1:8000"

    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa replicas sharing one tracker store and Rasa's Redis lock store, comma-separated;
    # when set it replaces RASA_URL. Each conversation stays on one replica while it answers
    # (docs/core.md, "Several Rasa replicas").
    rasa_urls: str | None = None
    rasa_timeout_seconds: float = 10.0
    # A replica that stops answering is left out this long before a health check may take it back.
    rasa_cooldown_seconds: float = Field(default=5.0, gt=0)
    # Every instance looks this often for inbound messages left unfinished (a crashed
    # worker's) and takes them over; see desk/router.py.
    inbound_sweep_seconds: float = Field(default=5.0, gt=0)
    # Processing attempts of one inbound message before it goes to people instead.
    inbound_max_attempts: int = Field(default=3, ge=1)

    desk_service_token: str = Field(default="dev-service-token", min_length=8)
    # The lender's core system reports events only it knows (a customer's relationship ended) with this
    # bearer token (privacy.relationships); unset, those endpoints refuse every request.
    lending_core_token: str | None = Field(default=None, min_length=16)
    session_secret: str = Field(default="dev-session-secret-change-me", min_length=16)
    # Keys of phone numbers and other identifiers at rest (desk/pii.py, docs/privacy.md "Keys and
    # rotation"): "id=base64,…" with the current key first, or a file of such lines. With neither,
    # demo mode makes a development key file under var/; outside demo mode the desk refuses to start.
    pii_keys: str | None = None
    pii_key_file: str | None = None

    twilio_account_sid: str = "ACdev00000000000000000000000000000"
    twilio_auth_token: str = "dev-twilio-auth-token"
    twilio_whatsapp_from: str = "whatsapp:+14155238886"
    twilio_api_base: str | None = None  # tests point the real SDK at a local fake

    telegram_bot_token: str = "123456:dev-telegram-token"
    telegram_secret_token: str = "dev-telegram-secret"
    telegram_api_base: str | None = None

    # HS256 wants a key at least as long as its 32-byte hash (RFC 7518 §3.2).
    inapp_signing_secret: str = Field(default="dev-inapp-signing-secret-32-bytes!", min_length=32)
    # The demo web chat mints tokens for the seeded sample borrowers; never in production.
    demo_mode: bool = True

    redis_url: str | None = None
    lender_content: Path = REPO_ROOT / "lender" / "demo.yml"
    # The SLA policy new tickets are opened under (tickets/policies/<name>.yml).
    # POJK 22/2023 revoked POJK 18/2018, so the rule in force is the default;
    # a ticket keeps the policy it was opened under (tickets.models.Ticket.sla_policy).
    sla_policy: str = DEFAULT_SLA_POLICY
    # Collective-leave days (cuti bersama) and other extra days off, a YAML file.
    calendar_file: Path = REPO_ROOT / "tickets" / "calendar" / "id_extra_days_off.yml"

    # How often each desk instance checks for report due-date reminders; 0 turns the job off.
    report_reminder_interval_seconds: float = 3600.0
    # Working days into the next month by which the monthly report is due. Not a
    # regulation: a lender's published procedure (docs/reports.md, "Due dates").
    report_monthly_due_working_days: int = Field(default=10, ge=1, le=23)
    # Whether a quarterly/annual due date on a weekend or holiday moves to the next working
    # day. Off: no rule found for the complaint report says so (docs/reports.md).
    report_quarterly_due_moves_to_working_day: bool = False

    max_message_chars: int = 4096
    # Failed identity checks naming one phone number or loan id (or made in one
    # conversation, which gets one more) before the desk stops asking the
    # lending core; see desk/verification.py.
    verify_max_failures: int = Field(default=5, ge=1)
    verify_window_hours: float = Field(default=24.0, gt=0)
    # Replies that fail are retried with exponential backoff (2 s doubling, at most
    # OUTBOX_RETRY_CAP_SECONDS apart, 50–100 % jitter) until OUTBOX_GIVE_UP_HOURS after
    # they were queued, then marked failed and shown in the agent console for a retry.
    outbox_retry_cap_seconds: float = Field(default=900.0, gt=0)
    outbox_give_up_hours: float = Field(default=24.0, gt=0)
    # A cap on attempts as well (0: none, only the time limit applies).
    outbox_max_attempts: int = Field(default=0, ge=0)
    # The worker is nudged in-process when a reply is queued; polling catches
    # retries that fall due and items queued by other instances.
    outbox_poll_seconds: float = 1.0
    log_level: str = "INFO"
    log_format: str = "kv"  # "kv" (key=value lines) or "json"
    # Prefix of Redis pub/sub channels, so deployments sharing a Redis stay apart.
    redis_prefix: str = "aduan:"

    @property
    def rasa_servers(self) -> list[str]:
        """The Rasa replicas the bot client spreads conversations over (``RASA_URLS``, else ``RASA_URL``)."""
        if self.rasa_urls:
            servers = [u.strip() for u in self.rasa_urls.split(",") if u.strip()]
            if servers:
                return servers
        return [self.rasa_url]
