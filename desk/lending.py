"""The core's port to the lender's core system (the lending part implements it).

The desk asks two questions: "is this person who they say they are?" and
"what does this customer's account look like?". A deployment implements
``LendingCore`` against its own system; ``lending.demo`` answers from
seeded sample data.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Loan:
    loan_id: str
    product: str
    status: str
    bill_amount: int
    """Instalment due on ``due_date``, in rupiah."""
    due_date: date | None
    late_fee: int
    outstanding: int


@dataclass(frozen=True, slots=True)
class Application:
    application_id: str
    product: str
    status: str
    status_label: str
    """Bahasa Indonesia label shown to the borrower."""
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Account:
    customer_id: str
    full_name: str
    sample: bool
    loans: tuple[Loan, ...] = field(default_factory=tuple)
    applications: tuple[Application, ...] = field(default_factory=tuple)
    #: The registered phone (+62…), so the bot need not ask a verified borrower for it.
    phone: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The desk API's answer body (dates as ISO-8601)."""
        data = asdict(self)
        data["loans"] = [
            {**loan, "due_date": loan["due_date"].isoformat() if loan["due_date"] else None}
            for loan in data["loans"]
        ]
        data["applications"] = [
            {**app, "updated_at": app["updated_at"].isoformat()} for app in data["applications"]
        ]
        return data


class LendingCore(Protocol):
    """What the desk needs from the lender's core system."""

    async def verify(self, *, full_name: str, phone: str, loan_id: str) -> str | None:
        """The customer id if name, registered phone (+62…) and loan/order id all belong together, else None."""
        ...

    async def account(self, customer_id: str) -> Account | None:
        """The account summary of ``customer_id``, or None if there is no such customer."""
        ...
