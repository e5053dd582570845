"""``aduan create-user`` and friends: staff accounts from the command line; ``aduan nlu-export-reviewed``.

Passwords come on stdin (``--password-stdin``) so they never appear in the
process list or shell history.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select, update

from desk.config import Settings
from handoff import auth, nlu_review
from handoff.models import Role, User
from storage.db import Database, run_with_database


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

    export = sub.add_parser("nlu-export-reviewed",
                            help="write the borrower messages staff labelled (personal data replaced) for rasa train")
    export.add_argument("--out", type=Path, default=nlu_review.REVIEWED_FILE,
                        help=f"the file to write (default {nlu_review.REVIEWED_FILE})")
    export.set_defaults(func=nlu_export_command)


def _read_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def _run(job: Callable[[Database, argparse.Namespace], Awaitable[int]], args: argparse.Namespace) -> int:
    return run_with_database(Settings().database_url, lambda db: job(db, args))


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


async def _nlu_export(db: Database, args: argparse.Namespace) -> int:
    async with db.session() as session:
        count = await nlu_review.write_reviewed(session, args.out)
    print(f"nlu-export-reviewed: {count} reviewed lines -> {args.out}")
    return 0


def nlu_export_command(args: argparse.Namespace) -> int:
    return _run(_nlu_export, args)
