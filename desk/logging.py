"""Structured logs for the desk service, with personal data masked on every handler.

One line per record, either JSON (``LOG_FORMAT=json``, for log shippers) or
``key=value`` (the default, for people). ``desk.masking.MaskingFilter`` sits
on every handler, and the formatter masks the rendered line once more, so a
phone number or NIK never reaches a log file, whether it came in the message,
its arguments, an exception or an ``extra`` field.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import IO, Any

from desk.masking import MaskingFilter, mask_text

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

# Sanic's own loggers propagate to the root when we configure them this way.
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "sanic.websockets")


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
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                fields[key] = value
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        if self.fmt == "json":
            line = json.dumps(fields, ensure_ascii=False, default=str)
        else:
            line = " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        return mask_text(line)


def _kv(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


def configure_logging(level: str = "INFO", fmt: str = "kv", stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record (the desk's and Sanic's) to one masked, structured handler.

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
    return handler


def mask_all_handlers() -> None:
    """Put a ``MaskingFilter`` on every handler that exists now (after a library added its own)."""
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in logging.root.manager.loggerDict
    ]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(MaskingFilter())
