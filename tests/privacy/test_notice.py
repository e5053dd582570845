"""The privacy notice goes out before the first reply of every conversation, with its version recorded."""
from __future__ import annotations

from sqlalchemy import select

from aduan.services import build_store
from desk.config import REPO_ROOT
from desk.events import InMemoryEventBus
from desk.messages import Channel, InboundMessage, OutboundMessage
from desk.router import Router
from handoff.fastpath import QueueHandoffs
from privacy.context import load_privacy_config, notice_from_lender_file
from privacy.notice import PrivacyNotice, notice_version
from storage.base import utcnow
from storage.models import Conversation, Message


class EchoBot:
    """Answers every message with one reply."""

    async def send(self, sender: str, text: str, metadata: dict) -> list[OutboundMessage]:
        return [OutboundMessage(text=f"jawaban: {text}")]


def _router(database, notice) -> Router:
    return Router(store=build_store(database, QueueHandoffs()), bot=EchoBot(), events=InMemoryEventBus(),
                  first_contact_notice=notice)


async def test_first_reply_is_preceded_by_the_notice_on_every_channel(database) -> None:
    notice = PrivacyNotice(load_privacy_config(REPO_ROOT / "lender" / "demo.yml").notice)
    router = _router(database, notice)
    for channel, sender in ((Channel.WHATSAPP, "+6281234567890"), (Channel.TELEGRAM, "777"),
                            (Channel.INAPP, "CUST-0001")):
        first = await router.receive(InboundMessage(channel=channel, sender=sender, text="halo",
                                                    external_id=f"{channel.value}-1", received_at=utcnow()))
        assert [r.text.split(":")[0] for r in first.replies] == ["Info privasi", "jawaban"]
        assert "https://danacontoh.example/privasi" in first.replies[0].text
        second = await router.receive(InboundMessage(channel=channel, sender=sender, text="lagi",
                                                     external_id=f"{channel.value}-2", received_at=utcnow()))
        assert [r.text for r in second.replies] == ["jawaban: lagi"]
        async with database.session() as s:
            conv = await s.scalar(select(Conversation).where(Conversation.public_id == first.conversation_public_id))
            assert await notice_version(s, conv.id) == "2026-11-30"
    await router.store.close()


class PrivacyBot:
    """Answers "data saya dipakai untuk apa?" as the bot's action_privacy_info does: with the notice's text."""

    def __init__(self, notice: PrivacyNotice) -> None:
        self.notice = notice

    async def send(self, sender: str, text: str, metadata: dict) -> list[OutboundMessage]:
        notice = self.notice("whatsapp").text
        return [OutboundMessage(text=f"{notice}\nAnda dapat meminta salinan, perbaikan, atau penghapusan data.")]


async def test_a_first_question_about_data_gets_the_notice_once(database) -> None:
    notice = PrivacyNotice(load_privacy_config(REPO_ROOT / "lender" / "demo.yml").notice)
    router = Router(store=build_store(database, QueueHandoffs()), bot=PrivacyBot(notice), events=InMemoryEventBus(),
                    first_contact_notice=notice)
    first = await router.receive(InboundMessage(channel=Channel.WHATSAPP, sender="+6281234567890",
                                                text="data saya dipakai untuk apa?", external_id="p-1",
                                                received_at=utcnow()))
    # One message, the bot's answer, which shows the notice and records its version.
    [answer] = first.replies
    assert answer.text.startswith("Info privasi") and "penghapusan data" in answer.text
    async with database.session() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.public_id == first.conversation_public_id))
        assert await notice_version(s, conv.id) == "2026-11-30"
    await router.store.close()


async def test_no_notice_configured_sends_none(database) -> None:
    router = _router(database, None)
    result = await router.receive(InboundMessage(channel=Channel.TELEGRAM, sender="9", text="halo",
                                                 external_id="x-1", received_at=utcnow()))
    assert [r.text for r in result.replies] == ["jawaban: halo"]
    async with database.session() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.public_id == result.conversation_public_id))
        assert await notice_version(s, conv.id) is None
        assert await s.scalar(select(Message.text).where(Message.conversation_id == conv.id, Message.seq == 2))
    await router.store.close()


def test_the_hook_is_wired_only_when_the_lender_file_asks_for_it(tmp_path) -> None:
    demo = (REPO_ROOT / "lender" / "demo.yml").read_text(encoding="utf-8")
    # The demo lender goes live as a compliance officer expects: the notice on at first contact.
    notice = notice_from_lender_file(REPO_ROOT / "lender" / "demo.yml")
    assert notice is not None and notice("telegram").custom == {"privacy_notice": {"version": "2026-11-30"}}
    assert "at_first_contact: true" in demo
    off = tmp_path / "lender.yml"
    off.write_text(demo.replace("at_first_contact: true", "at_first_contact: false"), encoding="utf-8")
    assert notice_from_lender_file(off) is None
