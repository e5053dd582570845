"""Borrowers on the three channels, talking to the live desk as the providers would.

* WhatsApp: a form POST to ``/webhooks/whatsapp`` signed with Twilio's
  ``RequestValidator``; what the borrower reads is what reached the fake Twilio.
* Telegram: an Update to ``/webhooks/telegram`` with the secret-token header;
  button presses are callback queries; what the borrower reads is what reached
  the fake Telegram Bot API.
* In-app: ``POST /chat/api/messages`` with an HS256 token signed like the
  lender's backend would; what the borrower reads is the POST's replies, and
  messages sent later (agent replies) come from ``GET /chat/api/messages``.

Each ``say``/``press`` is one *turn*: the desk answers the webhook once it has
stored the message and the bot's replies (docs/channels.md), so the turn then
waits, by bounded polling, until the outbox has delivered every stored reply,
and returns what the borrower received. No sleeps decide anything.
"""
from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from twilio.request_validator import RequestValidator

from privacy.notice import NOTICE_KEY
from tests.support.notice import NOTICE_TEXT
from tests.live.stack import INAPP_SECRET, TELEGRAM_SECRET, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, LiveStack

DELIVERY_TIMEOUT = 30.0
HTTP_TIMEOUT = 120.0
_update_ids = itertools.count(int(time.time()) % 1_000_000 * 100)
_update_lock = threading.Lock()


def next_update_id() -> int:
    with _update_lock:
        return next(_update_ids)


@dataclass(frozen=True)
class Reply:
    """One message the desk stored for the borrower (a bot, system or agent message)."""

    id: int
    seq: int
    author: str
    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def button_titles(self) -> list[str]:
        return [title for title, _ in self.buttons]


@dataclass
class Turn:
    """One borrower message and everything the desk did about it."""

    channel: str
    sender: str
    text: str
    payload: str | None
    mode_before: str | None
    mode_after: str
    inbound_count: int
    """How many stored inbound rows this one borrower message became (must be 1)."""
    replies: list[Reply]
    """What the desk stored for the borrower after the message, in order."""
    received: list[str]
    """What the borrower's channel actually got (provider messages / in-app views), in order."""
    conversation_id: str = ""
    handoff: dict[str, Any] | None = None
    """The conversation's latest handoff after the turn (status, reason, priority, ticket_id), if any."""
    notice: Reply | None = None
    """The message that showed the privacy notice (the conversation's first message only): sent before the
    replies and not one of them, or the bot's answer that contains it (then also in ``replies``)."""

    @property
    def open_handoff(self) -> bool:
        return bool(self.handoff and self.handoff["status"] in ("waiting", "assigned"))

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.replies]

    @property
    def bot_replies(self) -> list[Reply]:
        return [r for r in self.replies if r.author == "bot"]

    @property
    def all_text(self) -> str:
        return "\n".join(self.received)

    @property
    def buttons(self) -> tuple[tuple[str, str], ...]:
        """The buttons of the last reply that has any."""
        for reply in reversed(self.replies):
            if reply.buttons:
                return reply.buttons
        return ()

    def transcript(self) -> str:
        lines = [f"> [{self.channel}/{self.mode_before}] {self.text!r}" + (f" (button {self.payload})" if self.payload else "")]
        for reply in self.replies:
            extra = f" [{' | '.join(reply.button_titles)}]" if reply.buttons else ""
            lines.append(f"< ({reply.author}) {reply.text}{extra}")
        lines.append(f"  mode → {self.mode_after}")
        return "\n".join(lines)


class TurnError(AssertionError):
    """The desk refused a message or did not deliver what it stored in time."""


class Borrower:
    """Base class: the conversation bookkeeping shared by every channel."""

    channel = ""

    def __init__(self, stack: LiveStack, sender: str, *, name: str = "Peminjam") -> None:
        self.stack = stack
        self.sender = sender
        self.name = name
        self.turns: list[Turn] = []
        self.http = httpx.Client(timeout=HTTP_TIMEOUT)
        # Called with every turn (the suite asserts the invariants there; the fuzzer records).
        self.on_turn: Callable[[Borrower, Turn], None] | None = None
        self.deferred: list[str] = []

    # -- what tests call ---------------------------------------------------------------
    def say(self, text: str) -> Turn:
        """Send a typed message."""
        return self._turn(text, None)

    def press(self, title: str) -> Turn:
        """Press the button titled ``title`` (case-insensitive prefix) of the last message with buttons."""
        buttons = self.last_buttons()
        wanted = title.casefold()
        for index, (button_title, payload) in enumerate(buttons):
            if button_title.casefold().startswith(wanted):
                return self._press(index, button_title, payload)
        raise AssertionError(f"no button {title!r} among {[b for b, _ in buttons]}")

    def press_index(self, index: int) -> Turn:
        buttons = self.last_buttons()
        title, payload = buttons[index]
        return self._press(index, title, payload)

    def last_buttons(self) -> tuple[tuple[str, str], ...]:
        """The buttons the borrower can press now: those of the newest message after their last one.

        The same rule as the desk's numbered replies on WhatsApp; messages that
        arrived between turns (an agent's closing message) count too.
        """
        conversation = self.conversation()
        if conversation is None:
            return ()
        with self.stack.db() as db:
            rows = db.execute("SELECT direction, payload FROM messages WHERE conversation_id = ? "
                              "ORDER BY seq DESC LIMIT 10", (conversation["id"],)).fetchall()
        for row in rows:
            if row["direction"] == "in":
                return ()
            buttons = _reply_payload(row["payload"]).get("buttons") or []
            if buttons:
                return tuple((str(b.get("title")), str(b.get("payload"))) for b in buttons)
        return ()

    @property
    def conversation_id(self) -> str:
        row = self.conversation()
        return str(row["public_id"]) if row else ""

    def close(self) -> None:
        self.http.close()

    # -- channel specifics ---------------------------------------------------------------
    def _send(self, text: str, payload: str | None, button: tuple[int, str] | None) -> None:
        raise NotImplementedError

    def _received_count(self) -> int:
        raise NotImplementedError

    def _received_since(self, count: int) -> list[str]:
        raise NotImplementedError

    def _press(self, index: int, title: str, payload: str) -> Turn:
        raise NotImplementedError

    # -- the turn --------------------------------------------------------------------------
    def conversation(self) -> Any:
        with self.stack.db() as db:
            return db.execute("SELECT id, public_id, mode, last_seq FROM conversations WHERE channel = ? AND sender = ?",
                              (self.channel, self.sender)).fetchone()

    def _turn(self, text: str, payload: str | None, button: tuple[int, str] | None = None) -> Turn:
        before = self.conversation()
        mode_before = before["mode"] if before else None
        last_seq = before["last_seq"] if before else 0
        received_before = self._received_count()
        self._send(text, payload, button)
        after = self.conversation()
        if after is None:
            raise TurnError(f"{self.channel}: the desk stored no conversation for {self.sender}")
        rows = self._rows_after(after["id"], last_seq)
        inbound = [r for r in rows if r["direction"] == "in"]
        first_in = inbound[0]["seq"] if inbound else last_seq
        stored = [_reply(r) for r in rows if r["direction"] == "out" and r["seq"] > first_in]
        # The first-contact privacy notice is judged on its own (invariants.notice_problems);
        # ``replies`` are the answers to the message, as before the notice existed. When the bot's
        # answer itself shows the notice (the borrower asked about their data), it stays a reply.
        notice = next((r for r in stored if NOTICE_KEY in r.custom), None)
        replies = [r for r in stored if r is not notice or " ".join(r.text.split()) != " ".join(NOTICE_TEXT.split())]
        self._wait_delivered(after["id"], [r.id for r in stored])
        received = self._received_since(received_before)
        turn = Turn(self.channel, self.sender, text, payload, mode_before, self.conversation()["mode"],
                    len(inbound), replies, received, str(after["public_id"]), self.latest_handoff(), notice)
        self.turns.append(turn)
        if self.on_turn is not None:
            self.on_turn(self, turn)
        return turn

    def latest_handoff(self) -> dict[str, Any] | None:
        """The conversation's newest handoff row as a dict, or None."""
        with self.stack.db() as db:
            row = db.execute(
                "SELECT h.id, h.status, h.reason, h.priority, h.category, h.ticket_id, h.summary, h.assigned_to "
                "FROM handoffs h JOIN conversations c ON c.id = h.conversation_id "
                "WHERE c.channel = ? AND c.sender = ? ORDER BY h.id DESC LIMIT 1",
                (self.channel, self.sender)).fetchone()
        return dict(row) if row else None

    def _rows_after(self, conversation_id: int, seq: int) -> list[Any]:
        with self.stack.db() as db:
            return db.execute(
                "SELECT id, seq, direction, author, text, payload FROM messages "
                "WHERE conversation_id = ? AND seq > ? ORDER BY seq", (conversation_id, seq)).fetchall()

    def _wait_delivered(self, conversation_id: int, message_ids: list[int]) -> None:
        """Bounded polling until every stored reply left the outbox (sent or failed for good)."""
        if not message_ids:
            return
        marks = ",".join("?" * len(message_ids))
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while True:
            with self.stack.db() as db:
                rows = db.execute(f"SELECT status, last_error FROM outbox WHERE message_id IN ({marks})",
                                  message_ids).fetchall()
            if len(rows) == len(message_ids) and all(r["status"] in ("sent", "failed") for r in rows):
                failed = [r["last_error"] for r in rows if r["status"] == "failed"]
                if failed:
                    raise TurnError(f"{self.channel}: delivery failed: {failed}")
                return
            if time.monotonic() > deadline:
                raise TurnError(f"{self.channel}: replies not delivered in {DELIVERY_TIMEOUT}s: "
                                f"{[dict(r) for r in rows]}")
            time.sleep(0.05)

    def wait_for_reply(self, predicate: Any, timeout: float = DELIVERY_TIMEOUT) -> list[Reply]:
        """Messages that arrive without a borrower message (an agent's reply): bounded polling.

        Returns the stored outbound messages after the borrower's last turn
        once ``predicate(replies)`` holds and all of them are delivered.
        """
        conversation = self.conversation()
        assert conversation is not None
        seq = self._last_seen_seq()
        deadline = time.monotonic() + timeout
        while True:
            replies = [_reply(r) for r in self._rows_after(conversation["id"], seq) if r["direction"] == "out"]
            if predicate(replies):
                self._wait_delivered(conversation["id"], [r.id for r in replies])
                return replies
            if time.monotonic() > deadline:
                raise TurnError(f"no matching message within {timeout}s; got {[r.text for r in replies]}")
            time.sleep(0.1)

    def _last_seen_seq(self) -> int:
        for turn in reversed(self.turns):
            if turn.replies:
                return turn.replies[-1].seq
        row = self.conversation()
        return int(row["last_seq"]) if row else 0


def _reply_payload(raw: Any) -> dict[str, Any]:
    if isinstance(raw, (str, bytes)):
        return dict(json.loads(raw) or {})
    return dict(raw or {})


def _reply(row: Any) -> Reply:
    payload = _reply_payload(row["payload"])
    buttons = tuple((str(b.get("title")), str(b.get("payload"))) for b in payload.get("buttons") or [])
    return Reply(row["id"], row["seq"], row["author"], row["text"] or "", buttons, dict(payload.get("custom") or {}))


class WhatsAppBorrower(Borrower):
    """A borrower writing from a WhatsApp number through Twilio."""

    channel = "whatsapp"

    def __init__(self, stack: LiveStack, phone: str, *, name: str = "Peminjam") -> None:
        if not re.fullmatch(r"\+\d{8,15}", phone):
            raise ValueError("WhatsApp numbers are E.164 (+62…)")
        super().__init__(stack, phone, name=name)
        self.validator = RequestValidator(TWILIO_TOKEN)

    def _send(self, text: str, payload: str | None, button: tuple[int, str] | None) -> None:
        sid = "SM" + uuid.uuid4().hex
        form = {
            "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": self.name, "SmsSid": sid,
            "WaId": self.sender.lstrip("+"), "SmsStatus": "received", "Body": text, "To": TWILIO_FROM,
            "NumSegments": "1", "MessageSid": sid, "AccountSid": TWILIO_SID, "From": "whatsapp:" + self.sender,
            "ApiVersion": "2010-04-01",
        }
        url = self.stack.desk_url + "/webhooks/whatsapp"
        signature = self.validator.compute_signature(url, form)
        response = self.http.post(url, content=urlencode(form), headers={
            "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
        if response.status_code != 200:
            raise TurnError(f"whatsapp webhook answered {response.status_code}: {response.text[:300]}")

    def _press(self, index: int, title: str, payload: str) -> Turn:
        # WhatsApp shows buttons as a numbered list; the borrower answers with the number.
        return self._turn(str(index + 1), None)

    def _mine(self) -> list[Any]:
        return [m for m in self.stack.twilio.messages if m.to == "whatsapp:" + self.sender]

    def _received_count(self) -> int:
        return len(self._mine())

    def _received_since(self, count: int) -> list[str]:
        return [m.body for m in self._mine()[count:]]


class TelegramBorrower(Borrower):
    """A borrower in a private Telegram chat with the bot."""

    channel = "telegram"

    def __init__(self, stack: LiveStack, chat_id: int, *, name: str = "Peminjam") -> None:
        super().__init__(stack, str(chat_id), name=name)
        self.chat_id = chat_id

    def _post(self, update: dict[str, Any]) -> None:
        response = self.http.post(self.stack.desk_url + "/webhooks/telegram", json=update,
                                  headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
        if response.status_code != 200:
            raise TurnError(f"telegram webhook answered {response.status_code}: {response.text[:300]}")

    def _user(self) -> dict[str, Any]:
        first, _, last = self.name.partition(" ")
        user = {"id": self.chat_id, "is_bot": False, "first_name": first or "Peminjam", "language_code": "id"}
        if last:
            user["last_name"] = last
        return user

    def _send(self, text: str, payload: str | None, button: tuple[int, str] | None) -> None:
        update_id = next_update_id()
        if button is not None:
            message_id, data = button
            keyboard = self._keyboard_of(message_id)
            self._post({"update_id": update_id, "callback_query": {
                "id": f"cbq-{update_id}", "from": self._user(), "chat_instance": "-1", "data": data,
                "message": {"message_id": message_id, "date": int(time.time()),
                            "from": {"id": 123456, "is_bot": True, "first_name": "Aduan", "username": "aduan_test_bot"},
                            "chat": {"id": self.chat_id, "type": "private", "first_name": self._user()["first_name"]},
                            "text": "…", "reply_markup": {"inline_keyboard": keyboard}}}})
            return
        self._post({"update_id": update_id, "message": {
            "message_id": update_id % 1_000_000, "date": int(time.time()), "from": self._user(),
            "chat": {"id": self.chat_id, "type": "private", "first_name": self._user()["first_name"]},
            "text": text}})

    def _press(self, index: int, title: str, payload: str) -> Turn:
        # The keyboard the borrower pressed is the one on the last message that carried it.
        calls = [c for c in self._mine() if c.inline_keyboard]
        if not calls:
            raise AssertionError("no inline keyboard was sent to this chat")
        keyboard = calls[-1].inline_keyboard
        data = keyboard[index][0]["callback_data"]
        message_id = self._message_id_of_last_keyboard()
        return self._turn(keyboard[index][0]["text"], payload, (message_id, data))

    def _message_id_of_last_keyboard(self) -> int:
        """Telegram's id of the last message with a keyboard (the outbox keeps it)."""
        conversation = self.conversation()
        with self.stack.db() as db:
            rows = db.execute(
                "SELECT o.provider_message_id, m.payload FROM outbox o JOIN messages m ON m.id = o.message_id "
                "WHERE o.conversation_id = ? ORDER BY m.seq DESC LIMIT 20", (conversation["id"],)).fetchall()
        for row in rows:
            if _reply_payload(row["payload"]).get("buttons") and row["provider_message_id"]:
                return int(row["provider_message_id"])
        raise AssertionError("no delivered message with buttons in this chat")

    def _keyboard_of(self, message_id: int) -> list[list[dict[str, Any]]]:
        calls = [c for c in self._mine() if c.inline_keyboard]
        return calls[-1].inline_keyboard if calls else []

    def _mine(self) -> list[Any]:
        return [c for c in self.stack.telegram.sent_messages if str(c.params.get("chat_id")) == self.sender]

    def _received_count(self) -> int:
        return len(self._mine())

    def _received_since(self, count: int) -> list[str]:
        out = []
        for call in self._mine()[count:]:
            titles = [row[0]["text"] for row in call.inline_keyboard]
            out.append(displayed_telegram_text(call.params) + ("\n[" + " | ".join(titles) + "]" if titles else ""))
        return out


def displayed_telegram_text(params: dict[str, Any]) -> str:
    """The text as a Telegram client shows it: HTML is rendered only when ``parse_mode`` says so."""
    text = str(params.get("text", ""))
    if str(params.get("parse_mode", "")).upper() == "HTML":
        text = html.unescape(re.sub(r"</?(b|strong|i|em|u|s|code|pre|a)( [^>]*)?>", "", text))
    return text


class InAppBorrower(Borrower):
    """A borrower in the lender's app; the app's backend signs the chat token."""

    channel = "inapp"

    def __init__(self, stack: LiveStack, customer_id: str, *, name: str = "Peminjam") -> None:
        super().__init__(stack, customer_id, name=name)
        self.token = jwt.encode({"sub": customer_id, "exp": int(time.time()) + 6 * 3600}, INAPP_SECRET,
                                algorithm="HS256")
        self._received: list[str] = []
        self._last_id = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _send(self, text: str, payload: str | None, button: tuple[int, str] | None) -> None:
        body: dict[str, Any] = {"text": text, "client_message_id": uuid.uuid4().hex}
        if payload is not None:
            body["button_payload"] = payload
        response = self.http.post(self.stack.desk_url + "/chat/api/messages", json=body, headers=self.headers)
        if response.status_code != 200:
            raise TurnError(f"in-app POST answered {response.status_code}: {response.text[:300]}")
        data = response.json()
        for view in data.get("replies") or []:
            self._take(view)

    def _take(self, view: dict[str, Any]) -> None:
        if view["id"] <= self._last_id:
            return  # the app drops ids it already has (docs/channels.md)
        self._last_id = view["id"]
        titles = [b["title"] for b in view.get("buttons") or []]
        self._received.append(view["text"] + ("\n[" + " | ".join(titles) + "]" if titles else ""))

    def fetch(self) -> None:
        """What a client without a socket does: ``GET ?after=<largest id seen>``."""
        response = self.http.get(self.stack.desk_url + "/chat/api/messages", params={"after": self._last_id},
                                 headers=self.headers)
        response.raise_for_status()
        for view in response.json()["messages"]:
            if view["direction"] == "out":
                self._take(view)
            else:
                self._last_id = max(self._last_id, view["id"])

    def _press(self, index: int, title: str, payload: str) -> Turn:
        return self._turn(title, payload)

    def _received_count(self) -> int:
        return len(self._received)

    def _received_since(self, count: int) -> list[str]:
        # Replies the POST did not carry (none expected) would arrive on the socket / GET.
        self.fetch()
        return self._received[count:]

    def received_later(self, count: int) -> list[str]:
        self.fetch()
        return self._received[count:]
