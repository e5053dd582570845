"""Fixtures of the privacy suite: the tickets suite's clock, staff and app, plus a privacy context."""
from __future__ import annotations

import uuid

import pytest
from sanic import Sanic

from aduan.app import create_app
from aduan.services import Services, build_store
from desk.auth import StaffUser
from desk.config import REPO_ROOT
from desk.verification import VerifyCustomer
from handoff.fastpath import QueueHandoffs
from lending.demo import DemoLendingCore
from privacy.context import PrivacyContext, load_privacy_config
from tickets.sla import load_hours_policy
from tests.tickets.conftest import (BOT_AUTH, NOW, WA_PHONE, Clock, as_user, clock, complaint,  # noqa: F401
                                    desk_calendar, make_conversation, staff, ticket_ctx, wa_conversation,
                                    working_calendar)


@pytest.fixture
def privacy_ctx(desk_calendar, clock, event_bus) -> PrivacyContext:  # noqa: F811
    ctx = PrivacyContext(policy=load_hours_policy("uu-pdp-27-2022"), calendar=desk_calendar,
                         config=load_privacy_config(REPO_ROOT / "lender" / "demo.yml"), events=event_bus,
                         public_base_url="https://desk.example", brand="DanaContoh")
    ctx.now = clock  # type: ignore[method-assign]
    return ctx


@pytest.fixture
def app(settings, database, event_bus, ticket_ctx, privacy_ctx) -> Sanic:  # noqa: F811
    Sanic.test_mode = True
    services = Services(settings=settings, db=database, events=event_bus)
    services.tickets = ticket_ctx
    services.privacy = privacy_ctx
    services.store = build_store(database, QueueHandoffs())
    services.lending = DemoLendingCore()
    services.verify = VerifyCustomer(database, services.lending, secret=settings.session_secret,
                                     store=services.store)
    app = create_app(settings, services, name=f"privacy_{uuid.uuid4().hex[:8]}")

    @app.on_request(priority=100)
    async def _test_login(request):  # test-only stand-in for handoff's session middleware
        raw = request.headers.get("x-test-user")
        if raw:
            uid, role = raw.split(":")
            request.ctx.user = StaffUser(int(uid), f"u{uid}", f"User {uid}", role)

    return app
