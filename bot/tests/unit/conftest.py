"""Shared fixtures: import path, tracker factory, a faked desk API."""
from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

BOT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BOT_DIR))

from aioresponses import aioresponses  # noqa: E402
from rasa_sdk import Tracker  # noqa: E402
from rasa_sdk.executor import CollectingDispatcher  # noqa: E402

DESK = "http://desk.test"


def make_tracker(
    slots: Optional[Dict[str, Any]] = None,
    intent: Optional[str] = None,
    text: str = "",
    entities: Optional[List[Dict[str, Any]]] = None,
    metadata: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    ranking: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
) -> Tracker:
    """A tracker whose latest user message has the given intent/entities/metadata."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "intent_ranking": ranking or [],
        "metadata": metadata or {},
    }
    all_events = list(events or [])
    all_events.append({"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}})
    return Tracker(
        sender_id="conv-1",
        slots=dict(slots or {}),
        latest_message=latest,
        events=all_events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(coro):
    """Run a coroutine to completion (the actions are async)."""
    return asyncio.run(coro)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def desk(monkeypatch):
    """Fake desk at the HTTP level; yields (aioresponses, base url)."""
    monkeypatch.setenv("DESK_API_URL", DESK)
    monkeypatch.setenv("DESK_SERVICE_TOKEN", "test-token")
    with aioresponses() as mocked:
        yield mocked


def url(path: str) -> "re.Pattern[str]":
    """Match a desk path with any query string."""
    return re.compile("^" + re.escape(DESK + path) + r"(\?.*)?$")


def texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def handoffs(dispatcher: CollectingDispatcher) -> List[Dict[str, Any]]:
    return [m["custom"]["handoff"] for m in dispatcher.messages if (m.get("custom") or {}).get("handoff")]


def slot_events(events) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
