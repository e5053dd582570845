"""The Sanic application factory: builds the services and registers every blueprint.

Everything the handlers need lives in ``app.ctx.services`` (a ``Services``
instance) so tests can build an app with fakes injected instead of globals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sanic import Sanic

from desk.config import Settings
from desk.events import EventBus, InMemoryEventBus
from storage.db import Database


@dataclass
class Services:
    """The desk's long-lived collaborators, built once per process."""

    settings: Settings
    db: Database
    events: EventBus
    # Filled in by the parts as they are wired (router, outbox worker, connectors, …).
    extra: dict[str, Any] = field(default_factory=dict)


def build_services(settings: Settings) -> Services:
    """Create the database handle and event bus from settings."""
    return Services(settings=settings, db=Database(settings.database_url), events=InMemoryEventBus())


def create_app(settings: Settings | None = None, services: Services | None = None,
               name: str = "aduan") -> Sanic:
    """Build the desk service application."""
    settings = settings or Settings()
    services = services or build_services(settings)
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 2 * 1024 * 1024
    app.ctx.services = services

    from desk.health import bp as health_bp

    app.blueprint(health_bp)
    from desk.templating import static_dir
    from handoff.console import install as install_handoff

    app.static("/static", str(static_dir()), name="desk_static")
    install_handoff(app)
    return app
