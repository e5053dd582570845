"""The application's collaborators: the core's, and each part's, one field each.

``build_services`` is the one place that reads settings and picks the
implementations: the store of the database engine, the event bus, the lending
core, the handoff part's hooks the core calls inside its writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from attachments.runtime import Attachments
from desk import pii
from desk.botclient import BotClient
from desk.config import Settings
from desk.events import EventBus, build_event_bus
from desk.handoff_request import HandoffQueue
from desk.lending import LendingCore
from desk.outbox import on_enqueue_commit
from desk.outbox_worker import Backoff, OutboxWorker
from desk.router import Router
from desk.services import CoreServices
from desk.store import ConversationStore
from desk.store.postgres import PostgresConversationStore
from desk.store.sqlite import SqliteConversationStore
from desk.templates import load_templates
from desk.verification import VerificationLimits, VerifyCustomer
from handoff.config import HandoffSettings
from handoff.fastpath import QueueHandoffs
from handoff.rating import capture as capture_rating
from privacy.context import PrivacyContext, notice_from_lender_file
from lending.demo import DemoLendingCore
from lending.known import KnownCustomers
from reports.api import ReportsPart
from storage.db import Database
from tickets.context import TicketContext


@dataclass(eq=False)
class Services(CoreServices):
    """The core's collaborators plus each part's; None fields are built by ``aduan.app.create_app``."""

    tickets: TicketContext | None = None
    handoff: HandoffSettings | None = None
    reports: ReportsPart | None = None
    inapp_customers: KnownCustomers | None = None
    privacy: PrivacyContext | None = None
    attachments: Attachments | None = None


def build_store(db: Database, handoff: HandoffQueue) -> ConversationStore:
    """The conversation store of the engine ``db`` runs on: the one place that asks which."""
    if db.is_sqlite:
        return SqliteConversationStore(db, handoff)
    return PostgresConversationStore(db, handoff)


def build_services(settings: Settings, *, events: EventBus | None = None,
                   bot: BotClient | None = None, lending: LendingCore | None = None) -> Services:
    """Create the database handle, store, event bus, bot client, router and outbox worker from settings.

    Also makes the settings' PII keys the process's keyring (``desk.pii``); raises
    ``desk.pii.PiiKeyError`` when none is configured outside demo mode."""
    pii.configure(pii.load_keyring(settings.pii_keys, settings.pii_key_file, allow_dev=settings.demo_mode))
    db = Database(settings.database_url)
    services = Services(settings=settings, db=db, events=events or build_event_bus(settings))
    services.bot = bot or BotClient(settings.rasa_servers, timeout_seconds=settings.rasa_timeout_seconds,
                                    cooldown_seconds=settings.rasa_cooldown_seconds)
    services.store = store = build_store(db, QueueHandoffs())
    services.router = Router(
        store=store, bot=services.bot, events=services.events,
        max_message_chars=settings.max_message_chars,
        bot_timeout_seconds=settings.rasa_timeout_seconds,
        capture_rating=capture_rating,
        first_contact_notice=notice_from_lender_file(settings.lender_content),
        max_attempts=settings.inbound_max_attempts,
    )
    # Connectors register their Sender per channel (connectors.wiring.install).
    # On SQLite the worker writes through the store's writer thread: one queue of writes.
    services.outbox = OutboxWorker(db, {}, max_attempts=settings.outbox_max_attempts or None,
                                   give_up_after=timedelta(hours=settings.outbox_give_up_hours),
                                   backoff=Backoff(cap_seconds=settings.outbox_retry_cap_seconds),
                                   poll_interval=settings.outbox_poll_seconds,
                                   sqlite_writer=store if db.is_sqlite else None,
                                   templates=load_templates(settings.lender_content))
    on_enqueue_commit(db.engine, services.outbox.nudge)
    services.lending = lending or DemoLendingCore()
    limits = VerificationLimits(per_claim=settings.verify_max_failures,
                                per_conversation=settings.verify_max_failures + 1,
                                window=timedelta(hours=settings.verify_window_hours))
    services.verify = VerifyCustomer(db, services.lending, secret=settings.session_secret, store=store,
                                     limits=limits)
    return services
