"""The receipt (tanda bukti terima): chat text and the data of the printable page."""
from __future__ import annotations

from dataclasses import dataclass

from tickets.context import TicketContext
from tickets.models import CATEGORY_LABELS, Ticket
from tickets.wording import STATUS_LABELS, for_channel, tanggal

CONTACT_LABELS = {"whatsapp": "WhatsApp", "email": "E-mail", "phone": "Telepon", "address": "Alamat"}


@dataclass(frozen=True)
class Receipt:
    """Everything a receipt shows."""

    number: str
    brand: str
    lender_name: str
    category: str
    status: str
    received: str
    first_response_due: str | None
    resolution_due: str | None
    contacts: list[tuple[str, str]]
    hours_text: str
    link: str | None


def build_receipt(ticket: Ticket, ctx: TicketContext) -> Receipt:
    """Collect the receipt's content for ``ticket``."""
    link = f"{ctx.public_base_url}/tickets/receipt/{ticket.receipt_token}" if ticket.receipt_token else None
    return Receipt(
        number=ticket.number,
        brand=ctx.lender.brand,
        lender_name=ctx.lender.name,
        category=CATEGORY_LABELS.get(ticket.category, ticket.category),
        status=STATUS_LABELS.get(ticket.status, ticket.status),
        received=tanggal(ticket.received_at),
        first_response_due=tanggal(ticket.first_response_due) if ticket.first_response_due else None,
        resolution_due=tanggal(ticket.resolution_due) if ticket.resolution_due else None,
        contacts=[(CONTACT_LABELS.get(k, k.title()), v) for k, v in ctx.lender.cs_contacts.items()],
        hours_text=ctx.calendar.hours_text("default"),
        link=link,
    )


def receipt_text(ticket: Ticket, ctx: TicketContext, channel: str | None = None) -> str:
    """The chat receipt, formatted for ``channel`` (the ticket's channel by default)."""
    r = build_receipt(ticket, ctx)
    lines = [
        f"*Tanda Bukti Terima Pengaduan {r.brand}*",
        "",
        f"Nomor tiket: *{r.number}*",
        f"Kategori: {r.category}",
        f"Diterima: {r.received}",
    ]
    if r.first_response_due:
        lines.append(f"Tanggapan pertama paling lambat: {r.first_response_due}")
    if r.resolution_due:
        lines.append(f"Penyelesaian paling lambat: {r.resolution_due}")
    lines += ["", "Simpan nomor tiket ini. Anda dapat menanyakan perkembangan pengaduan dari kanal mana "
                  "pun dengan menyebutkan nomor tiket tersebut.", "",
              f"Layanan pelanggan ({r.hours_text}):"]
    lines += [f"- {label}: {value}" for label, value in r.contacts]
    if r.link:
        lines += ["", f"Bukti terima yang dapat dicetak: {r.link}"]
    return for_channel("\n".join(lines), channel or ticket.channel)
