"""The desk's JSON error for failures Sanic raises before any route runs.

A body over ``REQUEST_MAX_SIZE`` is refused by Sanic's HTTP layer while the
request is read, so no blueprint's handler sees it; without this, Sanic
answers with its own text/HTML page instead of the desk's one JSON error
shape (``desk.auth.error``) that providers, the app and the console expect.
"""
from __future__ import annotations

import logging

from sanic import Request, Sanic
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse

from desk.auth import error

log = logging.getLogger(__name__)

# Webhooks, chat messages, console forms: none is anywhere near this.
REQUEST_MAX_BYTES = 2 * 1024 * 1024


def install(app: Sanic) -> None:
    """Set the body limit and answer bodies over it with the JSON error, on every route."""
    app.config.REQUEST_MAX_SIZE = REQUEST_MAX_BYTES

    async def too_large(request: Request, exc: Exception) -> HTTPResponse:
        log.warning("refused a request body over %d bytes: %s %s ip=%s", REQUEST_MAX_BYTES,
                    request.method, request.path, request.remote_addr or request.ip)
        return error(413, "payload_too_large", f"request bodies are limited to {REQUEST_MAX_BYTES} bytes")

    app.error_handler.add(PayloadTooLarge, too_large)

    # Sanic runs the request middleware before its error handler when the body is
    # refused while being read; the staff middleware would then answer a /login or
    # console POST with its CSRF 403. The first middleware re-raises the refusal so
    # the error handler above answers instead.
    @app.signal("http.lifecycle.exception")
    async def _remember(request: Request | None = None, exception: BaseException | None = None) -> None:
        if request is not None and isinstance(exception, PayloadTooLarge):
            request.ctx.refused_body = exception

    async def _refuse_first(request: Request) -> None:
        refused = getattr(request.ctx, "refused_body", None)
        if refused is not None:
            raise refused

    app.register_middleware(_refuse_first, "request", priority=1_000_000)
