"""Liveness and readiness endpoints."""
from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import text

from desk.workers import current_workers
from desk.services import core_services

bp = Blueprint("health")


@bp.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    """The process is up."""
    return json({"status": "ok"})


@bp.get("/readyz")
async def readyz(request: Request) -> HTTPResponse:
    """The process can reach its database; Rasa's reachability is reported, not required.

    A desk whose bot is down still takes messages (they go to people), so Rasa
    being unreachable does not make the desk unready. Under ``--workers N`` the
    answer also lists the worker processes; one that died shows as missing
    (``"status": "degraded"``, still 200: the others serve) until its
    replacement is up (desk/workers.py).
    """
    services = core_services(request.app)
    body: dict[str, Any] = {}
    workers = current_workers(request.app)
    if workers is not None:
        body["workers"] = workers.as_dict()
    bot = getattr(services, "bot", None)
    if bot is not None:
        body["rasa"] = "ok" if await bot.ping() else "unreachable"
    try:
        async with services.db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return json({"status": "unavailable", "database": type(exc).__name__, **body}, status=503)
    status = "degraded" if workers is not None and workers.missing else "ok"
    return json({"status": status, "database": "ok", **body})
