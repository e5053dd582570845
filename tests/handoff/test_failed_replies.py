"""A reply that failed for good shows in the agent console, and a retry puts it back in the outbox (audited)."""
from __future__ import annotations

from sqlalchemy import select, update

from desk.messages import OutboundMessage
from desk.outbox import enqueue
from desk.store import find_or_open_conversation
from handoff.audit import recent
from storage.models import OutboxItem


async def failed_reply(database, sender: str = "+6281234567890") -> tuple[str, int]:
    async with database.transaction() as s:
        conv = await find_or_open_conversation(s, "whatsapp", sender)
        _, item = await enqueue(s, conv, OutboundMessage(text="Tagihan Anda Rp 1.250.000"), author="bot")
        await s.flush()
        await s.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(
            status="failed", attempts=97, last_error="after 97 attempt(s): twilio answered 503 (code 20500)"))
        return conv.public_id, item.id


async def test_failed_reply_is_listed_and_a_retry_requeues_it_once(client, sign_in, database) -> None:
    ani = await sign_in("ani")
    public_id, item_id = await failed_reply(database)
    page = await client.get("/console/queue", ani)
    assert page.status == 200
    assert 'data-testid="failed-count">1<' in page.text
    assert f'action="/console/outbox/{item_id}/retry"' in page.text and public_id in page.text
    assert "twilio answered 503" in page.text
    assert "+6281234567890" not in page.text and "+6281******890" in page.text  # recipient masked

    retried = await client.post(f"/console/outbox/{item_id}/retry", ani, headers={"X-Requested-With": "fetch"})
    assert retried.status == 200 and retried.json == {"ok": True, "requeued": item_id}
    async with database.session() as s:
        item = await s.scalar(select(OutboxItem).where(OutboxItem.id == item_id))
        entries = await recent(s, action="outbox.requeued")
    assert (item.status, item.attempts) == ("pending", 0)
    assert [(e.actor, e.object_id) for e in entries] == [("ani", str(item_id))]
    assert entries[0].details["attempts"] == 97 and entries[0].details["conversation"] == public_id

    again = await client.post(f"/console/outbox/{item_id}/retry", ani, headers={"X-Requested-With": "fetch"})
    assert again.status == 404
    page = await client.get("/console/queue", ani)
    assert "failed-replies" not in page.text


async def test_retry_needs_staff_and_the_csrf_token(client, sign_in, database) -> None:
    ani = await sign_in("ani")
    _, item_id = await failed_reply(database)
    assert (await client.post(f"/console/outbox/{item_id}/retry")).status in (401, 403)
    assert (await client.post(f"/console/outbox/{item_id}/retry", ani, csrf=False)).status == 403
    async with database.session() as s:
        assert await s.scalar(select(OutboxItem.status).where(OutboxItem.id == item_id)) == "failed"
