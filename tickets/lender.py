"""The part of a lender's content file (lender/*.yml) that tickets need.

Ticket prefix, office hours, CS contacts and SLA overrides. Read once per
process; a deployment points ``LENDER_CONTENT`` at its own copy.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, field_validator

_PREFIX = re.compile(r"^[A-Z]{2,5}$")


class OfficeHoursSpec(BaseModel):
    """Opening hours of one channel (Asia/Jakarta)."""

    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    open: str = "09:00"
    close: str = "17:00"
    closed_on_holidays: bool = True


# The next step after a disagreement when the lender file says nothing: the external
# dispute-resolution body (POJK 22/2023) and OJK's consumer complaint portal.
DEFAULT_NEXT_STEP = (
    "Jika Anda belum sepakat dengan penyelesaian kami, Anda dapat menempuh penyelesaian sengketa melalui "
    "Lembaga Alternatif Penyelesaian Sengketa Sektor Jasa Keuangan (LAPS SJK, www.lapssjk.id) atau melalui "
    "pengadilan. Anda juga dapat menyampaikan pengaduan ke OJK lewat Kontak OJK 157 (telepon 157, "
    "WhatsApp 081-157-157-157, kontak157.ojk.go.id).")


class DisputePolicy(BaseModel):
    """What the desk does when a borrower disputes a resolution (lender file ``disputes:``)."""

    # reopen: the ticket goes back to in_progress for the person who handled it;
    # escalate: it goes back and up to the complaint specialist.
    on_dispute: Literal["reopen", "escalate"] = "reopen"
    next_step: str = DEFAULT_NEXT_STEP


class CauseSpec(BaseModel):
    """One cause a complaint can be closed with (lender file ``complaint_causes:``)."""

    code: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    label: str = Field(min_length=1, max_length=200)


class OfficerSpec(BaseModel):
    """The officer responsible for complaint handling, named on the filed report."""

    name: str = Field(min_length=1, max_length=128)
    title: str = Field(default="", max_length=128)


class LenderContent(BaseModel):
    """What tickets (and the reports' filer block) read from the lender file."""

    name: str
    brand: str
    ticket_prefix: str
    office_hours: dict[str, OfficeHoursSpec]
    cs_contacts: dict[str, str]
    sla_overrides: dict[str, Any] = Field(default_factory=dict)
    disputes: DisputePolicy = Field(default_factory=DisputePolicy)
    # The licence number OJK gave the lender (lender.ojk_licence).
    ojk_licence: str = ""
    complaint_officer: OfficerSpec | None = None
    # The causes staff pick from when resolving or rejecting (reports count by them).
    complaint_causes: list[CauseSpec] = Field(default_factory=list)

    @field_validator("complaint_causes")
    @classmethod
    def _unique_causes(cls, value: list[CauseSpec]) -> list[CauseSpec]:
        codes = [c.code for c in value]
        if len(set(codes)) != len(codes):
            raise ValueError("complaint_causes lists a code twice")
        return value

    @property
    def cause_labels(self) -> dict[str, str]:
        """Cause code → the label staff and the report show."""
        return {c.code: c.label for c in self.complaint_causes}

    @field_validator("ticket_prefix")
    @classmethod
    def _prefix_is_readable(cls, value: str) -> str:
        # Letters only, so a prefix can never be confused with the digits that follow.
        value = value.strip().upper()
        if not _PREFIX.match(value):
            raise ValueError("ticket_prefix must be 2 to 5 letters A-Z")
        return value


def parse_lender(raw: dict[str, Any]) -> LenderContent:
    """Build ``LenderContent`` from the parsed YAML of a lender file."""
    lender = raw.get("lender") or {}
    hours = raw.get("office_hours") or {}
    if "default" not in hours:
        hours = {"default": {}, **hours}
    return LenderContent(
        name=lender.get("name", ""),
        brand=lender.get("brand", lender.get("name", "")),
        ticket_prefix=lender.get("ticket_prefix", "ADU"),
        office_hours={k: OfficeHoursSpec(**(v or {})) for k, v in hours.items()},
        cs_contacts={k: str(v) for k, v in (raw.get("cs_contacts") or {}).items()},
        sla_overrides=raw.get("sla_overrides") or {},
        disputes=DisputePolicy(**(raw.get("disputes") or {})),
        ojk_licence=str(lender.get("ojk_licence") or "").strip(),
        complaint_officer=lender.get("complaint_officer") or None,
        complaint_causes=raw.get("complaint_causes") or [],
    )


@lru_cache(maxsize=8)
def load_lender(path: Path) -> LenderContent:
    """Read and validate a lender content file."""
    with Path(path).open(encoding="utf-8") as fh:
        return parse_lender(yaml.safe_load(fh) or {})
