"""Demo staff for `make run`: created only in demo mode, never in production.

The sample borrowers live in ``lending/demo_data.yml``; this module adds the
staff who can sign in to the console and prints their logins.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from handoff.auth import create_user
from handoff.models import User
from storage.db import Database

DEMO_PASSWORD = "aduan-demo"


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: str
    display_name: str


DEMO_STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("agent1", "agent", "Agen Satu (demo)"),
    DemoStaff("agent2", "agent", "Agen Dua (demo)"),
    DemoStaff("specialist", "specialist", "Spesialis Pengaduan (demo)"),
    DemoStaff("spv", "supervisor", "Supervisor (demo)"),
    DemoStaff("admin", "admin", "Admin (demo)"),
)


async def seed_demo_staff(db: Database) -> list[str]:
    """Create the demo staff that do not exist yet; return the usernames created."""
    created: list[str] = []
    async with db.transaction() as session:
        existing = set((await session.scalars(select(User.username))).all())
        for staff in DEMO_STAFF:
            if staff.username in existing:
                continue
            await create_user(session, username=staff.username, password=DEMO_PASSWORD,
                              role=staff.role, display_name=staff.display_name)
            created.append(staff.username)
    return created


def demo_logins_text() -> str:
    """The logins `make run` prints."""
    lines = [f"  Demo logins (password for all: {DEMO_PASSWORD}):"]
    lines += [f"    {s.username:<11} {s.role}" for s in DEMO_STAFF]
    return "\n".join(lines)
