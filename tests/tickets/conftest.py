"""Fixtures of the tickets suite: the demo lender's calendar and a ticket context."""
from __future__ import annotations

import pytest

from desk.config import REPO_ROOT
from tickets.calendar import DeskCalendar, ExtraDaysOff, WorkingCalendar
from tickets.lender import load_lender

CALENDAR_FILE = REPO_ROOT / "tickets" / "calendar" / "id_extra_days_off.yml"


@pytest.fixture(scope="session")
def working_calendar() -> WorkingCalendar:
    return WorkingCalendar(ExtraDaysOff.load(CALENDAR_FILE))


@pytest.fixture(scope="session")
def desk_calendar(working_calendar: WorkingCalendar) -> DeskCalendar:
    return DeskCalendar(working_calendar, load_lender(REPO_ROOT / "lender" / "demo.yml").office_hours)


# --- database-backed fixtures ------------------------------------------------------------

import itertools  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime  # noqa: E402

from sanic import Sanic  # noqa: E402

from aduan.app import create_app
from aduan.services import Services  # noqa: E402
from desk.auth import StaffUser  # noqa: E402
from handoff.models import User  # noqa: E402
from storage.models import Conversation  # noqa: E402
from tickets.calendar import WIB  # noqa: E402
from tickets.context import TicketContext  # noqa: E402
from tickets.sla import load_policy  # noqa: E402

# Thu 19 Nov 2026 10:00 WIB: a working day, in office hours.
NOW = datetime(2026, 11, 19, 10, 0, tzinfo=WIB)
WA_PHONE = "+6281234567890"


class Clock:
    """A settable clock for the ticket context."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def ticket_ctx(desk_calendar, clock, event_bus) -> TicketContext:
    lender = load_lender(REPO_ROOT / "lender" / "demo.yml")
    ctx = TicketContext(lender=lender, calendar=desk_calendar, policy=load_policy("pojk-18-2018"),
                        events=event_bus, public_base_url="https://desk.example", tick_seconds=0)
    ctx.now = clock  # type: ignore[method-assign]
    return ctx


@pytest.fixture
async def staff(database) -> dict[str, StaffUser]:
    """One active member of staff per role (plus a second agent)."""
    users = {}
    async with database.transaction() as s:
        for name, role in [("agent", "agent"), ("agent2", "agent"), ("specialist", "specialist"),
                           ("supervisor", "supervisor"), ("admin", "admin")]:
            u = User(username=f"{name}-{uuid.uuid4().hex[:6]}", display_name=name.title(), password_hash="x",
                     role=role)
            s.add(u)
            await s.flush()
            users[name] = StaffUser(u.id, u.username, u.display_name, role)
    return users


_senders = itertools.count(1)


async def make_conversation(database, channel: str = "whatsapp", sender: str | None = None,
                            customer_id: str | None = None) -> Conversation:
    async with database.transaction() as s:
        conv = Conversation(channel=channel, sender=sender or f"tg-{next(_senders)}", customer_id=customer_id)
        s.add(conv)
    return conv


@pytest.fixture
async def wa_conversation(database) -> Conversation:
    return await make_conversation(database, "whatsapp", WA_PHONE)


def complaint(conversation_id: str, **over) -> dict:
    body = {
        "conversation_id": conversation_id, "channel": "whatsapp", "category": "payment",
        "priority": "medium", "complainant_type": "user", "customer_id": None,
        "full_name": "Budi Santoso", "phone": "0812-3456-7890", "email": None,
        "product": "pinjaman_tunai", "transaction_date": "2026-11-10",
        "chronology": "Saya sudah bayar tanggal 10 tapi status belum lunas.",
    }
    body.update(over)
    return body


@pytest.fixture
def app(settings, database, event_bus, ticket_ctx) -> Sanic:
    Sanic.test_mode = True
    services = Services(settings=settings, db=database, events=event_bus)
    services.tickets = ticket_ctx
    app = create_app(settings, services, name=f"tickets_{uuid.uuid4().hex[:8]}")

    @app.on_request(priority=100)
    async def _test_login(request):  # test-only stand-in for handoff's session middleware
        raw = request.headers.get("x-test-user")
        if raw:
            uid, role = raw.split(":")
            request.ctx.user = StaffUser(int(uid), f"u{uid}", f"User {uid}", role)

    return app


def as_user(user: StaffUser) -> dict[str, str]:
    return {"x-test-user": f"{user.id}:{user.role}"}


BOT_AUTH = {"authorization": "Bearer test-service-token"}
