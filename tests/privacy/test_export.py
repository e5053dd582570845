"""The access export covers every table that mentions a borrower, redacts third parties, is audited."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, select

from attachments.models import Attachment
from handoff.models import AuditEntry, Handoff, Note
from privacy import export, service
from privacy.models import RequestKind, RequestSource
from privacy.relationships import record_ended
from storage.models import Message, VerificationAttempt
from aduan.registry import metadata
from tests.privacy.conftest import make_conversation
from tickets.calendar import WIB
from tickets.models import Ticket, TicketConversation, TicketEvent

# Columns that tie a row to one borrower, directly or through their conversation, ticket or request.
CUSTOMER_COLUMNS = {"customer_id", "conversation_id", "conversation_public_id", "ticket_id", "request_id"}
BORROWER_TABLES = {"conversations", "tickets", "rights_requests"}


def borrower_tables() -> set[str]:
    """Tables with a customer column or a foreign key to a table about one borrower."""
    found = set()
    for table in metadata.tables.values():
        assert isinstance(table, Table)
        if any(c.name in CUSTOMER_COLUMNS for c in table.columns):
            found.add(table.name)
        if any(fk.column.table.name in BORROWER_TABLES for fk in table.foreign_keys):
            found.add(table.name)
    return found


def test_every_table_with_a_customer_column_is_exported_or_excused() -> None:
    missing = borrower_tables() - set(export.COVERAGE) - set(export.NOT_EXPORTED)
    assert not missing, f"tables that mention a borrower but are not in privacy.export.COVERAGE: {missing}"
    # The audit log names borrowers by object id only: covered explicitly as the processing record.
    assert "audit_log" in export.COVERAGE


def test_the_coverage_check_notices_a_new_table() -> None:
    from sqlalchemy import Column, Integer, String

    extra = Table("kyc_photos", metadata, Column("id", Integer, primary_key=True),
                  Column("customer_id", String(64)))
    try:
        assert "kyc_photos" in borrower_tables() - set(export.COVERAGE)
    finally:
        metadata.remove(extra)


async def test_export_has_every_covered_table_redacts_and_is_audited(database, privacy_ctx, staff, clock) -> None:
    clock.at = datetime(2026, 11, 20, 10, 0, tzinfo=WIB)
    conv = await make_conversation(database, "whatsapp", "+6281234567890", customer_id="CUST-0001")
    other = await make_conversation(database, "whatsapp", "+6281111111111", customer_id="CUST-0002")
    async with database.transaction() as s:
        s.add_all([
            Message(conversation_id=conv.id, seq=1, channel="whatsapp", direction="in", author="borrower",
                    text="Nomor saya 081234567890"),
            Message(conversation_id=conv.id, seq=2, channel="whatsapp", direction="out", author="agent",
                    agent_id=staff["agent"].id, text="Penagih 081399998888 sudah kami tegur"),
            Message(conversation_id=other.id, seq=1, channel="whatsapp", direction="in", author="borrower",
                    text="pesan orang lain"),
            VerificationAttempt(conversation_public_id=conv.public_id, phone_key="p", loan_key="l", succeeded=True),
        ])
        h = Handoff(conversation_id=conv.id, reason="request", status="closed", assigned_to=staff["agent"].id,
                    rating=4, rating_comment="cepat")
        s.add(h)
        s.add(Note(conversation_id=conv.id, author_id=staff["agent"].id, text="cek 081399998888"))
        s.add(Attachment(conversation_id=conv.id, position=0, direction="in", channel="whatsapp",
                         source_ref="https://api.twilio.com/media/ME1", status="stored", content_type="image/jpeg",
                         size=1234, filename="bukti.jpg", storage_key="conv/1/bukti.jpg"))
        t = Ticket(number="DCI-1", category="payment", channel="whatsapp", customer_id="CUST-0001",
                   full_name="Budi Santoso", product="pinjaman_tunai", chronology="ditagih oleh 081399998888")
        s.add(t)
        await s.flush()
        s.add(TicketConversation(ticket_id=t.id, conversation_id=conv.id))
        s.add(TicketEvent(ticket_id=t.id, seq=1, kind="note", actor=f"user:{staff['agent'].id}", data={"text": "x"}))
        s.add(AuditEntry(actor_id=staff["supervisor"].id, action="transcript.opened", object_type="conversation",
                         object_id=conv.public_id))
        r = await service.record_request(s, privacy_ctx, service.NewRequest(
            kind=RequestKind.COPY, source=RequestSource.CHAT, conversation_id=conv.public_id), None)
        number = r.number
        # The lender's core reported the end of the relationship (and another borrower's).
        for customer in ("CUST-0001", "CUST-0002"):
            await record_ended(s, customer, datetime(2026, 10, 31, tzinfo=WIB), source="lending_core",
                               actor_id=None, now=clock.at)

    async with database.transaction() as s:
        r = await service.get_request(s, number)
        result = await export.export_for(s, privacy_ctx, r, actor_id=staff["supervisor"].id, fmt="json")
    data = result.as_json()
    assert set(data["tables"]) == set(export.COVERAGE)
    # Internal storage addresses stay out of the borrower's copy.
    assert "storage_key" not in data["tables"]["attachments"][0] and "source_ref" not in data["tables"]["attachments"][0]
    for name in export.COVERAGE:
        if name not in {"ticket_alerts", "rights_alerts", "legal_holds", "erasure_items", "breach_subjects"}:  # none in this story
            assert data["tables"][name], f"{name} is empty in the export"
    text = result.json_text()
    assert "pesan orang lain" not in text  # another borrower's conversation
    assert "Nomor saya 081234567890" in text  # the borrower's own words, as written
    assert "081399998888" not in text  # a third party's number in staff text is masked
    assert "Agent" not in text and "staff (agent)" in text  # staff by role
    assert [e["action"] for e in data["processing_record"]][:1] == ["transcript.opened"]
    assert [e["object_id"] for e in data["processing_record"] if e["action"] == "privacy.relationship_ended"] == \
        ["CUST-0001"]
    assert [r["customer_id"] for r in data["tables"]["relationship_ends"]] == ["CUST-0001"]
    assert "cepat" in text  # the rating comment
    page = export.html_text(result, brand="DanaContoh")
    assert "Salinan data pribadi" in page and "081399998888" not in page

    async with database.session() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "privacy.exported"))
        assert entry is not None and entry.actor_id == staff["supervisor"].id and entry.object_id == number
        assert entry.details["rows"]["messages"] == 2
