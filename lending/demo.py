"""The demo lending core: answers from the SAMPLE borrowers in ``demo_data.yml``."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from desk.phone import InvalidPhone, normalise_phone
from desk.lending import Account, Application, Loan

DEMO_DATA = Path(__file__).with_name("demo_data.yml")


def normalise_name(name: str) -> str:
    """Case- and space-insensitive form of a full name ("  budi   SANTOSO " → "budi santoso")."""
    return " ".join(name.split()).casefold()


class DemoLendingCore:
    """A ``LendingCore`` over seeded sample data, loaded once at start-up."""

    def __init__(self, path: Path = DEMO_DATA) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        self.sample = bool(data.get("sample", True))
        self._accounts: dict[str, Account] = {}
        self._phones: dict[str, str] = {}
        # (normalised name, +62 phone, loan id) → customer id
        self._identities: dict[tuple[str, str, str], str] = {}
        for raw in data.get("customers", []):
            account = _account(raw, self.sample)
            self._accounts[account.customer_id] = account
            phone = normalise_phone(str(raw["phone"]))
            self._phones[account.customer_id] = phone
            ids = [loan.loan_id for loan in account.loans] + [a.application_id for a in account.applications]
            for loan_id in ids:
                self._identities[(normalise_name(account.full_name), phone, loan_id.upper())] = account.customer_id

    async def verify(self, *, full_name: str, phone: str, loan_id: str) -> str | None:
        """The customer id when all three belong together; None otherwise (never says which failed)."""
        try:
            normalised_phone = normalise_phone(phone)
        except InvalidPhone:
            return None
        return self._identities.get((normalise_name(full_name), normalised_phone, loan_id.strip().upper()))

    def sample_identities(self) -> list[tuple[Account, str]]:
        """Every sample account with its registered phone (demo pages and ``aduan demo-logins``)."""
        return [(account, self._phones[cid]) for cid, account in self._accounts.items()]

    async def account(self, customer_id: str) -> Account | None:
        """The sample account of ``customer_id``."""
        return self._accounts.get(customer_id)


def _account(raw: dict[str, Any], sample: bool) -> Account:
    loans = tuple(
        Loan(loan_id=str(l["loan_id"]), product=str(l["product"]), status=str(l["status"]),
             bill_amount=int(l["bill_amount"]), due_date=_date(l.get("due_date")),
             late_fee=int(l.get("late_fee", 0)), outstanding=int(l.get("outstanding", 0)))
        for l in raw.get("loans") or []
    )
    apps = tuple(
        Application(application_id=str(a["application_id"]), product=str(a["product"]),
                    status=str(a["status"]), status_label=str(a["status_label"]),
                    updated_at=_datetime(a["updated_at"]))
        for a in raw.get("applications") or []
    )
    return Account(customer_id=str(raw["customer_id"]), full_name=str(raw["full_name"]),
                   sample=sample, loans=loans, applications=apps, phone=normalise_phone(str(raw["phone"])))


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
