"""Structured logs for the desk service, with secrets and personal data masked on every handler.

One line per record, either JSON (``LOG_FORMAT=json``, for log shippers) or
``key=value`` (the default, for people). One root handler takes every record
(the desk's, Sanic's and third-party libraries'): ``desk.masking.MaskingFilter``
sits on it (and on any handler a library added), and the formatter masks each
field and the rendered line once more, so a token, password, phone number or
NIK never reaches a log file, whether it came in the message, its arguments,
an exception or an ``extra`` field. Third-party chatter (HTTP clients, the
provider SDKs, asyncio) is kept at WARNING: the Twilio SDK alone wrote eleven
INFO lines per reply, and HTTP clients log request URLs.

Message texts are never logged: log ids (conversation public id, message and
outbox ids), never ``text``; database errors carry no parameters
(``storage.db`` engines use ``hide_parameters``, and the masking drops
``[parameters: …]`` from any other engine's errors).
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import IO, Any

from desk.masking import MaskingFilter, mask_log_text, register_basic_auth, register_secrets

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

# Sanic's own loggers propagate to the root when we configure them this way.
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "sanic.websockets")
# Libraries whose INFO/DEBUG lines are chatter (and may carry URLs with tokens): WARNING and up only.
QUIET_LOGGERS = ("twilio", "httpx", "httpcore", "telegram", "asyncio", "aiohttp", "aiosqlite", "asyncpg",
                 "websockets", "hpack", "urllib3", "multipart", "sqlalchemy", "alembic.runtime.migration")


class StructuredFormatter(logging.Formatter):
    """Formats a record as one JSON object or one ``key=value`` line, masked."""

    def __init__(self, fmt: str = "kv") -> None:
        super().__init__()
        if fmt not in ("json", "kv"):
            raise ValueError("log format must be 'json' or 'kv'")
        self.fmt = fmt

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_log_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                fields[key] = mask_log_text(value) if isinstance(value, str) else value
        if record.exc_info:
            # Masked before it is escaped: the patterns see the exception's real lines.
            fields["exc"] = mask_log_text(self.formatException(record.exc_info))
        if self.fmt == "json":
            line = json.dumps(fields, ensure_ascii=False, default=str)
        else:
            line = " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        return mask_log_text(line)


def _kv(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


def configure_logging(level: str = "INFO", fmt: str = "kv", stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record (the desk's, Sanic's, libraries') to one masked, structured handler.

    Returns the handler so callers (tests) can inspect or remove it.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(fmt))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in SANIC_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    quiet_third_parties()
    mask_all_handlers()
    return handler


def quiet_third_parties() -> None:
    """Libraries log at WARNING and above only (see ``QUIET_LOGGERS``)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _pii_key_values(keys: str | None) -> list[str]:
    """Each ``id=base64`` entry of PII_KEYS, and its base64 alone (desk.pii)."""
    entries = [e.strip() for e in (keys or "").replace("\n", ",").split(",") if e.strip()]
    return entries + [e.partition("=")[2] for e in entries]


def register_settings_secrets(settings: Any) -> None:
    """Never log the deployment's tokens and secrets, whatever line they turn up in."""
    register_secrets([settings.telegram_bot_token, settings.telegram_secret_token, settings.twilio_auth_token,
                      settings.desk_service_token, settings.session_secret, settings.inapp_signing_secret,
                      settings.lending_core_token,
                      *_pii_key_values(settings.pii_keys)])
    register_basic_auth(settings.twilio_account_sid, settings.twilio_auth_token)


def mask_all_handlers() -> None:
    """Put a ``MaskingFilter`` on every handler that exists now (after a library added its own)."""
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in logging.root.manager.loggerDict
    ]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(MaskingFilter())
