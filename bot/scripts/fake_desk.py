"""A tiny stand-in for the desk API, for trying the bot by hand (loopback only).

    .venv/bin/python scripts/fake_desk.py --port 8765
    DESK_API_URL=http://127.0.0.1:8765 make bot-run

Verification and accounts answer from the SAMPLE borrowers of
``lending/demo_data.yml`` (e.g. "Budi Santoso", 081234567890, PJ-2024-000123),
matched the way ``lending/demo.py`` matches them; tickets get real-format
numbers (``tickets/number_format.py``); office hours are "closed".
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any, Dict, Tuple

import yaml
from aiohttp import web

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bot"))
sys.path.insert(0, str(REPO))
from actions.identifiers import find_phone  # noqa: E402
from tickets.number_format import format_number, parse_number  # noqa: E402

TICKETS: dict = {}
KEYS: dict = {}
DEMO = yaml.safe_load((REPO / "lending" / "demo_data.yml").read_text(encoding="utf-8"))
ACCOUNTS: Dict[str, Dict[str, Any]] = {c["customer_id"]: c for c in DEMO["customers"]}
IDENTITIES: Dict[Tuple[str, str, str], str] = {
    (" ".join(c["full_name"].split()).casefold(), find_phone(str(c["phone"])) or "", ref.upper()): cid
    for cid, c in ACCOUNTS.items()
    for ref in [loan["loan_id"] for loan in c["loans"]] + [a["application_id"] for a in c["applications"]]
}


async def verify(request: web.Request) -> web.Response:
    body = await request.json()
    key = (" ".join(str(body.get("full_name", "")).split()).casefold(), find_phone(str(body.get("phone", ""))) or "",
           str(body.get("loan_id", "")).strip().upper())
    cid = IDENTITIES.get(key)
    return web.json_response({"verified": True, "customer_id": cid} if cid else {"verified": False})


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


async def account(request: web.Request) -> web.Response:
    raw = ACCOUNTS.get(request.match_info["cid"])
    if raw is None:
        return web.json_response({"error": "not_found", "message": "no such customer"}, status=404)
    return web.json_response({
        "customer_id": raw["customer_id"], "full_name": raw["full_name"], "sample": True,
        "loans": [{k: _iso(v) for k, v in loan.items()} for loan in raw["loans"]],
        "applications": [{k: _iso(v) for k, v in app.items()} for app in raw["applications"]]})


async def create_ticket(request: web.Request) -> web.Response:
    key = request.headers.get("Idempotency-Key", "")
    if key in KEYS:
        return web.json_response(TICKETS[KEYS[key]], status=201)
    number = format_number("DCI", dt.date.today(), len(TICKETS) + 1)
    ticket = {"ticket_number": number, "status": "received", "received_at": dt.datetime.now().isoformat(),
              "first_response_due": None, "resolution_due": None, "cs_contact": "1500-000",
              "receipt_text": f"Tanda bukti terima: aduan Anda tercatat dengan nomor {number}."}
    TICKETS[number] = ticket
    KEYS[key] = number
    return web.json_response(ticket, status=201)


async def get_ticket(request: web.Request) -> web.Response:
    try:
        ticket = TICKETS.get(parse_number(request.match_info["number"]))
    except ValueError:
        ticket = None
    if not ticket:
        return web.json_response({"error": "not_found", "message": "no such ticket"}, status=404)
    return web.json_response({**ticket, "status_label": "Diterima", "category": "payment", "last_update": None})


async def office_hours(request: web.Request) -> web.Response:
    return web.json_response({"open": False, "next_open_at": "2030-01-07T09:00:00+07:00", "hours_text": "-"})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    app = web.Application()
    app.add_routes([web.post("/api/v1/customers/verify", verify),
                    web.get("/api/v1/customers/{cid}/account", account),
                    web.post("/api/v1/tickets", create_ticket),
                    web.get("/api/v1/tickets/{number}", get_ticket),
                    web.get("/api/v1/office-hours", office_hours)])
    web.run_app(app, host="127.0.0.1", port=ap.parse_args().port)


if __name__ == "__main__":
    main()
