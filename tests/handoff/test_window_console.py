"""The console and WhatsApp's 24-hour window: what agents see and may send, and each message's ticks."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from desk.delivery import StatusReport, record_status
from desk.templates import load_templates
from storage.base import utcnow
from storage.models import Message, OutboxItem
from tests.handoff.conftest import get_conversation

FETCH = {"X-Requested-With": "fetch"}


async def _pick(client, staff, public_id):  # type: ignore[no-untyped-def]
    return await client.post(f"/console/c/{public_id}/pickup", staff, headers=FETCH)


async def _age_inbound(database, public_id: str, hours: float) -> None:  # type: ignore[no-untyped-def]
    conv = await get_conversation(database, public_id)
    async with database.transaction() as session:
        await session.execute(update(Message).where(Message.conversation_id == conv.id, Message.direction == "in")
                              .values(created_at=utcnow() - timedelta(hours=hours)))


async def test_a_closed_window_offers_only_templates_and_the_template_goes_template_only(
        client, sign_in, handed_off, database, settings) -> None:  # type: ignore[no-untyped-def]
    ani = await sign_in("ani")
    public_id, _ = await handed_off("+6281200000001", channel="whatsapp")
    await _pick(client, ani, public_id)

    open_page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert 'data-testid="window" data-closed="false"' in open_page and 'data-testid="reply-text"' in open_page

    await _age_inbound(database, public_id, 30)
    page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert 'data-testid="window" data-closed="true"' in page
    assert "hanya templat yang disetujui yang dapat dikirim" in page
    assert 'data-testid="reply-text"' not in page  # no free text outside the window
    assert 'value="agent_replied"' in page and 'value="receipt"' not in page  # only agents' templates

    refused = await client.post(f"/console/c/{public_id}/template", ani, {"template": "receipt"}, headers=FETCH)
    assert refused.status == 400
    sent = await client.post(f"/console/c/{public_id}/template", ani, {"template": "agent_replied"}, headers=FETCH)
    assert sent.status == 200
    async with database.session() as session:
        row = (await session.execute(select(Message.text, Message.payload, OutboxItem.template_only)
                                     .join(OutboxItem, OutboxItem.message_id == Message.id)
                                     .order_by(Message.id.desc()).limit(1))).one()
    template = load_templates(settings.lender_content).get("agent_replied")
    assert template is not None and row.text == template.text
    assert row.payload["template"]["key"] == "agent_replied" and row.template_only is True


async def test_templates_are_whatsapp_only(client, sign_in, handed_off) -> None:  # type: ignore[no-untyped-def]
    ani = await sign_in("ani")
    public_id, _ = await handed_off(channel="telegram", sender="555002")
    await _pick(client, ani, public_id)
    page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert 'data-testid="window"' not in page and 'data-testid="template-form"' not in page
    r = await client.post(f"/console/c/{public_id}/template", ani, {"template": "agent_replied"}, headers=FETCH)
    assert r.status == 400


async def test_each_message_shows_its_delivery_state_and_failures_say_why_in_indonesian(
        client, sign_in, handed_off, database) -> None:  # type: ignore[no-untyped-def]
    ani = await sign_in("ani")
    public_id, _ = await handed_off("+6281200000002", channel="whatsapp")
    await _pick(client, ani, public_id)
    for text in ("Halo Kak", "Sudah kami cek"):
        assert (await client.post(f"/console/c/{public_id}/reply", ani, {"text": text}, headers=FETCH)).status == 200
    async with database.transaction() as session:
        items = list(await session.scalars(select(OutboxItem).order_by(OutboxItem.id)))
        for n, item in enumerate(items):
            item.status, item.provider_message_id = "sent", f"SM{n:032d}"
    async with database.transaction() as session:
        await record_status(session, StatusReport("SM" + "0" * 32, "read"))
        await record_status(session, StatusReport("SM" + "0" * 31 + "1", "undelivered", "63024"))

    states = (await client.get(f"/console/c/{public_id}/deliveries", ani)).json["deliveries"]
    by_state = sorted((d["state"], d["reason"]) for d in states.values())
    assert ("read", "") in by_state
    assert ("failed", "Nomor tujuan tidak valid untuk WhatsApp.") in by_state
    page = (await client.get(f"/console/c/{public_id}", ani)).text
    assert 'data-state="read"' in page and "Nomor tujuan tidak valid untuk WhatsApp." in page


async def test_delivery_states_need_read_access(client, sign_in, handed_off) -> None:  # type: ignore[no-untyped-def]
    ani = await sign_in("ani")
    budi = await sign_in("budi")
    public_id, _ = await handed_off("+6281200000003", channel="whatsapp")
    await _pick(client, ani, public_id)
    assert (await client.get(f"/console/c/{public_id}/deliveries", budi)).status == 403
