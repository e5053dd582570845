"""The core's collaborators, as one typed object every part is handed.

The root (``aduan.services``) builds them once per process and extends this
type with the parts' own collaborators; the core and the parts see only
``CoreServices``. Handlers reach it through ``core_services(app)``: the one
place that knows where Sanic keeps it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sanic import Sanic

from desk.botclient import BotClient
from desk.config import Settings
from desk.events import EventBus
from desk.lending import LendingCore
from desk.outbox_worker import OutboxWorker
from desk.router import Router
from desk.store import ConversationStore
from desk.verification import VerifyCustomer
from storage.db import Database


@dataclass(eq=False)
class CoreServices:
    """The desk core's long-lived collaborators, built once per process by the root.

    ``settings``, ``db`` and ``events`` always exist; the others are None only in
    tests that build an app for one part (the root's ``build_services`` fills all).
    """

    settings: Settings
    db: Database
    events: EventBus
    bot: BotClient | None = None
    store: ConversationStore | None = None
    router: Router | None = None
    outbox: OutboxWorker | None = None
    lending: LendingCore | None = None
    verify: VerifyCustomer | None = None


def core_services(app: Sanic) -> CoreServices:
    """The services the root installed on ``app``; raises if the app was not built by the root."""
    services = getattr(app.ctx, "services", None)
    if not isinstance(services, CoreServices):
        raise RuntimeError("the app has no services: build it with aduan.app.create_app")
    return services


def install_services(app: Sanic, services: CoreServices) -> None:
    """Make ``services`` what ``core_services(app)`` returns (the root calls this once)."""
    app.ctx.services = services
