"""The Sanic application factory: installs the core and every part, in one visible list.

Everything the handlers need is reached through typed accessors:
``desk.services.core_services(app)`` for the core's collaborators, and each
part's own accessor for what the part was given at install time
(``tickets.context.ticket_context(app)``, ``handoff.console.handoff_settings(app)``…).
Tests build an app with fakes injected in ``Services`` instead of globals.
"""
from __future__ import annotations

import contextlib
import gc
import logging

from sanic import Sanic

import attachments.web
import connectors.wiring
import handoff.console
import privacy.api
import reports.api
import tickets.api
import tickets.scheduler
from aduan.pii_keys import check_keys
from aduan.services import Services, build_services
from attachments.runtime import build_attachments
from desk.api import bp as api_bp
from desk.config import Settings
from desk.health import bp as health_bp
from desk.http_errors import install as install_http_errors
from desk.internal import bp as internal_bp
from desk.logging import register_settings_secrets
from desk.services import install_services
from desk.templating import static_dir
from handoff.config import HandoffSettings
from lending.demo import DemoLendingCore
from lending.known import KnownCustomers
from reports.workdays import working_day_checker
from privacy.context import build_privacy_context
from tickets.context import build_context

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None,
               name: str = "aduan", *, run_outbox: bool = True) -> Sanic:
    """Build the desk service application.

    ``run_outbox=False`` leaves the outbox worker stopped (tests drive it by hand).
    A part's collaborator left None in ``services`` is built here from settings.
    """
    settings = settings or Settings()
    services = services or build_services(settings)
    _complete(services)
    # Logging is ours (desk.logging.configure_logging): Sanic's own handlers would
    # write unmasked copies of its lines next to the masked ones.
    app = Sanic(name, configure_logging=False)
    register_settings_secrets(settings)  # no log line shows this deployment's tokens
    install_http_errors(app)  # 2 MB body limit, answered with the JSON error
    install_services(app, services)
    _install_parts(app, services, run_outbox=run_outbox)

    @app.before_server_start
    async def _check_pii_keys(app: Sanic) -> None:
        # Keys that do not fit the database stop the start with the reason (desk.pii.PiiKeyError),
        # instead of unreadable replies and missed look-ups later.
        await check_keys(services.db)

    @app.after_server_start
    async def _freeze_startup_heap(app: Sanic) -> None:
        # Everything built at start-up (modules, SQLAlchemy metadata, the channel
        # libraries' classes, calendars) lives as long as the process. Moving it out
        # of the collector's generations keeps full collections short: measured on
        # the bench, the longest pause went from ~160 ms to under 10 ms.
        gc.collect()
        gc.freeze()

    @app.after_server_start
    async def _start_outbox(app: Sanic) -> None:
        if run_outbox and services.outbox is not None:
            services.outbox.start()

    @app.after_server_start
    async def _start_sweeper(app: Sanic) -> None:
        # Every instance sweeps: unfinished inbound messages whose lease ran out
        # (a crashed worker's) are taken over; the lease keeps it to one instance.
        if run_outbox and services.router is not None:
            services.router.start_sweeper(settings.inbound_sweep_seconds)

    @app.before_server_stop
    async def _stop_work(app: Sanic) -> None:
        # Stop taking work first; every part's jobs stop in their own before_server_stop hooks too.
        if services.router is not None:
            await services.router.stop_sweeper()
        if services.outbox is not None:
            await services.outbox.stop()

    @app.after_server_stop
    async def _close(app: Sanic) -> None:
        # Then close what the work used. Not in before_server_stop: Sanic runs those in reverse
        # order of registration, so this root's hook would run before the parts' (installed
        # first) had stopped their jobs, and a job still holding a pooled connection when the
        # engine is disposed leaves that connection open, orphaned (each ASGI test request runs
        # the start and stop hooks once: a PostgreSQL test run piled them up past max_connections).
        if services.bot is not None:
            await services.bot.aclose()
        close = getattr(services.events, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
        if services.store is not None:
            await services.store.close()
        await services.db.dispose()

    return app


def _complete(services: Services) -> None:
    """Build each part's collaborator the caller did not inject, from settings."""
    settings = services.settings
    if services.tickets is None:
        services.tickets = build_context(settings, services.events)
    if services.handoff is None:
        services.handoff = HandoffSettings()
    if services.reports is None:
        services.reports = reports.api.ReportsPart.from_settings(
            services.db, settings, working_day_checker(settings))
    if services.attachments is None:
        services.attachments = build_attachments(services.db, public_base_url=settings.public_base_url,
                                                 link_secret=settings.session_secret)
    if services.privacy is None:
        services.privacy = build_privacy_context(settings, services.tickets, services.attachments.files)
    if services.inapp_customers is None:
        services.inapp_customers = KnownCustomers(services.lending or DemoLendingCore())


def _install_parts(app: Sanic, services: Services, *, run_outbox: bool) -> None:
    """Register the core's routes and every part's routes and background tasks."""
    assert services.tickets is not None and services.handoff is not None
    assert services.reports is not None and services.inapp_customers is not None
    assert services.privacy is not None
    assert services.attachments is not None
    app.blueprint(health_bp)
    app.blueprint(api_bp)
    app.blueprint(internal_bp)
    app.static("/static", str(static_dir()), name="desk_static")
    # First: the console and the channels serve, fetch and send files through it.
    attachments.web.install(app, services.attachments, run_worker=run_outbox)  # fetch job, signed links
    handoff.console.install(app, services, services.handoff, services.tickets)  # console, queue, websocket
    tickets.api.install(app, services, services.tickets)          # bot and staff ticket APIs, receipts
    tickets.scheduler.install(app, services)                      # SLA clock
    connectors.wiring.install(app, services, services.inapp_customers)  # WhatsApp, Telegram, in-app, web chat
    reports.api.install(app, services, services.reports)          # reports, dashboard, reminders
    privacy.api.install(app, services, services.privacy)          # rights requests, exports, holds, breaches
