"""``aduan create-user`` and friends."""
from __future__ import annotations

import asyncio
import io

from sqlalchemy import select

from aduan.cli import main
from handoff import auth
from handoff.models import User
from storage.db import Database


def _run(monkeypatch, argv: list[str], stdin: str = "") -> int:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_create_user_reads_the_password_from_stdin(database, database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert _run(monkeypatch, ["create-user", "--username", "ani", "--role", "supervisor", "--display-name", "Ani",
                              "--password-stdin"], "a long password\n") == 0
    assert "created supervisor ani" in capsys.readouterr().out



    async def load() -> User:
        db = Database(database_url)
        try:
            async with db.session() as session:
                return (await session.scalars(select(User).where(User.username == "ani"))).one()
        finally:
            await db.dispose()

    user = asyncio.run(load())
    assert user.role == "supervisor" and user.display_name == "Ani"
    assert auth.verify_password(user.password_hash, "a long password")
    # Same name again, short password, unknown role: clear errors, nothing created.
    assert _run(monkeypatch, ["create-user", "--username", "ani", "--role", "agent", "--password-stdin"],
                "another long one\n") == 2
    assert _run(monkeypatch, ["create-user", "--username", "budi", "--role", "agent", "--password-stdin"],
                "short\n") == 2
    assert "at least 10" in capsys.readouterr().err
    assert _run(monkeypatch, ["deactivate-user", "--username", "ani"]) == 0
    assert asyncio.run(load()).active is False
