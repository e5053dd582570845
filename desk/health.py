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
    """The process can reach its database; Rasa's reachability is reported, not required.

    A desk whose bot is down still takes messages (they go to people), so Rasa
    being unreachable does not make the desk unready.
    """
    services = request.app.ctx.services
    body: dict[str, str] = {}
    bot = getattr(services, "bot", None)
    if bot is not None:
        body["rasa"] = "ok" if await bot.ping() else "unreachable"
    try:
        async with services.db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return json({"status": "unavailable", "database": type(exc).__name__, **body}, status=503)
    return json({"status": "ok", "database": "ok", **body})
