"""What became of every message: read from the database and the fake providers, never from the desk's word.

For each message a borrower sent (found by its token):

* **answered** — stored once, in the borrower's own conversation, with the
  bot's reply to it (the fake Rasa echoes the token) stored;
* **queued** — stored once in the borrower's own conversation, no bot reply,
  and the conversation is in the human queue (a waiting or assigned handoff),
  where an agent sees the whole transcript, this message included;
* **lost** — anything else: not stored, stored under another borrower's
  conversation, or stored with neither a bot reply nor a person to read it;
* **duplicated** — stored more than once, answered by the bot more than once,
  or queued in more than one open handoff;
* **unfinished** — the desk's own record disagrees: the stored message is
  still in processing state ``received`` (``messages.state``, when the schema
  has it), so a sweeper would take it up again.

For every reply the desk stored (bot, holding reply, notices) on WhatsApp and
Telegram: how many times the fake provider accepted that text for that
recipient — **delivered** once, **undelivered**, or **delivered twice** (or
more). In-app replies are delivered by the outbox pushing them to the app; one
whose outbox row is not ``sent`` is undelivered. A second delivery whose first
one was accepted in the moments before a ``kill -9`` of a desk worker is the
documented at-least-once edge (the worker died between the provider's answer
and recording it; neither provider has an idempotency key): counted apart as
**twice at kill**, not failed. **Early retries** count
sends repeated sooner than the provider's ``retry_after`` / ``Retry-After``
hint allowed.

The queries are plain SQL against the throw-away database (through no proxy),
so the harness keeps working while the desk's own models change.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import asyncpg

from tests.faults.borrowers import INAPP, TELEGRAM, WHATSAPP, Borrower, Sent
from tests.faults.stack import Stack
from tests.support.pii import opened_sender

TOKEN = re.compile(r"#[0-9a-f]+-\d+#")
OPEN_HANDOFF = ("waiting", "assigned")


@dataclass
class Row:
    """One line of the table: one fault."""

    fault: str
    sent: int = 0
    redelivered: int = 0
    """Messages that needed more than one delivery (the fault touched them)."""
    answered: int = 0
    queued: int = 0
    lost: int = 0
    duplicated: int = 0
    unfinished: int = 0
    replies: int = 0
    delivered: int = 0
    undelivered: int = 0
    delivered_twice: int = 0
    twice_at_kill: int = 0
    """Sent again after a ``kill -9``: accepted by the provider before the kill, not yet recorded as sent.
    The documented at-least-once edge (docs/core.md, Outbox); counted, not failed."""
    early_retries: int = 0
    not_acknowledged: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unfinished or self.undelivered or self.delivered_twice
                    or self.early_retries)


@dataclass
class Snapshot:
    """The database and the fakes at one moment."""

    inbound_by_token: dict[str, list[tuple[str, str]]]
    """token → [(channel, sender) of each stored inbound row carrying it]."""
    bot_replies_by_token: Counter[str]
    unfinished_tokens: set[str]
    """Tokens of inbound messages the desk still marks ``received`` (not finished)."""
    conversation_of: dict[tuple[str, str], int]
    open_handoffs: Counter[int]
    outbound: list[tuple[str, str, str, str | None]]
    """(channel, sender, text, outbox status or None) of every stored outbound message."""
    active_outbox: int
    provider_accepted: Counter[tuple[str, str, str]]
    """(channel, recipient, text) → how many times a fake provider accepted it."""
    provider_attempts: dict[tuple[str, str, str], list[tuple[float, int]]]
    """(channel, recipient, text) → [(time, status)] of every send attempt, in order."""


async def snapshot(stack: Stack) -> Snapshot:
    """Read the stack's database and fakes."""
    conn = await asyncpg.connect(stack.direct_url.replace("postgresql://", "postgres://"))
    try:
        # Since issue 18 the address is sealed (desk.pii): read its ciphertext and open it here.
        sealed = bool(await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'conversations' "
            "AND column_name = 'sender_enc'"))
        sender = "c.sender_enc AS sender" if sealed else "c.sender"
        conversations = [{"id": c["id"], "channel": c["channel"], "sender": _open(sealed, c["channel"], c["sender"])}
                         for c in await conn.fetch(f"SELECT c.id, c.channel, {sender} FROM conversations c")]
        has_state = bool(await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'messages' AND column_name = 'state'"))
        messages = await conn.fetch(
            f"SELECT m.direction, m.author, m.text, c.channel, {sender}, o.status AS outbox_status, "
            + ("m.state " if has_state else "NULL AS state ") +
            "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "LEFT JOIN outbox o ON o.message_id = m.id")
        handoffs = await conn.fetch(
            "SELECT conversation_id, count(*) AS n FROM handoffs WHERE status = ANY($1::text[]) "
            "GROUP BY conversation_id", list(OPEN_HANDOFF))
        active = await conn.fetchval("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
    finally:
        await conn.close()
    inbound: dict[str, list[tuple[str, str]]] = defaultdict(list)
    bot_replies: Counter[str] = Counter()
    unfinished: set[str] = set()
    outbound = []
    for m in messages:
        tokens = TOKEN.findall(m["text"] or "")
        if m["direction"] == "in":
            for token in tokens:
                inbound[token].append((m["channel"], _open(sealed, m["channel"], m["sender"])))
                if m["state"] == "received":
                    unfinished.add(token)
        else:
            outbound.append((m["channel"], _open(sealed, m["channel"], m["sender"]), m["text"] or "",
                             m["outbox_status"]))
            if m["author"] == "bot":
                bot_replies.update(tokens)
    accepted: Counter[tuple[str, str, str]] = Counter()
    for msg in list(stack.twilio.messages):
        accepted[(WHATSAPP, msg.to.removeprefix("whatsapp:"), msg.body)] += 1
    for call in list(stack.telegram.sent_messages):
        accepted[(TELEGRAM, str(call.params.get("chat_id")), str(call.params.get("text", "")))] += 1
    attempts: dict[tuple[str, str, str], list[tuple[float, int]]] = defaultdict(list)
    for req in list(stack.twilio.requests):
        if req.path.endswith("/Messages.json"):
            form = req.form()
            attempts[(WHATSAPP, form.get("To", "").removeprefix("whatsapp:"), form.get("Body", ""))].append(
                (req.at, req.status))
    for req in list(stack.telegram.requests):
        if req.path.endswith("/sendMessage"):
            params = _telegram_params(req.headers.get("content-type", ""), req.body)
            attempts[(TELEGRAM, str(params.get("chat_id")), str(params.get("text", "")))].append(
                (req.at, req.status))
    return Snapshot(
        inbound_by_token=dict(inbound), bot_replies_by_token=bot_replies, unfinished_tokens=unfinished,
        conversation_of={(c["channel"], c["sender"]): c["id"] for c in conversations},
        open_handoffs=Counter({h["conversation_id"]: int(h["n"]) for h in handoffs}),
        outbound=outbound, active_outbox=int(active or 0),
        provider_accepted=accepted, provider_attempts=dict(attempts))


def _open(sealed: bool, channel: str, sender: str | None) -> str | None:
    return opened_sender(channel, sender) if sealed else sender


def _telegram_params(content_type: str, body: bytes) -> dict[str, Any]:
    import json

    if content_type.startswith("application/json"):
        return dict(json.loads(body or b"{}"))
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}


KILL_EDGE_SECONDS = 20.0
"""How long before a kill a send may have been accepted and still be unrecorded (send timeout + a round)."""


def judge(fault: str, snap: Snapshot, sent: list[Sent], borrowers: list[Borrower], *,
          retry_after: float | None = None, killed_at: float | None = None) -> Row:
    """The table row of one fault: its borrowers' messages and the replies to them."""
    row = Row(fault=fault, sent=len(sent))
    for s in sent:
        own = (s.channel, s.address)
        stored = snap.inbound_by_token.get(s.token, [])
        mine = [where for where in stored if where == own]
        replies = snap.bot_replies_by_token.get(s.token, 0)
        conversation = snap.conversation_of.get(own)
        handoffs = snap.open_handoffs.get(conversation, 0) if conversation is not None else 0
        if not s.acknowledged:
            row.not_acknowledged += 1
        if len(s.outcomes) > 1:
            row.redelivered += 1
        unfinished = s.token in snap.unfinished_tokens
        if unfinished:
            row.unfinished += 1
        if len(mine) >= 1 and replies >= 1:
            row.answered += 1
            verdict = "answered"
        elif len(mine) >= 1 and handoffs >= 1:
            row.queued += 1
            verdict = "queued"
        else:
            row.lost += 1
            verdict = "lost"
        duplicated = len(stored) > 1 or replies > 1 or (verdict == "queued" and handoffs > 1)
        if duplicated:
            row.duplicated += 1
        if verdict == "lost" or duplicated or unfinished:
            row.problems.append({"token": s.token, "channel": s.channel, "sender": s.address,
                                 "verdict": verdict, "duplicated": duplicated, "unfinished": unfinished,
                                 "stored_in": stored,
                                 "bot_replies": replies, "open_handoffs": handoffs,
                                 "deliveries": s.outcomes})
    _judge_deliveries(row, snap, borrowers, retry_after, killed_at)
    return row


def _judge_deliveries(row: Row, snap: Snapshot, borrowers: list[Borrower], retry_after: float | None,
                      killed_at: float | None) -> None:
    mine = {(b.channel, b.address) for b in borrowers}
    stored: Counter[tuple[str, str, str]] = Counter()
    for channel, sender, text, status in snap.outbound:
        if (channel, sender) not in mine:
            continue
        row.replies += 1
        if channel == INAPP:
            if status == "sent":
                row.delivered += 1
            else:
                row.undelivered += 1
                row.problems.append({"reply_to": sender, "channel": channel, "outbox": status, "text": text[:80]})
        else:
            stored[(channel, sender, text)] += 1
    for key, count in stored.items():
        accepted = snap.provider_accepted.get(key, 0)
        row.delivered += min(count, accepted)
        if accepted < count:
            row.undelivered += count - accepted
        elif accepted > count:
            if _at_kill_edge(snap.provider_attempts.get(key, []), killed_at):
                row.twice_at_kill += accepted - count
                continue
            row.delivered_twice += accepted - count
        if accepted != count:
            row.problems.append({"reply_to": key[1], "channel": key[0], "stored": count, "accepted": accepted,
                                 "text": key[2][:80]})
    if retry_after is None:
        return
    for key, attempts in snap.provider_attempts.items():
        if (key[0], key[1]) not in mine:
            continue
        for (t1, status1), (t2, _) in zip(attempts, attempts[1:]):
            # A little slack for clocks and scheduling; a retry 2 s after "wait 10 s" is not slack.
            if status1 == 429 and t2 - t1 < retry_after - 0.5:
                row.early_retries += 1
                row.problems.append({"early_retry": key[1], "channel": key[0], "after_seconds": round(t2 - t1, 2)})


def _at_kill_edge(attempts: list[tuple[float, int]], killed_at: float | None) -> bool:
    """One acceptance shortly before the kill, every other one after it: the killed worker's unrecorded send."""
    if killed_at is None:
        return False
    accepted = [t for t, status in attempts if 200 <= status < 300]
    return (len(accepted) == 2 and killed_at - KILL_EDGE_SECONDS <= accepted[0] <= killed_at
            and accepted[1] > killed_at)


def settled(rows: list[Row], snap: Snapshot) -> bool:
    """Nothing is lost or waiting: every message answered or queued, every reply delivered, outbox empty."""
    return snap.active_outbox == 0 and all(r.lost == 0 and r.unfinished == 0 and r.undelivered == 0 for r in rows)


HEADER = ("fault", "messages sent", "redelivered", "answered", "queued", "lost", "duplicated", "unfinished",
          "replies", "delivered", "undelivered", "delivered twice", "twice at kill", "early retries", "no 2xx")


def table(rows: list[Row]) -> str:
    """The Markdown table of every fault."""
    lines = ["| " + " | ".join(HEADER) + " |", "| --- |" + " ---: |" * (len(HEADER) - 1)]
    for r in rows:
        cells = [r.fault, r.sent, r.redelivered, r.answered, r.queued, r.lost, r.duplicated, r.unfinished,
                 r.replies, r.delivered,
                 r.undelivered, r.delivered_twice, r.twice_at_kill, r.early_retries, r.not_acknowledged]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)
