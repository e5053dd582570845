"""The only way the action server talks to the desk service.

Base URL from ``DESK_API_URL`` (default http://127.0.0.1:8000), bearer token
from ``DESK_SERVICE_TOKEN``. Every call returns a :class:`DeskResult`; HTTP
errors, timeouts and refused connections become ``DeskResult(ok=False)`` so
actions can answer politely instead of crashing.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 5.0


@dataclass
class DeskResult:
    """Outcome of one desk call: ``status`` is 0 when the desk was unreachable."""

    ok: bool
    status: int
    data: Dict[str, Any] = field(default_factory=dict)

    @property
    def unreachable(self) -> bool:
        """True when the desk did not answer at all or failed (5xx)."""
        return self.status == 0 or self.status >= 500


def base_url() -> str:
    """Return the desk base URL without a trailing slash."""
    return os.environ.get("DESK_API_URL", DEFAULT_URL).rstrip("/")


def _headers(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    headers = {"Accept": "application/json"}
    token = os.environ.get("DESK_SERVICE_TOKEN", "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if extra:
        headers.update(extra)
    return headers


def _timeout() -> float:
    try:
        return float(os.environ.get("DESK_API_TIMEOUT", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


async def _request(
    method: str,
    path: str,
    *,
    json: Optional[Dict[str, Any]] = None,
    params: Optional[Dict[str, str]] = None,
    headers: Optional[Dict[str, str]] = None,
) -> DeskResult:
    url = f"{base_url()}{path}"
    try:
        timeout = aiohttp.ClientTimeout(total=_timeout())
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.request(
                method, url, json=json, params=params, headers=_headers(headers)
            ) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = {}
                if not isinstance(data, dict):
                    data = {"items": data}
                ok = 200 <= resp.status < 300
                if not ok:
                    # Paths never carry personal data except ticket numbers,
                    # which are not personal; bodies are never logged.
                    logger.warning("desk %s %s -> %s %s", method, path, resp.status, data.get("error"))
                return DeskResult(ok=ok, status=resp.status, data=data)
    except Exception as exc:  # timeouts, refused connections, bad URLs
        logger.warning("desk %s %s unreachable: %s", method, path, type(exc).__name__)
        return DeskResult(ok=False, status=0)


async def verify_customer(conversation_id: str, full_name: str, phone: str, loan_id: str) -> DeskResult:
    """POST /api/v1/customers/verify; ``data['verified']`` says whether all parts matched."""
    return await _request(
        "POST",
        "/api/v1/customers/verify",
        json={"conversation_id": conversation_id, "full_name": full_name, "phone": phone, "loan_id": loan_id},
    )


async def get_account(customer_id: str) -> DeskResult:
    """GET /api/v1/customers/<id>/account (loans and applications)."""
    return await _request("GET", f"/api/v1/customers/{customer_id}/account")


async def create_ticket(payload: Dict[str, Any], idempotency_key: str) -> DeskResult:
    """POST /api/v1/tickets; the same ``idempotency_key`` always yields the same ticket."""
    return await _request(
        "POST", "/api/v1/tickets", json=payload, headers={"Idempotency-Key": idempotency_key}
    )


async def get_ticket(number: str, conversation_id: str) -> DeskResult:
    """GET /api/v1/tickets/<number>?conversation_id=… (403 until verified, 404 unknown)."""
    return await _request(
        "GET", f"/api/v1/tickets/{number}", params={"conversation_id": conversation_id}
    )


async def office_hours(channel: str) -> DeskResult:
    """GET /api/v1/office-hours?channel=… → open, next_open_at, hours_text."""
    return await _request("GET", "/api/v1/office-hours", params={"channel": channel or "default"})


async def answer_resolution(conversation_id: str, answer: str, text: str, *, only_if_last: bool = False) -> DeskResult:
    """POST /api/v1/tickets/answer: the borrower's ``accept``/``dispute``/``next_step`` to a resolution.

    404 means no notice awaits an answer in this conversation (with
    ``only_if_last``: or the conversation moved on since the notice). On
    success ``data`` holds ticket_number, status, outcome, reply_text (already
    in the channel's format) and rating_open.
    """
    return await _request(
        "POST",
        "/api/v1/tickets/answer",
        json={"conversation_id": conversation_id, "answer": answer, "text": text[:4000],
              "only_if_last": only_if_last},
    )
