"""Request guards shared by every blueprint: the service token and staff roles.

Staff sessions are established by ``handoff.auth`` (login, cookie, CSRF); its
middleware puts a ``StaffUser`` on ``request.ctx.user``. Handlers only declare
which roles they accept.
"""
from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, json
from desk.services import core_services

Handler = Callable[..., Awaitable[HTTPResponse]]


@dataclass(frozen=True)
class StaffUser:
    """The signed-in member of staff, as handlers see them."""

    id: int
    username: str
    display_name: str
    role: str


def error(status: int, code: str, message: str) -> HTTPResponse:
    """The desk's one JSON error shape."""
    return json({"error": code, "message": message}, status=status)


def _bears(request: Request, expected: str | None) -> bool:
    """True if the request bears ``Authorization: Bearer <expected>`` (never when ``expected`` is unset)."""
    if not expected:
        return False
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


def has_service_token(request: Request) -> bool:
    """True if the request bears ``Authorization: Bearer <DESK_SERVICE_TOKEN>``."""
    return _bears(request, core_services(request.app).settings.desk_service_token)


def service_token_required(handler: Handler) -> Handler:
    """Accept only requests bearing the action server's ``DESK_SERVICE_TOKEN``.

    For websocket routes use ``has_service_token`` in a request middleware
    instead: the handshake is over before a websocket handler runs.
    """

    @wraps(handler)
    async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        if not has_service_token(request):
            return error(401, "unauthorized", "a valid service token is required")
        return await handler(request, *args, **kwargs)

    return guarded


def lending_core_token_required(handler: Handler) -> Handler:
    """Accept only requests bearing ``LENDING_CORE_TOKEN``: the lender's core system, not the action server.

    A token of its own, so the bot side (which holds the service token) cannot
    report events only the lender's core knows; unset, every request is refused.
    """

    @wraps(handler)
    async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        if not _bears(request, core_services(request.app).settings.lending_core_token):
            return error(401, "unauthorized", "a valid lending-core token (LENDING_CORE_TOKEN) is required")
        return await handler(request, *args, **kwargs)

    return guarded


def staff_required(*roles: str) -> Callable[[Handler], Handler]:
    """Accept only signed-in staff, and only the given roles when any are named."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            user: StaffUser | None = getattr(request.ctx, "user", None)
            if user is None and getattr(request.ctx, "csrf_failed", False):
                return error(403, "csrf_failed", "missing or wrong CSRF token")
            if user is None:
                return error(401, "login_required", "sign in first")
            if roles and user.role not in roles:
                return error(403, "forbidden", f"this needs one of the roles: {', '.join(roles)}")
            return await handler(request, *args, **kwargs)

        return guarded

    return decorate
