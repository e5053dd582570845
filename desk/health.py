"""Liveness and readiness endpoints."""
from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import text

bp = Blueprint("health")


@bp.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    """The process is up."""
    return json({"status": "ok"})


@bp.get("/readyz")
async def readyz(request: Request) -> HTTPResponse:
    """The process can reach its database."""
    services = request.app.ctx.services
    try:
        async with services.db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return json({"status": "unavailable", "database": type(exc).__name__}, status=503)
    return json({"status": "ok", "database": "ok"})
