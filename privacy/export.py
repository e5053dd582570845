"""The access and copy export: everything the desk holds about one borrower (UU 27/2022 Pasal 32).

``collect`` gathers, for one verified customer id, every row of every table
that mentions the borrower, plus the processing record (who read or changed
it, from the audit log). ``COVERAGE`` names how each table is reached and
``NOT_EXPORTED`` why a table that mentions a borrower is left out; the test
``tests/privacy/test_export.py`` fails when a new table with a customer
column is in neither, so the export cannot silently fall behind the schema.

Redaction (the lender file's ``privacy.staff_names_in_export``): staff are
named by role, not name, unless the lender chooses names; free text written
by someone else (agents' messages, notes, ticket chronologies typed by
staff, history entries) has phone numbers, NIK and e-mail addresses masked,
since they may be a third party's. The borrower's own messages are given
back as they wrote them. Values sealed at rest (storage.sealed: chronologies,
notes, summaries, history, e-mail, ID-card address) are opened first, so the
copy holds what was written, not the stored masks or ciphertexts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.models import Attachment
from desk.masking import mask_text
from desk.templating import render_text
from handoff import audit
from handoff.models import AuditEntry, Handoff, Note, User
from privacy.context import PrivacyContext
from privacy.models import (KIND_LABELS, Breach, BreachSubject, ErasureItem, LegalHold, RelationshipEnd, RightsAlert,
                            RightsRequest)
from privacy.relationships import OBJECT_TYPE as CUSTOMER_OBJECT
from privacy.service import OBJECT_TYPE, require_verified
from storage.models import Conversation, Message, VerificationAttempt
from storage.sealed import opened, sealed
from tickets.calendar import to_wib
from tickets.models import Ticket, TicketAlert, TicketConversation, TicketEvent

EXPORT_VERSION = 1

# Table -> how the export reaches its rows for one borrower.
COVERAGE: dict[str, str] = {
    "conversations": "conversations.customer_id",
    "messages": "messages of the borrower's conversations",
    "attachments": "files of the borrower's conversations, and identity documents kept after them "
                   "(attachments.customer_id): name, type, size, state (the stored bytes stay behind the audited "
                   "console link)",
    "handoffs": "handoffs of the borrower's conversations (ratings and rating comments)",
    "notes": "notes on the borrower's conversations (staff text, redacted)",
    "verification_attempts": "identity checks in the borrower's conversations or tied to the borrower "
                             "(verification_attempts.customer_id; keyed hashes only)",
    "tickets": "tickets.customer_id, and tickets filed in the borrower's conversations",
    "ticket_events": "history of the borrower's tickets",
    "ticket_conversations": "links of the borrower's tickets to conversations",
    "ticket_alerts": "alerts and status updates raised on the borrower's tickets",
    "rights_requests": "rights_requests.customer_id",
    "rights_alerts": "alerts raised on the borrower's rights requests",
    "audit_log": "the processing record: entries about the borrower's conversations, tickets and requests",
    "legal_holds": "holds on the borrower's records: reason and dates (the supervisor's note is withheld)",
    "erasure_items": "records an erasure request is holding, with the reason",
    "breach_subjects": "breaches that affected the borrower: what was exposed and when they were told",
    "relationship_ends": "relationship_ends.customer_id: when the lender's core said the relationship ended",
}

# Tables that mention a borrower but are not exported, and why.
NOT_EXPORTED: dict[str, str] = {
    "outbox": "delivery bookkeeping of messages already exported under messages (same text, same times)",
}


def _iso(at: datetime | date | None) -> str | None:
    if at is None:
        return None
    return to_wib(at).isoformat() if isinstance(at, datetime) else at.isoformat()


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return _iso(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _row(obj: Any, *, drop: tuple[str, ...] = (), redact: tuple[str, ...] = ()) -> dict[str, Any]:
    """One row as exported: sealed columns opened (storage.sealed; their ciphertexts left out), then
    ``redact`` columns masked."""
    out: dict[str, Any] = {}
    for column in obj.__table__.columns:
        if column.key in drop or column.key.endswith("_enc"):
            continue
        value = opened(obj, column.key) if sealed(type(obj), column.key) else getattr(obj, column.key)
        if column.key in redact and isinstance(value, str):
            value = mask_text(value)
        out[column.key] = _plain(value)
    return out


@dataclass
class Export:
    """One borrower's data, table by table, and how staff appear in it."""

    customer_id: str
    request_number: str
    generated_at: datetime
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    processing_record: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The machine-readable export (UTF-8 JSON, times in WIB with their offset)."""
        return {"format": "aduan-personal-data-export", "version": EXPORT_VERSION,
                "customer_id": self.customer_id, "rights_request": self.request_number,
                "generated_at": _iso(self.generated_at), "tables": self.tables,
                "processing_record": self.processing_record}

    def json_text(self) -> str:
        return json.dumps(self.as_json(), ensure_ascii=False, indent=2, sort_keys=True)


class _Staff:
    """Names staff by role (or name, if the lender says so) in the export."""

    def __init__(self, users: dict[int, User], names: bool) -> None:
        self._users = users
        self._names = names

    def __call__(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        user = self._users.get(user_id)
        if user is None:
            return "staff"
        return user.display_name if self._names else f"staff ({user.role})"


async def collect(session: AsyncSession, ctx: PrivacyContext, request: RightsRequest) -> Export:
    """Everything held about the verified requester of ``request`` (read-only)."""
    customer_id = require_verified(request)
    users = {u.id: u for u in await session.scalars(select(User))}
    staff = _Staff(users, ctx.config.staff_names_in_export == "name")
    export = Export(customer_id=customer_id, request_number=request.number, generated_at=ctx.now())
    t = export.tables

    conversations = list(await session.scalars(
        select(Conversation).where(Conversation.customer_id == customer_id).order_by(Conversation.id)))
    conv_ids = [c.id for c in conversations]
    conv_public = [c.public_id for c in conversations]
    # The borrower's own copy shows the address and phone in clear (decrypted), not the keyed hash
    # and ciphertext the desk stores them as (desk.pii).
    t["conversations"] = [{**_row(c, drop=("lease_owner", "lease_until", "sender_key")),
                           "sender": c.clear_sender()} for c in conversations]

    messages = list(await session.scalars(
        select(Message).where(Message.conversation_id.in_(conv_ids)).order_by(Message.conversation_id, Message.seq)))
    t["messages"] = []
    for m in messages:
        row = _row(m, drop=("attempts", "last_error", "state"),
                   redact=() if m.author == "borrower" else ("text",))
        # The borrower's own words as written (opened when stored masked); others' stay masked.
        row["text"] = m.clear_text() if m.author == "borrower" else mask_text(m.clear_text())
        row["agent_id"] = staff(m.agent_id)
        t["messages"].append(row)

    # Storage keys and provider references are internal addresses, not data about the borrower.
    t["attachments"] = [_row(a, drop=("storage_key", "source_ref"))
                        for a in await session.scalars(select(Attachment).where(or_(
                            Attachment.conversation_id.in_(conv_ids), Attachment.customer_id == customer_id))
                            .order_by(Attachment.id))]

    handoffs = list(await session.scalars(select(Handoff).where(Handoff.conversation_id.in_(conv_ids))
                                          .order_by(Handoff.id)))
    t["handoffs"] = []
    for h in handoffs:
        row = _row(h, redact=("closing_summary",))
        row["assigned_to"], row["closed_by"] = staff(h.assigned_to), staff(h.closed_by)
        t["handoffs"].append(row)
    t["notes"] = []
    for n in await session.scalars(select(Note).where(Note.conversation_id.in_(conv_ids)).order_by(Note.id)):
        row = _row(n, redact=("text",))
        row["author_id"] = staff(n.author_id)
        t["notes"].append(row)
    t["verification_attempts"] = [_row(v) for v in await session.scalars(
        select(VerificationAttempt).where(or_(VerificationAttempt.conversation_public_id.in_(conv_public),
                                              VerificationAttempt.customer_id == customer_id))
        .order_by(VerificationAttempt.id))]

    linked = select(TicketConversation.ticket_id).where(TicketConversation.conversation_id.in_(conv_ids))
    tickets = list(await session.scalars(select(Ticket).where(
        or_(Ticket.customer_id == customer_id, Ticket.id.in_(linked))).order_by(Ticket.id)))
    ticket_ids = [x.id for x in tickets]
    t["tickets"] = []
    for x in tickets:
        row = _row(x, drop=("idempotency_key", "receipt_token", "last_event_seq", "phone_key"),
                   redact=("chronology",))
        row["phone"] = x.clear_phone()
        row["assignee_id"] = staff(x.assignee_id)
        t["tickets"].append(row)
    t["ticket_events"] = []
    for e in await session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(ticket_ids))
                                   .order_by(TicketEvent.ticket_id, TicketEvent.seq)):
        row = _row(e)
        row["data"] = json.loads(mask_text(json.dumps(row["data"], ensure_ascii=False)))
        if e.actor.startswith("user:") and e.actor[5:].isdigit():
            row["actor"] = staff(int(e.actor[5:]))
        t["ticket_events"].append(row)
    t["ticket_conversations"] = [_row(tc) for tc in await session.scalars(
        select(TicketConversation).where(TicketConversation.ticket_id.in_(ticket_ids)))]
    t["ticket_alerts"] = [_row(a, drop=("recipients",)) for a in await session.scalars(
        select(TicketAlert).where(TicketAlert.ticket_id.in_(ticket_ids)).order_by(TicketAlert.id))]

    requests = list(await session.scalars(select(RightsRequest).where(RightsRequest.customer_id == customer_id)
                                          .order_by(RightsRequest.id)))
    t["rights_requests"] = []
    for r in requests:
        row = _row(r, drop=("status_token",))
        row["requester_contact"] = r.clear_contact()
        for key in ("recorded_by", "assignee_id", "closed_by"):
            row[key] = staff(row[key])
        t["rights_requests"].append(row)
    t["rights_alerts"] = [_row(a, drop=("recipients",)) for a in await session.scalars(
        select(RightsAlert).where(RightsAlert.request_id.in_([r.id for r in requests])).order_by(RightsAlert.id))]

    t["legal_holds"] = []
    for hold in await session.scalars(select(LegalHold).where(or_(
            LegalHold.customer_id == customer_id,
            (LegalHold.record_type == "conversation") & LegalHold.record_id.in_(conv_ids),
            (LegalHold.record_type == "ticket") & LegalHold.record_id.in_(ticket_ids))).order_by(LegalHold.id)):
        row = _row(hold, drop=("note",))
        row["set_by"], row["lifted_by"] = staff(hold.set_by), staff(hold.lifted_by)
        t["legal_holds"].append(row)
    t["erasure_items"] = [_row(i) for i in await session.scalars(
        select(ErasureItem).where(ErasureItem.request_id.in_([r.id for r in requests])).order_by(ErasureItem.id))]

    t["breach_subjects"] = [
        {**_row(subject), "breach": breach.number, "title": breach.title, "data_classes": breach.data_classes,
         "discovered_at": _iso(breach.discovered_at)}
        for subject, breach in (await session.execute(
            select(BreachSubject, Breach).join(Breach, Breach.id == BreachSubject.breach_id)
            .where(BreachSubject.customer_id == customer_id).order_by(BreachSubject.id))).all()]

    t["relationship_ends"] = [_row(r) for r in await session.scalars(
        select(RelationshipEnd).where(RelationshipEnd.customer_id == customer_id))]

    # The processing record: who read or changed the borrower's data (Pasal 32).
    object_ids = conv_public + [x.number for x in tickets] + [r.number for r in requests]
    entries = list(await session.scalars(select(AuditEntry).where(or_(
        AuditEntry.object_id.in_(object_ids),
        (AuditEntry.object_type == CUSTOMER_OBJECT) & (AuditEntry.object_id == customer_id)))
        .order_by(AuditEntry.at, AuditEntry.id)))
    t["audit_log"] = [{"at": _iso(a.at), "actor": staff(a.actor_id) or "system", "action": a.action,
                       "object_type": a.object_type, "object_id": a.object_id} for a in entries]
    export.processing_record = t["audit_log"]
    return export


def html_text(export: Export, *, brand: str) -> str:
    """The readable copy of ``export`` (Bahasa Indonesia headings; the borrower's own words as written)."""
    return render_text("privacy/export.html", export=export.as_json(), brand=brand, kinds=KIND_LABELS)


async def export_for(session: AsyncSession, ctx: PrivacyContext, request: RightsRequest, *,
                     actor_id: int | None, fmt: str) -> Export:
    """Collect the export and audit that it was made (who, for which request, which format)."""
    export = await collect(session, ctx, request)
    counts = {name: len(rows) for name, rows in export.tables.items()}
    await audit.record(session, actor_id, "privacy.exported", OBJECT_TYPE, request.number, format=fmt, rows=counts)
    return export
