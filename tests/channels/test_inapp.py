"""In-app chat: JWT-authenticated API, replies in the POST answer, agent messages pushed and fetchable."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from connectors.inapp import mint_token
from desk.messages import OutboundMessage
from desk.outbox import enqueue
from storage.models import Conversation
from tests.channels.conftest import GREETING_BUTTONS, GREETING_TEXT, NOTICES_AT_FIRST_CONTACT, Desk, after_notice
from tests.channels.support import count_rows

CUSTOMER = "CUST-0001"


def token_for(desk: Desk, customer: str = CUSTOMER, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": customer, "iat": now, "exp": now + 600, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, desk.settings.inapp_signing_secret, algorithm="HS256")


async def post_message(desk: Desk, text: str, *, token: str | None = None, client_id: str | None = None,
                       **extra: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"text": text, "client_message_id": client_id or str(uuid.uuid4()), **extra}
    async with httpx.AsyncClient() as client:
        return await client.post(desk.url + "/chat/api/messages", json=body, headers=headers)


async def get_messages(desk: Desk, token: str, after: int = 0) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(desk.url + f"/chat/api/messages?after={after}",
                                headers={"Authorization": f"Bearer {token}"})


def ws_url(desk: Desk, query: str = "") -> str:
    return desk.url.replace("http://", "ws://") + "/chat/ws" + (f"?{query}" if query else "")


async def agent_says(desk: Desk, customer: str, text: str) -> None:
    """What the agent console does: store an agent message in the conversation and queue it."""
    from sqlalchemy import select

    async with desk.db.transaction() as session:
        conversation = await session.scalar(select(Conversation).where(
            Conversation.channel == "inapp", Conversation.sender == customer))
        assert conversation is not None
        await enqueue(session, conversation, OutboundMessage(text=text), author="agent", agent_id=7)


async def next_frame(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_post_returns_the_bot_replies_and_the_borrower_counts_as_verified(desk: Desk) -> None:
    response = await post_message(desk, "tagihan saya berapa", token=token_for(desk))
    assert response.status_code == 200
    data = response.json()
    assert data["duplicate"] is False
    assert after_notice([r["text"] for r in data["replies"]]) == [GREETING_TEXT]
    reply = data["replies"][-1]
    assert reply["text"] == GREETING_TEXT
    assert reply["buttons"] == GREETING_BUTTONS
    assert reply["id"] > data["message_id"]
    [inbound] = await desk.inbound()
    assert (inbound.sender, inbound.customer_id) == (CUSTOMER, CUSTOMER)
    assert desk.rasa.calls[0]["metadata"]["customer_id"] == CUSTOMER


async def test_button_press_sends_its_payload_to_the_bot(desk: Desk) -> None:
    response = await post_message(desk, "Buat pengaduan", token=token_for(desk), button_payload="/complain_payment")
    assert response.status_code == 200
    assert desk.rasa.calls[-1]["message"] == "/complain_payment"


async def test_retried_send_is_stored_once_and_answered_the_same(desk: Desk) -> None:
    token, client_id = token_for(desk), str(uuid.uuid4())
    first = (await post_message(desk, "halo", token=token, client_id=client_id)).json()
    again = (await post_message(desk, "halo", token=token, client_id=client_id)).json()
    assert again["duplicate"] is True
    assert again["message_id"] == first["message_id"]
    # The first answer is built from the rows the router stored, the retry's from the database:
    # the borrower must see the same replies, field for field.
    assert again["replies"] == first["replies"] and first["replies"]
    assert len(desk.rasa.calls) == 1
    assert await count_rows(desk.db) == (2 + NOTICES_AT_FIRST_CONTACT, 1 + NOTICES_AT_FIRST_CONTACT)


async def test_client_ids_are_scoped_per_borrower(desk: Desk) -> None:
    client_id = str(uuid.uuid4())
    a = (await post_message(desk, "halo", token=token_for(desk, "CUST-0001"), client_id=client_id)).json()
    b = (await post_message(desk, "halo", token=token_for(desk, "CUST-0002"), client_id=client_id)).json()
    assert a["duplicate"] is False and b["duplicate"] is False
    assert a["conversation_id"] != b["conversation_id"]


async def test_agent_message_is_pushed_once_and_fetchable_after_id(desk: Desk) -> None:
    token = token_for(desk)
    posted = (await post_message(desk, "sambungkan ke agen", token=token)).json()
    last_seen = max(r["id"] for r in posted["replies"])
    await desk.deliver()  # the bot reply's outbox row: pushed to no open socket, still stored

    async with connect(ws_url(desk, f"after={last_seen}")) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert (await next_frame(ws))["type"] == "ready"
        await agent_says(desk, CUSTOMER, "Halo Kak Budi, saya Rina dari tim CS.")
        agent_item = (await desk.deliver())[-1]
        assert agent_item.status == "sent" and (agent_item.provider_message_id or "").startswith("inapp-")
        pushed = await next_frame(ws)
        assert pushed["type"] == "message"
        assert pushed["message"]["author"] == "agent"
        assert pushed["message"]["text"] == "Halo Kak Budi, saya Rina dari tim CS."
        # Nothing else arrives: the bot reply the POST already returned is not pushed again.
        with pytest.raises(asyncio.TimeoutError):
            await next_frame(ws, timeout=0.5)

    fetched = (await get_messages(desk, token, after=last_seen)).json()["messages"]
    assert [(m["id"], m["author"], m["text"]) for m in fetched] == [
        (pushed["message"]["id"], "agent", "Halo Kak Budi, saya Rina dari tim CS.")]
    everything = (await get_messages(desk, token)).json()["messages"]
    assert [m["author"] for m in everything] == ["borrower"] + ["bot"] * NOTICES_AT_FIRST_CONTACT + ["bot", "agent"]


async def test_socket_replays_what_was_missed(desk: Desk) -> None:
    token = token_for(desk)
    posted = (await post_message(desk, "halo", token=token)).json()
    await agent_says(desk, CUSTOMER, "Pesan saat Anda offline")
    async with connect(ws_url(desk, f"token={token}&after={posted['message_id']}")) as ws:
        assert (await next_frame(ws))["type"] == "ready"
        texts = [(await next_frame(ws))["message"]["text"] for _ in range(2 + NOTICES_AT_FIRST_CONTACT)]
    assert after_notice(texts) == [GREETING_TEXT, "Pesan saat Anda offline"]


async def test_socket_with_bad_query_token_is_refused_before_the_handshake(desk: Desk) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(desk, "token=not-a-jwt")):
            pass
    assert refused.value.response.status_code == 401


async def test_socket_with_expired_first_frame_token_is_closed(desk: Desk) -> None:
    expired = token_for(desk, exp=int(time.time()) - 10)
    async with connect(ws_url(desk)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": expired}))
        with pytest.raises(ConnectionClosed) as closed:
            await next_frame(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.parametrize("case", ["missing", "garbage", "wrong_secret", "expired", "no_exp", "no_sub"])
async def test_bad_tokens_are_401_and_nothing_stored(desk: Desk, case: str) -> None:
    now = int(time.time())
    token = {
        "missing": None,
        "garbage": "abc.def.ghi",
        "wrong_secret": jwt.encode({"sub": CUSTOMER, "exp": now + 60}, "another-secret-0123456789", algorithm="HS256"),
        "expired": token_for(desk, exp=now - 5),
        "no_exp": token_for(desk, exp=None),
        "no_sub": token_for(desk, sub=None),
    }[case]
    response = await post_message(desk, "halo", token=token)
    assert response.status_code == 401
    assert response.json()["error"].startswith("token_")
    assert await count_rows(desk.db) == (0, 0)
    assert desk.rasa.calls == []
    if token:
        assert (await get_messages(desk, token)).status_code == 401


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"text": "halo"}', b'{"text": 5, "client_message_id": "a"}',
                                  b'{"text": "  ", "client_message_id": "a"}',
                                  b'{"text": "halo", "client_message_id": "' + b"x" * 65 + b'"}'])
async def test_malformed_bodies_are_400_and_nothing_stored(desk: Desk, body: bytes) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(desk.url + "/chat/api/messages", content=body, headers={
            "Authorization": f"Bearer {token_for(desk)}", "Content-Type": "application/json"})
    assert response.status_code == 400
    assert await count_rows(desk.db) == (0, 0)


async def test_message_over_the_limit_is_413_and_nothing_stored(desk: Desk) -> None:
    response = await post_message(desk, "a" * (desk.settings.max_message_chars + 1), token=token_for(desk))
    assert response.status_code == 413
    assert response.json()["error"] == "message_too_long"
    assert await count_rows(desk.db) == (0, 0)


async def test_huge_body_is_413(desk: Desk) -> None:
    response = await post_message(desk, "halo", token=token_for(desk), padding="x" * 300_000)
    assert response.status_code == 413
    assert await count_rows(desk.db) == (0, 0)


async def test_bad_after_is_400(desk: Desk) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(desk.url + "/chat/api/messages?after=kemarin",
                                    headers={"Authorization": f"Bearer {token_for(desk)}"})
    assert response.status_code == 400


async def test_demo_token_mints_a_working_token_for_sample_borrowers(desk: Desk) -> None:
    async with httpx.AsyncClient() as client:
        borrowers = (await client.get(desk.url + "/chat/demo-borrowers")).json()["borrowers"]
        assert CUSTOMER in [b["customer_id"] for b in borrowers]
        minted = await client.post(desk.url + "/chat/demo-token", json={"customer_id": CUSTOMER})
        unknown = await client.post(desk.url + "/chat/demo-token", json={"customer_id": "CUST-9999"})
    assert minted.status_code == 200 and unknown.status_code == 400
    response = await post_message(desk, "halo", token=minted.json()["token"])
    assert response.status_code == 200


async def test_demo_endpoints_are_404_outside_demo_mode(desk: Desk) -> None:
    desk.services.settings = desk.settings.model_copy(update={"demo_mode": False})
    async with httpx.AsyncClient() as client:
        minted = await client.post(desk.url + "/chat/demo-token", json={"customer_id": CUSTOMER})
        listed = await client.get(desk.url + "/chat/demo-borrowers")
        page = await client.get(desk.url + "/")
    assert minted.status_code == 404 and listed.status_code == 404
    assert 'data-demo="false"' in page.text


async def test_web_chat_page_and_script_are_served(desk: Desk) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(desk.url + "/")
        script = await client.get(desk.url + "/chat/static/webchat.js")
    assert page.status_code == 200 and 'lang="id"' in page.text and 'data-demo="true"' in page.text
    assert "/chat/static/webchat.js" in page.text
    assert script.status_code == 200 and "client_message_id" in script.text


def test_minted_token_carries_sub_and_exp(settings: Any) -> None:
    claims = jwt.decode(mint_token(settings, CUSTOMER, ttl_seconds=60), settings.inapp_signing_secret,
                        algorithms=["HS256"])
    assert claims["sub"] == CUSTOMER and claims["exp"] - claims["iat"] == 60


async def test_longest_ids_fit_the_store(desk: Desk) -> None:
    customer = "C" * 64
    response = await post_message(desk, "halo", token=token_for(desk, customer), client_id="k" * 63)
    assert response.status_code == 200
    [inbound] = await desk.inbound()
    assert (inbound.sender, inbound.external_id) == (customer, "k" * 63)


async def test_socket_replays_a_backlog_longer_than_one_page(desk: Desk) -> None:
    from sqlalchemy import select

    from connectors.inapp import PAGE_LIMIT

    token = token_for(desk)
    await post_message(desk, "halo", token=token)
    async with desk.db.transaction() as session:
        conversation = await session.scalar(select(Conversation).where(Conversation.sender == CUSTOMER))
        for i in range(PAGE_LIMIT + 5):
            await enqueue(session, conversation, OutboundMessage(text=f"pesan {i}"), author="agent")
    async with connect(ws_url(desk, f"token={token}")) as ws:
        assert (await next_frame(ws))["type"] == "ready"
        texts = [(await next_frame(ws))["message"]["text"] for _ in range(PAGE_LIMIT + 6 + NOTICES_AT_FIRST_CONTACT)]
    texts = after_notice(texts)
    assert texts[0] == GREETING_TEXT and texts[-1] == f"pesan {PAGE_LIMIT + 4}"
    assert len(set(texts)) == len(texts)


async def test_an_app_user_the_lending_core_does_not_know_is_not_verified(desk: Desk) -> None:
    stranger = "CUST-7777"  # a valid token, but no account in the lending core
    response = await post_message(desk, "tagihan saya berapa", token=token_for(desk, stranger))
    assert response.status_code == 200
    [inbound] = await desk.inbound()
    assert (inbound.sender, inbound.customer_id) == (stranger, None)
    assert desk.rasa.calls[0]["metadata"]["customer_id"] is None
    from sqlalchemy import select
    async with desk.db.session() as session:
        conversation = await session.scalar(select(Conversation).where(Conversation.sender == stranger))
    assert conversation is not None and conversation.customer_id is None


async def test_known_customers_caches_yes_and_retries_no_after_a_while() -> None:
    from lending.known import KnownCustomers

    class Core:
        def __init__(self) -> None:
            self.accounts: set[str] = set()
            self.calls = 0
            self.down = False

        async def account(self, customer_id: str) -> object | None:
            self.calls += 1
            if self.down:
                raise ConnectionError("core down")
            return object() if customer_id in self.accounts else None

        async def verify(self, **_: str) -> None:
            return None

    now = [0.0]
    core = Core()
    known = KnownCustomers(core, negative_ttl=60, clock=lambda: now[0])
    assert await known("C-1") is False
    core.accounts.add("C-1")
    assert await known("C-1") is False and core.calls == 1  # the "no" is cached for a minute
    now[0] = 61
    assert await known("C-1") is True and core.calls == 2
    core.down = True
    assert await known("C-1") is True and core.calls == 2  # a "yes" stays
    assert await known("C-2") is False  # the core failing never verifies anyone


async def test_neutral_markup_reaches_the_web_chat_as_plain_text(desk: Desk) -> None:
    """Replies are stored with ``*bold*`` markers; the web chat (text shown as text) gets them without."""
    token = token_for(desk)
    await post_message(desk, "halo", token=token)
    await agent_says(desk, CUSTOMER, "Nomor tiket: *DCI-1*. Mohon simpan.")
    await desk.deliver()
    messages = (await get_messages(desk, token)).json()["messages"]
    assert messages[-1]["text"] == "Nomor tiket: DCI-1. Mohon simpan."
    assert messages[0]["text"] == "halo"
