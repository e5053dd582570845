"""The privacy notice at first contact, from the lender file's ``privacy.notice``.

The router (``desk.router.FirstContactNotice``) sends it before the replies to
a conversation's first message on every channel. The stored message carries
``{"custom": {"privacy_notice": {"version": …}}}``: the record, per
conversation, of which notice the borrower was shown and when.
"""
from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from desk.messages import OutboundMessage
from storage.models import Message

NOTICE_KEY = "privacy_notice"


class NoticeConfig(BaseModel):
    """The short notice and where the full one is (UU 27/2022: purpose, basis, retention, rights)."""

    version: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=1000)
    link: str = Field(min_length=1, max_length=300)
    # Send it before the first reply of every conversation. The bot's answer to
    # "data saya dipakai untuk apa?" uses the text and link either way.
    at_first_contact: bool = True


class PrivacyNotice:
    """The hook the router asks at first contact; the same notice on every channel."""

    def __init__(self, config: NoticeConfig) -> None:
        self.config = config

    def __call__(self, channel: str) -> OutboundMessage:
        """The notice message (channel-neutral; connectors render the text and link)."""
        return OutboundMessage(text=f"{self.config.text.strip()} {self.config.link.strip()}",
                               custom={NOTICE_KEY: {"version": self.config.version}})


async def notice_version(session: AsyncSession, conversation_id: int) -> str | None:
    """The version of the notice the conversation was shown, or None if none was."""
    for payload in await session.scalars(select(Message.payload).where(
            Message.conversation_id == conversation_id, Message.direction == "out").order_by(Message.seq)):
        notice = ((payload or {}).get("custom") or {}).get(NOTICE_KEY)
        if notice:
            return str(notice.get("version"))
    return None
