"""``aduan create-user`` and friends: staff accounts from the command line.

Passwords come on stdin (``--password-stdin``) so they never appear in the
process list or shell history.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import select, update

from desk.config import Settings
from handoff import auth
from handoff.models import Role, User
from storage.db import Database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the staff subcommands."""
    create = sub.add_parser("create-user", help="create a member of staff (agent, specialist, supervisor, admin)")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--display-name")
    create.add_argument("--capacity", type=int, default=5, help="concurrent conversations (round-robin limit)")
    create.add_argument("--language", choices=["id", "en"], default="id")
    create.add_argument("--password-stdin", action="store_true", required=True,
                        help="read the password from the first line of stdin")
    create.set_defaults(func=create_user_command)

    pw = sub.add_parser("set-password", help="set a staff password (read from stdin)")
    pw.add_argument("--username", required=True)
    pw.add_argument("--password-stdin", action="store_true", required=True)
    pw.set_defaults(func=set_password_command)

    deact = sub.add_parser("deactivate-user", help="stop a member of staff from signing in")
    deact.add_argument("--username", required=True)
    deact.set_defaults(func=deactivate_command)

    lst = sub.add_parser("list-users", help="list staff accounts")
    lst.set_defaults(func=list_users_command)


def _read_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def _run(coro_fn, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    db = Database(getattr(args, "database_url", None) or Settings().database_url)

    async def main() -> int:
        try:
            return await coro_fn(db, args)
        finally:
            await db.dispose()

    return asyncio.run(main())


async def _create(db: Database, args: argparse.Namespace) -> int:
    password = args.password
    try:
        async with db.transaction() as session:
            user = await auth.create_user(session, username=args.username, password=password, role=args.role,
                                          display_name=args.display_name, capacity=args.capacity,
                                          language=args.language)
    except auth.InvalidUser as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {user.role} {user.username} (id {user.id})")
    return 0


def create_user_command(args: argparse.Namespace) -> int:
    args.password = _read_password()
    return _run(_create, args)


async def _set_password(db: Database, args: argparse.Namespace) -> int:
    if len(args.password) < 10:
        print("error: the password needs at least 10 characters", file=sys.stderr)
        return 2
    async with db.transaction() as session:
        done = await session.scalar(update(User).where(User.username == args.username)
                                    .values(password_hash=auth.hash_password(args.password)).returning(User.id))
    if done is None:
        print(f"error: no user {args.username!r}", file=sys.stderr)
        return 1
    print(f"password set for {args.username}")
    return 0


def set_password_command(args: argparse.Namespace) -> int:
    args.password = _read_password()
    return _run(_set_password, args)


async def _deactivate(db: Database, args: argparse.Namespace) -> int:
    async with db.transaction() as session:
        done = await session.scalar(update(User).where(User.username == args.username)
                                    .values(active=False, available=False).returning(User.id))
    if done is None:
        print(f"error: no user {args.username!r}", file=sys.stderr)
        return 1
    print(f"deactivated {args.username}")
    return 0


def deactivate_command(args: argparse.Namespace) -> int:
    return _run(_deactivate, args)


async def _list(db: Database, args: argparse.Namespace) -> int:
    async with db.session() as session:
        for user in await session.scalars(select(User).order_by(User.username)):
            print(f"{user.id}\t{user.username}\t{user.role}\t{'active' if user.active else 'inactive'}")
    return 0


def list_users_command(args: argparse.Namespace) -> int:
    return _run(_list, args)
