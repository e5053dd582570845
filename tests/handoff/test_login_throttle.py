"""Staff sign-in is throttled per account and per address, across instances, audited, and says nothing."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sanic import Sanic
from sqlalchemy import func, select, update

from aduan.app import create_app
from aduan.services import Services
from handoff.audit import recent
from handoff.config import HandoffSettings
from handoff.models import LoginAttempt
from storage.base import utcnow
from storage.db import Database
from tests.handoff.conftest import PASSWORD, Client


def page_message(response) -> str:
    """The page without its per-request token: what a person (or a script) can compare."""
    return re.sub(r'value="[^"]+"', 'value=""', response.text)


async def age_attempts(database, minutes: float) -> None:
    async with database.transaction() as s:
        await s.execute(update(LoginAttempt).values(created_at=utcnow() - timedelta(minutes=minutes)))


async def test_twenty_wrong_passwords_lock_the_account_until_the_window_passes(client, make_user, database) -> None:
    await make_user("ani")
    answers = [await client.login("ani", f"wrong password {i}") for i in range(20)]
    assert [a.status for a in answers] == [401] * 20
    locked = await client.login("ani", PASSWORD)
    assert locked.status == 401  # the right password, straight after: refused
    assert page_message(locked) == page_message(answers[0])
    async with database.session() as s:
        actions = [r.action for r in await recent(s)]
        counted = await s.scalar(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.throttled))
    assert actions.count("login.failed") == 5 and actions.count("login.throttled") == 16
    assert counted == 16
    await age_attempts(database, 16)  # the lock is temporary
    assert (await client.login("ani", PASSWORD)).status == 302


async def test_unknown_user_wrong_password_and_locked_read_the_same(client, make_user) -> None:
    await make_user("ani")
    unknown = await client.login("nobody", "whatever123456")
    wrong = await client.login("ani", "wrong password!")
    for _ in range(5):
        await client.login("ani", "wrong password!")
    locked = await client.login("ani", PASSWORD)
    assert unknown.status == wrong.status == locked.status == 401
    assert page_message(unknown) == page_message(wrong) == page_message(locked)
    assert "Gagal masuk" in unknown.text


async def test_a_success_clears_the_account_count(client, make_user) -> None:
    await make_user("ani")
    for _ in range(4):
        await client.login("ani", "wrong password!")
    assert (await client.login("ani", PASSWORD)).status == 302
    for _ in range(4):
        await client.login("ani", "wrong password!")
    assert (await client.login("ani", PASSWORD)).status == 302


async def test_one_address_spraying_many_accounts_is_locked(client, make_user, services, database) -> None:
    # The installed settings object is the one the console reads at request time.
    services.handoff.login_max_failures_per_address = 3
    await make_user("ani")
    for name in ("budi", "sri", "tono"):
        assert (await client.login(name, "Password123!")).status == 401
    assert (await client.login("ani", PASSWORD)).status == 401
    async with database.session() as s:
        (entry,) = await recent(s, action="login.throttled")
    assert entry.details["locked"] == "address" and entry.object_id == "ani"


async def test_the_lock_holds_across_desk_instances(client, make_user, settings, services, database_url) -> None:
    """Counters live in the database: failures on one instance lock the account on another."""
    await make_user("ani")
    for _ in range(5):
        assert (await client.login("ani", "wrong password!")).status == 401
    other_db = Database(database_url)
    other = Services(settings=settings, db=other_db, events=services.events, handoff=services.handoff,
                     tickets=services.tickets)
    Sanic.test_mode = True
    other_client = Client(create_app(settings, other, name=f"handoff_other_{uuid.uuid4().hex[:8]}"))
    try:
        assert (await other_client.login("ani", PASSWORD)).status == 401
    finally:
        await other_db.dispose()
