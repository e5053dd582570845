"""WhatsApp through Twilio: signed webhooks in, replies out through the real SDK to the fake API."""
from __future__ import annotations

import httpx
import pytest

from connectors.whatsapp import EMPTY_TWIML, render_text
from desk.messages import Button, OutboundMessage
from tests.channels.conftest import NOTICES_AT_FIRST_CONTACT, PUBLIC_BASE_URL, Desk, after_notice
from tests.channels.support import count_rows, twilio_form, twilio_signature
from tests.fakes import FakeTwilio

SIGNED_URL = PUBLIC_BASE_URL + "/webhooks/whatsapp"


async def post_signed(desk: Desk, form: dict[str, str], *, signature: str | None = None,
                      token: str | None = None) -> httpx.Response:
    sig = signature if signature is not None else twilio_signature(
        token or desk.settings.twilio_auth_token, SIGNED_URL, form)
    async with httpx.AsyncClient() as client:
        return await client.post(desk.url + "/webhooks/whatsapp", data=form,
                                 headers={"X-Twilio-Signature": sig})


async def test_signed_message_is_routed_and_reply_leaves_through_twilio(desk: Desk, fake_twilio: FakeTwilio) -> None:
    response = await post_signed(desk, twilio_form(Body="halo min, tagihan saya berapa"))

    assert response.status_code == 200
    assert response.text == EMPTY_TWIML
    assert response.headers["content-type"].startswith("text/xml")
    [inbound] = await desk.inbound()
    assert inbound.sender == "+6281234567890"
    assert inbound.external_id == "SM0123456789abcdef0123456789abcdef"
    assert inbound.text == "halo min, tagihan saya berapa"
    assert inbound.sender_name == "Budi Santoso"
    assert desk.rasa.calls[0]["metadata"]["phone"] == "+6281234567890"

    [item] = await desk.deliver_replies()
    [sent] = fake_twilio.messages[NOTICES_AT_FIRST_CONTACT:]
    assert after_notice([m.body for m in fake_twilio.messages]) == [sent.body]
    assert sent.to == "whatsapp:+6281234567890"
    assert sent.from_ == desk.settings.twilio_whatsapp_from
    assert sent.account_sid == desk.settings.twilio_account_sid
    assert sent.body == ("Halo Kak, ada yang bisa kami bantu?\n\nBalas dengan angka:\n"
                         "1. Cek tagihan\n2. Buat pengaduan")
    assert item.provider_message_id == sent.sid and item.status == "sent"


async def test_numbered_reply_reaches_the_bot_as_the_button_payload(desk: Desk, fake_twilio: FakeTwilio) -> None:
    assert (await post_signed(desk, twilio_form())).status_code == 200
    await desk.deliver()
    assert "2. Buat pengaduan" in after_notice([m.body for m in fake_twilio.messages])[0]
    reply = twilio_form(Body="2", MessageSid="SM" + "2" * 32, SmsMessageSid="SM" + "2" * 32)
    assert (await post_signed(desk, reply)).status_code == 200
    assert desk.rasa.calls[-1]["message"] == "/complain_payment"


async def test_redelivered_message_is_stored_once(desk: Desk) -> None:
    form = twilio_form()
    assert (await post_signed(desk, form)).status_code == 200
    assert (await post_signed(desk, form)).status_code == 200
    messages, outbox = await count_rows(desk.db)
    # One inbound, one reply (and the notice): the retry changed nothing.
    assert (messages, outbox) == (2 + NOTICES_AT_FIRST_CONTACT, 1 + NOTICES_AT_FIRST_CONTACT)


@pytest.mark.parametrize("case", ["forged", "missing", "wrong_token", "tampered"])
async def test_bad_signature_is_refused_and_nothing_stored(desk: Desk, case: str, caplog: pytest.LogCaptureFixture) -> None:
    form = twilio_form()
    if case == "forged":
        response = await post_signed(desk, form, signature="bm90IGEgc2lnbmF0dXJl")
    elif case == "missing":
        async with httpx.AsyncClient() as client:
            response = await client.post(desk.url + "/webhooks/whatsapp", data=form)
    elif case == "wrong_token":
        response = await post_signed(desk, form, token="someone-elses-token")
    else:
        signature = twilio_signature(desk.settings.twilio_auth_token, SIGNED_URL, form)
        response = await post_signed(desk, {**form, "Body": "transfer ke rekening lain"}, signature=signature)

    assert response.status_code == 403
    assert await count_rows(desk.db) == (0, 0)
    assert desk.rasa.calls == []
    rejected = [r.getMessage() for r in caplog.records if "rejected whatsapp" in r.getMessage()]
    assert rejected, "the refusal must be logged"
    assert "+6281234567890" not in rejected[0]  # masked
    assert "****890" in rejected[0]


async def test_signature_over_the_internal_url_is_refused(desk: Desk) -> None:
    """Twilio signs the public URL; a signature over the address behind the proxy is not valid."""
    form = twilio_form()
    internal = twilio_signature(desk.settings.twilio_auth_token, desk.url + "/webhooks/whatsapp", form)
    response = await post_signed(desk, form, signature=internal)
    assert response.status_code == 403


@pytest.mark.parametrize("override", [{"From": ""}, {"MessageSid": "", "SmsMessageSid": ""},
                                      {"From": "+6281234567890"}, {"NumMedia": "dua"},
                                      {"NumMedia": "1"}])
async def test_malformed_signed_form_is_400_and_nothing_stored(desk: Desk, override: dict[str, str]) -> None:
    response = await post_signed(desk, twilio_form(**override))
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"
    assert await count_rows(desk.db) == (0, 0)


async def test_non_form_body_is_400(desk: Desk) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(desk.url + "/webhooks/whatsapp", json={"Body": "halo"},
                                     headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 400
    assert await count_rows(desk.db) == (0, 0)


async def test_message_over_the_limit_is_413_and_nothing_stored(desk: Desk) -> None:
    response = await post_signed(desk, twilio_form(Body="a" * (desk.settings.max_message_chars + 1)))
    assert response.status_code == 413
    assert response.json()["error"] == "message_too_long"
    assert await count_rows(desk.db) == (0, 0)


async def test_oversized_body_is_413(desk: Desk) -> None:
    form = twilio_form(Padding="x" * 300_000)
    response = await post_signed(desk, form)
    assert response.status_code == 413
    assert await count_rows(desk.db) == (0, 0)


async def test_media_is_kept_as_references(desk: Desk) -> None:
    form = twilio_form(Body="", NumMedia="2",
                       MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                       MediaContentType0="image/jpeg",
                       MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
                       MediaContentType1="application/pdf")
    assert (await post_signed(desk, form)).status_code == 200
    [inbound] = await desk.inbound()
    assert [(m["url"][-3:], m["content_type"]) for m in inbound.payload["media"]] == [
        ("ME1", "image/jpeg"), ("ME2", "application/pdf")]


async def test_provider_outage_is_retryable_then_delivered(desk: Desk, fake_twilio: FakeTwilio) -> None:
    assert (await post_signed(desk, twilio_form())).status_code == 200
    fake_twilio.fail_next(1, status=503)
    failed, *_ = await desk.deliver()  # the first message of the conversation (the notice, if any)
    assert failed.status == "pending" and "503" in (failed.last_error or "")
    await desk.make_retries_due()
    sent = await desk.deliver()
    assert [i.status for i in sent] == ["sent"] * (1 + NOTICES_AT_FIRST_CONTACT)
    assert len(fake_twilio.messages) == 1 + NOTICES_AT_FIRST_CONTACT


async def test_refused_number_is_not_retried(desk: Desk, fake_twilio: FakeTwilio) -> None:
    assert (await post_signed(desk, twilio_form())).status_code == 200
    fake_twilio.fail_next(1, status=400)
    failed, *_ = await desk.deliver()  # the first message of the conversation (the notice, if any)
    assert failed.status == "failed" and "400" in (failed.last_error or "")


def test_numbered_list_keeps_button_order() -> None:
    message = OutboundMessage(text="Pilih kategori aduan:", buttons=(
        Button("Pembayaran", "/inform{\"category\":\"payment\"}"),
        Button("Penagihan", "/inform{\"category\":\"unethical_collection\"}"),
        Button("Aplikasi", "/inform{\"category\":\"app\"}")))
    assert render_text(message) == ("Pilih kategori aduan:\n\nBalas dengan angka:\n"
                                    "1. Pembayaran\n2. Penagihan\n3. Aplikasi")
    assert render_text(OutboundMessage(text="Terima kasih, Kak.")) == "Terima kasih, Kak."


async def test_template_quick_reply_carries_its_payload(desk: Desk) -> None:
    form = twilio_form(Body="Ya, benar", ButtonText="Ya, benar", ButtonPayload="/affirm")
    assert (await post_signed(desk, form)).status_code == 200
    [inbound] = await desk.inbound()
    assert inbound.payload["button_payload"] == "/affirm"
    assert desk.rasa.calls[-1]["message"] == "/affirm"


async def test_long_reply_is_sent_in_pieces_with_the_list_last(desk: Desk, fake_twilio: FakeTwilio) -> None:
    long_text = "\n\n".join(f"Paragraf {i}: " + "informasi produk " * 20 for i in range(8))
    desk.rasa.responder = lambda body: [{"text": long_text, "buttons": [{"title": "Ya", "payload": "/affirm"}]}]
    assert (await post_signed(desk, twilio_form())).status_code == 200
    [item] = await desk.deliver_replies()
    bodies = after_notice([m.body for m in fake_twilio.messages])
    assert len(bodies) > 1 and all(len(b) <= 1600 for b in bodies)
    assert bodies[-1].endswith("Balas dengan angka:\n1. Ya")
    assert item.provider_message_id == fake_twilio.messages[-1].sid


async def test_shared_location_is_kept_as_a_geo_reference(desk: Desk) -> None:
    form = twilio_form(Body="", Latitude="-6.2088", Longitude="106.8456", Address="Jakarta")
    assert (await post_signed(desk, form)).status_code == 200
    [inbound] = await desk.inbound()
    assert inbound.payload["media"] == [{"url": "geo:-6.2088,106.8456", "content_type": None}]


async def test_store_failure_answers_503_so_the_provider_can_redeliver(desk: Desk, monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    async def broken(inbound: object) -> None:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(desk.services.router, "receive", broken)
    response = await post_signed(desk, twilio_form())
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert any("router failed" in r.getMessage() for r in caplog.records)
