"""The breach register: incidents, the borrowers affected, the 72-hour clock and draft notices.

UU 27/2022 Pasal 46(1): a breach ("kegagalan Pelindungan Data Pribadi") is
notified in writing within 3 x 24 hours to the people affected and to the
supervisory body; Pasal 46(2): the notice gives at least the data exposed,
when and how it was exposed, and what the controller does to handle and
recover from it. ``draft_notice`` writes that notice per borrower in Bahasa
Indonesia for staff to check and send. Admins record and update breaches;
every change is audited.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import audit
from privacy.context import PrivacyContext
from privacy.errors import InvalidPrivacyRequest, NotAllowed, RequestNotFound
from privacy.models import DATA_CLASSES, Breach, BreachSubject
from tickets.calendar import to_wib
from tickets.models import Ticket
from tickets.sla import Clock, deadline

ADMINS = frozenset({"admin"})


def _require_admin(role: str) -> None:
    if role not in ADMINS:
        raise NotAllowed("only admins keep the breach register")


class NewBreach(BaseModel):
    """A breach as an admin records it."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=10_000)
    remediation: str = Field(default="", max_length=10_000)
    data_classes: list[str] = Field(min_length=1)
    discovered_at: datetime
    occurred_at: datetime | None = None

    @field_validator("data_classes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(DATA_CLASSES)
        if unknown:
            raise ValueError(f"unknown data classes {sorted(unknown)}; known: {', '.join(DATA_CLASSES)}")
        return value

    @field_validator("discovered_at", "occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("times need a time zone offset")
        return value


async def record_breach(session: AsyncSession, ctx: PrivacyContext, role: str, actor_id: int,
                        data: NewBreach) -> Breach:
    """Record a breach and start its notification clock from discovery."""
    _require_admin(role)
    if data.discovered_at > ctx.now():
        raise InvalidPrivacyRequest("discovered_at is in the future")
    due = deadline(Clock.BREACH_NOTICE, policy=ctx.policy, calendar=ctx.calendar, received_at=data.discovered_at)
    breach = Breach(number=f"BR-{to_wib(data.discovered_at):%y%m%d}-{secrets.token_hex(2).upper()}",
                    title=data.title, description=data.description, remediation=data.remediation,
                    data_classes=data.data_classes, discovered_at=data.discovered_at,
                    occurred_at=data.occurred_at, notify_due=due, recorded_by=actor_id)
    session.add(breach)
    await session.flush()
    await audit.record(session, actor_id, "privacy.breach_recorded", "breach", breach.number,
                       data_classes=data.data_classes)
    return breach


async def get_breach(session: AsyncSession, number: str) -> Breach:
    breach = await session.scalar(select(Breach).where(Breach.number == number))
    if breach is None:
        raise RequestNotFound(f"no breach {number}")
    return breach


async def add_subjects(session: AsyncSession, role: str, actor_id: int, breach: Breach,
                       customer_ids: list[str]) -> int:
    """Add the borrowers affected (by customer id); returns how many were new."""
    _require_admin(role)
    known = set(await session.scalars(select(BreachSubject.customer_id).where(BreachSubject.breach_id == breach.id)))
    new = sorted({c.strip() for c in customer_ids if c.strip()} - known)
    session.add_all(BreachSubject(breach_id=breach.id, customer_id=c) for c in new)
    await session.flush()
    await audit.record(session, actor_id, "privacy.breach_subjects_added", "breach", breach.number, count=len(new))
    return len(new)


async def mark_notified(session: AsyncSession, ctx: PrivacyContext, role: str, actor_id: int, breach: Breach,
                        customer_ids: list[str] | None = None) -> int:
    """Record that the notices went out (to the listed borrowers, or to all not yet notified)."""
    _require_admin(role)
    now = ctx.now()
    query = select(BreachSubject).where(BreachSubject.breach_id == breach.id, BreachSubject.notified_at.is_(None))
    if customer_ids is not None:
        query = query.where(BreachSubject.customer_id.in_(customer_ids))
    subjects = list(await session.scalars(query))
    for subject in subjects:
        subject.notified_at, subject.notified_in_time = now, now <= breach.notify_due
    pending = await session.scalar(select(BreachSubject.id).where(
        BreachSubject.breach_id == breach.id, BreachSubject.notified_at.is_(None)).limit(1))
    if pending is None:
        breach.status = "notified"
    await audit.record(session, actor_id, "privacy.breach_notified", "breach", breach.number, count=len(subjects),
                       in_time=now <= breach.notify_due)
    return len(subjects)


@dataclass(frozen=True)
class DraftNotice:
    customer_id: str
    text: str


def _fmt(at: datetime | None) -> str:
    return f"{to_wib(at):%d-%m-%Y pukul %H.%M} WIB" if at else "belum diketahui"


async def draft_notices(session: AsyncSession, ctx: PrivacyContext, breach: Breach) -> list[DraftNotice]:
    """One written notice per borrower affected, in Bahasa Indonesia, with what Pasal 46(2) requires."""
    subjects = list(await session.scalars(select(BreachSubject).where(BreachSubject.breach_id == breach.id)
                                          .order_by(BreachSubject.customer_id)))
    exposed = ", ".join(DATA_CLASSES[c] for c in breach.data_classes if c in DATA_CLASSES)
    notices = []
    for subject in subjects:
        name = await session.scalar(select(Ticket.full_name).where(
            Ticket.customer_id == subject.customer_id, Ticket.full_name != "").order_by(Ticket.id.desc()).limit(1))
        greeting = f"Yth. Bapak/Ibu {name}," if name else "Yth. Bapak/Ibu nasabah,"
        text = "\n\n".join([
            greeting,
            f"dengan ini {ctx.brand or 'kami'} memberitahukan bahwa telah terjadi kegagalan pelindungan data pribadi "
            f"yang menyangkut data Anda (nomor kejadian {breach.number}).",
            f"Data pribadi yang terungkap: {exposed}.",
            f"Waktu dan cara terungkapnya: {breach.description.strip()} Kejadian ini terjadi "
            f"{_fmt(breach.occurred_at)} dan kami ketahui pada {_fmt(breach.discovered_at)}.",
            "Upaya penanganan dan pemulihan yang kami lakukan: "
            f"{breach.remediation.strip() or 'sedang kami lakukan dan akan kami sampaikan kepada Anda.'}",
            "Demi keamanan Anda, waspadai pesan atau telepon yang mengatasnamakan kami dan jangan pernah memberikan "
            "kode OTP, PIN, atau kata sandi kepada siapa pun. Jika ada pertanyaan, silakan hubungi layanan "
            "pengaduan kami.",
            "Pemberitahuan ini kami sampaikan sesuai Pasal 46 UU 27/2022 tentang Pelindungan Data Pribadi.",
            "Hormat kami,\n" + (ctx.brand or ""),
        ])
        notices.append(DraftNotice(subject.customer_id, text))
    return notices
