"""The receipt (tanda bukti terima): chat text and the data of the printable page."""
from __future__ import annotations

from dataclasses import dataclass

from tickets.context import TicketContext
from tickets.models import CATEGORY_LABELS, Ticket
from tickets.wording import STATUS_LABELS, for_channel, tanggal

CONTACT_LABELS = {"whatsapp": "WhatsApp", "email": "E-mail", "phone": "Telepon", "address": "Alamat"}
# Which office hours (lender file ``office_hours``) apply to each CS contact: the WhatsApp
# number is served with the WhatsApp hours, the rest with the lender's default hours.
CONTACT_HOURS = {"whatsapp": "whatsapp", "phone": "default", "email": "default", "address": "default"}
CHANNEL_NAMES = {"whatsapp": "WhatsApp", "telegram": "Telegram", "inapp": "chat di aplikasi",
                 "email": "e-mail", "phone": "telepon", "walk_in": "kantor kami", "social": "media sosial"}


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
    contacts: list[tuple[str, str, str]]
    """(label, value, office hours of that contact)."""
    channel_name: str
    hours_text: str
    """When people answer on the ticket's channel (``DeskCalendar.hours_text``)."""
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
        contacts=[(CONTACT_LABELS.get(k, k.title()), v, ctx.calendar.hours_text(CONTACT_HOURS.get(k, "default")))
                  for k, v in ctx.lender.cs_contacts.items()],
        channel_name=CHANNEL_NAMES.get(ticket.channel, ticket.channel),
        hours_text=ctx.calendar.hours_text(ticket.channel),
        link=link,
    )


def receipt_text(ticket: Ticket, ctx: TicketContext, channel: str | None = None) -> str:
    """The chat receipt, formatted for ``channel`` (the ticket's channel by default).

    One message: no blank lines, because Rasa's REST channel cuts a bot text at
    every blank line and the borrower would get the receipt in pieces. The
    connectors still split it at the provider's length limit (connectors/textsplit.py).
    """
    r = build_receipt(ticket, ctx)
    lines = [
        f"*Tanda Bukti Terima Pengaduan {r.brand}*",
        f"Nomor tiket: *{r.number}*",
        f"Kategori: {r.category}",
        f"Diterima: {r.received}",
    ]
    if r.first_response_due:
        lines.append(f"Tanggapan pertama paling lambat: {r.first_response_due}")
    if r.resolution_due:
        lines.append(f"Penyelesaian paling lambat: {r.resolution_due}")
    lines += ["Simpan nomor tiket ini. Anda dapat menanyakan perkembangan pengaduan dari kanal mana "
              "pun dengan menyebutkan nomor tiket tersebut.",
              f"Jam layanan petugas di {r.channel_name}: {r.hours_text}.",
              "Kontak layanan pelanggan:"]
    lines += [f"- {label}: {value}" + (f" ({hours})" if label != CONTACT_LABELS["address"] else "")
              for label, value, hours in r.contacts]
    if r.link:
        lines.append(f"Bukti terima yang dapat dicetak: {r.link}")
    return for_channel("\n".join(lines), channel or ticket.channel)
