"""Demo staff: created once, can sign in, never in production."""
from __future__ import annotations

from sqlalchemy import select

from aduan.commands import cmd_seed_demo
from aduan.demo import DEMO_PASSWORD, DEMO_STAFF, seed_demo_staff
from handoff.auth import authenticate
from handoff.models import User


async def test_seeding_is_idempotent_and_logins_work(database) -> None:
    first = await seed_demo_staff(database)
    second = await seed_demo_staff(database)
    assert first == [s.username for s in DEMO_STAFF]
    assert second == []
    async with database.session() as session:
        roles = dict((await session.execute(select(User.username, User.role))).all())
        assert roles == {s.username: s.role for s in DEMO_STAFF}
        assert await authenticate(session, "spv", DEMO_PASSWORD) is not None
        assert await authenticate(session, "spv", "wrong-password") is None


def test_seed_refuses_outside_demo_mode(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DEMO_MODE", "false")
    assert cmd_seed_demo(None) == 2  # type: ignore[arg-type]
    assert "never created in production" in capsys.readouterr().err
